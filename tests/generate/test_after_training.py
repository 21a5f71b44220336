"""What people do with a trained generator: truncate its noise, walk between noise points, export it."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.generate import noise
from gankit.generate.export import max_difference
from gankit.generate.sample import load
from gankit.training.config import replace
from gankit.training.loop import train
from tests.helpers import small_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One plain, one conditional and one self-conditioned run, each a couple of epochs on blob images."""
    from tests.helpers import blob_images

    root = tmp_path_factory.mktemp("runs")
    images, labels = blob_images(128)
    path = root / "blobs.npz"
    np.savez(path, images=images, labels=labels)
    dataset = f"npz:{path}"
    made = {}
    with pytest.MonkeyPatch.context() as mp:
        # The clusters' quality is not what these tests are about: two clusters by brightness, not UMAP's minutes
        from gankit.training import self_condition

        mp.setattr(self_condition, "cluster_images",
                   lambda images, k, seed: (images.float().mean((1, 2, 3)) > images.float().mean()).long())
        for name, options in {"plain": {}, "conditional": {"conditional": True},
                              "clusters": {"model": "dcgan", "width": 8, "d_norm": "spectral", "loss": "hinge",
                                           "self_condition": 2, "ema": 0.9}}.items():
            cfg = replace(small_config(dataset, epochs=1), options)
            made[name] = train(cfg, root / name, log=lambda m: None).run_dir
    return made


def test_truncation_keeps_every_entry_inside_and_leaves_the_cluster_coordinate_alone():
    gen = torch.Generator().manual_seed(0)
    z = noise.draw(2000, 8, gen, truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() < 0.35  # a normal cut at 0.5 has std 0.28
    z = noise.draw(2000, 8, torch.Generator().manual_seed(0), truncation=0.5, first_is_cluster=True)
    assert z[:, 1:].abs().max() <= 0.5 and z[:, 0].abs().max() > 2  # the cluster draw keeps its shares
    assert torch.equal(noise.draw(5, 8, torch.Generator().manual_seed(3)), torch.randn(5, 8, generator=torch.Generator().manual_seed(3)))


def test_a_walk_starts_and_ends_on_its_points_and_stays_at_the_gaussian_radius():
    anchors = torch.randn(3, 64, generator=torch.Generator().manual_seed(0))
    path = noise.walk(anchors, steps=8)
    assert path.shape == (17, 64)
    assert torch.allclose(path[0], anchors[0]) and torch.allclose(path[8], anchors[1], atol=1e-5)
    assert torch.allclose(path[-1], anchors[2])
    radii = path.norm(dim=1)
    assert radii.min() > 0.8 * anchors.norm(dim=1).min()  # a linear path would dip to ~0.7 of the radius
    clustered = noise.walk(anchors, steps=8, first_is_cluster=True)
    assert set(clustered[:8, 0].tolist()) == {anchors[0, 0].item(), anchors[1, 0].item()}  # one switch, mid-way


@pytest.mark.parametrize("name", ["plain", "conditional", "clusters"])
def test_truncated_samples_differ_less_from_each_other(runs, name):
    g = load(runs[name], device="cpu")
    free, cut = g.sample(256, seed=0).float(), g.sample(256, seed=0, truncation=0.3).float()
    assert cut.std(dim=0).mean() < free.std(dim=0).mean()


def test_walks_are_written_as_a_grid_and_as_an_animation(runs, tmp_path, capsys):
    for out in ("walk.png", "walk.gif"):
        assert main(["sample", str(runs["plain"]), "--interpolate", "3", "--steps", "4",
                     "--out", str(tmp_path / out)]) == 0
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 2 * 9 - 2  # 9 images there and back, the ends not repeated
    assert main(["sample", str(runs["conditional"]), "--interpolate", "2", "--label", "3",
                 "--out", str(tmp_path / "c.png")]) == 0
    assert main(["sample", str(runs["plain"]), "--interpolate", "2", "--out", str(tmp_path / "w.jpg")]) == 2


@pytest.mark.parametrize("name", ["plain", "conditional", "clusters"])
@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_an_exported_generator_computes_what_torch_computes(runs, tmp_path, capsys, name, fmt, suffix):
    pytest.importorskip("onnxruntime") if fmt == "onnx" else None
    out = tmp_path / f"G{suffix}"
    assert main(["export", str(runs[name]), "--out", str(out)]) == 0
    assert "largest difference from torch over 16 noise vectors" in capsys.readouterr().out
    assert max_difference(load(runs[name], device="cpu"), out, fmt) < 1e-4


def test_labels_at_shares_are_exact_and_round_to_n():
    from gankit.data.imagedata import labels_at_shares

    counts = torch.tensor([85, 159, 5, 270, 131, 264, 2261, 169, 224, 218])  # the emoji's 10 categories
    drawn = torch.bincount(labels_at_shares(counts, 1000), minlength=10)
    assert drawn.sum() == 1000 and (drawn - counts / counts.sum() * 1000).abs().max() < 1
    assert torch.bincount(labels_at_shares(torch.tensor([3, 0, 1]), 7), minlength=3).tolist() == [5, 0, 2]


def test_a_conditional_run_is_evaluated_with_its_classes_at_their_shares(tmp_path):
    # 3 classes of 72, 16 and 8 images: in turn, the class of 8 would get a third of the samples
    from gankit.eval.evaluate import _load_source
    from tests.helpers import blob_images

    images, _ = blob_images(96)
    labels = np.repeat([0, 1, 2], [72, 16, 8])
    np.savez(tmp_path / "uneven.npz", images=images, labels=labels)
    cfg = replace(small_config(f"npz:{tmp_path / 'uneven.npz'}", epochs=1), {"conditional": True})
    run = train(cfg, tmp_path / "run", log=lambda m: None).run_dir
    g = load(run)
    assert g.class_counts.tolist() == [72, 16, 8]
    _, asked, *_ = _load_source(run, None, 96, 0, "cpu", "last", None, lambda m: None)
    assert torch.bincount(asked).tolist() == [72, 16, 8]
    # sampling without labels still draws every class in turn (a grid shows each)
    assert g.labels_for(6, None).tolist() == [0, 1, 2, 0, 1, 2]

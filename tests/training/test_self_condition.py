"""Self-conditioning: clusters that find the structure of unlabelled images, a generator that samples them at
their shares without labels, and a run that trains, resumes and samples like an unconditional one."""

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.generate.sample import load
from gankit.infra import checkpoint
from gankit.infra.errors import GankitError
from gankit.models import dcgan
from gankit.models.self_conditioned import SelfConditionedGenerator
from gankit.training import self_condition
from gankit.training.config import TrainConfig, preset_config, replace, validate
from gankit.training.loop import train
from gankit.training.self_condition import cluster_images
from tests.helpers import blob_images


def test_clusters_recover_the_four_blob_positions_and_follow_the_seed():
    images, labels = blob_images(300)
    ids = cluster_images(torch.from_numpy(images), 4, seed=0).numpy()
    # each cluster is one position: the clustering is the labelling up to a renaming of the clusters
    assert sorted(len(set(labels[ids == c])) for c in range(4)) == [1, 1, 1, 1]
    assert np.array_equal(ids, cluster_images(torch.from_numpy(images), 4, seed=0).numpy())


def test_umaps_compiled_kernels_are_kept_on_disk_for_the_next_process():
    # each run (and each test process) would otherwise compile them again: 10-20 s on 2 cores
    from umap import umap_

    images, _ = blob_images(200)
    cluster_images(torch.from_numpy(images), 4, seed=0)
    cache = umap_.smooth_knn_dist._cache
    index = Path(cache.cache_path) / cache._cache_file._index_name
    assert index.is_file() and index.stat().st_size > 0


def test_images_outside_the_embedded_sample_take_their_neighbours_cluster(monkeypatch):
    images, labels = blob_images(300)
    monkeypatch.setattr(self_condition, "EMBEDDED_IMAGES", 150)  # 150 images embedded, then a vote places all 300
    ids = cluster_images(torch.from_numpy(images), 4, seed=0).numpy()
    assert sorted(len(set(labels[ids == c])) for c in range(4)) == [1, 1, 1, 1]


@pytest.mark.parametrize("n, k", [(8, 4), (10, 10), (40, 20), (200, 20)])
def test_small_data_keeps_every_cluster(n, k):
    images, _ = blob_images(n)
    ids = cluster_images(torch.from_numpy(images), k, seed=0)
    assert torch.bincount(ids, minlength=k).min() > 0


def test_umap_clusters_follow_connected_shapes_that_k_means_cuts():
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_moons

    points, moon = make_moons(1000, noise=0.08, random_state=0)
    ids = self_condition.umap_clusters(points, 2, seed=0)
    assert np.array_equal(ids, self_condition.umap_clusters(points, 2, seed=0))
    k_means = KMeans(2, n_init=3, random_state=0).fit_predict(points)

    def agreement(found):  # the share labelled alike, up to swapping the two names
        same = float((found == moon).mean())
        return max(same, 1 - same)

    assert agreement(ids) > 0.97
    assert agreement(k_means) < 0.9  # the case is one where distance to a centre is the wrong cue


def test_more_clusters_than_images_is_refused():
    images, _ = blob_images(5)
    with pytest.raises(GankitError, match="more clusters than the 5 training images"):
        cluster_images(torch.from_numpy(images), 6)


def small_self_conditioned_g() -> SelfConditionedGenerator:
    torch.manual_seed(0)
    return SelfConditionedGenerator(dcgan.Generator((1, 28, 28), z_dim=15, num_classes=3, width=8), 3)


def test_sampling_draws_each_cluster_at_its_share():
    g = small_self_conditioned_g()
    g.set_cluster_sizes(torch.tensor([600, 300, 100]))
    clusters = g.clusters_for(torch.randn(50_000, 16, generator=torch.Generator().manual_seed(1)))
    shares = torch.bincount(clusters, minlength=3).float() / len(clusters)
    assert torch.allclose(shares, torch.tensor([0.6, 0.3, 0.1]), atol=0.01)


def test_the_cluster_coordinate_never_reaches_the_inner_generator():
    g = small_self_conditioned_g().eval()
    z = torch.randn(32, 16)
    clusters = torch.arange(32) % 3
    moved = z.clone()
    moved[:, 0] = torch.randn(32)
    with torch.no_grad():
        assert torch.equal(g(z, clusters), g(moved, clusters))  # given the cluster, z[:, 0] does nothing
        assert torch.equal(g(z), g(z, g.clusters_for(z)))  # without one, z[:, 0] picks it
        assert not torch.equal(g(z, torch.zeros(32, dtype=torch.long)), g(z, torch.ones(32, dtype=torch.long)))


@pytest.mark.parametrize("change, message", [
    ({"self_condition": 1}, "2 or more"),
    ({"self_condition": 4, "conditional": True}, "choose one"),
    ({"self_condition": 4, "z_dim": 1}, "--z-dim must be 2 or more"),
])
def test_bad_self_conditioning_is_refused_before_any_work(change, message):
    with pytest.raises(GankitError, match=message):
        validate(replace(preset_config("best"), change))


def self_conditioned_config(dataset: str, **kw) -> TrainConfig:
    # no lr decay: the resume below extends the epochs, which would move the decay's schedule
    base = dict(dataset=dataset, epochs=2, batch_size=32, progress=False, grid_size=16, width=8,
                self_condition=4, lr_decay=0.0, precision="fp32")
    return replace(preset_config("best"), {**base, **kw})


def test_a_self_conditioned_run_trains_on_its_clusters_resumes_on_them_and_samples_unconditionally(
        tmp_path, blob_npz, monkeypatch):
    lines = []
    straight = train(self_conditioned_config(blob_npz, epochs=2), tmp_path / "straight", log=lines.append)
    assert any("self-conditioning on 4 clusters of the 256 training images" in line for line in lines)
    state = checkpoint.load(straight.run_dir / "checkpoints" / "last.pt")
    assert state["num_classes"] == 0  # users see an unconditional run
    sizes = torch.bincount(state["clusters"].long(), minlength=4)
    assert len(state["clusters"]) == 256 and sizes.min() > 0
    assert torch.allclose(state["generator"]["cluster_cdf"], sizes.cumsum(0).float() / 256)

    half = train(self_conditioned_config(blob_npz, epochs=1), tmp_path / "halves", log=lambda s: None)

    def no_second_clustering(*args, **kwargs):
        raise AssertionError("a resumed run must train on the clusters saved in its checkpoint")

    monkeypatch.setattr(self_condition, "cluster_images", no_second_clustering)
    resumed = train(TrainConfig(), half.run_dir, resume=True, overrides={"epochs": 2}, log=lambda s: None)
    a = checkpoint.load(straight.run_dir / "checkpoints" / "last.pt")
    b = checkpoint.load(resumed.run_dir / "checkpoints" / "last.pt")
    for k in a["generator"]:
        assert torch.equal(a["generator"][k], b["generator"][k]), k

    g = load(straight.run_dir)
    images = g.sample(12, seed=3)
    assert images.shape == (12, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(images, g.sample(12, seed=3))
    with pytest.raises(GankitError, match="self-conditioned: its clusters are not classes"):
        g.sample(4, labels=torch.tensor([1]))


def test_clustering_time_is_spent_from_the_minutes_budget(tmp_path, blob_npz, monkeypatch):
    real_clustering = self_condition.cluster_images

    def slow_clustering(*args, **kwargs):  # the real clustering, made slower than the whole budget
        ids = real_clustering(*args, **kwargs)
        time.sleep(2.0)
        return ids

    monkeypatch.setattr(self_condition, "cluster_images", slow_clustering)
    lines = []
    result = train(self_conditioned_config(blob_npz, epochs=50, minutes=1 / 60), tmp_path / "run", log=lines.append)
    assert result.stopped_by == "minutes" and result.steps_done <= 1  # 2 s of clustering left nothing of 1 s
    assert any("counted in the --minutes budget" in line for line in lines)

"""emoji and twemoji: the npm package's PNGs composited on white, labelled by category, checksummed; one-line errors
where the package cannot be had."""

import io
import json
import shutil
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.data import emoji, load_images
from gankit.infra.errors import GankitError


def _png(mode: str, color) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (64, 64), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _tarball(extra: dict | None = None) -> bytes:
    records = [{"image": "a.png", "category": "Symbols"},
               {"image": "b.png", "category": "Animals & Nature",
                "skin_variations": {"1F3FB": {"image": "b-1f3fb.png"}}}]
    files = {"package/emoji.json": json.dumps(records).encode(),
             "package/img/google/64/a.png": _png("RGBA", (255, 0, 0, 0)),  # fully transparent red: white
             "package/img/google/64/b.png": _png("LA", (0, 255)),  # opaque black, grey + alpha
             "package/img/google/64/b-1f3fb.png": _png("RGBA", (0, 0, 255, 128)),  # half-transparent blue
             "package/img/google/64/unlisted.png": _png("RGB", (9, 9, 9)),
             "package/img/google/32/a.png": _png("RGBA", (1, 2, 3, 255)), **(extra or {})}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_images_are_composited_on_white_and_variants_take_their_base_emojis_category():
    images, labels, classes = emoji.decode(_tarball(), "google")
    assert images.shape == (3, 3, 64, 64) and images.dtype == np.uint8  # a, b, b-1f3fb; not unlisted, not 32 px
    assert classes == ["Animals & Nature", "Symbols"]
    assert labels.tolist() == [1, 0, 0]  # a.png, b-1f3fb.png, b.png in file-name order
    assert (images[0] == 255).all()  # transparent: the white background
    assert images[1][:, 0, 0].tolist() == [127, 127, 255]  # blue at alpha 128 over white
    assert (images[2] == 0).all()  # opaque black from a grey + alpha image


def test_an_image_of_another_size_is_refused():
    bad = _tarball({"package/img/google/64/a.png": b""})
    with pytest.raises(GankitError):
        emoji.decode(bad, "google")
    odd = io.BytesIO()
    Image.new("RGBA", (72, 72)).save(odd, format="PNG")
    with pytest.raises(GankitError, match="is 72x72, not 64x64"):
        emoji.decode(_tarball({"package/img/google/64/a.png": odd.getvalue()}), "google")


def test_a_tarball_that_is_not_the_published_one_or_none_at_all_is_one_line(tmp_path, capsys):
    (tmp_path / "emoji").mkdir()
    (tmp_path / "emoji" / emoji.PACKAGES["emoji"].tarball).write_bytes(_tarball())
    assert main(["data", "emoji", "--data-dir", str(tmp_path)]) == 2
    assert "is not emoji-datasource-google-16.0.0.tgz as published" in capsys.readouterr().err
    assert main(["data", "twemoji", "--data-dir", str(tmp_path)]) == 2  # GANKIT_OFFLINE=1 in the tests
    err = capsys.readouterr().err
    assert "npm pack emoji-datasource-twitter@16.0.0" in err and len(err.strip().splitlines()) == 1


@pytest.mark.registry
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed here (apt-get install npm)")
def test_the_real_package_gives_3786_colour_images_in_10_categories_and_the_rgb_preset_trains_on_them(
        tmp_path, monkeypatch):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    data = load_images("emoji", tmp_path, log=lambda m: None)
    assert data.images.shape == (3786, 3, 64, 64) and data.num_classes == 10
    shares = dict(zip(data.class_names, np.bincount(data.labels.numpy()).tolist()))
    assert shares["Component"] == 5 and shares["Flags"] == 270  # no skin tones there: as many as base emoji
    small = load_images("emoji", tmp_path, image_size=32, limit=100, log=lambda m: None)  # from the cached .npz
    assert small.images.shape == (100, 3, 32, 32)
    # a short real run: 4 steps at 32 x 32 on the first 128, sampled by the EMA generator in colour
    quiet = {"progress": False, "log": lambda m: None}
    run = gankit.train("rgb", tmp_path / "run", dataset="emoji", data_dir=str(tmp_path), limit=128, epochs=1,
                       batch_size=32, **quiet)
    assert run.steps_done == 4 and all(np.isfinite(run.last_epoch_stats[k]) for k in ("d_loss", "g_loss"))
    images = gankit.load(run.run_dir, device="cpu").sample(8, seed=0)
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8
    assert (images[:, 0] != images[:, 1]).any()  # three channels of their own, not grey

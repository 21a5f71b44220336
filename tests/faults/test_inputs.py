"""Hostile tables and images: refused with one line before any run directory exists; what can be read is read
(byte-order marks, UTF-16), and a column of 10,000 categories trains in bounded memory and checkpoint size."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gankit.infra import checkpoint
from tests.faults.conftest import assert_one_line_error

TABLE = "a,b,c\n" + "".join(f"{i % 7},{'xy'[i % 2]},{i * 0.5}\n" for i in range(60))


@pytest.mark.parametrize("content, flags, needle", [
    (b"\xef\xbb\xbf", [], "is empty"),
    (b"\xef\xbb\xbf\n\n", [], "is empty"),
    (b"a,b\n1,x\n2,inf\n".replace(b"x", b"3"), [], "column 'b' holds inf in 1 rows"),
    (TABLE.encode(), ["--column-kind", "b=integer"], "column 'b' holds values ('x') that are not integer"),
    (TABLE.encode(), ["--column-kind", "b=datetime"], "that are not datetime"),
    ("a,b\né,1\nü,2\n".encode("latin-1"), [], "is not UTF-8 text"),
    (b"\x00\x01\x02PK\x03\x04" * 50, [], "not a CSV file"),
    (b"a,b\n", [], "has a header but no rows"),
    (b'a,b\n"1,2\n', [], "not a readable CSV"),
    (TABLE.encode(), ["--target", "nosuch"], "--target 'nosuch' is not a column"),
    (TABLE.encode(), ["--column-kind", "nosuch=integer"], "column kind given for 'nosuch'"),
    (TABLE.encode(), ["--max-categories", "1"], "max_categories must be 2 or more"),
])
def test_a_hostile_csv_is_one_line_and_leaves_no_run_directory(cli, tmp_path, content, flags, needle):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    code, _, err = cli("train", "--dataset", f"csv:{path}", "--epochs", "1", "--run-dir", tmp_path / "run", *flags)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_csv_with_a_byte_order_mark_reads_with_clean_column_names(tmp_path, encoding):
    from gankit.tabular.data import read_csv

    path = tmp_path / "t.csv"
    path.write_bytes(TABLE.encode(encoding))
    df = read_csv(path)
    assert list(df.columns) == ["a", "b", "c"] and len(df) == 60


def test_ten_thousand_categories_train_in_bounded_size_and_sample_their_rare_values(cli, tmp_path):
    """CTGAN one-hot encodes every category: 10,000 of them took 5.4 GB and a 1.96 GB checkpoint for 10 steps.
    Here the column keeps 99 categories plus one shared by the rest, and sampling still draws the rare values."""
    rng = np.random.default_rng(0)
    n = 10_000
    df = pd.DataFrame({"id": [f"user{i}" for i in rng.permutation(n)], "x": rng.normal(size=n),
                       "flag": rng.choice(["yes", "no"], n)})
    path = tmp_path / "wide.csv"
    df.to_csv(path, index=False)
    run = tmp_path / "run"
    code, out, err = cli("train", "--dataset", f"csv:{path}", "--epochs", "1", "--batch-size", "500",
                         "--run-dir", run)
    assert code == 0, err
    assert "column 'id': 10,000 categories; the 99 most frequent are kept" in out
    assert (run / "checkpoints" / "last.pt").stat().st_size < 20e6
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    assert state["generator"]["out.weight"].shape[0] < 200  # G's row: 100 slots for the id, not 10,000
    out_csv = tmp_path / "synth.csv"
    assert cli("sample", run, "-n", "2000", "--seed", "0", "--out", out_csv)[0] == 0
    ids = pd.read_csv(out_csv)["id"]
    kept = {c["str"] for c in json.loads(state["transformer"])["coders"][0]["categories"]}
    assert len(kept) == 100  # 99 values and the shared category
    # every value is a real one, and the rare ones come back: drawn from the real values through the shared one
    assert ids.isin(set(df["id"])).all() and (~ids.isin(kept)).sum() > 20


def test_huge_labels_for_a_conditional_model_are_refused_before_allocating(cli, tmp_path):
    from tests.helpers import blob_images

    images, labels = blob_images(64)
    labels[3] = 2**40
    path = tmp_path / "l.npz"
    np.savez(path, images=images, labels=labels)
    code, _, err = cli("train", "--preset", "seed", "--dataset", f"npz:{path}", "--conditional", "--run-dir", tmp_path / "run")
    assert_one_line_error(code, err, "labels go up to 1099511627776", "number the classes 0 to K-1")
    assert not (tmp_path / "run").exists()


def test_a_decompression_bomb_is_refused_from_its_header_and_the_guard_can_be_raised(cli, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    Image.new("L", (6000, 6000)).save(folder / "huge.png")  # 36 megapixels in a file of a few kilobytes
    code, _, err = cli("train", "--preset", "seed", "--dataset", f"folder:{folder}", "--run-dir", tmp_path / "run")
    assert_one_line_error(code, err, "huge.png is 6000x6000 pixels", "--max-image-pixels 36000000")
    # raised, the image decodes, and the MLP it would need (a 36-million-input layer) is refused as too large
    code, _, err = cli("train", "--preset", "seed", "--dataset", f"folder:{folder}", "--max-image-pixels", "40000000",
                       "--run-dir", tmp_path / "run")
    assert_one_line_error(code, err, "need about", "lower --batch-size")
    assert not (tmp_path / "run").exists()


def test_an_npz_whose_header_claims_terabytes_is_refused_before_it_is_inflated(cli, tmp_path):
    import io
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (10**7, 1, 1000, 1000)})
        archive.writestr("images.npy", header.getvalue())  # 10 TB claimed, no pixels at all
    code, _, err = cli("train", "--preset", "seed", "--dataset", f"npz:{path}", "--run-dir", tmp_path / "run")
    assert_one_line_error(code, err, "the arrays of bomb.npz need about 10.0 TB")
    assert not (tmp_path / "run").exists()

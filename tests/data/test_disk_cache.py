"""Folders decoded once to disk and memory-mapped: the same pixels as decoding into memory, rebuilt when a file
changes, nothing kept from a failed build, and a training run whose own memory stays far below the images'."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import data
from gankit.data.split import validation_split
from gankit.infra.errors import GankitError

ROOT = Path(__file__).resolve().parents[2]


def make_folder(folder: Path, n: int, size: tuple[int, int] = (30, 20), classes: int = 0) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        where = folder / f"c{i % classes}" if classes else folder
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(where / f"{i:04d}.png")
    return folder


def cache_files(data_dir: Path) -> list[str]:
    decoded = data_dir / data.DECODED_DIR
    return sorted(os.listdir(decoded)) if decoded.is_dir() else []


def load(folder: Path, data_dir: Path, cache: str, log=None, **kw):
    return data.load_images(f"folder:{folder}", data_dir, image_size=16, cache=cache, log=log or (lambda line: None), **kw)


def test_disk_cache_holds_the_pixels_memory_decoding_gives_and_is_built_once(tmp_path):
    folder = make_folder(tmp_path / "imgs", 12, classes=3)
    in_memory = load(folder, tmp_path / "d", "memory")
    assert in_memory.mapped_from is None and cache_files(tmp_path / "d") == []
    lines = []
    mapped = load(folder, tmp_path / "d", "disk", lines.append)
    assert mapped.mapped_from is not None and cache_files(tmp_path / "d") == [mapped.mapped_from.name]
    assert torch.equal(mapped.images, in_memory.images) and torch.equal(mapped.labels, in_memory.labels)
    assert mapped.class_names == in_memory.class_names and any(line.startswith("decoding 12 images") for line in lines)
    lines.clear()
    again = load(folder, tmp_path / "d", "disk", lines.append)
    assert again.mapped_from == mapped.mapped_from and not any(line.startswith("decoding") for line in lines)
    # a write to the tensor stays in this process: the file keeps the decoded pixels
    again.images[0] = 0
    assert torch.equal(load(folder, tmp_path / "d", "disk").images, in_memory.images)


@pytest.mark.parametrize("change", ["touch", "add", "remove"])
def test_a_changed_folder_is_decoded_again_and_the_stale_file_removed(tmp_path, change):
    folder = make_folder(tmp_path / "imgs", 6)
    first = load(folder, tmp_path / "d", "disk")
    if change == "touch":
        os.utime(folder / "0002.png", ns=(10**9, 10**9))
    elif change == "add":
        make_folder(tmp_path / "more", 1)
        (tmp_path / "more" / "0000.png").rename(folder / "0099.png")
    else:
        (folder / "0003.png").unlink()
    second = load(folder, tmp_path / "d", "disk")
    assert second.mapped_from != first.mapped_from and cache_files(tmp_path / "d") == [second.mapped_from.name]
    assert torch.equal(second.images, load(folder, tmp_path / "d", "memory").images)
    # other options of the same folder are other files, kept side by side
    bigger = data.load_images(f"folder:{folder}", tmp_path / "d", image_size=8, cache="disk", log=(lambda line: None))
    assert cache_files(tmp_path / "d") == sorted([second.mapped_from.name, bigger.mapped_from.name])


def test_unreadable_files_are_counted_and_named_and_a_failed_build_keeps_nothing(tmp_path):
    folder = make_folder(tmp_path / "imgs", 8)
    for name in ("0001.png", "0004.png"):
        (folder / name).write_bytes(b"not an image")
    with pytest.raises(GankitError, match=r"cannot read 2 of 8 image files: .*0001.png .*; .*0004.png .*: remove"):
        load(folder, tmp_path / "d", "disk")
    make_folder(tmp_path / "imgs", 8)
    truncated = folder / "0005.png"  # its header reads; its pixels do not: found while decoding into the file
    truncated.write_bytes(truncated.read_bytes()[:120])
    with pytest.raises(GankitError, match=r"cannot read 1 of 8 image files: .*0005.png"):
        load(folder, tmp_path / "d", "disk")
    assert cache_files(tmp_path / "d") == [] and not list((tmp_path / "d" / data.DECODED_DIR).glob(".*"))


def test_the_training_slice_of_a_mapped_folder_is_mapped_too(tmp_path):
    folder = make_folder(tmp_path / "imgs", 20)
    full = load(folder, tmp_path / "d", "memory").images
    train = data.load_training_images(f"folder:{folder}", tmp_path / "d", holdout=5, image_size=16, cache="disk",
                                      log=(lambda line: None))
    keep, _ = validation_split(20, 5)
    assert train.mapped_from is not None and torch.equal(train.images, full[keep])
    assert train.mapped_from.name in cache_files(tmp_path / "d")


def test_auto_keeps_a_small_folder_in_memory(tmp_path):
    folder = make_folder(tmp_path / "imgs", 4)
    assert load(folder, tmp_path / "d", "auto").mapped_from is None
    with pytest.raises(GankitError, match="unknown image cache 'ram': use auto, disk, memory"):
        load(folder, tmp_path / "d", "ram")


# A child process trains on the mapped folder while a thread samples its RssAnon, the memory that is the
# process's own: a mapped file's pages are the page cache's (RssFile), read in and dropped as needed. So the
# test shows what a folder larger than memory needs, without needing one: the images never become the
# process's memory. (RLIMIT_AS would count the mapping itself and refuse it.) What the run holds is the median
# sample while it steps, which a transient (the end's sample grid) does not move; the peak is checked as well.
CHILD = """
import json, statistics, sys, threading, time
from gankit.training.config import config_from
from gankit.training.loop import train

def rss_anon():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon")) * 1024

samples, stepping, done = {"all": [], "steps": []}, threading.Event(), threading.Event()
def sample():
    while not done.is_set():
        value = rss_anon()
        samples["all"].append(value)
        if stepping.is_set():
            samples["steps"].append(value)
        time.sleep(0.002)

def log(message):
    if message.startswith("training "):
        stepping.set()
    elif message.startswith("stopped "):
        stepping.clear()

import torch
torch.set_num_threads(2)
before = rss_anon()
threading.Thread(target=sample, daemon=True).start()
options = dict(dataset="folder:" + sys.argv[1], data_dir=sys.argv[3], image_cache=sys.argv[4], image_size=128,
               model="dcgan", model_options={"width": 8}, epochs=1, batch_size=32, minutes=0.03, progress=False)
train(config_from("seed", None, options), sys.argv[2], log=log)
done.set()
print("RESULT", json.dumps({"peak": max(samples["all"]) - before, "held": statistics.median(samples["steps"]) - before}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads RssAnon from Linux's /proc")
def test_training_from_a_mapped_folder_does_not_hold_its_images_in_memory(tmp_path):
    n = 3000  # decoded at 3x128x128: 147 MB; the runs' own memory, 110-140 MB on a 2-core Xeon, varies by 30
    folder = make_folder(tmp_path / "imgs", n, size=(8, 8))
    decoded = n * 3 * 128 * 128
    # the file is built here, so the disk run only maps it: building it costs its own transient memory
    data.load_images(f"folder:{folder}", tmp_path / "d", image_size=128, cache="disk", log=(lambda line: None))
    built = cache_files(tmp_path / "d")
    # both at once (what is measured is memory, not time)
    children = {cache: subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(tmp_path / f"run-{cache}"),
                                         str(tmp_path / "d"), cache], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
                for cache in ("disk", "memory")}
    runs = {}
    for cache, child in children.items():
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-2000:]
        runs[cache] = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])
    assert cache_files(tmp_path / "d") == built  # the run mapped the file built above, not a second one
    # the same run holds the images when decoded into memory, and not when they are mapped from the file
    assert runs["memory"]["held"] > decoded, runs
    assert runs["memory"]["held"] - runs["disk"]["held"] > 0.8 * decoded, runs
    # nor at any moment: a copy of the images would put the disk run's peak above the memory run's
    assert runs["memory"]["peak"] - runs["disk"]["peak"] > 0.5 * decoded, runs

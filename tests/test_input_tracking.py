"""Input tracking: files read from outside results/ (dataset files, user weights) rerun their rules.

The library part (repgeo.data.manifest: what each source reads, when the manifest is rewritten)
and the workflow part: after a finished run, a changed, added, removed, touched or older-copied
image makes a dry run plan that dataset's preparation and its dependants and nothing else,
without touching the record in results/; replacing a user's weights file plans the rule that
loads it.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from repgeo.data import load_dataset
from repgeo.data.manifest import compare, manifest_text, parse_manifest, refresh_manifest, tracked_files

from workflow_helpers import planned_jobs, snakemake, write_config

# --- helpers -------------------------------------------------------------------------------------


def _png(path: Path, seed: int, size: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _image_folder(root: Path) -> None:
    """Two classes of three 10 x 10 PNGs."""
    for c, cls in enumerate(("cat", "dog")):
        for i in range(3):
            _png(root / cls / f"{i}.png", 10 * c + i)


def _files(text: str) -> dict[str, tuple[str, str]]:
    return {k: v for k, v in parse_manifest(text).items() if not k.endswith("/")}


def _set_mtime(path: Path, seconds_ago: float) -> None:
    t = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(t, t))


# --- the library: what each source reads ---------------------------------------------------------


def test_image_folder_manifest_lists_the_files_the_loader_reads(tmp_path):
    root = tmp_path / "imgs"
    _image_folder(root)
    _png(root / "cat" / "nested" / "deep" / "4.PNG", 4)  # nested, upper-case suffix: read
    (root / "cat" / "notes.txt").write_text("not an image")  # other suffix: ignored
    _png(root / "cat" / ".hidden.png", 5)  # hidden file: ignored
    _png(root / "dog" / ".ipynb_checkpoints" / "0.png", 6)  # hidden folder: ignored
    _png(root / ".trash" / "0.png", 7)  # hidden class folder: ignored
    (root / "dog" / "link").symlink_to(root / "cat" / "nested", target_is_directory=True)  # not followed
    spec = {"source": "image_folder", "path": str(root), "size": 8}
    text = manifest_text(spec)
    ds = load_dataset(spec)
    assert sorted(_files(text)) == sorted(ds.samples["id"])
    assert "cat/nested/deep/4.PNG" in _files(text)
    assert [k for k in parse_manifest(text) if k.endswith("/")] == ["cat/", "dog/"]
    size, mtime = _files(text)["cat/0.png"]
    st = (root / "cat" / "0.png").stat()
    assert (int(size), int(mtime)) == (st.st_size, st.st_mtime_ns)
    # Restricting extensions restricts the manifest as it restricts the loader.
    only_png = manifest_text({**spec, "extensions": [".png"]})
    assert "cat/nested/deep/4.PNG" in _files(only_png)  # case-insensitive, as the loader
    assert not _files(manifest_text({**spec, "extensions": [".jpg"]}))


def test_manifest_is_rewritten_only_when_the_files_change(tmp_path):
    root, out = tmp_path / "imgs", tmp_path / "results" / "source_manifest.tsv"
    _image_folder(root)
    spec = {"source": "image_folder", "path": str(root)}
    first = refresh_manifest(spec, out)
    assert first.changed and first.changes is None and first.input == out and out.is_file()
    _set_mtime(out, 100)  # so that a rewrite is visible however coarse the clock
    stamp = out.stat().st_mtime_ns
    again = refresh_manifest(spec, out)
    assert not again.changed and again.input == out and out.stat().st_mtime_ns == stamp  # kept
    (root / "cat" / "notes.txt").write_text("ignored")
    assert not refresh_manifest(spec, out).changed

    def change(action):
        _set_mtime(out, 100)
        before = out.stat().st_mtime_ns
        action()
        update = refresh_manifest(spec, out)
        assert update.changed and update.input == out and out.stat().st_mtime_ns != before
        return update.changes

    assert change(lambda: _png(root / "dog" / "9.png", 99)).added == ["dog/9.png"]
    assert change(lambda: (root / "cat" / "1.png").unlink()).removed == ["cat/1.png"]
    assert change(lambda: _png(root / "cat" / "0.png", 42)).modified == ["cat/0.png"]
    # Same bytes, new time: counts as a change (one stat per file, no reading).
    assert change(lambda: _set_mtime(root / "dog" / "0.png", -5)).modified == ["dog/0.png"]
    # A different file with an older time (cp -p of an old copy): a change, though not newer.
    old = root / "dog" / "1.png"

    def older_copy():
        _png(old, 77)
        _set_mtime(old, 10 * 365 * 86400)

    assert change(older_copy).modified == ["dog/1.png"]
    # A new empty class makes the loader fail: it is a change of the dataset.
    assert change(lambda: (root / "bird").mkdir()).added == ["bird/"]
    # A record that is not a manifest (edited by hand) is replaced, with nothing to compare.
    out.write_text("edited by hand\n")
    update = refresh_manifest(spec, out)
    assert update.changed and update.changes is None and out.read_text() == manifest_text(spec)


def test_a_scratch_copy_leaves_the_record_alone(tmp_path):
    """What a dry run does: the new manifest goes to the scratch path, the record is untouched."""
    root, out, scratch = tmp_path / "imgs", tmp_path / "record.tsv", tmp_path / "scratch" / "m.tsv"
    _image_folder(root)
    spec = {"source": "image_folder", "path": str(root)}
    refresh_manifest(spec, out)
    record = out.read_bytes(), out.stat().st_mtime_ns
    unchanged = refresh_manifest(spec, out, scratch=scratch)
    assert unchanged.input == out and not scratch.exists()
    (root / "cat" / "2.png").unlink()
    update = refresh_manifest(spec, out, scratch=scratch)
    assert update.changed and update.input == scratch and update.changes.removed == ["cat/2.png"]
    assert (out.read_bytes(), out.stat().st_mtime_ns) == record
    assert scratch.read_text() == manifest_text(spec)


def test_file_sources_track_their_files(tmp_path):
    # A single file (npz): its own name.
    npz = tmp_path / "olivetti.npz"
    np.savez(npz, images=np.zeros((2, 64, 64), np.uint8), target=np.array([0, 1]))
    assert list(_files(manifest_text({"source": "olivetti", "path": str(npz)}))) == ["olivetti.npz"]
    # MNIST's folder format: the four idx names, plain and gzipped; absent ones are recorded, so
    # that a file appearing (the loader prefers the plain one) is a change.
    idx = tmp_path / "mnist"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte.gz").write_bytes(b"x")
    before = manifest_text({"source": "mnist", "path": str(idx)})
    assert _files(before)["train-images-idx3-ubyte"] == ("missing", "-")
    assert _files(before)["train-images-idx3-ubyte.gz"][0] == "1"
    assert len(_files(before)) == 8
    (idx / "train-images-idx3-ubyte").write_bytes(b"yy")
    assert compare(before, manifest_text({"source": "mnist", "path": str(idx)})).modified == ["train-images-idx3-ubyte"]
    # CIFAR-10's python batches, batches.meta included; other files in the folder are not read.
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    (cifar / "data_batch_1").write_bytes(b"b")
    (cifar / "readme.html").write_text("x")
    names = _files(manifest_text({"source": "cifar10", "path": str(cifar)}))
    assert set(names) == {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch", "batches.meta"}
    assert names["data_batch_1"][0] == "1" and names["test_batch"] == ("missing", "-")


def test_celeba_tracks_its_lists_and_the_listed_images(tmp_path):
    root = tmp_path / "celeba"
    _png(root / "img_align_celeba" / "000001.jpg", 1)
    _png(root / "img_align_celeba" / "000099.jpg", 2)  # not listed: never read
    (root / "list_attr_celeba.txt").write_text("2\nSmiling Male\n000001.jpg 1 -1\r\n000002.jpg -1 1\n")
    spec = {"source": "celeba", "path": str(root)}
    text = manifest_text(spec)
    files = _files(text)
    assert set(files) == {
        "list_attr_celeba.txt",
        "list_eval_partition.txt",
        "img_align_celeba/000001.jpg",
        "img_align_celeba/000002.jpg",
    }
    assert files["img_align_celeba/000002.jpg"] == ("missing", "-")
    assert files["list_eval_partition.txt"] == ("missing", "-")
    _png(root / "img_align_celeba" / "000100.jpg", 3)
    assert manifest_text(spec) == text
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 2\n")
    _png(root / "img_align_celeba" / "000002.jpg", 4)
    changes = compare(text, manifest_text(spec))
    assert changes.modified == ["img_align_celeba/000002.jpg", "list_eval_partition.txt"]


def test_audio_folders_track_their_recordings(tmp_path):
    import soundfile

    fsdd = tmp_path / "fsdd"
    (fsdd / "recordings").mkdir(parents=True)
    for name in ("0_jackson_0", "1_nicolas_7"):
        soundfile.write(fsdd / "recordings" / f"{name}.wav", np.zeros(800, np.float32), 8000)
    (fsdd / "README.md").write_text("x")
    spec = {"source": "fsdd", "path": str(fsdd), "crop": True}
    names = set(_files(manifest_text(spec)))
    assert names == {"recordings/0_jackson_0.wav", "recordings/1_nicolas_7.wav"}
    assert {Path(p).relative_to(fsdd).as_posix() for p in load_dataset(spec).samples["path"]} == names
    timit = tmp_path / "timit"
    for rel in (
        "TRAIN/DR1/FCJF0/SA1.WAV",
        "TRAIN/DR1/FCJF0/SA1.WRD",
        "TEST/DR1/MABC0/sx1.phn",
        "TEST/DR1/MABC0/notes.txt",
    ):
        (timit / rel).parent.mkdir(parents=True, exist_ok=True)
        (timit / rel).write_bytes(b"x")
    assert set(_files(manifest_text({"source": "timit", "path": str(timit)}))) == {
        "TRAIN/DR1/FCJF0/SA1.WAV", "TRAIN/DR1/FCJF0/SA1.WRD", "TEST/DR1/MABC0/sx1.phn",
    }  # fmt: skip


def test_sources_without_files_have_no_manifest(tmp_path):
    for spec in ({"source": "sklearn_digits"}, {"source": "manifold", "manifold": "torus"}, {"source": "spoken_words"}):
        assert tracked_files(spec) is None and manifest_text(spec) is None
        assert refresh_manifest(spec, tmp_path / "m.tsv") is None
    assert not (tmp_path / "m.tsv").exists()


def test_names_with_tabs_and_newlines_stay_one_line(tmp_path):
    root = tmp_path / "imgs"
    _png(root / "a\tb" / "x\ny.png", 1)
    _png(root / "a\tb" / "#1.png", 2)  # not taken for a comment
    text = manifest_text({"source": "image_folder", "path": str(root)})
    assert list(parse_manifest(text)) == ["a\\tb/", "a\\tb/#1.png", "a\\tb/x\\ny.png"]
    assert len(text.splitlines()) == 5


# --- the workflow: a prepared image folder ---------------------------------------------------------

TINY = {
    "threads": {"data": 1, "diffusion": 1, "plot": 1},
    "datasets": {
        "imgs": {"source": "image_folder", "path": "imgs", "size": 8},
        "digits": {"source": "sklearn_digits", "n": 100},
    },
}
RERUN = {"prepare_data": 1, "data_overview": 1, "all": 1}


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """TINY run once; then files that the source does not read are added."""
    work = tmp_path_factory.mktemp("tracking")
    _image_folder(work / "imgs")
    write_config(work, TINY)
    snakemake(work, "--cores", "2")
    (work / "imgs" / "cat" / "notes.txt").write_text("not an image")
    (work / "imgs" / "dog" / ".DS_Store").write_bytes(b"\0")
    return work


def _dry_run(work: Path, *targets: str) -> tuple[dict[str, int], str]:
    """Jobs per rule that a dry run plans (as workflow_helpers.planned_jobs) and its output."""
    proc = snakemake(work, "-n", *targets)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}, out
    table = re.search(r"Job stats:\n(.*?)\n\s*\n", out, re.S).group(1)
    rows = [line.split() for line in table.splitlines()[2:]]
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] != "total"}, out


def _prepared(out: str) -> list[str]:
    """The datasets whose preparation a dry run's output plans."""
    return sorted(re.findall(r"rule prepare_data:.*?wildcards: dataset=(\S+)", out, re.S))


@pytest.mark.workflow
def test_finished_run_is_up_to_date_and_ignores_unread_files(folder_run):
    assert planned_jobs(folder_run) == {}
    manifest = (folder_run / "results/data/imgs/source_manifest.tsv").read_text()
    assert "cat/0.png\t" in manifest and "notes.txt" not in manifest
    assert not (folder_run / "results/data/digits/source_manifest.tsv").exists()


def _modify(imgs: Path) -> None:
    _png(imgs / "cat" / "0.png", 1000)


def _delete(imgs: Path) -> None:
    (imgs / "cat" / "1.png").unlink()


def _touch(imgs: Path) -> None:
    (imgs / "dog" / "0.png").touch()


def _older_copy(imgs: Path) -> None:
    # A different image whose time is older than the prepared data (cp -p, rsync -a, tar x):
    # Snakemake's own "input newer than output" test would miss it.
    _png(imgs / "dog" / "1.png", 1002)
    _set_mtime(imgs / "dog" / "1.png", 10 * 365 * 86400)


def _copy(run: Path, dest: Path) -> Path:
    # copy2 keeps the files' times, so the copy is as up to date as the run.
    shutil.copytree(run, dest, symlinks=True)
    return dest


@pytest.mark.workflow
@pytest.mark.parametrize("change", [_modify, _delete, _touch, _older_copy], ids=lambda f: f.__name__[1:])
def test_a_changed_image_reruns_its_dataset_and_dependants_only(folder_run, tmp_path, change):
    work = _copy(folder_run, tmp_path / "run")
    change(work / "imgs")
    jobs, out = _dry_run(work)
    assert jobs == RERUN and _prepared(out) == ["imgs"]  # digits, not changed, is not prepared again
    # The dry run planned it from a scratch copy; the record is as the finished run left it.
    assert re.search(r"reason: Updated input files: \S+/source_manifests/imgs/source_manifest.tsv", out)
    record = "results/data/imgs/source_manifest.tsv"
    assert (work / record).read_bytes() == (folder_run / record).read_bytes()
    assert (work / record).stat().st_mtime_ns == (folder_run / record).stat().st_mtime_ns


@pytest.mark.workflow
def test_an_added_image_is_prepared_and_the_run_is_then_up_to_date(folder_run, tmp_path):
    work = _copy(folder_run, tmp_path / "run")
    _png(work / "imgs" / "dog" / "3.png", 1001)
    jobs, out = _dry_run(work)
    assert jobs == RERUN and _prepared(out) == ["imgs"]
    assert (
        "datasets.imgs: source files changed since the last preparation: 0 modified, 1 added, 0 removed (dog/3.png)"
        in out
    )
    run = snakemake(work, "--cores", "2")
    assert "reason: Updated input files: results/data/imgs/source_manifest.tsv" in run.stdout + run.stderr
    # The run recorded the new file before preparing the data: nothing is left to do.
    assert planned_jobs(work) == {}
    assert "dog/3.png\t" in (work / "results/data/imgs/source_manifest.tsv").read_text()
    ids = pd.read_parquet(work / "results/data/imgs/samples.parquet")["id"]
    assert "dog/3.png" in set(ids) and len(ids) == 7


# --- the workflow: user weights --------------------------------------------------------------------

WEIGHTS = {
    "threads": {"data": 1, "training": 1, "entropy": 1, "plot": 1},
    "datasets": {"digits": {"source": "sklearn_digits", "n": 100}},
    "inversion": {"w": {"dataset": "digits", "arch": "alexnet", "weights": "alexnet.pt"}},
    "generative": {"g": {"dataset": "digits", "models": ["ae"], "evaluation": {"inception_weights": "inception.pt"}}},
    "entropy_zoo": {
        "z": {"dataset": "digits", "external": [{"name": "tv", "arch": "resnet18", "state_dict": "zoo.pt"}]}
    },
}
# Each weights file, the rule that loads it, and that rule's outputs (the dry runs' targets).
LOADERS = {
    "alexnet.pt": (
        "inversion_network",
        ["results/inversion/w/network.pt", "results/inversion/w/network_history.parquet"],
    ),
    "inception.pt": ("generative_evaluate", ["results/generative/g/ae/metrics.parquet"]),
    "zoo.pt": (
        "entropy_zoo_external",
        ["results/entropy_zoo/z/ext-tv/embeddings.pt", "results/entropy_zoo/z/ext-tv/history.parquet"],
    ),
}
# What those rules read from results/, oldest first.
UPSTREAM = [
    "results/data/digits/samples.parquet",
    "results/data/digits/arrays.pt",
    "results/generative/g/ae/snapshots.pt",
    "results/generative/g/ae/history.parquet",
    "results/generative/g/feature_net/model.pt",
    "results/generative/g/feature_net/history.parquet",
]


@pytest.mark.workflow
def test_replacing_a_weights_file_reruns_the_rule_that_loads_it(tmp_path):
    """Weights are stand-in bytes and results are placeholders with ordered times: only the
    scheduling is under test (loading real AlexNet or Inception weights would take minutes)."""
    work = tmp_path
    write_config(work, WEIGHTS)
    targets = [t for _, outs in LOADERS.values() for t in outs]
    files = list(LOADERS) + UPSTREAM + targets
    for age, rel in zip(range(len(files) * 10, 0, -10), files, strict=True):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(b"placeholder")
        _set_mtime(work / rel, age)
    assert planned_jobs(work, *targets) == {}
    for weights in LOADERS:
        (work / weights).write_bytes(b"new weights")
    jobs, out = _dry_run(work, *targets)
    assert jobs == {rule: 1 for rule, _ in LOADERS.values()}
    for weights, (rule, _) in LOADERS.items():
        reason = re.search(rf"rule {rule}:.*?reason: ([^\n]*)", out, re.S).group(1)
        assert reason == f"Updated input files: {weights}", (rule, reason)

"""Image data sources: real data from ../shared/datasets and small synthetic fixtures in tmp_path."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repgeo.data import BadFilesError, DataError, check_dataset
from repgeo.data.images import (
    CIFAR10_CLASSES,
    RestrictedUnpickler,
    celeba,
    cifar10,
    grey_uint8,
    image_folder,
    mnist,
    olivetti,
)

LOG = logging.getLogger("repgeo.test")


def _bytes(ds_arrays: np.ndarray) -> np.ndarray:
    """float32 images in [0, 1] back to their uint8 values."""
    return np.rint(ds_arrays * 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# MNIST


@pytest.mark.realdata
def test_mnist_npz_official_split(shared_datasets):
    path = shared_datasets / "mnist" / "mnist.npz"
    ds = mnist({"source": "mnist", "path": str(path)}, LOG)
    check_dataset(ds)
    ref = np.load(path)
    s = ds.samples
    assert ds.arrays.shape == (70000, 1, 28, 28)
    assert (s["split"] == "train").sum() == 60000 and (s["split"] == "test").sum() == 10000
    np.testing.assert_array_equal(s["label"], np.concatenate([ref["y_train"], ref["y_test"]]))
    assert list(s["label"][:5]) == [5, 0, 4, 1, 9]
    official = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    np.testing.assert_array_equal(np.bincount(s["label"][:60000]), official)
    assert s["id"].iloc[12] == "train_00012" and s["id"].iloc[60003] == "test_00003"
    np.testing.assert_array_equal(_bytes(ds.arrays[59999, 0]), ref["x_train"][59999])
    np.testing.assert_array_equal(_bytes(ds.arrays[60000:, 0]), ref["x_test"])


@pytest.mark.realdata
def test_mnist_random_subset_ids_point_at_the_images(shared_datasets):
    path = shared_datasets / "mnist" / "mnist.npz"
    ds = mnist({"path": str(path), "n": 500, "seed": 1}, LOG)
    ref = dict(np.load(path))  # an NpzFile would decompress the array again at every access
    assert len(ds.samples) == 500
    for k, ident in enumerate(ds.samples["id"]):
        split, index = ident.split("_")
        np.testing.assert_array_equal(_bytes(ds.arrays[k, 0]), ref[f"x_{split}"][int(index)])
        assert ds.samples["label"].iloc[k] == ref[f"y_{split}"][int(index)]
    assert set(ds.samples["split"]) == {"train", "test"}


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_folder(tmp_path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 4),
    }
    for name, a in arrays.items():
        if name == "train-images-idx3-ubyte":
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(_idx(a)))
        else:
            (tmp_path / name).write_bytes(_idx(a))
    return arrays


def test_mnist_idx_folder_with_a_gzipped_file(tmp_path):
    ref = _mnist_folder(tmp_path)
    ds = mnist({"path": str(tmp_path)}, LOG)
    check_dataset(ds)
    assert ds.arrays.shape == (10, 1, 28, 28) and ds.info["format"] == "idx"
    np.testing.assert_array_equal(_bytes(ds.arrays[:6, 0]), ref["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(_bytes(ds.arrays[6:, 0]), ref["t10k-images-idx3-ubyte"])
    labels = np.concatenate([ref["train-labels-idx1-ubyte"], ref["t10k-labels-idx1-ubyte"]])
    np.testing.assert_array_equal(ds.samples["label"], labels)
    ids = [f"train_{i:05d}" for i in range(6)] + [f"test_{i:05d}" for i in range(4)]
    assert list(ds.samples["id"]) == ids


def test_mnist_truncated_and_foreign_idx_files_are_all_reported(tmp_path):
    _mnist_folder(tmp_path)
    data = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(data[:-100])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(BadFilesError) as err:
        mnist({"path": str(tmp_path)}, LOG)
    bad = dict(err.value.bad)
    assert set(bad) == {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
    truncated = "truncated: header says 4 x 28 x 28 = 3136 bytes, the file holds 3036"
    assert truncated in bad["t10k-images-idx3-ubyte"]
    assert "magic number" in bad["t10k-labels-idx1-ubyte"]
    assert "skip_bad_files: true" in str(err.value)


def test_mnist_skip_bad_files_keeps_the_readable_split(tmp_path, caplog):
    ref = _mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.arange(3)))  # 3 labels for 4 images
    with caplog.at_level(logging.WARNING):
        ds = mnist({"path": str(tmp_path), "skip_bad_files": True}, LOG)
    assert list(ds.samples["split"].unique()) == ["train"]
    np.testing.assert_array_equal(ds.samples["label"], ref["train-labels-idx1-ubyte"])
    assert ds.info["skipped_files"] == 2
    assert ds.info["skipped"] == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    assert "skipped 2 unreadable file(s)" in caplog.text and "4 images but" in caplog.text


def test_mnist_npz_with_missing_keys_names_them(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(DataError, match=r"lacks the key\(s\) \['x_test', 'y_test'\]"):
        mnist({"path": str(path)}, LOG)
    with pytest.raises(DataError, match="does not exist"):
        mnist({"path": str(tmp_path / "nowhere.npz")}, LOG)


# --------------------------------------------------------------------------------------------
# CIFAR-10


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 strings, as the cPickle that made CIFAR-10's batches did."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def _py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # numpy 1 (and so every CIFAR-10 download) names the module numpy.core.multiarray.
    return buf.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _cifar_folder(tmp_path: Path, names=None) -> tuple[np.ndarray, np.ndarray]:
    """Five training batches of 3 images and a test batch of 2, in CIFAR-10's python layout."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (17, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 17)
    chunks = [(f"data_batch_{i + 1}", slice(3 * i, 3 * i + 3)) for i in range(5)]
    chunks.append(("test_batch", slice(15, 17)))
    for name, sl in chunks:
        batch = {
            "batch_label": f"{name} of 5",
            "labels": [int(v) for v in labels[sl]],
            "data": images[sl].transpose(0, 3, 1, 2).reshape(-1, 3072),
            "filenames": [f"img_{i}.png" for i in range(17)[sl]],
        }
        (tmp_path / name).write_bytes(_py2_pickle(batch))
    if names is not None:
        (tmp_path / "batches.meta").write_bytes(_py2_pickle({"label_names": names, "num_vis": 3072}))
    return images, labels


def test_cifar_python_batches(tmp_path):
    names = [f"class{i}" for i in range(10)]
    images, labels = _cifar_folder(tmp_path, names)
    ds = cifar10({"source": "cifar10", "path": str(tmp_path)}, LOG)
    check_dataset(ds)
    assert ds.arrays.shape == (17, 3, 32, 32)
    np.testing.assert_array_equal(_bytes(ds.arrays), images.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(ds.samples["label"], labels)
    assert list(ds.samples["label_name"]) == [names[v] for v in labels]
    assert list(ds.samples["id"][[0, 14, 15]]) == ["train_00000", "train_00014", "test_00000"]
    assert list(ds.samples["split"]).count("test") == 2


def test_cifar_python3_batches_and_standard_class_names(tmp_path):
    images, labels = _cifar_folder(tmp_path)
    batch = {"data": images[15:].transpose(0, 3, 1, 2).reshape(-1, 3072), "labels": labels[15:].tolist()}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=5))
    ds = cifar10({"path": str(tmp_path), "grayscale": True}, LOG)
    assert ds.arrays.shape == (17, 1, 32, 32)
    want = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in images])
    np.testing.assert_array_equal(_bytes(ds.arrays[:, 0]), want)
    assert list(ds.samples["label_name"]) == [CIFAR10_CLASSES[v] for v in labels]


def test_cifar_pickle_that_runs_code_is_refused(tmp_path):
    _cifar_folder(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps({"data": _Evil(marker)}, protocol=2))
    (tmp_path / "data_batch_5").unlink()
    with pytest.raises(BadFilesError) as err:
        cifar10({"path": str(tmp_path)}, LOG)
    assert not marker.exists()
    bad = dict(err.value.bad)
    assert set(bad) == {"data_batch_3", "data_batch_5"}
    assert f"refused to load {os.system.__module__}.system" in bad["data_batch_3"]
    assert bad["data_batch_5"] == "file not found"
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(_Evil(marker)))).load()
    ds = cifar10({"path": str(tmp_path), "skip_bad_files": True}, LOG)
    assert len(ds.samples) == 11 and ds.info["skipped"] == ["data_batch_3", "data_batch_5"]
    assert not marker.exists()


@pytest.mark.realdata
def test_cifar_npz_subset(shared_datasets):
    path = shared_datasets / "cifar10_subset" / "cifar10_subset.npz"
    ref = dict(np.load(path))  # an NpzFile would decompress the array again at every access
    first = cifar10({"path": str(path), "n": 3, "sample": "first"}, LOG)
    # Red channel, row 0 of train image 0 of the original data_batch_1 (from the dataset's README).
    assert list(_bytes(first.arrays[0, 0, 0, :10])) == [59, 43, 50, 68, 98, 119, 139, 145, 149, 149]
    assert list(first.samples["label_name"]) == ["frog", "truck", "truck"]
    ds = cifar10({"path": str(path), "n": 400, "seed": 2}, LOG)
    check_dataset(ds)
    assert ds.arrays.shape == (400, 3, 32, 32) and set(ds.samples["split"]) == {"train", "test"}
    for k, ident in enumerate(ds.samples["id"]):
        split, index = ident.split("_")
        np.testing.assert_array_equal(_bytes(ds.arrays[k]), ref[f"x_{split}"][int(index)].transpose(2, 0, 1))
        assert ds.samples["label_name"].iloc[k] == CIFAR10_CLASSES[ref[f"y_{split}"][int(index)]]


def test_grey_uint8_is_pil_convert_l():
    x = np.random.default_rng(3).integers(0, 256, (5, 7, 9, 3), dtype=np.uint8)
    want = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in x])
    np.testing.assert_array_equal(grey_uint8(x)[..., 0], want)


# --------------------------------------------------------------------------------------------
# Olivetti


@pytest.mark.realdata
def test_olivetti_split_is_stratified_by_subject(shared_datasets):
    path = shared_datasets / "olivetti" / "olivetti_faces.npz"
    ref = np.load(path)
    ds = olivetti({"source": "olivetti", "path": str(path)}, LOG)
    check_dataset(ds)
    s = ds.samples
    assert ds.arrays.shape == (400, 1, 64, 64)
    np.testing.assert_array_equal(_bytes(ds.arrays[:, 0]), ref["images"])
    np.testing.assert_array_equal(s["label"], np.arange(400) // 10)
    assert s["id"].iloc[73] == "subject07_03"
    per_subject = s[s["split"] == "test"].groupby("label").size()
    assert len(per_subject) == 40 and (per_subject == 2).all()
    again = olivetti({"path": str(path)}, LOG)
    other = olivetti({"path": str(path), "seed": 1, "test_fraction": 0.3}, LOG)
    assert again.samples["split"].equals(s["split"])
    assert not other.samples["split"].equals(s["split"])
    assert (other.samples[other.samples["split"] == "test"].groupby("label").size() == 3).all()


def test_olivetti_float_images_are_kept_and_out_of_range_refused(tmp_path):
    images = np.random.default_rng(0).random((20, 64, 64))
    path = tmp_path / "faces.npz"
    np.savez(path, images=images, target=np.arange(20) // 10)
    ds = olivetti({"path": str(path)}, LOG)
    np.testing.assert_array_equal(ds.arrays[:, 0], images.astype(np.float32))
    np.savez(path, images=images * 255, target=np.arange(20) // 10)
    with pytest.raises(DataError, match=r"float images must lie in \[0, 1\]"):
        olivetti({"path": str(path)}, LOG)


# --------------------------------------------------------------------------------------------
# Image folder


def _three_band_image(width: int, height: int) -> np.ndarray:
    """RGB image with distinct values everywhere: red ramps with the column, green with the row."""
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    return np.stack([cols * 4, rows * 4, (cols + rows) % 256], axis=-1).astype(np.uint8)


def _image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "cats").mkdir(parents=True)
    (root / "dogs" / "nested").mkdir(parents=True)
    Image.fromarray(_three_band_image(60, 30)).save(root / "cats" / "a.png")
    Image.fromarray(_three_band_image(30, 30)).save(root / "cats" / "b.PNG")
    Image.fromarray(_three_band_image(30, 45)).save(root / "dogs" / "c.bmp")
    Image.fromarray(_three_band_image(40, 30)[:, :, 0]).save(root / "dogs" / "nested" / "d.png")
    (root / "dogs" / "notes.txt").write_text("not an image")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "dogs" / "empty.jpg").write_bytes(b"")
    return root


def test_image_folder_reports_every_bad_file(tmp_path):
    root = _image_folder(tmp_path)
    with pytest.raises(BadFilesError) as err:
        image_folder({"source": "image_folder", "path": str(root), "size": 30}, LOG)
    bad = dict(err.value.bad)
    assert set(bad) == {"cats/broken.png", "dogs/empty.jpg"}
    assert bad["dogs/empty.jpg"] == "empty file (0 bytes)"
    assert "2 unreadable file(s)" in str(err.value)


def test_image_folder_skips_bad_files_and_crops_to_the_aspect(tmp_path, caplog):
    root = _image_folder(tmp_path)
    with caplog.at_level(logging.WARNING):
        ds = image_folder({"path": str(root), "size": 30, "skip_bad_files": True}, LOG)
    check_dataset(ds)
    assert ds.info["skipped_files"] == 2 and ds.info["skipped"] == ["cats/broken.png", "dogs/empty.jpg"]
    assert "cats/broken.png" in caplog.text
    s = ds.samples
    assert list(s["id"]) == ["cats/a.png", "cats/b.PNG", "dogs/c.bmp", "dogs/nested/d.png"]
    assert list(s["label"]) == [0, 0, 1, 1] and list(s["label_name"]) == ["cats", "cats", "dogs", "dogs"]
    assert ds.arrays.shape == (4, 3, 30, 30)
    px = _bytes(ds.arrays).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(px[0], _three_band_image(60, 30)[:, 15:45])  # central 30 of 60 columns
    np.testing.assert_array_equal(px[1], _three_band_image(30, 30))
    np.testing.assert_array_equal(px[2], _three_band_image(30, 45)[7:37])  # central 30 of 45 rows
    grey = _three_band_image(40, 30)[:, 5:35, 0]
    np.testing.assert_array_equal(px[3], np.repeat(grey[:, :, None], 3, axis=2))


def test_image_folder_resizes_to_height_width_in_greyscale(tmp_path):
    root = _image_folder(tmp_path)
    (root / "cats" / "broken.png").unlink()
    (root / "dogs" / "empty.jpg").unlink()
    ds = image_folder({"path": str(root), "size": [10, 30], "grayscale": True, "extensions": ["png"]}, LOG)
    assert list(ds.samples["id"]) == ["cats/a.png", "cats/b.PNG", "dogs/nested/d.png"]
    assert ds.arrays.shape == (3, 1, 10, 30)
    # 60 x 30 is wider than 3:1 needs in height: keep rows 5..24, then halve.
    src = Image.fromarray(_three_band_image(60, 30)).crop((0, 5, 60, 25)).convert("L")
    want = np.asarray(src.resize((30, 10), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(_bytes(ds.arrays[0, 0]), want)


def test_image_folder_without_classes_or_with_an_empty_class(tmp_path):
    with pytest.raises(DataError, match="has no class folders"):
        image_folder({"path": str(tmp_path)}, LOG)
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="holds no file with an extension"):
        image_folder({"path": str(tmp_path)}, LOG)


# --------------------------------------------------------------------------------------------
# CelebA

_ATTRS = ["Male", "Smiling", "Young"]


def _celeba_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    rows = {
        "000001.jpg": [1, -1, 1],
        "000002.jpg": [-1, 1, 1],
        "162771.jpg": [-1, -1, -1],
        "182638.jpg": [1, 1, -1],
        "000005.jpg": [1, 1, 1],  # listed but missing
    }
    written = {}
    for i, name in enumerate(list(rows)[:4]):
        img = np.roll(_three_band_image(12, 10), 3 * i, axis=1)
        Image.fromarray(img).save(root / "img_align_celeba" / name, quality=95)
        written[name] = np.asarray(Image.open(root / "img_align_celeba" / name).convert("RGB"))
    lines = [str(len(rows)), " ".join(_ATTRS) + " "]
    lines += [f"{name} " + " ".join(f"{v:2d}" for v in vals) for name, vals in rows.items()]
    (root / "list_attr_celeba.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return root, written


def test_celeba_missing_image_is_a_bad_file(tmp_path):
    root, _ = _celeba_folder(tmp_path)
    with pytest.raises(BadFilesError) as err:
        celeba({"source": "celeba", "path": str(root)}, LOG)
    assert err.value.bad == [("000005.jpg", "file not found")]


def test_celeba_tiny_layout(tmp_path):
    root, written = _celeba_folder(tmp_path)
    ds = celeba({"path": str(root), "skip_bad_files": True}, LOG)
    check_dataset(ds)
    s = ds.samples
    assert list(s["id"]) == ["000001.jpg", "000002.jpg", "162771.jpg", "182638.jpg"]
    assert list(s["partition"]) == ["train", "train", "valid", "test"]
    assert list(s["split"]) == ["train", "train", "train", "test"]
    assert s[_ATTRS].dtypes.eq(bool).all()
    assert list(s["Male"]) == [True, False, False, True] and list(s["Young"]) == [True, True, False, False]
    assert ds.info["skipped"] == ["000005.jpg"] and ds.info["partition_source"] == "file numbers"
    assert ds.arrays.shape == (4, 3, 10, 12)
    np.testing.assert_array_equal(_bytes(ds.arrays[2]), written["162771.jpg"].transpose(2, 0, 1))
    # The partition file, when present, wins over the file numbers.
    part = "000001.jpg 2\n000002.jpg 1\n162771.jpg 0\n182638.jpg 0\n000005.jpg 0\n"
    (root / "list_eval_partition.txt").write_text(part)
    ds = celeba({"path": str(root), "skip_bad_files": True}, LOG)
    assert list(ds.samples["partition"]) == ["test", "valid", "train", "train"]
    assert list(ds.samples["split"]) == ["test", "train", "train", "train"]


def test_celeba_random_split_for_partial_copies(tmp_path):
    root, _ = _celeba_folder(tmp_path)
    ds = celeba({"path": str(root), "skip_bad_files": True, "split": "random", "test_fraction": 0.5, "seed": 3}, LOG)
    assert sorted(ds.samples["split"]) == ["test", "test", "train", "train"]
    assert list(ds.samples["partition"]) == ["train", "train", "valid", "test"]  # the official partition stays a column
    with pytest.raises(DataError, match="split must be 'official' or 'random'"):
        celeba({"path": str(root), "skip_bad_files": True, "split": "kfold"}, LOG)


def test_celeba_crop_then_resize(tmp_path):
    root, written = _celeba_folder(tmp_path)
    spec = {"path": str(root), "n": 2, "sample": "first", "crop": [6, 8], "size": 4, "grayscale": True}
    ds = celeba(spec, LOG)
    assert ds.arrays.shape == (2, 1, 4, 4)
    src = Image.fromarray(written["000002.jpg"]).crop((2, 2, 10, 8)).convert("L")
    want = np.asarray(src.resize((4, 4), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(_bytes(ds.arrays[1, 0]), want)
    ds = celeba({"path": str(root), "n": 1, "sample": "first", "crop": 6}, LOG)
    np.testing.assert_array_equal(_bytes(ds.arrays[0]), written["000001.jpg"][2:8, 3:9].transpose(2, 0, 1))


def test_celeba_bad_attribute_value_names_the_line(tmp_path):
    root, _ = _celeba_folder(tmp_path)
    attr = root / "list_attr_celeba.txt"
    attr.write_bytes(attr.read_bytes().replace(b"000002.jpg -1  1  1", b"000002.jpg -1  0  1"))
    with pytest.raises(DataError, match=r"line 4: Smiling is '0', expected -1 or 1"):
        celeba({"path": str(root)}, LOG)


@pytest.mark.realdata
def test_celeba_first_2000_greyscale_reproduce_the_reference(shared_datasets, geometry_fixtures, caplog):
    ref = np.load(geometry_fixtures / "celeba_89x109_first2000.npz")
    path = shared_datasets / "celeba_89x109"
    with caplog.at_level(logging.INFO):
        ds = celeba({"path": str(path), "n": 2000, "sample": "first", "grayscale": True}, LOG)
    check_dataset(ds)
    assert ds.arrays.shape == (2000, 1, 109, 89)
    assert list(ds.samples["id"]) == [str(v) for v in ref["image_names"]]
    u8 = _bytes(ds.arrays).reshape(2000, 109 * 89)
    np.testing.assert_array_equal(ds.arrays.reshape(2000, -1) * 255, u8.astype(np.float32))
    np.testing.assert_array_equal(u8.sum(axis=1, dtype=np.int64), ref["pixel_sum"])
    assert hashlib.sha256(np.ascontiguousarray(u8).tobytes()).hexdigest() == str(ref["pixels_uint8_sha256"])
    assert "read 2000/2000 images (100%)" in caplog.text and "(50%)" in caplog.text


@pytest.mark.realdata
def test_celeba_attribute_columns_of_the_first_10000(shared_datasets):
    path = shared_datasets / "celeba_89x109"
    ds = celeba({"path": str(path), "grayscale": True, "size": 8}, LOG)
    s = ds.samples
    assert len(s) == 10000 and ds.arrays.shape == (10000, 1, 8, 8)
    header = (path / "list_attr_celeba.txt").read_text().splitlines()[1].split()
    assert len(header) == 40 and list(s.columns) == ["id", "split", "partition", *header, "path"]
    assert s[header].dtypes.eq(bool).all()
    assert int(s["Male"].sum()) == 4217 and int(s["Smiling"].sum()) == 4822
    assert int(s["Young"].sum()) == 7771 and int(s["Eyeglasses"].sum()) == 674
    assert list(s.index[s["Male"].to_numpy()][:8] + 1) == [3, 7, 8, 12, 13, 15, 16, 20]
    assert (s["partition"] == "train").all() and (s["split"] == "train").all()

"""Embedded data sources: scikit-learn digits, scikit-image LFW subset and natural photographs."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import skimage.data
from PIL import Image
from sklearn.datasets import load_digits

from repgeo.data import DataError, check_dataset
from repgeo.data.embedded import NATURAL_IMAGES, lfw_faces, natural_images, sklearn_digits

LOG = logging.getLogger("repgeo.test")


def _photo(name: str, grayscale: bool) -> np.ndarray:
    """The photograph as uint8 H x W x C, converted by PIL independently of the source."""
    img = Image.fromarray(getattr(skimage.data, name)()).convert("L" if grayscale else "RGB")
    a = np.asarray(img)
    return a[:, :, None] if a.ndim == 2 else a


def test_digits_values_are_load_digits_over_16():
    ds = sklearn_digits({"source": "sklearn_digits"}, LOG)
    check_dataset(ds)
    digits = load_digits()
    assert ds.arrays.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(ds.arrays, (digits.data / 16).reshape(-1, 1, 8, 8).astype(np.float32))
    np.testing.assert_array_equal(ds.samples["label"], digits.target)
    assert ds.samples["id"].iloc[12] == "digit_0012"
    assert (ds.samples["split"] == "test").sum() == round(0.2 * 1797)


def test_digits_subset_is_seeded_and_ids_point_at_the_rows():
    data = load_digits().data
    a = sklearn_digits({"n": 100, "seed": 3}, LOG)
    b = sklearn_digits({"n": 100, "seed": 3}, LOG)
    c = sklearn_digits({"n": 100, "seed": 4}, LOG)
    assert len(a.samples) == 100
    assert a.samples.equals(b.samples) and np.array_equal(a.arrays, b.arrays)
    assert not a.samples["id"].equals(c.samples["id"])
    rows = a.samples["id"].str.removeprefix("digit_").astype(int).to_numpy()
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(a.arrays.reshape(100, 64), (data[rows] / 16).astype(np.float32))


def test_lfw_faces_only_keeps_the_first_100():
    ds = lfw_faces({"source": "lfw_faces"}, LOG)
    check_dataset(ds)
    ref = skimage.data.lfw_subset()
    assert ds.arrays.shape == (100, 1, 25, 25)
    np.testing.assert_array_equal(ds.arrays[:, 0], ref[:100].astype(np.float32))
    assert (ds.samples["label"] == 1).all() and ds.samples["face"].all()
    assert ds.samples["id"].iloc[7] == "face_007"
    assert (ds.samples["split"] == "test").sum() == 20


def test_lfw_all_labels_faces_and_non_faces():
    ds = lfw_faces({"faces_only": False, "seed": 1}, LOG)
    check_dataset(ds)
    ref = skimage.data.lfw_subset()
    np.testing.assert_array_equal(ds.arrays[:, 0], ref.astype(np.float32))
    np.testing.assert_array_equal(ds.samples["label"], np.repeat([1, 0], 100))
    np.testing.assert_array_equal(ds.samples["face"], np.repeat([True, False], 100))
    assert ds.samples["id"].iloc[100] == "nonface_000"
    assert (ds.samples["split"] == "test").sum() == 40
    # The faces are brighter on average than the background crops: a check that the halves differ.
    assert ds.arrays[:100].mean() > ds.arrays[100:].mean() + 0.1


@pytest.mark.parametrize("grayscale", [True, False])
def test_patches_equal_the_crops_of_the_source_photographs(grayscale):
    names = ["camera", "coffee", "coins"]
    ds = natural_images({"images": names, "n": 300, "patch_size": 8, "grayscale": grayscale, "seed": 5}, LOG)
    check_dataset(ds)
    assert ds.arrays.shape == (300, 1 if grayscale else 3, 8, 8)
    photos = {name: _photo(name, grayscale) for name in names}
    s = ds.samples
    assert list(s["label_name"]) == list(s["image"])
    np.testing.assert_array_equal(s["label"], [names.index(n) for n in s["image"]])
    for k, (name, r, c) in enumerate(zip(s["image"], s["row"], s["col"], strict=True)):
        crop = photos[name][r : r + 8, c : c + 8].transpose(2, 0, 1)
        np.testing.assert_array_equal(np.rint(ds.arrays[k] * 255).astype(np.uint8), crop)
    assert set(s["image"]) == set(names)


def test_rgb_patches_of_a_greyscale_photograph_replicate_the_channel():
    ds = natural_images({"images": ["camera"], "n": 20, "grayscale": False}, LOG)
    assert ds.arrays.shape == (20, 3, 8, 8)
    np.testing.assert_array_equal(ds.arrays[:, 1], ds.arrays[:, 0])
    np.testing.assert_array_equal(ds.arrays[:, 2], ds.arrays[:, 0])


def test_patch_images_are_drawn_in_proportion_to_their_positions():
    names, p, n = ["camera", "coins"], 16, 6000
    ds = natural_images({"images": names, "n": n, "patch_size": p, "seed": 2}, LOG)
    pos = np.array([(512 - p + 1) ** 2, (303 - p + 1) * (384 - p + 1)])
    expected = pos[0] / pos.sum()
    observed = (ds.samples["image"] == "camera").mean()
    assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    assert ds.samples["row"].max() <= 512 - p and ds.samples["col"].min() >= 0
    assert ds.info["positions"] == dict(zip(names, pos.tolist(), strict=True))


def test_patches_are_deterministic_per_seed():
    spec = {"images": ["brick", "grass"], "n": 200, "seed": 7}
    a, b = natural_images(spec, LOG), natural_images(spec, LOG)
    c = natural_images({**spec, "seed": 8}, LOG)
    assert a.samples.equals(b.samples) and np.array_equal(a.arrays, b.arrays)
    assert not a.samples[["row", "col"]].equals(c.samples[["row", "col"]])
    assert not np.array_equal(a.arrays, c.arrays)
    assert a.samples["id"].is_unique and a.samples["id"].iloc[0] == "patch_00000"


def test_whole_images_are_centre_cropped_squares_resized():
    spec = {"mode": "images", "images": ["coffee", "camera"], "size": 32, "grayscale": False}
    ds = natural_images(spec, LOG)
    check_dataset(ds)
    assert ds.arrays.shape == (2, 3, 32, 32)
    assert list(ds.samples["id"]) == ["coffee", "camera"] and list(ds.samples["label"]) == [0, 1]
    coffee = Image.fromarray(skimage.data.coffee())  # 600 wide x 400 high: the central 400 columns
    want = np.asarray(coffee.crop((100, 0, 500, 400)).resize((32, 32), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(np.rint(ds.arrays[0] * 255).astype(np.uint8), want.transpose(2, 0, 1))


def test_default_list_loads_every_bundled_photograph():
    ds = natural_images({"mode": "images", "size": 16}, LOG)
    check_dataset(ds)
    assert list(ds.samples["label_name"]) == list(NATURAL_IMAGES)
    assert ds.arrays.shape == (len(NATURAL_IMAGES), 1, 16, 16)
    assert len(NATURAL_IMAGES) == 15 and "page" not in NATURAL_IMAGES


def test_unknown_image_name_lists_the_valid_names():
    with pytest.raises(DataError, match=r"unknown image\(s\) \['lena'\].*astronaut, camera"):
        natural_images({"images": ["camera", "lena"]}, LOG)


def test_patch_larger_than_every_image_is_an_error():
    with pytest.raises(DataError, match="patch_size 600 is larger than every image"):
        natural_images({"images": ["coins"], "patch_size": 600}, LOG)

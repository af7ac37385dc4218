"""Bad values are refused at start, before any job, with a message that names the key and the fix.

NaN and infinity at any numeric key (property-based over the default config), column names a
dataset will not have, counts the data cannot satisfy, YAML syntax errors, empty entries, unknown
external architectures; and the data-side checks that cannot run at start: MNIST splits of two
image sizes, weight files that are pickles, images of more than 8 bits per pixel.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from repgeo.config import ConfigError, check_config, load_schema, main, read_config_file, validate
from repgeo.data import DataError, load_dataset
from repgeo.data.preview import dataset_columns, dataset_size, split_size
from workflow_helpers import ENTRY_SECTIONS

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
LOG = logging.getLogger("repgeo.test")
DIGITS = {"x": {"source": "sklearn_digits"}}


def _problems(config, base: Path | str = REPO) -> list[str]:
    with pytest.raises(ConfigError) as err:
        check_config(config, SCHEMA, base)
    return err.value.problems


def _dotted(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (("." if i else "") + str(p)) for i, p in enumerate(path))


def _numeric_paths(value, path=()):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numeric_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numeric_paths(v, (*path, i))


def _set(config, path, value):
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


# Every numeric key of the default run, with the schema's defaults filled in (so keys the file
# leaves out are covered too).
FILLED = check_config(DEFAULT, SCHEMA, REPO)
NUMERIC_PATHS = sorted(_numeric_paths(FILLED), key=str)


# --------------------------------------------------------------------------------------------
# NaN and infinity


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(NUMERIC_PATHS), value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_nan_or_infinity_at_any_numeric_key_is_refused_by_name(path, value):
    cfg = copy.deepcopy(FILLED)
    _set(cfg, path, value)
    problems = _problems(cfg)
    # One line, for that key (the schema's own "expected integer, got nan" is not repeated).
    assert len(problems) == 1, problems
    spelled = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    assert problems[0].startswith(f"{_dotted(path)}: {spelled} is not a finite number; give a finite value")


def test_nan_at_every_numeric_key_at_once_gives_one_line_per_key():
    # The walk covers every section of the default run, defaults included.
    assert {p[0] for p in NUMERIC_PATHS} >= set(ENTRY_SECTIONS)
    assert len(NUMERIC_PATHS) > 200
    cfg = copy.deepcopy(FILLED)
    for path in NUMERIC_PATHS:
        _set(cfg, path, math.nan)
    with pytest.raises(ConfigError) as err:
        validate(cfg, SCHEMA)
    assert sorted(p.split(":")[0] for p in err.value.problems) == sorted(_dotted(p) for p in NUMERIC_PATHS)


@pytest.mark.parametrize(
    "yaml_text,key",
    [
        ("diffusion: {d: {dataset: x, t: .nan}}", "diffusion.d.t: .nan"),  # wrote an all-NaN embedding
        ("diffusion: {d: {dataset: x, t: .inf}}", "diffusion.d.t: .inf"),  # all-zero coordinates
        ("diffusion: {d: {dataset: x, epsilon: .inf}}", "diffusion.d.epsilon: .inf"),  # eigenvalues 1e-16
        ("diffusion: {d: {dataset: x, alpha: -.inf}}", "diffusion.d.alpha: -.inf"),
        ("datasets: {x: {source: manifold, manifold: torus, noise: .nan}}", "datasets.x.noise: .nan"),  # no noise
        ("datasets: {x: {source: manifold, manifold: ellipsoid, axes: [1, .inf, 1]}}", "datasets.x.axes[1]: .inf"),
    ],
)
def test_the_reported_non_finite_values_are_refused(tmp_path, yaml_text, key):
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml_text + "\n" + ("" if yaml_text.startswith("datasets") else "datasets: {x: {source: sklearn_digits}}\n")
    )
    problems = _problems(read_config_file(path))
    assert problems == [
        f"{key} is not a finite number; give a finite value (NaN and infinity are refused for every key)"
    ]


# --------------------------------------------------------------------------------------------
# Column names


def _image_npz(path: Path, train_shape, test_shape, **extra) -> Path:
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, train_shape).astype(np.uint8),
        y_train=rng.integers(0, 10, train_shape[0]),
        x_test=rng.integers(0, 256, test_shape).astype(np.uint8),
        y_test=rng.integers(0, 10, test_shape[0]),
        **extra,
    )
    return path


def _celeba(root: Path, attrs=("Male", "Smiling", "Young")) -> Path:
    (root / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = ["4", " ".join(attrs)]
    for i in range(1, 5):
        name = f"{i:06d}.jpg"
        Image.fromarray(rng.integers(0, 256, (10, 8, 3)).astype(np.uint8)).save(root / "img_align_celeba" / name)
        lines.append(name + " " + " ".join(rng.choice(["1", "-1"], len(attrs))))
    (root / "list_attr_celeba.txt").write_text("\r\n".join(lines) + "\r\n")
    return root


def _fsdd(root: Path) -> Path:
    import soundfile

    (root / "recordings").mkdir(parents=True)
    t = np.arange(2000) / 8000
    for digit in (0, 1):
        for speaker in ("ann", "bob"):
            for index in range(6):
                soundfile.write(
                    root / "recordings" / f"{digit}_{speaker}_{index}.wav",
                    0.5 * np.sin(2 * np.pi * 440 * t),
                    8000,
                    subtype="PCM_16",
                )
    return root


def _image_folder(root: Path) -> Path:
    for k, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((9, 7, 3), 40 * k + i, np.uint8)).save(root / name / f"{i}.png")
    return root


def _timit(tmp_path: Path) -> Path:
    from test_data_audio import _timit_folder  # a TIMIT-shaped corpus (NIST SPHERE, .WRD, .PHN)

    return _timit_folder(tmp_path)


def _spec_of(spec: dict, tmp_path: Path) -> dict:
    """A source's spec that needs no files (the ``tmp_path`` argument of the SOURCES makers)."""
    return dict(spec)


SOURCES = {
    "sklearn_digits": lambda tmp: {"source": "sklearn_digits", "n": 50},
    "lfw_faces": lambda tmp: {"source": "lfw_faces"},
    "lfw_faces_all": lambda tmp: {"source": "lfw_faces", "faces_only": False},
    "natural_patches": lambda tmp: {
        "source": "natural_images",
        "n": 30,
        "patch_size": 4,
        "images": ["camera", "coins"],
    },
    "natural_images": lambda tmp: {
        "source": "natural_images",
        "mode": "images",
        "size": 8,
        "images": ["camera", "coins", "moon"],
    },
    **{
        f"manifold_{m}": functools.partial(_spec_of, {"source": "manifold", "manifold": m, "n": 40})
        for m in ("sphere", "torus", "flat_square", "saddle", "hyperboloid", "ellipsoid", "swiss_roll")
    },
    "manifold_sphere3": lambda tmp: {"source": "manifold", "manifold": "sphere", "dim": 3, "n": 40},
    **{
        f"dse_toy_{f}": functools.partial(
            _spec_of, {"source": "dse_toy", "family": f, "n": 43, "ambient_dim": 12, "dim": 3, "branches": 4}
        )
        for f in ("uniform", "gaussian", "tree", "blobs")
    },
    "mnist": lambda tmp: {
        "source": "mnist",
        "path": str(_image_npz(tmp / "mnist.npz", (6, 28, 28), (4, 28, 28))),
        "n": 7,
    },
    "cifar10": lambda tmp: {
        "source": "cifar10",
        "path": str(_image_npz(tmp / "cifar.npz", (5, 32, 32, 3), (3, 32, 32, 3))),
    },
    "olivetti": lambda tmp: {
        "source": "olivetti",
        "path": str(_olivetti(tmp / "olivetti.npz")),
        "n": 8,
        "sample": "first",
    },
    "image_folder": lambda tmp: {
        "source": "image_folder",
        "path": str(_image_folder(tmp / "folder")),
        "size": 6,
        "n": 3,
        "test_fraction": 0.5,
    },
    "celeba": lambda tmp: {
        "source": "celeba",
        "path": str(_celeba(tmp / "celeba")),
        "n": 3,
        "split": "random",
        "test_fraction": 0.34,
    },
    "array": lambda tmp: {"source": "array", **_array_files(tmp)},
    "array_subset": lambda tmp: {"source": "array", **_array_files(tmp), "n": 7, "test_fraction": 0.3},
    "spoken_words": lambda tmp: {"source": "spoken_words", "words": ["ask", "wash"], "tokens_per_word": 2},
    "fsdd": lambda tmp: {"source": "fsdd", "path": str(_fsdd(tmp / "fsdd"))},
    "timit": lambda tmp: {"source": "timit", "path": str(_timit(tmp)), "words": ["ask", "wash"]},
}


def _array_files(tmp: Path) -> dict:
    """An .npy of 12 points and a metadata table with ids, a split, a label and attributes."""
    np.save(tmp / "points.npy", np.random.default_rng(4).standard_normal((12, 3)))
    pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(12)],
            "split": ["test" if i % 4 == 0 else "train" for i in range(12)],
            "label": np.arange(12) % 2,
            "note": [f"n{i}" for i in range(12)],
            "flag": np.arange(12) > 5,
        }
    ).to_csv(tmp / "points.csv", index=False)
    return {"path": str(tmp / "points.npy"), "metadata": str(tmp / "points.csv")}


def _olivetti(path: Path) -> Path:
    rng = np.random.default_rng(2)
    np.savez(path, images=rng.integers(0, 256, (12, 64, 64)).astype(np.uint8), target=np.repeat(np.arange(3), 4))
    return path


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "float"
    first = series.iloc[0]
    if isinstance(first, (list, tuple, np.ndarray)):
        return "list"
    return "string" if isinstance(first, str) else type(first).__name__


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_preview_knows_every_source_s_columns_and_size(tmp_path, source):
    """dataset_columns / dataset_size / split_size agree with the prepared dataset, source by
    source, so the start checks and the sources cannot drift apart."""
    spec = SOURCES[source](tmp_path)
    samples = load_dataset(spec, LOG).samples
    assert dataset_columns(spec) == {c: _kind(samples[c]) for c in samples.columns}
    size = dataset_size(spec)
    assert size in (None, len(samples))
    for split in ("train", "test"):
        assert split_size(spec, split) in (None, int((samples["split"] == split).sum()))
    # Sources not read from files (and file sources given n) know their size from the config.
    if source not in ("cifar10", "fsdd", "timit"):
        assert size == len(samples)


def test_celeba_columns_are_read_from_the_attribute_file(tmp_path):
    spec = {"source": "celeba", "path": str(_celeba(tmp_path / "celeba", attrs=("Bald", "Eyeglasses")))}
    assert [c for c, k in dataset_columns(spec).items() if k == "boolean"] == ["Bald", "Eyeglasses"]
    assert dataset_columns({"source": "celeba", "path": str(tmp_path / "nowhere")}) is None


# (case, entries replacing those of the default config, the one problem expected)
COLUMN_CASES = [
    (
        "diffusion",
        {"diffusion": {"torus": {"dataset": "torus", "color_by": "true_scalar_curvatur"}}},
        "diffusion.torus.color_by: 'true_scalar_curvatur' is not a column of dataset 'torus'; did you mean 'true_scalar_curvature'?",
    ),
    (
        "diffusion dc",
        {"diffusion": {"torus": {"dataset": "torus", "n_components": 3, "color_by": "dc4"}}},
        "diffusion.torus.color_by: 'dc4' is not a column of dataset 'torus'",
    ),
    (
        "geometry attributes",
        {"geometry": {"lfw_seed": {"diffusion": "lfw_seed", "attributes": ["fase"]}}},
        "geometry.lfw_seed.attributes: ['fase'] are not columns of dataset 'lfw' (did you mean 'fase' -> 'face'?)",
    ),
    (
        "geometry not binary",
        {"geometry": {"torus": {"dataset": "torus", "attributes": ["theta"]}}},
        "geometry.torus.attributes: theta (float) are not binary columns",
    ),
    (
        "geometry coordinates",
        {"geometry": {"lfw_seed": {"diffusion": "lfw_seed", "coordinates": ["dc1", "dc6"]}}},
        "geometry.lfw_seed.coordinates: ['dc6'] are not coordinates of diffusion run 'lfw_seed', which has dc1, dc2, dc3, dc4, dc5",
    ),
    (
        "training label",
        {"training": {"digits": {"dataset": "digits", "label": "lable"}}},
        "training.digits.label: 'lable' is not a column of dataset 'digits'; did you mean 'label'?",
    ),
    (
        "training on a manifold",
        {"training": {"digits": {"dataset": "torus"}}},
        "training.digits.label: 'label' is not a column of dataset 'torus'",
    ),
    (
        "entropy_zoo label kind",
        {"entropy_zoo": {"digits": {"dataset": "natural_rgb32", "label": "label_name"}}},
        "entropy_zoo.digits.label: column 'label_name' of dataset 'natural_rgb32' holds string values, not integer class labels",
    ),
    (
        "generative feature_net label",
        {"generative": {"digits": {"dataset": "digits", "feature_net": {"label": "digit"}}}},
        "generative.digits.feature_net.label: 'digit' is not a column of dataset 'digits'",
    ),
    (
        "inversion label",
        {"inversion": {"natural": {"dataset": "natural_rgb32", "label": "photo"}}},
        "inversion.natural.label: 'photo' is not a column of dataset 'natural_rgb32'",
    ),
    (
        "audio label",
        {"audio": {"spoken_words": {"dataset": "spoken_words", "label": "words"}}},
        "audio.spoken_words.label: 'words' is not a column of dataset 'spoken_words'; did you mean 'word'?",
    ),
]


@pytest.mark.parametrize("case,change,expected", COLUMN_CASES, ids=[c[0].replace(" ", "_") for c in COLUMN_CASES])
def test_a_column_the_dataset_will_not_have_is_refused_at_start(case, change, expected):
    cfg = copy.deepcopy(DEFAULT)
    for top, entries in change.items():
        for name, entry in entries.items():
            cfg[top][name] = {**cfg[top].get(name, {}), **entry}
    problems = _problems(cfg)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_celeba_attribute_typo_is_refused_at_start(tmp_path):
    root = _celeba(tmp_path / "celeba")
    cfg = {
        "datasets": {"celeba": {"source": "celeba", "path": str(root)}},
        "generative": {"faces": {"dataset": "celeba", "feature_net": {"label": "Mael"}}},
        "diffusion": {"faces": {"dataset": "celeba", "n": 3, "n_components": 2, "color_by": "Smilling"}},
    }
    problems = _problems(cfg, tmp_path)
    assert any(
        p.startswith(
            "generative.faces.feature_net.label: 'Mael' is not a column of dataset 'celeba'; did you mean 'Male'?"
        )
        for p in problems
    ), problems
    assert any(
        p.startswith(
            "diffusion.faces.color_by: 'Smilling' is not a column of dataset 'celeba'; did you mean 'Smiling'?"
        )
        for p in problems
    ), problems
    assert len(problems) == 2


def test_the_phone_contrast_needs_a_source_with_sibilants(tmp_path):
    root = _fsdd(tmp_path / "fsdd")
    cfg = {
        "datasets": {"fsdd": {"source": "fsdd", "path": str(root)}},
        "audio": {"a": {"dataset": "fsdd", "label": "digit"}},
    }
    problems = _problems(cfg, tmp_path)
    assert problems == [
        "audio.a.contrast.enabled: the phone contrast needs the columns sibilant, sibilant_start, sibilant_end, "
        "which dataset 'fsdd' (fsdd) does not have; set contrast.enabled: false"
    ]
    cfg["audio"]["a"]["contrast"] = {"enabled": False}
    check_config(cfg, SCHEMA, tmp_path)


# --------------------------------------------------------------------------------------------
# Counts


def test_more_diffusion_coordinates_than_points_allow():
    cfg = {
        "datasets": {"t": {"source": "manifold", "manifold": "torus", "n": 5}},
        "diffusion": {"d": {"dataset": "t", "n_components": 5}},
    }
    assert _problems(cfg) == [
        "diffusion.d.n_components: 5 coordinates, but 5 points (split all of dataset 't') give at most 4; lower n_components to at most 4 or use more points"
    ]
    cfg["diffusion"]["d"]["convention"] = "celeba"  # keeps the trivial eigenvector: 5 of 5 is fine
    check_config(cfg, SCHEMA, REPO)
    cfg = {"datasets": DIGITS, "diffusion": {"d": {"dataset": "x", "split": "test", "n": 400}}}
    assert _problems(cfg) == [
        "diffusion.d.n: 400 points requested but split test of dataset 'x' has 359; lower n (at most 359) or set it to null for all"
    ]


def test_geometry_on_fewer_points_than_its_neighbourhoods():
    # Today: "k_ep = 8 needs at least 8 neighbours, the graph has 3" in the dimension job.
    cfg = {
        "datasets": {"t": {"source": "manifold", "manifold": "torus", "n": 3}},
        "geometry": {"g": {"dataset": "t", "mode": "parity", "k": 8}},
    }
    assert _problems(cfg) == [
        "geometry.g.dataset: the geometry gets 3 points (split all of dataset 't'), but its operator needs at least 8 (k >= 8 neighbours); give it more points"
    ]
    cfg["datasets"]["t"]["n"] = 40
    cfg["geometry"]["g"].update(mode="improved", k=48, improved={"k_dimension": 16})
    problems = _problems(cfg)
    assert [p.split(":")[0] for p in problems] == ["geometry.g.k", "geometry.g.improved.k_fit"]
    assert problems[1].startswith(
        "geometry.g.improved.k_fit: 128 neighbours per point (the default), but the geometry gets only 40 points"
    )
    assert "set improved.k_fit to at most 40" in problems[1]
    # On a diffusion run: its points count.
    cfg = {
        "datasets": DIGITS,
        "diffusion": {"d": {"dataset": "x", "n": 20}},
        "geometry": {"g": {"diffusion": "d", "mode": "parity"}},
    }
    assert [p.split(":")[0] for p in _problems(cfg)] == ["geometry.g.k"]


def test_more_digits_than_scikit_learn_has():
    assert _problems({"datasets": {"x": {"source": "sklearn_digits", "n": 1800}}}) == [
        "datasets.x.n: 1800 digits requested but sklearn_digits has 1797; lower n, or set it to null for all"
    ]


# --------------------------------------------------------------------------------------------
# Config files and entries


BROKEN = "datasets:\n  x:\n    source: sklearn_digits\n  y: [1, 2\ndiffusion: {}\n"


def test_a_yaml_syntax_error_names_line_and_column(tmp_path, capsys):
    path = tmp_path / "my.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as err:
        read_config_file(path)
    assert err.value.problems == [
        f"{path}, line 5, column 10: YAML syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence that begins at line 4, column 6); fix the file there"
    ]
    # The command-line check reports the same, for files given to snakemake --configfile.
    path.write_text("datasets:\n\tx: {source: sklearn_digits}\n")
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert (
        f"{path}, line 2, column 1: YAML syntax error: found character '\\t' that cannot start any token; YAML indents with spaces only, replace the tab"
        in err
    )
    path.write_text("datasets: {x: {source: sklearn_digits}}\n")
    assert main([str(path)]) == 0


@pytest.mark.workflow
def test_the_workflow_names_line_and_column_of_a_broken_config_yaml(tmp_path):
    """Snakemake's own reader says only "Config file is not valid JSON or YAML"."""
    from workflow_helpers import local_env

    (tmp_path / "config.yaml").write_text(BROKEN)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=local_env())
    assert proc.returncode != 0
    assert "config.yaml, line 5, column 10: YAML syntax error" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "config,expected",
    [
        (
            {"datasets": {"x": None}},
            "datasets.x: is empty (null) but must hold settings (at least source); write them under it, or remove the key",
        ),
        (
            {"datasets": DIGITS, "diffusion": {"d": None}},
            "diffusion.d: is empty (null) but must hold settings (at least dataset); write them under it, or remove the key",
        ),
    ],
)
def test_an_empty_entry_is_one_plain_line(config, expected):
    assert _problems(config) == [expected]


def test_an_unknown_external_architecture_is_refused_at_start(tmp_path):
    weights = tmp_path / "w.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, weights)
    cfg = {
        "datasets": DIGITS,
        "entropy_zoo": {
            "z": {"dataset": "x", "external": [{"name": "r", "arch": "resnet19", "state_dict": str(weights)}]}
        },
    }
    (problem,) = _problems(cfg, tmp_path)
    assert problem.startswith(
        "entropy_zoo.z.external[0].arch: 'resnet19' is not a torchvision classification architecture; did you mean 'resnet18'"
    )
    assert "choose one of: alexnet" in problem and "fasterrcnn" not in problem


# --------------------------------------------------------------------------------------------
# Data read by jobs


def test_mnist_splits_of_two_image_sizes_are_named(tmp_path):
    path = _image_npz(tmp_path / "mnist.npz", (5, 28, 28), (3, 32, 32))
    with pytest.raises(
        DataError,
        match=r"mnist: the train images are 28x28 .* but the test images are 32x32 .*both splits must hold images of one size",
    ):
        load_dataset({"source": "mnist", "path": str(path)}, LOG)


def _advice_to_unpickle(message: str) -> bool:
    return "weights_only=False" in message or "set to `False`" in message or "weights_only` argument" in message


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_a_pickled_weights_file_is_named_without_advice_to_unpickle_it(tmp_path):
    from repgeo.generative.quality import inception_feature_net
    from repgeo.inversion.networks import load_network
    from repgeo.training.external import load_torchvision_model

    plain = tmp_path / "weights.pkl"
    with open(plain, "wb") as fh:
        pickle.dump({"fc.weight": np.zeros((2, 2))}, fh, protocol=4)
    with pytest.raises(ValueError) as err:
        load_torchvision_model("resnet18", plain)
    msg = str(err.value)
    assert "is a plain pickle file (written by pickle.dump?), not a state dict written by torch.save" in msg
    assert "torch.save(model.state_dict(), 'weights.pkl')" in msg and not _advice_to_unpickle(msg)
    module = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), module)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    for path in (plain, module, junk):
        for load in (lambda p: load_torchvision_model("resnet18", p), inception_feature_net, load_network):
            with pytest.raises(ValueError) as err:
                load(path)
            msg = str(err.value)
            assert str(path) in msg and not _advice_to_unpickle(msg), msg
            assert ("plain pickle file (written by pickle.dump?)" in msg) == (path == plain), msg


# --------------------------------------------------------------------------------------------
# Images of more than 8 bits per pixel, alpha, palettes


def test_images_of_more_than_8_bits_are_scaled_by_their_bit_depth(tmp_path):
    from repgeo.data.images import image_folder

    root = tmp_path / "images"
    (root / "a").mkdir(parents=True)
    ramp16 = (np.arange(48, dtype=np.uint32).reshape(6, 8) * 1365).astype(np.uint16)  # 0 .. 64155
    Image.fromarray(ramp16).save(root / "a" / "p16.png")  # mode I;16
    Image.fromarray(ramp16).save(root / "a" / "t16.tif")  # mode I;16
    ramp32 = (ramp16.astype(np.int64) * 32768).astype(np.int32)  # up to 2.1e9
    Image.fromarray(ramp32).save(root / "a" / "t32.tif")  # mode I, signed 32 bits per sample
    Image.fromarray((ramp16 / 65535).astype(np.float32)).save(root / "a" / "tf.tif")  # mode F in [0, 1]
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0  # fully transparent red: alpha is dropped, the colour kept
    Image.fromarray(rgba).save(root / "a" / "rgba.png")
    palette = Image.fromarray(np.zeros((6, 8), np.uint8), mode="P")
    palette.putpalette([10, 20, 30] + [0] * 765)
    palette.save(root / "a" / "pal.png")
    spec = {"source": "image_folder", "path": str(root), "size": [6, 8], "sample": "first", "test_fraction": 0}
    ds = image_folder({**spec, "grayscale": True}, LOG)
    got = dict(zip(ds.samples["id"], ds.arrays, strict=True))
    expected = ramp16 / 65535
    for name in ("a/p16.png", "a/t16.tif", "a/tf.tif"):
        np.testing.assert_allclose(got[name][0], expected, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(got["a/t32.tif"][0], ramp32 / (2**31 - 1), atol=1e-7)
    assert got["a/p16.png"].max() < 1 and got["a/p16.png"][0, 0, 1] > 0  # not every pixel 1.0
    rgb = image_folder({**spec, "grayscale": False}, LOG)
    got_rgb = dict(zip(rgb.samples["id"], rgb.arrays, strict=True))
    assert rgb.arrays.shape == (6, 3, 6, 8)
    np.testing.assert_allclose(got_rgb["a/p16.png"], np.repeat(expected[None], 3, axis=0), atol=1e-7)
    np.testing.assert_array_equal(np.round(got_rgb["a/rgba.png"][:, 0, 0] * 255), [200, 0, 0])
    np.testing.assert_array_equal(np.round(got_rgb["a/pal.png"][:, 0, 0] * 255), [10, 20, 30])


def test_out_of_range_wide_images_are_unreadable_with_the_reason(tmp_path):
    from repgeo.data import BadFilesError
    from repgeo.data.images import image_folder

    root = tmp_path / "images"
    (root / "a").mkdir(parents=True)
    Image.fromarray(np.full((4, 4), 3.5, np.float32)).save(root / "a" / "f.tif")
    Image.fromarray(np.full((4, 4), -5, np.int32)).save(root / "a" / "neg.tif")
    with pytest.raises(BadFilesError) as err:
        image_folder({"source": "image_folder", "path": str(root), "size": 4}, LOG)
    reasons = dict(err.value.bad)
    assert re.search(r"32-bit float pixels range 3.5..3.5, outside \[0, 1\]", reasons["a/f.tif"])
    assert (
        "I pixels range -5..-5, outside 0..2147483647 of signed 32 bits per sample; save unsigned 8- or 16-bit images"
        in reasons["a/neg.tif"]
    )


def test_every_registered_source_can_be_configured():
    """The schema's ``source`` enum is the data registry (``timit`` was registered but refused)."""
    import yaml as _yaml

    from repgeo.data import SOURCES, _load_sources

    _load_sources()

    schema = _yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    enum = set(schema["$defs"]["dataset"]["properties"]["source"]["enum"])
    assert enum == set(SOURCES)

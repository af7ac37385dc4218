"""Source ``array``: the user's own N x D matrix (.npy, .npz, .parquet, .csv, torch tensor files)
with an optional metadata table, its checks at preparation and at start, and (slow) a workflow
run on the flat torus S^1 x S^1 in R^4."""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from repgeo import io
from repgeo.config import ConfigError, check_config, load_schema
from repgeo.data import DataError, load_dataset
from repgeo.data.preview import dataset_columns, dataset_size, split_size

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
LOG = logging.getLogger("repgeo.test")
N, D = 30, 4


def _x(n: int = N, d: int = D) -> np.ndarray:
    # float64 values that float32 cannot hold exactly: the round trip is float64 -> float32.
    return np.random.default_rng(3).standard_normal((n, d)) * 10.0 ** np.arange(d)


def _write(path: Path, x: np.ndarray, names: list[str] | None = None) -> Path:
    """``x`` in the format of ``path``'s extension (as a user would write it)."""
    names = names or [f"f{j}" for j in range(x.shape[1])]
    suffix = path.suffix
    if suffix == ".npy":
        np.save(path, x)
    elif suffix == ".npz":
        np.savez(path, points=x, other=np.zeros(3))
    elif suffix == ".csv":
        pd.DataFrame(x, columns=names).to_csv(path, index=False)
    elif suffix == ".parquet":
        pd.DataFrame(x, columns=names).to_parquet(path)
    else:
        torch.save(torch.from_numpy(x), path)
    return path


def _load(path: Path, **keys) -> object:
    return load_dataset({"source": "array", "path": str(path), **keys}, LOG)


def _message(path_or_spec, **keys) -> str:
    spec = path_or_spec if isinstance(path_or_spec, dict) else {"source": "array", "path": str(path_or_spec), **keys}
    with pytest.raises(DataError) as err:
        load_dataset(spec, LOG)
    return str(err.value)


def _meta(tmp_path: Path, n: int = N, name: str = "meta.csv", **columns) -> Path:
    table = pd.DataFrame(
        {
            "id": [f"pt{i:03d}" for i in range(n)],
            "split": ["test" if i % 3 == 0 else "train" for i in range(n)],
            "weight": np.linspace(0.0, 1.0, n),
            "label": np.arange(n) % 3,
            "big": np.arange(n) >= n // 2,
            "group": [f"g{i % 2}" for i in range(n)],
        }
    )
    for key, value in columns.items():
        if value is None:
            table = table.drop(columns=key)
        else:
            table[key] = value
    path = tmp_path / name
    table.to_csv(path, index=False) if path.suffix == ".csv" else table.to_parquet(path)
    return path


# --- formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".parquet", ".pt", ".pth"])
def test_every_format_round_trips_exactly(tmp_path, suffix):
    x = _x()
    path = _write(tmp_path / f"x{suffix}", x)
    ds = _load(path, key="points" if suffix == ".npz" else None)
    assert ds.arrays.dtype == np.float32 and ds.arrays.flags.c_contiguous
    np.testing.assert_array_equal(ds.arrays, x.astype(np.float32))
    assert ds.samples["id"].tolist() == [str(i) for i in range(N)]
    # No metadata: the seeded random split of test_fraction (default 0.2) of the rows.
    assert (ds.samples["split"] == "test").sum() == round(0.2 * N)
    assert list(ds.samples.columns) == ["id", "split"]
    assert ds.info["format"] == {".pt": "torch", ".pth": "torch"}.get(suffix, suffix[1:])


def test_integer_boolean_and_half_inputs_become_float32(tmp_path):
    ints = np.arange(12, dtype=np.int64).reshape(4, 3)
    np.save(tmp_path / "i.npy", ints)
    np.testing.assert_array_equal(_load(tmp_path / "i.npy").arrays, ints.astype(np.float32))
    torch.save(torch.ones(5, 2, dtype=torch.bfloat16), tmp_path / "h.pt")
    np.testing.assert_array_equal(_load(tmp_path / "h.pt").arrays, np.ones((5, 2), np.float32))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_take_the_named_columns_in_order_or_every_number_column(tmp_path, suffix):
    x = _x()
    table = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(name=[f"n{i}" for i in range(N)], flag=True)
    path = tmp_path / f"t{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)
    ds = _load(path, columns=["c", "a"])
    np.testing.assert_array_equal(ds.arrays, x[:, [2, 0]].astype(np.float32))
    assert ds.info["columns"] == ["c", "a"]
    # null: the integer and float columns; text and boolean columns are left out
    ds = _load(path)
    np.testing.assert_array_equal(ds.arrays, x.astype(np.float32))
    assert ds.info["columns"] == ["a", "b", "c", "d"]
    msg = _message(path, columns=["a", "zz"])
    assert "no column(s) ['zz']" in msg and "fix columns" in msg
    assert "name (" in _message(path, columns=["a", "name"])  # a text column named in columns


def test_npz_needs_the_key_of_an_array_it_holds(tmp_path):
    x = _x()
    path = _write(tmp_path / "x.npz", x)
    np.testing.assert_array_equal(_load(path, key="points").arrays, x.astype(np.float32))
    msg = _message(path)
    assert "name its N x D array with key" in msg and "'points'" in msg and "'other'" in msg
    msg = _message(path, key="pts")
    assert "no array 'pts'" in msg and "'points'" in msg
    # other's 1-D array is refused as not N x D
    assert "is 1-D" in _message(path, key="other")


# --- metadata --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["meta.csv", "meta.parquet"])
def test_metadata_gives_ids_split_label_and_attributes(tmp_path, name):
    x = _x()
    meta = _meta(tmp_path, name=name)
    ds = _load(_write(tmp_path / "x.npy", x), metadata=str(meta), test_fraction=0.5)
    s = ds.samples
    assert list(s.columns) == ["id", "split", "label", "weight", "big", "group"]
    assert s["id"].tolist() == [f"pt{i:03d}" for i in range(N)]
    # the metadata's split, as given (test_fraction is not used)
    assert s["split"].tolist() == ["test" if i % 3 == 0 else "train" for i in range(N)]
    assert ds.info["split"] == "metadata"
    assert s["label"].tolist() == list(np.arange(N) % 3) and s["label"].dtype == np.int64
    assert s["big"].dtype == bool and s["weight"].dtype == np.float64
    np.testing.assert_array_equal(ds.arrays, x.astype(np.float32))


def test_metadata_without_split_or_id_falls_back_to_the_defaults(tmp_path):
    meta = _meta(tmp_path, id=None, split=None)
    ds = _load(_write(tmp_path / "x.npy", _x()), metadata=str(meta))
    assert ds.samples["id"].tolist() == [str(i) for i in range(N)]
    assert (ds.samples["split"] == "test").sum() == round(0.2 * N) and ds.info["split"] == "random"
    # CSV ids are read as text: leading zeros stay
    meta = _meta(tmp_path, id=[f"{i:03d}" for i in range(N)])
    assert _load(tmp_path / "x.npy", metadata=str(meta)).samples["id"].iloc[7] == "007"


def test_metadata_that_does_not_fit_is_named(tmp_path):
    path = _write(tmp_path / "x.npy", _x())
    msg = _message(path, metadata=str(_meta(tmp_path, n=N - 1)))
    assert f"has {N - 1} rows but the array has {N}" in msg and "one row per array row" in msg
    ids = [f"pt{i:03d}" for i in range(N)]
    ids[5] = ids[9] = "pt000"
    msg = _message(path, metadata=str(_meta(tmp_path, id=ids)))
    assert "repeats 1 id(s): 'pt000' (rows 0, 5, 9)" in msg and "unique" in msg
    split = ["train"] * N
    split[4], split[8] = "valid", "Test"
    msg = _message(path, metadata=str(_meta(tmp_path, split=split)))
    assert "'valid' (row 4)" in msg and "'Test' (row 8)" in msg and "drop the split column" in msg
    split[4], split[8] = "train", None
    assert "empty (row 8)" in _message(path, metadata=str(_meta(tmp_path, split=split)))
    assert "does not exist" in _message(path, metadata=str(tmp_path / "nowhere.csv"))
    (tmp_path / "meta.txt").write_text("id\n")
    assert "give a .parquet or .csv table" in _message(path, metadata=str(tmp_path / "meta.txt"))


def test_rows_with_nan_or_infinity_are_named_never_dropped(tmp_path):
    x = _x()
    x[3, 1] = np.nan
    x[17, 0] = np.inf
    x[20, 2] = 1e39  # beyond float32: infinite once stored
    path = _write(tmp_path / "x.npy", x)
    msg = _message(path)
    assert "3 of the 30 rows" in msg and "row 3, row 17, row 20" in msg and "drops no rows silently" in msg
    msg = _message(path, metadata=str(_meta(tmp_path)))
    assert "id 'pt003' (row 3), id 'pt017' (row 17), id 'pt020' (row 20)" in msg
    # also when n would leave them out: every row is checked before the subset
    assert "3 of the 30 rows" in _message(path, n=5, sample="first")
    # empty CSV cells are NaN too
    table = pd.DataFrame(_x(), columns=list("abcd"))
    table.loc[6, "b"] = None
    table.to_csv(tmp_path / "t.csv", index=False)
    assert "row 6" in _message(tmp_path / "t.csv")


# --- refused files ---------------------------------------------------------------------------------


class _Custom:
    """An object only pickle can store."""

    def __init__(self):
        self.x = torch.zeros(3, 2)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_torch_files_must_hold_one_2d_tensor_readable_with_weights_only(tmp_path):
    torch.save(torch.zeros(4, 2, 3), tmp_path / "cube.pt")
    assert "has shape (4, 2, 3)" in _message(tmp_path / "cube.pt")
    torch.save(torch.zeros(7), tmp_path / "line.pt")
    assert "is 1-D" in _message(tmp_path / "line.pt") and "reshape(-1, 1)" in _message(tmp_path / "line.pt")
    torch.save({"x": torch.zeros(3, 2)}, tmp_path / "dict.pt")
    assert "holds a dict with keys ['x'], not a tensor" in _message(tmp_path / "dict.pt")
    torch.save(_Custom(), tmp_path / "object.pt")
    msg = _message(tmp_path / "object.pt")
    assert "cannot be read by torch.load(weights_only=True)" in msg and "torch.save(x, path)" in msg
    assert "weights_only=False" not in msg
    with open(tmp_path / "plain.pt", "wb") as fh:
        pickle.dump(np.zeros((3, 2)), fh, protocol=4)
    msg = _message(tmp_path / "plain.pt")
    assert "plain pickle file" in msg and "weights_only=False" not in msg


def test_other_files_are_refused_with_the_fix(tmp_path):
    (tmp_path / "x.txt").write_text("1 2\n3 4\n")
    msg = _message(tmp_path / "x.txt")
    assert "extension '.txt'" in msg and ".npy" in msg and "np.save" in msg
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    assert "dtype <U1" in _message(tmp_path / "text.npy")
    np.save(tmp_path / "complex.npy", np.ones((3, 2), complex))
    assert "complex" in _message(tmp_path / "complex.npy")
    np.save(tmp_path / "objects.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    assert "cannot read" in _message(tmp_path / "objects.npy")
    np.savetxt(tmp_path / "bare.csv", _x(), delimiter=",")  # no header line
    assert "needs a header line" in _message(tmp_path / "bare.csv")
    np.save(tmp_path / "x.npy", _x())
    assert "applies to .npz archives only" in _message(tmp_path / "x.npy", key="points")
    assert "apply to .parquet and .csv tables only" in _message(tmp_path / "x.npy", columns=["a"])
    assert "does not exist" in _message(tmp_path / "missing.npy")


# --- subsets ---------------------------------------------------------------------------------------


def test_a_subset_is_seeded_and_keeps_the_rows_ids(tmp_path):
    x = _x()
    path = _write(tmp_path / "x.npy", x)
    a, b = _load(path, n=10, seed=4), _load(path, n=10, seed=4)
    pd.testing.assert_frame_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.arrays, b.arrays)
    rows = a.samples["id"].astype(int).to_numpy()
    assert len(rows) == 10 and np.all(np.diff(rows) > 0)  # sorted, original row numbers
    np.testing.assert_array_equal(a.arrays, x[rows].astype(np.float32))
    assert _load(path, n=10, seed=5).samples["id"].tolist() != a.samples["id"].tolist()
    assert _load(path, n=4, sample="first").samples["id"].tolist() == ["0", "1", "2", "3"]
    assert (a.samples["split"] == "test").sum() == 2  # round(0.2 * 10)
    # the metadata's split follows its rows into the subset
    meta = _meta(tmp_path)
    c = _load(path, n=10, seed=4, metadata=str(meta))
    assert c.samples["split"].tolist() == ["test" if r % 3 == 0 else "train" for r in rows]
    assert "only 30 are available" in _message(path, n=31)


# --- what is known before any job -------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix,keys,metadata",
    [
        (".npy", {}, None),
        (".npy", {}, "meta.csv"),
        (".npz", {"key": "points"}, "meta.parquet"),
        (".csv", {"n": 12}, None),
    ],
)
def test_the_preview_matches_the_prepared_dataset(tmp_path, suffix, keys, metadata):
    spec = {"source": "array", "path": str(_write(tmp_path / f"x{suffix}", _x())), **keys}
    if metadata:
        spec["metadata"] = str(_meta(tmp_path, name=metadata))
    s = load_dataset(spec, LOG).samples
    kinds = {"id": "string", "split": "string", "label": "integer", "weight": "float", "big": "boolean"}
    kinds["group"] = "string"
    assert dataset_columns(spec) == {c: kinds[c] for c in s.columns}
    assert dataset_size(spec) == len(s)
    for split in ("train", "test"):
        assert split_size(spec, split) == (s["split"] == split).sum()
    # a torch file's row count needs the file itself: unknown before preparation
    torch.save(torch.zeros(5, 2), tmp_path / "t.pt")
    assert dataset_size({"source": "array", "path": str(tmp_path / "t.pt")}) is None


def test_replacing_the_matrix_or_the_metadata_changes_the_manifest(tmp_path):
    from repgeo.data.manifest import manifest_text, parse_manifest

    path = _write(tmp_path / "x.npy", _x())
    spec = {"source": "array", "path": "x.npy", "metadata": "meta.csv"}
    _meta(tmp_path)
    before = manifest_text(spec, tmp_path)
    assert list(parse_manifest(before)) == ["metadata: meta.csv", "x.npy"]
    _meta(tmp_path, label=np.zeros(N, int))
    after = manifest_text(spec, tmp_path)
    assert after != before
    np.save(path, _x() + 1)
    assert manifest_text(spec, tmp_path) != after


# --- start checks ----------------------------------------------------------------------------------


def _problems(tmp_path: Path, dataset: dict, **sections) -> list[str]:
    config = {"datasets": {"mine": {"source": "array", **dataset}}, **sections}
    with pytest.raises(ConfigError) as err:
        check_config(config, SCHEMA, tmp_path)
    return err.value.problems


def test_bad_files_and_keys_stop_the_run_at_start_naming_the_key(tmp_path):
    _write(tmp_path / "x.npz", _x())
    _write(tmp_path / "t.csv", _x(), names=["a", "b", "c", "d"])
    _meta(tmp_path)
    (tmp_path / "x.txt").write_text("1\n")
    cases = [
        ({"path": "nowhere.npy"}, "datasets.mine.path: 'nowhere.npy' does not exist"),
        ({"path": "x.txt"}, "datasets.mine.path: 'x.txt' has the extension '.txt'"),
        (
            {"path": "x.npz"},
            "datasets.mine.key: 'x.npz' is an .npz archive; name its N x D array with key (it holds points, other)",
        ),
        ({"path": "x.npz", "key": "point"}, "datasets.mine.key: 'x.npz' has no array 'point'; did you mean 'points'?"),
        ({"path": "t.csv", "key": "a"}, "datasets.mine.key: applies to .npz archives only"),
        (
            {"path": "t.csv", "columns": ["a", "bb"]},
            "datasets.mine.columns: ['bb'] are not columns of 't.csv' (did you mean 'bb' -> 'b'?)",
        ),
        ({"path": "t.csv", "metadata": "no.csv"}, "datasets.mine.metadata: 'no.csv' does not exist"),
        ({"path": "t.csv", "n": 31}, "datasets.mine.n: 31 rows requested but 't.csv' has 30"),
    ]
    for dataset, expected in cases:
        problems = _problems(tmp_path, dataset)
        assert any(p.startswith(expected) for p in problems), (expected, problems)
    # a metadata table that does not fit the array's row count (known from the header)
    np.save(tmp_path / "short.npy", _x(N - 2))
    problems = _problems(tmp_path, {"path": "short.npy", "metadata": "meta.csv"})
    assert problems == [
        f"datasets.mine.metadata: the metadata 'meta.csv' has {N} rows but the array has {N - 2}; it needs one row per array row, in the same order"
    ]
    _meta(tmp_path, name="clash.csv", dc1=0.0, dimension=1)
    problems = _problems(tmp_path, {"path": "t.csv", "metadata": "clash.csv"})
    assert "['dc1', 'dimension']" in problems[0] and "rename them" in problems[0]


def test_keys_naming_metadata_columns_are_checked_at_start(tmp_path):
    _write(tmp_path / "x.npy", _x())
    _meta(tmp_path)
    dataset = {"path": "x.npy", "metadata": "meta.csv"}
    ok = {"geometry": {"g": {"dataset": "mine", "mode": "parity", "color_by": "weight", "attributes": ["big"], "k": 8}}}
    check_config({"datasets": {"mine": {"source": "array", **dataset}}, **ok}, SCHEMA, tmp_path)
    bad = {"geometry": {"g": {"dataset": "mine", "mode": "parity", "color_by": "wieght", "k": 8}}}
    problems = _problems(tmp_path, dataset, **bad)
    assert any(
        p.startswith("geometry.g.color_by: 'wieght' is not a column of dataset 'mine'; did you mean 'weight'?")
        for p in problems
    )
    # the split's size comes from the metadata: 10 test rows of 30
    problems = _problems(tmp_path, dataset, geometry={"g": {"dataset": "mine", "split": "test", "n": 11, "k": 8}})
    assert any("geometry.g.n: 11 points requested but split test of dataset 'mine' has 10" in p for p in problems)


# --- the workflow ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.workflow
def test_the_workflow_measures_a_flat_torus_given_as_an_array(tmp_path):
    """The Clifford torus x = (cos a, sin a, cos b, sin b), intrinsically flat (S = 0) though
    each circle is curved in R^4, written by the user as an .npy with a metadata table.

    Tolerance: the unit sphere S^2 (S = 2), the same extrinsic scale (unit circles), comes out
    within 0.01 of 2 from the improved estimator at this n (measured: median 2.004 at n = 800),
    and the flat torus at median |S| 0.04; median |S| <= 0.2, a tenth of the sphere's curvature,
    separates flat from curved with a wide margin and still fails an estimator that confused
    the circles' extrinsic curvature with intrinsic curvature (S of order 1)."""
    from workflow_helpers import snakemake, write_config

    n = 800
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.0, 2.0 * np.pi, (2, n))
    x = np.stack([np.cos(a), np.sin(a), np.cos(b), np.sin(b)], axis=1)
    np.save(tmp_path / "torus.npy", x)
    pd.DataFrame({"id": [f"p{i}" for i in range(n)], "angle_a": a, "upper": b < np.pi}).to_csv(
        tmp_path / "torus_meta.csv", index=False
    )
    config = {
        "threads": {"data": 1, "geometry": 2, "plot": 1},
        "datasets": {"torus4": {"source": "array", "path": "torus.npy", "metadata": "torus_meta.csv"}},
        "geometry": {
            "torus4": {
                "dataset": "torus4",
                "mode": "improved",
                "baselines": False,
                "null_controls": False,
                "attributes": ["upper"],
                "color_by": "angle_a",
            }
        },
    }
    write_config(tmp_path, config)
    t0 = time.perf_counter()
    snakemake(
        tmp_path,
        "--cores",
        "2",
        "results/geometry/torus4/summary.parquet",
        "results/geometry/torus4/attributes.parquet",
    )
    seconds = time.perf_counter() - t0
    samples = io.read_parquet(tmp_path / "results/data/torus4/samples.parquet")
    assert samples["id"].iloc[0] == "p0" and samples["upper"].dtype == bool
    np.testing.assert_array_equal(
        io.load_tensor(tmp_path / "results/data/torus4/arrays.pt").numpy(), x.astype(np.float32)
    )
    summary = io.read_parquet(tmp_path / "results/geometry/torus4/summary.parquet")
    pointwise = io.read_parquet(tmp_path / "results/geometry/torus4/pointwise.parquet")
    row = summary.iloc[0]
    S = pointwise["scalar_curvature"].to_numpy()
    median_abs = float(np.median(np.abs(S)))
    print(
        f"flat torus in R^4, n = {n}: global dimension {row['global_dimension']}, "
        f"pointwise dimension 2 at {np.mean(pointwise['dimension'] == 2):.3f}, median |S| {median_abs:.4f}, "
        f"mean S {S.mean():+.4f}; workflow {seconds:.0f} s"
    )
    assert row["global_dimension"] == 2
    assert np.mean(pointwise["dimension"] == 2) >= 0.99
    assert median_abs <= 0.2
    assert "angle_a" in pointwise.columns

"""Source ``array``: the user's own N x D matrix, with an optional table of per-row metadata.

The matrix (one row per point) is read from ``path``, by its extension:

``.npy``
    a 2-D numeric array (``np.save``), read with ``allow_pickle=False``.
``.npz``
    the 2-D numeric array named by ``key`` (``np.savez(path, key=x)``), ``allow_pickle=False``.
``.parquet``, ``.csv``
    a table with a header line; the matrix is its ``columns`` in that order, or, with
    ``columns: null``, every integer or float column in the table's order (boolean and text
    columns are left out and logged). pandas (3.x) parses CSV numbers to the nearest float64, so a
    value written by ``to_csv`` is read back bit for bit.
``.pt``, ``.pth``
    a 2-D tensor saved by ``torch.save(x, path)``, read with ``torch.load(weights_only=True)``:
    a file that holds pickled objects is refused, never unpickled.

Integer, boolean and float values are stored as float32 (the artifact contract,
:func:`repgeo.data.check_dataset`); complex, text and structured arrays are refused. A row
holding NaN, an infinity or a value beyond float32's range is an error that names the first such
rows (by id and 0-based row number): rows are never dropped silently.

``metadata`` (optional) is a ``.parquet`` or ``.csv`` table with exactly one row per array row,
in the same order (:func:`metadata_fields`):

- ``id`` (optional): unique, non-empty; stored as strings. Without it the ids are the 0-based row
  numbers of the file as strings (``"0"``, ``"1"``, ...), so they do not depend on ``n``.
- ``split`` (optional): ``train`` or ``test`` on every row; the dataset keeps it as given. Without
  it (or without metadata) the split is :func:`repgeo.data.random_split` of the kept rows:
  ``round(test_fraction * n)`` test rows, seeded by ``seed``.
- ``label`` and any other column: copied into ``samples.parquet`` as they are (``label`` first),
  so ``color_by``, ``label`` and ``attributes`` keys can name them.

``n``, ``sample`` and ``seed`` keep a subset of the rows (:func:`repgeo.data.subsample_indices`)
after every row has been checked. The cheap readers :func:`array_rows`, :func:`npz_keys` and
:func:`table_columns` serve the checks before any job (:mod:`repgeo.config`,
:mod:`repgeo.data.preview`); they read headers only and never import torch.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import Dataset, DataError, random_split, register, subsample_indices

#: File extension (lower case) -> format of the matrix file.
ARRAY_FORMATS: dict[str, str] = {
    ".npy": "npy",
    ".npz": "npz",
    ".parquet": "parquet",
    ".csv": "csv",
    ".pt": "torch",
    ".pth": "torch",
}
#: File extensions of the metadata table.
METADATA_FORMATS: tuple[str, ...] = (".parquet", ".csv")
#: Columns of the metadata with a meaning of their own; every other column is an attribute.
ID, SPLIT, LABEL = "id", "split", "label"
_SPLITS = ("train", "test")
# Rows named in an error message before "and N more".
_SHOWN = 5


def _resolve(spec: Mapping[str, Any], key: str) -> Path:
    """The file the entry's ``key`` names (relative to the working folder), which must exist."""
    value = spec.get(key)
    if not value:
        raise DataError(f"array: the dataset needs {key}: an N x D matrix file (.npy, .npz, .parquet, .csv, .pt)")
    path = Path(str(value)).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(f"array: {key} {path} {what}; set {key} to an existing file")
    return path


def array_format(path: Path | str) -> str:
    """The format of the matrix file ``path`` by its extension (:data:`ARRAY_FORMATS`)."""
    suffix = Path(path).suffix.lower()
    if suffix not in ARRAY_FORMATS:
        raise DataError(
            f"array: {path} has the extension {suffix or '(none)'!r}; the array source reads "
            f"{', '.join(ARRAY_FORMATS)}: save the matrix in one of these formats (np.save(path, x) writes .npy)"
        )
    return ARRAY_FORMATS[suffix]


# --- cheap readers: headers only (checks before any job) -----------------------------------------


def npz_keys(path: Path | str) -> list[str]:
    """The names of the arrays in an ``.npz`` (its zip directory only)."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"array: cannot read {path} as an .npz archive ({exc}); re-create it with np.savez") from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"array: {path} holds a single array, not an .npz archive; rename it to .npy")
    with z:
        return list(z.files)


def _npy_header_shape(fh: Any) -> tuple[int, ...] | None:
    version = np.lib.format.read_magic(fh)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        return None
    shape, _, _ = readers[version](fh)
    return tuple(shape)


def _csv_header(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"array: cannot read {path} as a CSV table ({exc}); write it with a header line") from exc


def table_columns(path: Path | str) -> list[str]:
    """The column names of a ``.parquet`` (its schema, without pandas' index columns) or ``.csv``
    (its header line) table."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _csv_header(path)
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"array: cannot read {path} as a parquet table ({exc}); re-create it") from exc
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    return [n for n in schema.names if n not in index]


def array_rows(path: Path | str, key: str | None = None) -> int | None:
    """The number of rows of the matrix file, from its header (an ``.npy`` or an ``.npz``
    member's header, a parquet footer, a CSV's non-blank lines after the header line), or None
    where that needs the whole file (torch files) or the file is unreadable (the loader says why)."""
    path = Path(path)
    fmt = ARRAY_FORMATS.get(path.suffix.lower())
    try:
        if fmt == "npy":
            with open(path, "rb") as fh:
                shape = _npy_header_shape(fh)
        elif fmt == "npz":
            if key is None:
                return None
            with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as fh:
                shape = _npy_header_shape(fh)
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        elif fmt == "csv":
            with open(path, "rb") as fh:
                lines = sum(1 for line in fh if line.strip())
            return max(lines - 1, 0)
        else:
            return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return int(shape[0]) if shape and len(shape) == 2 else None


# --- the matrix -----------------------------------------------------------------------------------


def _numeric(x: np.ndarray, where: str) -> np.ndarray:
    """``x`` checked to be an N x D matrix of integers, booleans or floats."""
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"array: {where} has dtype {x.dtype}; the array source reads integer, boolean or float values "
            "(complex, text and structured arrays are refused): save a real numeric N x D matrix"
        )
    if x.ndim == 1:
        raise DataError(
            f"array: {where} is 1-D (shape {x.shape}); the source needs N x D, one row per point: "
            "save x.reshape(-1, 1) for a single feature"
        )
    if x.ndim != 2:
        raise DataError(
            f"array: {where} has shape {x.shape}; the source needs N x D, one row per point: "
            "save x.reshape(len(x), -1) to flatten each point"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"array: {where} has shape {x.shape}; it needs at least one row and one column")
    return x


def _read_numpy(path: Path, fmt: str, key: str | None) -> np.ndarray:
    if fmt == "npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(
                f"array: cannot read {path} as an .npy array ({exc}); save a numeric array with np.save"
            ) from exc
        if not isinstance(x, np.ndarray):
            raise DataError(f"array: {path} is an .npz archive, not an .npy array; rename it to .npz and set key")
        return _numeric(x, str(path))
    keys = npz_keys(path)
    if key is None:
        raise DataError(f"array: {path} is an .npz archive; name its N x D array with key: (it holds {keys})")
    if key not in keys:
        raise DataError(f"array: {path} has no array {key!r}; it holds {keys}: set key to one of them")
    try:
        with np.load(path, allow_pickle=False) as z:
            x = z[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"array: {path}[{key!r}] cannot be read ({exc}); save a numeric array with np.savez") from exc
    return _numeric(x, f"{path}[{key!r}]")


def _read_table(
    path: Path, fmt: str, columns: Sequence[str] | None, logger: logging.Logger
) -> tuple[np.ndarray, list[str]]:
    names = table_columns(path)
    if fmt == "csv" and names and all(_is_number(n) for n in names):
        raise DataError(
            f"array: the first line of {path} holds numbers ({', '.join(names[:3])}, ...), not column names; "
            "the table needs a header line (pandas' to_csv writes one; np.savetxt needs header=..., comments=''), or save an .npy"
        )
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise DataError(f"array: {path} has no column(s) {unknown}; its columns: {names}: fix columns")
    try:
        if fmt == "csv":
            table = pd.read_csv(path, usecols=list(columns) if columns is not None else None)
        else:
            table = pd.read_parquet(path, columns=list(columns) if columns is not None else None)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"array: cannot read {path} as a {fmt} table ({exc}); re-create it") from exc
    if columns is None:
        used = [c for c in table.columns if _is_number_column(table[c])]
        left = [str(c) for c in table.columns if c not in used]
        if not used:
            raise DataError(
                f"array: {path} has no integer or float column (columns: {names}); is it comma-separated? "
                "Name the matrix's columns with columns: or write them as numbers"
            )
        if left:
            logger.info("array: %s: non-numeric column(s) %s are not part of the matrix", path, left)
    else:
        used = list(columns)
        wrong = [f"{c} ({table[c].dtype})" for c in used if not pd.api.types.is_numeric_dtype(table[c])]
        if wrong:
            raise DataError(
                f"array: column(s) {', '.join(wrong)} of {path} are not numeric; list numeric columns in columns"
            )
    x = table[used].to_numpy(dtype=np.float64, na_value=np.nan)
    return _numeric(x, str(path)), [str(c) for c in used]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_number_column(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _read_torch(path: Path) -> np.ndarray:
    import torch

    from ..training.external import torch_load_reason

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for files it cannot read
        raise DataError(
            f"array: {path} cannot be read by torch.load(weights_only=True) ({torch_load_reason(err, path)}); "
            "the array source reads tensor files only that way, because unpickling objects can run code: "
            "save the tensor itself with torch.save(x, path), or the matrix with np.save"
        ) from err
    if not isinstance(obj, torch.Tensor):
        held = f"a dict with keys {list(obj)[:_SHOWN]}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        raise DataError(
            f"array: {path} holds {held}, not a tensor; save the N x D tensor itself with torch.save(x, path)"
        )
    if obj.layout != torch.strided:
        raise DataError(f"array: {path} holds a sparse tensor; save x.to_dense()")
    if obj.is_complex():
        raise DataError(f"array: {path} holds a complex tensor ({obj.dtype}); save a real N x D tensor")
    if obj.dtype in (torch.bfloat16, torch.float16):
        obj = obj.float()
    return _numeric(obj.detach().cpu().numpy(), str(path))


def read_matrix(
    path: Path | str,
    key: str | None = None,
    columns: Sequence[str] | None = None,
    logger: logging.Logger | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The N x D matrix of ``path`` in its own dtype (module docstring), and what was read:
    ``format``, ``input_dtype``, ``key`` (npz), ``columns`` (tables)."""
    path = Path(path)
    logger = logger or logging.getLogger("repgeo")
    fmt = array_format(path)
    if key is not None and fmt != "npz":
        raise DataError(f"array: key {key!r} applies to .npz archives only, and {path} is {fmt}; remove key")
    if columns is not None and fmt not in ("parquet", "csv"):
        raise DataError(f"array: columns apply to .parquet and .csv tables only, and {path} is {fmt}; remove columns")
    info: dict[str, Any] = {"format": fmt}
    if fmt in ("npy", "npz"):
        x = _read_numpy(path, fmt, key)
        if key is not None:
            info["key"] = key
    elif fmt in ("parquet", "csv"):
        x, info["columns"] = _read_table(path, fmt, columns, logger)
    else:
        x = _read_torch(path)
    info["input_dtype"] = str(x.dtype)
    return x, info


def to_float32(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 (the artifact contract); values beyond float32's range become infinite,
    which :func:`finite_rows_or_error` then reports."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(x, dtype=np.float32)


def finite_rows_or_error(x: np.ndarray, ids: np.ndarray | None, where: str) -> None:
    """Raise :class:`DataError` naming the first rows of ``x`` that hold a non-finite value."""
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad) == 0:
        return
    shown = [f"id {ids[r]!r} (row {r})" if ids is not None else f"row {r}" for r in bad[:_SHOWN]]
    more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    raise DataError(
        f"array: {len(bad)} of the {len(x)} rows of {where} hold NaN, an infinity or a value beyond float32's range "
        f"(|x| > 3.4e38): {', '.join(shown)}{more} (rows count from 0); repgeo drops no rows silently: "
        "remove or fill them in the file (and their rows of the metadata)"
    )


# --- the metadata ---------------------------------------------------------------------------------


def read_metadata(path: Path | str) -> pd.DataFrame:
    """The metadata table as read (``.parquet`` or ``.csv``; a CSV's ``id`` and ``split`` are
    read as text, so ids such as ``007`` keep their zeros)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in METADATA_FORMATS:
        raise DataError(
            f"array: metadata {path} has the extension {suffix or '(none)'!r}; give a .parquet or .csv table"
        )
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype={ID: str, SPLIT: str})
        return pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"array: cannot read the metadata {path} ({exc}); re-create it") from exc


def _rows(positions: np.ndarray) -> str:
    """``row 4`` or ``rows 4, 9, ... and 3 more`` (0-based)."""
    shown = ", ".join(str(int(r)) for r in positions[:_SHOWN])
    more = f" and {len(positions) - _SHOWN} more" if len(positions) > _SHOWN else ""
    return f"{'row' if len(positions) == 1 else 'rows'} {shown}{more}"


def metadata_fields(
    meta: pd.DataFrame, n_rows: int | None, where: str
) -> tuple[np.ndarray | None, np.ndarray | None, pd.DataFrame]:
    """``(ids, split, attributes)`` of a metadata table checked against a matrix of ``n_rows``
    rows (None: not checked): one row per array row, ids present and unique, split values
    ``train``/``test``. ``ids`` and ``split`` are None when the table lacks the column;
    ``attributes`` holds every other column, ``label`` first."""
    if n_rows is not None and len(meta) != n_rows:
        raise DataError(
            f"array: the metadata {where} has {len(meta)} rows but the array has {n_rows}; "
            "it needs one row per array row, in the same order"
        )
    ids = None
    if ID in meta.columns:
        missing = np.flatnonzero(meta[ID].isna().to_numpy())
        if len(missing):
            raise DataError(
                f"array: the metadata {where} has empty ids at {_rows(missing)} (rows count from 0; "
                "values such as NA count as empty in a CSV); give every row an id, or drop the id column"
            )
        ids = meta[ID].astype(str).to_numpy(dtype=object)
        counts = pd.Series(ids).value_counts()
        dup = counts[counts > 1]
        if len(dup):
            shown = ", ".join(f"{i!r} ({_rows(np.flatnonzero(ids == i))})" for i in dup.index[:_SHOWN])
            raise DataError(
                f"array: the metadata {where} repeats {len(dup)} id(s): {shown}; ids must be unique, give every row its own"
            )
    split = None
    if SPLIT in meta.columns:
        values = meta[SPLIT]
        ok = values.isin(_SPLITS).to_numpy()
        if not ok.all():
            wrong = values[~ok]
            shown = ", ".join(
                f"{v!r} ({_rows(np.flatnonzero(~ok & (values == v).to_numpy()))})"
                for v in pd.unique(wrong.dropna())[:_SHOWN]
            )
            empty = np.flatnonzero(values.isna().to_numpy())
            if len(empty):
                shown = ", ".join(filter(None, [shown, f"empty ({_rows(empty)})"]))
            raise DataError(
                f"array: the metadata {where} has split values other than train/test: {shown}; "
                "write train or test on every row, or drop the split column for a seeded random test_fraction split"
            )
        split = values.astype(str).to_numpy(dtype=object)
    return ids, split, meta[sample_columns(meta.columns)[2:]].reset_index(drop=True)


def sample_columns(meta_columns: Sequence[str]) -> list[str]:
    """The columns of ``samples.parquet`` for a metadata table with ``meta_columns``: id, split,
    label (if present), then the other columns in the table's order."""
    rest = [c for c in meta_columns if c not in (ID, SPLIT)]
    rest.sort(key=lambda c: c != LABEL)  # stable: label first, the others in the table's order
    return [ID, SPLIT, *rest]


# --- the source -----------------------------------------------------------------------------------


@register("array")
def array(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """The user's N x D matrix at ``path`` (float32), with ``metadata``'s ids, split and columns."""
    path = _resolve(spec, "path")
    x, info = read_matrix(path, spec.get("key"), spec.get("columns"), logger)
    n_rows = x.shape[0]
    ids = split_given = None
    attributes = pd.DataFrame(index=range(n_rows))
    if spec.get("metadata") is not None:
        meta_path = _resolve(spec, "metadata")
        ids, split_given, attributes = metadata_fields(read_metadata(meta_path), n_rows, str(meta_path))
        info["metadata"] = str(meta_path)
    x = to_float32(x)
    finite_rows_or_error(x, ids, str(path))
    if ids is None:
        ids = np.array([str(i) for i in range(n_rows)], dtype=object)
    seed = int(spec.get("seed", 0))
    keep = subsample_indices(n_rows, spec.get("n"), spec.get("sample", "random"), seed)
    if split_given is not None:
        split = split_given[keep]
        info["split"] = "metadata"
    else:
        split = random_split(len(keep), float(spec.get("test_fraction", 0.2)), seed)
        info["split"] = "random"
    samples = pd.concat(
        [pd.DataFrame({ID: ids[keep], SPLIT: split}), attributes.iloc[keep].reset_index(drop=True)], axis=1
    )
    if len(keep) < n_rows:
        x = np.ascontiguousarray(x[keep])
    info.update(path=str(path), n_rows_available=int(n_rows))
    logger.info(
        "array: %d of %d rows x %d columns from %s (%s split)", len(keep), n_rows, x.shape[1], path, info["split"]
    )
    return Dataset(samples=samples, arrays=x, info=info)

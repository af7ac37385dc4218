"""Artifact I/O with the project's contract: parquet tables and torch tensor files.

Every writer writes to a temporary name in the destination folder and renames it into place
(``os.replace`` is atomic on POSIX file systems), so a job killed mid-write never leaves a
half-written file under the final name.

Permissions follow the process's umask, as for any file the user creates: ``tempfile`` makes its
temporary files 0600 and folders 0700, so each writer sets them to 0666 / 0777 less the umask
(umask 022: 0644 / 0755; umask 002, a shared group folder: 0664 / 0775) before the rename.
The umask is read without changing it (``/proc/self/status``): :func:`os.umask` is
process-global, and setting it to read it would race with other threads creating files.

For the tests of that promise, ``REPGEO_KILL_BEFORE_RENAME=<file name>`` makes the process
group SIGKILL itself after writing that file's temporary copy and before the rename: the
state that a run killed mid-write (kill -9, the OOM killer, a lost node) leaves behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PathLike = str | os.PathLike

_UMASK_LOCK = threading.Lock()
_UMASK_FALLBACK: int | None = None


def current_umask() -> int:
    """The process's umask, read without changing it.

    Linux reports it in ``/proc/self/status`` ("Umask:"). Elsewhere it is read once, under a lock,
    by setting and restoring it (a file created by another thread in that instant gets the
    stricter 077), and that value is reused.
    """
    global _UMASK_FALLBACK
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        if _UMASK_FALLBACK is None:
            mask = os.umask(0o077)
            os.umask(mask)
            _UMASK_FALLBACK = mask
        return _UMASK_FALLBACK


def default_mode(directory: bool = False) -> int:
    """The mode a new file (0666) or folder (0777) gets under the current umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


def apply_default_mode(target: PathLike | int, directory: bool = False) -> None:
    """Give a temporary file or folder (a path, or an open file descriptor) the umask's mode.

    ``tempfile.mkstemp``/``mkdtemp`` create 0600/0700 whatever the umask; call this before
    renaming such a file into place so that the artifact is as readable as any other.
    """
    mode = default_mode(directory)
    try:
        if isinstance(target, int):
            os.fchmod(target, mode)
        else:
            os.chmod(target, mode)
    except OSError as err:
        # File systems without POSIX modes (some network and FUSE mounts) refuse chmod; their
        # own permissions apply there, and the artifact is still written.
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    tmp_path = Path(tmp)
    try:
        try:
            apply_default_mode(fd)
        finally:
            os.close(fd)
        yield tmp_path
        if os.environ.get("REPGEO_KILL_BEFORE_RENAME") == final.name:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it replaces ``path`` (and anything there).

    On an exception the temporary folder is removed and ``path`` is left untouched, so a folder
    output (e.g. one CSV per table) is either complete or absent.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        apply_default_mode(tmp_path, directory=True)
        yield tmp_path
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp_path, final)
    except BaseException:
        shutil.rmtree(tmp_path, ignore_errors=True)
        raise


def write_parquet(df: pd.DataFrame, path: PathLike, metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``df`` as parquet (pyarrow), atomically.

    ``metadata`` (JSON-able) is stored in the file's key-value metadata under ``repgeo`` and can be
    read back with :func:`read_parquet_metadata`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"repgeo"] = json.dumps(metadata, default=_json_default).encode()
        table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet(path: PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a parquet table written by :func:`write_parquet`."""
    return pd.read_parquet(path, columns=columns)


def read_parquet_metadata(path: PathLike) -> dict[str, Any]:
    """Return the ``repgeo`` key-value metadata of a parquet file ({} when absent)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"repgeo")
    return json.loads(raw) if raw else {}


def save_tensor(obj: Any, path: PathLike) -> None:
    """``torch.save`` ``obj`` (a tensor or a dict of tensors and plain values), atomically.

    numpy arrays are converted to tensors so the file loads with ``weights_only=True``.
    """
    import torch

    with atomic_path(path) as tmp:
        torch.save(_to_torch(obj), tmp)


def load_tensor(path: PathLike, mmap: bool = False) -> Any:
    """Load a tensor file with ``torch.load(weights_only=True)``.

    ``mmap=True`` maps the storage from disk instead of reading it, for arrays larger than memory.
    """
    import torch

    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)


def write_json(obj: Any, path: PathLike) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_text(text: str, path: PathLike) -> None:
    """Write ``text``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_figure(fig: Any, path: PathLike, dpi: int = 120) -> None:
    """Save a matplotlib figure, atomically, in the format given by the path's suffix."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt, bbox_inches="tight")


def _to_torch(obj: Any) -> Any:
    import torch

    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, Mapping):
        return {k: _to_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(v) for v in obj)
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")

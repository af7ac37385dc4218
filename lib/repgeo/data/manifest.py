"""Source manifests: what a dataset source reads from disk, as one text file.

Snakemake reruns a job when an input file is newer than its outputs, when the list of its input
files changes, or when its params change. The files a dataset source reads (an image folder of
200,000 JPEGs, an npz, CelebA's attribute list) are not results of any rule, and listing each one
as an input would make the DAG as large as the dataset. Instead the workflow keeps, per dataset, a
manifest: one line per file the source reads, with its name relative to the dataset's ``path``,
its size in bytes and its modification time in nanoseconds (``st_mtime_ns``). The workflow
(``workflow/rules/data.smk``) rewrites the manifest only when this text differs from the stored
one, and the manifest is an input of ``prepare_data``: a changed, added or removed file gives a
new manifest, newer than the prepared data, so the dataset is prepared again and everything
downstream follows. A dry run writes the new manifest to a scratch copy instead and leaves the
record alone. See docs/reliability.md, "Input tracking".

What each source reads (the filters are those of the loaders in :mod:`repgeo.data.images` and
:mod:`repgeo.data.audio`; the image folder shares its listing with its loader):

``image_folder``
    every class folder (recorded by name, so a new empty class counts) and every image in it
    (:func:`repgeo.data.images.image_folder_files`: ``extensions``, no hidden files or folders).
``celeba``
    ``list_attr_celeba.txt``, ``list_eval_partition.txt`` and every image the attribute file lists
    under ``img_align_celeba/``.
``mnist``, ``cifar10``
    the npz, or the fixed file names of the folder format (idx files with and without ``.gz``;
    ``data_batch_1`` .. ``data_batch_5``, ``test_batch``, ``batches.meta``).
``olivetti``
    the npz.
``fsdd``
    every ``*.wav`` in ``recordings/`` (or in ``path`` when it has no ``recordings/``).
``timit``
    every ``.wav``, ``.wrd`` and ``.phn`` file under ``path``, in any case.
``array``
    the matrix file, by its name, and the ``metadata`` table, as ``metadata: <the path as
    written in the config>`` (it may lie anywhere).
any other source with a ``path``
    every file under it (or the file itself).

A file that a source looks for but that is absent is recorded as ``missing``, so that its
appearance is a change too. Sources that read only what an installed package ships
(``sklearn_digits``, ``lfw_faces``, ``natural_images``) or generate their data (``manifold``,
``dse_toy``, ``spoken_words``) have no manifest.

The file format: a first line ``# repgeo source manifest 1: <source>``, a header line
``name<TAB>size<TAB>mtime_ns``, then one line per entry sorted by name. Folders end in ``/`` and
have ``-`` as size and time; absent files have ``missing``. Backslash, tab, newline and carriage
return in names are written as ``\\\\``, ``\\t``, ``\\n``, ``\\r``; bytes that are not UTF-8 are kept
as they are (Python's ``surrogateescape``).

A file whose modification time changes counts as changed even when its bytes do not (``touch``):
comparing times and sizes costs one ``stat`` per file, comparing contents would read the whole
dataset at every DAG build. Comparing times for equality rather than order also catches a file
replaced by an older copy (``cp -p``, ``rsync -a``, an unpacked archive), which Snakemake's own
"input newer than output" test misses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import io, registry

FORMAT_VERSION = 1
HEADER = "name\tsize\tmtime_ns"
# Sources whose data come from an installed package or are generated: nothing on disk to track.
NO_FILES = registry.NO_FILES

_TIMIT_SUFFIXES = (".wav", ".wrd", ".phn")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class Tracked:
    """One thing a source reads: ``name`` relative to the dataset's path, ``path`` on disk, and
    whether it is a folder (recorded by name only: its time changes with every file written in it)."""

    name: str
    path: str | os.PathLike
    folder: bool = False


@dataclass
class Changes:
    """Differences between two manifests, by entry name (each list sorted)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)

    def describe(self, examples: int = 3) -> str:
        """E.g. ``1 modified, 2 added, 0 removed (cat/1.png, cat/7.png, dog/3.png)``."""
        names = (self.modified + self.added + self.removed)[:examples]
        counts = f"{len(self.modified)} modified, {len(self.added)} added, {len(self.removed)} removed"
        return f"{counts} ({', '.join(names)})" if names else counts


@dataclass
class Update:
    """The result of :func:`refresh_manifest`.

    ``input`` is the manifest file to give Snakemake (the record, or the scratch copy); ``changed``
    says whether the source's files differ from the record (or there is no record yet); ``changes``
    lists the differences when there was a record to compare with.
    """

    input: Path
    changed: bool
    changes: Changes | None


def _root(spec: Mapping[str, Any], base: str | os.PathLike) -> Path:
    # As the loaders resolve it (images.py: Path(path).expanduser(), relative to the working folder).
    return Path(base) / Path(str(spec["path"])).expanduser()


def _files_under(root: Path, suffixes: tuple[str, ...] | None = None) -> list[Tracked]:
    """Every file below ``root`` (links to folders not followed), optionally only those whose
    suffix, in lower case, is one of ``suffixes``."""
    out = []
    for folder, _, files in os.walk(root):
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        for f in files:
            if suffixes is None or os.path.splitext(f)[1].lower() in suffixes:
                out.append(Tracked(f if rel == "." else f"{rel}/{f}", os.path.join(folder, f)))
    return out


def tracked_files(spec: Mapping[str, Any], base: str | os.PathLike = ".") -> list[Tracked] | None:
    """Every file (and, for image folders, class folder) the dataset ``spec`` reads, by name
    relative to its ``path``; ``None`` when the source reads no files (module docstring)."""
    from .images import CIFAR_FILES, DEFAULT_EXTENSIONS, MNIST_FILES, _normalise_extensions, image_folder_files

    source = spec.get("source")
    if source in NO_FILES or "path" not in spec:
        return None
    root = _root(spec, base)
    if source == "array":
        # Both files, present or not: a matrix or metadata file that appears is a change too.
        out = [Tracked(root.name or ".", root)]
        if spec.get("metadata") is not None:
            meta = str(spec["metadata"])
            out.append(Tracked(f"metadata: {meta}", Path(base) / Path(meta).expanduser()))
        return out
    if not root.exists():
        return [Tracked(".", root)]
    if source == "image_folder":
        if not root.is_dir():
            return [Tracked(".", root)]
        listing, _ = image_folder_files(root, _normalise_extensions(spec.get("extensions", DEFAULT_EXTENSIONS)))
        out = []
        top = str(root)
        for name, images in listing.items():
            out.append(Tracked(f"{name}/", root / name, folder=True))
            # Plain string joins: os.path.join is a large share of the time on 200,000 files.
            out += [Tracked(rel, f"{top}/{rel}") for rel in images]
        return out
    if source == "celeba":
        return _celeba(root)
    if root.is_file():
        return [Tracked(root.name, root)]
    if source == "mnist":
        return [Tracked(n, root / n) for pair in MNIST_FILES.values() for name in pair for n in (name, f"{name}.gz")]
    if source == "cifar10":
        return [Tracked(n, root / n) for n in CIFAR_FILES]
    if source == "fsdd":
        # The loader's folder choice; it then keeps the {digit}_{speaker}_{index}.wav names of
        # these (a superset is safe: at worst a rerun that was not needed).
        folder = root / "recordings" if (root / "recordings").is_dir() else root
        return [Tracked(p.relative_to(root).as_posix(), p) for p in sorted(folder.glob("*.wav"))]
    if source == "timit":
        return _files_under(root, _TIMIT_SUFFIXES)
    return _files_under(root)


def _celeba(root: Path) -> list[Tracked]:
    out = [Tracked(n, root / n) for n in ("list_attr_celeba.txt", "list_eval_partition.txt")]
    attr = root / "list_attr_celeba.txt"
    if attr.is_file():
        # The images the loader opens: the first field of every line after the count line and the
        # line of attribute names (read_celeba_attributes); a malformed file is the loader's to report.
        lines = attr.read_text(encoding="utf-8", errors="replace").splitlines()[2:]
        names = dict.fromkeys(t[0] for t in (line.split() for line in lines) if t)
        images = os.path.join(root, "img_align_celeba")
        out += [Tracked(f"img_align_celeba/{n}", os.path.join(images, n)) for n in names]
    return out


def _quote(name: str) -> str:
    if "\\" in name or "\t" in name or "\n" in name or "\r" in name:
        return name.translate(_ESCAPES)
    return name


def _row(t: Tracked) -> str:
    if t.folder:
        return f"{_quote(t.name)}\t-\t-"
    try:
        st = os.stat(t.path)
    except (FileNotFoundError, NotADirectoryError):
        return f"{_quote(t.name)}\tmissing\t-"
    except OSError as exc:
        # Unreadable metadata (permissions): recorded, so that the loader's error is rerun and seen.
        return f"{_quote(t.name)}\terror {exc.errno}\t-"
    return f"{_quote(t.name)}\t{st.st_size}\t{st.st_mtime_ns}"


def manifest_text(spec: Mapping[str, Any], base: str | os.PathLike = ".") -> str | None:
    """The manifest of ``spec`` (module docstring), or ``None`` when its source reads no files."""
    entries = tracked_files(spec, base)
    if entries is None:
        return None
    rows = sorted(_row(t) for t in entries)
    return "\n".join([f"# repgeo source manifest {FORMAT_VERSION}: {spec.get('source')}", HEADER, *rows]) + "\n"


def parse_manifest(text: str) -> dict[str, tuple[str, str]]:
    """Entry name (as written) -> (size, mtime_ns) of a manifest's text; ValueError if it is not one."""
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].startswith("# repgeo source manifest ") or lines[1] != HEADER:
        raise ValueError("not a repgeo source manifest")
    out = {}
    for line in lines[2:]:
        name, size, mtime = line.rsplit("\t", 2)
        out[name] = (size, mtime)
    return out


def compare(old: str, new: str) -> Changes:
    """What changed between two manifest texts."""
    a, b = parse_manifest(old), parse_manifest(new)
    return Changes(
        added=sorted(b.keys() - a.keys()),
        removed=sorted(a.keys() - b.keys()),
        modified=sorted(k for k in a.keys() & b.keys() if a[k] != b[k]),
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def refresh_manifest(
    spec: Mapping[str, Any],
    path: str | os.PathLike,
    scratch: str | os.PathLike | None = None,
    base: str | os.PathLike = ".",
) -> Update | None:
    """Compare the files of ``spec`` with the manifest recorded at ``path`` and write a new one
    when they differ: to ``path`` itself, or, when ``scratch`` is given, to ``scratch`` only.

    Writing happens only on a difference (atomically, :func:`repgeo.io.atomic_path`), so the
    record's modification time moves exactly when the source's files did. ``scratch`` serves runs
    that execute nothing (a dry run): the new manifest, a different and newer input than the
    recorded one, lets Snakemake plan the rerun while the record stays as the last real run left
    it. Returns ``None`` when the source reads no files (nothing is written then).
    """
    text = manifest_text(spec, base)
    if text is None:
        return None
    path = Path(path)
    old = _read(path)
    if old == text:
        return Update(path, changed=False, changes=None)
    target = path if scratch is None else Path(scratch)
    with io.atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
    changes = None
    if old is not None:
        try:
            changes = compare(old, text)
        except ValueError:  # not a manifest (edited by hand): it is replaced, nothing to report
            changes = None
    return Update(target, changed=True, changes=changes)


def summarise(dataset: str, update: Update, record: str | os.PathLike) -> str | None:
    """A log line saying why ``dataset``'s files make prepare_data rerun, or ``None`` when they do not."""
    if not update.changed:
        return None
    if update.changes is None:
        return f"datasets.{dataset}: no record yet of the files it reads; prepare_data runs and {record} records them"
    if not update.changes:
        return f"datasets.{dataset}: {record} is in an older format; prepare_data reruns"
    return f"datasets.{dataset}: source files changed since the last preparation: {update.changes.describe()}; prepare_data reruns"

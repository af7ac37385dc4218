"""Run the workflow with Snakemake in a temporary directory, as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# The config sections whose named entries each become results/<folder>/<entry>/.
ENTRY_SECTIONS = (
    "datasets",
    "diffusion",
    "geometry",
    "training",
    "entropy_init",
    "entropy_zoo",
    "audio",
    "generative",
    "inversion",
)


def local_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a local-executor Snakemake run (and of the jobs it spawns).

    Snakemake imports every installed executor plugin, and importing
    snakemake-executor-plugin-slurm runs ``scontrol show config``; on a machine with SLURM's
    client tools but no reachable controller (e.g. after tests/test_slurm.py stopped its cluster)
    that call blocks about 9 s, in Snakemake itself and again in every job. Local runs do not use
    SLURM, so their PATH starts with a folder whose ``scontrol`` fails at once.
    """
    shim = Path(tempfile.gettempdir()) / f"repgeo-no-slurm-{os.getuid()}"
    tool = shim / "scontrol"
    if not tool.exists():
        shim.mkdir(exist_ok=True)
        tmp = shim / f".scontrol.{os.getpid()}"
        tmp.write_text("#!/bin/sh\nexit 1\n")
        tmp.chmod(0o755)
        tmp.replace(tool)
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra or {}),
    }


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def variant_of(run: Path, dest: Path, config: dict, change) -> Path:
    """A copy of the finished workflow folder ``run`` at ``dest`` whose config is ``config`` after
    ``change(config_copy)``: what a user sees after editing one setting of a finished run."""
    import copy
    import shutil

    shutil.copytree(run, dest, symlinks=True)
    cfg = copy.deepcopy(config)
    change(cfg)
    write_config(dest, cfg)
    return dest


def snakemake_command(*args: str) -> list[str]:
    """``python -m snakemake`` on the repository's Snakefile with ``args``."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *args]


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m snakemake`` on the repository's Snakefile, run in ``workdir`` with its config.yaml."""
    cmd = snakemake_command("--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *args)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=local_env())
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that a dry run would execute (Snakemake's own 'Job stats' table)."""
    proc = snakemake(workdir, "-n", *args)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    m = re.search(r"Job stats:\n(.*?)\n\s*\n", out, re.S)
    if not m:
        raise AssertionError(f"no job stats in dry-run output:\n{out[-3000:]}")
    jobs = {}
    for line in m.group(1).splitlines()[2:]:
        parts = line.split()
        if len(parts) == 2 and parts[0] != "total":
            jobs[parts[0]] = int(parts[1])
    return jobs


# Artifacts that are not numbers: figures, HTML, and Snakemake's own records.
_NOT_COMPARED = {".png", ".html", ".log", ".tsv"}


def _load_artifact(path: Path):
    import numpy as np
    import pandas as pd
    import torch

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".pt":
        return torch.load(path, map_location="cpu", weights_only=True)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    return path.read_bytes()


def _differences(a, b, where: str, rtol: float, atol: float) -> list[str]:
    import numpy as np
    import pandas as pd
    import torch

    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=rtol, atol=atol)
        except AssertionError as err:
            return [f"{where}: {str(err).splitlines()[0:3]}"]
        return []
    if isinstance(a, dict):
        if set(a) != set(b):
            return [f"{where}: keys differ ({sorted(set(a) ^ set(b))[:5]})"]
        return [d for k in a for d in _differences(a[k], b[k], f"{where}[{k}]", rtol, atol)]
    if isinstance(a, (torch.Tensor, np.ndarray)):
        x, y = (t.numpy() if isinstance(t, torch.Tensor) else t for t in (a, b))
        if x.shape != y.shape or not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            return [f"{where}: arrays differ (shapes {x.shape}, {y.shape})"]
        return []
    if (
        isinstance(a, (list, tuple))
        and isinstance(b, (list, tuple))
        and len(a) == len(b)
        and all(isinstance(v, (int, float)) for v in (*a, *b))
    ):
        # Numeric lists (histories in checkpoints) as numbers: NaN (epoch 0's loss) equals NaN.
        if not np.allclose(
            np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=atol, equal_nan=True
        ):
            return [f"{where}: values differ"]
        return []
    return [] if a == b else [f"{where}: values differ"]


def compare_results(a: Path, b: Path, rtol: float = 1e-9, atol: float = 1e-12) -> tuple[list[str], list[str]]:
    """Compare every artifact under ``a/results`` with the same file under ``b/results``.

    Tables, tensors and spectra are compared as numbers within ``rtol``/``atol``; figures, HTML,
    logs and benchmark records only for presence. Returns (compared files, differences).
    """
    files = sorted(p.relative_to(a) for p in (a / "results").rglob("*") if p.is_file() and not p.name.startswith("."))
    compared, problems = [], []
    for rel in files:
        other = b / rel
        if not other.exists():
            problems.append(f"{rel}: missing in {b}")
            continue
        if rel.suffix in _NOT_COMPARED or rel.name.startswith("checkpoint-"):
            continue
        compared.append(str(rel))
        problems += _differences(_load_artifact(a / rel), _load_artifact(other), str(rel), rtol, atol)
    return compared, problems

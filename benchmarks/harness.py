"""Shared machinery of the benchmarks: one child process per case, its peak memory sampled from
/proc, results appended to a parquet table."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))


def rss_mb(pid: int) -> tuple[int, int]:
    """(RssAnon, VmRSS) of a process in MB."""
    anon = total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1]) // 1024
            elif line.startswith("VmRSS:"):
                total = int(line.split()[1]) // 1024
    except OSError:
        pass
    return anon, total


def bench_env() -> tuple[dict[str, str], str | None]:
    """The environment benchmark children run in: OpenBLAS kernels as the workflow sets them."""
    from repgeo.runtime import openblas_coretype_for_cpu

    env = dict(os.environ)
    coretype = openblas_coretype_for_cpu()
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return env, coretype


def run_child(script: Path, args: list[str], threads: int, env: dict[str, str]) -> dict:
    """Run ``script --child args... threads``; return its RESULT json plus peak memory."""
    env = {**env, **{v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    cmd = [sys.executable, str(script), "--child", *args, str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=HERE)
    peak = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            a, t = rss_mb(proc.pid)
            peak[0], peak[1] = max(peak[0], a), max(peak[1], t)
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    th.join()
    sys.stderr.write(stderr[-3000:])
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed ({proc.returncode}):\n{stderr[-5000:]}")
    out = json.loads(lines[-1][7:])
    out.update(threads=threads, peak_rss_anon_mb=peak[0], peak_rss_mb=peak[1])
    return out


def child_setup(threads: int) -> None:
    """Pin threads and log to stderr in a benchmark child."""
    import logging

    from repgeo.runtime import set_threads

    set_threads(threads)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")


def emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def append_table(df, out: Path, coretype: str | None) -> None:
    """Stamp date and machine on ``df`` and append it to the parquet table ``out`` (atomically)."""
    import pandas as pd

    df = df.copy()
    df["date"] = dt.datetime.now().isoformat(timespec="seconds")
    df["machine"] = f"{platform.node()} {os.cpu_count()} cpus {coretype or 'default'} OpenBLAS"
    for col in df.columns:
        if df[col].map(lambda v: isinstance(v, (list, dict))).any():
            df[col] = df[col].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        df = pd.concat([pd.read_parquet(out), df], ignore_index=True)
    tmp = out.with_suffix(".parquet.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, out)


def check_device(name: str) -> None:
    """Exit with a clear message unless ``name`` is cpu, or cuda[:i] with a CUDA device present."""
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise SystemExit(f"--device must be cpu or cuda, got {name!r}")
    if name.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device is available to torch here")


def selected_cases(text: str, known) -> list[str]:
    """The comma-separated ``--cases`` value, each checked against ``known``."""
    cases = text.split(",")
    unknown = [c for c in cases if c not in known]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose from {tuple(known)}")
    return cases


def sync(device) -> None:
    """Wait for a CUDA device's queued work, so that wall-clock timings include it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)

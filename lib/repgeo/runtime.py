"""Process-level settings for a job: thread pinning, device choice and logging.

BLAS oversubscription is the single largest performance hazard on small machines: with more
BLAS/OpenMP threads than cores, ARPACK- and GEMM-heavy code ran 2-50x slower in the reference
measurements. Every job therefore pins numpy/scipy BLAS, OpenMP and torch to its own thread count.

Fault injection (for the workflow's own tests of retries and kills; never set in normal use):
``REPGEO_FAIL_ONCE=<job name prefix>:<marker file>`` makes the first job whose name starts with
the prefix fail after it started (it creates the marker; later attempts, which see the marker,
run normally), so a profile's ``retries`` can be shown to recover. :mod:`repgeo.io` reads
``REPGEO_KILL_BEFORE_RENAME`` (see there).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that pin BLAS/OpenMP libraries to ``threads`` threads."""
    return {var: str(int(threads)) for var in _THREAD_VARS}


def set_threads(threads: int) -> None:
    """Pin BLAS (via threadpoolctl), OpenMP and torch to ``threads`` threads in this process.

    The environment variables are set too, so that subprocesses inherit the same limit.
    """
    threads = max(1, int(threads))
    os.environ.update(thread_env(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def openblas_coretype_for_cpu(cpuinfo: str | None = None) -> str | None:
    """The OpenBLAS kernel family to force on this CPU, or None to leave OpenBLAS's choice.

    On AVX-512 CPUs that OpenBLAS does not recognise (e.g. AMD Zen 4/5 in VMs) it falls back to
    its Haswell (AVX2) kernels; forcing ``SkylakeX`` roughly doubles float32 GEMM throughput
    (measured 246 -> 470 GFLOP/s on this project's 2-core machines). Only advised when the CPU
    reports ``avx512f``, ``avx512bw``, ``avx512dq`` and ``avx512vl``.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    needed = {"avx512f", "avx512bw", "avx512dq", "avx512vl"}
    return "SkylakeX" if needed <= flags else None


def prefer_fast_blas() -> str | None:
    """Set ``OPENBLAS_CORETYPE`` for jobs started from this process (see :func:`openblas_coretype_for_cpu`).

    Must run before numpy loads OpenBLAS in a job: the workflow calls it while parsing, and jobs
    inherit the environment. ``REPGEO_OPENBLAS_CORETYPE=keep`` leaves the environment's choice
    alone. Returns the core type set, or None.
    """
    if os.environ.get("REPGEO_OPENBLAS_CORETYPE", "auto") != "auto":
        return None
    coretype = openblas_coretype_for_cpu()
    if coretype:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    return coretype


def resolve_device(spec: str = "auto") -> str:
    """Map a config ``device`` value to a torch device string.

    ``auto`` picks ``cuda`` when a GPU is visible and ``cpu`` otherwise; ``cuda`` without a GPU is
    an error that says so.
    """
    spec = str(spec).lower()
    if spec not in {"auto", "cpu", "cuda"} and not spec.startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
    if spec == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if spec == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise RuntimeError(
            f"device {spec!r} was requested but torch sees no CUDA GPU; set device: auto or cpu"
        )
    return spec


def get_logger(name: str = "repgeo") -> logging.Logger:
    """The library's logger (handlers are attached by :func:`job`)."""
    return logging.getLogger(name)


def _inject_failure(name: str) -> None:
    spec = os.environ.get("REPGEO_FAIL_ONCE")
    if not spec:
        return
    prefix, _, marker = spec.partition(":")
    if name.startswith(prefix) and marker and not Path(marker).exists():
        Path(marker).write_text(name + "\n")
        raise RuntimeError(f"injected failure of {name!r} (REPGEO_FAIL_ONCE); the next attempt runs normally")


@contextlib.contextmanager
def job(log_path: str | os.PathLike | None, threads: int = 1, name: str = "repgeo") -> Iterator[logging.Logger]:
    """Run a workflow job: pin threads, log to ``log_path`` and stderr, log any failure.

    Yields the configured logger. An exception is logged with its traceback (so it is in the
    job's log file, where Snakemake and SLURM users look) and re-raised.
    """
    set_threads(threads)
    logger = get_logger("repgeo")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    start = time.perf_counter()
    logger.info("%s: start (threads=%d, pid=%d)", name, threads, os.getpid())
    # Where the job runs and which GPUs it was given: the first thing to check on a cluster.
    placement = {k: os.environ[k] for k in ("SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES") if k in os.environ}
    if placement:
        logger.info("%s: %s", name, ", ".join(f"{k}={v}" for k, v in placement.items()))
    try:
        _inject_failure(name)
        yield logger
    except BaseException:
        logger.exception("%s: failed after %.1f s", name, time.perf_counter() - start)
        raise
    else:
        logger.info("%s: done in %.1f s", name, time.perf_counter() - start)
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()

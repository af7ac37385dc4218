"""Process-level settings for a job: thread pinning, device choice and logging.

BLAS oversubscription is the single largest performance hazard on small machines: with more
BLAS/OpenMP threads than cores, ARPACK- and GEMM-heavy code ran 2-50x slower in the reference
measurements. Every job therefore pins numpy/scipy BLAS, OpenMP and torch to its own thread count.

Fault injection (for the workflow's own tests of retries and kills; never set in normal use):
``REPGEO_FAIL_ONCE=<job name prefix>:<marker file>`` makes the first job whose name starts with
the prefix fail after it started (it creates the marker; later attempts, which see the marker,
run normally), so a profile's ``retries`` can be shown to recover. :mod:`repgeo.io` reads
``REPGEO_KILL_BEFORE_RENAME`` (see there).

Logs of failed and killed attempts are kept. Snakemake deletes a job's ``log:`` files before it
runs the job, so a rerun (``--retries``, ``--rerun-incomplete``) would otherwise lose the log of
the attempt that failed. :func:`job` therefore gives the log a second name, ``<log>.N`` (the
first free N: a hard link, so it holds every line even if the job is killed with SIGKILL), and
removes that name only when the job succeeds. After a killed run and its rerun, ``x.log`` is
the rerun's log and ``x.log.1`` the killed attempt's.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
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
        raise RuntimeError(f"device {spec!r} was requested but torch sees no CUDA GPU; set device: auto or cpu")
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


def earlier_attempt_logs(log_path: str | os.PathLike) -> list[Path]:
    """The kept logs of earlier attempts of a job (``<log>.1``, ``<log>.2``, …), oldest first."""
    log = Path(log_path)
    prefix = log.name + "."
    found = []
    if log.parent.is_dir():
        for p in log.parent.iterdir():
            if p.name.startswith(prefix) and p.name[len(prefix) :].isdigit():
                found.append((int(p.name[len(prefix) :]), p))
    return [p for _, p in sorted(found)]


def _attempt_names(log: Path) -> Iterator[Path]:
    """``<log>.N`` for N after the highest one there, so that N grows with time."""
    existing = earlier_attempt_logs(log)
    n = int(existing[-1].name.rsplit(".", 1)[1]) + 1 if existing else 1
    while True:
        yield log.with_name(f"{log.name}.{n}")
        n += 1


def _link_to_free_name(log: Path) -> Path | None:
    """Hard-link ``log`` to the first free ``<log>.N``; None where the file system has no hard links."""
    for candidate in _attempt_names(log):
        try:
            os.link(log, candidate)
            return candidate
        except FileExistsError:
            continue
        except OSError as err:
            if err.errno in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                return None
            raise
    return None  # unreachable: the generator is endless


def _free_name(log: Path) -> Path:
    return next(c for c in _attempt_names(log) if not c.exists())


def _set_aside_existing_log(log: Path) -> None:
    """Make room for a new log at ``log`` without losing what is there.

    Snakemake normally deleted it before the job started. Where it did not (the job run outside
    Snakemake, or another Snakemake), a log that only this name holds moves to ``<log>.N``; one
    that an attempt name already holds (a hard link) is just unlinked, never truncated.
    """
    try:
        st = log.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        return
    if st.st_nlink == 1 and st.st_size > 0 and _link_to_free_name(log) is None:
        os.replace(log, _free_name(log))
        return
    log.unlink()


def _keep_attempt_log(log: Path, fmt: logging.Formatter) -> tuple[Path | None, logging.Handler | None]:
    """Give the new log at ``log`` its attempt name: a hard link, else a second log file."""
    attempt = _link_to_free_name(log)
    if attempt is not None:
        return attempt, None
    attempt = _free_name(log)
    handler = logging.FileHandler(attempt, mode="w")
    handler.setFormatter(fmt)
    return attempt, handler


@contextlib.contextmanager
def job(log_path: str | os.PathLike | None, threads: int = 1, name: str = "repgeo") -> Iterator[logging.Logger]:
    """Run a workflow job: pin threads, log to ``log_path`` and stderr, log any failure.

    Yields the configured logger. An exception is logged with its traceback (so it is in the
    job's log file, where Snakemake and SLURM users look) and re-raised.

    The log is also reachable as ``<log_path>.N`` while the job runs; that name stays when the
    job fails or is killed and goes when it succeeds, so a rerun never loses the log of the
    attempt before it (see the module docstring).
    """
    set_threads(threads)
    logger = get_logger("repgeo")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    attempt_log: Path | None = None
    earlier: list[Path] = []
    if log_path:
        log = Path(log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
        _set_aside_existing_log(log)
        earlier = earlier_attempt_logs(log)
        handlers.append(logging.FileHandler(log, mode="w"))
        attempt_log, extra = _keep_attempt_log(log, fmt)
        if extra is not None:
            handlers.append(extra)
    for h in handlers:
        if h.formatter is None:
            h.setFormatter(fmt)
        logger.addHandler(h)
    start = time.perf_counter()
    logger.info("%s: start (threads=%d, pid=%d)", name, threads, os.getpid())
    if earlier:
        logger.info("%s: logs of earlier attempts kept beside this one: %s", name, ", ".join(p.name for p in earlier))
    # Where the job runs and which GPUs it was given: the first thing to check on a cluster.
    placement = {k: os.environ[k] for k in ("SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES") if k in os.environ}
    if placement:
        logger.info("%s: %s", name, ", ".join(f"{k}={v}" for k, v in placement.items()))
    try:
        _inject_failure(name)
        yield logger
    except BaseException:
        logger.exception("%s: failed after %.1f s", name, time.perf_counter() - start)
        if attempt_log is not None:
            logger.info(
                "%s: this attempt's log is kept as %s (a rerun starts a new %s)",
                name,
                attempt_log.name,
                Path(log_path).name,
            )
        raise
    else:
        logger.info("%s: done in %.1f s", name, time.perf_counter() - start)
        if attempt_log is not None:
            for h in handlers[2:]:  # the attempt log's own handler, where there are no hard links
                logger.removeHandler(h)
                h.close()
            attempt_log.unlink(missing_ok=True)
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()

"""Artifacts a group can read (the umask's permissions, not tempfile's 0600/0700), and logs of
failed or killed attempts that survive the rerun (Snakemake deletes a job's log before it runs)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from repgeo import io
from repgeo.runtime import job

from workflow_helpers import REPO, local_env, snakemake, write_config


def earlier_attempt_logs(log):
    """The kept logs of earlier attempts beside ``log``: ``log.1``, ``log.2``, … in order."""
    return sorted(log.parent.glob(log.name + ".[0-9]*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[(0o022, 0o644, 0o755), (0o002, 0o664, 0o775)], ids=["umask022", "umask002"])
def umask(request):
    mask, file_mode, dir_mode = request.param
    old = os.umask(mask)
    try:
        yield mask, file_mode, dir_mode
    finally:
        os.umask(old)


def test_current_umask_is_read_without_changing_it(umask):
    mask, _, _ = umask
    assert io.current_umask() == mask
    assert io.current_umask() == mask  # reading did not change it
    assert io.default_mode() == 0o666 & ~mask and io.default_mode(directory=True) == 0o777 & ~mask


def test_every_writer_gives_the_umask_permissions(umask, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from repgeo.entropy import diffusion_spectrum

    _, file_mode, dir_mode = umask
    out = tmp_path / "out"
    io.write_parquet(pd.DataFrame({"a": [1, 2]}), out / "table.parquet", metadata={"k": 1})
    io.save_tensor({"x": np.zeros(3, dtype=np.float32)}, out / "tensor.pt")
    io.write_json({"a": 1}, out / "facts.json")
    io.write_text("hello\n", out / "note.txt")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    io.save_figure(fig, out / "figure.png")
    plt.close(fig)
    with io.atomic_path(out / "raw.bin") as tmp:
        tmp.write_bytes(b"\0")
    with io.atomic_dir(out / "folder") as tmp:
        (tmp / "inside.csv").write_text("a\n1\n")
    diffusion_spectrum(np.random.default_rng(0).normal(size=(20, 3))).save(out / "spectrum.npz")

    files = [
        "table.parquet",
        "tensor.pt",
        "facts.json",
        "note.txt",
        "figure.png",
        "raw.bin",
        "folder/inside.csv",
        "spectrum.npz",
    ]
    modes = {name: oct(_mode(out / name)) for name in files}
    assert modes == {name: oct(file_mode) for name in files}
    assert oct(_mode(out / "folder")) == oct(dir_mode)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_a_failed_attempts_log_survives_the_rerun(tmp_path):
    log = tmp_path / "logs" / "step.log"
    with pytest.raises(RuntimeError, match="boom"):
        with job(log, 1, "step") as logger:
            logger.info("first attempt working")
            raise RuntimeError("boom")
    log.unlink()  # what Snakemake does to a job's log before it runs the job again
    with job(log, 1, "step") as logger:
        logger.info("second attempt working")
    kept = earlier_attempt_logs(log)
    assert [p.name for p in kept] == ["step.log.1"]
    first = kept[0].read_text()
    assert "first attempt working" in first and "boom" in first and "kept as step.log.1" in first
    text = log.read_text()
    assert "second attempt working" in text and "step: done" in text and "step.log.1" in text
    assert "first attempt working" not in text
    # Run again outside Snakemake (nothing deleted the log): the finished log is kept too, never truncated.
    with job(log, 1, "step"):
        pass
    assert [p.name for p in earlier_attempt_logs(log)] == ["step.log.1", "step.log.2"]
    assert "second attempt working" in (log.parent / "step.log.2").read_text()
    assert "first attempt working" in (log.parent / "step.log.1").read_text()


def test_a_killed_attempts_log_survives_the_rerun(tmp_path):
    log = tmp_path / "step.log"
    code = textwrap.dedent(f"""
        import os, signal
        from repgeo.runtime import job
        with job({str(log)!r}, 1, "step") as logger:
            logger.info("working before the kill")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    log.unlink()
    with job(log, 1, "step"):
        pass
    assert "working before the kill" in (tmp_path / "step.log.1").read_text()
    assert "step: done" in log.read_text()


@pytest.mark.workflow
def test_workflow_rerun_keeps_the_logs_of_the_killed_and_the_failed_attempt(tmp_path):
    config = {"datasets": {"digits": {"source": "sklearn_digits", "n": 200}}}
    write_config(tmp_path, config)
    target = "results/data/digits/samples.parquet"
    base = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
            "--configfile", str(tmp_path / "config.yaml"), "--cores", "1"]  # fmt: skip
    # 1. The whole run is SIGKILLed mid-job (before the rename of samples.parquet).
    killed = subprocess.run([*base, target], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=local_env({"REPGEO_KILL_BEFORE_RENAME": "samples.parquet"}), start_new_session=True)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:] + killed.stderr[-3000:]
    # 2. Recovery as documented, with an attempt that fails once and the retry that succeeds.
    snakemake(tmp_path, "--unlock")
    marker = tmp_path / "failed-once"
    rerun = subprocess.run([*base, "--profile", str(REPO / "workflow/profiles/local"), "--retries", "1", target], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, env=local_env({"REPGEO_FAIL_ONCE": f"prepare_data digits:{marker}"}))  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert marker.exists()

    log = tmp_path / "results/logs/prepare_data/digits.log"
    assert [p.name for p in earlier_attempt_logs(log)] == ["digits.log.1", "digits.log.2"]
    killed_log = (log.parent / "digits.log.1").read_text()
    assert "prepare_data digits: start" in killed_log and "done" not in killed_log and "failed" not in killed_log
    failed_log = (log.parent / "digits.log.2").read_text()
    assert "injected failure" in failed_log and "kept as digits.log.2" in failed_log
    final = log.read_text()
    assert "prepare_data digits: done" in final and "digits.log.1, digits.log.2" in final


def _has_mgcv() -> bool:
    import shutil

    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(mgcv)"], capture_output=True, timeout=120).returncode == 0


@pytest.mark.workflow
@pytest.mark.skipif(not _has_mgcv(), reason="needs Rscript with mgcv (apt-get install r-base-core r-cran-mgcv)")
def test_the_r_mgcv_script_keeps_a_failed_attempts_log(tmp_path):
    """scripts/audio_gamm_mgcv.R writes its own log: a failed attempt's survives the rerun there too."""
    (tmp_path / "Snakefile").write_text(
        textwrap.dedent(f"""
        rule mgcv:
            input: data="data.csv"
            output: tables=directory("out.mgcv")
            params:
                library={str(REPO / "lib/repgeo/stats/gamm_mgcv.R")!r},
                settings={{"k": 5, "random_smooths": False, "ar1": False, "grid": 10}},
            log: "logs/mgcv.log"
            script: {str(REPO / "scripts/audio_gamm_mgcv.R")!r}
    """)
    )
    data = tmp_path / "data.csv"
    data.write_text("not,the,columns\n1,2,3\n")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--directory",
        str(tmp_path),
        "--snakefile",
        str(tmp_path / "Snakefile"),
    ]
    failed = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=local_env())
    assert failed.returncode != 0
    rng = np.random.default_rng(0)
    rows = [
        f"conv1,{w}{t},{i / 29},{np.sin(6 * i / 29) + (w == 'b') * 0.5 + rng.normal(0, 0.2)},{w}"
        for w in "ab"
        for t in range(6)
        for i in range(30)
    ]
    data.write_text("layer,token,time,value,word\n" + "\n".join(rows) + "\n")
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=local_env())
    assert done.returncode == 0, done.stderr[-3000:]
    log = tmp_path / "logs/mgcv.log"
    assert [p.name for p in earlier_attempt_logs(log)] == ["mgcv.log.1"]
    assert "must have the columns" in (tmp_path / "logs/mgcv.log.1").read_text()
    assert "conv1: done" in log.read_text()

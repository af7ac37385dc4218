"""Runs killed with SIGKILL mid-write and mid-training: nothing half-written under a final name,
the next run reruns the incomplete job, and training resumes from its last checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from repgeo import io

from workflow_helpers import REPO, local_env, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow


def _start(work, *args, env=None):
    """Snakemake in its own process group (so that group can be killed without killing pytest)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(work / "config.yaml"),
        *args,
    ]
    return subprocess.Popen(
        cmd,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=local_env(env),
        start_new_session=True,
    )


def test_kill_mid_write_leaves_no_complete_looking_artifact_and_is_rerun(tmp_path):
    config = {"datasets": {"digits": {"source": "sklearn_digits", "n": 200}}}
    write_config(tmp_path, config)
    target = "results/data/digits/samples.parquet"
    # The job writes arrays.pt, then samples.parquet to a temporary name; the whole run
    # (Snakemake and the job) is SIGKILLed before that rename.
    proc = _start(tmp_path, "--cores", "1", target, env={"REPGEO_KILL_BEFORE_RENAME": "samples.parquet"})
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    folder = tmp_path / "results/data/digits"
    assert not (folder / "samples.parquet").exists()
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".samples.parquet.")]
    assert leftovers and all(name.endswith(".tmp") for name in leftovers)  # hidden, and named as temporary
    # Snakemake recorded the job as incomplete: the next run (profile: rerun-incomplete) redoes it.
    assert planned_jobs(tmp_path, "--rerun-incomplete", target) == {"prepare_data": 1}
    # arrays.pt was renamed into place before the kill, yet Snakemake refuses to use it: the job
    # that wrote it never finished. Recovery (docs/reliability.md): --unlock (the killed run's lock), then the
    # same command with the profile, which sets rerun-incomplete.
    refused = snakemake(tmp_path, "--cores", "1", target, check=False)
    assert refused.returncode != 0 and "Incomplete files:\nresults/data/digits/arrays.pt" in refused.stderr
    snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, "--profile", str(REPO / "workflow/profiles/local"), "--cores", "1", target)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    write_config(fresh, config)
    snakemake(fresh, "--cores", "1", target)
    for name in ("samples.parquet", "arrays.pt"):
        a, b = folder / name, fresh / "results/data/digits" / name
        if name.endswith(".pt"):
            np.testing.assert_array_equal(io.load_tensor(a).numpy(), io.load_tensor(b).numpy())
        else:
            assert io.read_parquet(a).equals(io.read_parquet(b))


def test_kill_mid_training_resumes_from_the_last_checkpoint(tmp_path):
    config = {
        "threads": {"training": 1},
        "datasets": {"digits": {"source": "sklearn_digits"}},
        "training": {
            "digits": {
                "dataset": "digits",
                "arch": "small_cnn",
                "width": 16,
                "batch_size": 16,
                "modes": ["supervised"],
                "seeds": [0],
                "epochs": 10,
                "eval_n": 50,
            }
        },
    }
    write_config(tmp_path, config)
    target = "results/training/digits/supervised/seed0/history.parquet"
    log = tmp_path / "results/logs/train_classifier/digits/supervised/seed0.log"
    proc = _start(tmp_path, "--cores", "1", target)
    deadline = time.time() + 300
    while time.time() < deadline and not (log.exists() and "epoch 3/10" in log.read_text()):
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    run = tmp_path / "results/training/digits/supervised/seed0"
    assert not (run / "history.parquet").exists() and not (run / "embeddings.pt").exists()
    checkpoints = list(run.glob("checkpoint-*.pt"))
    assert len(checkpoints) == 1
    done = io.load_tensor(checkpoints[0])["history"][-1]["epoch"]
    assert 3 <= done < 10  # killed after epoch 3 was saved, before the end

    snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, "--profile", str(REPO / "workflow/profiles/local"), "--cores", "1", target)
    text = log.read_text()
    assert f"resumed from {checkpoints[0].relative_to(tmp_path)} at epoch {done}" in text
    assert f"epoch {done}/10" not in text and "epoch 10/10" in text
    # The resumed run is the uninterrupted one, bit for bit.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    write_config(fresh, config)
    snakemake(fresh, "--cores", "1", target)
    a = io.load_tensor(run / "embeddings.pt")["Z"]
    b = io.load_tensor(fresh / "results/training/digits/supervised/seed0/embeddings.pt")["Z"]
    assert a.shape[0] == 11
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (
        io.read_parquet(run / "history.parquet")
        .drop(columns="train_loss")
        .equals(
            io.read_parquet(fresh / "results/training/digits/supervised/seed0/history.parquet").drop(
                columns="train_loss"
            )
        )
    )

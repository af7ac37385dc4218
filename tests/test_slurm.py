"""The workflow submitted to a real one-node SLURM cluster: same artifacts as a local run, GPU
requests, a failed job retried by the profile (issue: cluster submission).

The cluster comes from tests/slurm/start-local-slurm.sh (a copy of the project's
../shared/cluster script: Debian's slurm-wlm, munge, slurmdbd; one fake GPU). The test skips
with the reason when the machine cannot run it (not root, no apt-get); it stops the cluster
afterwards only if it started it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_helpers import REPO, compare_results, snakemake, write_config

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

SCRIPT = Path(__file__).parent / "slurm" / "start-local-slurm.sh"
CONFIG = {
    "threads": {"data": 1, "diffusion": 1, "geometry": 1, "training": 1, "entropy": 1, "plot": 1},
    "datasets": {
        "digits": {"source": "sklearn_digits", "n": 300},
        "torus": {"source": "manifold", "manifold": "torus", "n": 400},
    },
    "diffusion": {"digits": {"dataset": "digits", "n_components": 3}},
    "geometry": {
        "torus": {
            "dataset": "torus",
            "mode": "parity",
            "n0_dimension": 40,
            "n0_curvature": 30,
            "baselines": False,
            "null_controls": False,
        }
    },
    "training": {
        "digits": {
            "dataset": "digits",
            "arch": "mlp",
            "modes": ["supervised"],
            "seeds": [0],
            "epochs": 2,
            "width": 16,
            "eval_n": 40,
            "gpu": True,
            "entropy": {"n_repetitions": 2, "n_clusters": 3},
        }
    },
    "entropy_toys": {"spd": {"n": 40, "seeds": 2}},
    "generative": {
        "digits": {
            "dataset": "digits",
            "models": ["scfwae"],
            "latent_dim": 4,
            "width": 16,
            "epochs": 2,
            "eval_every": 1,
            "batch_size": 64,
            "evaluation": {
                "n_generated": 100,
                "kid_subsets": 3,
                "kid_subset_size": 50,
                "cw_subset_size": 60,
                "cw_repeats": 1,
            },
            "feature_net": {"arch": "mlp", "width": 16, "hidden": 1, "epochs": 1},
            "sheets": {"rows": 2, "columns": 3},
        }
    },
}


def _sinfo_ok() -> bool:
    return (
        shutil.which("sinfo") is not None and subprocess.run(["sinfo"], capture_output=True, timeout=30).returncode == 0
    )


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("SLURM test needs root (the local cluster installs Debian packages and starts daemons)")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("SLURM test needs apt-get to install slurm-wlm (not a Debian machine)")
    was_running = _sinfo_ok()
    proc = subprocess.run(["bash", str(SCRIPT), "--fake-gpus", "1"], capture_output=True, text=True, timeout=900)
    if proc.returncode in (1, 2):  # precondition or package installation failed: this machine cannot
        pytest.skip(
            f"cannot start a local SLURM cluster (exit {proc.returncode}): {proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        )
    assert proc.returncode == 0, f"start-local-slurm.sh failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    yield
    if not was_running:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


@pytest.mark.slow  # 7 minutes with the cluster's start: more than a third of make test (make test-slow)
def test_slurm_run_equals_local_run_requests_gpus_and_retries(slurm_cluster, tmp_path):
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    for work in (local, cluster):
        work.mkdir()
        write_config(work, CONFIG)
    snakemake(local, "--cores", "2")

    marker = tmp_path / "failed-once"
    env = {**os.environ, "REPGEO_FAIL_ONCE": f"entropy_toy spd:{marker}", "PYTHONUNBUFFERED": "1"}
    cmd = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "60",
        "1200",
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(cluster),
        "--configfile",
        str(cluster / "config.yaml"),
        "--profile",
        str(REPO / "workflow/profiles/slurm"),
    ]
    proc = subprocess.run(cmd, cwd=cluster, capture_output=True, text=True, env=env, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # Every job ran under SLURM, the GPU job with the GPU the profile requested for it.
    train_log = (cluster / "results/logs/train_classifier/digits/supervised/seed0.log").read_text()
    assert "SLURM_JOB_ID=" in train_log and "CUDA_VISIBLE_DEVICES=0" in train_log
    diffusion_log = (cluster / "results/logs/diffusion_embed/digits.log").read_text()
    assert "SLURM_JOB_ID=" in diffusion_log and "CUDA_VISIBLE_DEVICES" not in diffusion_log
    # The injected failure happened once and the profile's retry recovered from it.
    assert marker.exists() and "Trying to restart job" in out

    compared, problems = compare_results(local, cluster)
    # The autoencoder's history (and the training state that holds it) records wall-clock seconds.
    problems = [p for p in problems if not (p.startswith("results/generative/") and "seconds" in p)]
    assert not problems, "\n".join(problems)
    assert len(compared) >= 15 and any(c.endswith("trajectory.parquet") for c in compared)
    assert "results/generative/digits/scfwae/metrics.parquet" in compared


@pytest.mark.slow  # about 3 minutes more (make test-slow)
def test_slurm_runs_the_inversion_and_audio_branches_like_a_local_run(slurm_cluster, tmp_path):
    """The two branches the CI test leaves out, submitted the same way: equal artifacts, GPU requests honoured."""
    from test_workflow_audio import TINY as AUDIO
    from test_workflow_inversion import TINY as INVERSION

    config = {
        "threads": {"data": 1, "training": 1, "entropy": 1, "plot": 1},
        "datasets": {**INVERSION["datasets"], **AUDIO["datasets"]},
        "inversion": {"tiny": {**INVERSION["inversion"]["tiny"], "gpu": True}},
        "audio": AUDIO["audio"],
    }
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    for work in (local, cluster):
        work.mkdir()
        write_config(work, config)
    snakemake(local, "--cores", "2")
    cmd = [
        "timeout", "-s", "INT", "-k", "60", "1500", sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"), "--directory", str(cluster), "--configfile", str(cluster / "config.yaml"),
        "--profile", str(REPO / "workflow/profiles/slurm"),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=cluster, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=1800
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    network_log = (cluster / "results/logs/inversion_network/tiny.log").read_text()
    assert "SLURM_JOB_ID=" in network_log and "CUDA_VISIBLE_DEVICES=0" in network_log
    compared, problems = compare_results(local, cluster)
    # The GAN's history records wall-clock seconds, also inside its checkpoints (weights are equal).
    problems = [p for p in problems if not (p.startswith("results/audio/") and "/gan/" in p and "seconds" in p)]
    assert not problems, "\n".join(problems)
    assert "results/inversion/tiny/comparison.parquet" in compared and "results/audio/words/gan/model.pt" in compared
    assert (
        sum(c.startswith("results/inversion/") for c in compared) >= 20
        and sum(c.startswith("results/audio/") for c in compared) >= 10
    )

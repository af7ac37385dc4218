"""A config file runs as written (issue 17, point 1).

Snakemake 9 merges a ``--configfile`` into the Snakefile's ``configfile:``; repgeo's Snakefile reads
the default ``config.yaml`` only when no config file is given on the command line. These tests run
Snakemake from the repository root, as the README and the headers of ``configs/`` tell a user to,
and check that the planned jobs are exactly those of the given file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workflow_helpers import ENTRY_SECTIONS, REPO, local_env, snakemake_command

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def _snakemake(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake as a user types it in ``cwd``: no --directory, and --configfile only where given."""
    return subprocess.run(
        snakemake_command(*args), cwd=cwd, capture_output=True, text=True, timeout=600, env=local_env()
    )


def _planned_outputs(proc: subprocess.CompletedProcess) -> list[str]:
    """Every output path of the jobs in a dry run's job list."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    paths = []
    for line in out.splitlines():
        m = re.match(r"\s+output: (.*)$", line)
        if m:
            paths += [p.strip() for p in m.group(1).split(",")]
    return paths


def _entry_names(cfg: dict) -> set[str]:
    return {name for section in ENTRY_SECTIONS for name in (cfg.get(section) or {})}


def _runnable_copy(path: Path, tmp_path: Path) -> Path:
    """``path`` itself, or a copy whose dataset paths outside ../shared (a user's own folders such as
    /data/celeba, absent here) point at the shared copy of the same source, so that it plans."""
    cfg = yaml.safe_load(path.read_text())
    stand_ins = {
        "celeba": "../shared/datasets/celeba_89x109",
        "mnist": "../shared/datasets/mnist/mnist.npz",
        "fsdd": "../shared/datasets/fsdd",
    }
    changed = False
    for spec in (cfg.get("datasets") or {}).values():
        if "path" in spec and not (REPO / spec["path"]).exists():
            spec["path"] = stand_ins[spec["source"]]
            changed = True
    if not changed:
        return path
    copy = tmp_path / path.name
    copy.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return copy


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_each_config_file_plans_only_its_own_entries(path, shared_datasets, tmp_path):
    """From the repository root, ``--configfile configs/X.yaml`` plans X's entries and no default one."""
    configfile = _runnable_copy(path, tmp_path)
    cfg = yaml.safe_load(configfile.read_text())
    outputs = _planned_outputs(_snakemake(REPO, "-n", "--forceall", "--configfile", str(configfile)))
    assert outputs, f"{path.name} plans no job"
    own = _entry_names(cfg)
    default_only = _entry_names(DEFAULT) - own
    leaked = sorted({p for p in outputs if set(Path(p).parts[2:3]) & default_only})
    assert not leaked, f"{path.name} plans outputs of default entries: {leaked[:5]}"
    # Every entry of the file that produces results appears in the plan.
    folders = {Path(p).parts[2] for p in outputs if p.startswith("results/") and len(Path(p).parts) > 3}
    for section in ("diffusion", "geometry", "generative", "inversion", "audio", "entropy_zoo"):
        for name in cfg.get(section) or {}:
            assert name in folders, f"{path.name}: {section}.{name} is not planned"


def test_a_config_file_and_replace_workflow_config_plan_the_same_jobs(shared_datasets):
    """Snakemake's own "replace" mode is the independent oracle: the plain command plans the same."""
    path = str(REPO / "configs" / "entropy_paper.yaml")
    plain = _planned_outputs(_snakemake(REPO, "-n", "--forceall", "--configfile", path))
    replaced = _planned_outputs(_snakemake(REPO, "-n", "--forceall", "--configfile", path, "--replace-workflow-config"))
    assert sorted(plain) == sorted(replaced)


def test_a_same_named_entry_inherits_no_default_key(tmp_path):
    """A user's ``swiss_roll`` diffusion entry without ``epsilon`` gets the automatic pick, not the
    default entry's ``epsilon: 4``, when run beside the default config.yaml."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "config.yaml", work / "config.yaml")  # the default config, as in the repository root
    mine = {
        "datasets": {"swiss_roll": {"source": "manifold", "manifold": "swiss_roll", "n": 300}},
        "diffusion": {"swiss_roll": {"dataset": "swiss_roll"}},
    }
    (work / "my.yaml").write_text(yaml.safe_dump(mine))
    proc = _snakemake(work, "results/diffusion/swiss_roll/sweep.parquet", "--cores", "1", "--configfile", "my.yaml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    sweep = pd.read_parquet(work / "results/diffusion/swiss_roll/sweep.parquet")
    chosen = sweep.loc[sweep["chosen"]]
    assert len(chosen) == 1
    assert chosen["kind"].iloc[0] == "half_plateau"  # the schema's default rule, not "configured"
    assert chosen["epsilon"].iloc[0] != pytest.approx(4.0)
    # Only the user's dataset was prepared: no default dataset folder exists.
    assert sorted(p.name for p in (work / "results/data").iterdir()) == ["swiss_roll"]


def test_without_a_config_file_the_default_config_runs_and_config_overrides_apply(tmp_path):
    """No --configfile: the working folder's config.yaml; --config KEY=VALUE still applies on top."""
    work = tmp_path / "work"
    work.mkdir()
    cfg = {"datasets": {"torus": {"source": "manifold", "manifold": "torus", "n": 200}}}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    outputs = _planned_outputs(_snakemake(work, "-n", "--config", "device=cpu"))
    assert "results/data/torus/samples.parquet" in outputs
    proc = _snakemake(work, "-n", "--config", "device=tpu")
    assert proc.returncode != 0 and "device" in (proc.stdout + proc.stderr)


def _make_dry_run(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # -B: print every recipe, as on a fresh machine; VENV elsewhere so nothing here is touched.
    proc = subprocess.run(
        ["make", "-n", "-B", *args, "VENV=/nonexistent/venv"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_run_config_runs_that_file_and_installs_no_test_oracle():
    out = _make_dry_run("run", "CONFIG=configs/real_data.yaml")
    commands = [line for line in out.splitlines() if "snakemake" in line]
    assert len(commands) == 2 and all(c.endswith("--configfile configs/real_data.yaml") for c in commands), commands
    # Snakemake reports a YAML error in a --configfile without its place; the pre-flight gives it.
    assert "/nonexistent/venv/bin/python -m repgeo.config configs/real_data.yaml" in out.splitlines()
    # dse-dsmi (Yale non-commercial licence) comes only with the test extra.
    installs = [line for line in out.splitlines() if "pip install" in line]
    assert installs and not any("[test]" in line or "dse" in line for line in installs), installs
    assert "[test]" in _make_dry_run("test")


def test_the_readme_one_branch_command_plans_only_that_chain():
    """README, "One branch, one file": the entropy trajectory of the default config as a target
    prepares the digits, trains the classifiers and computes spectra and the trajectory, nothing else."""
    target = "results/entropy/digits/trajectory.parquet"
    assert target in (REPO / "README.md").read_text()
    proc = _snakemake(REPO, "-n", "--forceall", "--profile", "workflow/profiles/local", target)
    outputs = _planned_outputs(proc)
    rules = set(re.findall(r"^rule (\w+):", proc.stdout + proc.stderr, re.M))
    assert rules == {
        "prepare_data",
        "train_classifier",
        "entropy_input_groups",
        "entropy_spectra",
        "entropy_trajectory",
    }, rules
    assert {p for p in outputs if p.startswith("results/data/")} <= {
        "results/data/digits/samples.parquet",
        "results/data/digits/arrays.pt",
    }
    training = DEFAULT["training"]["digits"]
    runs = len(training["modes"]) * len(training["seeds"])
    assert sum(p.endswith("/history.parquet") for p in outputs) == runs

"""The workflow end to end on a tiny config, partial reruns from parameter changes, config errors."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from repgeo import io
from repgeo.data import load_dataset
from repgeo.diffusion import diffusion_map

from workflow_helpers import local_env, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

TINY = {
    "threads": {"data": 1, "diffusion": 1, "plot": 1},
    "datasets": {
        "digits": {"source": "sklearn_digits", "n": 300},
        "torus": {"source": "manifold", "manifold": "torus", "n": 400},
    },
    "diffusion": {
        "digits": {"dataset": "digits", "n_components": 3},
        "torus_sparse": {
            "dataset": "torus",
            "method": "sparse",
            "n_neighbors": 40,
            "alpha": 1.0,
            "t": 2,
            "color_by": "true_scalar_curvature",
        },
        "digits_seed": {"dataset": "digits", "convention": "celeba", "split": "train", "n_components": 3},
    },
    "geometry": {
        "torus": {"dataset": "torus", "mode": "parity", "n0_dimension": 40, "n0_curvature": 30, "null_controls": False},
    },
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The whole DAG of TINY, run once for the tests of this module."""
    work = tmp_path_factory.mktemp("tiny")
    write_config(work, TINY)
    snakemake(work, "--cores", "2")
    return work


def test_whole_dag_writes_every_artifact(tiny_run):
    w = tiny_run
    for d in ("digits", "torus"):
        assert (w / f"results/data/{d}/samples.parquet").exists()
        assert (w / f"results/data/{d}/arrays.pt").exists()
        assert (w / f"results/logs/prepare_data/{d}.log").read_text().strip()
        assert (w / f"results/benchmarks/prepare_data/{d}.tsv").exists()
    for name in TINY["diffusion"]:
        for f in (
            "sweep.parquet",
            "embedding.parquet",
            "eigenvalues.parquet",
            "sweep.png",
            "embedding_3d.png",
            "summary.html",
        ):
            assert (w / "results/diffusion" / name / f).stat().st_size > 0, (name, f)
    assert "digits" in (w / "results/data/overview.html").read_text()
    # Nothing left to do, and no temporary files left behind by the atomic writers.
    assert planned_jobs(w) == {}
    assert not list((w / "results").rglob("*.tmp"))


def test_artifacts_hold_the_library_numbers(tiny_run):
    """The embedding on disk equals the library's diffusion map of the prepared data."""
    w = tiny_run
    samples = io.read_parquet(w / "results/data/torus/samples.parquet")
    arrays = io.load_tensor(w / "results/data/torus/arrays.pt")
    ds = load_dataset({"source": "manifold", "manifold": "torus", "n": 400})
    assert arrays.dtype.is_floating_point and str(arrays.dtype) == "torch.float32"
    np.testing.assert_array_equal(arrays.numpy(), ds.arrays)
    pd.testing.assert_frame_equal(samples, ds.samples)

    sweep = io.read_parquet(w / "results/diffusion/torus_sparse/sweep.parquet")
    assert list(sweep.columns) == ["epsilon", "weight_sum", "log_slope", "kind", "chosen"]
    eps = sweep.loc[sweep["chosen"], "epsilon"].item()
    emb = io.read_parquet(w / "results/diffusion/torus_sparse/embedding.parquet")
    assert list(emb.columns[:6]) == ["id", "dc1", "dc2", "dc3", "dc4", "dc5"]
    assert "true_scalar_curvature" in emb.columns and list(emb["id"]) == list(samples["id"])
    ref = diffusion_map(ds.arrays, eps, 5, t=2, alpha=1.0, method="sparse", n_neighbors=40)
    np.testing.assert_allclose(emb[[f"dc{j}" for j in range(1, 6)]].to_numpy(), ref.coordinates, atol=1e-8)
    eig = io.read_parquet(w / "results/diffusion/torus_sparse/eigenvalues.parquet")
    np.testing.assert_allclose(eig["eigenvalue"], ref.eigenvalues, rtol=1e-10)
    assert eig["trivial"].tolist() == [True] + [False] * 5
    assert eig["coordinate"].isna().tolist() == [True] + [False] * 5
    assert eig["coordinate"].iloc[1:].tolist() == ["dc1", "dc2", "dc3", "dc4", "dc5"]
    meta = io.read_parquet_metadata(w / "results/diffusion/torus_sparse/embedding.parquet")
    assert meta["method"] == "sparse" and meta["n_neighbors"] == 40 and meta["epsilon"] == eps

    # The celeba-convention entry embeds the train split only and keeps the trivial coordinate.
    seed_emb = io.read_parquet(w / "results/diffusion/digits_seed/embedding.parquet")
    assert set(seed_emb["split"]) == {"train"} and len(seed_emb) == 240
    seed_eig = io.read_parquet(w / "results/diffusion/digits_seed/eigenvalues.parquet")
    assert seed_eig["coordinate"].tolist()[:3] == ["dc1", "dc2", "dc3"]


def test_report_collects_figures_and_tables(tiny_run):
    snakemake(tiny_run, "--report", "report.html")
    html = (tiny_run / "report.html").read_text(errors="replace")
    for token in ("sweep.png", "embedding_3d.png", "summary.html", "overview.html", "Bandwidth sweep"):
        assert token in html, token


def _variant(tiny_run, tmp_path, change):
    """A copy of the finished tiny run whose config is changed by ``change(config)``."""
    import shutil

    work = tmp_path / "variant"
    shutil.copytree(tiny_run, work, symlinks=True)
    cfg = copy.deepcopy(TINY)
    change(cfg)
    write_config(work, cfg)
    return work


def test_changing_t_reruns_only_that_embedding(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: c["diffusion"]["digits"].update(t=3))
    assert planned_jobs(work) == {"diffusion_embed": 1, "diffusion_figures": 1, "all": 1}


def test_changing_a_sweep_parameter_reruns_sweep_and_dependants(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: c["diffusion"]["digits"].update(sweep={"n_epsilons": 30}))
    assert planned_jobs(work) == {"diffusion_sweep": 1, "diffusion_embed": 1, "diffusion_figures": 1, "all": 1}


def test_changing_a_colour_reruns_only_the_figures(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: c["diffusion"]["torus_sparse"].update(color_by="theta"))
    assert planned_jobs(work) == {"diffusion_figures": 1, "all": 1}


def test_changing_a_dataset_reruns_its_whole_branch(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: c["datasets"]["torus"].update(n=350))
    assert planned_jobs(work) == {
        "prepare_data": 1,
        "data_overview": 1,
        "diffusion_sweep": 1,
        "diffusion_embed": 1,
        "diffusion_figures": 1,
        "geometry_points": 1,
        "geometry_knn": 1,
        "geometry_dimension": 1,
        "geometry_curvature": 1,
        "geometry_baselines": 1,
        "geometry_tables": 1,
        "geometry_figures": 1,
        "all": 1,
    }


def test_changing_curvature_dim_reruns_curvature_and_what_follows(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: c["geometry"]["torus"].update(curvature_dim=2))
    # The dimension stage and the kNN graph are untouched.
    assert planned_jobs(work) == {
        "geometry_curvature": 1,
        "geometry_baselines": 1,
        "geometry_tables": 1,
        "geometry_figures": 1,
        "all": 1,
    }


@pytest.mark.parametrize(
    "key,expected",
    [
        (
            "n0_curvature",
            {"geometry_curvature": 1, "geometry_baselines": 1, "geometry_tables": 1, "geometry_figures": 1, "all": 1},
        ),
        (
            "n0_dimension",
            {
                "geometry_dimension": 1,
                "geometry_curvature": 1,
                "geometry_baselines": 1,
                "geometry_tables": 1,
                "geometry_figures": 1,
                "all": 1,
            },
        ),
    ],
)
def test_changing_a_geometry_n0_reruns_its_stage_and_what_follows(tiny_run, tmp_path, key, expected):
    work = _variant(tiny_run, tmp_path, lambda c: c["geometry"]["torus"].update({key: 20}))
    assert planned_jobs(work) == expected


def test_allowed_rules_runs_only_those_rules(tiny_run, tmp_path):
    """A changed dataset makes its whole branch outdated; --allowed-rules runs only the listed rules."""
    work = _variant(tiny_run, tmp_path, lambda c: c["datasets"]["digits"].update(n=250))
    assert planned_jobs(work, "--allowed-rules", "prepare_data", "data_overview") == {
        "prepare_data": 1,
        "data_overview": 1,
        "all": 1,
    }
    snakemake(work, "--cores", "2", "--allowed-rules", "prepare_data", "data_overview")
    assert len(io.read_parquet(work / "results/data/digits/samples.parquet")) == 250
    # The rest of the branch is still to do, and a plain run does it.
    assert planned_jobs(work)["diffusion_sweep"] == 2


def test_changing_k_rebuilds_the_graph_but_not_the_points(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: c["geometry"]["torus"].update(k=24))
    jobs = planned_jobs(work)
    assert "geometry_points" not in jobs and "prepare_data" not in jobs
    assert jobs["geometry_knn"] == 1 and jobs["geometry_dimension"] == 1 and jobs["geometry_curvature"] == 1


def test_geometry_artifacts_hold_the_library_numbers(tiny_run):
    from repgeo.geometry.estimate import estimate_curvature, estimate_dimension

    w = tiny_run / "results/geometry/torus"
    X = io.load_tensor(w / "points.pt").numpy()
    assert X.dtype == np.float64 and X.shape == (400, 3)
    pw = io.read_parquet(w / "pointwise.parquet")
    assert {
        "id",
        "dimension",
        "scalar_curvature",
        "gamma_eig1",
        "gamma_eig3",
        "boundary",
        "true_scalar_curvature",
    } <= set(pw.columns)
    dim = estimate_dimension(X, n0=40, mode="parity")
    np.testing.assert_array_equal(pw["dimension"], dim.pointwise)
    curv = estimate_curvature(X, dim.global_dim, n0=30, mode="parity")
    np.testing.assert_allclose(pw["scalar_curvature"], curv.scalar, rtol=1e-8, atol=1e-10)
    summary = io.read_parquet(w / "summary.parquet").set_index("method")
    est = summary.loc["diffusion_geometry (parity)"]
    assert est["global_dimension"] == 2 and est["curvature_d"] == 2
    t = pw["true_scalar_curvature"].to_numpy()
    assert est["mae"] == pytest.approx(np.mean(np.abs(curv.scalar - t)))
    assert est["correlation"] == pytest.approx(np.corrcoef(curv.scalar, t)[0, 1])
    assert {"twonn (scikit-dimension)", "quadratic fit (Sritharan et al. 2021)"} <= set(summary.index)


def test_forcerun_and_until_behave_as_documented(tiny_run, tmp_path):
    work = _variant(tiny_run, tmp_path, lambda c: None)
    # --forcerun RULE: that rule's jobs and everything downstream of them.
    assert planned_jobs(work, "--forcerun", "diffusion_sweep") == {
        "diffusion_sweep": 3,
        "diffusion_embed": 3,
        "diffusion_figures": 3,
        "all": 1,
    }
    # A file target reruns one entry only.
    assert planned_jobs(work, "--forcerun", "results/diffusion/digits/sweep.parquet", "--until", "diffusion_embed") == {
        "diffusion_sweep": 1,
        "diffusion_embed": 1,
    }


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda c: c["diffusion"]["digits"].update(t="soon"), "diffusion.digits.t: expected number, got 'soon'"),
        (lambda c: c["datasets"]["digits"].update(colour="red"), "unknown key 'colour' in datasets.digits"),
        (lambda c: c.update(diffusoin={}), "unknown key 'diffusoin' at the top level"),
        (lambda c: c["diffusion"]["digits"].update(alpha=2), "diffusion.digits.alpha: expected a value <= 1, got 2"),
        (
            lambda c: c["datasets"].update(mnist={"source": "mnist", "path": "no/such/mnist.npz"}),
            "datasets.mnist.path: 'no/such/mnist.npz' does not exist",
        ),
        (
            lambda c: c["diffusion"]["digits"].update(dataset="digitz"),
            "diffusion.digits.dataset: 'digitz' is not a dataset",
        ),
        (
            lambda c: c["geometry"]["torus"].update(diffusion="digits"),
            "geometry.torus: give exactly one of dataset or diffusion",
        ),
        (
            lambda c: c["geometry"]["torus"].update(curvature_dim="most"),
            "geometry.torus.curvature_dim: 'most' is not one of",
        ),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, change, expected):
    cfg = copy.deepcopy(TINY)
    change(cfg)
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_lint_reports_only_the_environment_suggestion(repo_root):
    """snakemake --lint: nothing but the per-rule conda/container suggestion (one pinned venv
    serves every rule, see docs/configuration.md)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
        env=local_env(),
    )
    out = proc.stdout + proc.stderr
    lints = [line.strip() for line in out.splitlines() if line.strip().startswith("* ")]
    assert lints, out[-2000:]  # the linter ran and found the rules
    assert set(lints) == {"* Specify a conda environment or container for each rule.:"}, out[-4000:]


def test_seed_protocol_from_the_default_config(tmp_path):
    """Arnold's (2025) protocol exactly as the default config ships it: LFW faces -> 5 diffusion
    coordinates (CelebA convention) -> improved dimension -> curvature at the modal dimension ->
    figures on the 3-D map and curvature against the face attribute."""
    import yaml

    from workflow_helpers import REPO

    full = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg = {k: v for k, v in full.items() if k in ("device", "threads", "report")}
    cfg["datasets"] = {"lfw": full["datasets"]["lfw"]}
    cfg["diffusion"] = {"lfw_seed": full["diffusion"]["lfw_seed"]}
    cfg["geometry"] = {"lfw_seed": full["geometry"]["lfw_seed"]}
    write_config(tmp_path, cfg)
    snakemake(tmp_path, "--cores", "2")
    w = tmp_path / "results/geometry/lfw_seed"
    pw = io.read_parquet(w / "pointwise.parquet")
    assert len(pw) == 200 and {"dimension", "scalar_curvature", "boundary", "gamma_eig5", "face"} <= set(pw.columns)
    modal = pw["dimension"].mode().iloc[0]
    summary = io.read_parquet(w / "summary.parquet").set_index("method")
    assert summary.loc["diffusion_geometry (improved)", "curvature_d"] == modal
    assert np.isfinite(pw["scalar_curvature"]).all()
    tests = io.read_parquet(w / "attributes.parquet")
    assert list(tests["attribute"]) == ["face"] and tests["p_value"].between(0, 1).all()
    for fig in ("dimension_3d.png", "curvature_3d.png"):
        assert (w / fig).stat().st_size > 10_000

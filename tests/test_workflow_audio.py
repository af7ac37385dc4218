"""The audio branch through the workflow: artifacts against the library, both GAMM engines, reruns, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from repgeo import io
from repgeo.stats.gamm import mgcv_available

from workflow_helpers import planned_jobs, snakemake, variant_of, write_config

pytestmark = pytest.mark.workflow

TINY = {
    "threads": {"data": 1, "training": 1, "entropy": 1, "plot": 1},
    "datasets": {"words": {"source": "spoken_words", "words": ["ask", "dark", "wash"], "tokens_per_word": 20}},
    "audio": {
        "words": {
            "dataset": "words",
            "gan": {"model_dim": 2, "steps": 6, "batch_size": 8, "checkpoint_steps": [3], "samples_per_code": 2},
            "reference_cnn": {"model_dim": 2, "epochs": 2, "batch_size": 8, "lr": 0.001},
            "gamm": {"bins": 32, "k": 6, "engines": "auto"},
            "contrast": {"points": 12},
        }
    },
}
ENGINES = ["mgcv", "python"] if mgcv_available() else ["python"]


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("audio")
    write_config(work, TINY)
    snakemake(work, "--cores", "2")
    return work


def _variant(run, tmp_path, change):
    return variant_of(run, tmp_path / "variant", TINY, lambda cfg: change(cfg["audio"]["words"]))


def test_layer_table_equals_the_library_on_the_trained_networks(audio_run):
    from repgeo.audio.layers import averaged_activations
    from repgeo.audio.wavegan import LAYER_NAMES
    from repgeo.stages.audio_models import load_network

    base = audio_run / "results/audio/words"
    samples = io.read_parquet(audio_run / "results/data/words/samples.parquet")
    arrays = io.load_tensor(audio_run / "results/data/words/arrays.pt").numpy()
    test = np.flatnonzero(samples["split"].to_numpy() == "test")
    for network in ("qnet", "reference"):
        table = io.read_parquet(base / f"layers/{network}.parquet")
        assert list(table.columns) == ["network", "token", "word", "speaker", "layer", "sample", "value"]
        assert set(table["token"].astype(str)) == set(samples["id"].iloc[test])
        assert len(table) == len(test) * len(LAYER_NAMES) * 16384
        model, _ = load_network(str(base / ("gan" if network == "qnet" else "reference") / "model.pt"), network)
        acts = averaged_activations(model, arrays[test[:2]], LAYER_NAMES)
        for layer in ("conv1", "conv5"):
            got = (
                table[(table["token"] == samples["id"].iloc[test[1]]) & (table["layer"] == layer)]
                .sort_values("sample")["value"]
                .to_numpy()
            )
            np.testing.assert_allclose(got, acts.values[layer][1], rtol=1e-5, atol=1e-7)
        assert (base / f"layers/{network}.png").stat().st_size > 20_000


def test_gan_outputs_accuracy_confusion_and_samples(audio_run):
    base = audio_run / "results/audio/words/gan"
    history = io.read_parquet(base / "history.parquet")
    assert (
        list(history["step"]) == list(range(1, 7))
        and np.isfinite(history[["d_loss", "g_loss", "q_loss"]].to_numpy()).all()
    )
    acc = io.read_parquet(base / "q_accuracy.parquet")
    # The accuracy is the share of held-out tokens whose code maps to their word.
    assert acc["accuracy"].iloc[0] == pytest.approx(acc["correct"].sum() / acc["tokens"].sum())
    assert acc["chance"].iloc[0] == pytest.approx(1 / 3)
    confusion = io.read_parquet(base / "confusion.parquet")
    assert confusion["count"].sum() == acc["tokens"].sum()
    wavs = sorted(p.name for p in (base / "samples").glob("*.wav"))
    assert wavs == [f"code{c}_{i:03d}.wav" for c in range(3) for i in range(2)]
    import soundfile

    audio, rate = soundfile.read(base / "samples" / wavs[0])
    assert rate == 16000 and audio.shape == (16384,)
    assert sorted(p.name for p in (base).glob("checkpoints-*/*.pt")) == ["step000003.pt", "step000006.pt"]


def test_gamm_tables_of_every_engine_and_analysis(audio_run):
    base = audio_run / "results/audio/words/gamm"
    for network in ("qnet", "reference"):
        words = pd.read_csv(base / network / "words.csv")
        assert (
            list(words.columns) == ["layer", "token", "word", "time", "value"]
            and words.groupby(["layer", "token"]).size().eq(32).all()
        )
        sounds = pd.read_csv(base / network / "sounds.csv")
        assert set(sounds["sound"]) == {"s", "ʃ"} and set(sounds["layer"]) == {"conv1", "conv2", "conv3", "conv4"}
        for analysis, layers in (("words", 5), ("sounds", 4)):
            par = io.read_parquet(base / network / f"{analysis}_parametric.parquet")
            assert sorted(par["engine"].unique()) == sorted(ENGINES)
            assert par.groupby("engine")["layer"].nunique().eq(layers).all()
            smooths = io.read_parquet(base / network / f"{analysis}_smooths.parquet")
            assert {"edf", "ref_df", "statistic", "p"} <= set(smooths.columns)
            tested = smooths["p"].notna()
            # The Python route gives the random token smooth no test (its p is NaN); every other term has one.
            assert smooths["p"][tested].between(0, 1).all() and (smooths.loc[~tested, "engine"] == "python").all()
            diff = io.read_parquet(base / network / f"{analysis}_differences.parquet")
            np.testing.assert_allclose(diff["upper"] - diff["difference"], 1.96 * diff["se"], rtol=1e-6)
            settings = io.read_parquet(base / network / f"{analysis}_settings.parquet")
            reference = "ask" if analysis == "words" else "s"
            assert set(settings.loc[settings["key"] == "reference", "value"]) == {reference}
            html = (base / network / f"{analysis}_table.html").read_text()
            assert all(f"engine {e}" in html for e in ENGINES)
    # The words CSV is the layer table averaged into 32 bins: check one token and layer by hand.
    table = io.read_parquet(audio_run / "results/audio/words/layers/reference.parquet")
    token = words["token"].iloc[0]
    series = table[(table["token"] == token) & (table["layer"] == "conv3")].sort_values("sample")["value"].to_numpy()
    # stop_ms is null here: the whole frame, 32 bins of 512 samples.
    expected = series.reshape(32, 512).mean(axis=1)
    got = pd.read_csv(base / "reference/words.csv").query("layer == 'conv3' and token == @token")["value"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.skipif(not mgcv_available(), reason="R with mgcv not installed: apt-get install r-base-core r-cran-mgcv")
def test_mgcv_tables_equal_a_direct_mgcv_fit(audio_run):
    from repgeo.stats.gamm import fit_gamm

    base = audio_run / "results/audio/words/gamm/reference"
    data = pd.read_csv(base / "words.csv", dtype={"token": str})
    layer = data[data["layer"] == "conv2"].drop(columns="layer")
    direct = fit_gamm(layer, factor="word", reference="ask", k=6, engine="mgcv")
    smooths = io.read_parquet(base / "words_smooths.parquet").query("engine == 'mgcv' and layer == 'conv2'")
    np.testing.assert_allclose(smooths["edf"].to_numpy(), direct.smooths["edf"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(smooths["p"].to_numpy(), direct.smooths["p"].to_numpy(), rtol=1e-5, atol=1e-12)


def test_a_finished_run_plans_nothing(audio_run):
    # Regression: the mgcv rule's params once held a per-process cache path and reran every fit.
    assert planned_jobs(audio_run) == {}


def test_report_shows_the_audio_branch(audio_run):
    snakemake(audio_run, "--report", "report.html")
    html = (audio_run / "report.html").read_text(errors="replace")
    for name in ("confusion.png", "spectrograms.png", "qnet.png", "reference.png", "words_table.html", "sounds.png"):
        assert name in html, name


def test_gamm_settings_rerun_only_the_fits(audio_run, tmp_path):
    # k: every fit (2 networks x 2 analyses per engine) and the merged tables, nothing upstream.
    work = _variant(audio_run, tmp_path, lambda e: e["gamm"].update(k=5))
    assert planned_jobs(work) == {**{f"audio_gamm_{e}": 4 for e in ENGINES}, "audio_gamm_tables": 4, "all": 1}
    work2 = variant_of(audio_run, tmp_path / "bins", TINY, lambda cfg: cfg["audio"]["words"]["gamm"].update(bins=16))
    # The bins change the words inputs only; the sounds CSVs come out identical, so Snakemake
    # still plans their fits (it cannot know beforehand) and reruns nothing upstream of the data step.
    jobs = planned_jobs(work2)
    assert jobs["audio_gamm_data"] == 2 and "audio_layers" not in jobs and "audio_train_gan" not in jobs


def test_more_gan_steps_continue_from_the_checkpoint(audio_run, tmp_path):
    work = _variant(audio_run, tmp_path, lambda e: e["gan"].update(steps=8))
    jobs = planned_jobs(work)
    assert jobs["audio_train_gan"] == 1 and "audio_train_reference" not in jobs and "prepare_data" not in jobs
    before = io.read_parquet(work / "results/audio/words/gan/history.parquet")
    snakemake(work, "--cores", "2", "results/audio/words/gan/history.parquet")
    log = (work / "results/logs/audio_train_gan/words.log").read_text()
    assert "resumed" in log and "step 8/8" in log
    after = io.read_parquet(work / "results/audio/words/gan/history.parquet")
    assert list(after["step"]) == list(range(1, 9))
    pd.testing.assert_frame_equal(after.iloc[:6].drop(columns="seconds"), before.drop(columns="seconds"))

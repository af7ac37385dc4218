"""Training speed of the audio models on the CPU: ciwGAN steps per second and reference-CNN epochs per second.

Cases (each in its own process, torch pinned to ``--threads`` threads):

- ``gan_d4``, ``gan_d8``, ``gan_d16``, ``gan_d64``: :func:`repgeo.audio.gan.train_gan` (ciwGAN,
  8 categories, the TF defaults otherwise: batch 64, 5 critic updates per generator step, WGAN-GP
  with its double backward, the joint G/Q update) at model dimension d on 128 noise tokens of
  16,384 samples. One step = 5 D updates + 1 G/Q update. The first step (allocation, kernel
  selection) is left out: ``steps_per_s`` is over the following ``steps_timed`` steps, taken
  from the run's own history (checkpoint writing excluded); ``steps_per_s_median`` is one over
  the median step time, which is robust to other jobs on a shared machine (``step_seconds``
  lists every timed step; ``cpu_seconds_whole_run`` near threads x wall time means the
  process had its cores). d = 64 is the paper's
  configuration; it is timed over 2 steps by default (``--steps-d64``), the others over 5.
- ``refcnn_d16``, ``refcnn_d64``: :func:`repgeo.audio.reference_cnn.train_reference_cnn`
  (batch 64, Adam, phase shuffle on) on a corpus the size of the default spoken-word data
  (8 words x 60 tokens, 80/20 split: 384 training and 96 test tokens). One epoch = a pass over
  the training tokens plus the accuracies on both splits. The first epoch runs untimed (it
  checkpoints), the second, resumed from that checkpoint, is timed.

Results: benchmarks/results/audio_speed.parquet (one row per case), also printed.

    .venv/bin/python benchmarks/audio_speed.py [--cases gan_d4,gan_d8,gan_d16,gan_d64,refcnn_d16,refcnn_d64] [--threads 2] [--steps-d64 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from harness import append_table, bench_env, child_setup, emit, run_child

HERE = Path(__file__).resolve().parent
CASES = {  # case: (kind, model_dim)
    "gan_d4": ("gan", 4),
    "gan_d8": ("gan", 8),
    "gan_d16": ("gan", 16),
    "gan_d64": ("gan", 64),
    "refcnn_d16": ("refcnn", 16),
    "refcnn_d64": ("refcnn", 64),
}


def noise_tokens(n: int, seed: int = 0):
    """n tokens of uniform noise in [-0.9, 0.9] (the speed does not depend on the content)."""
    import torch

    return torch.rand(n, 1, 16384, generator=torch.Generator().manual_seed(seed)) * 1.8 - 0.9


def case_gan(model_dim: int, timed_steps: int) -> dict:
    import logging

    from repgeo.audio.gan import GanConfig, train_gan

    import numpy as np

    cfg = GanConfig(variant="ciwgan", n_codes=8, steps=1 + timed_steps, model_dim=model_dim, seed=0)
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        res = train_gan(noise_tokens(128), cfg, tmp, logging.getLogger("bench"), log_every=1)
    cpu = time.process_time() - cpu0
    sec = res.history["seconds"].to_numpy()
    per_step = np.diff(sec)
    timed = float(sec[-1] - sec[0])
    return {
        "model_dim": model_dim,
        "batch_size": cfg.batch_size,
        "d_steps": cfg.d_steps,
        "steps_timed": timed_steps,
        "seconds": timed,
        "steps_per_s": timed_steps / timed,
        "steps_per_s_median": 1 / float(np.median(per_step)),
        "step_seconds": per_step.round(3).tolist(),
        "first_step_seconds": float(sec[0]),
        "cpu_seconds_whole_run": cpu,
        "parameters_g": sum(p.numel() for p in res.G.parameters()),
        "parameters_d": sum(p.numel() for p in res.D.parameters()),
    }


def case_refcnn(model_dim: int) -> dict:
    import logging

    import numpy as np

    from repgeo.audio.reference_cnn import train_reference_cnn

    X = noise_tokens(480)
    y = np.arange(480) % 8
    kw = dict(model_dim=model_dim, batch_size=64, lr=1e-4, seed=0, logger=logging.getLogger("bench"))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ref.pt"
        train_reference_cnn(X[:384], y[:384], X[384:], y[384:], epochs=1, checkpoint_path=ckpt, **kw)
        t0, cpu0 = time.perf_counter(), time.process_time()
        model, _ = train_reference_cnn(X[:384], y[:384], X[384:], y[384:], epochs=2, checkpoint_path=ckpt, **kw)
        sec, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "model_dim": model_dim,
        "batch_size": 64,
        "n_train": 384,
        "n_test": 96,
        "seconds": sec,
        "cpu_seconds": cpu,
        "epochs_per_s": 1 / sec,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _child(case: str, threads: int, steps_d64: int) -> None:
    child_setup(threads)
    import torch

    torch.set_num_threads(threads)
    kind, d = CASES[case]
    emit(case_gan(d, steps_d64 if d == 64 else 5) if kind == "gan" else case_refcnn(d))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        # run_child appends the thread count last
        _child(sys.argv[2], int(sys.argv[4]), int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {tuple(CASES)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps-d64", type=int, default=2, help="timed steps of gan_d64 (after one untimed step)")
    ap.add_argument("--out", default=str(HERE / "results" / "audio_speed.parquet"))
    args = ap.parse_args()
    import pandas as pd

    env, coretype = bench_env()
    rows = []
    for case in args.cases.split(","):
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r}; choose from {tuple(CASES)}")
        print(f"== {case}", flush=True)
        r = run_child(Path(__file__), [case, str(args.steps_d64)], args.threads, env)
        r.update(case=case, implementation=CASES[case][0])
        rate = f"{r['steps_per_s']:.4g} steps/s" if "steps_per_s" in r else f"{r['epochs_per_s']:.4g} epochs/s"
        print(f"   {r['seconds']:.1f} s timed, {rate}, peak {r['peak_rss_anon_mb']} MB", flush=True)
        rows.append(r)
    df = pd.DataFrame(rows)
    append_table(df, Path(args.out), coretype)
    cols = [
        c
        for c in (
            "case",
            "model_dim",
            "threads",
            "steps_timed",
            "seconds",
            "steps_per_s",
            "steps_per_s_median",
            "first_step_seconds",
            "epochs_per_s",
            "peak_rss_anon_mb",
        )
        if c in df
    ]
    print(df[cols].to_string(index=False))


if __name__ == "__main__":
    main()

"""Training speed of the sliced generative autoencoders and the cost of their distance term.

Cases ``{model}_{arch}`` (each in its own process, torch and BLAS pinned to ``--threads``):
every model of :data:`repgeo.generative.training.MODELS` (ae, swae, scfwae, scwae, scvmae,
sksae, cwae) on

- ``mlp``: 1 x 28 x 28 images (MNIST), latent 20, 3 x 200 hidden units per side;
- ``cifar_conv``: 3 x 32 x 32 (CIFAR-10), latent 64;
- ``celeba_conv``: 3 x 64 x 64 (CelebA), latent 64;
- ``celeba_bn``: 3 x 64 x 64, latent 64 -- not in the default cases (one step at batch 128
  takes over 5 s on two CPU cores); select it with ``--cases scfwae_celeba_bn`` etc., or use
  it on a GPU.

All at batch 128, K = 50 projections, Adam at lr 1e-3, on random images in [0, 1] (the speed does
not depend on the content). Two timings per case:

- a whole training step exactly as :func:`~repgeo.generative.training.train_autoencoder` does it
  (batch gathered from a pool of 1024 images, forward, reconstruction error, ``batch_distance``,
  ``cost``, the finiteness check of the cost, zero_grad, backward, Adam step): ``--warmup``
  untimed steps (default 3; 2 for celeba_bn), then timed ones until at least 5 steps and 2 s
  have been timed (``--steps N``: exactly N);
- the distance term alone: forward and backward of ``batch_distance`` on codes of shape
  (128, latent) with ``requires_grad``, with the same generator use as training (fresh
  directions, and for swae a fresh prior sample, each call), 5 untimed then 30 timed calls.

Columns of ``results/generative_speed.parquet`` (one row per case): ``case``, ``model``,
``arch``, ``image_shape``, ``latent_dim``, ``batch_size``, ``n_projections``, ``device``,
``threads``, ``parameters``, ``warmup_steps``, ``steps_timed``, ``step_seconds`` (every timed
step), ``step_seconds_median``, ``images_per_s`` (batch / median step time),
``distance_calls``, ``distance_seconds_median`` (forward + backward of the distance alone; 0 for
ae), ``distance_share`` (= distance_seconds_median / step_seconds_median), ``meets_10pct``
(distance_share <= 0.10, the issue-7 target: the sliced distances cost no more than 10 % of a
training step at batch 128), ``step_minus_ae_seconds`` (this case's median step less that of
``ae_{arch}`` in the same run, NaN when that case was not run: the distance's cost as seen inside
a step, allocator and cache effects included, but noisy at the MLP's few-millisecond steps),
``compiled`` (``--compile``: the distances through torch.compile, compiled during the warm-up),
``cpu_seconds`` and ``wall_seconds`` of the timed part (CPU time
near threads x wall time means the process had its cores), ``peak_rss_mb``,
``peak_rss_anon_mb``, ``date``, ``machine``. Medians are used throughout so that a burst of
another job on a shared machine does not move the numbers much.

    .venv/bin/python benchmarks/generative_speed.py [--cases scfwae_mlp,cwae_cifar_conv,...] [--threads 2] [--device cpu|cuda] [--compile]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness import append_table, bench_env, check_device, child_setup, emit, run_child, selected_cases, sync
from repgeo.generative.training import MODELS  # harness puts lib/ on the path

HERE = Path(__file__).resolve().parent

BATCH = 128
K = 50
ARCHS = {  # arch: (image shape, latent dimension)
    "mlp": ((1, 28, 28), 20),
    "cifar_conv": ((3, 32, 32), 64),
    "celeba_conv": ((3, 64, 64), 64),
    "celeba_bn": ((3, 64, 64), 64),
}
DEFAULT_ARCHS = ("mlp", "cifar_conv", "celeba_conv")
CASES = {f"{m}_{a}": (m, a) for a in ARCHS for m in MODELS}
DEFAULT_CASES = tuple(f"{m}_{a}" for a in DEFAULT_ARCHS for m in MODELS)
MIN_STEPS, MIN_SECONDS, MAX_STEPS = 5, 2.0, 400  # timed steps: at least 5 and 2 s (at most 400)
SLOW_ARCH_WARMUP = {"celeba_bn": 2}  # arch: warm-up steps when --warmup is not given (else 3)


def time_training_step(model_name: str, arch: str, device, warmup: int, steps: int, compiled: bool) -> dict:
    """Median seconds of one step of train_autoencoder's inner loop (module docstring)."""
    import numpy as np
    import torch

    from repgeo.generative.architectures import reconstruction_error
    from repgeo.generative.training import AutoencoderConfig, batch_distance, build, cost, epoch_generator

    shape, latent = ARCHS[arch]
    cfg = AutoencoderConfig(
        model=model_name, arch=arch, latent_dim=latent, batch_size=BATCH, n_projections=K, seed=0, compile=compiled
    )
    cfg.validate()
    model = build(cfg, shape, device)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    X_dev = torch.rand((1024, *shape), generator=torch.Generator().manual_seed(1)).to(device)
    gen = epoch_generator(cfg.seed, 1)
    order = torch.randperm(len(X_dev), generator=gen)
    sums = torch.zeros(3, dtype=torch.float64)
    n_batches = len(X_dev) // BATCH
    times = []
    cpu0 = wall0 = 0.0
    i = 0
    # steps > 0: exactly that many timed steps; steps = 0: at least MIN_STEPS and MIN_SECONDS.
    while (
        i < warmup
        or len(times) < (steps or MIN_STEPS)
        or (not steps and sum(times) < MIN_SECONDS and len(times) < MAX_STEPS)
    ):
        if i == warmup:
            cpu0, wall0 = time.process_time(), time.perf_counter()
        b = i % n_batches
        sync(device)
        t0 = time.perf_counter()
        xb = X_dev[order[b * BATCH : (b + 1) * BATCH].to(device)]
        z, x_hat = model(xb)
        rec = reconstruction_error(xb, x_hat)
        dist = batch_distance(z, cfg, gen)
        loss = cost(rec, dist, cfg)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{model_name}/{arch}: the cost became {float(loss)}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sums += (
            torch.stack(
                [
                    loss.detach(),
                    rec.detach(),
                    dist.detach() if dist is not None else torch.tensor(float("nan"), device=device),
                ]
            )
            .double()
            .cpu()
        )
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        i += 1
    return {
        "steps_timed": len(times),
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_seconds": [round(t, 5) for t in times],
        "step_seconds_median": float(np.median(times)),
        "cpu_seconds": time.process_time() - cpu0,
        "wall_seconds": time.perf_counter() - wall0,
    }


def time_distance(model_name: str, arch: str, device, compiled: bool, warmup: int = 5, calls: int = 30) -> dict:
    """Median seconds of forward + backward of batch_distance on (BATCH, latent) codes."""
    import numpy as np
    import torch

    from repgeo.generative.training import AutoencoderConfig, batch_distance, epoch_generator

    if model_name == "ae":
        return {"distance_calls": 0, "distance_seconds_median": 0.0}
    _, latent = ARCHS[arch]
    cfg = AutoencoderConfig(
        model=model_name, arch=arch, latent_dim=latent, batch_size=BATCH, n_projections=K, seed=0, compile=compiled
    )
    z = torch.randn(BATCH, latent, generator=torch.Generator().manual_seed(2)).to(device).requires_grad_(True)
    gen = epoch_generator(cfg.seed, 1)
    times = []
    for i in range(warmup + calls):
        z.grad = None
        sync(device)
        t0 = time.perf_counter()
        d = batch_distance(z, cfg, gen)
        d.backward()
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return {"distance_calls": calls, "distance_seconds_median": float(np.median(times))}


def _child(case: str, device_name: str, warmup: int, steps: int, compiled: bool, threads: int) -> None:
    child_setup(threads)
    import torch

    torch.set_num_threads(threads)
    model_name, arch = CASES[case]
    if warmup < 0:
        warmup = SLOW_ARCH_WARMUP.get(arch, 3)
    steps = max(steps, 0)
    device = torch.device(device_name)
    out = {"model": model_name, "arch": arch, "image_shape": "x".join(map(str, ARCHS[arch][0])), "latent_dim": ARCHS[arch][1],
           "batch_size": BATCH, "n_projections": K, "device": device_name, "warmup_steps": warmup, "compiled": compiled}  # fmt: skip
    out.update(time_training_step(model_name, arch, device, warmup, steps, compiled))
    out.update(time_distance(model_name, arch, device, compiled))
    out["images_per_s"] = BATCH / out["step_seconds_median"]
    out["distance_share"] = out["distance_seconds_median"] / out["step_seconds_median"]
    out["meets_10pct"] = bool(out["distance_share"] <= 0.10)
    if device.type == "cuda":
        out["device"] = f"cuda ({torch.cuda.get_device_name(device)})"
    emit(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        # run_child appends the thread count last
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1", int(sys.argv[7]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"comma-separated subset of {tuple(CASES)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (when available)")
    ap.add_argument("--warmup", type=int, default=-1, help="untimed steps (default 3; 2 for celeba_bn)")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default: at least 5 and at least 2 s of steps)")
    ap.add_argument(
        "--compile",
        action="store_true",
        help="the sliced distances through torch.compile (AutoencoderConfig.compile); compilation happens in the warm-up",
    )
    ap.add_argument("--out", default=str(HERE / "results" / "generative_speed.parquet"))
    args = ap.parse_args()
    check_device(args.device)
    if args.steps < 0:
        raise SystemExit(f"--steps must be >= 1 (or 0 for the default), got {args.steps}")
    import pandas as pd

    cases = selected_cases(args.cases, CASES)
    env, coretype = bench_env()
    rows = []
    for case in cases:
        print(f"== {case}", flush=True)
        r = run_child(
            Path(__file__),
            [case, args.device, str(args.warmup), str(args.steps), "1" if args.compile else "0"],
            args.threads,
            env,
        )
        r["case"] = case
        print(
            f"   {r['images_per_s']:.1f} images/s (median step {1000 * r['step_seconds_median']:.1f} ms), "
            f"distance {1000 * r['distance_seconds_median']:.2f} ms = {100 * r['distance_share']:.1f} % of a step, "
            f"cpu/wall {r['cpu_seconds'] / max(r['wall_seconds'], 1e-9):.2f}, peak {r['peak_rss_anon_mb']} MB",
            flush=True,
        )
        rows.append(r)
    df = pd.DataFrame(rows)
    ae_step = df[df["model"] == "ae"].set_index("arch")["step_seconds_median"]
    df["step_minus_ae_seconds"] = df["step_seconds_median"] - df["arch"].map(ae_step).astype(float)
    append_table(df, Path(args.out), coretype)
    cols = [
        "case",
        "compiled",
        "threads",
        "device",
        "step_seconds_median",
        "images_per_s",
        "distance_seconds_median",
        "distance_share",
        "meets_10pct",
        "step_minus_ae_seconds",
        "peak_rss_anon_mb",
    ]
    print(df[cols].to_string(index=False))


if __name__ == "__main__":
    main()

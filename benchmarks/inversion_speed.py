"""Speed of the inversion branch: pre-image iterations and inverter training.

Cases (each in its own process, torch and BLAS pinned to ``--threads``), on random [0, 1] images
(speed does not depend on the content) and freshly initialised networks:

- ``preimage_{arch}_{layer}[_ica]``: the M&V 2016 pre-image (:func:`repgeo.inversion.preimage.preimage`,
  momentum 0.9 with AdaGrad scaling, jitter, projection) of a batch of ``--images`` images (default
  4, the default run's ``preimage.n_images``) at ``layer``, as the workflow's ``inversion_preimage``
  rule composes it (the network's own preprocessing inside Φ). ``_ica``: with a learned ICA image
  prior of 6 x 6 patches in place of TV (2 filters per whitened dimension, the schema's default;
  fitted for 20 steps, which sets its shape, not its speed). Two warm-up iterations, then
  ``--iterations`` timed ones (default 10; 3 for the 224 px cases). Columns ``seconds_per_iteration``
  (one iteration for the whole batch) and ``seconds_full`` (x 350, the 300 + 50 iterations of
  M&V 2016, i.e. one pre-image job at this layer without the prior-weight search).
- ``inverter_{arch}_{layer}``: end-to-end training of the modular inverter stack from ``layer``
  (``deconv`` variant, Adam 3e-4, batch 64) as ``inversion_inverter`` does it. One warm-up epoch
  over 256 images, then one timed epoch over 512 (``--train-images``). Column ``images_per_s``.

Architectures: ``vgg_small`` at 32 px (the default run), ``alexnet`` at CIFAR's 32 px (upscaled
to its minimum input, 63 px, by its preprocessing) and at ImageNet's 224 px, ``vgg16`` at 32 px
(CIFAR, as in configs/inversion_paper.yaml) and at 224 px.

Columns of ``results/inversion_speed.parquet``: ``case``, ``task`` (preimage or inverter),
``arch``, ``image_size``, ``input_size`` (what the network sees), ``layer``, ``prior``, ``batch``,
``device``, ``threads``, ``iterations_timed``, ``seconds_per_iteration``, ``seconds_full``,
``epoch_images``, ``epoch_seconds``, ``images_per_s``, ``cpu_seconds``, ``wall_seconds``,
``peak_rss_mb``, ``peak_rss_anon_mb``, ``date``, ``machine``.

    .venv/bin/python benchmarks/inversion_speed.py [--cases preimage_vgg_small_pool1,...] [--threads 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness import append_table, bench_env, check_device, child_setup, emit, run_child, selected_cases, sync

HERE = Path(__file__).resolve().parent

FULL_ITERATIONS = 350  # M&V 2016: 300 iterations with jitter, 50 without
PREIMAGE_CASES = {  # case: (arch, image size, layer, prior)
    "preimage_vgg_small_pool1": ("vgg_small", 32, "pool1", None),
    "preimage_vgg_small_pool2": ("vgg_small", 32, "pool2", None),
    "preimage_vgg_small_pool1_ica": ("vgg_small", 32, "pool1", "ica"),
    "preimage_alexnet_conv1": ("alexnet", 32, "conv1", None),
    "preimage_alexnet_pool5": ("alexnet", 32, "pool5", None),
    "preimage_vgg16_pool1": ("vgg16", 32, "pool1", None),
    "preimage_vgg16_pool5": ("vgg16", 32, "pool5", None),
    "preimage_alexnet224_pool5": ("alexnet", 224, "pool5", None),
    "preimage_vgg16_224_pool1": ("vgg16", 224, "pool1", None),
}
INVERTER_CASES = {  # case: (arch, image size, layer)
    "inverter_vgg_small_pool1": ("vgg_small", 32, "pool1"),
    "inverter_vgg_small_pool2": ("vgg_small", 32, "pool2"),
    "inverter_alexnet_pool2": ("alexnet", 32, "pool2"),
    "inverter_alexnet_pool5": ("alexnet", 32, "pool5"),
    "inverter_vgg16_pool2": ("vgg16", 32, "pool2"),
}
CASES = (*PREIMAGE_CASES, *INVERTER_CASES)
INVERTER_BATCH = 64


def _ica_prior(X):
    """An ICA patch prior of the workflow's default shape (6 x 6 patches, 2 filters per whitened dimension)."""
    from repgeo.inversion.patches import extract_patches, fit_whitening
    from repgeo.inversion.priors import fit_score_matching

    patches = extract_patches(X.double(), 6, 5000, seed=0)
    whitening = fit_whitening(patches, remove_dc=True)
    Z = whitening.transform(patches)
    return fit_score_matching(
        Z, n_filters=2 * whitening.n_components, expert="ica", steps=20, batch_size=1000, seed=0, whitening=whitening
    )


def time_preimage(arch: str, size: int, layer: str, prior: str | None, batch: int, iterations: int, device) -> dict:
    import torch

    from repgeo.inversion.networks import build_network
    from repgeo.inversion.preimage import PreimageConfig, data_weight, image_to_mv_units, mv_units_to_image, preimage
    from repgeo.inversion.priors import image_energy

    net = build_network(arch, 10, in_channels=3, image_size=(size, size), seed=0).to(device)
    net.requires_grad_(False)
    X = torch.rand((batch, 3, size, size), generator=torch.Generator().manual_seed(1))
    mean255 = (net.mean.flatten() * 255.0).tolist()
    _, stride = net.receptive_field(layer)
    stride_px = max(1, round(stride / (net.input_size[0] / size)))

    def phi(x):
        return net.features(mv_units_to_image(x, mean255), layer)

    extra = []
    if prior is not None:
        fitted = _ica_prior(X)
        extra = [(prior, 1.0, lambda x: image_energy(fitted, mv_units_to_image(x, mean255)))]
    with torch.no_grad():
        phi0 = phi(image_to_mv_units(X.to(device), mean255))
    C = data_weight(layer, arch=None, C=None)

    def run(n: int) -> float:
        config = PreimageConfig(C=C, iterations=(n, 1), lambda_tv=0.0 if prior else None, log_every=10**6)
        sync(device)
        t0 = time.perf_counter()
        preimage(
            phi,
            phi0,
            (3, size, size),
            config,
            stride=stride_px,
            extra_priors=extra,
            generator=torch.Generator().manual_seed(0),
        )
        sync(device)
        return time.perf_counter() - t0

    run(2)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    seconds = run(iterations)
    return {
        "input_size": "x".join(map(str, net.input_size)), "iterations_timed": iterations + 1,
        "seconds_per_iteration": seconds / (iterations + 1), "seconds_full": FULL_ITERATIONS * seconds / (iterations + 1),
        "cpu_seconds": time.process_time() - cpu0, "wall_seconds": time.perf_counter() - wall0,
    }  # fmt: skip


def time_inverter(arch: str, size: int, layer: str, train_images: int, device) -> dict:
    import torch

    from repgeo.inversion.inverters import ForwardBlock, train_end_to_end
    from repgeo.inversion.networks import build_network

    net = build_network(arch, 10, in_channels=3, image_size=(size, size), seed=0).to(device)
    net.requires_grad_(False)
    blocks = [ForwardBlock(b.name, b.module, b.in_shape, b.out_shape, b.kind) for b in net.blocks(upto=layer)]
    X = torch.rand((train_images, 3, size, size), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        Xp = net.preprocess(X.to(device))
    train_end_to_end(
        blocks, Xp[: train_images // 2], variant="deconv", epochs=1, batch_size=INVERTER_BATCH, lr=3e-4, seed=0
    )
    sync(device)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    train_end_to_end(blocks, Xp, variant="deconv", epochs=1, batch_size=INVERTER_BATCH, lr=3e-4, seed=0)
    sync(device)
    wall = time.perf_counter() - wall0
    return {
        "input_size": "x".join(map(str, net.input_size)), "epoch_images": train_images, "epoch_seconds": wall,
        "images_per_s": train_images / wall, "cpu_seconds": time.process_time() - cpu0, "wall_seconds": wall,
    }  # fmt: skip


def _child(case: str, device_name: str, batch: int, iterations: int, train_images: int, threads: int) -> None:
    child_setup(threads)
    import torch

    torch.set_num_threads(threads)
    device = torch.device(device_name)
    if case in PREIMAGE_CASES:
        arch, size, layer, prior = PREIMAGE_CASES[case]
        if iterations <= 0:
            iterations = 3 if size >= 224 else 10
        out = {
            "task": "preimage",
            "arch": arch,
            "image_size": size,
            "layer": layer,
            "prior": prior or "tv",
            "batch": batch,
        }
        out.update(time_preimage(arch, size, layer, prior, batch, iterations, device))
    else:
        arch, size, layer = INVERTER_CASES[case]
        out = {
            "task": "inverter",
            "arch": arch,
            "image_size": size,
            "layer": layer,
            "prior": None,
            "batch": INVERTER_BATCH,
        }
        out.update(time_inverter(arch, size, layer, train_images, device))
    out["device"] = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device_name
    emit(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        # run_child appends the thread count last
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {CASES}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (when available)")
    ap.add_argument("--images", type=int, default=4, help="pre-image batch (default 4)")
    ap.add_argument("--iterations", type=int, default=0, help="timed pre-image iterations (default 10; 3 at 224 px)")
    ap.add_argument("--train-images", type=int, default=512, help="images of the timed inverter epoch (default 512)")
    ap.add_argument("--out", default=str(HERE / "results" / "inversion_speed.parquet"))
    args = ap.parse_args()
    check_device(args.device)
    for name in ("images", "train_images"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    import pandas as pd

    cases = selected_cases(args.cases, CASES)
    env, coretype = bench_env()
    rows = []
    for case in cases:
        print(f"== {case}", flush=True)
        r = run_child(
            Path(__file__),
            [case, args.device, str(args.images), str(args.iterations), str(args.train_images)],
            args.threads,
            env,
        )
        r["case"] = case
        if r["task"] == "preimage":
            print(
                f"   {1000 * r['seconds_per_iteration']:.1f} ms per iteration of {r['batch']} images; 350 iterations {r['seconds_full']:.1f} s",
                flush=True,
            )
        else:
            print(f"   {r['images_per_s']:.1f} images/s (end-to-end inverter training)", flush=True)
        print(
            f"   cpu/wall {r['cpu_seconds'] / max(r['wall_seconds'], 1e-9):.2f}, peak {r['peak_rss_anon_mb']} MB",
            flush=True,
        )
        rows.append(r)
    df = pd.DataFrame(rows)
    append_table(df, Path(args.out), coretype)
    cols = [
        c
        for c in (
            "case",
            "input_size",
            "threads",
            "device",
            "seconds_per_iteration",
            "seconds_full",
            "images_per_s",
            "peak_rss_anon_mb",
        )
        if c in df
    ]
    print(df[cols].to_string(index=False))


if __name__ == "__main__":
    main()

"""Inversion branch: what does a layer still know about its input image?

The stages of the branch (seed "Deep Restoration", building on Mahendran & Vedaldi CVPR 2015 /
IJCV 2016, Dosovitskiy & Brox CVPR 2016, Hyvarinen 2005 and Roth & Black 2005), each a function
that reads and writes files, called by one rule of ``workflow/rules/inversion.smk``. Artifacts
under ``results/inversion/{name}/``:

- ``network.pt``, ``network_history.parquet``: the network to invert, trained on the dataset's
  training split (:func:`repgeo.inversion.networks.train_network`) or loaded from a torchvision
  state dict, with its accuracy (epoch, train_loss, train_accuracy, test_accuracy);
- ``statistics/{layer}.parquet`` (covariance and regularised inverse: Toeplitz closeness in total,
  interior and border, rank, conditioning; :func:`~repgeo.inversion.feature_stats.covariance_summary`),
  ``statistics/{layer}_sparsity.parquet`` (per channel and overall), ``statistics/{layer}.png``
  (heat maps of the covariance, its block-Toeplitz approximation, the regularised inverse and the
  mean Gram matrix: seed Figure 4);
- ``inverters/{regime}/{layer}.pt`` and ``..._history.parquet``: the inverting stack of one regime
  (separate, joint, end_to_end) from one layer; ``inverters.parquet`` (per held-out image, regime
  and layer: mse, baseline_mse of the mean training image, psnr, ssim) and ``inverters.png``
  (originals, reconstructions and the seed's two error images);
- ``priors/{expert}.pt``, ``..._history.parquet``, ``priors/{expert}.png``: the score-matching
  patch prior (ica: -log cosh; student_t: fields of experts) and its filter sheet (seed Figure 8);
  ``priors/{expert}/{layer}.pt`` and ``_history.parquet``: the same prior on feature-map patches of
  a layer (all channels), used as a feature-map prior by the ``*_features`` pre-image methods;
- ``preimages/{method}/{layer}.pt`` (the pre-images in [0, 1]), ``.parquet`` (per image: normalised
  representation error and its square root, mse, psnr, ssim, the weight used) and
  ``_search.parquet`` (the weight search of a learned prior on held-out images);
- ``comparison.parquet`` / ``comparison.png`` (mean metrics per layer and method: hand-made prior,
  learned priors and the trained inverters) and ``preimages.png`` (seed Figures 5-7, 9, 10).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import io
from ..data import DataError, select_samples
from .images import load_images, split_images

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

# The weight search ranks candidate prior weights by the mean SSIM of the held-out pre-images:
# pixel MSE favours blur at deeper layers, where pre-images are not expected to match pixels.
SEARCH_CRITERION = "ssim"


def _held_out(samples: pd.DataFrame, X: torch.Tensor, path: str, start: int, count: int, seed: int) -> torch.Tensor:
    """``count`` test images from position ``start`` of a seeded permutation of the test split."""
    test = split_images(samples, X, "test", path)
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))
    if start + count > len(test):
        raise DataError(
            f"{path} has {len(test)} test images; {start + count} are needed (lower n_images / search_images or raise test_fraction)"
        )
    return test[order[start : start + count]]


def data_weight(spec: Spec, layer: str) -> float:
    """The data-term weight C for ``layer``: ``preimage.C`` if set, else M&V's per-layer value for
    the entry's architecture (Mahendran & Vedaldi, IJCV 2016, section 5;
    :func:`repgeo.inversion.preimage.mv_data_weight`)."""
    from ..inversion.preimage import mv_data_weight

    c = spec["preimage"].get("C")
    if c is not None:
        return float(c)
    return mv_data_weight(layer, spec.get("arch"))


# --- the network ---------------------------------------------------------------------------------


def network_run(
    arrays_path: str, samples_path: str, spec: Spec, model_out: str, history_out: str, device: str = "cpu"
) -> None:
    """Train the network to invert on the training split (or load the user's torchvision weights); report accuracy."""
    from ..inversion.networks import build_network, load_torchvision_weights, save_network, train_network

    samples, X = load_images(arrays_path, samples_path, "inversion")
    label = spec["label"]
    if label not in samples.columns:
        raise DataError(
            f"{samples_path} has no column {label!r}; set the entry's label to one of {list(samples.columns)}"
        )
    y = samples[label].to_numpy()
    if np.issubdtype(y.dtype, np.bool_):  # a CelebA attribute: classes 0 and 1
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"column {label!r} of {samples_path} is not integer or boolean class labels (dtype {y.dtype}); choose another label"
        )
    train, test = select_samples(samples, "train"), select_samples(samples, "test")
    image_size = tuple(int(s) for s in X.shape[2:])
    if spec.get("weights"):
        net = load_torchvision_weights(
            spec["arch"], spec["weights"], in_channels=int(X.shape[1]), image_size=image_size, lrn=spec["lrn"]
        )
        logger.info("loaded %s weights from %s (%d classes); no training", spec["arch"], spec["weights"], net.n_classes)
        history = pd.DataFrame([{"epoch": 0, "train_loss": np.nan, "train_accuracy": np.nan, "test_accuracy": np.nan}])
        meta = {"source": str(spec["weights"]), "test_accuracy": None}
    else:
        t = spec["training"]
        n_classes = int(y.max()) + 1
        net = build_network(
            spec["arch"],
            n_classes,
            in_channels=int(X.shape[1]),
            image_size=image_size,
            width=spec["width"],
            lrn=spec["lrn"],
            seed=t["seed"],
        )
        logger.info(
            "training %s on %r: %d training, %d test images, %d classes",
            spec["arch"],
            label,
            len(train),
            len(test),
            n_classes,
        )
        yt = torch.as_tensor(y.astype(np.int64))
        result = train_network(
            net, X[train], yt[train], X[test], yt[test], epochs=t["epochs"], lr=t["lr"], batch_size=t["batch_size"], seed=t["seed"],
            optimiser=t["optimiser"], weight_decay=t["weight_decay"], augment=t["augment"], logger=logger, device=device,
        )  # fmt: skip
        logger.info(
            "%s: train accuracy %.4f, test accuracy %.4f", spec["arch"], result.train_accuracy, result.test_accuracy
        )
        history = pd.DataFrame(result.history)
        meta = {"source": "trained", "test_accuracy": result.test_accuracy, "train_accuracy": result.train_accuracy}
    save_network(net.cpu(), model_out, meta=meta)
    io.write_parquet(history, history_out, metadata={"arch": spec["arch"], **meta})


def _network(path: str, device: str = "cpu"):
    from ..inversion.networks import load_network

    return load_network(path, device=device)


# --- feature-map statistics ----------------------------------------------------------------------


def statistics_run(
    arrays_path: str,
    samples_path: str,
    network_path: str,
    spec: Spec,
    layer: str,
    table_out: str,
    sparsity_out: str,
    figure_out: str,
    dpi: int = 110,
) -> None:
    """Covariance, regularised inverse, Toeplitz closeness, Gram matrices and sparsity of ``layer`` (seed 4.1)."""
    from ..inversion.feature_stats import covariance_statistics, gram_matrices, sparsity
    from ..inversion.figures import plot_feature_statistics

    stats_spec = spec["statistics"]
    samples, X = load_images(arrays_path, samples_path, "inversion")
    test = split_images(samples, X, "test", samples_path)[: stats_spec["n_images"]]
    net = _network(network_path)
    F = _features(net, test, layer)
    if F.ndim != 4:
        raise ValueError(
            f"layer {layer!r} gives vectors of shape {tuple(F.shape[1:])}; feature-map statistics need a convolutional layer (conv, relu, norm, pool)"
        )
    border = stats_spec["border"] if stats_spec["border"] is not None else default_border(*net.receptive_field(layer))
    channels = list(range(min(stats_spec["channels"], F.shape[1])))
    logger.info(
        "%s: %d images, maps %s, covariance over channels %s (d = %d), border %d",
        layer,
        len(F),
        tuple(F.shape[1:]),
        channels,
        len(channels) * F.shape[2] * F.shape[3],
        border,
    )
    result = covariance_statistics(F, channels=channels, shrinkage=stats_spec["shrinkage"], border=border)
    table = result.summary(layer)
    io.write_parquet(table, table_out, metadata={"layer": layer, "channels": channels})
    sp = sparsity(F)
    sp.insert(0, "layer", layer)
    io.write_parquet(sp, sparsity_out, metadata={"layer": layer})
    gram = gram_matrices(F).mean
    io.save_figure(
        plot_feature_statistics(result, gram, f"{spec['arch']} {layer}: {len(F)} test images"), figure_out, dpi=dpi
    )


def default_border(size: int, stride: int) -> int:
    """Map positions counted as border: those whose receptive field (``size`` input pixels, one map
    step = ``stride`` pixels) can reach past the image edge, ceil((size - stride) / (2 stride)), at least 1."""
    return max(1, -(-(size - stride) // (2 * stride)))


def _features(net, X: torch.Tensor, layer: str, batch_size: int = 256) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([net.features(X[i : i + batch_size], layer) for i in range(0, len(X), batch_size)]).numpy()


# --- modular inverting networks ------------------------------------------------------------------


def _forward_blocks(net, layer: str):
    from ..inversion.inverters import ForwardBlock

    blocks = net.blocks(upto=layer)
    fc = [b.name for b in blocks if b.kind == "fc"]
    if fc:
        raise ValueError(
            f"inverters undo convolution, pooling and LRN blocks; {layer!r} lies beyond the fully connected block(s) {fc}: invert a layer up to pool5"
        )
    return [ForwardBlock(b.name, b.module, b.in_shape, b.out_shape, b.kind) for b in blocks]


def _unprocess(net, image_size: Sequence[int], channels: int):
    """Preprocessed network input -> [0, 1]-unit images of the dataset's size and channels (not clipped)."""

    def unprocess(p: torch.Tensor) -> torch.Tensor:
        x = p * net.std + net.mean
        if tuple(x.shape[2:]) != tuple(image_size):
            x = torch.nn.functional.interpolate(
                x, size=tuple(image_size), mode="bilinear", align_corners=False, antialias=True
            )
        if x.shape[1] != channels:  # grey images repeated over RGB for alexnet / vgg16
            x = x.mean(dim=1, keepdim=True)
        return x

    return unprocess


def inverter_run(
    arrays_path: str,
    samples_path: str,
    network_path: str,
    spec: Spec,
    regime: str,
    layer: str,
    model_out: str,
    history_out: str,
    device: str = "cpu",
) -> None:
    """Train the inverting stack of ``regime`` from ``layer`` to the image on the training split (seed 3.2)."""
    from ..inversion.inverters import train_end_to_end, train_joint, train_separate

    trainers = {"separate": train_separate, "joint": train_joint, "end_to_end": train_end_to_end}
    inv = spec["inverters"]
    samples, X = load_images(arrays_path, samples_path, "inversion")
    train = split_images(samples, X, "train", samples_path)
    net = _network(network_path, device)
    blocks = _forward_blocks(net, layer)
    with torch.no_grad():
        Xp = torch.cat([net.preprocess(train[i : i + 512].to(device)) for i in range(0, len(train), 512)])
    logger.info(
        "%s inverter from %s: %d blocks %s, %d training images, %s variant, %d epochs",
        regime,
        layer,
        len(blocks),
        [b.name for b in blocks],
        len(Xp),
        inv["variant"],
        inv["epochs"],
    )
    result = trainers[regime](
        blocks,
        Xp,
        variant=inv["variant"],
        epochs=inv["epochs"],
        batch_size=inv["batch_size"],
        lr=inv["lr"],
        seed=inv["seed"],
        logger=logger,
    )
    settings = {
        "regime": regime,
        "layer": layer,
        "variant": inv["variant"],
        "epochs": inv["epochs"],
        "batch_size": inv["batch_size"],
        "lr": inv["lr"],
        "seed": inv["seed"],
    }
    io.save_tensor(
        {
            "settings": settings,
            "state_dict": {k: v.detach().cpu() for k, v in result.stack.state_dict().items()},
            "target_energy": result.target_energy,
        },
        model_out,
    )
    io.write_parquet(result.history, history_out, metadata=settings)


def _load_inverter(path: str, net, layer: str):
    from ..inversion.inverters import inverter_stack

    state = io.load_tensor(path)
    s = state["settings"]
    stack = inverter_stack(_forward_blocks(net, layer), variant=s["variant"], seed=s["seed"])
    stack.load_state_dict(state["state_dict"])
    return stack.eval()


def inverter_tables_run(
    arrays_path: str,
    samples_path: str,
    network_path: str,
    spec: Spec,
    inverter_paths: Mapping[tuple[str, str], str],
    table_out: str,
    figure_out: str,
    dpi: int = 110,
) -> None:
    """Reconstructions of held-out images from every layer by every regime: metrics table and sheets."""
    from ..inversion.figures import plot_inverter_sheets
    from ..inversion.inverters import absolute_error_image, inversion_metrics, reconstruct, signed_error_image
    from ..inversion.metrics import image_metrics

    samples, X = load_images(arrays_path, samples_path, "inversion")
    train = split_images(samples, X, "train", samples_path)
    test = split_images(samples, X, "test", samples_path)
    net = _network(network_path)
    mean_image = train.mean(dim=0)
    unprocess = _unprocess(net, X.shape[2:], X.shape[1])
    with torch.no_grad():
        Xp = net.preprocess(test)
    frames, sheets = [], {}
    show = min(spec["inverters"]["n_show"], len(test))
    for (regime, layer), path in inverter_paths.items():
        blocks = _forward_blocks(net, layer)
        x_hat = reconstruct(_load_inverter(path, net, layer), blocks, Xp, unprocess=unprocess)
        m = inversion_metrics(test, x_hat, mean_image).to_frame(regime=regime, layer=layer)
        clipped = x_hat.clamp(0, 1)
        q = image_metrics(clipped, test)
        m["psnr"], m["ssim"] = q["psnr"].to_numpy(), q["ssim"].to_numpy()
        frames.append(m)
        logger.info(
            "%s from %s: mse %.5f (mean image %.5f), ssim %.3f",
            regime,
            layer,
            m["mse"].mean(),
            m["baseline_mse"].mean(),
            m["ssim"].mean(),
        )
        shown = clipped[:show]
        sheets[(layer, regime)] = (
            shown,
            signed_error_image(test[:show], shown),
            absolute_error_image(test[:show], shown),
        )
    table = pd.concat(frames, ignore_index=True)
    io.write_parquet(table, table_out, metadata={"n_test": len(test)})
    io.save_figure(
        plot_inverter_sheets(test[:show], sheets, f"{spec['arch']}: inverters on held-out images"), figure_out, dpi=dpi
    )


# --- learned patch priors ------------------------------------------------------------------------


def _fit_prior(maps: torch.Tensor, expert: str, p: Spec, size: int, components: int | None, remove_dc: bool, what: str):
    """Patches of ``maps`` (N x C x H x W), whitened, then a score-matching prior of ``expert`` fitted on them."""
    from ..inversion.patches import extract_patches, fit_whitening
    from ..inversion.priors import fit_score_matching

    patches = extract_patches(maps, size, p["n_patches"], seed=p["seed"])
    whitening = fit_whitening(patches, n_components=components, remove_dc=remove_dc)
    Z = whitening.transform(patches)
    n_filters = max(1, round(p["overcompleteness"] * whitening.n_components))
    logger.info(
        "%s prior on %s: %d patches %dx%dx%d, %d whitened dimensions, %d filters, %d steps",
        expert, what, len(patches), maps.shape[1], size, size, whitening.n_components, n_filters, p["steps"],
    )  # fmt: skip
    return fit_score_matching(
        Z,
        n_filters=n_filters,
        expert=expert,
        steps=p["steps"],
        lr=p["lr"],
        batch_size=min(p["batch_size"], len(Z)),
        seed=p["seed"],
        whitening=whitening,
        logger=logger,
    )


def _write_prior(prior, prior_out: str, state: dict, history_out: str, labels: dict) -> None:
    """The prior with ``state`` (channels, patch size, ...) to ``prior_out``, and its loss history labelled by ``labels``."""
    io.save_tensor({"prior": prior.to_dict(), **state}, prior_out)
    history = pd.DataFrame(prior.history, columns=["step", "loss"])
    for i, (k, v) in enumerate(labels.items()):
        history.insert(i, k, v)
    io.write_parquet(history, history_out, metadata={**labels, "converged": bool(prior.converged)})


def prior_run(
    arrays_path: str,
    samples_path: str,
    spec: Spec,
    expert: str,
    prior_out: str,
    history_out: str,
    figure_out: str,
    dpi: int = 110,
) -> None:
    """Fit a score-matching patch prior (ica or student_t) on whitened patches of the training images (seed 3.4.2-3.4.3)."""
    from ..inversion.figures import plot_filter_sheet

    p = spec["priors"]
    samples, X = load_images(arrays_path, samples_path, "inversion")
    train = split_images(samples, X, "train", samples_path).double()
    prior = _fit_prior(train, expert, p, p["patch_size"], p["components"], True, "images")
    _write_prior(
        prior, prior_out, {"channels": int(X.shape[1]), "patch_size": p["patch_size"]}, history_out, {"expert": expert}
    )
    io.save_figure(
        plot_filter_sheet(
            prior,
            int(X.shape[1]),
            f"{expert} prior: {prior.n_filters} filters of {p['patch_size']}x{p['patch_size']} patches, by weight",
        ),
        figure_out,
        dpi=dpi,
    )


def _load_prior(path: str):
    from ..inversion.priors import PatchPrior

    return PatchPrior.from_dict(io.load_tensor(path)["prior"])


def feature_prior_run(
    arrays_path: str,
    samples_path: str,
    network_path: str,
    spec: Spec,
    expert: str,
    layer: str,
    prior_out: str,
    history_out: str,
) -> None:
    """Fit a score-matching prior on patches of ``layer``'s feature maps of the training images, all channels
    included (seed 5.1: feature-map priors used at intermediate layers)."""
    p = spec["priors"]
    samples, X = load_images(arrays_path, samples_path, "inversion")
    train = split_images(samples, X, "train", samples_path)
    F = torch.as_tensor(_features(_network(network_path), train, layer)).double()
    if F.ndim != 4:
        raise ValueError(
            f"layer {layer!r} gives vectors; feature-map priors need a layer with maps (conv, relu, norm, pool)"
        )
    # Channels of a feature map are different quantities: no per-patch mean over them is removed.
    prior = _fit_prior(F, expert, p, p["feature_patch_size"], p["feature_components"], False, f"{layer} maps")
    state = {"layer": layer, "channels": int(F.shape[1]), "patch_size": p["feature_patch_size"]}
    _write_prior(prior, prior_out, state, history_out, {"expert": expert, "layer": layer})


# --- pre-images ----------------------------------------------------------------------------------


def method_expert(method: str) -> str | None:
    """The learned prior a pre-image method uses: None for 'tv', 'ica' for 'ica' and 'ica_features', ..."""
    return None if method == "tv" else method.removesuffix("_features")


def preimage_run(
    arrays_path: str, samples_path: str, network_path: str, spec: Spec, method: str, layer: str,
    images_out: str, table_out: str, search_out: str, image_prior: str | None = None,
    feature_priors: Mapping[str, str] | None = None, image_search: str | None = None, device: str = "cpu",
) -> None:  # fmt: skip
    """Pre-images of held-out images at ``layer`` (Mahendran & Vedaldi 2016) with one prior method.

    ``tv``: the alpha-norm and TV^beta of M&V. ``ica`` / ``student_t``: the alpha-norm and the learned
    image prior ``image_prior`` in place of TV, its weight chosen from ``weight_grid`` on other held-out
    images. ``ica_features`` / ``student_t_features``: the same image prior at the weight its own search
    chose (``image_search``, that method's search table at this layer) plus the feature-map priors
    ``feature_priors`` ({layer: file}, the configured feature layers before ``layer``) on the maps of
    the current image, with one weight searched the same way.
    """
    from ..inversion.metrics import image_metrics, representation_error
    from ..inversion.preimage import PreimageConfig, image_to_mv_units, mv_units_to_image, preimage, select_prior_weight
    from ..inversion.priors import image_energy

    pre = spec["preimage"]
    samples, X = load_images(arrays_path, samples_path, "inversion")
    images = _held_out(samples, X, samples_path, 0, pre["n_images"], pre["seed"])
    search = _held_out(samples, X, samples_path, pre["n_images"], pre["search_images"], pre["seed"])
    net = _network(network_path, device)
    for param in net.parameters():
        param.requires_grad_(False)
    mean255 = (
        (net.mean.flatten() * 255.0).tolist()
        if X.shape[1] == net.mean.numel()
        else [float(net.mean.mean()) * 255.0] * X.shape[1]
    )
    _, stride = net.receptive_field(layer)
    stride_px = max(1, round(stride / (net.input_size[0] / X.shape[2])))

    def phi(x: torch.Tensor) -> torch.Tensor:
        return net.features(mv_units_to_image(x, mean255), layer)

    config = PreimageConfig(
        C=data_weight(spec, layer),
        optimiser=pre["optimiser"],
        iterations=tuple(pre["iterations"]),
        lambda_tv=0.0 if method != "tv" else None,
    )
    config.validate()
    fixed: list = []  # (name, weight, energy) priors at a weight already chosen
    searched: list = []  # (name, energy) priors sharing the weight searched here
    if image_prior is not None:
        prior = _load_prior(image_prior)
        energy = (method_expert(method), lambda x, prior=prior: image_energy(prior, mv_units_to_image(x, mean255)))
        if image_search is None:
            searched.append(energy)
        else:
            table = io.read_parquet(image_search)
            fixed.append((energy[0], float(table.loc[table["selected"], "weight"].iloc[0]), energy[1]))
    for feature_layer, path in (feature_priors or {}).items():
        prior = _load_prior(path)
        searched.append(
            (
                f"{method_expert(method)}_{feature_layer}",
                lambda x, prior=prior, fl=feature_layer: image_energy(
                    prior, net.features(mv_units_to_image(x, mean255), fl)
                ),
            )
        )

    def run(targets: torch.Tensor, weight: float, seed: int):
        with torch.no_grad():
            phi0 = phi(image_to_mv_units(targets.to(device), mean255))
        extra = fixed + [(name, weight, fn) for name, fn in searched]
        result = preimage(
            phi,
            phi0,
            tuple(targets.shape[1:]),
            config,
            stride=stride_px,
            extra_priors=extra,
            generator=torch.Generator().manual_seed(seed),
            logger=logger,
        )
        x01 = mv_units_to_image(result.x, mean255).cpu()
        frame = image_metrics(x01.clamp(0, 1), targets)
        rep = representation_error(phi(result.x).detach(), phi0)
        frame["normalised_error"], frame["relative_error"] = (
            rep["normalised_error"].to_numpy(),
            rep["relative_error"].to_numpy(),
        )
        return x01, frame

    if searched:
        found = select_prior_weight(
            pre["weight_grid"], lambda w: run(search, w, pre["seed"] + 1)[1], criterion=SEARCH_CRITERION, logger=logger
        )
        weight, search_table = found.best_weight, found.table
    else:
        weight, search_table = 0.0, pd.DataFrame({"weight": [0.0], "n_images": [0], "selected": [True]})
    search_table.insert(0, "method", method)
    search_table.insert(1, "layer", layer)
    search_table["criterion"] = SEARCH_CRITERION
    logger.info(
        "%s at %s: C = %g, fixed priors %s, searched priors %s at weight %g, jitter stride %d px; inverting %d images",
        method, layer, config.C, [(n, w) for n, w, _ in fixed], [n for n, _ in searched], weight, stride_px, len(images),
    )  # fmt: skip
    x01, frame = run(images, weight, pre["seed"])
    frame.insert(0, "method", method)
    frame.insert(1, "layer", layer)
    frame.insert(2, "image", np.arange(len(images)))
    frame["prior_weight"] = weight if searched else (fixed[0][1] if fixed else 0.0)
    frame["feature_prior_layers"] = ",".join(feature_priors or {})
    frame["C"] = config.C
    io.save_tensor({"preimages": x01, "originals": images, "method": method, "layer": layer}, images_out)
    io.write_parquet(
        frame, table_out, metadata={"method": method, "layer": layer, "C": config.C, "prior_weight": weight}
    )
    io.write_parquet(search_table, search_out, metadata={"criterion": SEARCH_CRITERION})


# --- comparison ----------------------------------------------------------------------------------


def tables_run(
    inverter_table: str,
    preimage_tables: Sequence[str],
    preimage_images: Sequence[str],
    spec: Spec,
    table_out: str,
    figure_out: str,
    sheet_out: str,
    dpi: int = 110,
) -> None:
    """Mean metrics per layer and method (hand-made prior, learned priors, trained inverters) and the pre-image sheets."""
    from ..inversion.figures import plot_comparison, plot_preimage_sheets

    inv = io.read_parquet(inverter_table)
    inv = inv.assign(method="inverter_" + inv["regime"], family="trained inverter")
    pre = pd.concat([io.read_parquet(p) for p in preimage_tables], ignore_index=True)
    pre = pre.assign(
        family=np.select(
            [pre["method"] == "tv", pre["method"].str.endswith("_features")],
            ["hand-made prior", "learned image + feature priors"],
            "learned prior",
        )
    )
    metrics = ["mse", "psnr", "ssim"]
    rows = pd.concat(
        [
            inv[["family", "method", "layer", *metrics]],
            pre[["family", "method", "layer", *metrics, "normalised_error", "relative_error"]],
        ],
        ignore_index=True,
    )
    table = rows.groupby(["layer", "family", "method"], sort=False).agg(["mean", "std", "count"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    table = table.reset_index()
    order = {layer: i for i, layer in enumerate(spec["layers"])}
    table = table.sort_values(
        ["layer", "family", "method"], key=lambda c: c.map(order) if c.name == "layer" else c
    ).reset_index(drop=True)
    io.write_parquet(table, table_out)
    io.save_figure(
        plot_comparison(table, spec["layers"], f"{spec['arch']}: reconstructions from each layer"), figure_out, dpi=dpi
    )
    results = [io.load_tensor(p) for p in preimage_images]
    io.save_figure(
        plot_preimage_sheets(results, spec["layers"], f"{spec['arch']}: pre-images of held-out images"),
        sheet_out,
        dpi=dpi,
    )

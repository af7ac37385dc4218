"""Inversion branch: what does a layer still know about its input image?

The stages of the branch (the "Deep Restoration" study, building on Mahendran & Vedaldi CVPR 2015 /
IJCV 2016, Dosovitskiy & Brox CVPR 2016, Hyvarinen 2005 and Roth & Black 2005), each a function
named after the rule of ``workflow/rules/inversion.smk`` that calls it, with the rule's inputs,
params and wildcards as keyword arguments and its outputs as ``{output}_out``. They read, call the
library (:mod:`repgeo.inversion`), log and write. Artifacts under ``results/inversion/{name}/``:

- ``network.pt``, ``network_history.parquet``: the network to invert, trained on the dataset's
  training split (:func:`repgeo.inversion.networks.train_network`) or loaded from a torchvision
  state dict, with its accuracy (epoch, train_loss, train_accuracy, test_accuracy);
- ``statistics/{layer}.parquet`` (covariance and regularised inverse: Toeplitz closeness in total,
  interior and border, rank, conditioning; :func:`~repgeo.inversion.feature_stats.covariance_summary`),
  ``statistics/{layer}_sparsity.parquet`` (per channel and overall), ``statistics/{layer}.png``
  (heat maps of the covariance, its block-Toeplitz approximation, the regularised inverse and the
  mean Gram matrix: the study's Figure 4);
- ``inverters/{regime}/{layer}.pt`` and ``..._history.parquet``: the inverting stack of one regime
  (separate, joint, end_to_end) from one layer; ``inverters.parquet`` (per held-out image, regime
  and layer: mse, baseline_mse of the mean training image, psnr, ssim) and ``inverters.png``
  (originals, reconstructions and the study's two error images);
- ``priors/{expert}.pt``, ``..._history.parquet``, ``priors/{expert}.png``: the score-matching
  patch prior (ica: -log cosh; student_t: fields of experts) and its filter sheet (the study's
  Figure 8); ``priors/{expert}/{layer}.pt`` and ``_history.parquet``: the same prior on
  feature-map patches of a layer (all channels), used as a feature-map prior by the ``*_features``
  pre-image methods;
- ``preimages/{method}/{layer}.pt`` (the pre-images in [0, 1]), ``.parquet`` (per image: normalised
  representation error and its square root, mse, psnr, ssim, the weight used) and
  ``_search.parquet`` (the weight search of a learned prior on held-out images);
- ``comparison.parquet`` / ``comparison.png`` (mean metrics per layer and method: hand-made prior,
  learned priors and the trained inverters) and ``preimages.png`` (the study's Figures 5-7, 9, 10).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import io
from ..registry import method_expert
from ..data import DataError, select_samples
from .images import load_images, split_images

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def _held_out(samples: pd.DataFrame, X: torch.Tensor, path: str, start: int, count: int, seed: int) -> torch.Tensor:
    """``count`` test images from position ``start`` of a seeded permutation of the test split."""
    test = split_images(samples, X, "test", path)
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))
    if start + count > len(test):
        raise DataError(
            f"{path} has {len(test)} test images; {start + count} are needed (lower n_images / search_images or raise test_fraction)"
        )
    return test[order[start : start + count]]


def _network(path: str, device: str = "cpu"):
    from ..inversion.networks import load_network

    return load_network(path, device=device)


# --- the network ---------------------------------------------------------------------------------


def inversion_network(
    *, arrays: str, samples: str, spec: Spec, device: str = "cpu", model_out: str, history_out: str
) -> None:
    """Train the network to invert on the training split (or load the user's torchvision weights); report accuracy."""
    from ..inversion.networks import build_network, load_torchvision_weights, save_network, train_network

    table, X = load_images(arrays, samples, "inversion")
    label = spec["label"]
    if label not in table.columns:
        raise DataError(f"{samples} has no column {label!r}; set the entry's label to one of {list(table.columns)}")
    y = table[label].to_numpy()
    if np.issubdtype(y.dtype, np.bool_):  # a CelebA attribute: classes 0 and 1
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"column {label!r} of {samples} is not integer or boolean class labels (dtype {y.dtype}); choose another label"
        )
    train, test = select_samples(table, "train"), select_samples(table, "test")
    image_size = tuple(int(s) for s in X.shape[2:])
    if spec["weights"]:
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


# --- feature-map statistics ----------------------------------------------------------------------


def inversion_statistics(
    *,
    arrays: str,
    samples: str,
    network: str,
    spec: Spec,
    dpi: int,
    layer: str,
    table_out: str,
    sparsity_out: str,
    figure_out: str,
) -> None:
    """Covariance, regularised inverse, Toeplitz closeness, Gram matrices and sparsity of ``layer``
    (the "Deep Restoration" study, section 4.1)."""
    from ..inversion.feature_stats import covariance_statistics, gram_matrices, sparsity, statistics_grid
    from ..inversion.figures import plot_feature_statistics
    from ..inversion.networks import layer_features

    stats_spec = spec["statistics"]
    table, X = load_images(arrays, samples, "inversion")
    test = split_images(table, X, "test", samples)[: stats_spec["n_images"]]
    net = _network(network)
    F = layer_features(net, test, layer)
    if F.ndim != 4:
        raise ValueError(
            f"layer {layer!r} gives vectors of shape {tuple(F.shape[1:])}; feature-map statistics need a convolutional layer (conv, relu, norm, pool)"
        )
    channels, border = statistics_grid(
        F.shape[1], net.receptive_field(layer), channels=stats_spec["channels"], border=stats_spec["border"]
    )
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
    io.write_parquet(result.summary(layer), table_out, metadata={"layer": layer, "channels": channels})
    sp = sparsity(F)
    sp.insert(0, "layer", layer)
    io.write_parquet(sp, sparsity_out, metadata={"layer": layer})
    gram = gram_matrices(F).mean
    io.save_figure(
        plot_feature_statistics(result, gram, f"{spec['arch']} {layer}: {len(F)} test images"), figure_out, dpi=dpi
    )


# --- modular inverting networks ------------------------------------------------------------------


def inversion_inverter(
    *,
    arrays: str,
    samples: str,
    network: str,
    spec: Spec,
    device: str = "cpu",
    regime: str,
    layer: str,
    model_out: str,
    history_out: str,
) -> None:
    """Train the inverting stack of ``regime`` from ``layer`` to the image on the training split
    (the "Deep Restoration" study, section 3.2)."""
    from ..inversion.inverters import network_blocks, train_end_to_end, train_joint, train_separate
    from ..inversion.networks import preprocess_images

    trainers = {"separate": train_separate, "joint": train_joint, "end_to_end": train_end_to_end}
    inv = spec["inverters"]
    table, X = load_images(arrays, samples, "inversion")
    train = split_images(table, X, "train", samples)
    net = _network(network, device)
    blocks = network_blocks(net, layer)
    Xp = preprocess_images(net, train, device=device)
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


def _load_inverter(path: str, blocks):
    from ..inversion.inverters import inverter_stack

    state = io.load_tensor(path)
    s = state["settings"]
    stack = inverter_stack(blocks, variant=s["variant"], seed=s["seed"])
    stack.load_state_dict(state["state_dict"])
    return stack.eval()


def inversion_inverter_tables(
    *,
    arrays: str,
    samples: str,
    network: str,
    inverters: Mapping[tuple[str, str], str],
    spec: Spec,
    dpi: int,
    table_out: str,
    figure_out: str,
) -> None:
    """Reconstructions of held-out images from every layer by every regime (``inverters``:
    {(regime, layer): file}): metrics table and sheets."""
    from ..inversion.figures import plot_inverter_sheets
    from ..inversion.inverters import held_out_reconstructions, network_blocks
    from ..inversion.networks import unpreprocess

    table, X = load_images(arrays, samples, "inversion")
    train = split_images(table, X, "train", samples)
    test = split_images(table, X, "test", samples)
    net = _network(network)
    mean_image = train.mean(dim=0)
    unprocess = unpreprocess(net, X.shape[2:], X.shape[1])
    with torch.no_grad():
        Xp = net.preprocess(test)
    frames, sheets = [], {}
    show = min(spec["inverters"]["n_show"], len(test))
    for (regime, layer), path in inverters.items():
        blocks = network_blocks(net, layer)
        m, sheets[(layer, regime)] = held_out_reconstructions(
            _load_inverter(path, blocks),
            blocks,
            Xp,
            test,
            mean_image,
            unprocess=unprocess,
            n_show=show,
            regime=regime,
            layer=layer,
        )
        frames.append(m)
        logger.info(
            "%s from %s: mse %.5f (mean image %.5f), ssim %.3f",
            regime,
            layer,
            m["mse"].mean(),
            m["baseline_mse"].mean(),
            m["ssim"].mean(),
        )
    io.write_parquet(pd.concat(frames, ignore_index=True), table_out, metadata={"n_test": len(test)})
    io.save_figure(
        plot_inverter_sheets(test[:show], sheets, f"{spec['arch']}: inverters on held-out images"), figure_out, dpi=dpi
    )


# --- learned patch priors ------------------------------------------------------------------------


def _write_prior(prior, prior_out: str, state: dict, history_out: str, labels: dict) -> None:
    """The prior with ``state`` (channels, patch size, ...) to ``prior_out``, and its loss history labelled by ``labels``."""
    io.save_tensor({"prior": prior.to_dict(), **state}, prior_out)
    history = pd.DataFrame(prior.history, columns=["step", "loss"])
    for i, (k, v) in enumerate(labels.items()):
        history.insert(i, k, v)
    io.write_parquet(history, history_out, metadata={**labels, "converged": bool(prior.converged)})


def _prior_settings(p: Spec) -> dict[str, Any]:
    """The settings of :func:`repgeo.inversion.priors.fit_patch_prior` shared by image and feature-map priors."""
    return {k: p[k] for k in ("n_patches", "overcompleteness", "steps", "lr", "batch_size", "seed")}


def inversion_prior(
    *,
    arrays: str,
    samples: str,
    spec: Spec,
    dpi: int,
    expert: str,
    prior_out: str,
    history_out: str,
    figure_out: str,
) -> None:
    """Fit a score-matching patch prior (ica or student_t) on whitened patches of the training images
    (the "Deep Restoration" study, sections 3.4.2-3.4.3)."""
    from ..inversion.figures import plot_filter_sheet
    from ..inversion.priors import fit_patch_prior

    p = spec["priors"]
    table, X = load_images(arrays, samples, "inversion")
    train = split_images(table, X, "train", samples).double()
    prior = fit_patch_prior(
        train,
        expert=expert,
        size=p["patch_size"],
        components=p["components"],
        remove_dc=True,
        **_prior_settings(p),
        what="images",
        logger=logger,
    )
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


def inversion_feature_prior(
    *,
    arrays: str,
    samples: str,
    network: str,
    spec: Spec,
    expert: str,
    layer: str,
    prior_out: str,
    history_out: str,
) -> None:
    """Fit a score-matching prior on patches of ``layer``'s feature maps of the training images, all
    channels included (the "Deep Restoration" study, section 5.1: feature-map priors used at
    intermediate layers)."""
    from ..inversion.networks import layer_features
    from ..inversion.priors import fit_patch_prior

    p = spec["priors"]
    table, X = load_images(arrays, samples, "inversion")
    train = split_images(table, X, "train", samples)
    F = torch.as_tensor(layer_features(_network(network), train, layer)).double()
    if F.ndim != 4:
        raise ValueError(
            f"layer {layer!r} gives vectors; feature-map priors need a layer with maps (conv, relu, norm, pool)"
        )
    # Channels of a feature map are different quantities: no per-patch mean over them is removed.
    prior = fit_patch_prior(
        F,
        expert=expert,
        size=p["feature_patch_size"],
        components=p["feature_components"],
        remove_dc=False,
        **_prior_settings(p),
        what=f"{layer} maps",
        logger=logger,
    )
    state = {"layer": layer, "channels": int(F.shape[1]), "patch_size": p["feature_patch_size"]}
    _write_prior(prior, prior_out, state, history_out, {"expert": expert, "layer": layer})


# --- pre-images ----------------------------------------------------------------------------------


def inversion_preimage(
    *,
    arrays: str,
    samples: str,
    network: str,
    image_prior: str | None = None,
    feature_priors: Mapping[str, str] | None = None,
    image_search: str | None = None,
    spec: Spec,
    device: str = "cpu",
    method: str,
    layer: str,
    images_out: str,
    table_out: str,
    search_out: str,
) -> None:
    """Pre-images of held-out images at ``layer`` with one prior method
    (:func:`repgeo.inversion.preimage.layer_preimages`: Mahendran & Vedaldi 2016 with the learned
    priors of the "Deep Restoration" study).

    ``tv``: the alpha-norm and TV^beta of M&V. ``ica`` / ``student_t``: the alpha-norm and the learned
    image prior ``image_prior`` in place of TV, its weight chosen from ``weight_grid`` on other held-out
    images. ``ica_features`` / ``student_t_features``: the same image prior at the weight its own search
    chose (``image_search``, that method's search table at this layer) plus the feature-map priors
    ``feature_priors`` ({layer: file}, the configured feature layers before ``layer``) on the maps of
    the current image, with one weight searched the same way.
    """
    from ..inversion.preimage import SEARCH_CRITERION, data_weight, layer_preimages

    pre = spec["preimage"]
    table, X = load_images(arrays, samples, "inversion")
    images = _held_out(table, X, samples, 0, pre["n_images"], pre["seed"])
    search = _held_out(table, X, samples, pre["n_images"], pre["search_images"], pre["seed"])
    net = _network(network, device)
    image_weight = None
    if image_search is not None:
        chosen = io.read_parquet(image_search)
        image_weight = float(chosen.loc[chosen["selected"], "weight"].iloc[0])
    problem = layer_preimages(
        net,
        layer,
        channels=X.shape[1],
        image_height=X.shape[2],
        C=data_weight(layer, arch=net.arch, C=pre["C"]),
        optimiser=pre["optimiser"],
        iterations=pre["iterations"],
        tv=method == "tv",
        expert=method_expert(method),
        image_prior=None if image_prior is None else _load_prior(image_prior),
        image_prior_weight=image_weight,
        feature_priors={fl: _load_prior(path) for fl, path in (feature_priors or {}).items()},
    )
    weight, search_table = problem.search_weight(
        search, pre["weight_grid"], pre["seed"] + 1, device=device, logger=logger
    )
    search_table.insert(0, "method", method)
    search_table.insert(1, "layer", layer)
    search_table["criterion"] = SEARCH_CRITERION
    logger.info(
        "%s at %s: C = %g, fixed priors %s, searched priors %s at weight %g, jitter stride %d px; inverting %d images",
        method, layer, problem.config.C, [(n, w) for n, w, _ in problem.fixed], [n for n, _ in problem.searched],
        weight, problem.stride, len(images),
    )  # fmt: skip
    x01, frame = problem.invert(images, weight, pre["seed"], device=device, logger=logger)
    frame.insert(0, "method", method)
    frame.insert(1, "layer", layer)
    frame.insert(2, "image", np.arange(len(images)))
    frame["prior_weight"] = problem.prior_weight(weight)
    frame["feature_prior_layers"] = ",".join(feature_priors or {})
    frame["C"] = problem.config.C
    io.save_tensor({"preimages": x01, "originals": images, "method": method, "layer": layer}, images_out)
    io.write_parquet(
        frame, table_out, metadata={"method": method, "layer": layer, "C": problem.config.C, "prior_weight": weight}
    )
    io.write_parquet(search_table, search_out, metadata={"criterion": SEARCH_CRITERION})


# --- comparison ----------------------------------------------------------------------------------


def inversion_tables(
    *,
    inverters: str,
    tables: Sequence[str],
    images: Sequence[str],
    spec: Spec,
    dpi: int,
    table_out: str,
    figure_out: str,
    sheet_out: str,
) -> None:
    """Mean metrics per layer and method (hand-made prior, learned priors, trained inverters) and the pre-image sheets."""
    from ..inversion.figures import plot_comparison, plot_preimage_sheets
    from ..inversion.metrics import comparison_table

    table = comparison_table(
        io.read_parquet(inverters), pd.concat([io.read_parquet(p) for p in tables], ignore_index=True), spec["layers"]
    )
    io.write_parquet(table, table_out)
    io.save_figure(
        plot_comparison(table, spec["layers"], f"{spec['arch']}: reconstructions from each layer"), figure_out, dpi=dpi
    )
    results = [io.load_tensor(p) for p in images]
    io.save_figure(
        plot_preimage_sheets(results, spec["layers"], f"{spec['arch']}: pre-images of held-out images"),
        sheet_out,
        dpi=dpi,
    )

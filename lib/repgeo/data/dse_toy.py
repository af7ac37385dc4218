"""Source ``dse_toy``: the toy families of the DSE/DSMI paper (Liao, Liu et al., arXiv 2312.04823).

Protocols follow the authors' toy scripts in the history of ChenLiu-1996/DiffusionSpectralEntropy:
``src/manifold_investigation/toy_data_entropy.py`` and ``toy_entropy_comparison.py`` (DSE against
intrinsic dimension) and ``toy_data_MI.py`` (DSMI on branching trees with label corruption),
re-implemented from a description of them:

- ``uniform`` / ``gaussian`` (``toy_data_entropy.py``): n points in D = ambient_dim (default 2048), U[-1, 1] or N(0, 1)
  in every coordinate; coordinates d+1..D are then overwritten with ONE shared constant drawn from
  N(0, 1), so the data spans a d-dimensional affine subspace; then noise * U[-1, 1] is added to all
  D coordinates.
- ``tree`` (``toy_data_MI.py``, PHATE-style random-walk tree, D default 20): ``branches`` branches of
  n // branches points; every point is the previous one plus a step U[-1, 1]^D. Branch 0 walks from
  the origin; every later branch walks from a random point of branch 0 (its anchor, recorded in
  ``info['branch_anchors']``). The branch id is the label.
- ``blobs`` (D default 20): ``centers`` isotropic Gaussian blobs, centres uniform in
  [-center_box, center_box]^D, points N(centre, cluster_std^2 I), sizes n // centers with the
  remainder spread over the first blobs. The blob id is the label.

Every family gets the additive noise noise * U[-1, 1] on every coordinate. For tree and blobs a
``corruption`` fraction of the points, chosen at random, has its label replaced by a uniformly
random label (which may coincide with the true one), so with k labels the true mutual information
is log2 k - H(1 - r + r/k, r/k, ..., r/k). The corrupted points and their new labels are drawn
after the data, as a prefix of one permutation, so the points do not depend on ``corruption`` and
the corrupted sets are nested as the fraction grows.

Everything is drawn from ``numpy.random.default_rng(seed)`` in float64 and cast to float32 at the
end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import Dataset, DataError, random_split, register

FAMILIES = ("uniform", "gaussian", "tree", "blobs")


def subspace_data(n: int, dim: int, ambient_dim: int, family: str, rng: np.random.Generator) -> np.ndarray:
    """``n x ambient_dim`` points of intrinsic dimension ``dim`` (``toy_data_entropy.py``, before the noise).

    Coordinates 0..dim-1 are U[-1, 1] (``uniform``) or N(0, 1) (``gaussian``); the others all
    hold one shared constant drawn from N(0, 1).
    """
    if family == "uniform":
        x = rng.uniform(-1.0, 1.0, size=(n, ambient_dim))
    elif family == "gaussian":
        x = rng.standard_normal((n, ambient_dim))
    else:
        raise DataError(f"subspace_data: family must be uniform or gaussian, got {family!r}")
    # Drawn even when dim == ambient_dim, so the noise stream does not depend on dim.
    x[:, dim:] = rng.standard_normal()
    return x


def random_walk_tree(
    n_per_branch: int, branches: int, ambient_dim: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A PHATE-style random-walk tree (``toy_data_MI.py``, before the noise).

    Returns ``(x, label, position, anchors)``: points ``(branches * n_per_branch) x ambient_dim``
    in branch order, the branch id of each point, its step index along its branch (0-based; the
    point at position j is j + 1 steps from the branch's start), and for each branch the index in
    branch 0 of the point it starts from (-1 for branch 0, which starts at the origin).
    """
    steps = rng.uniform(-1.0, 1.0, size=(n_per_branch, ambient_dim))
    trunk = np.cumsum(steps, axis=0)
    parts = [trunk]
    anchors = [-1]
    for _ in range(1, branches):
        anchor = int(rng.integers(n_per_branch))
        steps = rng.uniform(-1.0, 1.0, size=(n_per_branch, ambient_dim))
        parts.append(trunk[anchor] + np.cumsum(steps, axis=0))
        anchors.append(anchor)
    label = np.repeat(np.arange(branches), n_per_branch)
    position = np.tile(np.arange(n_per_branch), branches)
    return np.concatenate(parts), label, position, np.array(anchors)


def gaussian_blobs(
    n: int,
    centers: int,
    ambient_dim: int,
    cluster_std: float,
    center_box: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``centers`` isotropic Gaussian blobs: returns ``(x, label, centres)``, before the noise.

    Blob i has n // centers points, plus one for i < n % centers; points are in label order.
    """
    centres = rng.uniform(-center_box, center_box, size=(centers, ambient_dim))
    sizes = np.full(centers, n // centers) + (np.arange(centers) < n % centers)
    label = np.repeat(np.arange(centers), sizes)
    x = centres[label] + cluster_std * rng.standard_normal((n, ambient_dim))
    return x, label, centres


def add_uniform_noise(x: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``x + noise * U[-1, 1]`` on every coordinate (drawn even for noise 0, keeping the stream)."""
    return x + noise * rng.uniform(-1.0, 1.0, size=x.shape)


def corrupt_labels(
    label: np.ndarray, n_labels: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Replace the labels of round(fraction * n) random points by uniformly random labels.

    Returns ``(new_label, corrupted)``. The points are a prefix of one permutation and the new
    labels a prefix of one draw, so for a fixed generator state a larger fraction corrupts a
    superset of the points, with the same replacement labels.
    """
    if not 0.0 <= fraction <= 1.0:
        raise DataError(f"corruption must be in [0, 1], got {fraction}")
    n = len(label)
    order = rng.permutation(n)
    replacement = rng.integers(n_labels, size=n)
    m = int(round(fraction * n))
    new_label = label.copy()
    new_label[order[:m]] = replacement[:m]
    corrupted = np.zeros(n, dtype=bool)
    corrupted[order[:m]] = True
    return new_label, corrupted


def _count(spec: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = int(spec.get(key, default))
    if value < minimum:
        raise DataError(f"dse_toy: {key} must be at least {minimum}, got {value}")
    return value


@register("dse_toy")
def dse_toy(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """The DSE paper's toy data (module docstring), with labels for tree and blobs."""
    family = spec.get("family")
    if family not in FAMILIES:
        raise DataError(f"unknown dse_toy family {family!r}; set family: to one of {', '.join(FAMILIES)}")
    n = _count(spec, "n", 500, 2)
    seed = int(spec.get("seed", 0))
    noise = float(spec.get("noise", 0.01))
    if noise < 0:
        raise DataError(f"dse_toy: noise must be >= 0, got {noise}")
    default_ambient = 2048 if family in ("uniform", "gaussian") else 20
    ambient = spec.get("ambient_dim")
    ambient = default_ambient if ambient is None else int(ambient)
    if ambient < 1:
        raise DataError(f"dse_toy: ambient_dim must be at least 1, got {ambient}")
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    info: dict[str, Any] = {"family": family, "ambient_dim": ambient, "noise": noise, "seed": seed}

    if family in ("uniform", "gaussian"):
        dim = _count(spec, "dim", 10, 1)
        if dim > ambient:
            raise DataError(
                f"dse_toy {family}: dim {dim} exceeds ambient_dim {ambient}; "
                f"set dim <= ambient_dim or raise ambient_dim"
            )
        x = add_uniform_noise(subspace_data(n, dim, ambient, family, rng), noise, rng)
        columns["true_dim"] = np.full(n, dim, dtype=np.int64)
        info["dim"] = dim
    else:
        fraction = float(spec.get("corruption", 0.0))
        if family == "tree":
            k = _count(spec, "branches", 5, 1)
            per_branch = n // k
            if per_branch < 1:
                raise DataError(
                    f"dse_toy tree: n = {n} is smaller than branches = {k}; set n to at least the number of branches"
                )
            x, label, position, anchors = random_walk_tree(per_branch, k, ambient, rng)
            info.update(branches=k, points_per_branch=per_branch, branch_anchors=anchors.tolist())
        else:
            k = _count(spec, "centers", 5, 1)
            if n < k:
                raise DataError(
                    f"dse_toy blobs: n = {n} is smaller than centers = {k}; set n to at least the number of centers"
                )
            std = float(spec.get("cluster_std", 1.0))
            box = float(spec.get("center_box", 10.0))
            if not (std > 0 and box > 0):
                raise DataError(f"dse_toy blobs: cluster_std and center_box must be > 0, got {std} and {box}")
            x, label, centres = gaussian_blobs(n, k, ambient, std, box, rng)
            info.update(centers=k, cluster_std=std, center_box=box, centres=centres.tolist())
        x = add_uniform_noise(x, noise, rng)
        noisy_label, corrupted = corrupt_labels(label, k, fraction, rng)
        columns.update(label=noisy_label, true_label=label, corrupted=corrupted)
        if family == "tree":
            columns["position"] = position
        info["corruption"] = fraction
        info["n_corrupted"] = int(corrupted.sum())

    n_out = len(x)
    samples = pd.DataFrame(
        {
            "id": [f"p{i:05d}" for i in range(n_out)],
            "split": random_split(n_out, float(spec.get("test_fraction", 0.2)), seed),
            **columns,
        }
    )
    logger.info(
        "dse_toy %s: %d points in %d dimensions, noise %g, %d corrupted labels",
        family,
        n_out,
        ambient,
        noise,
        info.get("n_corrupted", 0),
    )
    return Dataset(samples=samples, arrays=x.astype(np.float32), info=info)

"""Entropy of representations during training: cached spectra, then DSE and DSMI at any t.

Liao, Liu et al., CISS 2024 (arXiv 2312.04823), section 5 (Figures 6-8): S_D(Z), I_D(Z; Y) and
I_D(Z; X) of a fixed evaluation subset's embedding Z after every epoch. Every one of them is an
entropy functional of diffusion spectra: DSE of all rows, DSE of each group of Y (or of the
clusters of X) and DSE of the size-matched random subsets of the DSMI estimate (:mod:`.dsmi`).
:func:`epoch_spectra` computes all those spectra once, in float64, keyed by the rows they were
computed on; :func:`epoch_measures` turns them into DSE and DSMI at any diffusion time t without
a new decomposition: the spectrum of K^t is lambda^t, so one eigendecomposition serves every t.

A key is a hash of the sorted row indices, so the DSMI recipe, which draws its subsets
deterministically from (n, group sizes, R, seed), finds its spectra again on the second pass.

:func:`input_groups` clusters the inputs X once (the reference variable of I_D(Z; X)),
:func:`groupings` gives the DSMI groupings of a tracked subset, and :func:`trajectory_measures`
turns a run's cached spectra and embeddings into its trajectory: DSE and DSMI with the classic
Shannon baselines CSE and CSMI (Figures 6-8).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np

from .dse import diffusion_spectrum, entropy_from_spectrum
from .dsmi import Grouping, MutualInformation, cluster_reference, mutual_information_from_groups, resolve_groups
from .shannon import classic_shannon_entropy, classic_shannon_mutual_information

ALL_ROWS = "all"


def rows_key(idx: np.ndarray) -> str:
    """The cache key of a set of rows (indices into Z)."""
    return hashlib.sha1(np.ascontiguousarray(np.asarray(idx, dtype=np.int64)).tobytes()).hexdigest()[:20]


def epoch_spectra(
    Z,
    groupings: Mapping[str, Grouping],
    *,
    sigma: float | str = 10.0,
    alpha: float = 0.0,
    n_neighbors: int = 15,
    max_n: int | None = 10_000,
    n_repetitions: int = 5,
    seed: int = 0,
    dtype="float64",
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """Every diffusion spectrum that DSE(Z) and DSMI(Z; groups) need, keyed by :func:`rows_key`.

    ``groupings``: name -> grouping of the rows of Z (e.g. 'y' for the labels, 'x' for the
    clusters of the inputs). The key :data:`ALL_ROWS` holds the spectrum of all rows. Spectra
    are float64 whatever ``dtype`` computed them. The DSE options are those of
    :func:`repgeo.entropy.dse.diffusion_spectrum`; ``n_repetitions`` and ``seed`` those of DSMI.
    """
    Z = np.asarray(Z)
    options = dict(alpha=alpha, n_neighbors=n_neighbors, dtype=dtype, device=device)
    spectra = {ALL_ROWS: diffusion_spectrum(Z, sigma, max_n, seed, **options).eigenvalues}

    def record(idx: np.ndarray) -> float:
        key = rows_key(idx)
        if key not in spectra:
            spectra[key] = diffusion_spectrum(Z[idx], sigma, max_n, seed, **options).eigenvalues
        return 0.0

    for grouping in groupings.values():
        mutual_information_from_groups(len(Z), grouping, record, n_repetitions, seed, "dsmi", None)
    return spectra


def epoch_measures(
    spectra: Mapping[str, np.ndarray],
    n: int,
    groupings: Mapping[str, Grouping],
    t: float = 1.0,
    *,
    n_repetitions: int = 5,
    seed: int = 0,
) -> tuple[float, dict[str, MutualInformation]]:
    """DSE(Z) and DSMI(Z; g) for every grouping g at time ``t``, from :func:`epoch_spectra`'s output.

    ``n`` (rows of Z), ``n_repetitions`` and ``seed`` must be those the spectra were computed
    with; a missing spectrum raises KeyError naming the fix.
    """

    def entropy_of(idx: np.ndarray) -> float:
        key = rows_key(idx)
        if key not in spectra:
            raise KeyError(
                f"no cached spectrum for a subset of {len(idx)} rows: the spectra were computed with other "
                "groups, n_repetitions or seed; recompute them"
            )
        return entropy_from_spectrum(spectra[key], t)

    dse = entropy_from_spectrum(spectra[ALL_ROWS], t)
    mi = {
        name: mutual_information_from_groups(n, grouping, entropy_of, n_repetitions, seed, "dsmi", t)
        for name, grouping in groupings.items()
    }
    return dse, mi


def input_groups(X, *, n_clusters: int, seed: int) -> np.ndarray:
    """The reference variable of I_D(Z; X): the inputs X (one flattened input per row) in
    ``n_clusters`` spectral clusters (:func:`repgeo.entropy.dsmi.cluster_reference`, seeded with
    ``seed``), computed once and shared by every epoch, mode and seed of a study."""
    return cluster_reference(X, n_clusters, random_state=int(seed))


def groupings(labels: np.ndarray, x_groups: np.ndarray | None = None) -> dict[str, Grouping]:
    """The DSMI groupings of a tracked subset: 'y' (its class labels) and, when given, 'x' (its
    input clusters, :func:`input_groups`)."""
    out = {"y": resolve_groups(None, labels, len(labels), 10, None)}
    if x_groups is not None:
        out["x"] = Grouping(np.asarray(x_groups, dtype=np.int64), "clustered")
    return out


def trajectory_measures(
    Z: np.ndarray,
    spectra_of: Callable[[int], Mapping[str, np.ndarray]],
    groups: Mapping[str, Grouping],
    *,
    t: float,
    n_repetitions: int,
    seed: int,
    cse_bins: int,
    max_n: int | None,
) -> list[dict[str, float]]:
    """The measures of every epoch of one run (Liao et al. 2024, section 5): one dict per epoch
    e of ``Z`` (epochs x n x dim) with ``epoch``, ``dse``, ``dsmi_zy`` and ``dsmi_zx`` (with
    their ``_sd`` over the R subset draws) at time ``t`` from the cached spectra
    ``spectra_of(e)`` (:func:`epoch_spectra`'s output for that epoch), and the classic Shannon
    baselines ``cse``, ``csmi_zy``, ``csmi_zx`` with ``cse_bins`` bins per dimension.
    ``groups`` holds the groupings 'y' and 'x' (:func:`groupings`)."""
    rows = []
    for epoch, Ze in enumerate(Z):
        dse, mi = epoch_measures(spectra_of(epoch), len(Ze), groups, t, n_repetitions=n_repetitions, seed=seed)
        csmi = {
            g: classic_shannon_mutual_information(
                Ze, groups=groups[g].labels, n_bins=cse_bins, n_repetitions=n_repetitions, seed=seed, max_n=max_n
            )
            for g in ("y", "x")
        }
        rows.append(
            {
                "epoch": epoch,
                "dse": dse,
                "dsmi_zy": mi["y"].value,
                "dsmi_zy_sd": mi["y"].sd,
                "dsmi_zx": mi["x"].value,
                "dsmi_zx_sd": mi["x"].sd,
                "cse": classic_shannon_entropy(Ze, n_bins=cse_bins, max_n=max_n, seed=seed),
                "csmi_zy": csmi["y"].value,
                "csmi_zx": csmi["x"].value,
            }
        )
    return rows

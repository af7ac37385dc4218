"""Diffusion spectral mutual information (DSMI) and the grouping of the reference variable.

Liao, Liu et al., CISS 2024 (arXiv 2312.04823), DSMI(Z; Y) = DSE(Z) - DSE(Z | Y), estimated as
in the authors' ``dse-dsmi`` 1.1 package (ChenLiu-1996/DiffusionSpectralEntropy, ``dse_dsmi/dsmi.py``)

    DSMI = sum_y (n_y / n) [ mean_{r=1..R} DSE(Z_{S_r(n_y)}) - DSE(Z_{Y=y}) ]

where S_r(m) are R random subsets of m of the n rows. Comparing each group with random subsets
of the same size cancels DSE's growth with the number of points at a fixed distribution.

Y is turned into groups (:func:`reference_groups`): discrete Y (integer or boolean dtype,
integer-valued floats, strings) are used as they are; a continuous scalar Y is cut into
``n_clusters`` equal-width bins of its range; a vector Y (e.g. the flattened input images) is
clustered by spectral clustering (:func:`cluster_reference`), which should be done once and the
groups passed back (``groups=``) for every epoch. The reference treats float-typed labels
(e.g. a float 0/1 vector) as continuous and re-bins them; here they count as discrete.

Subsets follow the reference's documented protocol, so that the values agree with it to
1e-9 bits: for every group, a Python ``random.Random(seed)`` draws R samples of m positions of
range(n). Groups of equal size therefore get identical subsets, whose entropies are computed
once. The R per-repetition values of DSMI are returned with their standard deviation, for
uncertainty bands.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._checks import as_embedding, check_int, check_t
from .dse import diffusion_spectrum
from .kernels import check_alpha, check_sigma


@dataclass(frozen=True)
class Grouping:
    """Group label per sample (``labels``, integers 0..k-1) and how Y was turned into groups.

    ``kind`` is 'discrete', 'binned' (continuous scalar), 'clustered' (vector) or 'precomputed'.
    """

    labels: np.ndarray
    kind: str


@dataclass(frozen=True)
class MutualInformation:
    """A DSMI (or CSMI) estimate in bits with its spread over the R subset repetitions.

    - ``value``: the estimate, the mean of ``repetitions``;
    - ``repetitions``: R values, each sum_y p(y) [H(Z_S_r) - H(Z | Y=y)] with one subset draw r;
    - ``sd``: their standard deviation (ddof=1; NaN when R = 1);
    - ``groups``: the grouping used (pass ``groups.labels`` back as ``groups=`` to reuse it);
    - ``group_sizes``, ``conditional`` (H(Z | Y=y) per group), ``marginal`` (groups x R subset
      entropies), in the order of the group labels 0..k-1;
    - ``measure``: 'dsmi' or 'csmi'; ``t``: the diffusion time (None for CSMI).
    """

    value: float
    sd: float
    repetitions: np.ndarray
    groups: Grouping
    group_sizes: np.ndarray
    conditional: np.ndarray
    marginal: np.ndarray
    measure: str
    t: float | None


def cluster_reference(Y, n_clusters: int = 10, random_state: int = 0) -> np.ndarray:
    """Spectral clustering of a vector reference Y (n x D'), as in the reference code.

    scikit-learn's ``SpectralClustering(n_clusters, affinity='nearest_neighbors',
    assign_labels='cluster_qr', random_state)`` (10 neighbours). Compute once per dataset and
    reuse across epochs (the paper's training runs clustered the input images at epoch 0).
    """
    from sklearn.cluster import SpectralClustering

    Y = as_embedding(Y, "Y")
    n_clusters = check_int(n_clusters, "n_clusters", 1)
    if n_clusters > len(Y):
        raise ValueError(f"n_clusters = {n_clusters} exceeds the number of samples {len(Y)}")
    model = SpectralClustering(
        n_clusters=n_clusters, affinity="nearest_neighbors", assign_labels="cluster_qr", random_state=random_state
    )
    return np.unique(model.fit_predict(Y), return_inverse=True)[1].astype(np.int64)


def _is_discrete(y: np.ndarray) -> bool:
    if y.dtype.kind in "biuUSO":
        return True
    return bool(np.all(y == np.round(y)))


def _as_reference(Y) -> np.ndarray:
    if hasattr(Y, "detach"):
        Y = Y.detach().cpu().numpy()
    Y = np.asarray(Y)
    if Y.ndim == 0:
        raise ValueError("Y must hold one entry (label, value or vector) per sample, got a scalar")
    return Y


def reference_groups(Y, n_clusters: int = 10, discrete: bool | None = None) -> Grouping:
    """Turn the reference variable Y (n values, or n x D') into groups (module docstring).

    ``discrete=None`` infers discreteness; True forces a 1-column Y to be used as labels;
    False forces binning (1 column) or clustering (several columns).
    """
    Y = _as_reference(Y)
    n = len(Y)
    if Y.ndim > 2:
        Y = Y.reshape(n, -1)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim == 1:
        if Y.dtype.kind not in "biuUSO" and not np.isfinite(Y).all():
            raise ValueError("Y has NaN or inf entries; drop those samples or impute them")
        if discrete is None:
            discrete = _is_discrete(Y)
        if discrete:
            return Grouping(np.unique(Y, return_inverse=True)[1].astype(np.int64), "discrete")
        if Y.dtype.kind not in "biuf":
            raise TypeError(f"a continuous Y must be numeric, got dtype {Y.dtype}; pass discrete=True for labels")
        n_bins = check_int(n_clusters, "n_clusters", 1)
        y = Y.astype(np.float64)
        span = y.max() - y.min()
        if span == 0:
            return Grouping(np.zeros(n, dtype=np.int64), "binned")
        # Equal-width bins of the range; the maximum goes into the top bin (as dse_dsmi/dsmi.py does).
        bins = np.digitize((y - y.min()) / span, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
        return Grouping(np.unique(bins, return_inverse=True)[1].astype(np.int64), "binned")
    if discrete:
        raise ValueError(f"discrete=True needs a 1-column Y (labels), got shape {Y.shape}")
    return Grouping(cluster_reference(Y, n_clusters), "clustered")


def resolve_groups(Y, groups, n: int, n_clusters: int, discrete: bool | None) -> Grouping:
    """The grouping from precomputed ``groups`` (n labels) or else from ``Y``."""
    if groups is not None:
        if isinstance(groups, Grouping):
            groups = groups.labels
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ValueError(f"groups must hold one label per row of Z ({n}), got shape {g.shape}")
        return Grouping(np.unique(g, return_inverse=True)[1].astype(np.int64), "precomputed")
    if Y is None:
        raise ValueError("give the reference variable Y or precomputed groups=")
    Y = _as_reference(Y)
    if len(Y) != n:
        raise ValueError(f"Y must have one entry per row of Z ({n}), got shape {Y.shape}")
    return reference_groups(Y, n_clusters, discrete)


def mutual_information_from_groups(
    n: int,
    grouping: Grouping,
    entropy_of: Callable[[np.ndarray], float],
    n_repetitions: int,
    seed: int,
    measure: str,
    t: float | None,
) -> MutualInformation:
    """sum_y p(y) [mean_r H(S_r(n_y)) - H(group y)] for any entropy of a row subset.

    ``entropy_of(indices)`` returns the entropy of the rows ``indices`` (at least 2 of them);
    a single point has entropy 0 (its only probability is 1), so singleton groups contribute 0.
    """
    R = check_int(n_repetitions, "n_repetitions", 1)

    def h(idx: np.ndarray) -> float:
        return 0.0 if len(idx) < 2 else entropy_of(idx)

    labels = grouping.labels
    sizes = np.bincount(labels)
    conditional = np.array([h(np.flatnonzero(labels == g)) for g in range(len(sizes))])
    by_size: dict[int, np.ndarray] = {}
    for m in np.unique(sizes):
        rng = random.Random(seed)  # re-seeded per group: equal sizes share their subsets
        by_size[int(m)] = np.array([h(np.sort(np.array(rng.sample(range(n), int(m))))) for _ in range(R)])
    marginal = np.stack([by_size[int(m)] for m in sizes])
    reps = ((sizes / n)[:, None] * (marginal - conditional[:, None])).sum(axis=0)
    return MutualInformation(
        value=float(reps.mean()),
        sd=float(reps.std(ddof=1)) if R > 1 else float("nan"),
        repetitions=reps,
        groups=grouping,
        group_sizes=sizes,
        conditional=conditional,
        marginal=marginal,
        measure=measure,
        t=t,
    )


def diffusion_spectral_mutual_information(
    Z,
    Y=None,
    t: float = 1.0,
    sigma: float | str = 10.0,
    *,
    groups=None,
    n_repetitions: int = 5,
    n_clusters: int = 10,
    discrete: bool | None = None,
    seed: int = 0,
    max_n: int | None = 10_000,
    alpha: float = 0.0,
    n_neighbors: int = 15,
    dtype="float64",
    device: str = "cpu",
) -> MutualInformation:
    """DSMI(Z; Y) in bits, with its spread over the ``n_repetitions`` subset draws.

    Liao et al., CISS 2024 (arXiv 2312.04823): DSMI = sum_y p(y) [mean_r DSE(Z_{S_r}) - DSE(Z | Y=y)]
    with size-matched random subsets S_r (``dse_dsmi/dsmi.py`` of ChenLiu-1996/DiffusionSpectralEntropy;
    module docstring).
    Defaults reproduce ``dse-dsmi`` 1.1 (sigma = 10, t = 1, R = 5, 10 bins or clusters, seed 0).

    ``Y``: labels (n), a continuous scalar (n), or vectors (n x D'); or pass ``groups`` (one
    label per row, e.g. ``result.groups.labels`` of an earlier call) to skip the clustering.
    The DSE options (``sigma``, ``alpha``, ``n_neighbors``, ``dtype``, ``device``, ``max_n``)
    apply to every group and subset. DSMI can be slightly negative (finite samples).
    """
    Z = as_embedding(Z)
    t = check_t(t)
    sigma = check_sigma(sigma)
    alpha = check_alpha(alpha)
    grouping = resolve_groups(Y, groups, len(Z), n_clusters, discrete)

    def entropy_of(idx: np.ndarray) -> float:
        spectrum = diffusion_spectrum(
            Z[idx], sigma, max_n, seed, alpha=alpha, n_neighbors=n_neighbors, dtype=dtype, device=device
        )
        return spectrum.entropy(t)

    return mutual_information_from_groups(len(Z), grouping, entropy_of, n_repetitions, seed, "dsmi", t)

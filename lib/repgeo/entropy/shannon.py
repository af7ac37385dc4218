"""Classic baselines beside DSE/DSMI: binned Shannon entropy (CSE), CSMI, and a kNN MI estimate.

CSE and CSMI are the strawmen of Liao et al., CISS 2024 (arXiv 2312.04823), as in the reference
code (``classic_shannon_entropy=True`` in ``dse_dsmi/dse.py`` of
ChenLiu-1996/DiffusionSpectralEntropy): every column is min-max scaled to [0, 1] on the rows at
hand, cut into ``n_bins`` equal bins (default 2), and CSE = -sum p log2 p over the frequencies of
the distinct bin vectors, so CSE <= log2 n. CSMI is the DSMI recipe (:mod:`.dsmi`) with CSE in place of DSE.
A constant column carries no information; it gets bin 0 for every row (the reference gets 0/0 =
NaN there, which lands in one bin as well, so the values agree).

The kNN baseline is Ross's (2014) estimator of I(Z; Y) for continuous Z and discrete Y, the
Kraskov-Stoegbauer-Grassberger construction in which different labels are infinitely far apart,
applied to the whole vector Z. scikit-learn applies the same estimator per feature
(``mutual_info_classif``); here it is joint, on top of scikit-learn's neighbour searches.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma

from ._checks import as_embedding, check_int, subsample_indices
from .dsmi import MutualInformation, mutual_information_from_groups, resolve_groups


def _bin_vectors(Z: np.ndarray, n_bins: int) -> np.ndarray:
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    span = hi - lo
    constant = span == 0
    scaled = (Z - lo) / np.where(constant, 1.0, span)
    # Interior edges of n_bins equal bins of [0, 1]; the maximum (1.0) falls into the top bin.
    bins = np.digitize(scaled, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    bins[:, constant] = 0
    return bins.astype(np.min_scalar_type(n_bins))


def _cse(Z: np.ndarray, n_bins: int) -> float:
    bins = np.ascontiguousarray(_bin_vectors(Z, n_bins))
    # Rows as opaque byte strings: np.unique then compares whole bin vectors at once.
    rows = bins.view(np.dtype((np.void, bins.dtype.itemsize * bins.shape[1]))).ravel()
    counts = np.unique(rows, return_counts=True)[1]
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def classic_shannon_entropy(Z, n_bins: int = 2, max_n: int | None = 10_000, seed: int = 0) -> float:
    """CSE of ``Z`` (n x D) in bits: entropy of the distinct per-column-binned row vectors.

    Liao et al., CISS 2024 (arXiv 2312.04823), the classic Shannon entropy baseline (module
    docstring). Rows beyond ``max_n`` are subsampled with ``seed`` as in DSE.
    """
    Z = as_embedding(Z)
    n_bins = check_int(n_bins, "n_bins", 1)
    idx = subsample_indices(len(Z), max_n, seed)
    return _cse(Z if idx is None else Z[idx], n_bins)


def classic_shannon_mutual_information(
    Z,
    Y=None,
    *,
    n_bins: int = 2,
    groups=None,
    n_repetitions: int = 5,
    n_clusters: int = 10,
    discrete: bool | None = None,
    seed: int = 0,
    max_n: int | None = 10_000,
) -> MutualInformation:
    """CSMI(Z; Y) in bits: the DSMI recipe with CSE (size-matched subsets, same grouping of Y).

    Liao et al., CISS 2024 (arXiv 2312.04823). Arguments as in
    :func:`repgeo.entropy.dsmi.diffusion_spectral_mutual_information`.
    """
    Z = as_embedding(Z)
    n_bins = check_int(n_bins, "n_bins", 1)
    grouping = resolve_groups(Y, groups, len(Z), n_clusters, discrete)

    def entropy_of(idx: np.ndarray) -> float:
        sub = subsample_indices(len(idx), max_n, seed)
        return _cse(Z[idx] if sub is None else Z[idx[sub]], n_bins)

    return mutual_information_from_groups(len(Z), grouping, entropy_of, n_repetitions, seed, "csmi", None)


def knn_mutual_information(
    Z,
    Y=None,
    *,
    n_neighbors: int = 3,
    groups=None,
    n_clusters: int = 10,
    discrete: bool | None = None,
) -> float:
    """I(Z; Y) in bits by Ross's (2014) kNN estimator, Z continuous (n x D), Y grouped as in DSMI.

    B. C. Ross, "Mutual information between discrete and continuous data sets", PLoS ONE 9(2),
    2014: for each point i with label y, d_i is the Euclidean distance to its k-th nearest
    neighbour among the N_y points of its label and m_i the number of points of any label
    closer than d_i (itself included); then

        I = psi(N) + <psi(k)> - <psi(N_y)> - <psi(m_i)>      (nats; reported in bits),

    with k = min(n_neighbors, N_y - 1) and points alone in their label left out. Unlike
    scikit-learn's per-feature use, the value is not clipped at 0 (a negative value is the
    estimator's small-sample bias and is informative in a baseline). Cost: a KD-tree per label
    and one for all points, fine for the toy problems (D ~ 20); slow for very wide Z.
    """
    from sklearn.neighbors import KDTree

    Z = as_embedding(Z)
    k_max = check_int(n_neighbors, "n_neighbors", 1)
    labels = resolve_groups(Y, groups, len(Z), n_clusters, discrete).labels
    sizes = np.bincount(labels)[labels]
    keep = sizes > 1
    if keep.sum() < 2:
        raise ValueError("every label has a single sample; the kNN estimate needs labels with at least 2 samples")
    Z, labels, sizes = Z[keep], labels[keep], sizes[keep]
    radius = np.empty(len(Z))
    k = np.minimum(k_max, sizes - 1)
    for y in np.unique(labels):
        rows = np.flatnonzero(labels == y)
        kk = int(k[rows[0]])
        dist = KDTree(Z[rows]).query(Z[rows], k=kk + 1)[0][:, -1]  # first hit: the point itself
        radius[rows] = np.nextafter(dist, 0.0)  # strictly closer than the k-th neighbour
    m = KDTree(Z).query_radius(Z, radius, count_only=True)
    nats = digamma(len(Z)) + digamma(k).mean() - digamma(sizes).mean() - digamma(m).mean()
    return float(nats / math.log(2.0))

"""Diffusion spectral entropy (DSE).

Liao, Liu et al., CISS 2024 (arXiv 2312.04823), the entropy of the diffusion operator's spectrum:
with the n eigenvalues lambda_i of K (see :mod:`.kernels`) and the diffusion time t,

    p_i = |lambda_i|^t / sum_j |lambda_j|^t,        DSE = -sum_i p_i log2 p_i   (bits),

so 0 <= DSE <= log2 n. The absolute value only removes round-off negatives (K is PSD).

One eigendecomposition serves every t: :func:`diffusion_spectrum` returns a :class:`Spectrum`
(float64 eigenvalues plus how they were obtained) whose :meth:`Spectrum.entropy` evaluates any
t, and which can be saved per epoch and reloaded to change t later without the embedding.

Differences from the reference (``dse-dsmi`` 1.1), all below 1e-9 bits for n <= 10,000: the
reference adds machine epsilon to every p_i before the logarithm; here 0 log 0 = 0 exactly
(the reference's bias is at most n * 1.2e-14 bits). Its float16 eigenvalue cache is replaced by
float64 files written atomically.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.special import entr

from ._checks import as_embedding, check_dtype, check_t, subsample_indices
from .kernels import check_alpha, check_sigma, diffusion_eigenvalues

# At and above this many rows (after subsampling), method='auto' uses the sparse SLQ path: a
# dense n x n float64 matrix would take 20 GB.
SLQ_MIN_N = 50_000
_FORMAT = "repgeo-dse-spectrum-1"


def entropy_from_spectrum(eigenvalues, t: float = 1.0) -> float:
    """DSE in bits from eigenvalues: -sum p_i log2 p_i with p_i = |lambda_i|^t / sum_j |lambda_j|^t.

    Liao et al., CISS 2024 (arXiv 2312.04823), the DSE definition, as in ``dse_dsmi/dse.py`` of
    ChenLiu-1996/DiffusionSpectralEntropy.
    """
    t = check_t(t)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0 or not np.isfinite(lam).all():
        raise ValueError("eigenvalues must be a non-empty 1-D array of finite numbers")
    p = np.abs(lam) ** t
    total = p.sum()
    if not total > 0:
        raise ValueError(f"all eigenvalues vanish after raising to t = {t}; lower t")
    return float(entr(p / total).sum() / math.log(2.0))


@dataclass(frozen=True)
class Spectrum:
    """All eigenvalues of a diffusion operator (float64, descending) and how they were obtained.

    ``n_samples`` is the number of rows given, ``eigenvalues.size`` the number used (after
    subsampling to ``max_n``); ``bandwidth`` is the absolute sigma used (None for sigma='knn').
    """

    eigenvalues: np.ndarray
    n_samples: int
    sigma: float | str
    bandwidth: float | None
    alpha: float
    n_neighbors: int | None
    dtype: str
    seed: int

    def entropy(self, t: float = 1.0) -> float:
        """DSE in bits at diffusion time ``t`` (no new decomposition)."""
        return entropy_from_spectrum(self.eigenvalues, t)

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` (.npz, float64) atomically: a temporary file in the same folder, then a rename.

        A reader never sees a half-written file, even if the writer is killed. The file gets the
        umask's permissions, as every artifact does (:func:`repgeo.io.apply_default_mode`).
        """
        from ..io import apply_default_mode

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {k: v for k, v in asdict(self).items() if k != "eigenvalues"}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                apply_default_mode(fh.fileno())  # mkstemp's 0600 -> the umask's (0644 under umask 022)
                np.savez(
                    fh,
                    eigenvalues=np.asarray(self.eigenvalues, dtype=np.float64),
                    meta=np.array(json.dumps({"format": _FORMAT, **meta})),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Spectrum:
        """Read a spectrum written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            eigenvalues = np.array(f["eigenvalues"], dtype=np.float64)
        if meta.pop("format", None) != _FORMAT:
            raise ValueError(f"{path} is not a spectrum file written by Spectrum.save")
        return cls(eigenvalues=eigenvalues, **meta)


def diffusion_spectrum(
    Z,
    sigma: float | str = 10.0,
    max_n: int | None = 10_000,
    seed: int = 0,
    *,
    alpha: float = 0.0,
    n_neighbors: int = 15,
    dtype="float64",
    device: str = "cpu",
) -> Spectrum:
    """The full spectrum of the diffusion operator of ``Z`` (n x D), for DSE at any t.

    Liao et al., CISS 2024 (arXiv 2312.04823); operator as in :mod:`.kernels` (compatible mode
    by default: absolute sigma = 10, alpha = 0, float64). Rows beyond ``max_n`` are subsampled
    with ``seed`` (the reference's default cap; ``None`` keeps all rows; the dense path needs
    8 n^2 bytes in float64, 4 n^2 in float32). ``dtype='float32'`` is about 1.6x faster with an
    entropy error of 1e-7..1e-5 bits (n = 10,000, D = 2048, 2 cores: 11.8 s against 18.5 s in
    float64 and 72 s for the reference's recipe; benchmarks/entropy_speed.py);
    ``device='cuda'`` runs on a GPU with torch.
    """
    Z = as_embedding(Z)
    sigma = check_sigma(sigma)
    alpha = check_alpha(alpha)
    dtype_name = np.dtype(check_dtype(dtype)).name
    idx = subsample_indices(len(Z), max_n, seed)
    X = Z if idx is None else Z[idx]
    eigenvalues, bandwidth = diffusion_eigenvalues(
        X, sigma, alpha=alpha, n_neighbors=n_neighbors, dtype=dtype_name, device=device, seed=seed
    )
    return Spectrum(
        eigenvalues=eigenvalues,
        n_samples=len(Z),
        sigma=sigma,
        bandwidth=bandwidth,
        alpha=alpha,
        n_neighbors=int(n_neighbors) if sigma == "knn" else None,
        dtype=dtype_name,
        seed=int(seed),
    )


def diffusion_spectral_entropy(
    Z,
    t: float = 1.0,
    sigma: float | str = 10.0,
    max_n: int | None = 10_000,
    seed: int = 0,
    *,
    alpha: float = 0.0,
    n_neighbors: int = 15,
    dtype="float64",
    device: str = "cpu",
    method: str = "auto",
) -> float:
    """Diffusion spectral entropy of ``Z`` (n samples x D features), in bits.

    Liao et al., CISS 2024 (arXiv 2312.04823): DSE = -sum_i p_i log2 p_i with
    p_i = |lambda_i|^t / sum_j |lambda_j|^t over the eigenvalues of the diffusion operator
    (``dse_dsmi/diffusion.py``, ``dse_dsmi/dse.py`` of ChenLiu-1996/DiffusionSpectralEntropy).
    Defaults reproduce the reference ``dse-dsmi`` 1.1
    (sigma = 10 absolute, t = 1, alpha = 0, at most 10,000 rows subsampled with seed 0).

    ``method``: 'exact' (dense eigendecomposition), 'slq' (the sparse large-n estimate of
    :func:`repgeo.entropy.slq.slq_diffusion_spectral_entropy`, with its default parameters and
    stated error), or 'auto' (exact below 50,000 rows after subsampling, SLQ from there).
    For several t, compute :func:`diffusion_spectrum` once and call its ``entropy``.
    """
    t = check_t(t)
    if method not in ("auto", "exact", "slq"):
        raise ValueError(f"method must be 'auto', 'exact' or 'slq', got {method!r}")
    Z = as_embedding(Z)
    n_used = len(Z) if max_n is None else min(len(Z), max_n)
    if method == "slq" or (method == "auto" and n_used >= SLQ_MIN_N):
        from .slq import slq_diffusion_spectral_entropy

        idx = subsample_indices(len(Z), max_n, seed)
        X = Z if idx is None else Z[idx]
        return slq_diffusion_spectral_entropy(
            X, t, sigma, alpha=alpha, n_neighbors=n_neighbors, seed=seed, device=device
        ).value
    spectrum = diffusion_spectrum(
        Z, sigma, max_n, seed, alpha=alpha, n_neighbors=n_neighbors, dtype=dtype, device=device
    )
    return spectrum.entropy(t)

"""Reductions of a stream of activation batches to an n x width matrix with bounded memory.

A reduction never sees all activations at once: :func:`reduce_stream` takes a callable ``batches``
that returns a fresh iterable of batches (numpy arrays or torch tensors, N_b x item shape) each time
it is called, and calls it once per pass, ``reduction.n_passes`` times. The stage re-runs the network
per pass (:func:`repgeo.features.extract.extract_features`) or reads a memory map.

Reductions (:data:`REDUCTIONS`), each a frozen dataclass checked on construction:

- ``none`` (:class:`NoReduction`): every item flattened, n x D (D = product of the item shape). One
  pass; the output is the full matrix, so it is for layers that fit in memory.
- ``gap`` (:class:`GlobalAveragePool`): global average pooling (Lin, Chen & Yan, "Network in
  network", ICLR 2014, section 3.2) of N x C x H x W maps over H and W, giving N x C; N x D batches
  pass through unchanged; any other rank is refused. One pass.
- ``random_projection`` (:class:`RandomProjection`): x -> R^T x with R a D x width matrix of
  independent N(0, 1/width) entries drawn from ``numpy.random.default_rng(seed)``, so that
  E ||R^T x||^2 = ||x||^2 (Johnson-Lindenstrauss lemma: Johnson & Lindenstrauss 1984). For one
  pair, a squared distance leaves [1 - eps, 1 + eps] times its value with probability at most
  2 exp(-width (eps^2/2 - eps^3/3) / 2) (Dasgupta & Gupta, "An elementary proof of a theorem of
  Johnson and Lindenstrauss", Random Structures & Algorithms 22(1), 2003, Lemma 2.2 and the proof
  of Theorem 2.1); a union bound over the pairs of n points gives all of them within 1 +- eps with
  probability >= 1 - n^-beta when width >= (4 + 2 beta) ln n / (eps^2/2 - eps^3/3) (the form of
  Achlioptas, "Database-friendly random projections", J. Comput. Syst. Sci. 66(4), 2003, Theorem
  1.1). One pass.
- ``pca`` (:class:`RandomisedPCA`): the scores of the top ``width`` principal components, by the
  randomised range finder of Halko, Martinsson & Tropp, "Finding structure with randomness:
  probabilistic algorithms for constructing approximate matrix decompositions", SIAM Review 53(2),
  2011: Algorithm 4.1 (range finder: Y = A Omega, Q = qr(Y)), Algorithm 4.4 (randomised subspace
  iteration, q power iterations re-orthonormalised by QR) and Algorithm 5.1 (direct SVD: B = Q^T A,
  B = U~ S V^T, A ~ (Q U~) S V^T), applied to the column-centred matrix A_c = A - 1 mu^T without
  forming it. With l = min(width + oversampling, D) columns of Gaussian Omega (D x l):

  1. pass 1: n, the column sum (hence mu) and Y = A Omega, block by block; afterwards
     Y_c = Y - 1 (mu^T Omega) = A_c Omega and Q = qr(Y_c) (n x l).
  2. each power iteration (2 passes): Z = A^T Q accumulated over batches as sum_b A_b^T Q_b, then
     Z_c = Z - mu (1^T Q) = A_c^T Q and Q' = qr(Z_c) (D x l); then Y = A Q' and
     Q = qr(Y - 1 (mu^T Q')).
  3. last pass: B^T = A^T Q accumulated likewise, B_c = B - (Q^T 1) mu^T = Q^T A_c (l x D), and the
     centred total sum of squares sum ||a_i - mu||^2; SVD B_c = U~ S V^T; the scores are
     Q U~_k S_k = A_c V_k (Q Q^T A_c V_k, exact when the range of A_c V_k lies in that of Q).

  Passes: 2 + 2 q. Memory: O(n l + l D) floats (Y or Q, Omega, Z or B) plus one batch; the n x D
  matrix is never formed. Accumulation is in float64. The singular vectors' signs are fixed so that
  the entry of largest magnitude of each component (row of V^T) is positive (as scikit-learn's
  ``svd_flip`` with ``u_based_decision=False``). Power iterations apply the range finder to
  (A_c A_c^T)^q A_c, whose singular values are sigma_j^(2q+1), so that the tail of a slowly decaying
  spectrum weighs less (Halko et al., section 4.5; the error bound is raised to the power
  1/(2q+1), section 10.4). q = 0 is exact (to rounding) for a centred matrix of rank <= l.

Every reduction refuses NaN or inf (naming the item), batches whose item shape differs from the
first, and for multi-pass reductions a later pass that yields a different number of items or
different activations (per-item sums compared to those of pass 1 within a relative 1e-4 of the
per-item absolute sums, which tolerates the non-determinism of GPU kernels but not a shuffled order,
random augmentation or dropout left on).
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

REDUCTIONS = ("none", "gap", "random_projection", "pca")
# Per-item sums of a later pass must agree with pass 1 to this fraction of the per-item absolute sums.
PASS_RTOL = 1e-4
_OUT_DTYPES = (np.float32, np.float64)


@dataclass
class ReducedFeatures:
    """The reduced activations of one layer (or stream) and what was done to them.

    ``values``: n x width array (float32 unless asked otherwise). ``reduction``: one of
    :data:`REDUCTIONS`; ``params``: its parameters (JSON-able). ``input_shape``: the shape of one
    item before the reduction (e.g. (64, 32, 32)). ``n_passes``: passes made over the batches.
    For ``pca`` only: ``singular_values`` S of the centred matrix, ``explained_variance`` S^2/(n-1),
    ``explained_variance_ratio`` S^2 / sum ||a_i - mu||^2 (0 where the data are constant),
    ``components`` (width x D, rows of V^T, float32) and ``mean`` (D, float32).
    """

    values: np.ndarray
    reduction: str
    params: dict[str, Any]
    input_shape: tuple[int, ...]
    n_passes: int
    singular_values: np.ndarray | None = None
    explained_variance: np.ndarray | None = None
    explained_variance_ratio: np.ndarray | None = None
    components: np.ndarray | None = field(default=None, repr=False)
    mean: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    @property
    def width(self) -> int:
        return int(self.values.shape[1])

    def index_entry(self) -> dict[str, Any]:
        """A JSON-able summary for an index file: reduction, params, shapes, passes, variance."""
        entry: dict[str, Any] = {
            "reduction": self.reduction,
            "params": dict(self.params),
            "input_shape": list(self.input_shape),
            "n": self.n,
            "width": self.width,
            "dtype": str(self.values.dtype),
            "n_passes": self.n_passes,
        }
        if self.explained_variance_ratio is not None:
            entry["explained_variance_ratio"] = [float(v) for v in self.explained_variance_ratio]
            entry["singular_values"] = [float(v) for v in self.singular_values]
        return entry


def _check_int(value: Any, name: str, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what}: {name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{what}: {name} must be >= {minimum}, got {value}")
    return int(value)


class Reduction(ABC):
    """Base class of the reductions; subclasses are frozen dataclasses with a ``name``."""

    name: ClassVar[str]

    @property
    def n_passes(self) -> int:
        """How many times :func:`reduce_stream` calls ``batches()``."""
        return 1

    @property
    def params(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @abstractmethod
    def _state(self, what: str, dtype: np.dtype) -> _State:
        """The streaming state that computes this reduction."""


@dataclass(frozen=True)
class NoReduction(Reduction):
    """``none``: each item flattened (n x D)."""

    name: ClassVar[str] = "none"

    def _state(self, what, dtype):
        return _Collect(self, what, dtype)


@dataclass(frozen=True)
class GlobalAveragePool(Reduction):
    """``gap``: mean over H and W of N x C x H x W maps (N x C); N x D passes through."""

    name: ClassVar[str] = "gap"

    def _state(self, what, dtype):
        return _Collect(self, what, dtype)


@dataclass(frozen=True)
class RandomProjection(Reduction):
    """``random_projection``: x -> R^T x, R D x ``width`` with N(0, 1/width) entries from ``seed``."""

    width: int
    seed: int = 0
    name: ClassVar[str] = "random_projection"

    def __post_init__(self) -> None:
        _check_int(self.width, "width", 1, "random_projection")
        _check_int(self.seed, "seed", 0, "random_projection")

    def matrix(self, dim: int) -> np.ndarray:
        """The D x width projection matrix for items of ``dim`` = D features (float64)."""
        rng = np.random.default_rng(self.seed)
        return rng.standard_normal((dim, self.width)) / math.sqrt(self.width)

    def _state(self, what, dtype):
        return _Project(self, what, dtype)


@dataclass(frozen=True)
class RandomisedPCA(Reduction):
    """``pca``: scores of the top ``width`` principal components by randomised PCA (module docstring).

    ``oversampling``: extra random columns p, l = width + p (Halko et al. 2011, section 4.2, suggest
    p = 5 or 10). ``power_iterations``: q >= 0, each costing two more passes.
    """

    width: int
    seed: int = 0
    oversampling: int = 10
    power_iterations: int = 0
    name: ClassVar[str] = "pca"

    def __post_init__(self) -> None:
        _check_int(self.width, "width", 1, "pca")
        _check_int(self.seed, "seed", 0, "pca")
        _check_int(self.oversampling, "oversampling", 0, "pca")
        _check_int(self.power_iterations, "power_iterations", 0, "pca")

    @property
    def n_passes(self) -> int:
        return 2 + 2 * self.power_iterations

    def _state(self, what, dtype):
        return _PCA(self, what, dtype)


_CLASSES: dict[str, type[Reduction]] = {
    "none": NoReduction,
    "gap": GlobalAveragePool,
    "random_projection": RandomProjection,
    "pca": RandomisedPCA,
}


def make_reduction(spec: Reduction | str | Mapping[str, Any]) -> Reduction:
    """A :class:`Reduction` from a config entry: ``"none"``, ``"gap"``, or a mapping such as
    ``{"name": "pca", "width": 64, "seed": 0}`` (a Reduction is returned unchanged)."""
    if isinstance(spec, Reduction):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"a reduction must be a name ({', '.join(REDUCTIONS)}) or a mapping with 'name', got {type(spec).__name__}"
        )
    params = dict(spec)
    name = params.pop("name", None)
    if name not in _CLASSES:
        raise ValueError(f"unknown reduction {name!r}; choose one of: {', '.join(REDUCTIONS)}")
    cls = _CLASSES[name]
    known = [f for f in cls.__dataclass_fields__ if f != "name"]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"reduction {name!r} has no parameter(s) {unknown}; its parameters: {known or 'none'}")
    try:
        return cls(**params)
    except TypeError as e:
        if "required" in str(e):
            raise ValueError(f"reduction {name!r} needs {known[0]!r}, e.g. {{'name': {name!r}, 'width': 64}}") from None
        raise


def _as_array(batch: Any, what: str, pass_no: int, start: int) -> np.ndarray:
    """One batch as a float64 numpy array N_b x item shape (a torch tensor is detached and copied to the CPU)."""
    if hasattr(batch, "detach"):
        batch = batch.detach().cpu().numpy()
    x = np.asarray(batch)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{what}: a batch must be numeric, got dtype {x.dtype} (pass {pass_no}, items from {start})")
    if x.ndim < 2:
        raise ValueError(
            f"{what}: a batch must be N x item shape (at least 2-D), got shape {x.shape} (pass {pass_no}, items from {start}); "
            "use x[None] for a single item or x.reshape(-1, 1) for one feature"
        )
    return np.asarray(x, dtype=np.float64)


class _State(ABC):
    """Streaming state of one reduction over ``n_passes`` passes: begin, update per batch, end."""

    def __init__(self, reduction: Reduction, what: str, dtype: np.dtype) -> None:
        self.reduction = reduction
        self.what = what
        self.dtype = dtype
        self.n: int | None = None
        self.item_shape: tuple[int, ...] | None = None
        self.pass_no = 0
        self.seen = 0
        self._sums: list[np.ndarray] = []
        self._ref_sums: np.ndarray | None = None
        self._ref_abs: np.ndarray | None = None
        self._abs: list[np.ndarray] = []

    @property
    def n_passes(self) -> int:
        return self.reduction.n_passes

    def begin(self, pass_no: int) -> None:
        self.pass_no, self.seen, self._sums, self._abs = pass_no, 0, [], []

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The batch as N_b x D (flattened items)."""
        return x.reshape(len(x), -1)

    def update(self, batch: Any) -> None:
        start = self.seen
        x = _as_array(batch, self.what, self.pass_no + 1, start)
        if len(x) == 0:
            return
        if self.item_shape is None:
            self.item_shape = tuple(int(s) for s in x.shape[1:])
            if math.prod(self.item_shape) == 0:
                raise ValueError(f"{self.what}: items have no features (shape {self.item_shape})")
        elif tuple(x.shape[1:]) != self.item_shape:
            raise ValueError(
                f"{self.what}: a batch has items of shape {tuple(x.shape[1:])} but earlier ones {self.item_shape} "
                f"(pass {self.pass_no + 1}, items from {start}); every batch must hold items of the same shape"
            )
        if self.n is not None and start + len(x) > self.n:
            raise ValueError(self._count_message(start + len(x)))
        m = self.matrix(x)
        finite = np.isfinite(m).all(axis=1)
        if not finite.all():
            item = start + int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"{self.what} has NaN or inf at item {item} (pass {self.pass_no + 1}); check that image and the "
                "network's weights (a corrupt or unnormalised image, or a diverged checkpoint)"
            )
        if self.n_passes > 1:
            self._sums.append(m.sum(axis=1))
            self._abs.append(np.abs(m).sum(axis=1))
        self.consume(m, start)
        self.seen += len(x)

    def _count_message(self, count: int) -> str:
        return (
            f"{self.what}: pass {self.pass_no + 1} yielded {'at least ' if count > self.seen else ''}{count} items but pass 1 "
            f"yielded {self.n}; batches() must return a fresh iterable over the same items, in the same order, on every call "
            "(not one shared generator)"
        )

    def end(self) -> None:
        if self.seen == 0:
            if self.pass_no == 0:
                raise ValueError(f"{self.what}: batches() yielded no items; give at least one non-empty batch")
        if self.n is None:
            self.n = self.seen
        elif self.seen != self.n:
            raise ValueError(self._count_message(self.seen))
        if self.n_passes > 1:
            sums = np.concatenate(self._sums) if self._sums else np.zeros(0)
            if self._ref_sums is None:
                self._ref_sums, self._ref_abs = sums, np.concatenate(self._abs)
            else:
                diff = np.abs(sums - self._ref_sums)
                bad = diff > PASS_RTOL * self._ref_abs + 1e-12
                if bad.any():
                    item = int(np.flatnonzero(bad)[0])
                    raise ValueError(
                        f"{self.what}: pass {self.pass_no + 1} yielded different activations from pass 1 (first at item "
                        f"{item}: sum {sums[item]:.6g} vs {self._ref_sums[item]:.6g}); a multi-pass reduction needs the "
                        "same items in the same order on every pass: eval mode, no random augmentation, no shuffling"
                    )
        self.finish_pass()

    @abstractmethod
    def consume(self, m: np.ndarray, start: int) -> None:
        """Take the batch ``m`` (rows ``start`` onwards) of the current pass."""

    def finish_pass(self) -> None:  # noqa: B027 - a hook: only multi-pass states act at a pass's end
        """Called after each pass; one-pass states have nothing to do."""

    @abstractmethod
    def result(self) -> ReducedFeatures:
        """The reduced features, after the last pass."""


class _OnePass(_State):
    """A one-pass reduction: each batch reduced on arrival and kept."""

    def __init__(self, reduction, what, dtype):
        super().__init__(reduction, what, dtype)
        self.blocks: list[np.ndarray] = []

    def result(self):
        return ReducedFeatures(
            values=np.concatenate(self.blocks),
            reduction=self.reduction.name,
            params=self.reduction.params,
            input_shape=self.item_shape,
            n_passes=1,
        )


class _Collect(_OnePass):
    """``none`` and ``gap``: transform each batch and keep it."""

    def matrix(self, x):
        if isinstance(self.reduction, GlobalAveragePool):
            if x.ndim == 4:
                return x.mean(axis=(2, 3))
            if x.ndim != 2:
                raise ValueError(
                    f"{self.what}: gap needs N x C x H x W maps (averaged over H, W) or N x D vectors (kept), got a batch "
                    f"of shape {x.shape}; use reduction 'none' to flatten it, or reshape the items"
                )
            return x
        return x.reshape(len(x), -1)

    def consume(self, m, start):
        self.blocks.append(m.astype(self.dtype))


class _Project(_OnePass):
    """``random_projection``: each batch times the seeded matrix."""

    def __init__(self, reduction, what, dtype):
        super().__init__(reduction, what, dtype)
        self.R: np.ndarray | None = None

    def consume(self, m, start):
        if self.R is None:
            dim, width = m.shape[1], self.reduction.width
            if width > dim:
                raise ValueError(
                    f"{self.what}: random_projection width {width} exceeds the {dim} features of an item "
                    f"(shape {self.item_shape}); use a width <= {dim}, or reduction 'none'"
                )
            self.R = self.reduction.matrix(dim)
        self.blocks.append((m @ self.R).astype(self.dtype))


def _qr(a: np.ndarray) -> np.ndarray:
    return np.linalg.qr(a, mode="reduced")[0]


class _PCA(_State):
    """Randomised PCA over passes (module docstring). Pass 0: Y = A Omega and the column sum; odd
    passes: A^T Q; even passes > 0: A Q'."""

    def __init__(self, reduction, what, dtype):
        super().__init__(reduction, what, dtype)
        self.col_sum: np.ndarray | None = None
        self.Omega: np.ndarray | None = None  # D x l: the test matrix, then Q' of a power iteration
        self.Y: list[np.ndarray] = []
        self.Q: np.ndarray | None = None  # n x l
        self.Zt: np.ndarray | None = None  # D x l: A^T Q
        self.mu: np.ndarray | None = None
        self.ss = 0.0
        self.out: ReducedFeatures | None = None

    def begin(self, pass_no):
        super().begin(pass_no)
        if pass_no % 2 == 1:
            self.Zt = np.zeros((len(self.mu), self.Q.shape[1]))  # Q has min(n, l) columns
            self.ss = 0.0
        else:
            self.Y = []

    def consume(self, m, start):
        if self.pass_no == 0:
            if self.col_sum is None:
                dim, width = m.shape[1], self.reduction.width
                if width > dim:
                    raise ValueError(
                        f"{self.what}: pca width {width} exceeds the {dim} features of an item (shape {self.item_shape}); "
                        f"use a width <= {dim}"
                    )
                rng = np.random.default_rng(self.reduction.seed)
                self.Omega = rng.standard_normal((dim, min(width + self.reduction.oversampling, dim)))
                self.col_sum = np.zeros(dim)
            self.col_sum += m.sum(axis=0)
            self.Y.append(m @ self.Omega)
        elif self.pass_no % 2 == 1:
            self.Zt += m.T @ self.Q[start : start + len(m)]
            if self.pass_no == self.n_passes - 1:
                self.ss += float(np.sum((m - self.mu) ** 2))
        else:
            self.Y.append(m @ self.Omega)

    def finish_pass(self):
        if self.pass_no == 0:
            width = self.reduction.width
            if width > self.n - 1:
                raise ValueError(
                    f"{self.what}: pca width {width} needs at least width + 1 = {width + 1} items (the centred data have "
                    f"rank <= n - 1), got n = {self.n}; use a width <= {self.n - 1} or more items"
                )
            self.mu = self.col_sum / self.n
        if self.pass_no % 2 == 0:
            # Y_c = A Omega - 1 (mu^T Omega) = A_c Omega
            self.Q = _qr(np.concatenate(self.Y) - (self.mu @ self.Omega)[None, :])
            self.Y = []
        elif self.pass_no < self.n_passes - 1:
            # power iteration: Q' = qr(A_c^T Q), A_c^T Q = A^T Q - mu (1^T Q)
            self.Omega = _qr(self.Zt - np.outer(self.mu, self.Q.sum(axis=0)))
        else:
            self._svd()

    def _svd(self):
        width = self.reduction.width
        Bc = (self.Zt - np.outer(self.mu, self.Q.sum(axis=0))).T  # l x D: Q^T A_c
        U, S, Vt = np.linalg.svd(Bc, full_matrices=False)
        U, S, Vt = U[:, :width], S[:width], Vt[:width]
        signs = np.sign(Vt[np.arange(width), np.argmax(np.abs(Vt), axis=1)])
        signs[signs == 0] = 1.0
        U, Vt = U * signs, Vt * signs[:, None]
        scores = (self.Q @ U) * S
        ratio = S**2 / self.ss if self.ss > 0 else np.zeros_like(S)
        self.out = ReducedFeatures(
            values=scores.astype(self.dtype),
            reduction=self.reduction.name,
            params=self.reduction.params,
            input_shape=self.item_shape,
            n_passes=self.n_passes,
            singular_values=S,
            explained_variance=S**2 / (self.n - 1),
            explained_variance_ratio=ratio,
            components=Vt.astype(np.float32),
            mean=self.mu.astype(np.float32),
        )

    def result(self):
        return self.out


def _check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in [np.dtype(d) for d in _OUT_DTYPES]:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def reduce_stream(
    batches: Callable[[], Iterable[Any]],
    reduction: Reduction | str | Mapping[str, Any],
    *,
    what: str = "activations",
    dtype: Any = np.float32,
) -> ReducedFeatures:
    """Reduce the batches that ``batches()`` yields with ``reduction`` (module docstring).

    ``batches``: a function returning a fresh iterable of batches (numpy arrays or torch tensors,
    N_b x item shape, N_b may vary) over the same items in the same order; it is called
    ``reduction.n_passes`` times. ``reduction``: a :class:`Reduction` or a spec for
    :func:`make_reduction`. ``what`` names the stream in error messages (e.g. "layer 'conv1'").
    ``dtype``: of the returned values (float32, or float64 to compare runs exactly).
    """
    if not callable(batches):
        raise TypeError(
            f"batches must be a function returning a fresh iterable of batches (e.g. lambda: iter(chunks)), got "
            f"{type(batches).__name__}; a multi-pass reduction reads the batches more than once"
        )
    reduction = make_reduction(reduction)
    state = reduction._state(what, _check_dtype(dtype))
    for pass_no in range(reduction.n_passes):
        state.begin(pass_no)
        for batch in batches():
            state.update(batch)
        state.end()
    return state.result()

"""Gaussian penalised regression with REML smoothing-parameter selection and AR(1) prewhitening.

Model: y = X b + e with penalty sum_j lambda_j b' S_j b, e ~ N(0, phi C), C block-diagonal with an
AR(1) correlation matrix per series. The smoothing parameters maximise the restricted likelihood
(Wood 2011, JRSS-B 73(1), "Fast stable restricted maximum likelihood and marginal likelihood
estimation of semiparametric generalized linear models", sections 2-3), with phi profiled out:

    V(rho) = (n - M_p) log D + log|X'X + S_lambda| - log|S_lambda|_+ ,
    D = ||y - X b||^2 + b' S_lambda b ,  phi = D / (n - M_p) ,

where M_p is the dimension of the null space of the total penalty. V is minimised by Newton's
method on rho = log lambda with exact first and second derivatives and a positive-definite
Hessian, as mgcv's fast REML does. The criterion is that of ``mgcv::gam(method = "REML")`` and of
``mgcv::bam(method = "fREML")``: at the same smoothing parameters the two give the same value (to
the digits printed: -26385.53 on the default run's conv4 words data) and the same fit. The optimum
found is not always the same: on the synthetic design of :func:`repgeo.stats.synthetic_design` it
is (tests/test_stats_gamm.py, test_reml_core_reproduces_mgcv_bam_on_mgcv_basis), but on that conv4
layer, given mgcv's own basis and penalties, this iteration stopped at a worse point (criterion
-26385.5 against bam's -26440.3, the factor smooth's smoothing parameter exp(-1.9) against
exp(-8.6)). Treat fits from here as approximations of mgcv's, not as the same fit.

AR(1) residuals are handled as in ``bam(rho = , AR.start = )``: the rows of y and of every column
of X are transformed with the inverse Cholesky factor of the AR(1) correlation matrix of their series
(first row unchanged, later rows (y_t - rho y_{t-1}) / sqrt(1 - rho^2)), after which the errors are
independent (Wood 2017, "Generalized Additive Models", 2nd ed., section 6.12.1; Soskuthy 2021,
J. Phonetics 84; Wieling 2018, J. Phonetics 70). The Jacobian of the transform is constant in the
smoothing parameters, so it only shifts the criterion's value.

The model matrix may be dense or sparse; the computation works with the p x p cross-product, so
its cost is dominated by p, not by n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse import linalg as sparse_linalg
from scipy.sparse.csgraph import connected_components

LOG_SP_BOUND = 20.0  # on the internally rescaled smoothing parameters: effectively 0 and infinity
FLAT_TOL = 1e-4  # |gradient| and |curvature| below which V is flat in a smoothing parameter
DECREMENT_TOL = 1e-12  # relative to |V|: changes below this are rounding
MAX_STEP = 5.0  # largest Newton step in any log smoothing parameter


def ar1_transform(rho: float, ar_start: np.ndarray) -> sparse.csr_matrix:
    """n x n lower-bidiagonal prewhitening matrix for AR(1) series starting where ``ar_start`` is True.

    Within one series of length T this is the inverse of the lower Cholesky factor of the AR(1)
    correlation matrix [rho^|i-j|]: the first row is unchanged, later rows map y_t to
    (y_t - rho y_{t-1}) / sqrt(1 - rho^2) (mgcv ``bam``'s ``AR.start`` convention).
    """
    start = np.asarray(ar_start, dtype=bool)
    if not -1.0 < rho < 1.0:
        raise ValueError(f"the AR(1) coefficient must lie in (-1, 1), got {rho}")
    if len(start) and not start[0]:
        raise ValueError("ar_start must be True on the first row (every series needs a first row)")
    n = len(start)
    scale = 1.0 / np.sqrt(1.0 - rho * rho)
    diagonal = np.where(start, 1.0, scale)
    below = np.where(start[1:], 0.0, -rho * scale)
    return sparse.diags([diagonal, below], [0, -1], shape=(n, n), format="csr")


def lag1_autocorrelation(residuals: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series as R's ``acf`` computes it (what ``itsadug::start_value_rho`` returns).

    r_1 = sum_t (e_t - mean)(e_{t+1} - mean) / sum_t (e_t - mean)^2 over the whole concatenated
    series (rows sorted by token, then time).
    """
    e = np.asarray(residuals, dtype=float)
    e = e - e.mean()
    return float(e[:-1] @ e[1:] / (e @ e))


@dataclass(frozen=True)
class RemlFit:
    """Result of :func:`fit_reml`.

    ``vp`` is the Bayesian posterior covariance phi (X'X + S_lambda)^-1 (mgcv's ``Vp``); ``edf``
    holds one effective degree of freedom per coefficient, diag((X'X + S_lambda)^-1 X'X), to be
    summed over a term's coefficients. ``fitted`` is X b on the original (untransformed) scale.
    ``sp`` are the smoothing parameters multiplying the penalties as given. ``reml`` is minus the
    restricted log-likelihood of the original data at the optimum (AR Jacobian included).
    """

    coefficients: np.ndarray
    vp: np.ndarray
    edf: np.ndarray
    sp: np.ndarray
    scale: float
    fitted: np.ndarray
    residuals: np.ndarray
    reml: float
    rho: float
    n_iter: int
    converged: bool


class _PenaltyStructure:
    """Square roots, ranks and generalised log-determinants of the penalties.

    log|S_lambda|_+ splits over the connected blocks of the penalties' joint sparsity pattern.
    Within a block whose penalties have mutually orthogonal range spaces (single penalties, and the
    two penalties of a factor smooth) it is sum_j rank_j log lambda_j + const exactly; other blocks
    use the eigenvalues of the weighted sum over its structural rank (accurate while the
    smoothing parameters of one block stay within ~1e12 of each other; Wood 2011, appendix B gives
    the fully stable transform, which the models here do not need).
    """

    def __init__(self, penalties: list[sparse.csr_matrix], p: int):
        self.penalties = penalties
        pattern = sum(abs(S) for S in penalties)
        n_blocks, labels = connected_components(pattern, directed=False)
        # Ranks of each penalty inside the orthogonal blocks: d log|S|_+ / d log lambda_j there.
        self.orthogonal_rank = np.zeros(len(penalties))
        self.constant = 0.0
        self.general: list[tuple[list[int], list[np.ndarray], int]] = []
        roots: list[list[sparse.csr_matrix]] = [[] for _ in penalties]
        members = [np.flatnonzero(labels == b) for b in range(n_blocks)]
        total_rank = 0
        for idx in members:
            blocks = [(j, S[idx][:, idx].toarray()) for j, S in enumerate(penalties)]
            blocks = [(j, B) for j, B in blocks if np.any(B)]
            if not blocks:  # an unpenalised coefficient
                continue
            orthogonal = all(
                np.abs(Bi @ Bj).max() <= 1e-10 * np.abs(Bi).max() * np.abs(Bj).max()
                for a, (_, Bi) in enumerate(blocks)
                for _, Bj in blocks[a + 1 :]
            )
            block_rank = 0
            for j, B in blocks:
                values, vectors = np.linalg.eigh(B)
                keep = values > values.max() * 1e-10
                block_rank += keep.sum()
                if orthogonal:
                    self.orthogonal_rank[j] += keep.sum()
                    self.constant += np.log(values[keep]).sum()
                root = np.sqrt(values[keep])[:, None] * vectors[:, keep].T
                rows = np.repeat(np.arange(root.shape[0]), len(idx))
                cols = np.tile(idx, root.shape[0])
                roots[j].append(sparse.csr_matrix((root.ravel(), (rows, cols)), shape=(root.shape[0], p)))
            if not orthogonal:
                total = sum(B for _, B in blocks)
                values = np.linalg.eigvalsh(total)
                block_rank = int((values > values.max() * 1e-10).sum())
                self.general.append(([j for j, _ in blocks], [B for _, B in blocks], block_rank))
            total_rank += block_rank
        self.total_rank = total_rank
        self.null_space_dim = p - total_rank
        self.roots = [sparse.vstack(r, format="csr") for r in roots]

    def log_det(self, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """log|S_lambda|_+ and its first and second derivatives with respect to log lambda."""
        m = len(lam)
        value = self.constant + self.orthogonal_rank @ np.log(lam)
        grad, hess = self.orthogonal_rank.copy(), np.zeros((m, m))
        for js, blocks, rank in self.general:
            total = sum(lam[j] * B for j, B in zip(js, blocks, strict=True))
            values, vectors = np.linalg.eigh(total)
            top = np.argsort(values)[::-1][:rank]
            U, e = vectors[:, top], values[top]
            value += np.log(e).sum()
            pinv = (U / e) @ U.T
            products = {j: pinv @ (lam[j] * B) for j, B in zip(js, blocks, strict=True)}
            for j in js:
                grad[j] += np.trace(products[j])
                hess[j, j] += np.trace(products[j])
                for k in js:
                    hess[j, k] -= np.sum(products[j] * products[k].T)
        return value, grad, hess


def _cross_products(X, y: np.ndarray, W: sparse.csr_matrix | None):
    Xw = X if W is None else W @ X
    yw = y if W is None else W @ y
    XtX = Xw.T @ Xw
    XtX = XtX.toarray() if sparse.issparse(XtX) else np.asarray(XtX)
    return Xw, yw, XtX, np.asarray(Xw.T @ yw).ravel()


def fit_reml(
    X, y, penalties, *, rho: float = 0.0, ar_start: np.ndarray | None = None, tol: float = 1e-7, max_iter: int = 200
) -> RemlFit:
    """Fit y ~ X with penalties ``S_j`` (p x p, dense or sparse), smoothing parameters by REML.

    ``rho`` and ``ar_start`` give AR(1) errors within series (``ar_start`` True on each series'
    first row; ``None`` means one series); ``rho = 0`` is independent errors. Works equally on a
    basis built here or on mgcv's (``predict(type = "lpmatrix")`` plus each smooth's ``S``).
    """
    y = np.asarray(y, dtype=float)
    X = sparse.csr_matrix(X) if sparse.issparse(X) else np.asarray(X, dtype=float)
    n, p = X.shape
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)} values")
    if not penalties:
        raise ValueError("fit_reml needs at least one penalty; use least squares for an unpenalised model")
    S_list = [sparse.csr_matrix(S) for S in penalties]
    if any(S.shape != (p, p) for S in S_list):
        raise ValueError(f"every penalty must be p x p = {p} x {p} (embedded in the full coefficient vector)")
    W = None
    log_jacobian = 0.0
    if rho != 0.0:
        start = np.zeros(n, dtype=bool) if ar_start is None else np.asarray(ar_start, dtype=bool)
        start[0] = True
        W = ar1_transform(rho, start)
        log_jacobian = -0.5 * np.log(1.0 - rho * rho) * (n - start.sum())
    Xw, yw, XtX, Xty = _cross_products(X, y, W)
    structure = _PenaltyStructure(S_list, p)
    # Rescale so that unit smoothing parameters balance each penalty against its columns' X'X
    # (as mgcv's S.scale): the Newton iteration then starts from comparable terms.
    scaling = np.empty(len(S_list))
    for j, S in enumerate(S_list):
        idx = np.unique(S.nonzero()[0])
        scaling[j] = np.linalg.norm(XtX[np.ix_(idx, idx)]) / sparse_linalg.norm(S[idx][:, idx])
    residual_df = n - structure.null_space_dim
    roots_t = [R.T.toarray() for R in structure.roots]

    def evaluate(theta: np.ndarray, derivatives: bool = True):
        lam = np.exp(theta) * scaling
        S_lam = sum(weight * S for weight, S in zip(lam, S_list, strict=True)).toarray()
        A = XtX + S_lam
        try:
            L = linalg.cholesky(A, lower=True)
        except linalg.LinAlgError as error:
            raise ValueError(
                "X'X + S is not positive definite: the model is not identifiable "
                "(a column of X is unpenalised and collinear with others)"
            ) from error
        beta = linalg.cho_solve((L, True), Xty)
        r = yw - Xw @ beta
        D = float(r @ r + beta @ S_lam @ beta)
        log_det_S, dS, d2S = structure.log_det(lam)
        V = residual_df * np.log(D) + 2.0 * np.log(np.diag(L)).sum() - log_det_S
        state = {"beta": beta, "D": D, "L": L, "log_det_S": log_det_S}
        if not derivatives:
            return V, None, None, state
        m = len(lam)
        G = [linalg.solve_triangular(L, Rt, lower=True, check_finite=False) for Rt in roots_t]
        traces = lam * np.array([np.sum(g * g) for g in G])
        u = [S @ beta for S in S_list]
        b = lam * np.array([beta @ uj for uj in u])
        w = linalg.solve_triangular(L, np.column_stack(u), lower=True, check_finite=False)
        D1 = b
        D2 = np.diag(b) - 2.0 * np.outer(lam, lam) * (w.T @ w)
        T2 = np.diag(traces).astype(float)
        for j in range(m):
            for k in range(j, m):
                value = lam[j] * lam[k] * np.sum((G[j].T @ G[k]) ** 2)
                T2[j, k] -= value
                if k != j:
                    T2[k, j] -= value
        grad = residual_df * D1 / D + traces - dS
        hess = residual_df * (D2 / D - np.outer(D1, D1) / D**2) + T2 - d2S
        return V, grad, hess, state

    theta = np.zeros(len(S_list))
    V, grad, hess, state = evaluate(theta)
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (the count is reported after the loop)
        # As mgcv's Newton iteration: a smoothing parameter whose gradient and curvature are both
        # negligible is heading to 0 or infinity where V is flat; it is held fixed, and so is one
        # pinned at a bound with the gradient pushing outwards.
        flat = (np.abs(grad) < FLAT_TOL) & (np.abs(np.diag(hess)) < FLAT_TOL)
        pinned = ((theta >= LOG_SP_BOUND) & (grad < 0)) | ((theta <= -LOG_SP_BOUND) & (grad > 0))
        free = ~(flat | pinned)
        if np.all(np.abs(grad[free]) < tol):
            converged = True
            break
        H = hess[np.ix_(free, free)]
        values, vectors = np.linalg.eigh(H)
        values = np.maximum(np.abs(values), max(np.abs(values).max(), 1e-3) * 1e-7)
        step = np.zeros_like(theta)
        step[free] = -(vectors @ ((vectors.T @ grad[free]) / values))
        # Newton decrement: the decrease a full step promises. Below V's rounding level the
        # gradient is noise, so the optimum is reached even if |gradient| is not below tol.
        if -0.5 * grad @ step < DECREMENT_TOL * max(1.0, abs(V)):
            converged = True
            break
        step *= min(1.0, MAX_STEP / np.abs(step).max())
        for _ in range(40):
            candidate = np.clip(theta + step, -LOG_SP_BOUND, LOG_SP_BOUND)
            V_new = evaluate(candidate, derivatives=False)[0]
            if V_new <= V:
                break
            step /= 2
        else:
            converged = True  # no descent left at machine precision: at the optimum
            break
        theta = candidate
        V, grad, hess, state = evaluate(theta)

    beta, L, D = state["beta"], state["L"], state["D"]
    scale = D / residual_df
    A_inv = linalg.cho_solve((L, True), np.eye(p))
    fitted = np.asarray(X @ beta).ravel()
    log_det_A = 2.0 * np.log(np.diag(L)).sum()
    reml = 0.5 * (D / scale + residual_df * np.log(2 * np.pi * scale) + log_det_A - state["log_det_S"]) - log_jacobian
    return RemlFit(
        coefficients=beta,
        vp=A_inv * scale,
        edf=np.sum(A_inv * XtX, axis=1),
        sp=np.exp(theta) * scaling,
        scale=float(scale),
        fitted=fitted,
        residuals=y - fitted,
        reml=float(reml),
        rho=float(rho),
        n_iter=n_iter,
        converged=converged,
    )

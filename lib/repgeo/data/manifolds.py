"""Source ``manifold``: synthetic samples with per-point ground-truth dimension and curvature.

Every surface is sampled uniformly in surface area, so that a density estimate on the samples
sees a constant density and the curvature estimators are tested on curvature alone.

Surfaces, charts and closed forms (K Gaussian curvature, S scalar curvature; S = 2K in 2-D):

- ``sphere``: S^d of radius r in R^(d+1), Gaussian vectors normalised and scaled by r.
  S = d(d-1)/r^2 (2/r^2 on S^2, 6 on the unit S^3); K = 1/r^2 on S^2.
- ``torus`` (R > r): chart (phi, theta) in [0, 2pi)^2, point ((R + r cos t) cos p,
  (R + r cos t) sin p, r sin t), area weight R + r cos theta; K = cos theta / (r (R + r cos theta)).
- ``flat_square``: (u, v) uniform on [0, side)^2, point Q (u, v, 0) with Q = Rz(pi/5) Rx(pi/3);
  K = 0.
- ``saddle``: z = u^2 - v^2 on [-h, h)^2, weight sqrt(1 + 4u^2 + 4v^2); K = -4/(1 + 4u^2 + 4v^2)^2.
- ``hyperboloid`` of one sheet x^2/a^2 + y^2/a^2 - z^2/c^2 = 1, |z| <= half_height: chart
  (phi, z), radius rho(z) = a sqrt(1 + z^2/c^2), exact area element
  rho sqrt(1 + rho'^2) = sqrt(a^2 (1 + z^2/c^2) + a^4 z^2/c^4);
  K = -1/(a^4 c^2 (x^2/a^4 + y^2/a^4 + z^2/c^4)^2), which is -1/(1 + 2z^2)^2 for a = c = 1.
- ``ellipsoid`` with semi-axes (a, b, c): uniform sphere points u mapped to (a u1, b u2, c u3),
  accepted with probability proportional to the area stretch
  sqrt((b c u1)^2 + (a c u2)^2 + (a b u3)^2); K = 1/(a^2 b^2 c^2 (x^2/a^4 + y^2/b^4 + z^2/c^4)^2).
- ``swiss_roll``: (t cos t, h, t sin t), t in t_range, h in [0, height), weight sqrt(1 + t^2);
  K = 0.

Source of the sampling protocol: ``shared/fixtures/diffusion_geometry/README.md``. With seed 0 and
n = 2000 the sphere (d = 2, 3), the noisy sphere (noise 0.05), the torus (R = 2, r = 1), the saddle
(h = 1), the Swiss roll and the unit flat square reproduce the fixtures' ``x`` bit for bit in
float64. The rejection sampler draws batches of max(4n, 1000) chart proposals, then as many
uniform values in [0, wmax), keeps a proposal when its value is strictly below the area weight, and
repeats until n are kept.

Order of operations in the source: sample (float64, main generator ``default_rng(seed)``) ->
optional random isometric embedding into ``ambient_dim`` dimensions (its own generator
``default_rng([seed, 1])``, so the main stream is unchanged) -> optional isotropic Gaussian noise
of s.d. ``noise`` in the ambient space (main generator, right after the sample) -> float32.

Interior masks, for the manifolds with boundary (fixtures README): saddle |u|, |v| <= 0.8 h;
square 0.1 side <= u, v <= 0.9 side; Swiss roll arc length >= 2 from both spiral ends and
2 <= h <= height - 2; hyperboloid |z| <= 0.8 half_height.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import Dataset, DataError, random_split, register

# Shape parameters each manifold accepts, with their defaults (the schema gives them none, so a
# key present in the spec was set by the user and can be checked for relevance).
MANIFOLD_PARAMS: dict[str, dict[str, Any]] = {
    "sphere": {"dim": 2, "radius": 1.0},
    "torus": {"R": 2.0, "r": 1.0},
    "flat_square": {"side": 1.0},
    "saddle": {"half_width": 1.0},
    "hyperboloid": {"a": 1.0, "c": 1.0, "half_height": 1.0},
    "ellipsoid": {"axes": [1.5, 1.0, 0.75]},
    "swiss_roll": {"t_range": [1.5 * math.pi, 4.5 * math.pi], "height": 21.0},
}


def _rot_z(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def _rot_x(a: float) -> np.ndarray:
    return np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])


#: The flat square's rotation into R^3, Q = Rz(pi/5) Rx(pi/3) (the fixture's ``rotation``).
FLAT_SQUARE_ROTATION: np.ndarray = _rot_z(np.pi / 5) @ _rot_x(np.pi / 3)


@dataclass(frozen=True)
class ManifoldSample:
    """Points on a manifold in its natural embedding, with per-point ground truth.

    Attributes
    ----------
    points:
        ``n x D`` float64, D the natural ambient dimension (dim + 1 for spheres, 3 otherwise).
    params:
        ``n x k`` chart coordinates, named by ``param_names``.
    true_dim:
        intrinsic dimension.
    scalar_curvature:
        ``(n,)`` closed-form scalar curvature, in 1/(units of the points)^2.
    gaussian_curvature:
        ``(n,)`` Gaussian curvature K = S/2 for 2-D surfaces, None otherwise.
    interior:
        ``(n,)`` bool, points away from the boundary; None for manifolds without boundary.
    """

    points: np.ndarray
    params: np.ndarray
    param_names: tuple[str, ...]
    true_dim: int
    scalar_curvature: np.ndarray
    gaussian_curvature: np.ndarray | None
    interior: np.ndarray | None


def _rejection(
    n: int,
    propose: Callable[[int], np.ndarray],
    weight: Callable[[np.ndarray], np.ndarray],
    wmax: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Keep proposals with probability weight/wmax, in draw order, until ``n`` are kept."""
    batch = max(4 * n, 1000)
    kept: list[np.ndarray] = []
    total = 0
    while total < n:
        proposals = propose(batch)
        # Drawn after the proposals, as one array per batch: the fixtures' stream order.
        values = rng.uniform(0.0, wmax, size=batch)
        accepted = proposals[values < weight(proposals)]
        kept.append(accepted)
        total += len(accepted)
    return np.concatenate(kept)[:n]


def rejection_sample(
    n: int,
    low: tuple[float, float],
    high: tuple[float, float],
    weight: Callable[[np.ndarray], np.ndarray],
    wmax: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n x 2`` chart points with density proportional to ``weight`` on [low, high).

    ``wmax`` must bound ``weight`` on the box; the sampler is the fixtures README's (see module
    docstring), so it reproduces the stored charts bit for bit.
    """
    return _rejection(n, lambda b: rng.uniform(low, high, size=(b, 2)), weight, wmax, rng)


def sphere_scalar_curvature(dim: int, radius: float) -> float:
    """Scalar curvature of the round S^dim of the given radius: dim (dim - 1) / radius^2."""
    return dim * (dim - 1) / radius**2


def torus_gaussian_curvature(theta: np.ndarray, R: float, r: float) -> np.ndarray:
    """K = cos(theta) / (r (R + r cos theta)), theta the angle around the tube."""
    return np.cos(theta) / (r * (R + r * np.cos(theta)))


def saddle_gaussian_curvature(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """K of z = u^2 - v^2: -4 / (1 + 4u^2 + 4v^2)^2."""
    return -4.0 / (1.0 + 4.0 * u**2 + 4.0 * v**2) ** 2


def hyperboloid_gaussian_curvature(points: np.ndarray, a: float, c: float) -> np.ndarray:
    """K of x^2/a^2 + y^2/a^2 - z^2/c^2 = 1 at ``points`` (n x 3): -1/(a^4 c^2 g^2).

    g = x^2/a^4 + y^2/a^4 + z^2/c^4 is the squared norm of half the gradient of the defining
    function f; the formula is the quadric case of the implicit-surface formula
    K = -det [[Hess f, grad f], [grad f^T, 0]] / |grad f|^4.
    """
    x, y, z = points.T
    g = (x**2 + y**2) / a**4 + z**2 / c**4
    return -1.0 / (a**4 * c**2 * g**2)


def ellipsoid_gaussian_curvature(points: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """K of x^2/a^2 + y^2/b^2 + z^2/c^2 = 1 at ``points`` (n x 3): 1/(a^2 b^2 c^2 g^2).

    g = x^2/a^4 + y^2/b^4 + z^2/c^4; at the end of the a-axis K = a^2/(b^2 c^2).
    """
    x, y, z = points.T
    g = x**2 / a**4 + y**2 / b**4 + z**2 / c**4
    return 1.0 / (a**2 * b**2 * c**2 * g**2)


def swiss_roll_arc_length(t: np.ndarray) -> np.ndarray:
    """Arc length of the spiral (t cos t, t sin t) from t = 0: (t sqrt(1 + t^2) + asinh t) / 2."""
    return 0.5 * (t * np.sqrt(1.0 + t**2) + np.arcsinh(t))


def sample_sphere(n: int, dim: int, radius: float, rng: np.random.Generator) -> ManifoldSample:
    """Uniform points on S^dim of ``radius`` in R^(dim+1): normalised Gaussian vectors.

    Chart columns: ``azimuth`` atan2(x1, x0), ``polar_angle`` arccos(x_dim / radius) and
    ``height`` x_dim (uniform on [-radius, radius] on S^2, by Archimedes' theorem).
    """
    g = rng.standard_normal((n, dim + 1))
    unit = g / np.linalg.norm(g, axis=1, keepdims=True)
    points = unit * radius
    height = points[:, dim]
    azimuth = np.arctan2(points[:, 1], points[:, 0])
    params = np.column_stack([azimuth, np.arccos(np.clip(unit[:, dim], -1.0, 1.0)), height])
    s = np.full(n, sphere_scalar_curvature(dim, radius))
    return ManifoldSample(
        points=points,
        params=params,
        param_names=("azimuth", "polar_angle", "height"),
        true_dim=dim,
        scalar_curvature=s,
        gaussian_curvature=s / 2.0 if dim == 2 else None,
        interior=None,
    )


def sample_torus(n: int, R: float, r: float, rng: np.random.Generator) -> ManifoldSample:
    """Area-uniform ring torus (R > r): rejection in (phi, theta) with weight R + r cos theta."""
    chart = rejection_sample(n, (0.0, 0.0), (2 * np.pi, 2 * np.pi), lambda p: R + r * np.cos(p[:, 1]), R + r, rng)
    phi, theta = chart.T
    ring = R + r * np.cos(theta)
    points = np.stack([ring * np.cos(phi), ring * np.sin(phi), r * np.sin(theta)], axis=1)
    k = torus_gaussian_curvature(theta, R, r)
    return ManifoldSample(points, chart, ("phi", "theta"), 2, 2.0 * k, k, None)


def sample_flat_square(n: int, side: float, rng: np.random.Generator) -> ManifoldSample:
    """Uniform (u, v) on [0, side)^2, rotated into R^3 by :data:`FLAT_SQUARE_ROTATION`."""
    chart = rng.uniform(0.0, side, size=(n, 2))
    # [u, v, 0] @ Q.T, as in the fixtures README (the product order matters bit for bit).
    points = np.column_stack([chart, np.zeros(n)]) @ FLAT_SQUARE_ROTATION.T
    interior = ((chart >= 0.1 * side) & (chart <= 0.9 * side)).all(axis=1)
    zero = np.zeros(n)
    return ManifoldSample(points, chart, ("u", "v"), 2, zero, zero.copy(), interior)


def sample_saddle(n: int, half_width: float, rng: np.random.Generator) -> ManifoldSample:
    """Area-uniform z = u^2 - v^2 on [-h, h)^2: rejection with weight sqrt(1 + 4u^2 + 4v^2)."""
    h = half_width
    chart = rejection_sample(
        n,
        (-h, -h),
        (h, h),
        lambda p: np.sqrt(1.0 + 4.0 * p[:, 0] ** 2 + 4.0 * p[:, 1] ** 2),
        math.sqrt(1.0 + 8.0 * h**2),
        rng,
    )
    u, v = chart.T
    points = np.stack([u, v, u**2 - v**2], axis=1)
    k = saddle_gaussian_curvature(u, v)
    interior = (np.abs(u) <= 0.8 * h) & (np.abs(v) <= 0.8 * h)
    return ManifoldSample(points, chart, ("u", "v"), 2, 2.0 * k, k, interior)


def sample_hyperboloid(n: int, a: float, c: float, half_height: float, rng: np.random.Generator) -> ManifoldSample:
    """Area-uniform one-sheet hyperboloid, |z| <= half_height: rejection in (phi, z)."""

    def area_element(z: np.ndarray) -> np.ndarray:
        return np.sqrt(a**2 * (1.0 + z**2 / c**2) + a**4 * z**2 / c**4)

    # The area element grows with |z|, so its maximum is at the rims.
    wmax = float(area_element(np.array(half_height)))
    chart = rejection_sample(
        n, (0.0, -half_height), (2 * np.pi, half_height), lambda p: area_element(p[:, 1]), wmax, rng
    )
    phi, z = chart.T
    rho = a * np.sqrt(1.0 + z**2 / c**2)
    points = np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)
    k = hyperboloid_gaussian_curvature(points, a, c)
    interior = np.abs(z) <= 0.8 * half_height
    return ManifoldSample(points, chart, ("phi", "z"), 2, 2.0 * k, k, interior)


def sample_ellipsoid(n: int, a: float, b: float, c: float, rng: np.random.Generator) -> ManifoldSample:
    """Area-uniform ellipsoid: uniform sphere points, mapped and accepted by the area stretch.

    The map u -> diag(a, b, c) u stretches area by sqrt((b c u1)^2 + (a c u2)^2 + (a b u3)^2),
    whose maximum on the unit sphere is max(b c, a c, a b) (it is linear in the u_i^2).
    Chart columns: ``azimuth`` and ``polar_angle`` of u, i.e. the point is
    (a sin p cos az, b sin p sin az, c cos p).
    """

    def propose(batch: int) -> np.ndarray:
        g = rng.standard_normal((batch, 3))
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    def stretch(u: np.ndarray) -> np.ndarray:
        return np.sqrt((b * c * u[:, 0]) ** 2 + (a * c * u[:, 1]) ** 2 + (a * b * u[:, 2]) ** 2)

    unit = _rejection(n, propose, stretch, max(b * c, a * c, a * b), rng)
    points = unit * np.array([a, b, c])
    chart = np.column_stack([np.arctan2(unit[:, 1], unit[:, 0]), np.arccos(np.clip(unit[:, 2], -1.0, 1.0))])
    k = ellipsoid_gaussian_curvature(points, a, b, c)
    return ManifoldSample(points, chart, ("azimuth", "polar_angle"), 2, 2.0 * k, k, None)


def sample_swiss_roll(n: int, t_range: tuple[float, float], height: float, rng: np.random.Generator) -> ManifoldSample:
    """Area-uniform Swiss roll (t cos t, h, t sin t): rejection with weight sqrt(1 + t^2)."""
    t0, t1 = t_range
    chart = rejection_sample(
        n,
        (t0, 0.0),
        (t1, height),
        lambda p: np.sqrt(1.0 + p[:, 0] ** 2),
        math.sqrt(1.0 + max(t0**2, t1**2)),
        rng,
    )
    t, h = chart.T
    points = np.stack([t * np.cos(t), h, t * np.sin(t)], axis=1)
    s = swiss_roll_arc_length(t)
    interior = (
        (s - swiss_roll_arc_length(np.float64(t0)) >= 2.0)
        & (swiss_roll_arc_length(np.float64(t1)) - s >= 2.0)
        & (h >= 2.0)
        & (h <= height - 2.0)
    )
    zero = np.zeros(n)
    return ManifoldSample(points, chart, ("t", "h"), 2, zero, zero.copy(), interior)


def random_isometry(dim_in: int, dim_out: int, seed: int) -> np.ndarray:
    """A ``dim_in x dim_out`` matrix with orthonormal rows: x -> x @ M preserves distances.

    From the QR decomposition of a Gaussian ``dim_out x dim_in`` matrix drawn with
    ``default_rng([seed, 1])``, signs fixed by diag(R) > 0 so the map is Haar-distributed.
    """
    if dim_out < dim_in:
        raise DataError(f"cannot embed {dim_in} dimensions isometrically into {dim_out}")
    g = np.random.default_rng([int(seed), 1]).standard_normal((dim_out, dim_in))
    q, r = np.linalg.qr(g)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return q.T


@dataclass(frozen=True)
class ManifoldDraw:
    """The float64 result of a ``manifold`` spec before the float32 cast.

    ``x`` is ``sample.points`` after the optional embedding and noise; ``params`` are the shape
    parameters used (defaults filled in).
    """

    manifold: str
    params: dict[str, Any]
    sample: ManifoldSample
    x: np.ndarray
    ambient_dim: int
    embedded: bool


def _positive(manifold: str, key: str, value: Any) -> float:
    value = float(value)
    if not value > 0:
        raise DataError(f"manifold {manifold}: {key} must be > 0, got {value}")
    return value


def resolve_params(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The manifold name and its shape parameters (defaults filled, values checked).

    Raises :class:`DataError` for an unknown manifold, a parameter of another manifold, or a
    value the schema cannot rule out (torus r >= R, an empty t_range, non-positive sizes).
    """
    name = spec.get("manifold")
    if name not in MANIFOLD_PARAMS:
        raise DataError(f"unknown manifold {name!r}; set manifold: to one of {', '.join(MANIFOLD_PARAMS)}")
    accepted = MANIFOLD_PARAMS[name]
    for other in sorted({k for p in MANIFOLD_PARAMS.values() for k in p} - set(accepted)):
        if spec.get(other) is not None:
            raise DataError(
                f"param {other} does not apply to manifold {name}; it accepts: "
                f"{', '.join(accepted)}. Remove {other} from this dataset or change manifold."
            )
    p = {k: spec[k] if spec.get(k) is not None else v for k, v in accepted.items()}
    if name == "sphere":
        if int(p["dim"]) != p["dim"] or int(p["dim"]) < 1:
            raise DataError(f"manifold sphere: dim must be an integer >= 1, got {p['dim']}")
        p["dim"] = int(p["dim"])
        p["radius"] = _positive(name, "radius", p["radius"])
    elif name == "torus":
        p["R"], p["r"] = _positive(name, "R", p["R"]), _positive(name, "r", p["r"])
        if p["r"] >= p["R"]:
            raise DataError(
                f"manifold torus needs r < R (a ring torus), got R={p['R']}, r={p['r']}; make r smaller than R"
            )
    elif name == "ellipsoid":
        axes = list(p["axes"])
        if len(axes) != 3:
            raise DataError(f"manifold ellipsoid: axes must be 3 semi-axes [a, b, c], got {axes}")
        p["axes"] = [_positive(name, "axes", v) for v in axes]
    elif name == "swiss_roll":
        t_range = [float(v) for v in p["t_range"]]
        if len(t_range) != 2 or not t_range[0] < t_range[1]:
            raise DataError(
                f"manifold swiss_roll: t_range must be [t_start, t_end] with t_start < t_end, got {p['t_range']}"
            )
        p["t_range"] = t_range
        p["height"] = _positive(name, "height", p["height"])
    else:
        p = {k: _positive(name, k, v) for k, v in p.items()}
    return name, p


def _sample(name: str, p: Mapping[str, Any], n: int, rng: np.random.Generator) -> ManifoldSample:
    if name == "sphere":
        return sample_sphere(n, p["dim"], p["radius"], rng)
    if name == "torus":
        return sample_torus(n, p["R"], p["r"], rng)
    if name == "flat_square":
        return sample_flat_square(n, p["side"], rng)
    if name == "saddle":
        return sample_saddle(n, p["half_width"], rng)
    if name == "hyperboloid":
        return sample_hyperboloid(n, p["a"], p["c"], p["half_height"], rng)
    if name == "ellipsoid":
        return sample_ellipsoid(n, *p["axes"], rng)
    return sample_swiss_roll(n, tuple(p["t_range"]), p["height"], rng)


def draw_manifold(spec: Mapping[str, Any]) -> ManifoldDraw:
    """Sample, embed and add noise in float64, as the ``manifold`` source does before its cast."""
    name, params = resolve_params(spec)
    n = int(spec.get("n", 2000))
    if n < 1:
        raise DataError(f"n must be at least 1, got {n}")
    seed = int(spec.get("seed", 0))
    noise = float(spec.get("noise", 0.0))
    if noise < 0:
        raise DataError(f"noise must be >= 0, got {noise}")
    natural = params["dim"] + 1 if name == "sphere" else 3
    ambient = spec.get("ambient_dim")
    ambient = natural if ambient is None else int(ambient)
    if ambient < natural:
        raise DataError(
            f"ambient_dim {ambient} is smaller than the natural dimension {natural} of manifold "
            f"{name}; set ambient_dim >= {natural} or null"
        )

    rng = np.random.default_rng(seed)
    sample = _sample(name, params, n, rng)
    x = sample.points
    # ambient_dim equal to the natural dimension means "keep it", like null; only a larger one
    # rotates the points into a random subspace.
    embedded = ambient > natural
    if embedded:
        x = x @ random_isometry(natural, ambient, seed)
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return ManifoldDraw(name, params, sample, x, ambient, embedded)


@register("manifold")
def manifold(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """Synthetic manifold samples with ground-truth dimension and curvature (module docstring)."""
    d = draw_manifold(spec)
    s = d.sample
    n = len(s.points)
    seed = int(spec.get("seed", 0))
    columns: dict[str, Any] = {
        "id": [f"p{i:05d}" for i in range(n)],
        "split": random_split(n, float(spec.get("test_fraction", 0.2)), seed),
        "true_dim": np.full(n, s.true_dim, dtype=np.int64),
        "true_scalar_curvature": s.scalar_curvature.astype(np.float64),
    }
    if s.gaussian_curvature is not None:
        columns["true_gaussian_curvature"] = s.gaussian_curvature.astype(np.float64)
    for j, pname in enumerate(s.param_names):
        columns[pname] = s.params[:, j]
    if s.interior is not None:
        columns["interior"] = s.interior.astype(bool)
    info = {
        "manifold": d.manifold,
        "params": d.params,
        "true_dim": s.true_dim,
        "natural_dim": int(s.points.shape[1]),
        "ambient_dim": d.ambient_dim,
        "embedded": d.embedded,
        "noise": float(spec.get("noise", 0.0)),
        "seed": seed,
    }
    logger.info(
        "manifold %s %s: %d points, intrinsic dim %d, ambient dim %d, noise %g",
        d.manifold,
        d.params,
        n,
        s.true_dim,
        d.ambient_dim,
        info["noise"],
    )
    return Dataset(samples=pd.DataFrame(columns), arrays=d.x.astype(np.float32), info=info)

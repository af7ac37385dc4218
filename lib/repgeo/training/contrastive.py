"""SimCLR: contrastive self-supervised learning (Chen, Kornblith, Norouzi & Hinton, ICML 2020).

Two random augmentations of every image in a batch of N give 2N views; an encoder f (the
classifier's feature stack, whose output is the tracked representation Z) and a projection head
g (Linear-ReLU-Linear, section 2 of the paper) map them to z = g(f(x)). The NT-Xent loss of
eq. (1) for the positive pair (i, j) is

    l(i, j) = -log exp(sim(z_i, z_j)/tau) / sum_{k != i} exp(sim(z_i, z_k)/tau),

sim the cosine similarity, averaged over all 2N ordered positive pairs. Quality is read, as in
the paper's linear evaluation protocol, from a linear classifier trained on frozen features
(here multinomial logistic regression from scikit-learn on the training split's Z).

Augmentations (section 3 of the paper, adapted to small images): a random resized crop (area
scale in [``min_scale``, 1], aspect ratio in [3/4, 4/3]) applied per image through an affine
sampling grid, an optional horizontal flip, colour jitter of brightness and contrast (each
factor in [1 - ``jitter``, 1 + ``jitter``]) and, for images with three channels, of saturation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent loss (SimCLR eq. 1) of the positive pairs (z1[i], z2[i]), averaged over 2N anchors."""
    if z1.shape != z2.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))  # k != i
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def augment(
    x: torch.Tensor, generator: torch.Generator, min_scale: float = 0.5, flip: bool = False, jitter: float = 0.4
) -> torch.Tensor:
    """One random view of every image of the batch x (N x C x H x W), drawn from ``generator``."""
    n = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    area = uniform(min_scale, 1.0)
    log_ratio = uniform(math.log(3 / 4), math.log(4 / 3))
    ratio = torch.exp(log_ratio)
    sx = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width / image width
    sy = torch.sqrt(area / ratio).clamp(max=1.0)
    tx = (1 - sx) * uniform(-1.0, 1.0)  # crop centre inside the image
    ty = (1 - sy) * uniform(-1.0, 1.0)
    sign = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sx * sign, tx
    theta[:, 1, 1], theta[:, 1, 2] = sy, ty
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    shape = (n, 1, 1, 1)
    mean = v.mean(dim=(1, 2, 3), keepdim=True)
    v = (v - mean) * uniform(1 - jitter, 1 + jitter).view(shape).to(x.device) + mean  # contrast
    v = v * uniform(1 - jitter, 1 + jitter).view(shape).to(x.device)  # brightness
    if x.shape[1] == 3:
        grey = v.mean(dim=1, keepdim=True)
        v = grey + (v - grey) * uniform(1 - jitter, 1 + jitter).view(shape).to(x.device)  # saturation
    return v


class ProjectionHead(nn.Module):
    """g(h) = W2 ReLU(W1 h) (SimCLR section 2), to ``out_dim`` dimensions."""

    def __init__(self, dim: int, out_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, out_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def linear_probe_accuracy(
    Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray, seed: int = 0
) -> float:
    """Test accuracy of multinomial logistic regression on standardised frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(Z_test) == 0:
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(Z_train, y_train)
    return float(clf.score(Z_test, y_test))

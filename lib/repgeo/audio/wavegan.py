"""WaveGAN networks (Donahue, McAuley & Puckette, ICLR 2019) as used by ciwGAN/fiwGAN (Beguš 2021).

Architecture of the original TensorFlow code (chrisdonahue/wavegan ``wavegan.py``, gbegus/fiwGAN-ciwGAN
``cinfowavegan.py``), with model dimension d, kernel 25 and stride 4:

- :class:`Generator`: z -> Dense 16·16d -> reshape [16d channels, 16 samples] -> ReLU -> five
  transposed convolutions with 8d, 4d, 2d, d, 1 channels (ReLU between, tanh at the end);
  lengths 16 -> 64 -> 256 -> 1024 -> 4096 -> 16384. No batch norm. The ReLU after the dense
  projection is in the original and missing from the public PyTorch port.
- :class:`Discriminator`: five convolutions with d, 2d, 4d, 8d, 16d channels, each followed by
  LeakyReLU(0.2), phase shuffle after the first four only (the port also shuffles after the
  fifth), then flatten (16·16d) -> Dense. Lengths 16384 -> 4096 -> 1024 -> 256 -> 64 -> 16.
- :class:`QNetwork`: the same structure with its own weights and one logit per code unit
  (phase shuffle radius 2 as in the TF code; the port builds Q with radius 0).
- :class:`ReferenceCNN`: the same convolutional stack trained with labels (see its docstring).

Initialisation follows the TF layers' defaults (Glorot-uniform weights, zero biases), not
PyTorch's, and draws from an explicit ``torch.Generator`` so that a model built from a seed is
the same on every device. TF pads 'same' convolutions asymmetrically (10 left, 11 right for
kernel 25, stride 4); PyTorch pads symmetrically, so padding 11 (and output padding 1 for the
transposed convolutions) gives the same lengths with the receptive fields shifted by one
sample, as in the port.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5")
SLICE_LEN = 16384
STRIDE = 4
_FIRST_LEN = 16  # length of the generator's first feature map (and of the critic's last)
_CHANNEL_MULT = (1, 2, 4, 8, 16)  # critic channels, in units of model_dim; the generator mirrors them


def _padding(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-4 convolution divide the length by exactly 4.

    Conv1d: floor((L + 2p - k) / 4) + 1 = L / 4 needs k - 4 <= 2p <= k - 1; ConvTranspose1d:
    4(L - 1) - 2p + k + op = 4L then needs op = 4 + 2p - k (in [0, 3]). k = 25 gives p = 11,
    op = 1, the port's values.
    """
    if kernel_size < STRIDE:
        raise ValueError(f"kernel_size must be >= {STRIDE} (the stride), got {kernel_size}")
    p = (kernel_size - 3) // 2
    return p, STRIDE + 2 * p - kernel_size


def _check_dims(model_dim: int, kernel_size: int) -> None:
    if int(model_dim) < 1:
        raise ValueError(f"model_dim must be a positive integer (64 in the paper), got {model_dim}")
    _padding(kernel_size)


def init_tf_defaults(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Glorot-uniform weights and zero biases for every conv/linear layer (TF ``tf.layers`` defaults).

    PyTorch's ``xavier_uniform_`` uses the same bound sqrt(6 / (fan_in + fan_out)) as TF's
    ``glorot_uniform`` for dense, convolution and transposed-convolution kernels.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.ConvTranspose1d)):
            nn.init.xavier_uniform_(m.weight, generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class PhaseShuffle(nn.Module):
    """Phase shuffle (Donahue et al. 2019, "phase shuffle"): shift a batch by n ~ U{-radius..radius}.

    As in the WaveGAN TF code, ONE shift is drawn per call (per batch, not per example); a
    positive n reflect-pads n samples on the left and drops the last n, a negative n drops the
    first |n| and reflect-pads |n| on the right, so the length is unchanged. Identity in eval
    mode and for radius 0. The shift is drawn from ``generator`` (the call's argument, else the
    module's ``generator`` attribute, else torch's default CPU generator) always on the CPU,
    so a seeded run draws the same shifts on every device.
    """

    def __init__(self, radius: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if int(radius) < 0:
            raise ValueError(f"phase shuffle radius must be >= 0, got {radius}")
        self.radius = int(radius)
        self.generator = generator

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training or self.radius == 0:
            return x
        gen = generator if generator is not None else self.generator
        shift = int(torch.randint(-self.radius, self.radius + 1, (), generator=gen))
        return shift_reflect(x, shift)

    def extra_repr(self) -> str:
        return f"radius={self.radius}"


def shift_reflect(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Shift (N, C, L) along L by ``shift`` samples, reflect-padding the vacated end (TF 'REFLECT')."""
    if shift == 0:
        return x
    length = x.shape[-1]
    if abs(shift) >= length:
        raise ValueError(f"cannot shift a length-{length} signal by {shift} with reflect padding")
    if shift > 0:
        return F.pad(x, (shift, 0), mode="reflect")[..., :length]
    return F.pad(x, (0, -shift), mode="reflect")[..., -shift:]


class Generator(nn.Module):
    """WaveGAN generator: latent (N, latent_dim) -> waveform (N, 1, slice_len) in (-1, 1)."""

    def __init__(
        self, latent_dim: int = 100, model_dim: int = 64, kernel_size: int = 25, slice_len: int = SLICE_LEN
    ) -> None:
        super().__init__()
        _check_dims(model_dim, kernel_size)
        if slice_len != SLICE_LEN:
            raise ValueError(
                f"slice_len {slice_len} is not implemented: five stride-4 layers from length {_FIRST_LEN} give {SLICE_LEN} "
                "(WaveGAN's longer slices add layers); pad or crop the audio to 16384 samples"
            )
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim}")
        self.latent_dim, self.model_dim = int(latent_dim), int(model_dim)
        d = self.model_dim
        self.project = nn.Linear(self.latent_dim, _FIRST_LEN * 16 * d)
        pad, out_pad = _padding(kernel_size)
        channels = [m * d for m in reversed(_CHANNEL_MULT)] + [1]  # 16d, 8d, 4d, 2d, d, 1
        self.upconvs = nn.ModuleList(
            nn.ConvTranspose1d(c_in, c_out, kernel_size, stride=STRIDE, padding=pad, output_padding=out_pad)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.project(z).view(z.shape[0], 16 * self.model_dim, _FIRST_LEN))
        for i, conv in enumerate(self.upconvs):
            x = conv(x)
            x = torch.tanh(x) if i == len(self.upconvs) - 1 else F.relu(x)
        return x


class Discriminator(nn.Module):
    """WaveGAN critic (no sigmoid: WGAN-GP) mapping (N, 1, 16384) to (N, n_outputs) logits."""

    def __init__(self, model_dim: int = 64, kernel_size: int = 25, phase_shuffle: int = 2, n_outputs: int = 1) -> None:
        super().__init__()
        _check_dims(model_dim, kernel_size)
        if int(n_outputs) < 1:
            raise ValueError(f"n_outputs must be a positive integer, got {n_outputs}")
        self.model_dim, self.n_outputs = int(model_dim), int(n_outputs)
        d = self.model_dim
        pad, _ = _padding(kernel_size)
        channels = [1] + [m * d for m in _CHANNEL_MULT]
        self.convs = nn.ModuleList(
            nn.Conv1d(c_in, c_out, kernel_size, stride=STRIDE, padding=pad)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        # Not after the last convolution: the TF code shuffles after layers 1-4 only.
        self.shuffles = nn.ModuleList(PhaseShuffle(phase_shuffle) for _ in range(len(self.convs) - 1))
        self.head = nn.Linear(_FIRST_LEN * 16 * d, self.n_outputs)

    def _run(
        self, x: torch.Tensor, generator: torch.Generator | None, shuffle: bool, keep: list | None
    ) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[2] != SLICE_LEN:
            raise ValueError(f"expected audio of shape (N, 1, {SLICE_LEN}), got {tuple(x.shape)}")
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if keep is not None:
                keep.append(x)
            if shuffle and i < len(self.shuffles):
                x = self.shuffles[i](x, generator)
        return self.head(x.flatten(1))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits; phase shuffle (training mode only) draws from ``generator`` (see :class:`PhaseShuffle`)."""
        return self._run(x, generator, shuffle=True, keep=None)

    def layer_activations(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The five post-LeakyReLU activations (N, C, L), named :data:`LAYER_NAMES`, and the logits.

        Phase shuffle is off whatever the module's mode (it is a training-time augmentation of D and Q),
        so the activations are a deterministic function of ``x``.
        """
        keep: list[torch.Tensor] = []
        logits = self._run(x, None, shuffle=False, keep=keep)
        return keep, logits


class QNetwork(Discriminator):
    """ciwGAN/fiwGAN Q-network (Beguš 2021): the critic's structure, own weights, one logit per code unit."""

    def __init__(self, n_codes: int, model_dim: int = 64, kernel_size: int = 25, phase_shuffle: int = 2) -> None:
        super().__init__(model_dim, kernel_size, phase_shuffle, n_outputs=n_codes)


class ReferenceCNN(Discriminator):
    """Supervised reference network: the critic's convolutional stack with one logit per word.

    Trained on the real word labels (:mod:`.reference_cnn`) as a fast network whose layers are
    directly comparable with the Q-network's (same layers, lengths, channels and
    :meth:`layer_activations`). It keeps phase shuffle (radius 2) during training, like Q: the
    comparison is then between two identically regularised stacks that differ only in what they
    were trained on (word labels here, the generator's codes for Q), and the shuffle keeps it from
    keying on the exact sample phase. Evaluation and analysis run without it (eval mode).
    """

    def __init__(self, n_classes: int, model_dim: int, kernel_size: int = 25, phase_shuffle: int = 2) -> None:
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be >= 2 for a classifier, got {n_classes}")
        super().__init__(model_dim, kernel_size, phase_shuffle, n_outputs=n_classes)

"""The 2-D Gaussian mixtures on which GANs are tested for mode collapse, and how collapse is measured.

Two targets, as in the mode-collapse experiments of VEEGAN (Srivastava et al. 2017, "VEEGAN: reducing
mode collapse in GANs using implicit variational learning") and PacGAN (Lin et al. 2018, "PacGAN: the
power of two samples in generative adversarial networks"):

* ``ring8``: 8 equally weighted isotropic Gaussians with means ``2·(cos 2πk/8, sin 2πk/8)``,
  ``k = 0, …, 7``, and standard deviation ``σ = 0.02``. This is the ring of unrolled GANs (Metz et
  al. 2017); PacGAN's ring (radius 1, ``σ = 0.01``) is the same ring scaled by one half, so the
  distance between neighbouring modes (``2r sin(π/8) ≈ 38σ``) and every metric below are the same.
* ``grid25``: 25 equally weighted isotropic Gaussians with means on ``{−4, −2, 0, 2, 4}²`` and
  ``σ = 0.05`` (VEEGAN's and PacGAN's grid).

The metrics follow PacGAN's published evaluation code (itself following VEEGAN), on 2,500 generated
samples:

1. Assign every sample ``x`` to its nearest mode ``k* = argmin_k ‖x − μ_k‖``.
2. The sample is **high quality** if ``‖x − μ_{k*}‖ < 3σ`` (the standardized distance to its nearest
   mode is below 3).
3. A mode is **covered** if at least one high-quality sample is assigned to it.

``modes_covered`` counts covered modes and ``high_quality_fraction`` is the share of high-quality
samples. Both ignore how the samples are spread over the covered modes, so
:class:`ModeCoverage` also carries the count per mode and the KL divergence of that spread from the
uniform weights of the target (0 when every mode gets the same share).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["GAN_TARGETS", "EVALUATION_SAMPLES", "MixtureTarget", "ModeCoverage", "make_target", "mode_coverage"]

EVALUATION_SAMPLES = 2500
"""Generated samples the metrics are computed on (VEEGAN's and PacGAN's number)."""

HIGH_QUALITY_RADIUS = 3.0
"""A sample is high quality within this many standard deviations of its nearest mode."""


@dataclass(frozen=True)
class MixtureTarget:
    """An equally weighted mixture of isotropic 2-D Gaussians that share one standard deviation.

    Attributes:
        name: the name used by scripts (``ring8``, ``grid25``).
        means: the modes, shape ``(modes, 2)``.
        std: the standard deviation ``σ`` of every component, per coordinate.
    """

    name: str
    means: Tensor
    std: float

    @property
    def n_modes(self) -> int:
        return len(self.means)

    def sample(self, count: int, generator: torch.Generator | None = None) -> Tensor:
        """``count`` samples of shape ``(count, 2)``: a uniform mode, plus ``σ``-scaled normal noise."""
        modes = torch.randint(self.n_modes, (count,), generator=generator)
        noise = torch.randn(count, 2, generator=generator, dtype=self.means.dtype)
        return self.means[modes] + self.std * noise


def ring_target(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> MixtureTarget:
    """``modes`` Gaussians evenly spaced on a circle of ``radius`` around the origin."""
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return MixtureTarget(f"ring{modes}", means, std)


def grid_target(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> MixtureTarget:
    """``side × side`` Gaussians on a square grid centred on the origin, ``spacing`` apart."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    means = torch.cartesian_prod(axis, axis)
    return MixtureTarget(f"grid{side * side}", means, std)


GAN_TARGETS = {"ring8": ring_target, "grid25": grid_target}
"""The standard targets by name; each builder takes no arguments for the published setup."""


def make_target(name: str) -> MixtureTarget:
    """The published ``ring8`` or ``grid25`` mixture (see the module docstring)."""
    if name not in GAN_TARGETS:
        raise ValueError(f"target must be one of {', '.join(GAN_TARGETS)}; got {name!r}")
    return GAN_TARGETS[name]()


@dataclass(frozen=True)
class ModeCoverage:
    """How well samples cover the modes of a :class:`MixtureTarget`.

    Attributes:
        modes_covered: modes with at least one high-quality sample assigned to them.
        high_quality_fraction: share of samples within ``3σ`` of their nearest mode.
        samples_per_mode: high-quality samples assigned to each mode, shape ``(modes,)``.
        mode_kl: ``KL(p ‖ uniform)`` of the high-quality samples' spread ``p`` over the modes, in nats
            (``log(modes)`` when all sit on one mode; ``nan`` without high-quality samples).
    """

    modes_covered: int
    high_quality_fraction: float
    samples_per_mode: Tensor
    mode_kl: float


def mode_coverage(samples: Tensor, target: MixtureTarget, *, radius: float = HIGH_QUALITY_RADIUS) -> ModeCoverage:
    """Modes covered and the high-quality fraction of ``samples`` (shape ``(n, 2)``), as PacGAN counts them.

    Args:
        samples: generated points, shape ``(n, 2)``.
        target: the mixture they should come from.
        radius: high quality means closer than ``radius · σ`` to the nearest mode.
    """
    if samples.dim() != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must have shape (n, 2) with n >= 1, got {tuple(samples.shape)}")
    samples = samples.detach().to(target.means.dtype)
    distances = torch.cdist(samples, target.means)
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance < radius * target.std
    per_mode = torch.bincount(nearest_mode[high_quality], minlength=target.n_modes)
    total = int(per_mode.sum())
    if total:
        shares = per_mode.double() / total
        present = shares > 0
        mode_kl = float((shares[present] * torch.log(shares[present] * target.n_modes)).sum())
    else:
        mode_kl = math.nan
    return ModeCoverage(
        modes_covered=int((per_mode > 0).sum()),
        high_quality_fraction=float(high_quality.double().mean()),
        samples_per_mode=per_mode,
        mode_kl=mode_kl,
    )

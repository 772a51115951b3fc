"""Strategies that help gradient ascent leave saddle points and poor local maxima.

Plain ascent stops wherever the gradient vanishes.  On non-concave objectives that may be a
saddle point or a poor local maximum; the strategies here add carefully scheduled randomness.
Both are deterministic under their ``seed`` (their own ``torch.Generator``, saved in the
optimizer's ``state_dict``) and are passed to :class:`ascentrl.Ascent` as ``escape=``.

* :class:`PerturbedAscent` — perturbed gradient descent of Jin, Ge, Netrapalli, Kakade and
  Jordan, "How to Escape Saddle Points Efficiently" (ICML 2017), for ascent: whenever the
  gradient norm is at most ``threshold`` and at least ``interval`` steps have passed since the
  last perturbation, jump to θ + ξ with ξ drawn uniformly from the ball of radius ``radius``.
* :class:`GradientNoise` — annealed Gaussian gradient noise of Neelakantan et al., "Adding
  Gradient Noise Improves Learning for Very Deep Networks" (2015): the optimizer follows
  ∇J + N(0, σ_t²) with σ_t² = η / (1 + t)^γ, t = 0, 1, 2, …
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


class EscapeStrategy:
    """Base class: owns the seeded generators and the (de)serialisation of their state.

    Subclasses override :meth:`transform_gradients` (called on copies of the gradients before
    the update) and/or :meth:`after_update` (called on the parameters after it).
    """

    name = "base"
    needs_grad_norm = False

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self._generators: dict[torch.device, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        generator = self._generators.get(device)
        if generator is None:
            generator = torch.Generator(device=device)
            generator.manual_seed(self.seed)
            self._generators[device] = generator
        return generator

    def _normal_like(self, tensors: list[Tensor]) -> list[Tensor]:
        return [
            torch.randn(t.shape, generator=self._generator(t.device), dtype=t.dtype, device=t.device)
            for t in tensors
        ]

    def transform_gradients(self, grads: list[Tensor], step: int) -> list[Tensor]:
        """Return the gradients step ``step`` (0-based) should use: new tensors, or ``grads``."""
        return grads

    def after_update(self, params: list[Tensor], grad_norm: float | None, step: int) -> bool:
        """Adjust the parameters after the update; return True if they were perturbed."""
        return False

    def config(self) -> dict[str, Any]:
        """The constructor arguments, so the strategy can be rebuilt from a state dict."""
        return {"seed": self.seed}

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": self.config(),
            "generators": {str(device): g.get_state() for device, g in self._generators.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(
                f"escape state is for strategy {state.get('name')!r}, but this optimizer uses {self.name!r}"
            )
        self._generators = {}
        for device_name, generator_state in state["generators"].items():
            self._generator(torch.device(device_name)).set_state(generator_state)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class PerturbedAscent(EscapeStrategy):
    """Jump uniformly within a ball when the gradient is small (Jin et al. 2017).

    After an update at step t: if ‖∇J‖ ≤ ``threshold`` and t − t_last ≥ ``interval`` (or no
    perturbation happened yet), set θ ← θ + ξ, ξ ~ Uniform(B(0, ``radius``)) over all parameters
    that received a gradient, and t_last ← t.  The next gradient is evaluated at the perturbed
    point.  ‖∇J‖ is the gradient norm over all of the optimizer's parameter groups, before
    clipping.

    Args:
        threshold: gradient-norm level below which ascent is considered stuck (> 0).
        radius: radius of the perturbation ball (> 0).
        interval: minimum number of steps between two perturbations (≥ 1).
        seed: seed of the generator that draws ξ.
    """

    name = "perturb"
    needs_grad_norm = True

    def __init__(self, threshold: float = 1e-3, radius: float = 0.1, interval: int = 50, seed: int = 0) -> None:
        super().__init__(seed)
        if not (isinstance(threshold, (int, float)) and threshold > 0 and math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number > 0, got {threshold!r}")
        if not (isinstance(radius, (int, float)) and radius > 0 and math.isfinite(radius)):
            raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            raise ValueError(f"interval must be an int >= 1, got {interval!r}")
        self.threshold = float(threshold)
        self.radius = float(radius)
        self.interval = interval
        self.last_perturbation: int | None = None

    def after_update(self, params: list[Tensor], grad_norm: float | None, step: int) -> bool:
        if grad_norm is None or grad_norm > self.threshold or not params:
            return False
        if self.last_perturbation is not None and step - self.last_perturbation < self.interval:
            return False
        directions = self._normal_like(params)
        norm = math.sqrt(sum(float(torch.sum(d.double() ** 2)) for d in directions))
        dimension = sum(p.numel() for p in params)
        if norm == 0.0 or dimension == 0:
            return False
        # Uniform in the d-ball: a uniform direction times radius · U^(1/d).
        uniform = torch.rand((), generator=self._generator(params[0].device), dtype=torch.float64)
        length = self.radius * float(uniform) ** (1.0 / dimension)
        torch._foreach_add_(params, directions, alpha=length / norm)
        self.last_perturbation = step
        return True

    def config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "radius": self.radius, "interval": self.interval, "seed": self.seed}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["last_perturbation"] = self.last_perturbation
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.last_perturbation = state["last_perturbation"]


class GradientNoise(EscapeStrategy):
    """Annealed Gaussian gradient noise (Neelakantan et al. 2015).

    At step t = 0, 1, 2, … the update uses ∇J + σ_t z, z ~ N(0, I), σ_t² = ``eta`` / (1 + t)^``gamma``.
    The noise is added to copies of the gradients after clipping, so clipping bounds the data
    gradient while the noise keeps its schedule.

    Args:
        eta: initial noise variance η (> 0); the paper uses 0.01, 0.3 or 1.0.
        gamma: annealing exponent γ (≥ 0); the paper uses 0.55.
        seed: seed of the generator that draws z.
    """

    name = "noise"

    def __init__(self, eta: float = 0.01, gamma: float = 0.55, seed: int = 0) -> None:
        super().__init__(seed)
        if not (isinstance(eta, (int, float)) and eta > 0 and math.isfinite(eta)):
            raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
        if not (isinstance(gamma, (int, float)) and gamma >= 0 and math.isfinite(gamma)):
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
        self.eta = float(eta)
        self.gamma = float(gamma)

    def noise_std(self, step: int) -> float:
        """σ_t = √(η / (1 + t)^γ)."""
        return math.sqrt(self.eta / (1.0 + step) ** self.gamma)

    def transform_gradients(self, grads: list[Tensor], step: int) -> list[Tensor]:
        if not grads:
            return grads
        std = self.noise_std(step)
        noisy = self._normal_like(grads)
        torch._foreach_mul_(noisy, std)
        torch._foreach_add_(noisy, grads)
        return noisy

    def config(self) -> dict[str, Any]:
        return {"eta": self.eta, "gamma": self.gamma, "seed": self.seed}


ESCAPE_STRATEGIES: dict[str, type[EscapeStrategy]] = {
    PerturbedAscent.name: PerturbedAscent,
    GradientNoise.name: GradientNoise,
}


def make_escape(escape: str | EscapeStrategy | None) -> EscapeStrategy | None:
    """Resolve the ``escape=`` argument of :class:`ascentrl.Ascent`."""
    if escape is None or isinstance(escape, EscapeStrategy):
        return escape
    if isinstance(escape, str) and escape in ESCAPE_STRATEGIES:
        return ESCAPE_STRATEGIES[escape]()
    raise ValueError(
        f"escape must be None, an EscapeStrategy instance or one of {sorted(ESCAPE_STRATEGIES)}, got {escape!r}"
    )

"""A GAN as a two-player differentiable game, trained by any dynamics of :mod:`ascentrl.games`.

Goodfellow et al. (2014), "Generative adversarial nets". The **discriminator** ``D_φ`` maps a point
``x ∈ R²`` to a logit; the **generator** ``G_θ`` maps latent noise ``z ~ N(0, I)`` to a point. Each
player maximizes its own objective on a minibatch of real points ``x_1..x_B`` and noises
``z_1..z_B`` (``σ`` the logistic sigmoid, ``log σ(−a) = log(1 − σ(a))``):

* discriminator, the log-likelihood of telling real from generated:
  ``u_D(φ, θ) = mean_b log σ(D_φ(x_b)) + mean_b log σ(−D_φ(G_θ(z_b)))``;
* generator, ``non_saturating`` (Goodfellow's practical choice, whose gradient does not vanish
  while the discriminator wins): ``u_G = mean_b log σ(D_φ(G_θ(z_b)))``;
  or ``minimax``: ``u_G = −u_D``, which makes the game zero-sum.

Optionally the discriminator's objective carries the R1 penalty of Mescheder, Geiger and Nowozin
(2018), "Which training methods for GANs actually converge?": ``u_D − (γ/2) mean_b ‖∇_x D_φ(x_b)‖²``
on the real points, which makes the discriminator flat on the data at the equilibrium and lets the
dynamics settle there instead of circling it.

One training step:

1. draw a fresh minibatch of real points and noises;
2. let the chosen dynamics move both players once on that minibatch. The players are
   ``[discriminator, generator]``, each with its own :class:`ascentrl.Ascent` (Adam) optimizer, so
   ``alternating`` steps the discriminator first, then the generator against the new
   discriminator; ``extragradient`` evaluates its look-ahead on the same minibatch; ``consensus`` and
   ``sga`` add their Hessian-vector-product corrections (see :mod:`ascentrl.games.dynamics`).

Nothing is negated into a loss: every player ascends its own ``u``. After training,
:func:`ascentrl.applications.mode_coverage` scores 2,500 generated samples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.functional import logsigmoid
from torch.optim.lr_scheduler import CosineAnnealingLR

from ascentrl.applications.gan_targets import EVALUATION_SAMPLES, MixtureTarget, ModeCoverage, mode_coverage
from ascentrl.ascent import Ascent
from ascentrl.games.dynamics import DYNAMICS, make_dynamics

__all__ = ["GANRun", "GANSettings", "build_discriminator", "build_generator", "gan_objectives", "generate", "train_gan"]

GeneratorObjective = Literal["non_saturating", "minimax"]


@dataclass(frozen=True)
class GANSettings:
    """Architecture, dynamics and optimizer of a 2-D GAN run.

    Args:
        dynamics: a key of :data:`ascentrl.games.DYNAMICS` except ``lola`` (not among the GAN
            dynamics this module is tested and benchmarked with).
        steps: training steps (calls of the dynamics' ``step``).
        batch_size: real points and noises per step.
        latent_dim: dimension of the generator's Gaussian noise.
        hidden_units: width of every hidden layer of both networks.
        hidden_layers: hidden layers of both networks.
        lr: Adam learning rate of both players.
        betas: Adam's ``(β₁, β₂)`` for both players.
        generator_objective: ``non_saturating`` or ``minimax`` (see the module docstring).
        consensus_weight: ``γ`` of ``consensus``.
        sga_adjustment: ``λ`` of ``sga``.
        gradient_penalty: ``γ`` of the R1 penalty in the discriminator's objective (0: none).
        anneal: decay both learning rates to 0 along a cosine over the run
            (``torch.optim.lr_scheduler.CosineAnnealingLR``); the small late steps sharpen the modes.
        evaluate_every: score the generator every this many steps (0: only at the end).
    """

    dynamics: str = "simultaneous"
    steps: int = 20_000
    batch_size: int = 256
    latent_dim: int = 16
    hidden_units: int = 128
    hidden_layers: int = 3
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    generator_objective: GeneratorObjective = "non_saturating"
    consensus_weight: float = 1.0
    sga_adjustment: float = 1.0
    gradient_penalty: float = 0.0
    anneal: bool = True
    evaluate_every: int = 0

    def __post_init__(self) -> None:
        allowed = [name for name in DYNAMICS if name != "lola"]
        if self.dynamics not in allowed:
            raise ValueError(f"dynamics must be one of {', '.join(allowed)}; got {self.dynamics!r}")
        for name in ("steps", "batch_size", "latent_dim", "hidden_units", "hidden_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.evaluate_every, bool) or not isinstance(self.evaluate_every, int) or self.evaluate_every < 0:
            raise ValueError(f"evaluate_every must be an integer >= 0, got {self.evaluate_every!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if self.generator_objective not in ("non_saturating", "minimax"):
            raise ValueError(f"generator_objective must be non_saturating or minimax; got {self.generator_objective!r}")
        for name in ("consensus_weight", "sga_adjustment", "gradient_penalty"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def dynamics_options(self) -> dict[str, float]:
        """The keyword arguments of :func:`ascentrl.games.make_dynamics` for these settings."""
        if self.dynamics == "consensus":
            return {"consensus_weight": self.consensus_weight}
        if self.dynamics == "sga":
            return {"adjustment": self.sga_adjustment}
        return {}


def _multilayer_perceptron(inputs: int, hidden_units: int, hidden_layers: int, outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_units), nn.LeakyReLU(0.2)]
        width = hidden_units
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def build_generator(settings: GANSettings) -> nn.Sequential:
    """``z ∈ R^latent_dim ↦ x ∈ R²``: an MLP with leaky-ReLU hidden layers and a linear output."""
    return _multilayer_perceptron(settings.latent_dim, settings.hidden_units, settings.hidden_layers, 2)


def build_discriminator(settings: GANSettings) -> nn.Sequential:
    """``x ∈ R² ↦`` a logit (real if positive): an MLP with leaky-ReLU hidden layers."""
    return _multilayer_perceptron(2, settings.hidden_units, settings.hidden_layers, 1)


def gan_objectives(
    discriminator: nn.Module,
    generator: nn.Module,
    real: Tensor,
    noise: Tensor,
    generator_objective: GeneratorObjective = "non_saturating",
    gradient_penalty: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """``(u_D, u_G)``, the two objectives to **maximize** on one minibatch (see the module docstring).

    Args:
        discriminator: maps points ``(B, 2)`` to logits ``(B, 1)``.
        generator: maps noises ``(B, latent_dim)`` to points ``(B, 2)``.
        real: real points, shape ``(B, 2)``.
        noise: latent noises, shape ``(B', latent_dim)``.
        generator_objective: ``non_saturating`` or ``minimax`` (``u_G = −u_D``).
        gradient_penalty: ``γ ≥ 0`` of the R1 penalty on the discriminator (its objective only).
    """
    if gradient_penalty and not real.requires_grad:
        real = real.detach().requires_grad_(True)  # a leaf to take the slopes ∇_x D(x) at
    real_logits = discriminator(real).squeeze(-1)
    fake_logits = discriminator(generator(noise)).squeeze(-1)
    discriminator_objective = logsigmoid(real_logits).mean() + logsigmoid(-fake_logits).mean()
    if gradient_penalty:
        (slopes,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        discriminator_objective = discriminator_objective - 0.5 * gradient_penalty * (slopes**2).sum(dim=1).mean()
    if generator_objective == "minimax":
        return discriminator_objective, -discriminator_objective
    return discriminator_objective, logsigmoid(fake_logits).mean()


@dataclass
class GANRun:
    """The outcome of :func:`train_gan`.

    Attributes:
        generator, discriminator: the trained networks.
        coverage: :class:`ModeCoverage` of :data:`EVALUATION_SAMPLES` generated samples.
        samples: those samples, shape ``(2500, 2)``.
        objectives: ``(u_D, u_G)`` before every step, shape ``(steps, 2)``.
        history: ``(step, modes covered, high-quality fraction)`` every ``evaluate_every`` steps.
        seconds: wall time of the training loop.
    """

    generator: nn.Module
    discriminator: nn.Module
    coverage: ModeCoverage
    samples: Tensor
    objectives: Tensor
    history: list[tuple[int, int, float]] = field(default_factory=list)
    seconds: float = 0.0


def generate(generator: nn.Module, count: int, latent_dim: int, seed: int) -> Tensor:
    """``count`` generated points from noises drawn with their own ``seed``, shape ``(count, 2)``."""
    noise = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return generator(noise)


def train_gan(
    target: MixtureTarget,
    settings: GANSettings,
    *,
    seed: int = 0,
    progress: Callable[[int, Tensor], None] | None = None,
) -> GANRun:
    """Train a GAN on ``target`` under ``settings.dynamics`` and score its samples.

    Args:
        target: the mixture to learn.
        settings: :class:`GANSettings`.
        seed: seeds the initial weights, the minibatches and the evaluation noise; the same seed
            gives the same run. The global torch generator is left as it was.
        progress: called after every step with the step number and ``(u_D, u_G)`` before it.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, discriminator = build_generator(settings), build_discriminator(settings)
    batches = torch.Generator().manual_seed(seed + 1)
    minibatch: dict[str, Tensor] = {}

    def objectives() -> tuple[Tensor, Tensor]:
        return gan_objectives(discriminator, generator, minibatch["real"], minibatch["noise"],
                              settings.generator_objective, settings.gradient_penalty)

    players = [list(discriminator.parameters()), list(generator.parameters())]
    optimizers = [Ascent(player, lr=settings.lr, adaptive="adam", betas=settings.betas) for player in players]
    dynamics = make_dynamics(settings.dynamics, players, objectives, optimizers, **settings.dynamics_options())
    schedules = [CosineAnnealingLR(optimizer, settings.steps) for optimizer in optimizers] if settings.anneal else []
    evaluation_seed = seed + 2
    values, history = [], []
    start = time.perf_counter()
    for step in range(1, settings.steps + 1):
        minibatch["real"] = target.sample(settings.batch_size, batches)
        minibatch["noise"] = torch.randn(settings.batch_size, settings.latent_dim, generator=batches)
        values.append(dynamics.step())
        for schedule in schedules:
            schedule.step()
        if progress is not None:
            progress(step, values[-1])
        if settings.evaluate_every and step % settings.evaluate_every == 0:
            coverage = mode_coverage(generate(generator, EVALUATION_SAMPLES, settings.latent_dim, evaluation_seed),
                                     target)
            history.append((step, coverage.modes_covered, coverage.high_quality_fraction))
    seconds = time.perf_counter() - start
    samples = generate(generator, EVALUATION_SAMPLES, settings.latent_dim, evaluation_seed)
    return GANRun(generator, discriminator, mode_coverage(samples, target), samples, torch.stack(values),
                  history, seconds)

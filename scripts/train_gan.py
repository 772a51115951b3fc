"""Train a GAN on a 2-D Gaussian mixture as a two-player game and count the modes it covers.

The discriminator and the generator each ascend their own objective (the discriminator its
log-likelihood of telling real from generated points, the generator the non-saturating
log D(G(z)) or, with --generator-objective minimax, the negated discriminator objective) under the
chosen game dynamics (--dynamics), each with its own ascentrl.Ascent (Adam) optimizer. Then 2,500
generated samples are scored as VEEGAN and PacGAN score them: a sample is high quality within 3σ
of its nearest mode; a mode is covered if at least one high-quality sample is nearest to it.

  python scripts/train_gan.py --target ring8 --dynamics simultaneous
  python scripts/train_gan.py --target grid25 --dynamics alternating --seed 3 --plot grid.png
  python scripts/train_gan.py --target grid25 --dynamics consensus --json
  python scripts/train_gan.py --target ring8 --steps 2000 --plot quick.png      # a quick look

Simultaneous ascent took 13 s for 5,000 steps on one idle CPU core; consensus costs 2-3 times as
much per step (two more backward passes for its Hessian-vector product).

Targets: ring8 (8 Gaussians on a circle of radius 2, σ = 0.02) and grid25 (25 Gaussians on
{-4,-2,0,2,4}², σ = 0.05). --json prints one object with keys target, dynamics, seed, steps,
modes_covered, modes, high_quality_fraction, mode_kl (KL of the high-quality samples' spread over
the modes from uniform, nats), samples_per_mode, seconds and settings. --plot writes a scatter of
the samples over the modes (PNG). Exit code 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ascentrl.applications import GAN_TARGETS, GANSettings, make_target, train_gan
from ascentrl.applications.gan_plot import write_sample_plot
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail

GAN_DYNAMICS = ("simultaneous", "alternating", "optimistic", "extragradient", "consensus", "sga")


@dataclass
class TrainGANConfig:
    """Which mixture, which dynamics, and the networks and optimizer of both players."""

    target: str = "ring8"
    """Mixture to learn: ring8 or grid25."""
    dynamics: str = "simultaneous"
    """Game dynamics: simultaneous, alternating, optimistic, extragradient, consensus or sga."""
    seed: int = 0
    """Seed of the initial weights, the minibatches and the evaluation noise."""
    steps: int = GANSettings.steps
    """Training steps (one call of the dynamics each)."""
    batch_size: int = GANSettings.batch_size
    """Real points and noises per step."""
    lr: float = GANSettings.lr
    """Adam learning rate of both players."""
    anneal: bool = GANSettings.anneal
    """Decay both learning rates to 0 along a cosine over the run."""
    latent_dim: int = GANSettings.latent_dim
    """Dimension of the generator's Gaussian noise."""
    hidden_units: int = GANSettings.hidden_units
    """Width of every hidden layer of both networks."""
    hidden_layers: int = GANSettings.hidden_layers
    """Hidden layers of both networks."""
    generator_objective: str = "non_saturating"
    """The generator's objective: non_saturating or minimax (zero-sum)."""
    gradient_penalty: float = GANSettings.gradient_penalty
    """gamma of the R1 penalty on the discriminator's gradient at real points (0: none)."""
    consensus_weight: float = GANSettings.consensus_weight
    """gamma of consensus optimization."""
    sga_adjustment: float = GANSettings.sga_adjustment
    """lambda of symplectic gradient adjustment."""
    plot: str | None = None
    """Write a scatter plot of the samples over the modes to this PNG file."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        if self.target not in GAN_TARGETS:
            raise ValueError(f"--target must be one of {', '.join(GAN_TARGETS)}; got {self.target!r}")
        if self.dynamics not in GAN_DYNAMICS:
            raise ValueError(f"--dynamics must be one of {', '.join(GAN_DYNAMICS)}; got {self.dynamics!r}")
        if self.generator_objective not in ("non_saturating", "minimax"):
            raise ValueError(
                f"--generator-objective must be non_saturating or minimax; got {self.generator_objective!r}")
        for name in ("steps", "batch_size", "latent_dim", "hidden_units", "hidden_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)!r}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        for name in ("gradient_penalty", "consensus_weight", "sga_adjustment"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value!r}")

    def settings(self) -> GANSettings:
        """The library settings these options describe."""
        names = {field.name for field in dataclasses.fields(GANSettings)}
        return GANSettings(**{key: value for key, value in dataclasses.asdict(self).items() if key in names})


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, TrainGANConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = config_from_args(TrainGANConfig, arguments)
        settings = config.settings()
        if config.plot is not None:
            Path(config.plot).parent.mkdir(parents=True, exist_ok=True)
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    # Networks this small run faster on one thread than split across cores, and do not crowd a shared machine.
    torch.set_num_threads(1)
    target = make_target(config.target)
    run = train_gan(target, settings, seed=config.seed)
    coverage = run.coverage
    report = {
        "target": config.target,
        "dynamics": config.dynamics,
        "seed": config.seed,
        "steps": settings.steps,
        "modes_covered": coverage.modes_covered,
        "modes": target.n_modes,
        "high_quality_fraction": coverage.high_quality_fraction,
        "mode_kl": coverage.mode_kl,
        "samples_per_mode": coverage.samples_per_mode.tolist(),
        "seconds": run.seconds,
        "settings": dataclasses.asdict(settings),
    }
    if config.plot is not None:
        title = f"{config.target}, {config.dynamics}, seed {config.seed}"
        write_sample_plot(config.plot, run.samples, target, title=title)
    if config.json:
        print(json.dumps(report))
        return 0
    print(f"{config.target} under {config.dynamics} (seed {config.seed}, {settings.steps} steps, {run.seconds:.1f} s):"
          f" {coverage.modes_covered}/{target.n_modes} modes covered,"
          f" {100 * coverage.high_quality_fraction:.1f}% high-quality samples, mode KL {coverage.mode_kl:.3f} nats")
    if config.plot is not None:
        print(f"plot written to {config.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

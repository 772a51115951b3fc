"""Benchmark the games half of the applications: GANs on 2-D mixtures per dynamics, and EigenGame.

GAN section: every --dynamics (plus the plain simultaneous baseline, always) trains the same GAN on
ring8 and grid25 for each seed; the table gives modes covered and the high-quality share (mean and
worst seed), the seeds that cover every mode with >= 90% high-quality samples, and the time per run
relative to simultaneous, next to the published PacGAN/VEEGAN figures. EigenGame section: top-16 of
synthetic 784-dimensional data (MNIST's shape and top eigenvalue, λ_i = 5 i^-0.8, all distinct) and of
scikit-learn's 8 × 8 digits, by EigenGame, Oja and GHA on the same minibatches, against numpy's
covariance + eigh timed in the same run.

  python scripts/bench_game_applications.py --section eigengame
  python scripts/bench_game_applications.py --section gan --dynamics alternating consensus --seeds 0 1 2 3 4
  python scripts/bench_game_applications.py --json

Targets (issue 13): GAN, with at least one dynamics, 8/8 and 25/25 modes with >= 90% high-quality
samples on 5 of 5 seeds; EigenGame, streak 16/16 and subspace distance <= 1e-3 on the 784-d data.
scripts/bench_applications.py (maximum likelihood) is the other half; the sections live in
scripts/harness/gan_benchmark.py and scripts/harness/eigengame_benchmark.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Literal

from harness.eigengame_benchmark import eigengame_rows, format_eigengame_table, load_digits, synthetic_784
from harness.gan_benchmark import format_gan_table, gan_rows, summarize

from ascentrl.applications import GANSettings
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail

GAN_DYNAMICS = ("simultaneous", "alternating", "optimistic", "extragradient", "consensus", "sga")


@dataclass
class BenchGameApplicationsConfig:
    """Which sections, dynamics and seeds, and how long each GAN trains."""

    section: Literal["all", "gan", "eigengame"] = "all"
    """Run the GAN section, the EigenGame section, or both."""
    dynamics: tuple[str, ...] = ("alternating", "consensus")
    """GAN dynamics to compare with the simultaneous baseline (which always runs)."""
    targets: tuple[str, ...] = ("ring8", "grid25")
    """GAN targets."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """One GAN run per seed."""
    steps: int = GANSettings.steps
    """Training steps per GAN run."""
    lr: float = GANSettings.lr
    """Adam learning rate of both GAN players."""
    gradient_penalty: float = GANSettings.gradient_penalty
    """R1 penalty weight on the discriminator (0: none)."""
    epochs: int = 10
    """EigenGame: passes over the 784-d data (the digits get 20 times as many, they are 33 times smaller)."""
    json: bool = False
    """Print one JSON object instead of tables."""

    def __post_init__(self) -> None:
        unknown = [name for name in self.dynamics if name not in GAN_DYNAMICS]
        if unknown:
            raise ValueError(f"--dynamics must be among {', '.join(GAN_DYNAMICS)}; got {', '.join(unknown)}")
        unknown = [name for name in self.targets if name not in ("ring8", "grid25")]
        if unknown or not self.targets:
            raise ValueError(f"--targets must be among ring8, grid25; got {', '.join(unknown) or 'none'}")
        if not self.seeds or min(self.seeds) < 0:
            raise ValueError(f"--seeds must be one or more integers >= 0, got {list(self.seeds)}")
        for name in ("steps", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        if not (math.isfinite(self.gradient_penalty) and self.gradient_penalty >= 0):
            raise ValueError(f"--gradient-penalty must be a finite number >= 0, got {self.gradient_penalty!r}")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchGameApplicationsConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        config = config_from_args(BenchGameApplicationsConfig, parser.parse_args(argv))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    report: dict[str, object] = {"config": dataclasses.asdict(config)}
    if config.section in ("all", "eigengame"):
        rows = eigengame_rows(synthetic_784(), 16, epochs=config.epochs)
        digits = load_digits()
        if digits is not None:
            rows += eigengame_rows(digits, 16, dataset="digits64", epochs=20 * config.epochs, batch_size=64)
        report["eigengame"] = rows
        if not config.json:
            print(format_eigengame_table(rows), flush=True)
    if config.section in ("all", "gan"):
        settings = GANSettings(steps=config.steps, lr=config.lr, gradient_penalty=config.gradient_penalty)

        def progress(row: dict) -> None:
            if not config.json:
                print(f"  {row['target']} {row['dynamics']} seed {row['seed']}: {row['modes_covered']}/{row['modes']}"
                      f" modes, {100 * row['high_quality_fraction']:.1f}% high quality, {row['seconds']:.0f} s",
                      flush=True)

        rows = gan_rows(config.targets, config.dynamics, config.seeds, settings=settings, progress=progress)
        report["gan"] = {"rows": rows, "summary": summarize(rows)}
        if not config.json:
            print(format_gan_table(rows))
    if config.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fit a Gaussian mixture to the points in a .npy file by gradient ascent on the log-likelihood.

Every restart starts from its own k-means++ seeding and Lloyd's iterations; all restarts ascend
the exact mean log-likelihood per point together (NAdam, one batch) and the best one is printed.

  python scripts/fit_mixture.py --data X.npy --components 3
  python scripts/fit_mixture.py --data X.npy --components 5 --covariance-type diag --restarts 20 --json

--data holds an array of shape (n_samples, n_features). The output gives mean_log_likelihood (per
point, in the data's units: (1/N) Σ_n log p(x_n)), the weights, means and covariances, and each
restart's mean log-likelihood (null for a restart dropped because a covariance collapsed). --json
prints one object with those keys. Exit code 2 on bad input (one line naming the option), 1 when
the fit fails numerically (every restart's covariance collapsed: the line names the component and
the step).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Literal

import torch
from harness.npy_data import load_npy

from ascentrl.applications import CovarianceCollapseError, GaussianMixture
from ascentrl.applications.data import as_observations
from ascentrl.runs import CommandLineParser, add_config_arguments, config_from_args, fail


@dataclass
class FitMixtureConfig:
    """The data, the model and the ascent."""

    data: str = ""
    """A .npy file of shape (n_samples, n_features) (required)."""
    components: int = 0
    """Number of mixture components K (required, >= 1)."""
    covariance_type: Literal["full", "diag"] = "full"
    """Full covariance matrices or diagonal ones."""
    restarts: int = 10
    """Starts fitted together in one batch; the best is kept."""
    steps: int = 2000
    """Most ascent steps."""
    lr: float = 0.1
    """NAdam learning rate (on standardized data)."""
    tol: float = 1e-10
    """Stop when every restart's mean log-likelihood stayed within a band this wide over 10 steps."""
    batch_size: int | None = None
    """Points per step (minibatch ascent for steps steps); none for full batch."""
    seed: int = 0
    """Seed of the k-means++ starts and the minibatches."""
    threads: int = 1
    """torch threads."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        for name in ("components", "restarts", "steps", "threads"):
            value = getattr(self, name)
            if value < 1:
                required = " (required)" if name == "components" else ""
                raise ValueError(f"--{name} must be a positive integer{required}, got {value!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"--batch-size must be a positive integer or none, got {self.batch_size!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        if not (math.isfinite(self.tol) and self.tol >= 0):
            raise ValueError(f"--tol must be a finite number >= 0, got {self.tol!r}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed!r}")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, FitMixtureConfig)
    return parser


def summary(model: GaussianMixture, config: FitMixtureConfig, n_samples: int) -> dict:
    """The JSON object of a fitted mixture."""
    return {
        "mean_log_likelihood": model.log_likelihood_,
        "n_samples": n_samples,
        "n_features": int(model.means_.shape[1]),
        "components": config.components,
        "covariance_type": config.covariance_type,
        "weights": model.weights_.tolist(),
        "means": model.means_.tolist(),
        "covariances": model.covariances_.tolist(),
        "restart_mean_log_likelihoods": [value if math.isfinite(value) else None
                                         for value in model.restart_log_likelihoods_.tolist()],
        "best_restart": model.best_restart_,
        "steps": model.n_steps_,
        "converged": model.converged_,
        "collapsed_restarts": [vars(collapse) for collapse in model.collapses_],
        "seed": config.seed,
    }


def format_summary(result: dict) -> str:
    lines = [f"mean log-likelihood per point: {result['mean_log_likelihood']:.6f}  ({result['n_samples']} points, "
             f"{result['n_features']} features, {result['components']} {result['covariance_type']} components)",
             f"best of {len(result['restart_mean_log_likelihoods'])} restarts: restart {result['best_restart']}; "
             f"{result['steps']} steps, {'converged' if result['converged'] else 'NOT converged (raise --steps)'}"]
    for collapse in result["collapsed_restarts"]:
        lines.append(f"restart {collapse['restart']} dropped: component {collapse['component']}'s covariance "
                     f"collapsed at step {collapse['step']}")
    for index, (weight, mean) in enumerate(zip(result["weights"], result["means"])):
        lines.append(f"component {index}: weight {weight:.4f}, mean [{', '.join(f'{m:.4g}' for m in mean)}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = config_from_args(FitMixtureConfig, arguments)
        array = load_npy("--data", config.data)
        try:
            points = as_observations(array, torch.float64, minimum_rows=config.components, what="samples")
        except ValueError as error:
            raise ValueError(f"--data {config.data}: {error}") from None
        model = GaussianMixture(config.components, covariance_type=config.covariance_type,
                                n_restarts=config.restarts, max_steps=config.steps, lr=config.lr, tol=config.tol,
                                batch_size=config.batch_size, seed=config.seed)
    except (ValueError, TypeError) as error:
        fail(parser, error)
    torch.set_num_threads(config.threads)
    try:
        model.fit(points)
    except (CovarianceCollapseError, FloatingPointError) as error:
        print(f"{parser.prog}: fit failed: {error}", file=sys.stderr)
        return 1
    result = summary(model, config, points.shape[0])
    print(json.dumps(result) if config.json else format_summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

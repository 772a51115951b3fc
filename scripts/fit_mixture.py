"""Fit a Gaussian mixture to the points in a .npy file by gradient ascent on the log-likelihood.

Every restart starts from its own k-means++ seeding and Lloyd's iterations; all restarts ascend
the exact mean log-likelihood per point together (by default mirror ascent, whose unit step is EM's,
accelerated; --optimizer nadam for NAdam steps) and the best one is printed.

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
from dataclasses import dataclass
from typing import Literal

import torch
from harness.likelihood_cli import AscentOptions, describe_fit, fit_and_summarize, load_npy

from ascentrl.applications import GaussianMixture
from ascentrl.applications.data import as_observations
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail


@dataclass
class MixtureOptions:
    """The data and the model."""

    data: str = ""
    """A .npy file of shape (n_samples, n_features) (required)."""
    components: int = 0
    """Number of mixture components K (required, >= 1)."""
    covariance_type: Literal["full", "diag"] = "full"
    """Full covariance matrices or diagonal ones."""

    def __post_init__(self) -> None:
        if self.components < 1:
            raise ValueError(f"--components must be a positive integer (required), got {self.components!r}")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser.add_argument_group("mixture"), MixtureOptions)
    add_config_arguments(parser.add_argument_group("ascent"), AscentOptions)
    return parser


def format_summary(result: dict) -> str:
    lines = [f"mean log-likelihood per point: {result['mean_log_likelihood']:.6f}  ({result['n_samples']} points, "
             f"{result['n_features']} features, {result['components']} {result['covariance_type']} components)",
             *describe_fit(result, "component")]
    for index, (weight, mean) in enumerate(zip(result["weights"], result["means"])):
        lines.append(f"component {index}: weight {weight:.4f}, mean [{', '.join(f'{m:.4g}' for m in mean)}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        mixture = config_from_args(MixtureOptions, arguments)
        options = config_from_args(AscentOptions, arguments)
        array = load_npy("--data", mixture.data)
        try:
            points = as_observations(array, torch.float64, minimum_rows=mixture.components, what="samples")
        except ValueError as error:
            raise ValueError(f"--data {mixture.data}: {error}") from None
        model = GaussianMixture(mixture.components, covariance_type=mixture.covariance_type,
                                **options.model_options())
    except (ValueError, TypeError) as error:
        fail(parser, error)
    fitted = fit_and_summarize(parser.prog, lambda: model.fit(points), options)
    if fitted is None:
        return 1
    model, common = fitted
    result = {"n_samples": points.shape[0], "n_features": points.shape[1], "components": mixture.components,
              "covariance_type": mixture.covariance_type, "weights": model.weights_.tolist(),
              "means": model.means_.tolist(), "covariances": model.covariances_.tolist(), **common}
    print(json.dumps(result) if options.json else format_summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

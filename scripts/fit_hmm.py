"""Fit a hidden Markov model to sequences in a .npy file by gradient ascent on the log-likelihood.

All restarts ascend the exact mean log-likelihood per observation together (the forward algorithm
in log space, NAdam, one batch over restarts and sequences); the best one is printed.

  python scripts/fit_hmm.py --data X.npy --states 3
  python scripts/fit_hmm.py --data X.npy --lengths L.npy --states 2 --covariance-type diag --json
  python scripts/fit_hmm.py --data symbols.npy --lengths L.npy --states 2 --emissions categorical

--data holds the observations of all sequences, one after the other: shape (n_observations,
n_features) for Gaussian emissions, integer symbols 0..M-1 of shape (n_observations,) or
(n_observations, 1) for categorical ones. --lengths holds the length of each sequence (they must
sum to n_observations); without it the data are one sequence (hmmlearn's layout). The output gives
mean_log_likelihood (per observation: Σ_s log p(x_s) / n_observations), the start and transition
probabilities, the emission parameters and each restart's mean log-likelihood. --json prints one
object with those keys. Exit code 2 on bad input (one line naming the option), 1 when the fit
fails numerically (the line names the state whose covariance collapsed and the step).
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

from ascentrl.applications import CategoricalHMM, CovarianceCollapseError, GaussianHMM
from ascentrl.applications.data import as_lengths, as_observations, as_symbols
from ascentrl.runs import CommandLineParser, add_config_arguments, config_from_args, fail


@dataclass
class FitHmmConfig:
    """The data, the model and the ascent."""

    data: str = ""
    """A .npy file: observations of all sequences concatenated (required)."""
    states: int = 0
    """Number of hidden states K (required, >= 1)."""
    lengths: str | None = None
    """A .npy file of sequence lengths summing to the number of observations; none for one sequence."""
    emissions: Literal["gaussian", "categorical"] = "gaussian"
    """Gaussian emissions (rows of features) or categorical ones (integer symbols)."""
    covariance_type: Literal["full", "diag"] = "full"
    """Gaussian emissions: full covariance matrices or diagonal ones."""
    restarts: int = 10
    """Starts fitted together in one batch; the best is kept."""
    steps: int = 2000
    """Most ascent steps."""
    lr: float = 0.1
    """NAdam learning rate."""
    tol: float = 1e-10
    """Stop when every restart's mean log-likelihood stayed within a band this wide over 10 steps."""
    batch_size: int | None = None
    """Sequences per step (minibatch ascent for steps steps); none for full batch."""
    seed: int = 0
    """Seed of the starts and the minibatches."""
    threads: int = 1
    """torch threads."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        for name in ("states", "restarts", "steps", "threads"):
            value = getattr(self, name)
            if value < 1:
                required = " (required)" if name == "states" else ""
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
    add_config_arguments(parser, FitHmmConfig)
    return parser


def load_inputs(config: FitHmmConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The validated observations and lengths, or a ``ValueError`` naming the option."""
    array = load_npy("--data", config.data)
    try:
        if config.emissions == "categorical":
            observations = as_symbols(array, minimum_rows=config.states)
        else:
            observations = as_observations(array, torch.float64, minimum_rows=config.states, what="observations",
                                           per="state")
    except ValueError as error:
        raise ValueError(f"--data {config.data}: {error}") from None
    lengths = None
    if config.lengths is not None:
        lengths = load_npy("--lengths", config.lengths)
    try:
        lengths = as_lengths(lengths, observations.shape[0])
    except ValueError as error:
        raise ValueError(f"--lengths {config.lengths}: {error}") from None
    return observations, lengths


def summary(model: GaussianHMM | CategoricalHMM, config: FitHmmConfig, lengths: torch.Tensor) -> dict:
    """The JSON object of a fitted HMM."""
    emission = ({"emission_probabilities": model.emission_probabilities_.tolist()}
                if isinstance(model, CategoricalHMM)
                else {"means": model.means_.tolist(), "covariances": model.covariances_.tolist()})
    return {
        "mean_log_likelihood": model.log_likelihood_,
        "n_observations": int(lengths.sum()),
        "n_sequences": len(lengths),
        "states": config.states,
        "emissions": config.emissions,
        "covariance_type": config.covariance_type if config.emissions == "gaussian" else None,
        "start_probabilities": model.start_probabilities_.tolist(),
        "transition_matrix": model.transition_matrix_.tolist(),
        **emission,
        "restart_mean_log_likelihoods": [value if math.isfinite(value) else None
                                         for value in model.restart_log_likelihoods_.tolist()],
        "best_restart": model.best_restart_,
        "steps": model.n_steps_,
        "converged": model.converged_,
        "collapsed_restarts": [vars(collapse) for collapse in model.collapses_],
        "seed": config.seed,
    }


def format_summary(result: dict) -> str:
    lines = [f"mean log-likelihood per observation: {result['mean_log_likelihood']:.6f}  "
             f"({result['n_observations']} observations in {result['n_sequences']} sequences, "
             f"{result['states']} states, {result['emissions']} emissions)",
             f"best of {len(result['restart_mean_log_likelihoods'])} restarts: restart {result['best_restart']}; "
             f"{result['steps']} steps, {'converged' if result['converged'] else 'NOT converged (raise --steps)'}"]
    for collapse in result["collapsed_restarts"]:
        lines.append(f"restart {collapse['restart']} dropped: state {collapse['component']}'s covariance "
                     f"collapsed at step {collapse['step']}")
    lines.append("start probabilities: [" + ", ".join(f"{p:.4f}" for p in result["start_probabilities"]) + "]")
    lines.append("transition matrix:")
    lines.extend("  [" + ", ".join(f"{p:.4f}" for p in row) + "]" for row in result["transition_matrix"])
    if "means" in result:
        lines.extend(f"state {index} mean: [" + ", ".join(f"{m:.4g}" for m in mean) + "]"
                     for index, mean in enumerate(result["means"]))
    else:
        lines.extend(f"state {index} emits: [" + ", ".join(f"{p:.4f}" for p in row) + "]"
                     for index, row in enumerate(result["emission_probabilities"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = config_from_args(FitHmmConfig, arguments)
        observations, lengths = load_inputs(config)
        options = dict(n_restarts=config.restarts, max_steps=config.steps, lr=config.lr, tol=config.tol,
                       batch_size=config.batch_size, seed=config.seed)
        model = (CategoricalHMM(config.states, **options) if config.emissions == "categorical"
                 else GaussianHMM(config.states, covariance_type=config.covariance_type, **options))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    torch.set_num_threads(config.threads)
    try:
        model.fit(observations, lengths)
    except (CovarianceCollapseError, FloatingPointError) as error:
        print(f"{parser.prog}: fit failed: {error}", file=sys.stderr)
        return 1
    result = summary(model, config, lengths)
    print(json.dumps(result) if config.json else format_summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

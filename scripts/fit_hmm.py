"""Fit a hidden Markov model to sequences in a .npy file by gradient ascent on the log-likelihood.

All restarts ascend the exact mean log-likelihood per observation together (the forward algorithm
in log space, one batch over restarts and sequences; by default mirror ascent, whose unit step is
Baum-Welch's, accelerated; --optimizer nadam for NAdam steps); the best one is printed.

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
from dataclasses import dataclass
from typing import Literal

import torch
from harness.likelihood_cli import AscentOptions, describe_fit, fit_and_summarize, load_npy

from ascentrl.applications import CategoricalHMM, GaussianHMM
from ascentrl.applications.data import as_lengths, as_observations, as_symbols
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail


@dataclass
class HmmOptions:
    """The data and the model."""

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

    def __post_init__(self) -> None:
        if self.states < 1:
            raise ValueError(f"--states must be a positive integer (required), got {self.states!r}")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser.add_argument_group("model"), HmmOptions)
    add_config_arguments(parser.add_argument_group("ascent"), AscentOptions)
    return parser


def load_inputs(hmm: HmmOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """The validated observations and lengths, or a ``ValueError`` naming the option."""
    array = load_npy("--data", hmm.data)
    try:
        if hmm.emissions == "categorical":
            observations = as_symbols(array, minimum_rows=hmm.states)
        else:
            observations = as_observations(array, torch.float64, minimum_rows=hmm.states, what="observations",
                                           per="state")
    except ValueError as error:
        raise ValueError(f"--data {hmm.data}: {error}") from None
    lengths = None if hmm.lengths is None else load_npy("--lengths", hmm.lengths)
    try:
        return observations, as_lengths(lengths, observations.shape[0])
    except ValueError as error:
        raise ValueError(f"--lengths {hmm.lengths}: {error}") from None


def format_summary(result: dict) -> str:
    lines = [f"mean log-likelihood per observation: {result['mean_log_likelihood']:.6f}  "
             f"({result['n_observations']} observations in {result['n_sequences']} sequences, "
             f"{result['states']} states, {result['emissions']} emissions)",
             *describe_fit(result, "state"),
             "start probabilities: [" + ", ".join(f"{p:.4f}" for p in result["start_probabilities"]) + "]",
             "transition matrix:"]
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
        hmm = config_from_args(HmmOptions, arguments)
        options = config_from_args(AscentOptions, arguments)
        observations, lengths = load_inputs(hmm)
        model = (CategoricalHMM(hmm.states, **options.model_options()) if hmm.emissions == "categorical"
                 else GaussianHMM(hmm.states, covariance_type=hmm.covariance_type, **options.model_options()))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    fitted = fit_and_summarize(parser.prog, lambda: model.fit(observations, lengths), options)
    if fitted is None:
        return 1
    model, common = fitted
    emission = ({"emission_probabilities": model.emission_probabilities_.tolist()}
                if hmm.emissions == "categorical"
                else {"means": model.means_.tolist(), "covariances": model.covariances_.tolist()})
    result = {"n_observations": int(lengths.sum()), "n_sequences": len(lengths), "states": hmm.states,
              "emissions": hmm.emissions,
              "covariance_type": hmm.covariance_type if hmm.emissions == "gaussian" else None,
              "start_probabilities": model.start_probabilities_.tolist(),
              "transition_matrix": model.transition_matrix_.tolist(), **emission, **common}
    print(json.dumps(result) if options.json else format_summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

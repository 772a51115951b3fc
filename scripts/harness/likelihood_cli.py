"""What ``scripts/fit_mixture.py`` and ``scripts/fit_hmm.py`` share: ascent options, ``.npy`` input, the fit.

* :class:`AscentOptions` — the options of the ascent (restarts, steps, learning rate, ...), one
  command-line group in both scripts.
* :func:`load_npy` — ``np.load`` with ``allow_pickle=False`` (a file cannot run code); every problem
  is a ``ValueError`` starting with the option and the path, so the script prints it as its one line.
* :func:`fit_and_summarize` — fit, and turn a numerical failure (a collapsed covariance) into one
  line on stderr and exit code 1; otherwise the JSON fields every fit reports.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ascentrl.applications import CovarianceCollapseError

__all__ = ["AscentOptions", "describe_fit", "fit_and_summarize", "load_npy"]


@dataclass
class AscentOptions:
    """How the likelihood is ascended."""

    restarts: int = 10
    """Starts fitted together in one batch; the best is kept."""
    optimizer: Literal["mirror", "nadam"] = "mirror"
    """Full batch: mirror ascent (EM's step, accelerated) or NAdam; minibatches always take NAdam steps."""
    steps: int = 2000
    """Most ascent steps."""
    lr: float = 0.1
    """NAdam learning rate (on standardized data; mirror ascent has none)."""
    tol: float = 1e-10
    """Stop when every restart's mean log-likelihood stayed within a band this wide over 10 NAdam steps
    (mirror ascent: rose by at most this in an iteration)."""
    batch_size: int | None = None
    """Points or sequences per step (minibatch ascent for --steps steps); none for full batch."""
    seed: int = 0
    """Seed of the starts and the minibatches."""
    threads: int = 1
    """torch threads."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        for name in ("restarts", "steps", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"--batch-size must be a positive integer or none, got {self.batch_size!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        if not (math.isfinite(self.tol) and self.tol >= 0):
            raise ValueError(f"--tol must be a finite number >= 0, got {self.tol!r}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed!r}")

    def model_options(self) -> dict[str, Any]:
        """Keyword arguments of the model classes."""
        return dict(n_restarts=self.restarts, optimizer=self.optimizer, max_steps=self.steps, lr=self.lr, tol=self.tol,
                    batch_size=self.batch_size, seed=self.seed)


def fit_and_summarize(prog: str, fit: Callable[[], Any], options: AscentOptions) -> tuple[Any, dict] | None:
    """Run ``fit()``; on a collapse print one line and return ``None``, else the model and the JSON
    fields every fit reports."""
    torch.set_num_threads(options.threads)
    try:
        model = fit()
    except (CovarianceCollapseError, FloatingPointError) as error:
        print(f"{prog}: fit failed: {error}", file=sys.stderr)
        return None
    return model, {
        "mean_log_likelihood": model.log_likelihood_,
        "restart_mean_log_likelihoods": [value if math.isfinite(value) else None
                                         for value in model.restart_log_likelihoods_.tolist()],
        "best_restart": model.best_restart_,
        "steps": model.n_steps_,
        "converged": model.converged_,
        "collapsed_restarts": [vars(collapse) for collapse in model.collapses_],
        "seed": options.seed,
    }


def describe_fit(result: dict, what: str) -> list[str]:
    """The text lines every fit prints about its restarts (``what``: ``component`` or ``state``)."""
    lines = [f"best of {len(result['restart_mean_log_likelihoods'])} restarts: restart {result['best_restart']}; "
             f"{result['steps']} steps, {'converged' if result['converged'] else 'NOT converged (raise --steps)'}"]
    lines.extend(f"restart {collapse['restart']} dropped: {what} {collapse['component']}'s covariance collapsed at "
                 f"step {collapse['step']} ({collapse['detail']})" for collapse in result["collapsed_restarts"])
    return lines


def load_npy(option: str, path: str) -> np.ndarray:
    """The array stored in ``path``, or ``ValueError("--option path: what is wrong")``.

    Args:
        option: the command-line option that named the file, e.g. ``"--data"``.
        path: the file; it must end in ``.npy`` and hold a numeric array (no pickled objects).
    """
    if not path:
        raise ValueError(f"{option} is required: give a .npy file")
    if Path(path).suffix != ".npy":
        raise ValueError(f"{option} {path}: expected a .npy file (numpy.save); got a '{Path(path).suffix}' file")
    if not Path(path).is_file():
        raise ValueError(f"{option} {path}: no such file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{option} {path}: not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number)
                                                 or array.dtype == np.bool_):
        raise ValueError(f"{option} {path}: expected a numeric array, got dtype {getattr(array, 'dtype', '?')}")
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{option} {path}: expected real numbers, got dtype {array.dtype}")
    return array

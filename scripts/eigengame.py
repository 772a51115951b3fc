"""Top-k principal components of a data set by EigenGame: k players, each ascending its own utility.

Player i holds a unit vector and maximizes the variance it captures minus what its parents j < i
already explain in its direction (Gemp et al. 2021); all players step at once on each minibatch,
streaming over --epochs passes of the rows with a cosine-decayed step size. --method oja or gha
runs the baselines (Oja's rule with ordered orthonormalization; Sanger's generalized Hebbian
algorithm) on the same minibatches instead. The result is checked against torch.linalg.eigh of the
data's covariance: the longest streak of leading components within π/8 of the true eigenvectors,
and the subspace distance 1 − tr(U*P)/k (0: the spans agree).

  python scripts/eigengame.py --data X.npy --k 16
  python scripts/eigengame.py --data X.npy --k 8 --method gha --epochs 20 --json

--data is a .npy array of shape (n, d), one sample per row (finite values; columns are centred unless
--no-center). --lr is the step size in units of 1/λ₁, with λ₁ the largest eigenvalue estimated on the
first 1,024 rows, so one value suits data of any scale. --json prints one object with keys method,
k, components (k × d list, unit rows), subspace_distance, streak, eigenvalues (the true top k),
seconds (streaming), eigh_seconds (covariance and eigh) and steps. Exit code 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ascentrl.applications import (
    EigenGame,
    GeneralizedHebbian,
    OjaSubspace,
    fit_streaming,
    largest_eigenvalue,
    longest_streak,
    subspace_distance,
)
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail

METHODS = {"eigengame": EigenGame, "oja": OjaSubspace, "gha": GeneralizedHebbian}


@dataclass
class EigenGameConfig:
    """The data, the number of components and the streaming schedule."""

    data: str | None = None
    """A .npy array of shape (n, d), one sample per row (required)."""
    k: int = 16
    """Number of components (players), 1 <= k <= d."""
    method: str = "eigengame"
    """eigengame, or a baseline: oja or gha."""
    epochs: int = 10
    """Passes over the rows."""
    batch_size: int = 256
    """Rows per minibatch."""
    lr: float = 0.5
    """Step size in units of 1/lambda_1 (the top eigenvalue, estimated on the first 1,024 rows)."""
    center: bool = True
    """Subtract the column means before streaming (PCA of the covariance)."""
    seed: int = 0
    """Seed of the initial vectors and of the order of the rows."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        if self.data is None:
            raise ValueError("--data is required: a .npy file of shape (n, d)")
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}; got {self.method!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed!r}")


def load_data(path: str, k: int) -> np.ndarray:
    """The (n, d) array at ``path``, checked: finite, two-dimensional, with 1 <= k <= d and n >= 2."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"--data {path}: cannot be read as a .npy array ({error})") from None
    if array.ndim != 2:
        raise ValueError(f"--data {path}: expected shape (n, d), one sample per row; got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"--data {path}: expected real numbers, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"--data {path}: holds {int((~np.isfinite(array)).sum())} NaN or infinite values")
    n, d = array.shape
    if n < 2:
        raise ValueError(f"--data {path}: needs at least 2 rows for a covariance, got {n}")
    if not 1 <= k <= d:
        raise ValueError(f"--k must be in [1, d] = [1, {d}] for this data, got {k}")
    return array


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, EigenGameConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = config_from_args(EigenGameConfig, arguments)
        array = load_data(config.data, config.k)
    except (ValueError, TypeError) as error:
        fail(parser, error)
    torch.set_num_threads(1)  # keep a shared machine usable; the minibatch products are small
    data = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
    if config.center:
        data = data - data.mean(dim=0)

    start = time.perf_counter()
    covariance = data.mT @ data / len(data)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    eigh_seconds = time.perf_counter() - start
    truth = eigenvectors.flip(1)[:, : config.k].mT  # rows, by decreasing eigenvalue

    rows = data.to(torch.float32)
    top = largest_eigenvalue(rows)
    step_size = config.lr / top if top > 0 else config.lr
    method = METHODS[config.method](rows.shape[1], config.k, lr=step_size, seed=config.seed)
    fit = fit_streaming(method, rows, batch_size=config.batch_size, epochs=config.epochs, seed=config.seed)
    estimates = fit.components.to(torch.float64)
    report = {
        "method": config.method,
        "k": config.k,
        "components": estimates.tolist(),
        "subspace_distance": subspace_distance(estimates, truth),
        "streak": longest_streak(estimates, truth),
        "eigenvalues": eigenvalues.flip(0)[: config.k].tolist(),
        "seconds": fit.seconds,
        "eigh_seconds": eigh_seconds,
        "steps": fit.steps,
    }
    if config.json:
        print(json.dumps(report))
        return 0
    n, d = array.shape
    print(f"{config.method}: top {config.k} components of {n} x {d} data, {config.epochs} epochs of minibatches of"
          f" {config.batch_size} ({fit.steps} steps, {fit.seconds:.2f} s; covariance + eigh {eigh_seconds:.2f} s)")
    print(f"  streak {report['streak']}/{config.k} within pi/8 of the true eigenvectors;"
          f" subspace distance 1 - tr(U*P)/k = {report['subspace_distance']:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

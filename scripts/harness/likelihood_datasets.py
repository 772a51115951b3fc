"""The seeded data sets of ``scripts/bench_applications.py``: Gaussian mixtures and hidden Markov models.

Each mixture case names what makes it hard for EM (or not); each HMM case is sampled from known
parameters, so "found the right parameters" can be checked up to a relabelling of the states.
All data come from numpy generators seeded by the case's seed, so a case is the same every run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["HMM_CASES", "MIXTURE_CASES", "HmmCase", "MixtureCase", "sample_hmm"]


@dataclass(frozen=True)
class MixtureCase:
    """Points from a known mixture, and how many components to fit."""

    name: str
    description: str
    x: np.ndarray
    n_components: int
    covariance_type: str


@dataclass(frozen=True)
class HmmCase:
    """Sequences (rows concatenated, hmmlearn's layout) from a known HMM."""

    name: str
    description: str
    x: np.ndarray
    lengths: np.ndarray
    emissions: str  # "gaussian" or "categorical"
    start: np.ndarray
    transition: np.ndarray
    emission_parameters: dict
    covariance_type: str = "full"


def _rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _mixture_points(rng: np.random.Generator, n: int, weights, means, covariances) -> np.ndarray:
    labels = rng.choice(len(weights), size=n, p=np.asarray(weights) / np.sum(weights))
    points = np.empty((n, len(means[0])))
    for k, (mean, covariance) in enumerate(zip(means, covariances)):
        chosen = labels == k
        points[chosen] = rng.multivariate_normal(mean, covariance, size=int(chosen.sum()))
    return points


def _separated() -> MixtureCase:
    rng = np.random.default_rng(101)
    means = [[0, 0], [8, 0], [4, 7]]
    x = _mixture_points(rng, 2000, [0.4, 0.35, 0.25], means, [np.eye(2), np.eye(2) * 1.5, np.diag([2.0, 0.5])])
    return MixtureCase("separated", "3 well-separated 2-D clusters, 2000 points", x, 3, "full")


def _overlapping() -> MixtureCase:
    rng = np.random.default_rng(102)
    means = [[0, 0], [1.5, 0], [0, 1.5], [1.5, 1.5]]
    x = _mixture_points(rng, 2000, [0.25] * 4, means, [np.eye(2) * 0.6] * 4)
    return MixtureCase("overlapping", "4 heavily overlapping 2-D clusters, 2000 points", x, 4, "full")


def _elongated() -> MixtureCase:
    rng = np.random.default_rng(103)
    thin = np.diag([16.0, 0.09])
    covariances = [_rotation(a) @ thin @ _rotation(a).T for a in (0.3, 0.3, -0.9)]
    x = _mixture_points(rng, 2000, [1 / 3] * 3, [[0, 0], [0, 1.5], [3, -3]], covariances)
    return MixtureCase("elongated", "3 long thin rotated 2-D clusters, two of them parallel and close "
                       "(k-means cuts across them), 2000 points", x, 3, "full")


def _unequal_weights() -> MixtureCase:
    rng = np.random.default_rng(104)
    means = [[0, 0, 0], [3, 3, 0], [-2, 4, 2]]
    covariances = [np.eye(3) * 2, np.eye(3) * 0.3, np.eye(3) * 0.2]
    x = _mixture_points(rng, 3000, [0.85, 0.12, 0.03], means, covariances)
    return MixtureCase("unequal_weights", "3 3-D clusters with weights 0.85/0.12/0.03, 3000 points", x, 3, "full")


def _high_dimensional() -> MixtureCase:
    rng = np.random.default_rng(105)
    dimension = 10
    means = rng.normal(0, 2.0, size=(5, dimension))
    covariances = []
    for _ in range(5):
        factor = rng.normal(0, 0.5, size=(dimension, dimension))
        covariances.append(factor @ factor.T + 0.3 * np.eye(dimension))
    x = _mixture_points(rng, 5000, [0.2] * 5, means, covariances)
    return MixtureCase("high_dimensional", "5 correlated 10-D clusters, 5000 points", x, 5, "full")


def _few_points() -> MixtureCase:
    rng = np.random.default_rng(106)
    dimension = 5
    means = rng.normal(0, 1.5, size=(4, dimension))
    x = _mixture_points(rng, 60, [0.25] * 4, means, [np.eye(dimension)] * 4)
    return MixtureCase("few_points", "60 points in 5-D for 4 full-covariance components (20 parameters "
                       "per covariance): EM's covariances tend to degenerate", x, 4, "full")


def _diagonal() -> MixtureCase:
    rng = np.random.default_rng(107)
    means = [[0, 0, 0, 0], [2, 2, 0, 0], [0, 2, 2, 2]]
    covariances = [np.diag([1, 0.3, 0.5, 2]), np.diag([0.4, 1, 1, 0.2]), np.diag([0.8, 0.8, 0.3, 0.5])]
    x = _mixture_points(rng, 3000, [0.3, 0.3, 0.4], means, covariances)
    return MixtureCase("diagonal", "3 axis-aligned 4-D clusters, diagonal covariances, 3000 points", x, 3, "diag")


MIXTURE_CASES: dict[str, Callable[[], MixtureCase]] = {
    "separated": _separated,
    "overlapping": _overlapping,
    "elongated": _elongated,
    "unequal_weights": _unequal_weights,
    "high_dimensional": _high_dimensional,
    "few_points": _few_points,
    "diagonal": _diagonal,
}


def sample_hmm(rng: np.random.Generator, lengths, start, transition, emit: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of the given lengths from a Markov chain; ``emit(rng, states)`` draws the observations."""
    states = []
    for length in lengths:
        path = np.empty(length, dtype=np.int64)
        path[0] = rng.choice(len(start), p=start)
        for t in range(1, length):
            path[t] = rng.choice(len(start), p=transition[path[t - 1]])
        states.append(path)
    states = np.concatenate(states)
    return emit(rng, states), states


def _gaussian_emitter(means, covariances) -> Callable:
    def emit(rng: np.random.Generator, states: np.ndarray) -> np.ndarray:
        points = np.empty((len(states), len(means[0])))
        for k in range(len(means)):
            chosen = states == k
            points[chosen] = rng.multivariate_normal(means[k], covariances[k], size=int(chosen.sum()))
        return points
    return emit


def _two_state() -> HmmCase:
    rng = np.random.default_rng(201)
    start, transition = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]])
    means, covariances = np.array([[0.0], [1.5]]), np.array([[[1.0]], [[0.5]]])
    lengths = np.full(20, 100)
    x, _ = sample_hmm(rng, lengths, start, transition, _gaussian_emitter(means, covariances))
    return HmmCase("two_state_gaussian", "2 states, 1-D overlapping Gaussians (means 0 and 1.5), 20 x 100 steps",
                   x, lengths, "gaussian", start, transition, {"means": means, "covariances": covariances})


def _three_state() -> HmmCase:
    rng = np.random.default_rng(202)
    start = np.array([0.6, 0.3, 0.1])
    transition = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.3, 0.3, 0.4]])
    means = np.array([[0.0, 0.0], [3.0, -3.0], [5.0, 10.0]])
    covariances = np.array([np.eye(2), [[1.0, 0.6], [0.6, 1.0]], np.diag([2.0, 0.5])])
    lengths = np.array([2000])
    x, _ = sample_hmm(rng, lengths, start, transition, _gaussian_emitter(means, covariances))
    return HmmCase("three_state_gaussian", "3 states, 2-D full covariances, one sequence of 2000 steps",
                   x, lengths, "gaussian", start, transition, {"means": means, "covariances": covariances})


def _varying_lengths() -> HmmCase:
    rng = np.random.default_rng(203)
    start = np.array([1 / 3] * 3)
    transition = np.array([[0.85, 0.1, 0.05], [0.05, 0.85, 0.1], [0.1, 0.05, 0.85]])
    means = np.array([[0.0, 0.0], [1.5, 1.0], [-1.0, 2.0]])
    covariances = np.array([np.diag([0.5, 0.8]), np.diag([0.7, 0.4]), np.diag([0.6, 0.6])])
    lengths = rng.integers(20, 201, size=40)
    x, _ = sample_hmm(rng, lengths, start, transition, _gaussian_emitter(means, covariances))
    return HmmCase("varying_lengths", "3 sticky states, 2-D diagonal overlapping Gaussians, 40 sequences of "
                   "20-200 steps", x, lengths, "gaussian", start, transition,
                   {"means": means, "covariances": covariances}, covariance_type="diag")


def _absorbing_bernoulli() -> HmmCase:
    # hmmlearn issue #162: Baum-Welch learned these parameters "roughly correctly ... about half" the time.
    rng = np.random.default_rng(204)
    start, transition = np.array([0.7, 0.3]), np.array([[0.9, 0.1], [0.0, 1.0]])
    emission = np.array([[0.75, 0.25], [0.05, 0.95]])
    lengths = np.full(100, 20)

    def emit(generator: np.random.Generator, states: np.ndarray) -> np.ndarray:
        return (generator.random(len(states)) < emission[states, 1]).astype(np.int64).reshape(-1, 1)

    x, _ = sample_hmm(rng, lengths, start, transition, emit)
    return HmmCase("absorbing_bernoulli", "hmmlearn issue #162: 2 states, one absorbing, Bernoulli emissions, "
                   "100 x 20 steps", x, lengths, "categorical", start, transition, {"emission": emission})


HMM_CASES: dict[str, Callable[[], HmmCase]] = {
    "two_state_gaussian": _two_state,
    "three_state_gaussian": _three_state,
    "varying_lengths": _varying_lengths,
    "absorbing_bernoulli": _absorbing_bernoulli,
}

"""Ascent against EM on the same data in the same run: Gaussian mixtures (scikit-learn) and HMMs (hmmlearn).

For every case of :mod:`harness.likelihood_datasets` and every seed, both methods fit the same data
with the same number of starts:

* ours: one :class:`~ascentrl.applications.GaussianMixture` / ``GaussianHMM`` / ``CategoricalHMM``
  fit with ``n_restarts = R`` (the restarts batched in one tensor), seeded by the seed;
* EM: ``R`` fits of scikit-learn's ``GaussianMixture(n_init=1)`` (k-means start, its defaults:
  ``tol=1e-3``, ``max_iter=100``, ``reg_covar=1e-6``) or of hmmlearn's ``GaussianHMM`` /
  ``CategoricalHMM`` (k-means/random start, ``tol=1e-2`` on the total log-likelihood, ``n_iter=1000``),
  seeded ``R·seed + i`` — what ``n_init=R`` does, one start at a time so each start's result is seen.

Every final model is scored by one formula for both (numpy for mixtures, hmmlearn's forward
algorithm for HMMs), as the mean log-likelihood per observation. A start is *stuck* when it ends
more than ``STUCK_GAP`` below the best value any run of either method found on that case; a
best-of-R result is *stuck* likewise. For HMMs sampled from known parameters, a best-of-R model has
*the right parameters* when, after the best relabelling of its states, every transition and
emission probability is within ``harness.hmm_benchmark.RIGHT_TOLERANCE`` of the truth and every Gaussian mean within
``RIGHT_MEAN_TOLERANCE`` (same module) standard deviations of the data (the sampling error of the maximum-likelihood
estimate itself is up to ~0.12 on these cases). For mixtures, EM's wins are also counted at its
regularization floor (``FLOOR_FACTOR``), where ours reports a collapse instead, and EM's best fit off
that floor is compared with ours.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from ascentrl.applications import CovarianceCollapseError, GaussianMixture
from harness.likelihood_datasets import MixtureCase

__all__ = ["FLOOR_FACTOR", "STUCK_GAP", "run_mixture_case", "summarize", "torch_threads"]

STUCK_GAP = 1e-3
FLOOR_FACTOR = 10.0
"""An EM fit is *at the regularization floor* when some covariance has an eigenvalue at most this times
scikit-learn's ``reg_covar``: a component shrunk onto too few points to span the space, whose
likelihood is unbounded and held finite only by the ``reg_covar`` added to its diagonal."""


def mixture_log_likelihood(x: np.ndarray, weights, means, covariances, covariance_type: str) -> float:
    """Mean log-likelihood per point of a Gaussian mixture, in numpy (the formula both methods are scored by)."""
    log_joint = []
    for weight, mean, covariance in zip(weights, means, covariances):
        matrix = np.diag(covariance) if covariance_type == "diag" else np.asarray(covariance)
        factor = np.linalg.cholesky(matrix)
        whitened = np.linalg.solve(factor, (x - mean).T)
        log_det = 2 * np.log(np.diag(factor)).sum()
        log_joint.append(np.log(weight) - 0.5 * (x.shape[1] * np.log(2 * np.pi) + log_det
                                                  + np.square(whitened).sum(0)))
    log_joint = np.stack(log_joint, axis=1)
    peak = log_joint.max(1, keepdims=True)
    return float(np.mean(peak[:, 0] + np.log(np.exp(log_joint - peak).sum(1))))


def _smallest_eigenvalue(covariances, covariance_type: str) -> float:
    """Smallest covariance eigenvalue of any component (data units)."""
    if covariance_type == "diag":
        return float(np.min(covariances))
    return float(min(np.linalg.eigvalsh(c).min() for c in covariances))


def _relative_to_data(eigenvalue: float, x: np.ndarray) -> float:
    """A covariance eigenvalue over the data's smallest per-feature variance."""
    return eigenvalue / float(x.var(0).min())


def run_mixture_case(case: MixtureCase, seeds: int, restarts: int, em_options: dict | None = None) -> dict:
    """Both methods on one mixture case for ``seeds`` seeds; see the module docstring.

    ``em_options`` override scikit-learn's defaults (e.g. ``{"tol": 1e-6, "max_iter": 1000}``).
    """
    em_options = em_options or {}
    from sklearn.mixture import GaussianMixture as EMGaussianMixture

    x = case.x
    with warnings.catch_warnings():  # warm-up, untimed: first-call costs would go to whoever is first
        warnings.simplefilter("ignore")
        try:
            GaussianMixture(case.n_components, covariance_type=case.covariance_type, n_restarts=2, max_steps=3).fit(x)
        except CovarianceCollapseError:  # a warm-up all the same; the timed fits report it
            pass
        EMGaussianMixture(case.n_components, covariance_type=case.covariance_type, max_iter=2).fit(x)
    runs = {"ours": [], "em": []}
    for seed in range(seeds):
        start = time.perf_counter()
        try:
            model = GaussianMixture(case.n_components, covariance_type=case.covariance_type, n_restarts=restarts,
                                    seed=seed).fit(x)
            seconds = time.perf_counter() - start
            best = mixture_log_likelihood(x, model.weights_.numpy(), model.means_.numpy(),
                                          model.covariances_.numpy(), case.covariance_type)
            starts = [value for value in model.restart_log_likelihoods_.tolist() if np.isfinite(value)]
            runs["ours"].append({"best": best, "seconds": seconds, "starts": starts,
                                 "collapsed": len(model.collapses_), "steps": model.n_steps_,
                                 "smallest_eigenvalue": _relative_to_data(_smallest_eigenvalue(
                                     model.covariances_.numpy(), case.covariance_type), x)})
        except CovarianceCollapseError as error:
            runs["ours"].append({"best": -np.inf, "seconds": time.perf_counter() - start, "starts": [],
                                 "collapsed": restarts, "steps": error.step, "smallest_eigenvalue": 0.0})
        start = time.perf_counter()
        fits = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EM's ConvergenceWarning when max_iter runs out
            for index in range(restarts):
                fits.append(EMGaussianMixture(case.n_components, covariance_type=case.covariance_type, n_init=1,
                                              random_state=restarts * seed + index, **em_options).fit(x))
        seconds = time.perf_counter() - start
        values = [mixture_log_likelihood(x, fit.weights_, fit.means_, fit.covariances_, case.covariance_type)
                  for fit in fits]
        smallest = [_smallest_eigenvalue(fit.covariances_, case.covariance_type) for fit in fits]
        chosen = int(np.argmax(values))
        floor = FLOOR_FACTOR * em_options.get("reg_covar", 1e-6)  # scikit-learn's default reg_covar
        runs["em"].append({"best": max(values), "seconds": seconds, "starts": values, "collapsed": 0,
                           "steps": int(np.median([fit.n_iter_ for fit in fits])),
                           "smallest_eigenvalue": _relative_to_data(smallest[chosen], x),
                           "at_floor": smallest[chosen] <= floor,
                           "best_regular": max((value for value, least in zip(values, smallest) if least > floor),
                                               default=-np.inf)})
    return summarize(case.name, case.description, runs)


def summarize(name: str, description: str, runs: dict) -> dict:
    """Per-method medians, worst cases and stuck rates, and the per-seed comparison."""
    everything = [value for method in runs.values() for run in method for value in [run["best"], *run["starts"]]]
    reference = max(everything)
    summary = {"case": name, "description": description, "best_known": reference, "seeds": len(runs["ours"])}
    for method, method_runs in runs.items():
        best = np.array([run["best"] for run in method_runs])
        starts = np.array([value for run in method_runs for value in run["starts"]])
        summary[method] = {
            "median_best": float(np.median(best)),
            "worst_best": float(best.min()),
            "median_seconds": float(np.median([run["seconds"] for run in method_runs])),
            "median_steps": float(np.median([run["steps"] for run in method_runs])),
            "stuck_starts": float(np.mean(starts < reference - STUCK_GAP)) if len(starts) else None,
            "stuck_best_of_restarts": float(np.mean(best < reference - STUCK_GAP)),
            "collapsed_starts": int(sum(run["collapsed"] for run in method_runs)),
        }
        if "right" in method_runs[0]:
            summary[method]["right_parameters"] = float(np.mean([run["right"] for run in method_runs]))
        if "smallest_eigenvalue" in method_runs[0]:
            summary[method]["smallest_relative_eigenvalue"] = float(min(run["smallest_eigenvalue"]
                                                                      for run in method_runs))
    differences = np.array([ours["best"] - em["best"] for ours, em in zip(runs["ours"], runs["em"])])
    summary["seeds_ours_at_least_em"] = int(np.sum(differences >= 0))
    if "smallest_eigenvalue" in runs["em"][0]:  # are EM's wins made of near-singular covariances?
        ahead = [em["smallest_eigenvalue"] for ours, em in zip(runs["ours"], runs["em"]) if em["best"] > ours["best"]]
        summary["em_ahead_median_smallest_relative_eigenvalue"] = float(np.median(ahead)) if ahead else None
    if "at_floor" in runs["em"][0]:  # ... and held up only by reg_covar?
        summary["em_ahead_at_floor"] = sum(em["at_floor"] for ours, em in zip(runs["ours"], runs["em"])
                                           if em["best"] > ours["best"])
        summary["seeds_ours_at_least_em_regular"] = sum(ours["best"] >= em["best_regular"]
                                                        for ours, em in zip(runs["ours"], runs["em"]))
    summary["worst_difference"] = float(differences.min())
    summary["time_ratio"] = summary["ours"]["median_seconds"] / summary["em"]["median_seconds"]
    return summary


def torch_threads(threads: int) -> None:
    """One thread count for torch and for the BLAS/OpenMP pools numpy and scikit-learn use."""
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads)

"""The HMM section of ``scripts/bench_applications.py``: ascentrl's Gaussian and categorical HMMs
against hmmlearn's Baum-Welch on the same sequences, scored by one formula (the forward algorithm
of ascentrl's model given each method's parameters), with whether each found the right parameters."""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np

from ascentrl.applications import CategoricalHMM, GaussianHMM
from harness.likelihood_benchmark import summarize
from harness.likelihood_datasets import HmmCase

__all__ = ["run_hmm_case"]

RIGHT_TOLERANCE = 0.1
RIGHT_MEAN_TOLERANCE = 0.25


def _hmmlearn_model(case: HmmCase, n_states: int, **options):
    from hmmlearn import hmm

    if case.emissions == "categorical":
        return hmm.CategoricalHMM(n_states, **options)
    return hmm.GaussianHMM(n_states, covariance_type=case.covariance_type, **options)


def _hmm_score(case: HmmCase, start, transition, emission: dict) -> float:
    """Mean log-likelihood per observation by hmmlearn's forward algorithm."""
    peer = _hmmlearn_model(case, len(start), init_params="", params="")
    peer.startprob_, peer.transmat_ = np.asarray(start), np.asarray(transition)
    if case.emissions == "categorical":
        peer.emissionprob_ = np.asarray(emission["emission"])
    else:
        peer.means_ = np.asarray(emission["means"])
        peer.covars_ = np.asarray(emission["covariances"])
    return float(peer.score(case.x, case.lengths)) / len(case.x)


def _right_parameters(case: HmmCase, start, transition, emission: dict) -> bool:
    if case.emissions == "categorical":
        truth, estimate = case.emission_parameters["emission"], np.asarray(emission["emission"])
        tolerance = RIGHT_TOLERANCE
    else:
        truth, estimate = case.emission_parameters["means"], np.asarray(emission["means"])
        tolerance = RIGHT_MEAN_TOLERANCE * case.x.std(0)
    for order in itertools.permutations(range(len(case.start))):
        order = list(order)
        transition_gap = np.abs(np.asarray(transition)[np.ix_(order, order)] - case.transition).max()
        if transition_gap <= RIGHT_TOLERANCE and np.all(np.abs(estimate[order] - truth) <= tolerance):
            return True
    return False


def run_hmm_case(case: HmmCase, seeds: int, restarts: int, em_options: dict | None = None) -> dict:
    """Both methods on one HMM case for ``seeds`` seeds; see the module docstring.

    ``em_options`` override the hmmlearn settings (``n_iter=1000`` and hmmlearn's defaults).
    """
    em_options = {"n_iter": 1000, **(em_options or {})}
    n_states = len(case.start)
    model_class = CategoricalHMM if case.emissions == "categorical" else GaussianHMM
    options = {} if case.emissions == "categorical" else {"covariance_type": case.covariance_type}
    with warnings.catch_warnings():  # warm-up, untimed (see run_mixture_case)
        warnings.simplefilter("ignore")
        model_class(n_states, n_restarts=2, max_steps=3, **options).fit(case.x, case.lengths)
        _hmmlearn_model(case, n_states, n_iter=2).fit(case.x, case.lengths)
    runs = {"ours": [], "em": []}
    for seed in range(seeds):
        start = time.perf_counter()
        if case.emissions == "categorical":
            model = CategoricalHMM(n_states, n_restarts=restarts, seed=seed).fit(case.x, case.lengths)
            emission = {"emission": model.emission_probabilities_.numpy()}
        else:
            model = GaussianHMM(n_states, covariance_type=case.covariance_type, n_restarts=restarts,
                                seed=seed).fit(case.x, case.lengths)
            emission = {"means": model.means_.numpy(), "covariances": model.covariances_.numpy()}
        seconds = time.perf_counter() - start
        chain = (model.start_probabilities_.numpy(), model.transition_matrix_.numpy())
        runs["ours"].append({
            "best": _hmm_score(case, *chain, emission), "seconds": seconds, "collapsed": len(model.collapses_),
            "starts": [value for value in model.restart_log_likelihoods_.tolist() if np.isfinite(value)],
            "steps": model.n_steps_, "right": _right_parameters(case, *chain, emission)})
        start = time.perf_counter()
        fits = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for index in range(restarts):
                fits.append(_hmmlearn_model(case, n_states, random_state=restarts * seed + index, **em_options)
                            .fit(case.x, case.lengths))
        seconds = time.perf_counter() - start
        values = [float(fit.score(case.x, case.lengths)) / len(case.x) for fit in fits]
        chosen = fits[int(np.argmax(values))]
        emission = ({"emission": chosen.emissionprob_} if case.emissions == "categorical"
                    else {"means": chosen.means_, "covariances": chosen.covars_})
        runs["em"].append({"best": max(values), "seconds": seconds, "starts": values, "collapsed": 0,
                           "steps": int(np.median([fit.monitor_.iter for fit in fits])),
                           "right": _right_parameters(case, chosen.startprob_, chosen.transmat_, emission)})
    return summarize(case.name, case.description, runs)

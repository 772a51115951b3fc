"""scripts/bench_applications.py and its harness: a smoke run of each section, the scoring formula, bad options.

Truths used: scipy's mixture log-likelihood for the numpy formula both methods are scored by, and
the JSON contract (every section reports both methods, per-seed comparisons and the targets).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from harness.likelihood_benchmark import FLOOR_FACTOR, mixture_log_likelihood, run_mixture_case
from harness.likelihood_datasets import MixtureCase
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SklearnMixture

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_applications.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_applications_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = load_script()


@pytest.fixture(autouse=True)
def restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_the_scoring_formula_is_the_mixture_log_likelihood():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    weights, means = np.array([0.3, 0.7]), rng.normal(size=(2, 2))
    covariances = np.array([[[1.0, 0.2], [0.2, 0.5]], [[2.0, -0.3], [-0.3, 1.0]]])
    expected = logsumexp(np.stack([np.log(w) + multivariate_normal(m, c).logpdf(x)
                                   for w, m, c in zip(weights, means, covariances)], axis=1), axis=1).mean()
    assert mixture_log_likelihood(x, weights, means, covariances, "full") == pytest.approx(expected, abs=1e-12)
    variances = np.diagonal(covariances, axis1=1, axis2=2)
    expected = logsumexp(np.stack([np.log(w) + multivariate_normal(m, np.diag(v)).logpdf(x)
                                   for w, m, v in zip(weights, means, variances)], axis=1), axis=1).mean()
    assert mixture_log_likelihood(x, weights, means, variances, "diag") == pytest.approx(expected, abs=1e-12)


def test_a_small_run_of_both_sections(capsys):
    assert bench.main(["--sections", "mixture", "hmm", "--seeds", "1", "--restarts", "2",
                       "--mixture-cases", "separated", "--hmm-cases", "two_state_gaussian", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["targets"]) == {"mixture_likelihood_at_least_em", "mixture_time_at_most_em",
                                      "hmm_likelihood_at_least_em", "hmm_time_at_most_em"}
    for section, case in (("mixture", "separated"), ("hmm", "two_state_gaussian")):
        (result,) = report["results"][section]
        assert result["case"] == case and result["seeds"] == 1
        for method in ("ours", "em"):
            assert result[method]["median_best"] <= result["best_known"] + 1e-12
            assert 0 <= result[method]["stuck_best_of_restarts"] <= 1
        assert result["worst_difference"] == pytest.approx(result["ours"]["median_best"] - result["em"]["median_best"])
    assert report["results"]["hmm"][0]["ours"]["right_parameters"] == 1.0


def test_em_fits_held_up_by_reg_covar_are_counted_at_the_floor():
    """Two points far from forty others in 3-D form their own cluster: EM's component on them has a
    rank-1 sample covariance, so its other eigenvalues are scikit-learn's reg_covar; ours reports
    the collapse."""
    rng = np.random.default_rng(0)
    pair = np.array([[8.0, 8.0, 8.0], [9.0, 9.5, 8.5]])
    x = np.concatenate([rng.normal(size=(40, 3)), pair])
    case = MixtureCase("pair", "40 points and a pair far away", x, 2, "full")
    result = run_mixture_case(case, seeds=1, restarts=2)
    fit = SklearnMixture(2, random_state=0).fit(x)
    assert min(np.linalg.eigvalsh(c).min() for c in fit.covariances_) <= FLOOR_FACTOR * 1e-6  # the premise
    assert result["ours"]["collapsed_starts"] == 2 and result["seeds_ours_at_least_em"] == 0
    assert result["em_ahead_at_floor"] == 1
    assert result["seeds_ours_at_least_em_regular"] == 1  # no EM fit off the floor: nothing to beat


@pytest.mark.parametrize(("arguments", "message"), [
    (["--sections", "gan"], "--sections must be some of mixture, hmm"),
    (["--mixture-cases", "spiral"], "--mixture-cases must be some of"),
    (["--seeds", "0"], "--seeds must be a positive integer"),
])
def test_bad_options_are_one_line_and_exit_code_2(capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]

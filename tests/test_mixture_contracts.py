"""GaussianMixture's contracts beyond the fit itself: documented defaults, dtypes, known-parameter
models, argument names in refusals, and the collapse watch on every path (mirror, NAdam, minibatch).

Truths used: the signature's documented defaults, numpy's moments (a one-component mixture's maximum
likelihood is the sample mean and the population covariance), scipy.stats log-densities, the
threshold on ``tr Σ⁻¹`` computed from the clusters' own eigenvalues in numpy, and the
standardization Jacobian ``−Σ_d log σ_d``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from ascentrl.applications import CovarianceCollapseError, GaussianMixture, mixture_log_likelihood
from ascentrl.applications.gaussian import GaussianParameters, natural_coefficients, sufficient_statistics

WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0], [4.0, 0.5], [1.0, 4.0]])
COVARIANCES = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 0.8]], [[1.5, -0.4], [-0.4, 0.4]]])


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def scipy_log_likelihoods(x: np.ndarray, weights, means, covariances) -> np.ndarray:
    log_joint = [np.log(w) + np.atleast_1d(multivariate_normal(m, c).logpdf(x))
                 for w, m, c in zip(weights, means, covariances)]
    return logsumexp(np.stack(log_joint, axis=1), axis=1)


def triangle_of_clusters(seed: int = 0) -> np.ndarray:
    """Three round clusters (σ = 0.5) on an equilateral triangle of side 10: in standardized units
    each has both variances ≈ 0.014, so ``tr Σ⁻¹`` ≈ 130–150 while no single variance is below 0.01."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0 * np.sqrt(3)]])
    return np.concatenate([rng.normal(centre, 0.5, size=(300, 2)) for centre in centres])


def test_documented_defaults():
    model = GaussianMixture(2)
    settings = model.settings
    assert (model.covariance_type, model.seed, model.dtype) == ("full", 0, torch.float64)
    assert (settings.n_restarts, settings.optimizer, settings.max_steps, settings.lr, settings.tol,
            settings.batch_size, settings.min_variance, settings.on_collapse) == (10, "mirror", 2000, 0.1, 1e-10,
                                                                                   None, 1e-8, "drop")


@pytest.mark.parametrize("seed", [-1, True, 1.5, "0"])
def test_a_seed_that_is_not_a_non_negative_integer_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        GaussianMixture(2, seed=seed)


def test_refusals_name_the_argument():
    model = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES)
    with pytest.raises(ValueError, match=r"shape \(n_points, n_features\)"):
        GaussianMixture(2).fit(np.zeros(5))
    with pytest.raises(ValueError, match=r"shape \(n_points, n_features\)"):
        model.score(np.zeros(2))
    with pytest.raises(ValueError, match="data has 2 points, fewer than the 3 needed"):
        GaussianMixture(3).fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="n_samples must be a positive integer, got 0"):
        model.sample(0)


def test_one_point_can_be_scored():
    model = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES)
    point = np.array([[0.5, -1.0]])
    expected = scipy_log_likelihoods(point, WEIGHTS, MEANS, COVARIANCES)
    assert model.score_samples(point).numpy() == pytest.approx(expected, abs=1e-12)


def test_from_parameters_normalizes_the_weights_and_keeps_the_dtype_and_covariance_type():
    x = np.random.default_rng(3).normal(size=(50, 2)) * 2
    model = GaussianMixture.from_parameters(4 * WEIGHTS, MEANS, COVARIANCES)
    assert model.weights_.numpy() == pytest.approx(WEIGHTS, abs=1e-15)
    assert model.settings == GaussianMixture(3).settings  # a refit uses a new model's defaults
    assert model.score_samples(x).numpy() == pytest.approx(scipy_log_likelihoods(x, WEIGHTS, MEANS, COVARIANCES),
                                                           abs=1e-10)
    single = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES, dtype=torch.float32)
    for value in (single.weights_, single.means_, single.covariances_, single.score_samples(x)):
        assert value.dtype == torch.float32
    assert single.score_samples(x).double().numpy() == pytest.approx(model.score_samples(x).numpy(), abs=1e-4)
    variances = np.diagonal(COVARIANCES, axis1=1, axis2=2).copy()
    diagonal = GaussianMixture.from_parameters(WEIGHTS, MEANS, variances, covariance_type="diag")
    assert diagonal.covariance_type == "diag"
    matrices = np.stack([np.diag(v) for v in variances])
    assert diagonal.score_samples(x).numpy() == pytest.approx(scipy_log_likelihoods(x, WEIGHTS, MEANS, matrices),
                                                              abs=1e-10)


@pytest.mark.parametrize("weights", [[0.5, 0.5, 0.0], [0.5, 0.6, -0.1], [[0.5, 0.3, 0.2]]])
def test_from_parameters_refuses_weights_that_are_not_positive_numbers_in_one_row(weights):
    with pytest.raises(ValueError, match="weights must be a 1-D tensor of positive numbers"):
        GaussianMixture.from_parameters(weights, MEANS, COVARIANCES)


def test_sampling_defaults_to_seed_zero():
    model = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES)
    points, labels = model.sample(200)
    seeded, seeded_labels = model.sample(200, seed=0)
    assert torch.equal(points, seeded) and torch.equal(labels, seeded_labels)


def test_a_float32_fit_is_float32_throughout_and_agrees_with_float64():
    x = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES).sample(1500, seed=4)[0].numpy()
    double = GaussianMixture(3, n_restarts=2).fit(x)
    single = GaussianMixture(3, n_restarts=2, dtype=torch.float32).fit(x)
    for value in (single.weights_, single.means_, single.covariances_, single.restart_log_likelihoods_):
        assert value.dtype == torch.float32
    assert single.log_likelihood_ == pytest.approx(double.log_likelihood_, abs=1e-4)


def test_one_component_with_a_far_outlier_is_the_gaussian_maximum_likelihood():
    # The outlier sits ~1,000 log-units below the other points: a log-sum-exp that subtracted one
    # peak for all points instead of each point's own would underflow it to log 0 = -inf.
    x = np.concatenate([np.random.default_rng(5).normal(size=(2000, 2)), [[1000.0, 0.0]]])
    mean, covariance = x.mean(0), np.cov(x.T, bias=True)
    expected = multivariate_normal(mean, covariance).logpdf(x)
    assert expected.min() < expected.max() - 900
    exact = GaussianMixture(1, n_restarts=1).fit(x)  # mirror ascent: EM's step, exact at once for K = 1
    assert exact.means_.numpy()[0] == pytest.approx(mean, abs=1e-9)
    assert exact.covariances_.numpy()[0] == pytest.approx(covariance, rel=1e-9, abs=1e-9)
    assert exact.log_likelihood_ == pytest.approx(expected.mean(), abs=1e-10)
    climbed = GaussianMixture(1, n_restarts=1, optimizer="nadam").fit(x)
    assert climbed.log_likelihood_ == pytest.approx(expected.mean(), abs=1e-7)


def test_the_objective_keeps_each_points_own_peak():
    # two mixtures, three points of which one is ~5,000 log-units below the others under both
    points = torch.tensor([[0.0, 0.0], [0.3, -0.2], [100.0, 0.0]], dtype=torch.float64)
    statistics = sufficient_statistics(points, "full")
    coefficients = []
    for scale in (1.0, 2.0):
        means = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]], dtype=torch.float64) * scale
        eta = natural_coefficients(GaussianParameters(means, torch.zeros(1, 2, 2, dtype=torch.float64),
                                                      torch.zeros(1, 2, 1, dtype=torch.float64)))[0]
        coefficients.append(torch.cat([eta[:, :-1], (eta[:, -1] + np.log(0.5)).unsqueeze(-1)], -1))
    ours = mixture_log_likelihood(statistics, torch.stack(coefficients)).numpy()
    for value, scale in zip(ours, (1.0, 2.0)):
        means = np.array([[0.0, 0.0], [1.0, 0.0]]) * scale
        expected = scipy_log_likelihoods(points.numpy(), [0.5, 0.5], means, [np.eye(2)] * 2)
        assert expected.min() < -4000
        assert value == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.parametrize("optimizer", ["mirror", "nadam"])
def test_a_component_is_dropped_when_tr_inverse_covariance_passes_one_over_min_variance(optimizer):
    x = triangle_of_clusters()
    z = (x - x.mean(0)) / x.std(0)
    traces = [np.sum(1 / np.linalg.eigvalsh(np.cov(cluster.T, bias=True))) for cluster in np.split(z, 3)]
    smallest = min(np.linalg.eigvalsh(np.cov(cluster.T, bias=True))[0] for cluster in np.split(z, 3))
    assert min(traces) > 1 / 0.01 and smallest > 0.01 and max(traces) < 1 / 0.005
    with pytest.raises(CovarianceCollapseError, match=r"every restart collapsed.*component \d collapsed at step "
                                                      r"\d+ \(tr Σ⁻¹ = \d+ > 1/min_variance = 100 "):
        GaussianMixture(3, n_restarts=2, optimizer=optimizer, min_variance=0.01).fit(x)
    model = GaussianMixture(3, n_restarts=2, optimizer=optimizer, min_variance=0.005).fit(x)
    assert not model.collapses_ and model.converged_


def test_a_stalled_collapse_is_caught_at_the_end_from_the_points_a_component_explains():
    # 40 points exactly on a diagonal segment: a full Gaussian on them has a zero variance across the
    # segment (unbounded likelihood); a diagonal one sees variances 0.35 along both axes (bounded).
    blob = np.random.default_rng(6).normal(size=(300, 2))
    segment = 12 + np.repeat(np.linspace(-1, 1, 40)[:, None], 2, axis=1)
    x = np.concatenate([blob, segment])
    with pytest.raises(CovarianceCollapseError, match=r"component 1 collapsed at step 300 \(the points it explains "
                                                      r"have variance -?\d.*< min_variance = 1e-08"):
        GaussianMixture(2, n_restarts=2, optimizer="nadam", max_steps=300).fit(x)
    diagonal = GaussianMixture(2, covariance_type="diag", n_restarts=2, optimizer="nadam", max_steps=300).fit(x)
    assert not diagonal.collapses_
    assert diagonal.means_.numpy()[np.argmax(diagonal.means_.numpy()[:, 0])] == pytest.approx([12.0, 12.0], abs=1e-3)


def test_a_minibatch_of_one_point_is_scored_on_that_point_and_an_epoch_visits_every_point():
    # lr so small that no step moves a parameter: every step's objective is the start's log-density
    # of the one point drawn (standardized units, so shifted by the Jacobian −Σ log σ_d).
    x = np.random.default_rng(8).normal(size=(6, 2)) * [1.0, 3.0]
    model = GaussianMixture(1, n_restarts=1, optimizer="nadam", batch_size=1, max_steps=6, lr=1e-300).fit(x)
    log_jacobian = -np.log(x.std(0)).sum()
    drawn = np.sort(model.history_[:, 0].numpy() + log_jacobian)
    assert drawn == pytest.approx(np.sort(model.score_samples(x).numpy()), abs=1e-12)


def test_a_looser_tol_stops_once_an_iteration_rises_by_at_most_tol():
    x = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES).sample(1000, seed=9)[0].numpy()
    loose = GaussianMixture(3, n_restarts=1, tol=1e-3).fit(x)
    tight = GaussianMixture(3, n_restarts=1).fit(x)
    rises = (loose.history_[1:] - loose.history_[:-1])[:, 0]
    assert loose.converged_ and rises[-1] <= 1e-3 and bool((rises[:-1] > 1e-3).all())
    assert loose.n_steps_ < tight.n_steps_

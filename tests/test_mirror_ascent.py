"""Mirror ascent for mixtures and HMMs: its unit step is EM's update, its acceleration SQUAREM's; it never descends.

Truths used: scikit-learn's EM run for exactly one iteration from the same parameters (public API,
no covariance regularization), the weighted moments computed from the points directly, a linear
fixed-point map whose SQUAREM iterates are known in closed form, every state path of a tiny HMM
enumerated, hmmlearn's Baum-Welch started at our maximum, and the NAdam fits of the same data.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from hmmlearn import hmm as hmmlearn
from sklearn.mixture import GaussianMixture as EMGaussianMixture

from ascentrl.applications import (
    AscentSettings,
    CategoricalHMM,
    GaussianHMM,
    GaussianMixture,
    hmm_inference,
    mixture_unit_step,
)
from ascentrl.applications.fitting import STEP_GROWTH, mirror_ascend_likelihood
from ascentrl.applications.gaussian import (
    covariances,
    moments_from_statistics,
    sufficient_statistics,
    weighted_moments,
)

WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0], [4.0, 0.5], [1.0, 4.0]])
COVARIANCES = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 0.8]], [[1.5, -0.4], [-0.4, 0.4]]])


def sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=WEIGHTS)
    return np.stack([rng.multivariate_normal(MEANS[k], COVARIANCES[k]) for k in labels])


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_moments_from_the_statistics_match_the_moments_of_the_points(covariance_type):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, generator=generator, dtype=torch.float64)
    weights = torch.rand(2, 4, 50, generator=generator, dtype=torch.float64)
    expected = weights @ sufficient_statistics(x, covariance_type)
    counts, means, covariance = moments_from_statistics(expected, 3, covariance_type)
    true_counts, true_means, true_covariance = weighted_moments(x, weights)
    torch.testing.assert_close(counts, true_counts)
    torch.testing.assert_close(means, true_means)
    if covariance_type == "diag":
        true_covariance = torch.diagonal(true_covariance, dim1=-2, dim2=-1)
    torch.testing.assert_close(covariance, true_covariance)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_the_unit_step_is_one_iteration_of_scikit_learns_em(covariance_type):
    x = sample(400, seed=1)
    start_covariances = np.array([np.eye(2) * s for s in (0.7, 1.3, 2.0)])
    start_means = MEANS + np.array([[0.5, -0.3], [-0.6, 0.4], [0.3, 0.7]])
    start_weights = np.array([0.2, 0.5, 0.3])
    if covariance_type == "diag":
        start_covariances = np.stack([np.diag(c) for c in start_covariances])
        precisions = 1.0 / start_covariances
    else:
        precisions = np.linalg.inv(start_covariances)
    em = EMGaussianMixture(3, covariance_type=covariance_type, max_iter=1, n_init=1, reg_covar=0.0,
                           weights_init=start_weights, means_init=start_means, precisions_init=precisions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: one iteration on purpose
        em.fit(x)
    start = GaussianMixture.from_parameters(start_weights, start_means, start_covariances, covariance_type)
    points = torch.as_tensor(x)
    responsibilities = start.predict_proba(points).T.unsqueeze(0)  # (1, K, N)
    log_weights, gaussians, collapsed = mixture_unit_step(sufficient_statistics(points, covariance_type),
                                                          responsibilities, 2, covariance_type, 1e-8)
    assert not bool(collapsed.any())
    np.testing.assert_allclose(torch.exp(log_weights[0]).numpy(), em.weights_, rtol=1e-10)
    np.testing.assert_allclose(gaussians.means[0].numpy(), em.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(covariances(gaussians)[0].numpy(), em.covariances_, rtol=1e-9, atol=1e-12)


def linear_problem(fixed_point: float, rate: float):
    """A "model" whose unit step is the contraction ``θ ↦ c + λ (θ − c)`` and whose objective is ``−(θ − c)²``."""
    theta = torch.zeros(1, 1, dtype=torch.float64)
    visited = []

    def evaluate():
        visited.append(float(theta))
        return -(theta[:, 0] - fixed_point) ** 2, theta.clone()

    def unit_step(posteriors):
        return [fixed_point + rate * (posteriors - fixed_point)], torch.zeros(1, 1, dtype=torch.bool)

    return theta, evaluate, unit_step, visited


def test_squarem_iterates_on_a_linear_map_are_the_closed_form_ones():
    # From θ₀ = 0 towards c = 1 with λ = 1/2 (error e = θ - c, e' = (1 + a(λ - 1))² e₀ after the
    # extrapolation of length a). The first iteration's length is capped at 1: θ' = θ₀ + 2r + v = θ₂
    # (error λ² e₀), then M(θ') has error λ³ e₀. The cap grows to 4, and the second iteration takes
    # the ratio ‖r‖/‖v‖ = 1/(1 - λ) = 2, which sends a linear map's error to zero: θ' = c exactly.
    theta, evaluate, unit_step, visited = linear_problem(1.0, 0.5)
    settings = AscentSettings(n_restarts=1, max_steps=6, tol=0.0)
    trace = mirror_ascend_likelihood([theta], evaluate, unit_step, settings)
    assert STEP_GROWTH == 4.0
    assert trace.steps == 6
    assert visited[:4] == [0.0, 0.5, 0.75, 0.875]  # θ₀, θ₁ = M(θ₀), θ' = θ₂, M(θ')
    assert trace.history[0].item() == -(0.125 ** 2)
    assert visited[4] == 0.9375  # the second iteration's θ₁
    assert visited[5] == 1.0  # its θ': the fixed point
    assert float(theta) == pytest.approx(1.0, abs=1e-15)


def test_mirror_ascent_never_descends_and_finds_nadams_maximum():
    x = sample(600, seed=2)
    mirror = GaussianMixture(3, n_restarts=4, seed=3).fit(x)
    nadam = GaussianMixture(3, n_restarts=4, seed=3, optimizer="nadam").fit(x)
    rises = mirror.history_[1:] - mirror.history_[:-1]
    assert bool((rises >= -1e-12).all())
    assert mirror.converged_
    assert mirror.log_likelihood_ == pytest.approx(nadam.log_likelihood_, abs=1e-7)
    assert mirror.n_steps_ < nadam.n_steps_ / 3


def test_mirror_ascent_on_heavily_overlapping_clusters_is_monotone_for_every_restart():
    # Here the extrapolated step overshoots often (the steps' lengths reach the hundreds), so the
    # fallback to the unit steps is exercised; the objective must still never fall.
    rng = np.random.default_rng(102)
    x = rng.normal(size=(800, 2)) * 0.8 + rng.choice([0.0, 1.5], size=(800, 2))
    model = GaussianMixture(4, n_restarts=6, seed=0).fit(x)
    rises = model.history_[1:] - model.history_[:-1]
    assert model.history_.shape[0] > 5
    assert bool((rises >= -1e-12).all())


def test_bad_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        GaussianMixture(2, optimizer="em")


# ----------------------------------------------------------------------------------- hidden Markov models
def test_expected_counts_are_the_brute_force_posteriors():
    """Σ_s γ_{s,0}, Σ_{s,t} ξ_{s,t} and γ from one backward pass, against every state path enumerated."""
    generator = torch.Generator().manual_seed(5)
    lengths = torch.tensor([4, 2, 3])
    log_start = torch.log_softmax(torch.randn(2, 3, generator=generator, dtype=torch.float64), -1)
    log_transition = torch.log_softmax(torch.randn(2, 3, 3, generator=generator, dtype=torch.float64), -1)
    log_emission = torch.randn(2, 3, 4, 3, generator=generator, dtype=torch.float64)
    log_emission[:, 1, 2:] = 1e6  # padding: must be ignored
    start, transition, gamma, log_p = hmm_inference.expected_counts(log_start, log_transition, log_emission, lengths)
    for model in range(2):
        expected_start = torch.zeros(3, dtype=torch.float64)
        expected_transition = torch.zeros(3, 3, dtype=torch.float64)
        for sequence, length in enumerate(lengths.tolist()):
            paths = list(itertools.product(range(3), repeat=length))
            joint = torch.stack([log_start[model, path[0]] + log_emission[model, sequence, 0, path[0]] + sum(
                log_transition[model, path[t - 1], path[t]] + log_emission[model, sequence, t, path[t]]
                for t in range(1, length)) for path in paths])
            total = torch.logsumexp(joint, 0)
            assert log_p[model, sequence].item() == pytest.approx(total.item(), abs=1e-12)
            expected_gamma = torch.zeros(length, 3, dtype=torch.float64)
            for path, value in zip(paths, joint):
                weight = torch.exp(value - total)
                expected_start[path[0]] += weight
                expected_gamma[torch.arange(length), torch.tensor(path)] += weight
                for t in range(1, length):
                    expected_transition[path[t - 1], path[t]] += weight
            torch.testing.assert_close(gamma[model, sequence, :length], expected_gamma, rtol=0, atol=1e-12)
            assert gamma[model, sequence, length:].abs().sum() == 0
        torch.testing.assert_close(start[model], expected_start, rtol=0, atol=1e-12)
        torch.testing.assert_close(transition[model], expected_transition, rtol=0, atol=1e-12)


HMM_START = np.array([0.6, 0.4])
HMM_TRANSITION = np.array([[0.9, 0.1], [0.2, 0.8]])


def test_the_categorical_hmms_mirror_fit_never_descends_and_is_a_fixed_point_of_baum_welch():
    emission = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    truth = CategoricalHMM.from_parameters(HMM_START, HMM_TRANSITION, emission)
    lengths = [60] * 20
    x, _ = truth.sample(lengths, seed=4)
    model = CategoricalHMM(2, n_restarts=3, seed=1).fit(x, lengths)
    nadam = CategoricalHMM(2, n_restarts=3, seed=1, optimizer="nadam").fit(x, lengths)
    rises = model.history_[1:] - model.history_[:-1]
    assert bool((rises >= -1e-12).all()) and model.converged_
    assert model.log_likelihood_ >= nadam.log_likelihood_ - 1e-9
    # hmmlearn's Baum-Welch (no prior: its default Dirichlet(1) adds nothing) started at our maximum stays there
    polish = hmmlearn.CategoricalHMM(2, n_iter=1, init_params="", params="ste")
    polish.startprob_ = model.start_probabilities_.numpy()
    polish.transmat_ = model.transition_matrix_.numpy()
    polish.emissionprob_ = model.emission_probabilities_.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        polish.fit(x.numpy()[:, None], lengths)
    np.testing.assert_allclose(polish.transmat_, model.transition_matrix_.numpy(), atol=1e-6)
    np.testing.assert_allclose(polish.emissionprob_, model.emission_probabilities_.numpy(), atol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_the_gaussian_hmms_mirror_fit_never_descends_and_matches_nadam(covariance_type):
    means = np.array([[0.0, 0.0], [2.0, 1.0]])
    covariance = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 0.9]]])
    if covariance_type == "diag":
        covariance = np.stack([np.diag(c) for c in covariance])
    truth = GaussianHMM.from_parameters(HMM_START, HMM_TRANSITION, means, covariance, covariance_type)
    lengths = [100, 150, 50]
    x, _ = truth.sample(lengths, seed=6)
    model = GaussianHMM(2, covariance_type=covariance_type, n_restarts=3, seed=2).fit(x, lengths)
    nadam = GaussianHMM(2, covariance_type=covariance_type, n_restarts=3, seed=2, optimizer="nadam").fit(x, lengths)
    rises = model.history_[1:] - model.history_[:-1]
    assert bool((rises >= -1e-12).all()) and model.converged_
    assert model.log_likelihood_ == pytest.approx(nadam.log_likelihood_, abs=1e-7)
    assert model.n_steps_ < nadam.n_steps_


def test_hmm_bad_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        GaussianHMM(2, optimizer="baum-welch")


def test_a_budget_below_one_iteration_takes_plain_unit_steps():
    theta, evaluate, unit_step, visited = linear_problem(1.0, 0.5)
    trace = mirror_ascend_likelihood([theta], evaluate, unit_step, AscentSettings(n_restarts=1, max_steps=2, tol=0.0))
    assert trace.steps == 2 and not trace.converged
    assert float(theta) == 0.75  # two EM steps from 0 towards 1
    assert trace.history[:, 0].tolist() == [-(0.5 ** 2), -(0.25 ** 2)]

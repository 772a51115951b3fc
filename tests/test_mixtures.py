"""ascentrl.applications.GaussianMixture: its likelihood, its gradient, its fit, its collapse handling.

Truths used: scipy.stats.multivariate_normal log-densities combined by hand, torch.autograd.gradcheck
in float64, the known parameters the data were drawn from (with stated tolerances), scikit-learn's
EM run to a tight tolerance on the same data, and the fit loop run on one restart at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as EMGaussianMixture

from ascentrl.applications import AscentSettings, CovarianceCollapseError, GaussianMixture, mixture_log_likelihood
from ascentrl.applications.fitting import ascend_likelihood
from ascentrl.applications.gaussian import GaussianParameters, natural_coefficients, sufficient_statistics


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The fits' tensors are small: on a busy machine a second thread costs far more than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0], [4.0, 0.5], [1.0, 4.0]])
COVARIANCES = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 0.8]], [[1.5, -0.4], [-0.4, 0.4]]])


def scipy_log_joint(x: np.ndarray, weights, means, covariances) -> np.ndarray:
    return np.stack([np.log(w) + multivariate_normal(m, c).logpdf(x) for w, m, c in zip(weights, means, covariances)],
                    axis=1)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    labels = rng.choice(3, size=3000, p=WEIGHTS)
    return np.stack([rng.multivariate_normal(MEANS[k], COVARIANCES[k]) for k in labels])


@pytest.fixture(scope="module")
def fitted(data) -> GaussianMixture:
    return GaussianMixture(3, n_restarts=3, seed=0).fit(data)


def matched(estimated_means: np.ndarray) -> list[int]:
    """For each true component, the index of the fitted component nearest to its mean."""
    order = [int(np.argmin(np.linalg.norm(estimated_means - mean, axis=1))) for mean in MEANS]
    assert sorted(order) == [0, 1, 2]
    return order


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_scores_match_scipy(data, covariance_type):
    covariances = COVARIANCES if covariance_type == "full" else np.diagonal(COVARIANCES, axis1=1, axis2=2).copy()
    model = GaussianMixture.from_parameters(WEIGHTS, MEANS, covariances, covariance_type)
    matrices = COVARIANCES if covariance_type == "full" else np.stack([np.diag(c) for c in covariances])
    log_joint = scipy_log_joint(data[:100], WEIGHTS, MEANS, matrices)
    expected = logsumexp(log_joint, axis=1)
    assert model.score_samples(data[:100]).numpy() == pytest.approx(expected, abs=1e-10)
    assert model.score(data[:100]) == pytest.approx(expected.mean(), abs=1e-10)
    responsibilities = np.exp(log_joint - expected[:, None])
    assert model.predict_proba(data[:100]).numpy() == pytest.approx(responsibilities, abs=1e-10)
    assert model.predict(data[:100]).tolist() == responsibilities.argmax(1).tolist()


def test_the_fitted_objective_is_the_mean_log_likelihood(data):
    # mixture_log_likelihood (the custom autograd function the fit ascends) against scipy, two mixtures at once
    second_weights = np.array([0.2, 0.2, 0.6])
    coefficients = []
    for weights in (WEIGHTS, second_weights):
        gaussians = GaussianMixture.from_parameters(weights, MEANS, COVARIANCES)._gaussians
        eta = natural_coefficients(gaussians).clone()
        eta[:, -1] += torch.log(torch.tensor(weights))
        coefficients.append(eta)
    statistics = sufficient_statistics(torch.tensor(data), "full")
    ours = mixture_log_likelihood(statistics, torch.stack(coefficients)).numpy()
    for value, weights in zip(ours, (WEIGHTS, second_weights)):
        assert value == pytest.approx(logsumexp(scipy_log_joint(data, weights, MEANS, COVARIANCES), axis=1).mean(),
                                      abs=1e-10)


def test_gradients_pass_gradcheck():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(9, 2, generator=generator, dtype=torch.float64)
    statistics = sufficient_statistics(points, "full")
    coefficients = torch.randn(2, 3, statistics.shape[1], generator=generator, dtype=torch.float64) * 0.3
    coefficients.requires_grad_()
    assert torch.autograd.gradcheck(lambda c: mixture_log_likelihood(statistics, c), (coefficients,))

    # and the whole chain from the unconstrained parameters (weights' logits, means, s, o) to J
    logits = torch.randn(2, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    means = torch.randn(2, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    log_diagonal = (0.3 * torch.randn(2, 3, 2, generator=generator, dtype=torch.float64)).requires_grad_()
    off_diagonal = (0.3 * torch.randn(2, 3, 1, generator=generator, dtype=torch.float64)).requires_grad_()

    def objective(logits, means, log_diagonal, off_diagonal):
        eta = natural_coefficients(GaussianParameters(means, log_diagonal, off_diagonal))
        constant = (eta[..., -1] + torch.log_softmax(logits, -1)).unsqueeze(-1)
        return mixture_log_likelihood(statistics, torch.cat([eta[..., :-1], constant], -1))

    assert torch.autograd.gradcheck(objective, (logits, means, log_diagonal, off_diagonal))


def test_recovers_the_mixture_the_data_came_from(fitted):
    # Tolerance: 4 standard errors of the sample estimates from n_k = 3000·π_k points:
    # sqrt(π(1−π)/N) for a weight, sqrt(Σ_ii/n_k) for a mean, sqrt((Σ_ii Σ_jj + Σ_ij²)/n_k) for a covariance.
    order = matched(fitted.means_.numpy())
    assert fitted.converged_ and not fitted.collapses_
    counts = 3000 * WEIGHTS
    assert np.all(np.abs(fitted.weights_.numpy()[order] - WEIGHTS) < 4 * np.sqrt(WEIGHTS * (1 - WEIGHTS) / 3000))
    variances = np.diagonal(COVARIANCES, axis1=1, axis2=2)
    assert np.all(np.abs(fitted.means_.numpy()[order] - MEANS) < 4 * np.sqrt(variances / counts[:, None]))
    products = variances[:, :, None] * variances[:, None, :] + COVARIANCES**2
    errors = np.abs(fitted.covariances_.numpy()[order] - COVARIANCES)
    assert np.all(errors < 4 * np.sqrt(products / counts[:, None, None]))


def test_reaches_the_likelihood_of_tightly_converged_em(data, fitted):
    em = EMGaussianMixture(3, n_init=3, tol=1e-9, max_iter=2000, reg_covar=0, random_state=0).fit(data)
    assert fitted.log_likelihood_ >= em.score(data) - 1e-7
    assert fitted.score(data) == pytest.approx(fitted.log_likelihood_, abs=1e-9)


def test_diagonal_covariances_are_recovered(data):
    model = GaussianMixture(3, covariance_type="diag", n_restarts=3, seed=1).fit(data)
    order = matched(model.means_.numpy())
    assert model.covariances_.shape == (3, 2)
    em = EMGaussianMixture(3, covariance_type="diag", n_init=3, tol=1e-9, max_iter=2000, reg_covar=0,
                           random_state=0).fit(data)
    assert model.log_likelihood_ >= em.score(data) - 1e-7
    assert model.means_.numpy()[order] == pytest.approx(em.means_[matched(em.means_)], abs=1e-3)


def test_same_seed_same_numbers_and_a_new_seed_a_new_start():
    # uniform points: k-means has many local optima, so different seeds start differently
    x = np.random.default_rng(7).random((300, 2))
    first = GaussianMixture(4, n_restarts=2, max_steps=40, seed=5).fit(x)
    again = GaussianMixture(4, n_restarts=2, max_steps=40, seed=5).fit(x)
    other = GaussianMixture(4, n_restarts=2, max_steps=40, seed=6).fit(x)
    assert torch.equal(first.history_, again.history_) and torch.equal(first.covariances_, again.covariances_)
    assert not torch.equal(first.history_[0], other.history_[0])


def test_restarts_fitted_together_are_independent_runs(data):
    # Fewer steps than the plateau patience, so the shared learning rate never changes: then R
    # restarts in one batch must take exactly the steps each takes alone.
    generator = torch.Generator().manual_seed(2)
    statistics = sufficient_statistics(torch.tensor(data[:200]), "full")
    starts = [torch.randn(3, 3, generator=generator, dtype=torch.float64), torch.randn(3, 3, 2, generator=generator,
              dtype=torch.float64), 0.2 * torch.randn(3, 3, 2, generator=generator, dtype=torch.float64),
              0.2 * torch.randn(3, 3, 1, generator=generator, dtype=torch.float64)]
    settings = AscentSettings(max_steps=20, tol=0.0)

    def run(tensors):
        leaves = [tensor.clone().requires_grad_() for tensor in tensors]

        def objective(batch):
            eta = natural_coefficients(GaussianParameters(*leaves[1:]))
            constant = (eta[..., -1] + torch.log_softmax(leaves[0], -1)).unsqueeze(-1)
            return mixture_log_likelihood(statistics, torch.cat([eta[..., :-1], constant], -1))

        trace = ascend_likelihood(leaves, objective, 200, settings, torch.Generator())
        return trace.history, leaves

    together, leaves = run(starts)
    for restart in range(3):
        alone, alone_leaves = run([tensor[restart:restart + 1] for tensor in starts])
        assert torch.allclose(alone[:, 0], together[:, restart], rtol=0, atol=1e-12)
        for joint, single in zip(leaves, alone_leaves):
            assert torch.allclose(joint[restart], single[0], rtol=0, atol=1e-10)


def test_minibatch_ascent_gets_close_to_full_batch(data, fitted):
    model = GaussianMixture(3, n_restarts=1, batch_size=256, max_steps=200, lr=0.02, seed=0).fit(data)
    assert model.log_likelihood_ == pytest.approx(fitted.log_likelihood_, abs=0.01)
    assert model.n_steps_ == 200 and not model.converged_
    short = GaussianMixture(3, n_restarts=1, batch_size=256, max_steps=15, lr=0.02, seed=0).fit(data)
    assert torch.equal(short.history_, model.history_[:15])  # the same seeded minibatches


def points_with_a_repeated_one() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.concatenate([rng.normal(size=(200, 2)), np.tile([[20.0, 20.0]], (20, 1))])


@pytest.mark.parametrize("on_collapse", ["drop", "raise"])
def test_a_component_on_a_repeated_point_is_reported_not_returned(on_collapse):
    x = points_with_a_repeated_one()
    with pytest.raises(CovarianceCollapseError, match=r"component \d+ collapsed at step \d+") as caught:
        GaussianMixture(2, n_restarts=2, on_collapse=on_collapse, max_steps=60).fit(x)
    error = caught.value
    assert error.restart in (0, 1) and error.component in (0, 1) and 1 <= error.step <= 60
    # the same 20 points spread out a little are a genuine cluster: fitted, not reported
    x[200:] += np.random.default_rng(2).normal(0, 0.3, size=(20, 2))
    model = GaussianMixture(2, n_restarts=1, max_steps=200).fit(x)
    assert not model.collapses_
    assert np.linalg.norm(model.means_.numpy() - 20.0, axis=1).min() < 0.2


@pytest.mark.parametrize("lr", [0.5, 2.0, 50.0])
def test_huge_steps_end_in_a_valid_model_or_a_named_collapse_never_a_nan(data, lr):
    try:
        model = GaussianMixture(3, n_restarts=3, lr=lr, max_steps=100, seed=2).fit(data[:300])
    except CovarianceCollapseError as error:
        assert lr > 0.5  # the learning rate the fits were tuned for survives
        assert error.step >= 1 and 0 <= error.component < 3 and "collapsed at step" in str(error)
        return
    for value in (model.weights_, model.means_, model.covariances_, model.restart_log_likelihoods_):
        assert not bool(torch.isnan(value).any())
    assert bool((torch.linalg.eigvalsh(model.covariances_) > 0).all())
    assert model.weights_.sum().item() == pytest.approx(1.0)


def test_a_dropped_restart_is_frozen_and_never_chosen():
    generator = torch.Generator().manual_seed(3)
    theta = torch.randn(3, 2, generator=generator, dtype=torch.float64, requires_grad=True)

    def objective(batch):
        return -(theta - 1).square().sum(-1) + torch.tensor([0.0, 10.0, 0.0], dtype=torch.float64)

    def traces():
        flagged = torch.zeros(3, 2, dtype=torch.float64)
        flagged[1, 1] = 1e9 if steps["n"] >= 3 else 0.0
        steps["n"] += 1
        return flagged

    steps = {"n": 0}
    trace = ascend_likelihood([theta], objective, 1, AscentSettings(max_steps=50, tol=0.0), torch.Generator(),
                              precision_traces=traces)
    assert [(c.restart, c.component, c.step) for c in trace.collapses] == [(1, 1, 4)]
    assert "tr Σ⁻¹ = 1e+09" in trace.collapses[0].detail
    assert trace.objectives[1] == -float("inf") and trace.best_restart in (0, 2)
    assert torch.equal(trace.history[4:, 1], trace.history[4:5, 1].expand(46))  # frozen where it was caught


def test_sampling_is_seeded_and_follows_the_weights():
    model = GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES)
    points, labels = model.sample(30_000, seed=1)
    again, _ = model.sample(30_000, seed=1)
    assert torch.equal(points, again) and points.shape == (30_000, 2)
    assert (torch.bincount(labels, minlength=3) / 30_000).numpy() == pytest.approx(WEIGHTS, abs=0.01)


def test_bad_input_is_refused_with_a_reason(data):
    with pytest.raises(ValueError, match="finite"):
        GaussianMixture(2).fit(np.array([[0.0, 1.0], [np.inf, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="fewer than the 5 needed"):
        GaussianMixture(5).fit(data[:4])
    with pytest.raises(ValueError, match="2-D"):
        GaussianMixture(2).fit(data[:, 0])
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        GaussianMixture(0)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="spherical")
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        GaussianMixture(2, lr=-1.0)
    with pytest.raises(ValueError, match="on_collapse"):
        GaussianMixture(2, on_collapse="ignore")
    with pytest.raises(RuntimeError, match="not fitted"):
        GaussianMixture(2).score(data)
    with pytest.raises(ValueError, match="2 features"):
        GaussianMixture.from_parameters(WEIGHTS, MEANS, COVARIANCES).score(np.zeros((3, 5)))

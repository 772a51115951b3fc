"""ascentrl.applications.gaussian, initialization and data: the Gaussian math the likelihood fits share.

Truths used: scipy.stats.multivariate_normal log-densities, numpy's matrix inverse and trace, the
change-of-variables formula for an affine map, sample moments of many draws (with tolerances of a
few standard errors), and brute-force k-means++ probabilities.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from ascentrl.applications.data import as_lengths, as_observations, as_symbols, pad_sequences, unpad
from ascentrl.applications.gaussian import (
    GaussianParameters,
    Standardizer,
    covariances,
    gaussian_log_density,
    gaussian_unit_step,
    moments_from_statistics,
    natural_coefficients,
    parameters_from_covariances,
    precision_cholesky,
    precision_trace,
    sample_gaussians,
    smallest_variance,
    smallest_variances,
    sufficient_statistics,
    weighted_moments,
)
from ascentrl.applications.initialization import (
    gaussians_from_clusters,
    kmeans,
    kmeans_plus_plus,
    nearest_centres,
)


def random_covariances(rng: np.random.Generator, count: int, dimension: int) -> np.ndarray:
    factors = rng.normal(size=(count, dimension, dimension))
    return factors @ factors.transpose(0, 2, 1) + 0.3 * np.eye(dimension)


@pytest.fixture
def gaussians():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 2, size=(3, 4))
    covariance = random_covariances(rng, 3, 4)
    points = rng.normal(0, 2, size=(40, 4))
    return means, covariance, points


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_log_density_matches_scipy(gaussians, covariance_type):
    means, covariance, points = gaussians
    if covariance_type == "diag":
        covariance = np.diagonal(covariance, axis1=1, axis2=2).copy()
    parameters = parameters_from_covariances(torch.tensor(means), torch.tensor(covariance), covariance_type)
    ours = gaussian_log_density(torch.tensor(points), parameters).numpy()
    for k in range(3):
        matrix = covariance[k] if covariance_type == "full" else np.diag(covariance[k])
        assert ours[k] == pytest.approx(multivariate_normal(means[k], matrix).logpdf(points), abs=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_exponential_family_form_equals_the_direct_form(gaussians, covariance_type):
    means, covariance, points = gaussians
    if covariance_type == "diag":
        covariance = np.diagonal(covariance, axis1=1, axis2=2).copy()
    parameters = parameters_from_covariances(torch.tensor(means), torch.tensor(covariance), covariance_type)
    statistics = sufficient_statistics(torch.tensor(points), covariance_type)
    expected_width = (10 if covariance_type == "full" else 4) + 4 + 1
    assert statistics.shape == (40, expected_width)
    through_statistics = (statistics @ natural_coefficients(parameters).T).T
    assert torch.allclose(through_statistics, gaussian_log_density(torch.tensor(points), parameters), atol=1e-10)


def test_parameters_round_trip_and_precision(gaussians):
    means, covariance, _ = gaussians
    parameters = parameters_from_covariances(torch.tensor(means), torch.tensor(covariance), "full")
    assert torch.allclose(covariances(parameters), torch.tensor(covariance), atol=1e-12)
    factor = precision_cholesky(parameters)
    assert torch.equal(factor, torch.tril(factor))
    assert bool((torch.diagonal(factor, dim1=-2, dim2=-1) > 0).all())
    assert torch.allclose(factor @ factor.transpose(-1, -2), torch.tensor(np.linalg.inv(covariance)), atol=1e-10)
    assert precision_trace(parameters).numpy() == pytest.approx(np.trace(np.linalg.inv(covariance), axis1=1, axis2=2))


def test_parameters_from_covariances_refuses_invalid_ones():
    with pytest.raises(ValueError, match="positive definite"):
        parameters_from_covariances(torch.zeros(1, 2), torch.tensor([[[1.0, 2.0], [2.0, 1.0]]]), "full")
    with pytest.raises(ValueError, match="positive"):
        parameters_from_covariances(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), "diag")


def test_every_real_parameter_value_is_a_valid_gaussian():
    # Extreme but finite raw values: the factor stays triangular with a positive finite diagonal, so
    # Σ⁻¹ = PPᵀ is positive definite (det P = exp(Σ s) > 0) and the log-density is a finite number.
    generator = torch.Generator().manual_seed(1)
    parameters = GaussianParameters(
        means=torch.randn(50, 3, generator=generator, dtype=torch.float64) * 1e3,
        log_diagonal=(torch.rand(50, 3, generator=generator, dtype=torch.float64) - 0.5) * 60,
        off_diagonal=torch.randn(50, 3, generator=generator, dtype=torch.float64) * 1e3,
    )
    factor = precision_cholesky(parameters)
    diagonal = torch.diagonal(factor, dim1=-2, dim2=-1)
    assert bool(torch.isfinite(factor).all()) and bool((diagonal > 0).all())
    sign, log_determinant = torch.linalg.slogdet(factor)
    assert bool((sign == 1).all())
    assert torch.allclose(log_determinant, parameters.log_diagonal.sum(-1), rtol=1e-9)
    density = gaussian_log_density(torch.randn(7, 3, generator=generator, dtype=torch.float64), parameters)
    assert bool(torch.isfinite(density).all())


def test_standardizer_changes_densities_by_the_jacobian(gaussians):
    means, covariance, points = gaussians
    x = torch.tensor(points) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + 5.0
    standardizer = Standardizer(x)
    z = standardizer.transform(x)
    assert torch.allclose(z.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(z.std(0, correction=0), torch.ones(4, dtype=torch.float64), atol=1e-12)
    for covariance_type in ("full", "diag"):
        matrix = torch.tensor(covariance if covariance_type == "full" else np.diagonal(covariance, axis1=1, axis2=2))
        on_z = parameters_from_covariances(torch.tensor(means), matrix, covariance_type)
        on_x = standardizer.to_data_units(on_z)
        expected = gaussian_log_density(z, on_z) + standardizer.log_jacobian
        assert torch.allclose(gaussian_log_density(x, on_x), expected, atol=1e-10)


def test_sampling_has_the_right_moments():
    rng = np.random.default_rng(3)
    covariance = random_covariances(rng, 2, 3)
    means = np.array([[1.0, -2.0, 0.5], [-3.0, 0.0, 4.0]])
    parameters = parameters_from_covariances(torch.tensor(means), torch.tensor(covariance), "full")
    which = torch.tensor([0] * 40_000 + [1] * 40_000)
    draws = sample_gaussians(parameters, which, torch.Generator().manual_seed(0)).numpy()
    for k in range(2):
        chosen = draws[which.numpy() == k]
        standard_error = np.sqrt(np.diag(covariance[k]) / len(chosen))
        assert np.all(np.abs(chosen.mean(0) - means[k]) < 5 * standard_error)
        assert np.cov(chosen.T) == pytest.approx(covariance[k], abs=0.05 * np.abs(covariance[k]).max())


def test_weighted_moments_and_smallest_variances():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 3))
    weights = rng.random((2, 4, 30))
    counts, means, covariance = weighted_moments(torch.tensor(x), torch.tensor(weights))
    for r in range(2):
        for k in range(4):
            w = weights[r, k]
            mean = (w[:, None] * x).sum(0) / w.sum()
            expected = ((x - mean).T * w) @ (x - mean) / w.sum()
            assert counts[r, k].item() == pytest.approx(w.sum())
            assert means[r, k].numpy() == pytest.approx(mean)
            assert covariance[r, k].numpy() == pytest.approx(expected, abs=1e-12)
    # points on a line have no variance across it; one repeated point has none at all
    line = torch.tensor(np.outer(np.linspace(-1, 1, 10), [1.0, 2.0]))
    everything = torch.ones(1, 1, 10, dtype=torch.float64)
    assert smallest_variances(line, everything, "full").item() == pytest.approx(0, abs=1e-12)
    assert smallest_variances(line, everything, "diag").item() > 0.1
    repeated = torch.ones(5, 2, dtype=torch.float64)
    assert smallest_variances(repeated, torch.ones(1, 1, 5, dtype=torch.float64), "diag").item() == pytest.approx(0)


def test_kmeans_plus_plus_draws_in_proportion_to_squared_distance():
    # x = (0, 1, 3): when the first centre is 0, the squared distances are 1 and 9, so the second
    # centre is 3 with probability 9/10.
    x = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    centres = kmeans_plus_plus(x, 2, 30_000, generator)
    first, second = centres[:, 0, 0], centres[:, 1, 0]
    from_zero = second[first == 0]
    assert float((from_zero == 3).double().mean()) == pytest.approx(0.9, abs=0.02)
    assert bool((first != second).all())  # a centre already chosen has distance 0: never drawn again


def test_kmeans_finds_separated_clusters_and_starts_gaussians():
    rng = np.random.default_rng(5)
    x = torch.tensor(np.concatenate([rng.normal(-5, 0.5, size=(50, 2)), rng.normal(5, 0.5, size=(70, 2))]))
    generator = torch.Generator().manual_seed(0)
    centres, labels = kmeans(x, kmeans_plus_plus(x, 2, 4, generator), 50)
    for restart in range(4):
        assert sorted(centres[restart, :, 0].round().tolist()) == [-5, 5]
        assert sorted(torch.bincount(labels[restart]).tolist()) == [50, 70]
    weights, means, covariance = gaussians_from_clusters(x, labels, 2)
    assert torch.allclose(weights.sum(-1), torch.ones(4, dtype=torch.float64))
    big = int(torch.argmax(weights[0]))
    assert weights[0, big].item() == pytest.approx(71 / 122)
    assert bool((torch.linalg.eigvalsh(covariance) > 0).all())
    empty_cluster = gaussians_from_clusters(x, torch.zeros(1, 120, dtype=torch.int64), 2)
    assert torch.allclose(empty_cluster[2][0, 1], torch.eye(2, dtype=torch.float64))  # shrunk to I


def test_nearest_centres_is_the_argmin_of_the_distances_computed_in_numpy():
    rng = np.random.default_rng(9)
    x, centres = rng.normal(size=(300, 3)), rng.normal(size=(5, 4, 3))
    distances = ((x[None, None] - centres[:, :, None]) ** 2).sum(-1)  # (R, K, N), written out
    assert nearest_centres(torch.tensor(x), torch.tensor(centres)).numpy().tolist() == distances.argmin(1).tolist()


def test_kmeans_stops_when_the_centres_stop_moving_and_returns_their_assignment():
    # Overlapping clusters: labels keep flipping at the boundary long after the centres have settled.
    rng = np.random.default_rng(3)
    x = torch.tensor(np.concatenate([rng.normal(0, 1, size=(400, 2)), rng.normal(1.5, 1, size=(400, 2))]))
    start = kmeans_plus_plus(x, 4, 6, torch.Generator().manual_seed(1))
    loose_centres, loose_labels = kmeans(x, start, 200, tol=1e-2)
    exact_centres, exact_labels = kmeans(x, start, 200, tol=0.0)
    assert torch.equal(loose_labels, nearest_centres(x, loose_centres))  # labels belong to the centres returned
    assert torch.equal(exact_labels, nearest_centres(x, exact_centres))
    assert not torch.equal(loose_centres, exact_centres)  # the loose tolerance did stop earlier

    def cost(centres: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # Σ_n ‖x_n − c_{label n}‖², per restart
        return (x.unsqueeze(0) - torch.gather(centres, 1, labels.unsqueeze(-1).expand(-1, -1, 2))).square().sum((1, 2))

    # Lloyd's iterations never raise the cost, so stopping earlier on the same path leaves it higher or equal
    assert bool((cost(loose_centres, loose_labels) >= cost(exact_centres, exact_labels) - 1e-9).all())


def test_data_validation_messages():
    with pytest.raises(ValueError, match="finite; row 1"):
        as_observations([[0.0, 1.0], [float("nan"), 2.0]], torch.float64, minimum_rows=1, what="points")
    with pytest.raises(ValueError, match="2-D"):
        as_observations(np.zeros(5), torch.float64, minimum_rows=1, what="points")
    with pytest.raises(ValueError, match="fewer than the 3 needed"):
        as_observations(np.zeros((2, 2)), torch.float64, minimum_rows=3, what="points")
    with pytest.raises(ValueError, match="4 features"):
        as_observations(np.zeros((2, 2)), torch.float64, minimum_rows=1, what="points", features=4)
    with pytest.raises(ValueError, match="sum to 5 but the data has 6 rows"):
        as_lengths([2, 3], 6)
    with pytest.raises(ValueError, match=">= 1"):
        as_lengths([6, 0], 6)
    with pytest.raises(ValueError, match="whole numbers"):
        as_lengths([2.5, 3.5], 6)
    with pytest.raises(ValueError, match="in 0 .. 1"):
        as_symbols([0, 1, 2], minimum_rows=1, n_symbols=2)
    with pytest.raises(ValueError, match="whole numbers"):
        as_symbols([0.5, 1.0], minimum_rows=1)
    assert as_lengths(None, 7).tolist() == [7]


def test_padding_round_trip():
    x = torch.arange(12.0).reshape(6, 2)
    lengths = torch.tensor([1, 3, 2])
    padded = pad_sequences(x, lengths)
    assert padded.shape == (3, 3, 2)
    assert padded[0, 1:].abs().sum() == 0 and padded[2, 2].abs().sum() == 0
    assert torch.equal(padded[1, :3], x[1:4])
    assert torch.equal(unpad(padded, lengths), x)


def test_batched_densities_and_traces_match_scipy_and_numpy_for_every_gaussian():
    # parameters with two leading dimensions, (R, K) = (2, 3), in 3-D: each Gaussian on its own
    rng = np.random.default_rng(11)
    means = rng.normal(size=(2, 3, 3))
    covariance = random_covariances(rng, 6, 3).reshape(2, 3, 3, 3)
    points = rng.normal(size=(7, 3))
    parameters = parameters_from_covariances(torch.tensor(means), torch.tensor(covariance), "full")
    densities = gaussian_log_density(torch.tensor(points), parameters).numpy()
    traces = precision_trace(parameters).numpy()
    assert densities.shape == (2, 3, 7) and traces.shape == (2, 3)
    for r in range(2):
        for k in range(3):
            assert densities[r, k] == pytest.approx(multivariate_normal(means[r, k], covariance[r, k]).logpdf(points),
                                                    abs=1e-10)
            assert traces[r, k] == pytest.approx(np.trace(np.linalg.inv(covariance[r, k])), rel=1e-10)


def test_smallest_variance_is_per_gaussian():
    variances = torch.tensor([[[1.0, 0.2, 3.0], [5.0, 4.0, 6.0]]], dtype=torch.float64)
    assert smallest_variance(variances, "diag").tolist() == [[0.2, 4.0]]
    matrices = torch.diag_embed(variances)
    assert smallest_variance(matrices, "full").numpy() == pytest.approx(np.array([[0.2, 4.0]]), abs=1e-12)


def test_draws_are_the_mean_plus_the_inverse_transposed_factor_times_float64_normals():
    rng = np.random.default_rng(12)
    means = rng.normal(size=(2, 3))
    covariance = random_covariances(rng, 2, 3)
    parameters = parameters_from_covariances(torch.tensor(means), torch.tensor(covariance), "full")
    which = torch.tensor([1, 0, 1, 1])
    draws = sample_gaussians(parameters, which, torch.Generator().manual_seed(5)).numpy()
    normals = torch.randn(4, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64).numpy()
    for n, k in enumerate(which.tolist()):
        factor = np.linalg.cholesky(np.linalg.inv(covariance[k]))  # lower, Σ⁻¹ = P Pᵀ
        assert draws[n] == pytest.approx(means[k] + np.linalg.solve(factor.T, normals[n]), abs=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_moments_from_statistics_of_an_unbatched_set_of_weightings(covariance_type):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(20, 3))
    weights = rng.random((4, 20))  # (K, N): no restart dimension
    expected = torch.tensor(weights) @ sufficient_statistics(torch.tensor(x), covariance_type)
    counts, means, covariance = moments_from_statistics(expected, 3, covariance_type)
    for k in range(4):
        w = weights[k]
        mean = (w[:, None] * x).sum(0) / w.sum()
        matrix = ((x - mean).T * w) @ (x - mean) / w.sum()
        assert counts[k].item() == pytest.approx(w.sum(), rel=1e-12)
        assert means[k].numpy() == pytest.approx(mean, abs=1e-12)
        wanted = matrix if covariance_type == "full" else np.diag(matrix)
        assert covariance[k].numpy() == pytest.approx(wanted, abs=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_a_collapsed_gaussian_is_matched_to_the_identity_and_flagged(covariance_type):
    # weightings of 2-D points: one on a single repeated point (collapsed), one on spread points
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]], dtype=torch.float64)
    weights = torch.tensor([[[1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]], dtype=torch.float64)
    expected = weights @ sufficient_statistics(x, covariance_type)
    counts, gaussians, collapsed = gaussian_unit_step(expected, 2, covariance_type, min_variance=1e-8)
    assert collapsed.tolist() == [[True, False]] and counts.tolist() == [[3.0, 3.0]]
    matched = covariances(gaussians)[0]
    spread = x[3:].numpy()
    truth = np.cov(spread.T, bias=True)
    identity = np.eye(2) if covariance_type == "full" else np.ones(2)
    assert matched[0].numpy() == pytest.approx(identity, abs=1e-12)
    assert matched[1].numpy() == pytest.approx(truth if covariance_type == "full" else np.diag(truth), abs=1e-12)
    assert gaussians.means[0, 0].tolist() == pytest.approx([1.0, 2.0])


def test_standardizer_of_a_constant_feature_and_of_one_or_two_points():
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0]], dtype=torch.float64)  # the second feature is constant
    two = Standardizer(x)
    assert two.scale.tolist() == [1.0, 1.0] and two.location.tolist() == [2.0, 5.0]
    assert two.transform(x).tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    assert two.log_jacobian == 0.0
    spread = Standardizer(torch.tensor([[1.0, 5.0], [5.0, 8.0]], dtype=torch.float64))
    assert spread.scale.tolist() == [2.0, 1.5] and spread.log_jacobian == pytest.approx(-np.log(3.0), rel=1e-15)
    one = Standardizer(torch.tensor([[4.0, -2.0]], dtype=torch.float64))
    assert one.scale.tolist() == [1.0, 1.0] and one.location.tolist() == [4.0, -2.0]

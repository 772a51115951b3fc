"""EigenGame, its utilities and metrics, and the Oja/GHA baselines.

Truths used: the utilities and Riemannian gradients written out by hand from Gemp et al. (2021) and
evaluated with numpy loops; ``torch.autograd.gradcheck`` in float64; the game's Nash equilibrium (at
the true eigenvectors every player's Riemannian gradient vanishes and its utility is its eigenvalue);
``numpy.linalg.eigh`` of the covariance for the streaming fits; hand-built cases for the streak and
the subspace distance.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from ascentrl import Ascent
from ascentrl.applications import (
    EigenGame,
    GeneralizedHebbian,
    OjaSubspace,
    eigengame_utilities,
    fit_streaming,
    largest_eigenvalue,
    longest_streak,
    subspace_distance,
    unit_rows,
)
from ascentrl.applications.eigengame import _own_gradient_surrogate
from ascentrl.games import make_dynamics

pytestmark = pytest.mark.usefixtures("one_torch_thread")

def planted_data(rows: int = 4000, dim: int = 10, seed: int = 0) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Centred Gaussian rows with well-separated eigenvalues; the numpy eigendecomposition of their covariance."""
    generator = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(generator.standard_normal((dim, dim)))
    scales = np.sqrt(np.linspace(4.0, 0.4, dim))
    data = (generator.standard_normal((rows, dim)) * scales) @ basis.T
    data -= data.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(data.T @ data / rows)
    return torch.from_numpy(data), eigenvalues[::-1].copy(), eigenvectors[:, ::-1].T.copy()


def hand_utilities(vectors: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    utilities = []
    for i, v in enumerate(units):
        value = v @ covariance @ v
        for parent in units[:i]:
            value -= (v @ covariance @ parent) ** 2 / (parent @ covariance @ parent)
        utilities.append(value)
    return np.array(utilities)


def hand_riemannian_gradient(units: np.ndarray, covariance: np.ndarray, i: int) -> np.ndarray:
    v = units[i]
    gradient = 2 * covariance @ v
    for parent in units[:i]:
        gradient -= 2 * (v @ covariance @ parent) / (parent @ covariance @ parent) * (covariance @ parent)
    return gradient - (gradient @ v) * v


def test_utilities_match_the_hand_formula():
    data, _, _ = planted_data(rows=200, dim=6)
    vectors = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    covariance = (data.mT @ data / len(data)).numpy()
    assert np.allclose(eigengame_utilities(vectors, data).numpy(), hand_utilities(vectors.numpy(), covariance),
                       rtol=1e-12, atol=1e-12)
    # The same game with one tensor per player.
    assert torch.allclose(eigengame_utilities(list(vectors), data), eigengame_utilities(vectors, data))


def test_each_players_gradient_is_the_hand_derived_riemannian_gradient():
    data, _, _ = planted_data(rows=300, dim=6)
    covariance = (data.mT @ data / len(data)).numpy()
    units = unit_rows(torch.randn(4, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    for i in range(4):
        players = [row.clone().requires_grad_(True) for row in units]
        (gradient,) = torch.autograd.grad(eigengame_utilities(players, data)[i], players[i])
        assert np.allclose(gradient.numpy(), hand_riemannian_gradient(units.numpy(), covariance, i), atol=1e-12)


def test_utilities_pass_gradcheck():
    data, _, _ = planted_data(rows=50, dim=5)
    vectors = torch.randn(3, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: eigengame_utilities(v, data), (vectors,))


def test_one_backward_pass_gives_every_players_own_gradient():
    data, _, _ = planted_data(rows=300, dim=7)
    vectors = torch.randn(5, 7, generator=torch.Generator().manual_seed(4), dtype=torch.float64, requires_grad=True)
    (surrogate_gradient,) = torch.autograd.grad(_own_gradient_surrogate(vectors, data), vectors)
    for i in range(5):
        (own,) = torch.autograd.grad(eigengame_utilities(vectors, data)[i], vectors)
        assert torch.allclose(surrogate_gradient[i], own[i], atol=1e-12)


def test_true_eigenvectors_are_the_nash_equilibrium():
    data, eigenvalues, eigenvectors = planted_data(rows=500, dim=6)
    covariance = (data.mT @ data / len(data)).numpy()
    utilities = eigengame_utilities(torch.from_numpy(eigenvectors[:4]), data).numpy()
    assert np.allclose(utilities, eigenvalues[:4], rtol=1e-10)
    for i in range(4):
        assert np.abs(hand_riemannian_gradient(eigenvectors[:4], covariance, i)).max() < 1e-10


def test_eigengame_steps_are_the_simultaneous_dynamics_of_the_k_player_game():
    data, _, _ = planted_data(rows=256, dim=8)
    fast = EigenGame(8, 4, lr=0.05, seed=5, dtype=torch.float64)
    players = [row.clone().requires_grad_(True) for row in fast.components]
    minibatch: dict[str, torch.Tensor] = {}
    dynamics = make_dynamics(
        "simultaneous", players, lambda: list(eigengame_utilities(players, minibatch["x"])),
        [Ascent([player], lr=0.05) for player in players],
        projections=[lambda v: v / torch.linalg.vector_norm(v)] * 4,
    )
    for batch in data.split(32):
        minibatch["x"] = batch
        fast.step(batch)
        dynamics.step()
    assert torch.allclose(fast.components, torch.stack([p.detach() for p in players]), atol=1e-12)


@pytest.mark.parametrize("method", [EigenGame, OjaSubspace, GeneralizedHebbian])
def test_streaming_fit_matches_numpy_eigh(method):
    data, _, eigenvectors = planted_data()
    truth = torch.from_numpy(eigenvectors)
    estimator = method(10, 4, lr=0.5 / largest_eigenvalue(data), seed=0, dtype=torch.float64)
    fit = fit_streaming(estimator, data, batch_size=64, epochs=15, seed=0)
    assert fit.steps == 15 * math.ceil(4000 / 64)
    assert longest_streak(fit.components, truth) == 4
    assert subspace_distance(fit.components, truth) < 1e-4
    cosines = (fit.components * truth[:4]).sum(dim=1).abs()
    assert bool((cosines > 0.999).all())


def test_constant_step_without_annealing_stays_farther_than_the_decayed_step():
    data, _, eigenvectors = planted_data()
    truth = torch.from_numpy(eigenvectors)
    distances = []
    for anneal in (False, True):
        game = EigenGame(10, 4, lr=0.5 / largest_eigenvalue(data), seed=0, dtype=torch.float64)
        fit = fit_streaming(game, data, batch_size=64, epochs=15, seed=0, anneal=anneal)
        distances.append(subspace_distance(fit.components, truth))
    assert distances[1] < distances[0] / 5


def test_longest_streak_on_hand_built_estimates():
    truth = torch.eye(4, dtype=torch.float64)
    inside, outside = math.pi / 8 - 0.01, math.pi / 8 + 0.01
    estimates = torch.tensor([
        [-1.0, 0.0, 0.0, 0.0],  # the sign is ignored
        [0.0, math.cos(inside), math.sin(inside), 0.0],
        [0.0, math.sin(outside), math.cos(outside), 0.0],  # just over π/8 from e_3
        [0.0, 0.0, 0.0, 1.0],
    ], dtype=torch.float64)
    assert longest_streak(estimates, truth) == 2
    assert longest_streak(truth, truth) == 4
    assert longest_streak(estimates[2:3], truth[2:]) == 0


def test_subspace_distance_on_hand_built_spans():
    truth = torch.eye(4, dtype=torch.float64)
    mixed = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, -2.0, 0.0, 0.0]], dtype=torch.float64)  # span{e1, e2}
    assert subspace_distance(mixed, truth) == pytest.approx(0.0, abs=1e-15)
    assert subspace_distance(truth[2:4], truth) == pytest.approx(1.0)
    assert subspace_distance(torch.stack([truth[0], truth[2]]), truth) == pytest.approx(0.5)


def test_metrics_refuse_too_few_true_eigenvectors():
    truth = torch.eye(4, dtype=torch.float64)
    for metric in (longest_streak, subspace_distance):
        with pytest.raises(ValueError, match="at least k true eigenvectors"):
            metric(truth, truth[:2])
        with pytest.raises(ValueError, match="at least k true eigenvectors"):
            metric(truth[:2, :3], truth)


def test_largest_eigenvalue_matches_eigh():
    data, eigenvalues, _ = planted_data(rows=1024)
    assert largest_eigenvalue(data) == pytest.approx(eigenvalues[0], rel=1e-6)


@pytest.mark.parametrize("k", [0, 11, 2.5, 2.0, True])
def test_bad_number_of_players_is_refused(k):
    for method in (EigenGame, OjaSubspace, GeneralizedHebbian):
        with pytest.raises(ValueError, match=r"k must be an integer in \[1, d\] = \[1, 10\]"):
            method(10, k, lr=0.1)


def test_the_number_of_players_may_be_anything_from_one_to_the_dimension():
    for k in (1, 4):
        assert EigenGame(4, k, lr=0.1).components.shape == (k, 4)
    for lr in (0.0, -0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            EigenGame(4, 2, lr=lr)


def test_the_start_comes_from_the_seed_alone():
    """Seed 0 by default; the global generator is neither used nor advanced."""
    state = torch.get_rng_state()
    first = EigenGame(6, 3, lr=0.1).components
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(99)
    assert torch.equal(EigenGame(6, 3, lr=0.1, seed=0).components, first)
    assert not torch.equal(EigenGame(6, 3, lr=0.1, seed=1).components, first)


def test_metrics_refuse_estimates_and_truths_of_the_wrong_shapes():
    truth = torch.eye(4)
    for estimates, truths in ((torch.ones(4), truth), (torch.ones(2, 4), torch.ones(4)),
                              (torch.ones(2, 3), truth), (torch.ones(5, 4), truth)):
        for metric in (longest_streak, subspace_distance):
            with pytest.raises(ValueError, match="need at least k true eigenvectors"):
                metric(estimates, truths)


def test_metrics_compute_in_float64_whatever_the_estimates_type():
    """A float32 estimate is read exactly (promoted), not rounded through float32 arithmetic."""
    truth = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).Q.mT
    estimates = (truth[:3] + 1e-3 * torch.randn(3, 6, generator=torch.Generator().manual_seed(1),
                                                dtype=torch.float64)).float()
    exact = estimates.double()
    basis = torch.linalg.qr(exact.mT).Q
    truth = truth.float()  # both in float32, read exactly in float64
    expected = 1.0 - float(torch.linalg.matrix_norm(truth[:3].double() @ basis) ** 2) / 3
    assert subspace_distance(estimates, truth) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_largest_eigenvalue_reads_the_first_rows_in_float64():
    generator = torch.Generator().manual_seed(2)
    data = torch.randn(1024, 5, generator=generator, dtype=torch.float64) * torch.tensor([3.0, 1.0, 1.0, 0.5, 0.2],
                                                                                             dtype=torch.float64)
    expected = float(torch.linalg.eigvalsh(data.mT @ data / 1024)[-1])
    later = torch.full((10, 5), 1e3, dtype=torch.float64)  # rows past the first 1024 must not count
    assert largest_eigenvalue(torch.cat([data, later])) == pytest.approx(expected, rel=1e-6)
    assert largest_eigenvalue(torch.cat([data, later]).float()) == pytest.approx(
        float(torch.linalg.eigvalsh(data.float().double().mT @ data.float().double() / 1024)[-1]), rel=1e-6)
    assert largest_eigenvalue(torch.zeros(8, 3)) == 0.0


def test_fit_streaming_records_the_monitor_every_hundred_steps_outside_the_timed_loop():
    """The monitor sees the components every ``monitor_every`` steps (100 by default), and
    ``seconds`` is the loop's wall time without the monitor's: every segment between monitor calls,
    the last one after the final call included, is added up (checked within 20% of the wall time
    minus the time spent in the monitor)."""
    data, _, _ = planted_data(rows=1000, dim=6)
    in_monitor, shapes = [], []

    def slow_monitor(components: torch.Tensor) -> float:
        entered = time.perf_counter()
        shapes.append(tuple(components.shape))
        time.sleep(0.01)
        in_monitor.append(time.perf_counter() - entered)
        return float(len(in_monitor))

    def game() -> EigenGame:
        return EigenGame(6, 2, lr=0.05, dtype=torch.float64)

    start = time.perf_counter()
    fit = fit_streaming(game(), data, batch_size=4, epochs=4, monitor=slow_monitor, monitor_every=400)
    loop = time.perf_counter() - start - sum(in_monitor)
    assert fit.steps == 1000 and fit.history == [(400, 1.0), (800, 2.0)]  # 200 steps after the last call
    assert 0.8 * loop < fit.seconds <= loop
    shapes.clear()
    default_every = fit_streaming(game(), data, batch_size=4, epochs=1, monitor=slow_monitor)
    assert [step for step, _ in default_every.history] == [100, 200] and shapes == [(2, 6), (2, 6)]
    default_seed = fit_streaming(game(), data, batch_size=4, epochs=1)
    assert torch.equal(default_seed.components, fit_streaming(game(), data, batch_size=4, epochs=1, seed=0).components)
    assert default_seed.history == []


def test_unit_rows_normalizes_the_last_dimension_of_any_batch():
    vectors = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    rows = unit_rows(vectors)
    assert torch.allclose(torch.linalg.vector_norm(rows, dim=-1), torch.ones(2, 3, dtype=torch.float64))
    assert torch.allclose(rows * torch.linalg.vector_norm(vectors, dim=-1, keepdim=True), vectors)

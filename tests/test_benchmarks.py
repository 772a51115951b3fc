"""The toy benchmarks: their objectives are maximized, their stated optima are right, and ascent
optimizers (ascentrl's and torch.optim's with ``maximize=True``) reach them.

Analytic checks run in float64; optimization checks use each benchmark's own lr and steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from ascentrl import Ascent, GradientAscent
from ascentrl.benchmarks import (
    ALL_BENCHMARKS,
    MULTIMODAL_PROBLEMS,
    RAYLEIGH_BENCHMARK,
    SEED_BENCHMARKS,
    get_benchmark,
    run_benchmark,
    run_escape_experiment,
)
from ascentrl.benchmarks.functions import (
    HIMMELBLAU_MAXIMIZERS,
    SINC_LOCAL_MAXIMIZERS,
    negated_ackley,
    negated_himmelblau,
    negated_rastrigin,
    negated_rosenbrock,
    sinc,
)
from ascentrl.benchmarks.rayleigh import random_symmetric_matrix, rayleigh_quotient
from ascentrl.benchmarks.seed_suite import X_SIN_LOCAL_MAXIMIZER, X_SIN_LOCAL_MAXIMUM

OptimizerBuilder = Callable[[list[Tensor], float], torch.optim.Optimizer]

OPTIMIZERS: dict[str, OptimizerBuilder] = {
    "ascent": lambda params, lr: Ascent(params, lr=lr),
    "momentum": lambda params, lr: Ascent(params, lr=lr, momentum=0.9),
    "nesterov": lambda params, lr: Ascent(params, lr=lr, momentum=0.9, nesterov=True),
    "adam": lambda params, lr: Ascent(params, lr=lr, adaptive="adam"),
    "GradientAscent": lambda params, lr: GradientAscent(params, lr=lr),
    "torch SGD": lambda params, lr: torch.optim.SGD(params, lr=lr, maximize=True),
    "torch Adam": lambda params, lr: torch.optim.Adam(params, lr=lr, maximize=True),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: a single thread is faster and timing-independent."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gradient(function: Callable[[Tensor], Tensor], point: Tensor) -> Tensor:
    point = point.clone().double().requires_grad_(True)
    (gradient,) = torch.autograd.grad(function(point).sum(), point)
    return gradient


def _hessian(function: Callable[[Tensor], Tensor], point: Tensor) -> Tensor:
    return torch.autograd.functional.hessian(lambda x: function(x).sum(), point.clone().double())


def _random_points(dimension: int, half_width: float, count: int = 2000) -> Tensor:
    generator = torch.Generator().manual_seed(0)
    return (2 * torch.rand(count, dimension, generator=generator, dtype=torch.float64) - 1) * half_width


# ------------------------------------------------------------------ analytic optima


@pytest.mark.parametrize("dimension", [1, 2, 5])
def test_negated_rastrigin_maximum_is_zero_at_origin(dimension):
    origin = torch.zeros(dimension, dtype=torch.float64)
    assert negated_rastrigin(origin).item() == 0.0
    assert _gradient(negated_rastrigin, origin).abs().max().item() == 0.0
    assert negated_rastrigin(_random_points(dimension, 5.12)).max().item() < 0.0


@pytest.mark.parametrize("dimension", [2, 4])
def test_negated_rosenbrock_maximum_is_zero_at_ones(dimension):
    ones = torch.ones(dimension, dtype=torch.float64)
    assert negated_rosenbrock(ones).item() == 0.0
    assert _gradient(negated_rosenbrock, ones).abs().max().item() == 0.0
    assert torch.linalg.eigvalsh(_hessian(negated_rosenbrock, ones)).max().item() < 0.0
    assert negated_rosenbrock(_random_points(dimension, 2.0)).max().item() < 0.0


@pytest.mark.parametrize("dimension", [1, 2, 3])
def test_negated_ackley_maximum_is_zero_at_origin(dimension):
    origin = torch.zeros(dimension, dtype=torch.float64)
    assert negated_ackley(origin).item() == pytest.approx(0.0, abs=1e-14)
    assert _gradient(negated_ackley, origin).abs().max().item() == 0.0  # the norm's subgradient, not NaN
    assert negated_ackley(_random_points(dimension, 5.0)).max().item() < 0.0


@pytest.mark.parametrize("maximizer", HIMMELBLAU_MAXIMIZERS)
def test_negated_himmelblau_has_four_strict_maxima_of_zero(maximizer):
    point = torch.tensor(maximizer, dtype=torch.float64)
    assert negated_himmelblau(point).item() == pytest.approx(0.0, abs=1e-24)
    assert _gradient(negated_himmelblau, point).abs().max().item() < 1e-11
    assert torch.linalg.eigvalsh(_hessian(negated_himmelblau, point)).max().item() < 0.0


def test_negated_himmelblau_is_nonpositive_and_maximizers_are_distinct():
    assert negated_himmelblau(_random_points(2, 6.0)).max().item() < 0.0
    points = torch.tensor(HIMMELBLAU_MAXIMIZERS, dtype=torch.float64)
    assert torch.cdist(points, points).add(torch.eye(4) * 10).min().item() > 1.0


def test_sinc_global_maximum_and_local_maxima():
    assert sinc(torch.zeros(1, dtype=torch.float64)).item() == 1.0
    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64).unsqueeze(-1)
    values = sinc(grid)
    assert abs(grid[values.argmax()].item()) < 1e-12
    for magnitude in SINC_LOCAL_MAXIMIZERS:
        for sign in (-1.0, 1.0):
            point = torch.tensor([sign * magnitude], dtype=torch.float64)
            assert abs(_gradient(sinc, point).item()) < 1e-12
            assert _hessian(sinc, point).item() < 0.0
            assert 0.0 < sinc(point).item() < 0.13


def test_x_sin_5pi_x_local_maximizer():
    def objective(x: Tensor) -> Tensor:
        return -x * torch.sin(5 * math.pi * x)

    point = torch.tensor([X_SIN_LOCAL_MAXIMIZER], dtype=torch.float64)
    assert abs(_gradient(objective, point).item()) < 1e-12
    assert _hessian(objective, point).item() < 0.0
    assert objective(point).item() == pytest.approx(X_SIN_LOCAL_MAXIMUM, abs=1e-15)
    assert X_SIN_LOCAL_MAXIMIZER == pytest.approx(0.3128, abs=1e-4)


def test_rayleigh_quotient_is_maximized_by_eighs_top_eigenvector():
    matrix = random_symmetric_matrix(10, torch.Generator().manual_seed(3)).double()
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    top = eigenvectors[:, -1]

    def quotient(vector: Tensor) -> Tensor:
        return rayleigh_quotient(matrix, vector)

    assert quotient(top).item() == pytest.approx(eigenvalues[-1].item(), abs=1e-12)
    assert quotient(5.0 * top).item() == pytest.approx(eigenvalues[-1].item(), abs=1e-12)  # scale-invariant
    assert _gradient(quotient, top).abs().max().item() < 1e-12
    random_vectors = _random_points(10, 1.0, count=200)
    assert max(quotient(vector).item() for vector in random_vectors) < eigenvalues[-1].item()


# ------------------------------------------------------------------ registry and runner


def test_registry_holds_the_ten_seed_benchmarks_and_the_additions():
    names = [benchmark.name for benchmark in ALL_BENCHMARKS]
    assert len(names) == len(set(names)) == 15
    assert [benchmark.seed_number for benchmark in SEED_BENCHMARKS] == list(range(1, 11))
    assert {"rosenbrock", "rastrigin", "ackley", "himmelblau", "rayleigh_quotient"} <= set(names)
    assert all(benchmark.lr == 0.01 and benchmark.steps == 1000 for benchmark in SEED_BENCHMARKS)
    with pytest.raises(KeyError, match="rosenbrock"):
        get_benchmark("rosenbrok")


@pytest.mark.parametrize("benchmark", ALL_BENCHMARKS, ids=lambda benchmark: benchmark.name)
def test_objective_is_maximized_one_small_ascent_step_increases_it(benchmark):
    """The seed labelled 3, 4, 5, 8, 9, 10 'maximize' but minimized them; here J.backward() + step raises J."""
    result = run_benchmark(benchmark, lambda params: Ascent(params, lr=1e-4), steps=1)
    assert result.final_objective > result.initial_objective
    if result.optimum_value is not None:
        assert result.initial_objective <= result.optimum_value


def test_benchmarks_are_deterministic_under_their_seed():
    def make_optimizer(params):
        return Ascent(params, lr=0.01, adaptive="adam")

    for name in ("mlp_10_50_1", "rnn_mean", "rayleigh_quotient"):
        benchmark = get_benchmark(name)
        first = run_benchmark(benchmark, make_optimizer, steps=20, seed=1)
        second = run_benchmark(benchmark, make_optimizer, steps=20, seed=1)
        other_seed = run_benchmark(benchmark, make_optimizer, steps=20, seed=2)
        assert first.final_objective == second.final_objective
        assert first.initial_objective != other_seed.initial_objective


def test_building_benchmarks_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for benchmark in ALL_BENCHMARKS:
        benchmark.build(7)
    assert torch.equal(torch.rand(3), expected)


def test_runner_stops_and_reports_divergence_instead_of_crashing():
    # Plain ascent on an unbounded deep ReLU network grows J exponentially until it overflows.
    benchmark = get_benchmark("mlp_20_100_50_1")
    for name in ("ascent", "torch SGD"):
        result = run_benchmark(benchmark, lambda params, name=name: OPTIMIZERS[name](params, benchmark.lr))
        assert result.diverged
        assert 0 < result.steps < benchmark.steps


# ------------------------------------------------------------------ known optima are reached

REACHES_OPTIMUM = [
    # (benchmark, optimizer, tolerance on the distance to the optimum)
    ("linear_regression", "ascent", 1e-4),
    ("linear_regression", "torch SGD", 1e-4),
    ("linear_regression", "adam", 1e-2),
    ("linear_regression", "torch Adam", 1e-2),
    ("linear_regression", "GradientAscent", 1e-2),
    ("quadratic_1d", "ascent", 1e-6),
    ("x_sin_5pi_x", "adam", 1e-5),
    ("x_sin_5pi_x", "torch SGD", 1e-5),
    ("quadratic_2d", "nesterov", 1e-6),
    ("rosenbrock", "momentum", 1e-3),
    ("himmelblau", "ascent", 1e-5),
    ("himmelblau", "torch Adam", 1e-4),
    ("rayleigh_quotient", "adam", 1e-4),
    ("rayleigh_quotient", "torch Adam", 1e-4),
]


@pytest.mark.parametrize("name, optimizer, tolerance", REACHES_OPTIMUM, ids=lambda value: str(value))
def test_ascent_reaches_the_known_optimum(name, optimizer, tolerance):
    benchmark = get_benchmark(name)
    result = run_benchmark(benchmark, lambda params: OPTIMIZERS[optimizer](params, benchmark.lr))
    assert not result.diverged
    assert result.distance_to_optimum < tolerance
    assert result.gap == pytest.approx(0.0, abs=max(1e-4, tolerance))


def test_rayleigh_ascent_matches_eigh():
    problem = RAYLEIGH_BENCHMARK.build(0)
    optimizer = Ascent(problem.parameters, lr=RAYLEIGH_BENCHMARK.lr, adaptive="adam")
    for _ in range(RAYLEIGH_BENCHMARK.steps):
        optimizer.zero_grad()
        problem.objective().backward()
        optimizer.step()
    (vector,) = problem.parameters
    # build(0) draws the matrix first from Generator().manual_seed(0): rebuild it and ask eigh.
    eigenvalues, eigenvectors = torch.linalg.eigh(random_symmetric_matrix(10, torch.Generator().manual_seed(0)))
    direction = (vector / vector.norm()).detach()
    assert abs(float(direction @ eigenvectors[:, -1])) == pytest.approx(1.0, abs=1e-6)
    assert float(problem.objective().detach()) == pytest.approx(float(eigenvalues[-1]), abs=1e-5)
    assert problem.optimum_value == pytest.approx(float(eigenvalues[-1]), abs=1e-6)


def test_recurrent_objectives_approach_but_never_pass_their_supremum():
    rnn, lstm = get_benchmark("rnn_mean"), get_benchmark("lstm_first_step_mean")
    for benchmark in (rnn, lstm):
        result = run_benchmark(benchmark, lambda params, lr=benchmark.lr: Ascent(params, lr=lr, adaptive="adam"),
                               steps=100)
        assert result.growth > 0.5
        assert 0.0 < result.gap < 1e-3
    assert rnn.build(0).optimum_value == 1.0
    assert 0.5 < result.optimum_value < 1.0  # the LSTM's supremum, set by its initial cell state


@pytest.mark.parametrize("name", ["mlp_10_50_1", "conv2d_mean"])
def test_unbounded_objectives_grow(name):
    benchmark = get_benchmark(name)
    result = run_benchmark(benchmark, lambda params: Ascent(params, lr=benchmark.lr, adaptive="adam"), steps=200)
    assert result.optimum_value is None and result.gap is None and result.distance_to_optimum is None
    assert result.growth > 1.0


# ------------------------------------------------------------------ escape strategies


def test_escape_strategies_reach_the_global_maximum_more_often():
    """100 random starts, seed 0, same lr and steps in every arm (the numbers scripts/bench_escape.py prints)."""
    sinc_problem, rastrigin_problem = MULTIMODAL_PROBLEMS
    sinc_arms = {outcome.strategy: outcome for outcome in run_escape_experiment(sinc_problem)}
    # On sinc the central peak is wider than the side lobes: perturbation makes it absorbing.
    assert sinc_arms["perturb"].final_fraction >= sinc_arms["none"].final_fraction + 0.2
    assert sinc_arms["noise"].best_fraction >= sinc_arms["none"].best_fraction + 0.2
    rastrigin_arms = {outcome.strategy: outcome for outcome in run_escape_experiment(rastrigin_problem)}
    # On Rastrigin all basins are alike: escape finds the global maximum along the way.
    for strategy in ("perturb", "noise"):
        assert rastrigin_arms[strategy].best_fraction >= rastrigin_arms["none"].best_fraction + 0.1

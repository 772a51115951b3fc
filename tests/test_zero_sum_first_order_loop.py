"""The first-order zero-sum loop (ascentrl.games.zero_sum, steps 1-4 of its docstring) against a
plain numpy re-implementation, one game at a time: iterates, NashConv, iteration counts, the checks
every ``check_every`` iterations, the choice between current and averaged iterate, and adaptive
restarts. Also the argument checks at their boundaries and the documented defaults."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from ascentrl.envs import random_zero_sum_game
from ascentrl.games import solve_zero_sum_games


def project(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the simplex, the textbook sort-and-threshold way."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u)
    k = np.arange(1, len(v) + 1)
    support = k[u - (cumulative - 1) / k > 0][-1]
    return np.maximum(v - (cumulative[support - 1] - 1) / support, 0.0)


def gap(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float((a @ y).max() - (x @ a).min())


def reference(a: np.ndarray, method: str, tolerance: float, max_iterations: int, step: float, restarts: bool,
              restart_factor: float, check_every: int, events: dict[str, int] | None = None
              ) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The loop for one game; counts in ``events`` how often the average was the better point and how
    often the game restarted."""
    events = {} if events is None else events
    m, n = a.shape
    x, y = np.full(m, 1 / m), np.full(n, 1 / n)
    x_sum, y_sum, count = np.zeros(m), np.zeros(n), 0
    restart_gap = gap(a, x, y)
    iteration = 0
    while True:
        if iteration % check_every == 0 or iteration == max_iterations:
            best_x, best_y, best = x, y, gap(a, x, y)
            if count > 0:
                average_x, average_y = x_sum / count, y_sum / count
                if gap(a, average_x, average_y) < best:
                    best_x, best_y, best = average_x, average_y, gap(a, average_x, average_y)
                    events["average"] = events.get("average", 0) + 1
            if best <= tolerance or iteration == max_iterations:
                return best_x, best_y, best, iteration
            if restarts and iteration > 0 and best <= restart_factor * restart_gap:
                x, y, restart_gap = best_x, best_y, best
                events["restart"] = events.get("restart", 0) + 1
                x_sum, y_sum, count = np.zeros(m), np.zeros(n), 0
        if method == "primal_dual":
            x_next = project(x + step * a @ y)
            y = project(y - step * (2 * x_next - x) @ a)
            x = x_next
            terms = (x, y)
        else:
            x_half, y_half = project(x + step * a @ y), project(y - step * x @ a)
            x, y = project(x + step * a @ y_half), project(y - step * x_half @ a)
            terms = (x_half, y_half)
        if restarts:
            x_sum, y_sum, count = x_sum + terms[0], y_sum + terms[1], count + 1
        iteration += 1


@pytest.mark.parametrize("method", ["primal_dual", "extragradient"])
@pytest.mark.parametrize("restarts", [True, False])
@pytest.mark.parametrize("fixed_step", [None, 0.3])
@pytest.mark.parametrize("check_every", [1, 3])
def test_the_loop_follows_the_documented_steps(method, restarts, fixed_step, check_every):
    payoffs = random_zero_sum_game((3, 4), count=6, seed=9).payoffs[:, 0].contiguous()
    options = dict(tolerance=1e-4, max_iterations=150, restart_factor=0.5, check_every=check_every)
    solution = solve_zero_sum_games(payoffs, method=method, restarts=restarts, step_size=fixed_step, step_scale=0.9,
                                    **options)
    assert solution.iterations.dtype == torch.long
    iterations, events = [], {}
    for game, a in enumerate(payoffs.numpy()):
        step = fixed_step if fixed_step is not None else 0.9 / np.linalg.norm(a, 2)
        x, y, nash_conv, count = reference(a, method, step=step, restarts=restarts, events=events, **options)
        assert int(solution.iterations[game]) == count
        np.testing.assert_allclose(solution.row_strategies[game].numpy(), x, atol=1e-12, rtol=0)
        np.testing.assert_allclose(solution.column_strategies[game].numpy(), y, atol=1e-12, rtol=0)
        assert float(solution.nash_conv[game]) == pytest.approx(nash_conv, abs=1e-12)
        iterations.append(count)
    assert min(iterations) < 150  # some games stop early: the checks are exercised
    if restarts:  # and so are the averaged point and the restarts
        assert events.get("average", 0) > 0 and events.get("restart", 0) > 0


def test_a_game_solved_exactly_converges_at_tolerance_zero():
    """A strict saddle point: NashConv exactly 0, which is at most a tolerance of 0. The first-order
    methods see it at their first check (iteration 0) on a 1×1 game."""
    saddle = torch.tensor([[[3.0, 5.0], [1.0, 0.0]]], dtype=torch.float64)
    assert bool(solve_zero_sum_games(saddle, tolerance=0.0).converged.all())
    trivial = torch.tensor([[[2.0]]], dtype=torch.float64)
    for method in ("primal_dual", "extragradient"):
        solution = solve_zero_sum_games(trivial, method=method, tolerance=0.0)
        assert solution.iterations.tolist() == [0] and bool(solution.converged.all())


def test_the_defaults_act_as_documented():
    """Run with the defaults: checks come every 8 iterations, and restarts are on."""
    game = random_zero_sum_game((4, 5), count=1, seed=3).payoffs[:, 0].contiguous()
    loose = solve_zero_sum_games(game, method="primal_dual", tolerance=1e-3)
    assert int(loose.iterations[0]) % 8 == 0 and 0 < int(loose.iterations[0]) < 20_000
    explicit = solve_zero_sum_games(game, method="primal_dual", tolerance=1e-3, restarts=True, check_every=8)
    assert torch.equal(loose.row_strategies, explicit.row_strategies)
    unrestarted = solve_zero_sum_games(game, method="primal_dual", tolerance=1e-3, restarts=False, check_every=8)
    assert not torch.equal(loose.row_strategies, unrestarted.row_strategies)


def test_the_default_iteration_cap_is_twenty_thousand():
    """A step of 1e-4 without restarts cannot reach NashConv 0 on this game: the run stops at the
    default cap (NashConv still ~0.12)."""
    game = random_zero_sum_game((4, 5), count=1, seed=3).payoffs[:, 0].contiguous()
    capped = solve_zero_sum_games(game, method="primal_dual", tolerance=0.0, step_size=1e-4, restarts=False)
    assert capped.iterations.tolist() == [20_000] and float(capped.nash_conv[0]) > 0.1


def test_documented_defaults():
    defaults = {name: p.default for name, p in inspect.signature(solve_zero_sum_games).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == {"method": "exact", "tolerance": None, "max_iterations": 20_000, "step_scale": 0.95,
                        "step_size": None, "restarts": True, "restart_factor": 0.2, "check_every": 8}


GAME = torch.tensor([[[1.0, -1.0], [-1.0, 1.0]]], dtype=torch.float64)


@pytest.mark.parametrize(("options", "message"), [
    ({"tolerance": math.inf}, "tolerance must be"),
    ({"tolerance": True}, "tolerance must be"),
    ({"tolerance": "small"}, "tolerance must be"),
    ({"max_iterations": 2.5}, "max_iterations must be an int"),
    ({"step_scale": 0.0}, r"step_scale must be in \(0, 1\)"),
    ({"restart_factor": 1.0}, r"restart_factor must be in \(0, 1\)"),
    ({"restart_factor": 1.5}, r"restart_factor must be in \(0, 1\)"),
])
def test_arguments_at_their_boundaries_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        solve_zero_sum_games(GAME, **options)


def test_arguments_just_inside_their_boundaries_are_accepted():
    solve_zero_sum_games(GAME, tolerance=0.0)
    solve_zero_sum_games(GAME, method="primal_dual", step_scale=0.999, restart_factor=0.999, max_iterations=5)

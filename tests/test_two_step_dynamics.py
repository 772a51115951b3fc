"""Extragradient and optimistic ascent with two step sizes (``extrapolation_lr``, ascentrl.games.dynamics).

Truths used:
* steps worked out by hand on the bilinear game ``u_1 = x·y``, ``u_2 = −x·y`` (gradient
  ``g = (y, −x)``), and a plain numpy recursion of the two update rules over many steps;
* the identity of Hsieh et al. (2019): with ``γ = η`` the look-ahead points of Popov's
  past-extragradient are the iterates of optimistic gradient ascent (OGDA), checked against the
  library's own OGDA step by step;
* with ``γ = η`` extragradient is bit for bit the one-step-size method;
* on the bilinear game with noisy gradients, the behaviour the literature predicts: with one step
  size the iterate stays in a cloud however the step decays (Li et al. 2022), with two it converges
  (Hsieh et al. 2020).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from ascentrl import Ascent
from ascentrl.games import make_dynamics
from ascentrl.training import InverseTimeLR

LR, EXTRAPOLATION_LR = 0.1, 0.4


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def scalar_players(*values: float) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.tensor(value, dtype=torch.float64)) for value in values]


def bilinear(x: Tensor, y: Tensor):
    return lambda: [x * y, -x * y]


def run(method: str, steps: int, start=(1.0, 0.5), lr: float = LR, **options) -> list[list[float]]:
    """The players' values at the start and after every step."""
    players = scalar_players(*start)
    dynamics = make_dynamics(method, players, bilinear(*players), [Ascent([p], lr=lr) for p in players], **options)
    trajectory = [[p.item() for p in players]]
    for _ in range(steps):
        dynamics.step()
        trajectory.append([p.item() for p in players])
    return trajectory


def bilinear_gradient(point: np.ndarray) -> np.ndarray:
    return np.array([point[1], -point[0]])


# From (x, y) = (1, 0.5) with η = 0.1, γ = 0.4.
HAND_STEPS = [
    # look-ahead (x + γy, y − γx) = (1.2, 0.1); update (x + η·0.1, y − η·1.2)
    ("extragradient", 1, [1.01, 0.38]),
    # no previous gradient: the look-ahead point is the start, a plain step (x + ηy, y − ηx)
    ("optimistic", 1, [1.05, 0.4]),
    # look-ahead from (1.05, 0.4) along the previous gradient (0.5, −1): (1.25, 0.0); its gradient
    # (0.0, −1.25) moves the base point to (1.05 + 0, 0.4 − 0.125)
    ("optimistic", 2, [1.05, 0.275]),
]


@pytest.mark.parametrize(("method", "steps", "expected"), HAND_STEPS)
def test_steps_worked_out_by_hand(method, steps, expected):
    final = run(method, steps, extrapolation_lr=EXTRAPOLATION_LR)[-1]
    assert final == pytest.approx(expected, abs=1e-12)


def reference_trajectory(method: str, steps: int, start=(1.0, 0.5)) -> np.ndarray:
    """The two-step-size rules written out in numpy (module docstring of ascentrl.games.dynamics)."""
    point, previous, points = np.array(start), None, [np.array(start)]
    for _ in range(steps):
        if method == "extragradient":
            lookahead = point + EXTRAPOLATION_LR * bilinear_gradient(point)
        else:
            lookahead = point if previous is None else point + EXTRAPOLATION_LR * previous
        previous = bilinear_gradient(lookahead)
        point = point + LR * previous
        points.append(point)
    return np.array(points)


@pytest.mark.parametrize("method", ["extragradient", "optimistic"])
def test_many_steps_follow_the_update_rules(method):
    trajectory = np.array(run(method, 60, extrapolation_lr=EXTRAPOLATION_LR))
    np.testing.assert_allclose(trajectory, reference_trajectory(method, 60), rtol=0, atol=1e-12)


def test_past_extragradient_lookahead_points_are_the_optimistic_iterates():
    players = scalar_players(1.0, 0.5)
    popov = make_dynamics("optimistic", players, bilinear(*players), [Ascent([p], lr=LR) for p in players],
                          extrapolation_lr=LR)
    lookaheads = []
    for _ in range(30):
        popov.step()
        previous = popov.state_dict()["previous_gradients"]
        lookaheads.append([p.item() + LR * g[0].item() for p, g in zip(players, previous)])
    # OGDA started from the first of them, with the gradient at the look-ahead point before as memory.
    ogda_players = scalar_players(*lookaheads[0])
    ogda = make_dynamics("optimistic", ogda_players, bilinear(*ogda_players),
                         [Ascent([p], lr=LR) for p in ogda_players])
    first_lookahead = [1.0, 0.5]  # the first step's look-ahead point is the start
    ogda.load_state_dict({"previous_gradients": [[torch.tensor(first_lookahead[1], dtype=torch.float64)],
                                                 [torch.tensor(-first_lookahead[0], dtype=torch.float64)]]})
    for expected in lookaheads[1:]:
        ogda.step()
        assert [p.item() for p in ogda_players] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("ascent_options", [{}, {"momentum": 0.5}])
def test_extragradient_with_its_own_rate_as_extrapolation_rate_is_unchanged_bit_for_bit(ascent_options):
    runs = []
    for options in ({}, {"extrapolation_lr": 0.3}):
        players = scalar_players(1.0, 0.5)
        optimizers = [Ascent([p], lr=0.3, **ascent_options) for p in players]
        dynamics = make_dynamics("extragradient", players, bilinear(*players), optimizers, **options)
        for _ in range(25):
            dynamics.step()
        runs.append([p.detach().clone() for p in players])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


@pytest.mark.parametrize("method", ["extragradient", "optimistic"])
def test_the_optimizers_keep_their_rate_also_when_the_lookahead_step_fails(method):
    players = scalar_players(1.0, 0.5)
    optimizers = [Ascent([p], lr=LR) for p in players]
    dynamics = make_dynamics(method, players, bilinear(*players), optimizers, extrapolation_lr=EXTRAPOLATION_LR)
    for _ in range(3):
        dynamics.step()
    assert [o.param_groups[0]["lr"] for o in optimizers] == [LR, LR]

    def refuse_the_lookahead(optimizer, args, kwargs):
        if optimizer.param_groups[0]["lr"] == EXTRAPOLATION_LR:
            raise FloatingPointError("look-ahead refused")

    optimizers[1].register_step_pre_hook(refuse_the_lookahead)
    with pytest.raises(FloatingPointError, match="look-ahead refused"):
        dynamics.step()
    assert [o.param_groups[0]["lr"] for o in optimizers] == [LR, LR]


def test_a_restored_past_extragradient_continues_exactly():
    truth = run("optimistic", 12, extrapolation_lr=EXTRAPOLATION_LR)
    players = scalar_players(1.0, 0.5)
    first = make_dynamics("optimistic", players, bilinear(*players), [Ascent([p], lr=LR) for p in players],
                          extrapolation_lr=EXTRAPOLATION_LR)
    for _ in range(5):
        first.step()
    resumed_players = scalar_players(*[p.item() for p in players])
    resumed = make_dynamics("optimistic", resumed_players, bilinear(*resumed_players),
                            [Ascent([p], lr=LR) for p in resumed_players], extrapolation_lr=EXTRAPOLATION_LR)
    resumed.load_state_dict(first.state_dict())
    for expected in truth[6:]:
        resumed.step()
        assert [p.item() for p in resumed_players] == expected


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, True, "1"])
def test_a_bad_extrapolation_rate_is_named(value):
    x, y = scalar_players(1.0, 0.5)
    for method in ("extragradient", "optimistic"):
        with pytest.raises(ValueError, match="extrapolation_lr must be a finite number > 0 or None"):
            make_dynamics(method, [x, y], bilinear(x, y), [Ascent([x], lr=LR), Ascent([y], lr=LR)],
                          extrapolation_lr=value)


# ---------------------------------------------------------------------------- noisy gradients
def mean_squared_distance_late(method: str, extrapolation_lr: float | None, steps: int = 600) -> float:
    """``‖θ‖²`` averaged over the last quarter of a run on ``x·y`` whose gradients carry N(0, 0.5²)
    noise (one draw per step, shared by the step's evaluations: the same sample), with the rate
    ``0.5 / (1 + t/10)``; the equilibrium is 0."""
    generator = torch.Generator().manual_seed(0)
    players = scalar_players(1.0, 0.5)
    noise = torch.zeros(2, dtype=torch.float64)
    x, y = players
    optimizers = [Ascent([p], lr=0.5) for p in players]
    schedulers = [InverseTimeLR(optimizer, 10.0) for optimizer in optimizers]
    options = {} if extrapolation_lr is None else {"extrapolation_lr": extrapolation_lr}
    dynamics = make_dynamics(method, players, lambda: [x * y + noise[0] * x, -x * y + noise[1] * y], optimizers,
                             **options)
    squared = []
    for _ in range(steps):
        noise.copy_(0.5 * torch.randn(2, generator=generator, dtype=torch.float64))
        dynamics.step()
        for scheduler in schedulers:
            scheduler.step()
        squared.append(float(x.detach() ** 2 + y.detach() ** 2))
    return float(np.mean(squared[-steps // 4:]))


@pytest.mark.parametrize("method", ["extragradient", "optimistic"])
def test_on_noisy_gradients_only_two_step_sizes_converge_in_the_last_iterate(method):
    one_step_size = mean_squared_distance_late(method, None)
    two_step_sizes = mean_squared_distance_late(method, 0.5)
    # One step size: the cloud keeps a size ~σ/c although the rate has fallen 60-fold.
    assert one_step_size > 0.1
    assert two_step_sizes < 0.1 * one_step_size

"""The ten benchmarks of the original ``gradient-ascent`` package, as objectives to maximize.

The original script labelled benchmarks 3, 4, 5, 8, 9 and 10 "maximize" but called
``(-output).backward()`` on an ascent optimizer, so it actually minimized them.  Here every
objective J is the quantity to **maximize** and is used as is: ``J.backward()``, then step.

====  ==========================  ==================================================  ================
 #    name                        J (maximized)                                       optimum
====  ==========================  ==================================================  ================
 1    ``linear_regression``       −(w·2 + b − 10)², a ``Linear(1, 1)`` on input 2.0   0 (output = 10)
 2    ``quadratic_1d``            −θ², θ₀ = 1                                         0 at θ = 0
 3    ``mlp_10_50_1``             output of a 10-50-1 ReLU MLP on one random input    unbounded
 4    ``mlp_20_100_50_1``         same, 20-100-50-1                                   unbounded
 5    ``mlp_10_50_100_50_1``      same, 10-50-100-50-1                                unbounded
 6    ``x_sin_5pi_x``             −θ·sin(5πθ), θ₀ = 0.5                               local max at θ ≈ 0.3128
 7    ``quadratic_2d``            −(θ₀² + θ₁²), θ = (1, 1) at the start               0 at (0, 0)
 8    ``conv2d_mean``             mean output of ``Conv2d(3, 16, 3)`` on 1×3×32×32    unbounded
 9    ``rnn_mean``                mean output of a 2-layer ``RNN(10, 20)``, length 5  supremum 1 (tanh)
10    ``lstm_first_step_mean``    mean of the first step's output, 2-layer LSTM       supremum < 1 (≈ 0.84)
====  ==========================  ==================================================  ================

All run for 1000 steps at lr 0.01, as the original did.  Models and inputs are built from the
benchmark seed (:func:`~ascentrl.benchmarks.problem.seeded_rng`), with PyTorch's default
initialisation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ascentrl.benchmarks.problem import Benchmark, Problem, parameter, seeded_rng

_LR = 0.01
_STEPS = 1000

LINEAR_TARGET = 10.0
LINEAR_INPUT = 2.0
X_SIN_LOCAL_MAXIMIZER = 0.3127827812953889
"""Root of d/dθ[−θ sin(5πθ)] = 0, i.e. tan(5πθ) = −5πθ, in (0.3, 0.35), by Newton's method."""
X_SIN_LOCAL_MAXIMUM = -X_SIN_LOCAL_MAXIMIZER * math.sin(5 * math.pi * X_SIN_LOCAL_MAXIMIZER)


def _build_linear_regression(seed: int) -> Problem:
    """J = −(f(2) − 10)² for f = ``Linear(1, 1)``; distance = |f(2) − 10|."""
    with seeded_rng(seed):
        model = nn.Linear(1, 1)
    inputs = torch.tensor([[LINEAR_INPUT]])
    target = torch.tensor([[LINEAR_TARGET]])

    def objective() -> torch.Tensor:
        return -nn.functional.mse_loss(model(inputs), target)

    def distance() -> float:
        with torch.no_grad():
            return abs(float(model(inputs)) - LINEAR_TARGET)

    return Problem(list(model.parameters()), objective, 0.0, distance)


def _build_quadratic_1d(seed: int) -> Problem:
    """J = −θ², θ₀ = 1; distance = |θ|."""
    theta = parameter([1.0])
    return Problem([theta], lambda: -(theta**2).sum(), 0.0, lambda: float(theta.detach().abs()))


def _mlp_problem(widths: tuple[int, ...], seed: int) -> Problem:
    """J = output of a ReLU MLP with layer widths ``widths`` on one standard-normal input."""
    with seeded_rng(seed):
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
        inputs = torch.randn(1, widths[0])
    return Problem(list(model.parameters()), lambda: model(inputs).sum())


def _build_x_sin_5pi_x(seed: int) -> Problem:
    """J = −θ sin(5πθ), θ₀ = 0.5; distance = |θ − 0.31278…| (the local maximizer ascent reaches)."""
    theta = parameter([0.5])

    def objective() -> torch.Tensor:
        return -(theta * torch.sin(5 * math.pi * theta)).sum()

    return Problem([theta], objective, X_SIN_LOCAL_MAXIMUM, lambda: abs(float(theta.detach()) - X_SIN_LOCAL_MAXIMIZER))


def _build_quadratic_2d(seed: int) -> Problem:
    """J = −(θ₀² + θ₁²), θ = (1, 1) at the start; distance = ‖θ‖."""
    theta = parameter([1.0, 1.0])
    return Problem([theta], lambda: -(theta**2).sum(), 0.0, lambda: float(theta.detach().norm()))


def _build_conv2d_mean(seed: int) -> Problem:
    """J = mean output of ``Conv2d(3, 16, 3)`` on one standard-normal 1×3×32×32 image."""
    with seeded_rng(seed):
        model = nn.Conv2d(3, 16, 3)
        image = torch.randn(1, 3, 32, 32)
    return Problem(list(model.parameters()), lambda: model(image).mean())


def _build_rnn_mean(seed: int) -> Problem:
    """J = mean of a 2-layer ``RNN(10, 20)``'s outputs over a random length-5 sequence.

    The outputs are tanh activations, so J < 1.
    """
    with seeded_rng(seed):
        model = nn.RNN(10, 20, num_layers=2)
        sequence = torch.randn(5, 1, 10)
        initial_hidden = torch.randn(2, 1, 20)
    return Problem(list(model.parameters()), lambda: model(sequence, initial_hidden)[0].mean(), 1.0)


def _build_lstm_first_step_mean(seed: int) -> Problem:
    """J = mean of a 2-layer ``LSTM(10, 20)``'s output at the first time step.

    That output is the top layer's h₁ = o ⊙ tanh(c₁) with c₁ = f ⊙ c₀ + i ⊙ g, gates o, f, i in
    (0, 1) and g in (−1, 1), each unit's set by its own weights.  So J < 1, and its supremum is
    mean_j tanh(1 + max(c₀ⱼ, 0)) for the top layer's initial cell state c₀ (o, i, g → 1; f → 1
    where c₀ⱼ > 0, f → 0 elsewhere), approached but never attained.
    """
    with seeded_rng(seed):
        model = nn.LSTM(10, 20, num_layers=2)
        sequence = torch.randn(5, 1, 10)
        initial_state = (torch.randn(2, 1, 20), torch.randn(2, 1, 20))
    top_initial_cell = initial_state[1][-1, 0]
    supremum = float(torch.tanh(1 + top_initial_cell.clamp(min=0)).mean())
    return Problem(list(model.parameters()), lambda: model(sequence, initial_state)[0][0].mean(), supremum)


SEED_BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("linear_regression", "J = -(Linear(1,1)(2.0) - 10)^2", _build_linear_regression,
              _LR, _STEPS, "global", seed_number=1),
    Benchmark("quadratic_1d", "J = -x^2, x0 = 1", _build_quadratic_1d,
              _LR, _STEPS, "global", seed_number=2),
    Benchmark("mlp_10_50_1", "J = MLP 10-50-1 (ReLU) output on one random input",
              lambda seed: _mlp_problem((10, 50, 1), seed), _LR, _STEPS, "unbounded", seed_number=3),
    Benchmark("mlp_20_100_50_1", "J = MLP 20-100-50-1 (ReLU) output on one random input",
              lambda seed: _mlp_problem((20, 100, 50, 1), seed), _LR, _STEPS, "unbounded", seed_number=4),
    Benchmark("mlp_10_50_100_50_1", "J = MLP 10-50-100-50-1 (ReLU) output on one random input",
              lambda seed: _mlp_problem((10, 50, 100, 50, 1), seed), _LR, _STEPS, "unbounded",
              seed_number=5),
    Benchmark("x_sin_5pi_x", "J = -x sin(5 pi x), x0 = 0.5 (local max at x = 0.3128)", _build_x_sin_5pi_x,
              _LR, _STEPS, "local", seed_number=6),
    Benchmark("quadratic_2d", "J = -(x0^2 + x1^2), x = (1, 1) at the start", _build_quadratic_2d,
              _LR, _STEPS, "global", seed_number=7),
    Benchmark("conv2d_mean", "J = mean Conv2d(3,16,3) output on a random 1x3x32x32 image", _build_conv2d_mean,
              _LR, _STEPS, "unbounded", seed_number=8),
    Benchmark("rnn_mean", "J = mean output of a 2-layer RNN(10,20), length-5 sequence (< 1)", _build_rnn_mean,
              _LR, _STEPS, "supremum", seed_number=9),
    Benchmark("lstm_first_step_mean", "J = mean first-step output of a 2-layer LSTM(10,20) (sup < 1)",
              _build_lstm_first_step_mean, _LR, _STEPS, "supremum", seed_number=10),
)
"""The original package's ten benchmarks, in its order."""

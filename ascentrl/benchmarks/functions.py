"""Classic optimization test functions, negated so that they are **maximized**.

Each function takes points ``x`` of shape ``(..., d)`` and returns J of shape ``(...)``, so one
call evaluates a batch of points.  The textbook versions are minimized; ours are their
negatives, with maxima where the originals have minima:

* negated Rosenbrock, J(x) = −Σᵢ [(a − xᵢ)² + b(xᵢ₊₁ − xᵢ²)²] (a = 1, b = 100): a curved,
  narrow valley-turned-ridge; one global maximum J = 0 at x = (1, …, 1).
* negated Rastrigin, J(x) = −[A·d + Σᵢ (xᵢ² − A cos 2πxᵢ)] (A = 10): a paraboloid covered in
  ripples; global maximum J = 0 at x = 0 and a local maximum near every integer point.
* negated Ackley, J(x) = 20 exp(−0.2 √(mean xᵢ²)) + exp(mean cos 2πxᵢ) − 20 − e: a cone with
  ripples; global maximum J = 0 at x = 0.
* negated Himmelblau (d = 2), J(x, y) = −[(x² + y − 11)² + (x + y² − 7)²]: four global maxima
  J = 0, listed in :data:`HIMMELBLAU_MAXIMIZERS`.
* the sinc function, J(x) = sin(πx)/(πx) (d = 1, already a maximization problem): global
  maximum J = 1 at x = 0 and a local maximum between every two consecutive zeros beyond ±1,
  see :data:`SINC_LOCAL_MAXIMIZERS`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

RASTRIGIN_A = 10.0

HIMMELBLAU_MAXIMIZERS: tuple[tuple[float, float], ...] = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286169),
    (3.5844283403304917, -1.8481265269644034),
)
"""The four points where negated Himmelblau attains its maximum 0 (Newton's method, float64)."""

SINC_LOCAL_MAXIMIZERS: tuple[float, ...] = (2.4590240329567616, 4.477408583432516, 6.484387126386343,
                                            8.488068696093448)
"""Positive local maximizers of sinc within |x| ≤ 10 (roots of tan(πx) = πx); sinc is even."""


def negated_rosenbrock(x: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    """J(x) = −Σᵢ [(a − xᵢ)² + b(xᵢ₊₁ − xᵢ²)²]; maximum 0 at x = (a, a², …) = (1, …, 1)."""
    head, tail = x[..., :-1], x[..., 1:]
    return -((a - head) ** 2 + b * (tail - head**2) ** 2).sum(-1)


def negated_rastrigin(x: Tensor, amplitude: float = RASTRIGIN_A) -> Tensor:
    """J(x) = −[A·d + Σᵢ (xᵢ² − A cos 2πxᵢ)]; maximum 0 at x = 0, local maxima near integer points."""
    return -(amplitude * x.shape[-1] + (x**2 - amplitude * torch.cos(2 * math.pi * x)).sum(-1))


def negated_ackley(x: Tensor) -> Tensor:
    """J(x) = 20 exp(−0.2 √(mean xᵢ²)) + exp(mean cos 2πxᵢ) − 20 − e; maximum 0 at x = 0.

    The root-mean-square is computed as ‖x‖/√d with :func:`torch.linalg.vector_norm`, whose
    gradient at x = 0 is 0 rather than NaN (J has a cone-shaped peak there).
    """
    dimension = x.shape[-1]
    root_mean_square = torch.linalg.vector_norm(x, dim=-1) / math.sqrt(dimension)
    mean_cosine = torch.cos(2 * math.pi * x).mean(-1)
    return 20 * torch.exp(-0.2 * root_mean_square) + torch.exp(mean_cosine) - 20 - math.e


def negated_himmelblau(x: Tensor) -> Tensor:
    """J(x, y) = −[(x² + y − 11)² + (x + y² − 7)²]; maximum 0 at the four :data:`HIMMELBLAU_MAXIMIZERS`."""
    first, second = x[..., 0], x[..., 1]
    return -((first**2 + second - 11) ** 2 + (first + second**2 - 7) ** 2)


def sinc(x: Tensor) -> Tensor:
    """J(x) = sin(πx)/(πx) for x of shape ``(..., 1)``; maximum 1 at x = 0, many local maxima."""
    return torch.sinc(x).squeeze(-1)


def distance_to_nearest(x: Tensor, maximizers: Tensor) -> Tensor:
    """min over rows m of ``maximizers`` of ‖x − m‖, for x of shape ``(..., d)``."""
    return torch.cdist(x.reshape(-1, x.shape[-1]), maximizers.to(x.dtype)).min(-1).values.reshape(x.shape[:-1])

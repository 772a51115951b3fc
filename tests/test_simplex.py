"""project_to_simplex is the exact Euclidean projection onto the probability simplex.

Truths used: a reference that finds the threshold ``τ`` with ``Σ max(v − τ, 0) = 1`` by bisection
(written here, independent of the sort-based formula), the KKT conditions of
``min ‖x − v‖² s.t. x ≥ 0, Σx = 1`` (``v_i − x_i = τ`` on the support, ``v_i ≤ τ`` off it), and
the definition of a projection (no feasible point is closer). All in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from ascentrl.games import project_to_simplex
from ascentrl.games.simplex import project_array_to_simplex


def bisection_projection(values: Tensor, iterations: int = 200) -> Tensor:
    """Project each row of a 2-D tensor by bisecting on the threshold τ.

    ``f(τ) = Σ max(v − τ, 0)`` decreases from ``≥ 1`` at ``τ = min(v) − 1`` to ``0`` at
    ``τ = max(v)``; 200 halvings pin τ down to machine precision.
    """
    low = values.min(-1, keepdim=True).values - 1
    high = values.max(-1, keepdim=True).values
    for _ in range(iterations):
        middle = (low + high) / 2
        too_low = (values - middle).clamp_min(0).sum(-1, keepdim=True) > 1
        low = torch.where(too_low, middle, low)
        high = torch.where(too_low, high, middle)
    return (values - (low + high) / 2).clamp_min(0)


def random_values(*shape: int, seed: int = 0, scale: float = 2.0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_matches_bisection_on_the_threshold(size):
    values = random_values(400, size, seed=size)
    assert torch.allclose(project_to_simplex(values), bisection_projection(values), atol=1e-12, rtol=0)


def test_hand_computed_projections():
    values = torch.tensor(
        [
            [0.5, 0.5, 0.0],  # already on the simplex
            [2.0, 0.0, 0.0],  # τ = 1: only the first entry survives
            [1.0, 1.0, 1.0],  # τ = 2/3: uniform
            [0.8, 0.6, -5.0],  # τ = 0.2: the support is the first two entries
        ],
        dtype=torch.float64,
    )
    expected = torch.tensor(
        [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.4, 0.0]], dtype=torch.float64
    )
    assert torch.allclose(project_to_simplex(values), expected, atol=1e-15, rtol=0)


def test_kkt_conditions_hold():
    values = random_values(300, 6, seed=1)
    projected = project_to_simplex(values)
    assert bool((projected >= 0).all())
    assert torch.allclose(projected.sum(-1), torch.ones(300, dtype=torch.float64), atol=1e-12, rtol=0)
    residual = values - projected  # equals τ on the support
    support = projected > 0
    threshold = torch.where(support, residual, -torch.inf).amax(-1, keepdim=True)
    assert torch.allclose(torch.where(support, residual, threshold), threshold.expand_as(residual), atol=1e-12)
    assert bool((torch.where(support, -torch.inf, values) <= threshold + 1e-12).all())


def test_no_feasible_point_is_closer():
    values = random_values(50, 4, seed=2)
    projected = project_to_simplex(values)
    generator = torch.Generator().manual_seed(3)
    exponential = -torch.rand(200, 4, generator=generator, dtype=torch.float64).log()
    candidates = exponential / exponential.sum(-1, keepdim=True)  # uniform on the simplex
    best = (values - projected).norm(dim=-1)
    others = (values[:, None, :] - candidates[None]).norm(dim=-1)
    assert bool((best[:, None] <= others + 1e-12).all())


def test_batched_along_any_dimension():
    values = random_values(5, 4, 3, seed=4)
    along_last = project_to_simplex(values)
    assert torch.allclose(along_last, bisection_projection(values.reshape(-1, 3)).reshape(5, 4, 3), atol=1e-12)
    along_middle = project_to_simplex(values, dim=1)
    expected = project_to_simplex(values.transpose(1, 2)).transpose(1, 2)
    assert torch.allclose(along_middle, expected, atol=1e-15, rtol=0)
    along_first = project_to_simplex(values, dim=0)
    assert torch.allclose(along_first.sum(0), torch.ones(4, 3, dtype=torch.float64), atol=1e-12)


def test_shift_invariant_and_idempotent():
    values = random_values(100, 5, seed=5)
    projected = project_to_simplex(values)
    assert torch.allclose(project_to_simplex(values + 3.7), projected, atol=1e-12)
    assert torch.allclose(project_to_simplex(projected), projected, atol=1e-15)


def test_float32_stays_float32():
    values = random_values(10, 3, seed=6).float()
    projected = project_to_simplex(values)
    assert projected.dtype == torch.float32
    assert torch.allclose(projected.double(), bisection_projection(values.double()), atol=1e-6)


def test_bad_input():
    with pytest.raises(TypeError, match="floating-point"):
        project_to_simplex(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="floating-point"):
        project_to_simplex([0.2, 0.8])
    with pytest.raises(ValueError, match="at least one entry"):
        project_to_simplex(torch.empty(3, 0))
    with pytest.raises(ValueError, match="at least one entry"):
        project_to_simplex(torch.tensor(1.0))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_array_projection_matches_bisection(size):
    """The NumPy twin (closed-form dynamics) against the same independent bisection reference."""
    values = random_values(64, size, seed=size)
    projected = project_array_to_simplex(values.numpy())
    assert torch.allclose(torch.from_numpy(projected), bisection_projection(values), atol=1e-12, rtol=0)


def test_array_projection_hand_computed_ties_and_padding():
    values = np.array([[0.5, 0.5, 0.5], [2.0, 0.0, -1.0], [0.3, 0.3, -np.inf]])
    expected = np.array([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(project_array_to_simplex(values), expected, atol=1e-15, rtol=0)


def test_array_projection_writes_into_a_view():
    stacked = np.array([[[0.9, 0.6, 7.0], [0.2, -0.4, 0.1]]])
    view = stacked[..., 0, :2]  # a player's actions inside a padded stack
    project_array_to_simplex(view, out=view)
    np.testing.assert_allclose(stacked, [[[0.65, 0.35, 7.0], [0.2, -0.4, 0.1]]], atol=1e-15, rtol=0)


def test_array_projection_runs_along_the_last_axis_of_a_batch_and_keeps_float32():
    """A (2, 3, 4) batch (games, players, actions): each last-axis slice as projected alone; float32
    stays float32."""
    values = random_values(2, 3, 4, seed=5)
    projected = project_array_to_simplex(values.numpy())
    assert torch.allclose(torch.from_numpy(projected), bisection_projection(values.reshape(6, 4)).reshape(2, 3, 4),
                          atol=1e-12, rtol=0)
    single = project_array_to_simplex(values.float().numpy())
    assert single.dtype == np.float32


def test_array_projection_clamps_inside_the_view_it_writes():
    stacked = np.array([[2.0, 0.0, -1.0, 9.0]])
    view = stacked[:, :3]
    project_array_to_simplex(view, out=view)
    assert stacked.tolist() == [[1.0, 0.0, 0.0, 9.0]]

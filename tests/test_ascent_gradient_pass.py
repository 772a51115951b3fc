"""The one read of the gradients in Ascent.step(): NaN/inf check, logged norm, and what it must not change.

Independent truth: the gradient norm recomputed here in float64 from the gradients; torch.optim.Adam
(fused=True, maximize=True), whose kernel Ascent's default path calls, compared bit for bit; the
parameter names of ``Module.named_parameters()``.
"""

from __future__ import annotations

import math

import pytest
import torch
from harness.optimizer_timing import WORKLOADS, mlp_shapes

from ascentrl import Ascent, NonFiniteGradientError
from ascentrl import _gradients as gradients

SMALL = WORKLOADS["actor-critic"]  # many small tensors: the norm flattens them first
LARGE = [(5000,), (3, 4000), (7000,), (2, 2, 2000)]  # large tensors: a norm per tensor


def actor_critic() -> torch.nn.ModuleDict:
    torch.manual_seed(0)

    def mlp(outputs: int) -> torch.nn.Sequential:
        return torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                   torch.nn.Linear(64, outputs))

    return torch.nn.ModuleDict({"actor": mlp(4), "critic": mlp(1)})


def params_with_grads(shapes, seed: int = 0, dtype=torch.float32, scale: float = 1.0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        param = torch.randn(shape, generator=generator, dtype=dtype).requires_grad_()
        param.grad = torch.randn(shape, generator=generator, dtype=dtype) * scale
        params.append(param)
    return params


def float64_norm(tensors: list[torch.Tensor]) -> float:
    return math.sqrt(sum(float((t.double() ** 2).sum()) for t in tensors))


def snapshot(optimizer: Ascent, params: list[torch.Tensor]) -> list[torch.Tensor]:
    state = [value for p in params for value in optimizer.state[p].values() if isinstance(value, torch.Tensor)]
    return [t.detach().clone() for t in [*params, *state]]


def test_the_workload_is_a_64_64_actor_critic():
    assert SMALL == [tuple(p.shape) for p in actor_critic().parameters()]
    assert mlp_shapes((8, 64, 64, 4)) == [(64, 8), (64,), (64, 64), (64,), (4, 64), (4,)]
    assert sum(math.prod(shape) for shape in SMALL) == 9797


@pytest.mark.parametrize("shapes", [SMALL, LARGE], ids=["small-tensors", "large-tensors"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_logged_norm_is_the_norm_of_all_gradients(shapes, dtype, clip_norm):
    params = params_with_grads(shapes, dtype=dtype, scale=3.0)
    expected = float64_norm([p.grad for p in params])
    optimizer = Ascent(params, lr=1e-3, adaptive="adam", clip_norm=clip_norm)
    optimizer.step()
    tolerance = 1e-6 if dtype == torch.float32 else 1e-13  # float32 norms accumulate in float32, as torch's do
    assert optimizer.last_stats.grad_norm == pytest.approx(expected, rel=tolerance)


def test_logged_norm_spans_groups_dtypes_and_missing_gradients():
    small = params_with_grads(SMALL[:5], seed=1)
    large = params_with_grads(LARGE, seed=2, dtype=torch.float64)
    mixed = params_with_grads([(3,), (50,)], seed=3) + params_with_grads([(7,)], seed=4, dtype=torch.float64)
    small[2].grad = None
    optimizer = Ascent([{"params": small}, {"params": large, "lr": 0.1}, {"params": mixed}], lr=1e-3, adaptive="adam")
    optimizer.step()
    every = [p.grad for p in small + large + mixed if p.grad is not None]
    assert optimizer.last_stats.grad_norm == pytest.approx(float64_norm(every), rel=1e-6)


def test_a_norm_that_overflows_float32_is_computed_again_and_does_not_stop_the_step():
    """Entries of 1e20 are finite, but their float32 sum of squares is not: the check must not refuse them."""
    params = params_with_grads(SMALL)
    params[3].grad[5] = 1e20
    params[6].grad[1, 2] = -3e20
    expected = float64_norm([p.grad for p in params])
    optimizer = Ascent(params, lr=1e-3, adaptive="adam")
    before = [p.detach().clone() for p in params]
    optimizer.step()
    assert optimizer.last_stats.grad_norm == pytest.approx(expected, rel=1e-6)
    assert not optimizer.last_stats.skipped and optimizer.steps == 1
    assert not torch.equal(params[3].detach(), before[3])


POSITIONS = [(0, 0), (0, -1), (4, 17), (11, 0), (6, 100)]  # (tensor, flat index) in the actor-critic


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("tensor, index", POSITIONS)
@pytest.mark.parametrize("path", [dict(), dict(foreach=True), dict(foreach=False)], ids=["fused", "foreach", "forloop"])
def test_a_nonfinite_entry_anywhere_stops_the_step_before_anything_changes(value, tensor, index, path):
    model = actor_critic()
    params = list(model.parameters())
    optimizer = Ascent(model.named_parameters(), lr=0.01, adaptive="adam", clip_norm=0.5, **path)
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer.step()  # state exists, so "changes nothing" covers moments and step counters
    for p in params:
        p.grad = torch.randn_like(p)
    params[tensor].grad.view(-1)[index] = value
    grads = [p.grad.clone() for p in params]
    before = snapshot(optimizer, params)
    name = [name for name, _ in model.named_parameters()][tensor]
    with pytest.raises(NonFiniteGradientError, match=rf"parameter {name} with shape .* at step 1; the step was not"):
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot(optimizer, params)))
    assert all(torch.equal(p.grad.view(torch.int32), g.view(torch.int32)) for p, g in zip(params, grads))
    assert optimizer.steps == 1 and optimizer.last_stats.step == 1 and not optimizer.last_stats.skipped


@pytest.mark.parametrize("shapes", [SMALL, LARGE], ids=["small-tensors", "large-tensors"])
def test_a_nonfinite_entry_is_skipped_on_request_and_named_by_position_without_names(shapes):
    params = params_with_grads(shapes)
    groups = [{"params": params[:2]}, {"params": params[2:]}]
    optimizer = Ascent(groups, lr=0.01, adaptive="adam", nonfinite="skip")
    params[-1].grad.view(-1)[-1] = float("nan")
    before = [p.detach().clone() for p in params]
    optimizer.step()
    assert optimizer.last_stats.skipped and math.isnan(optimizer.last_stats.grad_norm) and optimizer.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, params))
    assert all(not value.count_nonzero() for state in optimizer.state.values() for value in state.values())
    raising = Ascent([{"params": params[:2]}, {"params": params[2:]}], lr=0.01, adaptive="adam")
    with pytest.raises(NonFiniteGradientError, match=rf"param_groups\[1\]\['params'\]\[{len(params) - 3}\]"):
        raising.step()


@pytest.mark.parametrize("options", [dict(), dict(clip_norm=0.5), dict(clip_norm=0.5, foreach=True)],
                         ids=["default", "clip_norm", "clip_norm-foreach"])
def test_gradients_are_read_only(options):
    params = params_with_grads(SMALL)
    grads = [p.grad.clone() for p in params]
    versions = [p.grad._version for p in params]
    optimizer = Ascent(params, lr=0.01, adaptive="adam", **options)
    for _ in range(3):
        optimizer.step()
    assert all(torch.equal(p.grad, g) for p, g in zip(params, grads))
    assert [p.grad._version for p in params] == versions


@pytest.mark.parametrize("shapes", [SMALL, LARGE], ids=["small-tensors", "large-tensors"])
def test_default_step_is_torch_fused_adam_bit_for_bit(shapes):
    """The check only reads: parameters and state equal torch's fused Adam exactly, step after step."""
    ours = params_with_grads(shapes)
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    ascent = Ascent(ours, lr=0.01, adaptive="adam", weight_decay=0.01)
    adam = torch.optim.Adam(theirs, lr=0.01, weight_decay=0.01, maximize=True, fused=True)
    generator = torch.Generator().manual_seed(7)
    for _ in range(5):
        for mine, reference in zip(ours, theirs):
            mine.grad = torch.randn(mine.shape, generator=generator)
            reference.grad = mine.grad.clone()
        ascent.step()
        adam.step()
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    for mine, reference in zip(ours, theirs):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(ascent.state[mine][key], adam.state[reference][key])


@pytest.mark.parametrize("shapes", [SMALL, LARGE], ids=["small-tensors", "large-tensors"])
def test_norm_clipping_scales_by_the_logged_norm_exactly(shapes):
    """Each step equals torch's fused Adam on g · c / (‖g‖ + 1e-6), with ‖g‖ the logged norm, bit for bit."""
    ours = params_with_grads(shapes)
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    ascent = Ascent(ours, lr=0.01, adaptive="adam", clip_norm=0.5)
    adam = torch.optim.Adam(theirs, lr=0.01, maximize=True, fused=True)
    generator = torch.Generator().manual_seed(8)
    for _ in range(4):
        for mine in ours:
            mine.grad = torch.randn(mine.shape, generator=generator)
        ascent.step()
        coefficient = 0.5 / (ascent.last_stats.grad_norm + 1e-6)
        assert coefficient < 1.0
        for mine, reference in zip(ours, theirs):
            reference.grad = mine.grad * coefficient
        adam.step()
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def test_a_group_of_mixed_dtypes_updates_each_dtype_as_a_group_of_one_would():
    """The general path (torch's grouping by device and dtype) and the one-bucket path agree bit for bit."""
    alone = params_with_grads([(6, 3), (9,)], seed=5, dtype=torch.float64)
    mixed = [p.detach().clone().requires_grad_() for p in alone] + params_with_grads([(4,)], seed=6)
    for path in (dict(), dict(foreach=True), dict(foreach=False)):
        one = [p.detach().clone().requires_grad_() for p in alone]
        two = [p.detach().clone().requires_grad_() for p in mixed]
        first, second = Ascent(one, lr=0.05, adaptive="adam", **path), Ascent(two, lr=0.05, adaptive="adam", **path)
        for step in range(4):
            for a, b, reference in zip(one, two, alone):
                a.grad = reference.grad * (step + 1)
                b.grad = a.grad.clone()
            two[2].grad = torch.ones(4)
            first.step()
            second.step()
        assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_sparse_gradients_are_refused():
    param = torch.zeros(5, requires_grad=True)
    param.grad = torch.zeros(5).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        Ascent([param], lr=0.1).step()


def test_squared_norm_agrees_on_both_ways_of_reading():
    """The flat copy (many small tensors) and the per-tensor kernel (large ones) against float64."""
    for shapes in (SMALL, LARGE, [(1,)], [(0,), (3,)]):
        tensors = [p.grad for p in params_with_grads(shapes, dtype=torch.float64)]
        assert gradients.squared_norm(tensors) == pytest.approx(float64_norm(tensors) ** 2, rel=1e-13, abs=0)

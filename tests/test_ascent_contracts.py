"""Ascent's smaller contracts, each checked against a value written out by hand: what its state dict
records, how a loaded torch.optim state is converted, the exact text of its non-finite errors, and
the options that need the gradient norm when the NaN/inf check is off (``nonfinite="ignore"``).

Objectives are maximized: an SGD step moves the parameters along the gradient.
"""

from __future__ import annotations

import copy
import inspect
import math
import pickle

import pytest
import torch

from ascentrl import Ascent, NonFiniteGradientError, PerturbedAscent


def stepped(optimizer: Ascent, parameter: torch.Tensor, gradients: list[list[float]]) -> None:
    for gradient in gradients:
        parameter.grad = torch.tensor(gradient, dtype=parameter.dtype)
        optimizer.step()


def test_state_dict_records_the_format_version_steps_and_escape_state():
    x = torch.zeros(2, requires_grad=True)
    optimizer = Ascent([x], lr=0.1)
    stepped(optimizer, x, [[1.0, 2.0], [3.0, 4.0]])
    assert optimizer.state_dict()["ascent"] == {"version": 1, "steps": 2, "escape": None}
    perturbed = Ascent([x], lr=0.1, escape=PerturbedAscent(threshold=0.5, radius=0.2, interval=3, seed=4))
    escape = perturbed.state_dict()["ascent"]["escape"]
    assert escape["name"] == "perturb" and escape["config"] == {"threshold": 0.5, "radius": 0.2, "interval": 3,
                                                                 "seed": 4}


@pytest.mark.parametrize("saved_step", [3, 3.0, torch.tensor(3), torch.tensor(3.0, dtype=torch.float64)],
                         ids=["int", "float", "int64-tensor", "float64-tensor"])
def test_loaded_step_counters_become_float32_tensors_and_continue_like_torch(saved_step):
    """torch.optim.Adam keeps ``step`` as a float32 tensor; older or hand-edited state dicts hold other
    types. Loading converts each to a float32 tensor of its own, and the next step equals Adam's."""
    torch.manual_seed(0)
    start, gradient = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    reference_parameter = start.clone().requires_grad_(True)
    reference = torch.optim.Adam([reference_parameter], lr=0.01, maximize=True)
    for _ in range(3):
        reference_parameter.grad = gradient.clone()
        reference.step()
    saved = copy.deepcopy(reference.state_dict())  # its per-parameter dicts are the optimizer's own
    saved["state"][0]["step"] = saved_step
    parameter = reference_parameter.detach().clone().requires_grad_(True)
    ascent = Ascent([parameter], lr=0.01, adaptive="adam")
    ascent.load_state_dict(saved)
    step = ascent.state[parameter]["step"]
    assert isinstance(step, torch.Tensor) and step.dtype == torch.float32 and float(step) == 3.0
    assert step is not saved_step
    reference_parameter.grad, parameter.grad = gradient.clone(), gradient.clone()
    reference.step()
    ascent.step()
    assert torch.allclose(parameter, reference_parameter, atol=1e-15, rtol=0)


def test_nonfinite_error_text_with_parameter_names():
    model = torch.nn.Linear(2, 3)
    optimizer = Ascent(model.named_parameters(), lr=0.1)
    model.weight.grad = torch.zeros_like(model.weight)
    model.bias.grad = torch.tensor([0.0, float("nan"), 0.0])
    with pytest.raises(NonFiniteGradientError) as raised:
        optimizer.step()
    assert str(raised.value) == (
        "non-finite gradient (NaN or inf) in parameter bias with shape (3,) at step 0; the step was not "
        "applied. Pass nonfinite='skip' to skip such steps instead of raising.")


def test_nonfinite_error_text_without_names_gives_the_group_and_index():
    first, second = torch.zeros(2, requires_grad=True), torch.zeros(2, 2, requires_grad=True)
    optimizer = Ascent([{"params": [first]}, {"params": [second]}], lr=0.1)
    stepped(optimizer, first, [[1.0, 1.0]])
    first.grad, second.grad = torch.ones(2), torch.full((2, 2), float("inf"))
    with pytest.raises(NonFiniteGradientError) as raised:
        optimizer.step()
    assert str(raised.value) == (
        "non-finite gradient (NaN or inf) in parameter param_groups[1]['params'][0] with shape (2, 2) at step 1; "
        "the step was not applied. Pass nonfinite='skip' to skip such steps instead of raising.")


def test_a_norm_that_overflows_float64_is_named_as_such():
    """Four finite entries of 1.7e308: ‖g‖ = 3.4e308 exceeds float64's largest value (1.8e308)."""
    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=0.1)
    x.grad = torch.full((4,), 1.7e308, dtype=torch.float64)
    with pytest.raises(NonFiniteGradientError) as raised:
        optimizer.step()
    assert str(raised.value) == ("the gradient norm overflows float64 at step 0 (gradient entries above ~1e154); "
                                 "the step was not applied")
    assert torch.equal(x.detach(), torch.zeros(4, dtype=torch.float64))


def test_clip_norm_still_clips_when_the_nonfinite_check_is_off():
    """g = (3, 4), ‖g‖ = 5, clip_norm 1: the step is 0.1 · (0.6, 0.8) (to the clip's 1e-6 guard)."""
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=0.1, clip_norm=1.0, nonfinite="ignore")
    stepped(optimizer, x, [[3.0, 4.0]])
    assert torch.allclose(x.detach(), torch.tensor([0.06, 0.08], dtype=torch.float64), atol=1e-7, rtol=0)
    assert optimizer.last_stats.grad_norm == pytest.approx(5.0, abs=1e-15)


def test_a_norm_based_escape_still_sees_the_norm_when_the_nonfinite_check_is_off():
    """A zero gradient is below PerturbedAscent's threshold, so the step perturbs x by a point of the
    radius-0.1 ball; without the norm it would never perturb."""
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=0.1, escape=PerturbedAscent(threshold=1.0, radius=0.1, interval=1, seed=2),
                       nonfinite="ignore")
    stepped(optimizer, x, [[0.0, 0.0, 0.0]])
    moved = float(torch.linalg.vector_norm(x.detach()))
    assert 0.0 < moved <= 0.1 and optimizer.escape.last_perturbation == 0
    assert optimizer.last_stats.grad_norm == 0.0 and not math.isnan(moved)


def clipped(gradient: torch.Tensor, clip_norm: float) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_'s rule, in plain arithmetic: g · min(1, c / (‖g‖ + 1e-6))."""
    norm = math.sqrt(sum(float(value) ** 2 for value in gradient.flatten().tolist()))
    return gradient * min(1.0, clip_norm / (norm + 1e-6))


def test_a_gradient_inside_the_clip_norm_is_left_as_it_is():
    """‖g‖ = 0.75 with clip_norm 1: the coefficient would be 1.33, and clipping never scales up."""
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=1.0, clip_norm=1.0)
    stepped(optimizer, x, [[0.45, 0.6]])
    assert x.detach().tolist() == [0.45, 0.6]


@pytest.mark.parametrize("count", [1, 4], ids=["one-tensor", "four-tensors"])
def test_clipping_a_few_tensors_writes_into_one_buffer_per_parameter_reused_every_step(count):
    """Up to four gradients per bucket are clipped into per-parameter buffers (no new tensor each
    step); the buffers hold the clipped gradients and ``p.grad`` keeps the raw ones."""
    params = [torch.zeros(3, dtype=torch.float64, requires_grad=True) for _ in range(count)]
    optimizer = Ascent(params, lr=1.0, clip_norm=1.0)
    buffers = None
    for scale in (3.0, 5.0):
        raw = [torch.full((3,), scale * (i + 1), dtype=torch.float64) for i in range(count)]
        for param, gradient in zip(params, raw):
            param.grad = gradient.clone()
        optimizer.step()
        current = optimizer._clip_buffers
        if buffers is not None:
            assert all(current[p] is buffers[p] for p in params)  # the same tensors, refilled
        buffers = dict(current)
        total = clipped(torch.cat(raw), 1.0)
        for index, param in enumerate(params):
            assert torch.allclose(current[param], total[3 * index: 3 * index + 3], atol=1e-15, rtol=0)
            assert torch.equal(param.grad, raw[index])


def test_clip_value_writes_into_the_buffers_too():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=1.0, clip_value=0.5)
    stepped(optimizer, x, [[2.0, -0.25, -3.0]])
    assert optimizer._clip_buffers[x].tolist() == [0.5, -0.25, -0.5] == x.detach().tolist()


def test_the_clip_buffer_follows_a_parameter_converted_to_another_dtype():
    """``module.double()`` keeps the parameter objects and changes their dtype: the next clipped step
    must clip in float64 (a float32 buffer would round the step to ~1e-8)."""
    model = torch.nn.Linear(3, 1, bias=False)
    optimizer = Ascent(model.parameters(), lr=1.0, clip_norm=1.0)
    model.weight.grad = torch.ones_like(model.weight) * 3
    optimizer.step()
    model.double()
    before = model.weight.detach().clone()
    gradient = torch.tensor([[0.1, 2.0 / 3.0, 7.0]], dtype=torch.float64)
    model.weight.grad = gradient.clone()
    optimizer.step()
    assert optimizer._clip_buffers[model.weight].dtype == torch.float64
    assert torch.allclose(model.weight.detach() - before, clipped(gradient, 1.0), atol=1e-15, rtol=0)


def test_step_counters_are_float32_whatever_the_default_dtype():
    """Fused and foreach kernels take float32 step tensors; a float64 default dtype must not change that."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        x = torch.zeros(2, requires_grad=True)
        optimizer = Ascent([x], lr=0.1, adaptive="adam")
        stepped(optimizer, x, [[1.0, 2.0]])
    finally:
        torch.set_default_dtype(previous)
    assert optimizer.state[x]["step"].dtype == torch.float32 and float(optimizer.state[x]["step"]) == 1.0


def test_a_copy_leaves_private_attributes_behind():
    """Pickling keeps the settings and counters but not torch's hooks (a lambda cannot be pickled)
    nor the clip buffers."""
    x = torch.zeros(2, requires_grad=True)
    optimizer = Ascent([x], lr=0.1, clip_norm=0.5)
    optimizer.register_step_post_hook(lambda *_: None)
    stepped(optimizer, x, [[3.0, 4.0]])
    copy_of = pickle.loads(pickle.dumps(optimizer))
    assert copy_of.steps == 1 and copy_of.param_groups[0]["clip_norm"] == 0.5
    assert "_clip_buffers" not in copy_of.__dict__


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_keeps_the_state_torch_sgd_keeps(momentum):
    """No step counters or moment estimates for SGD: its state is torch.optim.SGD's, key for key."""
    ours, theirs = (torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in range(2))
    ascent = Ascent([ours], lr=0.1, momentum=momentum)
    reference = torch.optim.SGD([theirs], lr=0.1, momentum=momentum, maximize=True)
    for gradient in ([1.0, 2.0], [0.5, -1.0]):
        ours.grad, theirs.grad = (torch.tensor(gradient, dtype=torch.float64) for _ in range(2))
        ascent.step()
        reference.step()
    assert set(ascent.state[ours]) == set(reference.state[theirs])
    for name, value in reference.state[theirs].items():
        assert torch.equal(ascent.state[ours][name], value)


@pytest.mark.parametrize("options", [{"escape": "noise"}, {"track_update_norm": True}], ids=["escape", "update-norm"])
def test_a_group_whose_parameters_have_no_gradient_is_skipped(options):
    moving, idle = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    optimizer = Ascent([{"params": [moving]}, {"params": [idle]}], lr=0.1, **options)
    stepped(optimizer, moving, [[1.0, 1.0]])
    assert torch.equal(idle.detach(), torch.zeros(3)) and bool((moving.detach() != 0).all())


def test_documented_defaults_are_the_constructors_and_the_groups():
    """The defaults the docstring and README give (torch.optim's where it has the option)."""
    defaults = {name: p.default for name, p in inspect.signature(Ascent).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "adaptive": None,
                        "betas": (0.9, 0.999), "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0,
                        "decoupled_weight_decay": False, "clip_value": None, "clip_norm": None, "escape": None,
                        "nonfinite": "raise", "track_update_norm": False, "foreach": None, "fused": None}
    optimizer = Ascent([torch.zeros(1, requires_grad=True)])
    group = optimizer.param_groups[0]
    assert {name: group[name] for name in ("lr", "momentum", "dampening", "nesterov", "adaptive", "betas", "alpha",
                                            "eps", "weight_decay", "decoupled_weight_decay")} == {
        name: defaults[name] for name in ("lr", "momentum", "dampening", "nesterov", "adaptive", "betas", "alpha",
                                          "eps", "weight_decay", "decoupled_weight_decay")}
    assert (optimizer.nonfinite, optimizer.track_update_norm, optimizer.escape) == ("raise", False, None)
    assert optimizer.steps == 0 and optimizer.last_stats is None
    assert Ascent([torch.zeros(1, requires_grad=True)], adaptive="adam", betas=[0.5, 0.6]).param_groups[0]["betas"] \
        == (0.5, 0.6)  # a list becomes a tuple, as torch.optim.Adam stores it


@pytest.mark.parametrize("adaptive", ["adam", "adagrad", "rmsprop"])
@pytest.mark.parametrize("path", [{"foreach": True}, {"foreach": False}], ids=["foreach", "forloop"])
@pytest.mark.parametrize("count", [1, 2])
def test_step_counters_count_every_step_like_torch(adaptive, path, count):
    params = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in range(count)]
    optimizer = Ascent(params, lr=0.01, adaptive=adaptive, **path)
    for _ in range(3):
        for param in params:
            param.grad = torch.ones(2, dtype=torch.float64)
        optimizer.step()
    assert [float(optimizer.state[param]["step"]) for param in params] == [3.0] * count


@pytest.mark.parametrize("foreach", [True, False])
def test_momentum_for_a_parameter_whose_gradient_arrives_later_matches_torch(foreach):
    """Step 1: only the first parameter has a gradient (it gets a momentum buffer); step 2: both do,
    one with a buffer and one without. Values equal torch.optim.SGD's with maximize=True."""
    ours = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    theirs = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    ascent = Ascent(ours, lr=0.1, momentum=0.9, foreach=foreach)
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, foreach=foreach, maximize=True)
    for gradients in ([[1.0, 2.0], None], [[0.5, -1.0], [3.0, 1.0]], [[1.0, 1.0], [1.0, -2.0]]):
        for params in (ours, theirs):
            for param, gradient in zip(params, gradients):
                param.grad = None if gradient is None else torch.tensor(gradient, dtype=torch.float64)
        ascent.step()
        reference.step()
        for mine, other in zip(ours, theirs):
            assert torch.allclose(mine.detach(), other.detach(), atol=1e-15, rtol=0)

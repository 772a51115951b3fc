"""Ascent's behaviour: the sign convention, clipping, schedulers, state dicts, bad input, stats."""

from __future__ import annotations

import copy
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from run_comparison import without_tensors

import ascentrl
from ascentrl import Ascent, GradientNoise, NonFiniteGradientError, PerturbedAscent

ALL_MODES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.1, adaptive="adam"),
    dict(lr=0.1, adaptive="adam", nesterov=True),
    dict(lr=0.1, adaptive="rmsprop", momentum=0.5),
    dict(lr=0.1, adaptive="adagrad"),
]


def concave(x: torch.Tensor) -> torch.Tensor:
    """J(x) = −‖x − 1‖², maximized at x = 1 with J = 0."""
    return -(x - 1).pow(2).sum()


@pytest.mark.parametrize("options", ALL_MODES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_objective_goes_up_and_reaches_the_maximum(options):
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], **options)
    first = None
    for _ in range(400):
        optimizer.zero_grad()
        value = concave(x)
        value.backward()
        optimizer.step()
        if first is None:
            first = concave(x).item()
            assert first > value.item(), "one step of ascent must increase J"
    assert concave(x).item() > -1e-3


@pytest.mark.parametrize("options", ALL_MODES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("decoupled", [False, True])
def test_weight_decay_shrinks_weights(options, decoupled):
    x = torch.full((4,), 2.0, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], **options, weight_decay=0.5, decoupled_weight_decay=decoupled)
    previous = x.detach().clone()
    for _ in range(5):
        x.grad = torch.zeros_like(x)  # J is flat: only weight decay acts
        optimizer.step()
        assert not torch.equal(x.detach(), previous), "weight decay acts at every step"
        if "momentum" not in options:  # with momentum, coupled decay may overshoot 0 and swing back
            assert (x.abs() < previous.abs()).all() and (x > 0).all(), "every step shrinks the weights towards 0"
        previous = x.detach().clone()
    assert (x.abs() < 2.0).all()
    if options == dict(lr=0.1):
        # Plain SGD: coupled (ĝ = λθ, θ ← θ − ηλθ) and decoupled decay both give θ·(1 − ηλ)^t.
        torch.testing.assert_close(x.detach(), torch.full((4,), 2.0 * (1 - 0.1 * 0.5) ** 5, dtype=torch.float64),
                                   atol=1e-14, rtol=0)


@pytest.mark.parametrize(
    "options",
    [dict(clip_value=0.1), dict(clip_norm=0.1), dict(clip_value=0.1, clip_norm=0.05),
     dict(escape=GradientNoise(eta=1.0)), dict(adaptive="adam", clip_norm=0.1)],
)
@pytest.mark.parametrize("path", [dict(foreach=False), dict(foreach=True), dict()])
def test_gradients_are_never_modified_in_place(options, path):
    x = torch.randn(5, requires_grad=True)
    x.grad = torch.randn(5) * 10
    before = x.grad.clone()
    version = x.grad._version
    Ascent([x], lr=0.1, **options, **path).step()
    assert torch.equal(x.grad, before)
    assert x.grad._version == version


def test_clip_value_clamps_each_element_of_the_step():
    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    x.grad = torch.tensor([3.0, -0.05, 0.2, -7.0], dtype=torch.float64)
    Ascent([x], lr=1.0, clip_value=0.1).step()
    assert torch.equal(x.detach(), torch.tensor([0.1, -0.05, 0.1, -0.1], dtype=torch.float64))


@pytest.mark.parametrize("path", [dict(foreach=False), dict(foreach=True), dict(fused=True)])
def test_clip_norm_scales_by_the_global_norm_of_the_group(path):
    a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # another group: not clipped
    a.grad = torch.tensor([3.0, 0.0], dtype=torch.float64)
    b.grad = torch.tensor([4.0], dtype=torch.float64)
    c.grad = torch.tensor([4.0], dtype=torch.float64)
    Ascent([{"params": [a, b], "clip_norm": 1.0}, {"params": [c]}], lr=1.0, **path).step()
    scale = 1.0 / (5.0 + 1e-6)
    assert torch.allclose(a.detach(), torch.tensor([3.0 * scale, 0.0], dtype=torch.float64), atol=1e-15)
    assert torch.allclose(b.detach(), torch.tensor([4.0 * scale], dtype=torch.float64), atol=1e-15)
    assert c.item() == 4.0


def test_clip_norm_inside_fused_kernel_matches_copy_in_float32():
    """Fused float32 steps with norm clipping agree with the multi-tensor path."""

    def run(path):
        torch.manual_seed(0)
        x = torch.randn(1000, requires_grad=True)
        optimizer = Ascent([x], lr=0.01, adaptive="adam", clip_norm=0.5, **path)
        for _ in range(20):
            optimizer.zero_grad()
            (-(x - 3).pow(2).sum()).backward()
            optimizer.step()
        return x.detach()

    assert torch.allclose(run(dict(fused=True)), run(dict(foreach=True)), atol=1e-5)


def test_lr_schedulers_drive_the_step_like_torch_optim():
    """LinearLR warmup then ExponentialLR decay, chained with SequentialLR."""

    def run(optimizer_class, **kwargs):
        x = torch.ones(3, dtype=torch.float64, requires_grad=True)
        optimizer = optimizer_class([x], lr=0.1, momentum=0.9, **kwargs)
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)
        decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        schedule = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, decay], milestones=[5])
        lrs = []
        for _ in range(15):
            optimizer.zero_grad()
            (-(x - 2).pow(2).sum()).backward()
            optimizer.step()
            lrs.append(optimizer.param_groups[0]["lr"])
            schedule.step()
        return x.detach(), lrs

    ours, our_lrs = run(Ascent)
    theirs, their_lrs = run(torch.optim.SGD, maximize=True)
    assert our_lrs == their_lrs
    assert our_lrs[0] == pytest.approx(0.01) and our_lrs[-1] < 0.1
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "options",
    [dict(momentum=0.9), dict(adaptive="adam"), dict(adaptive="rmsprop", momentum=0.3), dict(adaptive="adagrad"),
     dict(adaptive="adam", escape=GradientNoise(eta=0.1, seed=4)),
     dict(escape=PerturbedAscent(threshold=10.0, radius=0.5, interval=3, seed=2))],
    ids=["sgd", "adam", "rmsprop", "adagrad", "adam-noise", "sgd-perturb"],
)
def test_state_dict_round_trip_resumes_exactly(options):
    """Save after 30 steps (through bytes, weights_only), load into a fresh optimizer, continue."""

    def fresh_options():
        copy = dict(options)
        if "escape" in copy:
            copy["escape"] = type(copy["escape"])(**copy["escape"].config())
        return copy

    def steps(x, optimizer, n):
        for _ in range(n):
            optimizer.zero_grad()
            (-(x - 2).pow(2).sum() + torch.cos(3 * x).sum()).backward()
            optimizer.step()

    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    uninterrupted = Ascent([x], lr=0.05, **fresh_options())
    steps(x, uninterrupted, 60)

    y = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    first = Ascent([y], lr=0.05, **fresh_options())
    steps(y, first, 30)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = Ascent([y], lr=0.05, **fresh_options())
    resumed.load_state_dict(state)
    steps(y, resumed, 30)
    assert torch.equal(x, y)
    assert resumed.steps == uninterrupted.steps == 60
    # A loaded optimizer saves what the one that was never saved does (no keys added by loading).
    assert without_tensors(resumed.state_dict()) == without_tensors(uninterrupted.state_dict())


def test_loads_a_torch_optim_state_dict():
    """A torch.optim.Adam(maximize=True) checkpoint continues identically under Ascent."""
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch_adam = torch.optim.Adam([x], lr=0.05, maximize=True)
    for _ in range(10):
        torch_adam.zero_grad()
        (-(x - 1).pow(2).sum()).backward()
        torch_adam.step()
    with torch.no_grad():
        y.copy_(x)
    ascent = Ascent([y], lr=0.05, adaptive="adam")
    ascent.load_state_dict(copy.deepcopy(torch_adam.state_dict()))  # as if read from a file
    for optimizer, param in ((torch_adam, x), (ascent, y)):
        for _ in range(10):
            optimizer.zero_grad()
            (-(param - 1).pow(2).sum()).backward()
            optimizer.step()
    assert torch.allclose(x, y, rtol=0, atol=1e-14)


BAD_ARGUMENTS = [
    (dict(lr=-0.1), "lr"),
    (dict(lr=float("nan")), "lr"),
    (dict(momentum=1.0), "momentum"),
    (dict(momentum=-0.1), "momentum"),
    (dict(dampening=1.5), "dampening"),
    (dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    (dict(betas=(0.9,)), "betas"),
    (dict(alpha=1.0), "alpha"),
    (dict(eps=0.0), "eps"),
    (dict(eps=-1e-8), "eps"),
    (dict(weight_decay=-1.0), "weight_decay"),
    (dict(nesterov=True), "nesterov"),
    (dict(nesterov=True, momentum=0.9, dampening=0.1), "nesterov"),
    (dict(adaptive="adamax"), "adaptive"),
    (dict(adaptive="adam", momentum=0.9), "momentum"),
    (dict(adaptive="rmsprop", nesterov=True), "nesterov"),
    (dict(clip_value=0.0), "clip_value"),
    (dict(clip_norm=-1.0), "clip_norm"),
    (dict(foreach=True, fused=True), "foreach"),
    (dict(adaptive="rmsprop", fused=True), "fused"),
    (dict(adaptive="adam", nesterov=True, fused=True), "fused"),
    (dict(escape="tunnel"), "escape"),
    (dict(nonfinite="warn"), "nonfinite"),
]


@pytest.mark.parametrize("kwargs, name", BAD_ARGUMENTS, ids=[n for _, n in BAD_ARGUMENTS])
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Ascent([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_param_group_is_rejected_and_not_added():
    optimizer = Ascent([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optimizer.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": -1.0})
    assert len(optimizer.param_groups) == 1
    with pytest.raises(TypeError, match="floating-point"):
        Ascent([torch.zeros(2, dtype=torch.long)])


def test_nonfinite_gradient_raises_naming_the_parameter_and_changes_nothing():
    model = torch.nn.Linear(2, 1)
    optimizer = Ascent(model.named_parameters(), lr=0.1, adaptive="adam")
    model.weight.grad = torch.zeros_like(model.weight)
    model.bias.grad = torch.tensor([float("nan")])
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(NonFiniteGradientError, match="bias"):
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert optimizer.steps == 0


def test_nonfinite_gradient_is_skipped_on_request():
    x = torch.ones(3, requires_grad=True)
    optimizer = Ascent([x], lr=0.1, adaptive="adam", nonfinite="skip")
    x.grad = torch.tensor([1.0, float("inf"), 0.0])
    optimizer.step()
    assert torch.equal(x.detach(), torch.ones(3))
    assert optimizer.last_stats.skipped and optimizer.steps == 0
    assert all(not value.count_nonzero() for value in optimizer.state[x].values())  # nothing advanced
    x.grad = torch.ones(3)
    optimizer.step()
    assert not optimizer.last_stats.skipped and optimizer.steps == 1


def test_last_stats_hold_gradient_norm_update_norm_and_lr():
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x, y], lr=0.5, momentum=0.9, track_update_norm=True)
    assert optimizer.last_stats is None
    x.grad = torch.tensor([3.0, 0.0], dtype=torch.float64)
    y.grad = torch.tensor([0.0, 4.0, 0.0], dtype=torch.float64)
    optimizer.step()
    stats = optimizer.last_stats
    assert stats.step == 1 and stats.lr == 0.5 and not stats.skipped and not stats.perturbed
    assert stats.grad_norm == pytest.approx(5.0)
    assert stats.update_norm == pytest.approx(2.5)  # first momentum step: lr · ĝ


def test_perturbed_ascent_escapes_a_stationary_minimum():
    """J(x) = x²/2 − x⁴/4 has a stationary point at 0 (a minimum) and maxima at ±1."""

    def climb(escape):
        x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = Ascent([x], lr=0.1, escape=escape)
        for _ in range(200):
            optimizer.zero_grad()
            (x.pow(2) / 2 - x.pow(4) / 4).sum().backward()
            optimizer.step()
        return abs(x.item())

    assert climb(None) == 0.0
    # Near the maximum the gradient is small again, so the strategy keeps jumping by ≤ radius.
    assert climb(PerturbedAscent(threshold=1e-4, radius=0.01, interval=10, seed=0)) == pytest.approx(1.0, abs=0.011)


def test_perturbed_ascent_respects_radius_and_interval():
    x = torch.zeros(50, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=0.1, escape=PerturbedAscent(threshold=1.0, radius=0.3, interval=4, seed=7))
    perturbed_at = []
    for step in range(12):
        before = x.detach().clone()
        x.grad = torch.zeros_like(x)  # always "stuck"
        optimizer.step()
        if optimizer.last_stats.perturbed:
            perturbed_at.append(step)
            assert 0 < (x.detach() - before).norm() <= 0.3
        else:
            assert torch.equal(x.detach(), before)
    assert perturbed_at == [0, 4, 8]


def test_gradient_noise_follows_its_annealing_schedule():
    """With ∇J = 0 and plain SGD at lr = 1, the step is the noise itself: std σ_t."""
    strategy = GradientNoise(eta=0.5, gamma=0.55, seed=0)
    x = torch.zeros(200_000, dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=1.0, escape=strategy)
    for step in range(3):
        before = x.detach().clone()
        x.grad = torch.zeros_like(x)
        optimizer.step()
        expected = math.sqrt(0.5 / (1 + step) ** 0.55)
        assert (x.detach() - before).std().item() == pytest.approx(expected, rel=0.01)


def test_escape_is_deterministic_under_its_seed():
    def run(seed):
        x = torch.zeros(5, requires_grad=True)
        optimizer = Ascent([x], lr=0.1, escape=GradientNoise(eta=0.1, seed=seed))
        for _ in range(5):
            optimizer.zero_grad()
            (-(x - 1).pow(2).sum()).backward()
            optimizer.step()
        return x.detach()

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_closure_is_evaluated_with_gradients_and_returned():
    x = torch.zeros(2, requires_grad=True)
    optimizer = Ascent([x], lr=0.1)

    def closure():
        optimizer.zero_grad()
        value = concave(x)
        value.backward()
        return value

    returned = optimizer.step(closure)
    assert returned.item() == pytest.approx(-2.0)
    assert torch.allclose(x.detach(), torch.full((2,), 0.2))


def test_building_and_stepping_an_optimizer_does_not_import_torch_dynamo():
    """torch.optim's add_param_group imports torch._dynamo on first use (as slow as importing torch);
    Ascent skips that wrapper until something else has imported dynamo."""
    Ascent([torch.zeros(1, requires_grad=True)])  # in this process too, so mutation testing maps the test here
    code = (
        "import sys, torch\n"
        "from ascentrl import Ascent\n"
        "parameter = torch.zeros(3, requires_grad=True)\n"
        "optimizer = Ascent([parameter], lr=0.1, momentum=0.9)\n"
        "optimizer.add_param_group({'params': [torch.zeros(2, requires_grad=True)], 'lr': 0.2})\n"
        "parameter.grad = torch.ones(3)\n"
        "optimizer.step()\n"
        "assert optimizer.param_groups[1]['lr'] == 0.2 and optimizer.param_groups[1]['momentum'] == 0.9\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    # The fresh interpreter imports the same ascentrl as this one (a mutation run's copy included).
    package_root = str(Path(ascentrl.__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env=environment)
    assert completed.stdout.strip() == "False"


def test_parameter_groups_are_checked_after_dynamo_is_imported_too():
    import torch._dynamo  # noqa: F401  (the decorated base method from here on)

    parameter = torch.zeros(2, requires_grad=True)
    optimizer = Ascent([parameter], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        optimizer.add_param_group({"params": [parameter]})
    with pytest.raises(ValueError, match="momentum must be a number"):
        optimizer.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "momentum": 2.0})
    assert len(optimizer.param_groups) == 1

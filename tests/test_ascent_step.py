"""``Ascent.step`` itself: what one call does around the update rule, each part against its own truth.

The step evaluates an optional closure with gradients enabled and returns its value; checks the
gradients for NaN/inf (``nonfinite="raise"``, ``"skip"`` or ``"ignore"``), recomputing the norm in
float64 when only the fast float32 norm overflowed; clips copies of the gradients per group; lets an
escape strategy transform the gradients and perturb the parameters; keeps SGD's new momentum buffers;
measures the update when asked; and counts the step in ``steps`` and ``last_stats``.

Independent truth: torch.optim.SGD and Adam with ``maximize=True`` (and torch.nn.utils.clip_grad_norm_ on
a copy, for clipping); norms recomputed here with math.fsum on Python floats; gradients of a size whose
norm is known by hand (entries of 2⁶⁶ ≈ 7.4e19 overflow float32's sum of squares, entries of 1e200 float64's);
random draws of the escape strategies from a ``torch.Generator`` seeded as the strategy is, with the
documented schedule applied here on floats.

Objectives are maximized: an SGD step moves the parameters along the gradient.
"""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl import Ascent, GradientNoise, NonFiniteGradientError, PerturbedAscent
from ascentrl.ascent import StepStats

PATHS = {"forloop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}


def fsum_norm(tensors: list[torch.Tensor]) -> float:
    """‖(t₁, t₂, …)‖₂ on Python floats, the squares summed exactly by math.fsum."""
    return math.sqrt(math.fsum(value * value for t in tensors for value in t.double().flatten().tolist()))


def f64(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def leaf(values: list[float]) -> torch.Tensor:
    return f64(values).requires_grad_()


def set_grads(params: list[torch.Tensor], grads: list[list[float] | None]) -> None:
    for param, grad in zip(params, grads):
        param.grad = None if grad is None else torch.tensor(grad, dtype=param.dtype)


def detached(params: list[torch.Tensor]) -> list[torch.Tensor]:
    return [param.detach().clone() for param in params]


def same(first: list[torch.Tensor], second: list[torch.Tensor]) -> bool:
    return len(first) == len(second) and all(torch.equal(a, b) for a, b in zip(first, second))


# --------------------------------------------------------------------------------------- the closure
def test_a_step_without_a_closure_returns_none():
    x = leaf([0.0, 0.0])
    optimizer = Ascent([x], lr=0.1)
    x.grad = f64([1.0, -2.0])
    assert optimizer.step() is None
    assert x.detach().tolist() == [0.1, -0.2]


def test_the_closure_runs_with_gradients_even_under_no_grad_and_its_objective_is_returned():
    """J(x) = −‖x − 1‖² at x = 0: J = −2, ∇J = 2(1 − x) = (2, 2), so one step of lr 0.1 reaches 0.2."""
    x = leaf([0.0, 0.0])
    optimizer = Ascent([x], lr=0.1)
    seen = []

    def closure() -> torch.Tensor:
        seen.append(torch.is_grad_enabled())
        x.grad = None  # not optimizer.zero_grad(), whose first call imports torch._dynamo (seconds)
        objective = -(x - 1).pow(2).sum()
        objective.backward()
        return objective

    with torch.no_grad():
        returned = optimizer.step(closure)
    assert seen == [True]
    assert returned.item() == -2.0 and returned.requires_grad
    assert x.detach().tolist() == [0.2, 0.2]
    assert x.grad_fn is None and x.is_leaf  # the update itself is not recorded by autograd


def test_a_skipped_step_still_returns_the_closures_objective():
    x = leaf([1.0])
    optimizer = Ascent([x], lr=0.1, nonfinite="skip")

    def closure() -> torch.Tensor:
        x.grad = None  # not optimizer.zero_grad(), whose first call imports torch._dynamo (seconds)
        objective = (x * math.inf).sum()  # J = inf, ∇J = (inf,)
        objective.backward()
        return objective

    returned = optimizer.step(closure)
    assert returned.item() == math.inf
    assert optimizer.last_stats.skipped and x.detach().tolist() == [1.0]


# ----------------------------------------------------------------------------------- the NaN/inf check
def skipped_step_optimizer() -> tuple[Ascent, list[torch.Tensor]]:
    """Two groups (lr 0.25 and 0.5), SGD momentum, the update norm tracked and a PerturbedAscent that
    perturbs whenever the step gets that far: a skipped step must do none of it."""
    params = [leaf([0.0, 0.0]), leaf([0.0])]
    optimizer = Ascent([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.25, momentum=0.9,
                       nonfinite="skip", track_update_norm=True,
                       escape=PerturbedAscent(threshold=1e9, radius=0.1, interval=1, seed=4))
    for grads in ([[1.0, 2.0], [3.0]], [[0.5, -1.0], [2.0]]):
        set_grads(params, grads)
        optimizer.step()
    return optimizer, params


@pytest.mark.parametrize("bad, norm_is", [(math.inf, math.isinf), (-math.inf, math.isinf), (math.nan, math.isnan)],
                         ids=["inf", "-inf", "nan"])
def test_a_skipped_step_records_the_count_lr_and_norm_and_changes_nothing(bad, norm_is):
    optimizer, params = skipped_step_optimizer()
    assert optimizer.steps == 2 and optimizer.escape.last_perturbation == 1
    before = detached(params)
    buffers = [optimizer.state[param]["momentum_buffer"].clone() for param in params]
    set_grads(params, [[1.0, bad], [1.0]])
    assert optimizer.step() is None
    stats = optimizer.last_stats
    assert (stats.step, stats.lr, stats.update_norm, stats.skipped, stats.perturbed) == (2, 0.25, None, True, False)
    assert stats.skipped is True and stats.perturbed is False
    assert norm_is(stats.grad_norm)  # ‖g‖ with an infinite entry is inf; with a NaN entry, NaN
    assert optimizer.steps == 2 and optimizer.escape.last_perturbation == 1
    assert same(before, detached(params))
    assert same(buffers, [optimizer.state[param]["momentum_buffer"] for param in params])
    set_grads(params, [[0.0, 0.0], [0.0]])
    optimizer.step()  # the next finite step is the third applied one
    assert optimizer.last_stats.step == 3 and optimizer.steps == 3 and not optimizer.last_stats.skipped


def test_a_float64_norm_that_overflows_is_skipped_on_request():
    """Entries of 1e200 are finite, but their squares (1e400) are not, even in float64: no norm to step with."""
    x = leaf([0.0, 0.0, 0.0])
    optimizer = Ascent([x], lr=0.1, nonfinite="skip")
    x.grad = f64([1e200, -1e200, 1e200])
    optimizer.step()
    assert optimizer.last_stats == StepStats(0, 0.1, math.inf, None, True, False)
    assert x.detach().tolist() == [0.0, 0.0, 0.0] and optimizer.steps == 0


@pytest.mark.parametrize("nonfinite", ["raise", "skip"])
def test_float32_gradients_whose_squares_overflow_float32_step_with_their_exact_norm(nonfinite):
    """g = (2⁶⁶, −2⁶⁶, 2⁶⁶, −2⁶⁶) in float32: the squares (2¹³²) overflow float32, ‖g‖ = 2⁶⁷ does not.
    With clip_norm 1 and lr 1 the step is g / (‖g‖ + 1e-6) = (0.5, −0.5, 0.5, −0.5)."""
    x = torch.zeros(4, requires_grad=True)
    other = torch.zeros(2, requires_grad=True)
    optimizer = Ascent([{"params": [x]}, {"params": [other]}], lr=1.0, clip_norm=1.0, nonfinite=nonfinite)
    big = 2.0**66  # 7.4e19, exact in float32
    x.grad = torch.tensor([big, -big, big, -big])
    other.grad = torch.tensor([3.0, 4.0])
    optimizer.step()
    expected_norm = fsum_norm([x.grad, other.grad])
    assert expected_norm == pytest.approx(2.0**67, rel=1e-12)
    stats = optimizer.last_stats
    assert stats.grad_norm == pytest.approx(expected_norm, rel=1e-6) and not stats.skipped and optimizer.steps == 1
    assert torch.allclose(x.detach(), torch.tensor([0.5, -0.5, 0.5, -0.5]), rtol=1e-6, atol=0)
    # The other group is clipped by its own norm, 5: (3, 4) / 5.
    assert torch.allclose(other.detach(), torch.tensor([0.6, 0.8]), rtol=1e-6, atol=0)


def test_ignore_applies_nonfinite_gradients_as_torch_sgd_does_and_measures_no_norm():
    ours, theirs = leaf([0.0, 0.0, 0.0]), leaf([0.0, 0.0, 0.0])
    optimizer = Ascent([ours], lr=0.1, nonfinite="ignore")
    reference = torch.optim.SGD([theirs], lr=0.1, maximize=True)
    for param in (ours, theirs):
        param.grad = f64([1.0, math.inf, math.nan])
    optimizer.step()
    reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), equal_nan=True, rtol=0, atol=0)
    assert optimizer.last_stats == StepStats(1, 0.1, None, None, False, False)
    assert optimizer.steps == 1


def test_ignore_with_clip_norm_measures_the_norm_but_still_never_refuses_a_step():
    """‖g‖ is NaN, so clip_grad_norm_'s coefficient is NaN: every entry becomes NaN, and the step is taken."""
    ours, theirs = leaf([0.0, 0.0]), leaf([0.0, 0.0])
    optimizer = Ascent([ours], lr=0.1, clip_norm=1.0, nonfinite="ignore")
    reference = torch.optim.SGD([theirs], lr=0.1, maximize=True)
    for param in (ours, theirs):
        param.grad = f64([math.nan, 1.0])
    optimizer.step()
    torch.nn.utils.clip_grad_norm_([theirs], 1.0)
    reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), equal_nan=True, rtol=0, atol=0)
    assert bool(ours.detach().isnan().all())
    stats = optimizer.last_stats
    assert math.isnan(stats.grad_norm) and stats.skipped is False and stats.step == 1 and optimizer.steps == 1


@pytest.mark.parametrize("escape", [None, GradientNoise(eta=0.01, seed=0)], ids=["no-escape", "gradient-noise"])
def test_ignore_measures_no_norm_when_no_option_needs_it(escape):
    """GradientNoise does not read the norm, so with the check off ‖∇J‖ is not measured: None."""
    x = leaf([3.0, 4.0])
    optimizer = Ascent([x], lr=0.1, nonfinite="ignore", escape=escape)
    x.grad = f64([3.0, 4.0])
    optimizer.step()
    assert optimizer.last_stats.grad_norm is None and optimizer.last_stats.step == 1


def test_the_checked_norm_is_logged_when_nothing_else_needs_it():
    x = leaf([0.0, 0.0])
    optimizer = Ascent([x], lr=0.1, nonfinite="skip")
    x.grad = f64([3.0, 4.0])
    optimizer.step()
    assert optimizer.last_stats == StepStats(1, 0.1, 5.0, None, False, False)


def test_a_raised_step_keeps_the_previous_stats_and_count():
    x = leaf([0.0, 0.0])
    optimizer = Ascent([x], lr=0.5, momentum=0.5)
    x.grad = f64([3.0, 4.0])
    optimizer.step()
    first = optimizer.last_stats
    x.grad = f64([math.nan, 0.0])
    with pytest.raises(NonFiniteGradientError):
        optimizer.step()
    assert optimizer.last_stats is first and optimizer.steps == 1
    assert x.detach().tolist() == [1.5, 2.0]


# ------------------------------------------------------------------------------------------- clipping
def test_clipping_is_per_group_and_matches_clamping_and_clip_grad_norm_on_copies():
    """Group 1 clamps to ±0.5, group 2 scales to norm 1, group 3 is not clipped: each as torch.optim.SGD
    would step after clamping or torch.nn.utils.clip_grad_norm_ on a copy of that group's gradients."""
    grads = [[2.0, -0.25, -3.0], [3.0, 4.0], [6.0, 8.0], [10.0, -10.0]]
    ours = [leaf([0.0] * len(g)) for g in grads]
    theirs = [leaf([0.0] * len(g)) for g in grads]
    optimizer = Ascent([{"params": ours[:1], "clip_value": 0.5}, {"params": ours[1:3], "clip_norm": 1.0},
                        {"params": ours[3:]}], lr=0.1)
    reference = torch.optim.SGD(theirs, lr=0.1, maximize=True)
    set_grads(ours, grads)
    set_grads(theirs, grads)
    theirs[0].grad.clamp_(-0.5, 0.5)
    torch.nn.utils.clip_grad_norm_(theirs[1:3], 1.0)
    optimizer.step()
    reference.step()
    for mine, other in zip(ours, theirs):
        assert torch.allclose(mine.detach(), other.detach(), rtol=1e-14, atol=0)
    assert [p.grad.tolist() for p in ours] == grads  # clipping worked on copies
    assert optimizer.last_stats.grad_norm == pytest.approx(fsum_norm([f64(g) for g in grads]), rel=1e-14)


# ------------------------------------------------------------------------------------- escape strategies
def test_gradient_noise_is_added_to_each_gradient_with_the_schedule_of_the_applied_step_count():
    """SGD at lr 1 on ∇J = g: the step is g + σ_t z, z drawn from a generator seeded as the strategy's,
    σ_t² = η / (1 + t)^γ with t the number of applied steps (a skipped step draws nothing)."""
    eta, gamma = 0.3, 0.55
    x = leaf([0.0, 0.0, 0.0])
    optimizer = Ascent([x], lr=1.0, escape=GradientNoise(eta=eta, gamma=gamma, seed=11), nonfinite="skip")
    generator = torch.Generator().manual_seed(11)
    expected = [0.0, 0.0, 0.0]
    gradients = [[1.0, -2.0, 0.5], [math.nan, 0.0, 0.0], [0.25, 0.0, -1.0], [-3.0, 1.0, 2.0]]
    applied = 0
    for gradient in gradients:
        x.grad = f64(gradient)
        optimizer.step()
        if any(math.isnan(g) for g in gradient):
            assert optimizer.last_stats.skipped
            continue
        sigma = math.sqrt(eta / (1.0 + applied) ** gamma)
        noise = torch.randn(3, generator=generator, dtype=torch.float64).tolist()
        expected = [e + g + sigma * z for e, g, z in zip(expected, gradient, noise)]
        applied += 1
        assert x.detach().tolist() == pytest.approx(expected, rel=1e-14, abs=1e-15)
    assert optimizer.steps == 3


def test_a_perturbation_counts_in_the_update_norm_and_is_reported():
    """∇J = 0 and SGD: the update is the perturbation alone, a point of the radius-0.2 ball drawn as the
    documented rule says (a normal direction, scaled to radius · U^(1/d))."""
    params = [leaf([0.0, 0.0]), leaf([0.0, 0.0, 0.0])]
    optimizer = Ascent([{"params": params[:1]}, {"params": params[1:]}], lr=0.1, track_update_norm=True,
                       escape=PerturbedAscent(threshold=1.0, radius=0.2, interval=2, seed=5))
    generator = torch.Generator().manual_seed(5)
    for step in range(3):
        before = detached(params)
        set_grads(params, [[0.0, 0.0], [0.0, 0.0, 0.0]])
        optimizer.step()
        moved = [after - earlier for after, earlier in zip(detached(params), before)]
        stats = optimizer.last_stats
        if step == 1:  # within the interval: no perturbation, no movement
            assert stats.perturbed is False and stats.update_norm == 0.0
            assert all(not bool(m.any()) for m in moved)
            continue
        directions = [torch.randn(2, generator=generator, dtype=torch.float64),
                      torch.randn(3, generator=generator, dtype=torch.float64)]
        uniform = float(torch.rand((), generator=generator, dtype=torch.float64))
        length = 0.2 * uniform ** (1.0 / 5)
        scale = length / fsum_norm(directions)
        for m, d in zip(moved, directions):
            assert m.tolist() == pytest.approx((d * scale).tolist(), rel=1e-12, abs=1e-15)
        assert stats.perturbed is True and stats.step == step + 1
        assert stats.update_norm == pytest.approx(length, rel=1e-12)
        assert stats.update_norm == pytest.approx(fsum_norm(moved), rel=1e-12)


def test_perturbation_waits_for_the_interval_counted_in_applied_steps():
    """interval 2 from the perturbation at step 0: step 1 must not perturb, step 2 must — whatever the
    skipped steps between them, which do not count."""
    x = leaf([0.0, 0.0])
    optimizer = Ascent([x], lr=0.1, nonfinite="skip",
                       escape=PerturbedAscent(threshold=1.0, radius=0.1, interval=2, seed=0))
    perturbed = []
    for gradient in ([0.0, 0.0], [math.inf, 0.0], [0.0, 0.0], [math.nan, 0.0], [0.0, 0.0]):
        x.grad = f64(gradient)
        optimizer.step()
        perturbed.append((optimizer.last_stats.skipped, optimizer.last_stats.perturbed))
    assert perturbed == [(False, True), (True, False), (False, False), (True, False), (False, True)]
    assert optimizer.escape.last_perturbation == 2


def test_a_gradient_above_the_threshold_is_not_perturbed():
    """‖∇J‖ = 5 > threshold 1: the norm the strategy sees is the gradient's, and it does not perturb."""
    x = leaf([0.0, 0.0])
    optimizer = Ascent([x], lr=0.1, escape=PerturbedAscent(threshold=1.0, radius=0.1, interval=1, seed=0))
    x.grad = f64([3.0, 4.0])
    optimizer.step()
    assert optimizer.last_stats.perturbed is False
    assert x.detach().tolist() == pytest.approx([0.3, 0.4], rel=1e-15)


# ---------------------------------------------------------------------------------------- SGD momentum
@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
@pytest.mark.parametrize("nesterov", [False, True], ids=["heavy-ball", "nesterov"])
def test_sgd_momentum_buffers_are_kept_in_the_state_as_torch_sgd_keeps_them(path, nesterov):
    ours = [leaf([0.0, 0.0]), leaf([0.0])]
    theirs = [leaf([0.0, 0.0]), leaf([0.0])]
    optimizer = Ascent(ours, lr=0.1, momentum=0.9, nesterov=nesterov, **path)
    # torch's own fused SGD cannot take a parameter without a gradient next to one with a buffer: foreach there.
    reference = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, nesterov=nesterov, maximize=True,
                                **(path if "fused" not in path else dict(foreach=True)))
    for grads in ([[1.0, 2.0], None], [[0.5, -1.0], [3.0]], [[1.0, 1.0], [-2.0]], [[0.0, 4.0], [1.0]]):
        set_grads(ours, grads)
        set_grads(theirs, grads)
        optimizer.step()
        reference.step()
        for mine, other in zip(ours, theirs):
            assert torch.allclose(mine.detach(), other.detach(), rtol=1e-15, atol=1e-15)
            assert set(optimizer.state[mine]) == set(reference.state[other])
            if "momentum_buffer" in reference.state[other]:
                assert torch.allclose(optimizer.state[mine]["momentum_buffer"],
                                      reference.state[other]["momentum_buffer"], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("options, reference_class, reference_options", [
    (dict(adaptive="adam"), torch.optim.Adam, dict()),
    (dict(adaptive="rmsprop", momentum=0.5), torch.optim.RMSprop, dict(momentum=0.5)),
    (dict(adaptive="adagrad"), torch.optim.Adagrad, dict(eps=1e-8)),
    (dict(), torch.optim.SGD, dict()),
], ids=["adam", "rmsprop-momentum", "adagrad", "sgd-no-momentum"])
def test_other_rules_keep_exactly_torchs_state_names(options, reference_class, reference_options):
    """No momentum buffer is stored where torch.optim keeps none (Adam, Adagrad, plain SGD)."""
    ours, theirs = leaf([0.0, 0.0]), leaf([0.0, 0.0])
    optimizer = Ascent([ours], lr=0.1, **options)
    reference = reference_class([theirs], lr=0.1, maximize=True, **reference_options)
    for gradient in ([1.0, 2.0], [0.5, -1.0]):
        ours.grad, theirs.grad = f64(gradient), f64(gradient)
        optimizer.step()
        reference.step()
    assert set(optimizer.state[ours]) == set(reference.state[theirs])
    assert torch.allclose(ours.detach(), theirs.detach(), rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------- the update norm, stats
def test_the_update_norm_is_the_norm_of_the_change_of_every_parameter_across_groups():
    """Momentum SGD, two groups (lr 0.5 and 0.25): the change is measured from the parameters, by hand."""
    params = [leaf([1.0, -1.0]), leaf([0.5]), leaf([2.0, 0.0, 0.0])]
    optimizer = Ascent([{"params": params[:2]}, {"params": params[2:], "lr": 0.25}], lr=0.5, momentum=0.5,
                       track_update_norm=True)
    norms = []
    for step, grads in enumerate(([[1.0, 2.0], [3.0], None], [[0.5, -1.0], [-4.0], [1.0, 1.0, -2.0]]), start=1):
        before = detached(params)
        set_grads(params, grads)
        optimizer.step()
        moved = [after - earlier for after, earlier in zip(detached(params), before)]
        stats = optimizer.last_stats
        norms.append(stats.update_norm)
        assert stats.update_norm == pytest.approx(fsum_norm(moved), rel=1e-14)
        assert stats.grad_norm == pytest.approx(fsum_norm([f64(g) for g in grads if g is not None]), rel=1e-14)
        assert (stats.step, stats.lr, stats.skipped, stats.perturbed) == (step, 0.5, False, False)
    # By hand, step 1: Δ = 0.5 · (1, 2, 3) (first momentum step: lr · g), so ‖Δ‖ = 0.5 · √14.
    assert norms[0] == pytest.approx(0.5 * math.sqrt(14), rel=1e-15)


def test_the_update_norm_without_any_gradient_is_zero_and_the_step_still_counts():
    x = leaf([1.0, 2.0])
    optimizer = Ascent([x], lr=0.1, track_update_norm=True)
    optimizer.step()
    assert optimizer.last_stats == StepStats(1, 0.1, 0.0, 0.0, False, False)
    assert x.detach().tolist() == [1.0, 2.0]


def test_without_tracking_the_update_norm_is_none():
    x = leaf([0.0])
    optimizer = Ascent([x], lr=0.1, momentum=0.9)
    x.grad = f64([2.0])
    optimizer.step()
    assert optimizer.last_stats.update_norm is None and optimizer.last_stats.perturbed is False


def test_stats_count_applied_steps_and_follow_the_first_groups_lr():
    """The first group's lr, as set when the step runs (a scheduler changes it between steps)."""
    first, second = leaf([0.0]), leaf([0.0])
    optimizer = Ascent([{"params": [first], "lr": 0.3}, {"params": [second], "lr": 0.7}], lr=0.1)
    seen: list[tuple[int, float, float]] = []
    lrs = [0.3, 0.2, 0.2, 0.05]
    for lr in lrs:
        optimizer.param_groups[0]["lr"] = lr
        set_grads([first, second], [[1.0], [2.0]])
        optimizer.step()
        stats = optimizer.last_stats
        seen.append((stats.step, stats.lr, optimizer.steps))
        assert stats.grad_norm == pytest.approx(math.sqrt(5.0), rel=1e-15)
    assert seen == [(1, 0.3, 1), (2, 0.2, 2), (3, 0.2, 3), (4, 0.05, 4)]
    assert first.item() == pytest.approx(math.fsum(lrs), rel=1e-15)
    assert second.item() == pytest.approx(4 * 0.7 * 2.0, rel=1e-15)

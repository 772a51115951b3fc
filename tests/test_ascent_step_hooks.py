"""Ascent's own ``step`` wrapper behaves as torch.optim's: hooks, global hooks, the profiler range, schedulers.

Independent truth: torch.optim.SGD, whose wrapper is torch's own, given the same hooks; the events
recorded by ``torch.profiler``; a step computed by hand. The fallback for a torch without
``_RecordFunctionFast`` runs in a subprocess that removes it before importing ascentrl.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import warnings

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from ascentrl import Ascent, GradientAscent


def build(kind: str) -> tuple[torch.optim.Optimizer, torch.Tensor]:
    x = torch.ones(3, requires_grad=True)
    x.grad = torch.full((3,), 2.0)
    optimizer = Ascent([x], lr=0.1) if kind == "ascent" else torch.optim.SGD([x], lr=0.1, maximize=True)
    return optimizer, x


def test_hooks_see_and_change_what_torch_optims_hooks_do():
    def record(kind: str) -> list:
        optimizer, x = build(kind)
        seen = []

        def closure():
            seen.append("closure")
            return torch.tensor(7.0)

        def pre(opt, args, kwargs):
            seen.append(("pre", opt is optimizer, len(args), args[0] is optimizer, dict(kwargs), x.tolist()))
            return (args[0],), {"closure": closure}  # replace the call's arguments

        def post(opt, args, kwargs):
            seen.append(("post", opt is optimizer, len(args), sorted(kwargs), x.tolist()))

        handles = [optimizer.register_step_pre_hook(pre), optimizer.register_step_post_hook(post)]
        returned = optimizer.step()
        seen.append(("returned", float(returned)))
        for handle in handles:
            handle.remove()
        optimizer.step()
        seen.append(("after removal", x.tolist()))
        return seen

    ours, theirs = record("ascent"), record("torch")
    assert ours == theirs
    assert ours[0][0] == "pre" and ours[1] == "closure" and ours[2][0] == "post" and ours[3] == ("returned", 7.0)


def test_global_hooks_run_around_the_step_and_can_be_removed():
    calls = []
    pre = register_optimizer_step_pre_hook(lambda opt, args, kwargs: calls.append(("pre", type(opt).__name__)))
    post = register_optimizer_step_post_hook(lambda opt, args, kwargs: calls.append(("post", type(opt).__name__)))
    try:
        optimizer, _ = build("ascent")
        optimizer.step()
    finally:
        pre.remove()
        post.remove()
    optimizer.step()
    assert calls == [("pre", "Ascent"), ("post", "Ascent")]


def test_a_pre_hook_returning_something_else_is_refused_as_by_torch():
    for kind in ("ascent", "torch"):
        optimizer, x = build(kind)
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: "not a pair")
        with pytest.raises(RuntimeError, match="must return None or a tuple of"):
            optimizer.step()
        assert x.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("optimizer_class", [Ascent, GradientAscent])
def test_the_profiler_records_the_step_under_torch_optims_name(optimizer_class):
    x = torch.ones(3, requires_grad=True)
    optimizer = optimizer_class([x], lr=0.1)
    x.grad = torch.ones(3)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        optimizer.step()
    names = {event.name for event in profile.events()}
    assert f"Optimizer.step#{optimizer_class.__name__}.step" in names


def test_a_scheduler_sees_the_step_without_warning():
    x = torch.ones(3, requires_grad=True)
    optimizer = Ascent([x], lr=0.1, adaptive="adam")
    schedule = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "lr_scheduler.step() before optimizer.step()" would fail here
        for _ in range(5):
            x.grad = torch.ones(3)
            optimizer.step()
            schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_the_step_code_hook_runs_once_after_the_update_and_before_the_post_hooks():
    optimizer, x = build("ascent")
    events = []
    optimizer._optimizer_step_code = lambda: events.append(("step code", x.tolist()))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: events.append(("post", x.tolist())))
    optimizer.step()
    moved = [1.0 + 0.1 * 2.0] * 3  # one ascent step of lr 0.1 along a gradient of 2
    assert events == [("step code", pytest.approx(moved)), ("post", pytest.approx(moved))]


def _pickled(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    return pickle.loads(pickle.dumps(optimizer))


@pytest.mark.parametrize("copy_of", [_pickled, copy.deepcopy], ids=["pickle", "deepcopy"])
@pytest.mark.parametrize("kind", ["ascent", "gradient_ascent"])
def test_a_copy_steps_as_the_original_and_takes_new_hooks(copy_of, kind):
    def build_and_step() -> tuple[torch.optim.Optimizer, torch.Tensor]:
        x = torch.linspace(-1.0, 1.0, 5, requires_grad=True)
        if kind == "ascent":
            optimizer = Ascent([x], lr=0.1, adaptive="adam", escape="noise", nonfinite="skip", track_update_norm=True)
        else:
            optimizer = GradientAscent([x], lr=0.1, lr_decay=0.9, warmup_steps=3)
        for _ in range(2):
            x.grad = torch.cos(x.detach())
            optimizer.step()
        return optimizer, x

    original, x = build_and_step()
    twin, _ = build_and_step()
    copied = copy_of(twin)
    (y,) = copied.param_groups[0]["params"]
    calls = []
    copied.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    for _ in range(3):
        x.grad, y.grad = torch.cos(x.detach()), torch.cos(y.detach())
        original.step()
        copied.step()
    assert calls == ["pre"] * 3
    assert torch.equal(x, y)
    assert copied.last_stats == original.last_stats
    assert copied.steps == original.steps == 5


def test_a_subclass_calling_super_step_runs_each_hook_and_the_range_once():
    Ascent([torch.ones(1, requires_grad=True)])  # Ascent.step is now wrapped too, as in any real program
    x = torch.ones(3, requires_grad=True)
    optimizer = GradientAscent([x], lr=0.1, logging_interval=None)
    calls = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    global_pre = register_optimizer_step_pre_hook(lambda opt, args, kwargs: calls.append("global pre"))
    try:
        x.grad = torch.ones(3)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            optimizer.step()
    finally:
        global_pre.remove()
    assert calls == ["global pre", "pre", "post"]
    ranges = [event.name for event in profile.events() if event.name.startswith("Optimizer.step#")]
    assert ranges == ["Optimizer.step#GradientAscent.step"]

    def refuse(opt, args, kwargs):
        raise KeyError("refused")

    handle = optimizer.register_step_pre_hook(refuse)
    with pytest.raises(KeyError):
        optimizer.step()
    handle.remove()
    calls.clear()
    optimizer.step()  # a step that raised leaves the next one hooked as usual
    assert calls == ["pre", "post"]


_FALLBACK = """
import torch
del torch._C._profiler._RecordFunctionFast  # as on a torch without it
from ascentrl import Ascent, _step_hooks
assert _step_hooks._RecordFunction is torch.autograd.profiler.record_function
x = torch.ones(3, requires_grad=True)
x.grad = torch.full((3,), 2.0)
optimizer = Ascent([x], lr=0.1)
calls = []
optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
    optimizer.step()
assert calls == ["pre", "post"], calls
assert "Optimizer.step#Ascent.step" in {event.name for event in profile.events()}
assert x.tolist() == [1.2000000476837158] * 3, x.tolist()
print("fallback ok")
"""


def test_without_torchs_fast_record_function_the_step_falls_back_to_record_function():
    result = subprocess.run([sys.executable, "-c", _FALLBACK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fallback ok"

"""Inverse-time learning-rate schedules (ascentrl.training.lr_schedules) and how the training loop uses them.

Truths: the closed forms ``lr / (1 + t/tau)`` (computed exactly in rational arithmetic) and
``lr / sqrt(1 + t/tau)``, step by step; a scheduler rebuilt from its saved state must continue bit
for bit like the one that never stopped; torch's own ``LinearLR`` for the linear schedule, which
must stay what it was.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from torch.optim.lr_scheduler import LinearLR

from ascentrl import Ascent
from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.training import InverseTimeLR


def optimizer_with_rates(*rates: float) -> Ascent:
    return Ascent([{"params": [torch.zeros(2, requires_grad=True)], "lr": rate} for rate in rates])


def step_rates(scheduler: InverseTimeLR, steps: int) -> list[list[float]]:
    """The rates of every group before the first step and after each of ``steps`` steps."""
    rates = [[group["lr"] for group in scheduler.optimizer.param_groups]]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append([group["lr"] for group in scheduler.optimizer.param_groups])
    return rates


@pytest.mark.parametrize("time_scale", [1, 5, 7.5, 40])
def test_inverse_decay_is_lr_over_one_plus_t_over_tau_at_every_step(time_scale):
    initial = (0.5, 3.0, 1e-3)
    rates = step_rates(InverseTimeLR(optimizer_with_rates(*initial), time_scale), 200)
    for t, at_t in enumerate(rates):
        for rate, lr in zip(at_t, initial):
            exact = Fraction(lr) / (1 + Fraction(t) / Fraction(time_scale))
            assert rate == pytest.approx(float(exact), rel=1e-15, abs=0)


@pytest.mark.parametrize("time_scale", [1, 10])
def test_inverse_sqrt_decay_is_lr_over_root_one_plus_t_over_tau(time_scale):
    rates = step_rates(InverseTimeLR(optimizer_with_rates(0.8), time_scale, power=0.5), 100)
    for t, (rate,) in enumerate(rates):
        assert rate == pytest.approx(0.8 / math.sqrt(1 + t / time_scale), rel=1e-14, abs=0)
    assert rates[time_scale][0] == pytest.approx(0.8 / math.sqrt(2), rel=1e-15)


def test_a_scheduler_rebuilt_from_its_state_continues_bit_for_bit():
    truth = InverseTimeLR(optimizer_with_rates(0.7, 0.2), 3.0)
    expected = step_rates(truth, 50)

    first = InverseTimeLR(optimizer_with_rates(0.7, 0.2), 3.0)
    before = step_rates(first, 17)
    resumed = InverseTimeLR(optimizer_with_rates(0.7, 0.2), 3.0)  # built fresh: rates back at 0.7, 0.2
    resumed.load_state_dict(first.state_dict())
    # Loading puts the rates of step 17 back before any step: the next update must use them.
    assert [group["lr"] for group in resumed.optimizer.param_groups] == before[-1]
    assert before + step_rates(resumed, 33)[1:] == expected  # exact equality, not approximate


@pytest.mark.parametrize("argument, value", [("time_scale", 0), ("time_scale", -1.0), ("time_scale", math.inf),
                                             ("time_scale", True), ("power", 0.0), ("power", math.nan)])
def test_bad_arguments_are_named(argument, value):
    arguments = {"time_scale": 2.0, "power": 1.0, argument: value}
    with pytest.raises(ValueError, match=f"{argument} must be a finite number > 0"):
        InverseTimeLR(optimizer_with_rates(0.1), **arguments)


# -------------------------------------------------------------------------- in the training loop
@pytest.mark.parametrize("schedule, power", [("inverse", 1.0), ("inverse_sqrt", 0.5)])
def test_the_learners_follow_the_schedule_and_a_new_train_call_restarts_it(schedule, power):
    config = MultiAgentConfig(method="optimistic", num_envs=4, lr=0.6, lr_schedule=schedule, lr_time_scale=4.0)
    learners = MultiAgentReinforce(config)
    seen = []
    learners.train(6, on_update=lambda record: seen.append(learners.optimizers[1].param_groups[0]["lr"]))
    assert seen == [pytest.approx(0.6 * (1 + t / 4.0) ** -power, rel=1e-15) for t in range(1, 7)]
    learners.train(2)  # every call starts again from lr, like the linear schedule
    assert learners.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.6 / (1 + 2 / 4.0) ** power, rel=1e-15)
    learners.close()


def test_the_linear_and_constant_schedules_are_what_they_were():
    linear = MultiAgentReinforce(MultiAgentConfig(num_envs=4, lr=0.5, lr_schedule="linear"))
    reference = LinearLR(optimizer_with_rates(0.5), 1.0, 0.0, total_iters=5)
    expected = step_rates(reference, 3)[1:]
    seen = []
    linear.train(5, stop=None, on_update=lambda record: seen.append([linear.optimizers[0].param_groups[0]["lr"]]))
    assert seen[:3] == expected and seen[-1] == [0.0]
    constant = MultiAgentReinforce(MultiAgentConfig(num_envs=4, lr=0.5, lr_schedule="constant"))
    constant.train(3)
    assert constant.optimizers[0].param_groups[0]["lr"] == 0.5
    for learners in (linear, constant):
        learners.close()


def test_the_time_scale_is_checked():
    with pytest.raises(ValueError, match="lr_time_scale must be in"):
        MultiAgentConfig(lr_schedule="inverse", lr_time_scale=0.0)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        MultiAgentConfig(lr_schedule="cosine")

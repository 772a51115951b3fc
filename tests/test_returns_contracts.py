"""What the mutation run of ``ascentrl/returns.py`` found untested: argument checks by name, and
:func:`normalize_advantages` without a mask, against hand-computed values (float64, 1e-12)."""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl.returns import (
    episode_returns,
    gae_advantages,
    next_step_autoreset_mask,
    normalize_advantages,
    reward_to_go,
    score_function_objective,
)

T, N = 3, 2


def _rollout() -> dict[str, torch.Tensor]:
    return dict(rewards=torch.ones(T, N, dtype=torch.float64),
                terminated=torch.zeros(T, N, dtype=torch.bool), truncated=torch.zeros(T, N, dtype=torch.bool))


def test_normalize_advantages_without_a_mask_by_hand():
    # [1, 2, 3, 4]: mean 2.5, sample std sqrt(5/3).
    values = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    for eps in (1e-8, 0.5):
        expected = [(x - 2.5) / (math.sqrt(5 / 3) + eps) for x in (1.0, 2.0, 3.0, 4.0)]
        normalized = normalize_advantages(values, eps=eps)
        assert normalized.shape == values.shape
        assert normalized.flatten().tolist() == pytest.approx(expected, abs=1e-12, rel=0)
    # Two entries are enough for a standard deviation: [1, 3] -> -/+ 1/sqrt(2) (up to eps).
    pair = normalize_advantages(torch.tensor([1.0, 3.0], dtype=torch.float64), eps=0.0)
    assert pair.tolist() == pytest.approx([-1 / math.sqrt(2), 1 / math.sqrt(2)], abs=1e-12)
    assert normalize_advantages(torch.tensor([[5.0]], dtype=torch.float64)).tolist() == [[0.0]]


def test_normalize_advantages_with_a_mask_by_hand():
    values = torch.tensor([1.0, 100.0, 3.0], dtype=torch.float64)
    valid = torch.tensor([True, False, True])
    expected = [(1.0 - 2.0) / (math.sqrt(2) + 0.5), 0.0, (3.0 - 2.0) / (math.sqrt(2) + 0.5)]
    assert normalize_advantages(values, valid, eps=0.5).tolist() == pytest.approx(expected, abs=1e-12, rel=0)


@pytest.mark.parametrize("argument", ["terminated", "truncated", "valid", "next_values"])
@pytest.mark.parametrize("function", [reward_to_go, episode_returns])
def test_returns_refuse_a_misshapen_argument_by_name(function, argument):
    rollout = _rollout()
    arguments = {**rollout, "valid": torch.ones(T, N, dtype=torch.bool),
                 "next_values": torch.zeros(T, N, dtype=torch.float64)}
    arguments[argument] = arguments[argument][:, :1]
    keywords = {name: arguments.pop(name) for name in ("valid", "next_values")}
    with pytest.raises(ValueError, match=rf"^{argument} must have the shape of rewards"):
        function(arguments["rewards"], arguments["terminated"], arguments["truncated"], 0.9, **keywords)


@pytest.mark.parametrize("argument", ["values", "next_values", "terminated", "truncated", "valid"])
def test_gae_refuses_a_misshapen_argument_by_name(argument):
    arguments = {**_rollout(), "values": torch.zeros(T, N, dtype=torch.float64),
                 "next_values": torch.zeros(T, N, dtype=torch.float64), "valid": torch.ones(T, N, dtype=torch.bool)}
    arguments[argument] = arguments[argument][:, :1]
    with pytest.raises(ValueError, match=rf"^{argument} must have the shape of rewards"):
        gae_advantages(arguments["rewards"], arguments["values"], arguments["next_values"], arguments["terminated"],
                       arguments["truncated"], 0.9, 0.95, valid=arguments["valid"])


@pytest.mark.parametrize("name, call", [
    ("gamma", lambda r: reward_to_go(**r, gamma=1.5)),
    ("gamma", lambda r: episode_returns(**r, gamma=-0.1)),
    ("gamma", lambda r: gae_advantages(r["rewards"], r["rewards"], r["rewards"], r["terminated"], r["truncated"],
                                       1.5, 0.9)),
    ("lam", lambda r: gae_advantages(r["rewards"], r["rewards"], r["rewards"], r["terminated"], r["truncated"],
                                     0.9, 1.5)),
])
def test_discounts_outside_zero_one_are_refused_by_name(name, call):
    with pytest.raises(ValueError, match=rf"^{name} must be in \[0, 1\]"):
        call(_rollout())


FLOAT_FLAGS = torch.zeros(2, 1)
BOOL_FLAGS = torch.zeros(2, 1, dtype=torch.bool)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: reward_to_go(torch.ones(2, 1), FLOAT_FLAGS, BOOL_FLAGS, 0.9), "terminated"),
    (lambda: reward_to_go(torch.ones(2, 1), BOOL_FLAGS, FLOAT_FLAGS, 0.9), "truncated"),
    (lambda: reward_to_go(torch.ones(2, 1), BOOL_FLAGS, BOOL_FLAGS, 0.9, valid=FLOAT_FLAGS), "valid"),
    (lambda: next_step_autoreset_mask(FLOAT_FLAGS, BOOL_FLAGS), "terminated"),
    (lambda: next_step_autoreset_mask(BOOL_FLAGS, FLOAT_FLAGS), "truncated"),
    (lambda: next_step_autoreset_mask(BOOL_FLAGS, BOOL_FLAGS, torch.zeros(1)), "done_before"),
    (lambda: score_function_objective(torch.zeros(2, 1), torch.ones(2, 1), FLOAT_FLAGS), "valid"),
])
def test_a_float_mask_is_refused_by_its_own_name(call, name):
    with pytest.raises(TypeError, match=rf"^{name} must be a bool tensor, got dtype torch.float32$"):
        call()


def test_flags_must_be_two_dimensional_even_when_their_shapes_agree():
    with pytest.raises(ValueError):
        next_step_autoreset_mask(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool))


def test_next_step_autoreset_mask_by_hand():
    """valid[t] = not done[t-1]: episode ends at t=1 in column 0 and t=0 in column 1 (done before: column 1)."""
    terminated = torch.tensor([[False, True], [True, False], [False, False]])
    mask = next_step_autoreset_mask(terminated, torch.zeros(3, 2, dtype=torch.bool), torch.tensor([False, True]))
    assert mask.tolist() == [[True, False], [True, False], [False, True]]


def test_episode_returns_restart_after_a_termination_inside_the_valid_steps():
    """One column, every step valid, an episode ending at t=1: returns 1 + 0.5·2 = 2 for t = 0, 1 and
    3 + 0.5·4 = 5 for t = 2, 3."""
    rewards = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    terminated = torch.tensor([[False], [True], [False], [False]])
    returns = episode_returns(rewards, terminated, torch.zeros_like(terminated), 0.5,
                              valid=torch.ones_like(terminated))
    assert returns.flatten().tolist() == [2.0, 2.0, 5.0, 5.0]


def test_score_function_objective_normalizations_by_hand():
    log_probs = torch.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    weights = torch.tensor([[1.0, 0.5], [2.0, 1.0]])
    # Every step counts: mean of -1, -1, -6, -4 = -3.
    assert float(score_function_objective(log_probs, weights)) == pytest.approx(-3.0)
    one = torch.tensor([[True, False], [False, False]])
    assert float(score_function_objective(log_probs, weights, one)) == pytest.approx(-1.0)  # one valid step
    assert float(score_function_objective(log_probs, weights, num_episodes=1)) == pytest.approx(-12.0)
    with pytest.raises(ValueError, match="num_episodes"):
        score_function_objective(log_probs, weights, num_episodes=2.5)

"""What the mutation run of ``ascentrl/returns.py`` found untested: argument checks by name, and
:func:`normalize_advantages` without a mask, against hand-computed values (float64, 1e-12)."""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl.returns import episode_returns, gae_advantages, normalize_advantages, reward_to_go

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

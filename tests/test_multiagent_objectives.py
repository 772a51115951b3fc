"""One agent's REINFORCE weights, surrogate and value objective (ascentrl.agents.multiagent_objectives)
on a hand-built padded batch, against numbers worked out by hand.

Two episodes, ``[T=3, N=2]``: episode 0 runs three steps and terminates; episode 1 terminates after
one step, and its padded steps carry rewards 100 and 200 that must never count. gamma = 0.5:
reward to go of episode 0 is (1 + 0.5·2 + 0.25·4, 2 + 0.5·4, 4) = (3, 4, 4), of episode 1 (4)."""

from __future__ import annotations

import pytest
import torch

from ascentrl.agents.multiagent_objectives import (
    joint_return_estimates,
    reinforce_objective,
    reinforce_weights,
    value_objective,
)

REWARDS = torch.tensor([[1.0, 4.0], [2.0, 100.0], [4.0, 200.0]])
VALID = torch.tensor([[True, True], [True, False], [True, False]])
TERMINATED = torch.tensor([[False, True], [False, False], [True, False]])
TRUNCATED = torch.zeros(3, 2, dtype=torch.bool)
TO_GO = torch.tensor([[3.0, 4.0], [4.0, 0.0], [4.0, 0.0]])
VALUES = torch.tensor([[0.5, 1.0], [1.5, 9.0], [2.0, 9.0]])


def weights(baseline: str, normalize: bool = False) -> torch.Tensor:
    return reinforce_weights(REWARDS, TERMINATED, TRUNCATED, VALID, 0.5, baseline=baseline, normalize=normalize,
                             values=VALUES if baseline == "value" else None)


def test_weights_without_a_baseline_are_the_reward_to_go_of_valid_steps():
    torch.testing.assert_close(weights("none"), TO_GO)


def test_weights_with_a_value_baseline_subtract_it_at_valid_steps():
    torch.testing.assert_close(weights("value"), torch.tensor([[2.5, 3.0], [2.5, 0.0], [2.0, 0.0]]))


def test_weights_with_the_leave_one_out_mean():
    """Step 0 has two valid episodes: each minus the other's return (3 - 4, 4 - 3). At steps 1 and 2
    episode 0 is alone, and with no other valid episode the baseline is 0 (the helper's rule)."""
    torch.testing.assert_close(weights("mean"), torch.tensor([[-1.0, 1.0], [4.0, 0.0], [4.0, 0.0]]))


def test_normalized_weights_use_the_valid_steps_only():
    """Valid reward-to-go 3, 4, 4, 4: mean 3.75, sample std 0.5."""
    torch.testing.assert_close(weights("none", normalize=True),
                               torch.tensor([[-1.5, 0.5], [0.5, 0.0], [0.5, 0.0]]), atol=1e-6, rtol=0)


def test_bad_baseline_arguments():
    with pytest.raises(ValueError, match="baseline must be 'none', 'mean' or 'value'"):
        weights("median")
    with pytest.raises(ValueError, match="values are needed for baseline 'value', and only for it"):
        reinforce_weights(REWARDS, TERMINATED, TRUNCATED, VALID, 0.5, baseline="value", normalize=False)
    with pytest.raises(ValueError, match="only for it"):
        reinforce_weights(REWARDS, TERMINATED, TRUNCATED, VALID, 0.5, baseline="none", normalize=False,
                          values=VALUES)


def test_surrogate_sums_valid_steps_and_divides_by_episodes():
    log_probs = torch.tensor([[-0.5, -1.0], [-0.25, -7.0], [-2.0, -9.0]])
    entropy = torch.tensor([[0.5, 0.25], [0.5, 8.0], [1.0, 8.0]])
    ones = torch.ones(3, 2)
    # Valid steps: -0.5 - 0.25 - 2.0 - 1.0 = -3.75 over 2 episodes; entropy 0.5 + 0.5 + 1.0 + 0.25 = 2.25.
    assert float(reinforce_objective(log_probs, ones, VALID)) == pytest.approx(-3.75 / 2)
    assert float(reinforce_objective(log_probs, ones, VALID, entropy=entropy)) == pytest.approx(-3.75 / 2)
    assert float(reinforce_objective(log_probs, ones, VALID, entropy=entropy, entropy_coef=0.4)) == pytest.approx(
        -3.75 / 2 + 0.4 * 2.25 / 2)
    assert float(reinforce_objective(log_probs[:, :1], ones[:, :1], VALID[:, :1])) == pytest.approx(-2.75)


def test_value_objective_is_minus_the_mean_squared_error_over_valid_steps():
    """Errors 0.5 - 3, 1.5 - 4, 2 - 4, 1 - 4 → squares 6.25, 6.25, 4, 9 → mean 6.375."""
    assert float(value_objective(VALUES, REWARDS, TERMINATED, TRUNCATED, VALID, 0.5)) == pytest.approx(-6.375)
    # Episode 1 cut by the time limit after step 0 instead of terminating: no bootstrap, same targets.
    terminated = torch.tensor([[False, False], [False, False], [True, False]])
    truncated = torch.tensor([[False, True], [False, False], [False, False]])
    assert float(value_objective(VALUES, REWARDS, terminated, truncated, VALID, 0.5)) == pytest.approx(-6.375)


def test_an_entropy_coefficient_without_entropies_adds_nothing():
    log_probs = torch.tensor([[-0.5, -1.0], [-0.25, -7.0], [-2.0, -9.0]])
    plain = reinforce_objective(log_probs, torch.ones(3, 2), VALID)
    assert float(reinforce_objective(log_probs, torch.ones(3, 2), VALID, entropy_coef=0.4)) == float(plain)


def test_value_objective_of_a_single_valid_step():
    one = torch.ones(1, 1, dtype=torch.bool)
    value = value_objective(torch.tensor([[1.5]]), torch.tensor([[4.0]]), one, ~one, one, 0.5)
    assert float(value) == pytest.approx(-(1.5 - 4.0) ** 2)


def test_joint_estimates_keep_float64_discounts():
    """One agent, one episode of three steps, float64, gamma 0.3, at the sampling policy: the mean
    discounted return 1 + 0.3·2 + 0.09·4 = 1.96, to float64 precision."""
    rewards = torch.tensor([[[1.0], [2.0], [4.0]]], dtype=torch.float64)
    flags = torch.tensor([[[False], [False], [True]]])
    log_probs = torch.log(torch.tensor([[[0.5], [0.25], [0.125]]], dtype=torch.float64))
    estimates = joint_return_estimates(log_probs, log_probs.clone(), rewards, flags, torch.zeros_like(flags),
                                       torch.ones_like(flags), 0.3, baseline="none")
    assert estimates.dtype == torch.float64
    assert float(estimates[0]) == pytest.approx(1.0 + 0.3 * 2.0 + 0.09 * 4.0, abs=1e-15)

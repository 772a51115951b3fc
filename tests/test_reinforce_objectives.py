"""Reinforce's own weights and objectives on a hand-built batch with padded steps, against plain arithmetic.

The batch holds two episodes of a CartPole-shaped env: episode 0 runs three steps and terminates;
episode 1 terminates after one step, so its steps 1 and 2 are padding (``valid`` False) whose
rewards, written here as 100 and 200, must never count. Every expected number below is computed
by hand from the rewards (gamma = 0.5), never by the library's return helpers.
"""

from __future__ import annotations

import pytest
import torch

from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.agents.reinforce import EpisodeBatch

REWARDS = torch.tensor([[1.0, 4.0], [2.0, 100.0], [4.0, 200.0]])
VALID = torch.tensor([[True, True], [True, False], [True, False]])
TERMINATED = torch.tensor([[False, True], [False, False], [True, False]])
# Episode 0, gamma 0.5: reward to go 4, 2 + 2 = 4, 1 + 2 = 3; its return 1 + 1 + 1 = 3. Episode 1: 4.
REWARD_TO_GO = torch.tensor([[3.0, 4.0], [4.0, 0.0], [4.0, 0.0]])
EPISODE_RETURNS = torch.tensor([[3.0, 4.0], [3.0, 0.0], [3.0, 0.0]])


def padded_batch() -> EpisodeBatch:
    observations = torch.randn(4, 2, 4, generator=torch.Generator().manual_seed(7))
    return EpisodeBatch(observations=observations, actions=torch.tensor([[0, 1], [1, 1], [0, 0]]), rewards=REWARDS,
                        terminated=TERMINATED, truncated=torch.zeros(3, 2, dtype=torch.bool), valid=VALID)


def agent(**overrides) -> Reinforce:
    return Reinforce(ReinforceConfig(**{"seed": 0, "num_envs": 2, "gamma": 0.5, "baseline": "none",
                                        "normalize_advantages": False, **overrides}))


@pytest.mark.parametrize(("returns", "expected"), [("reward_to_go", REWARD_TO_GO), ("episode", EPISODE_RETURNS)])
def test_weights_ignore_the_rewards_of_padded_steps(returns, expected):
    weights, targets = agent(returns=returns).weights(padded_batch())
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(targets, REWARD_TO_GO)  # the value targets are always the reward to go


def test_normalized_weights_use_the_valid_steps_only():
    """Valid weights 3, 4, 4, 4 (reward to go): mean 3.75, sample std 0.5."""
    weights, _ = agent(normalize_advantages=True).weights(padded_batch())
    expected = torch.tensor([[-1.5, 0.5], [0.5, 0.0], [0.5, 0.0]])
    torch.testing.assert_close(weights, expected, atol=1e-6, rtol=0)


def test_value_baseline_weights_subtract_the_value_at_each_valid_step():
    learner = agent(baseline="value")
    batch = padded_batch()
    with torch.no_grad():
        values = learner.value(batch.observations).squeeze(-1)
    weights, _ = learner.weights(batch)
    torch.testing.assert_close(weights, (REWARD_TO_GO - values[:-1]) * VALID)


def test_policy_objective_counts_valid_steps_only_and_divides_by_episodes():
    """Weights of 1 everywhere, padding included: J = (1/2) sum over the four valid steps of log pi."""
    learner = agent()
    batch = padded_batch()
    objective = learner.policy_objective(batch, torch.ones(3, 2))
    log_probs, _ = learner.policy.log_prob_and_entropy(batch.observations[:-1], batch.actions)
    expected = (log_probs[0, 0] + log_probs[1, 0] + log_probs[2, 0] + log_probs[0, 1]) / 2
    torch.testing.assert_close(objective, expected)


def test_value_objective_is_the_negative_mean_squared_error_over_valid_steps():
    learner = agent(baseline="value")
    batch = padded_batch()
    targets = torch.tensor([[1.0, 2.0], [3.0, 50.0], [5.0, 60.0]])  # padding targets must not count
    with torch.no_grad():
        values = learner.value(batch.observations[:-1]).squeeze(-1)
    errors = [float(values[t, n]) - float(targets[t, n]) for t, n in ((0, 0), (1, 0), (2, 0), (0, 1))]
    expected = -sum(error * error for error in errors) / 4
    assert float(learner.value_objective(batch, targets).detach()) == pytest.approx(expected, rel=1e-6)
    one_step = EpisodeBatch(observations=batch.observations[:2, :1], actions=batch.actions[:1, :1],
                            rewards=REWARDS[:1, :1], terminated=torch.tensor([[True]]),
                            truncated=torch.tensor([[False]]), valid=torch.tensor([[True]]))
    error = float(values[0, 0]) - 1.0
    assert float(learner.value_objective(one_step, targets[:1, :1]).detach()) == pytest.approx(-error * error, rel=1e-6)


def test_whole_episode_returns_bootstrap_a_truncated_episode_from_the_value():
    """Episode 1 cut by the time limit after step 0 (truncated, not terminated): its whole-episode
    return is r_0 + gamma V(s_1) = 4 + 0.5 V(s_1) at its only valid step; minus V(s_0) as baseline."""
    learner = agent(returns="episode", baseline="value")
    batch = padded_batch()
    truncated = torch.tensor([[False, True], [False, False], [False, False]])
    terminated = torch.tensor([[False, False], [False, False], [True, False]])
    cut = EpisodeBatch(observations=batch.observations, actions=batch.actions, rewards=REWARDS,
                       terminated=terminated, truncated=truncated, valid=VALID)
    with torch.no_grad():
        values = learner.value(batch.observations).squeeze(-1)
    weights, _ = learner.weights(cut)
    expected = 4.0 + 0.5 * float(values[1, 1]) - float(values[0, 1])
    assert float(weights[0, 1]) == pytest.approx(expected, rel=1e-6)
    assert float(weights[0, 0]) == pytest.approx(3.0 - float(values[0, 0]), rel=1e-6)

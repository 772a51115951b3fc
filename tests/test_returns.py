"""Return and advantage math of ``ascentrl.returns`` against hand-computed values.

Every expected number below is either written out by hand (the arithmetic is in the comments) or
comes from a plain-python reference loop written here from the textbook definitions, independently
of the vectorized code under test.

The tiny rollout used throughout has ``gamma = 0.5`` and two envs laid out as a Gymnasium
NEXT_STEP-autoreset vector env would return them::

    step t            0     1     2         3
    env 0  reward     1     2     0         4
           flags      -     term  (reset)   -        rollout ends mid-episode
    env 1  reward     1     1     1         0
           flags      -     -     trunc     (reset)

``next_values`` (the value of the observation each step returned) is ``[10, 20, 30, 40]`` for both.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascentrl.returns import (
    batch_mean_baseline,
    episode_returns,
    first_episode_mask,
    gae_advantages,
    next_step_autoreset_mask,
    normalize_advantages,
    reward_to_go,
    score_function_objective,
)

GAMMA = 0.5
F, T = False, True


def columns(*per_env: list) -> torch.Tensor:
    """Build a ``[T, N]`` tensor from one list per env (easier to read than rows)."""
    return torch.tensor(list(zip(*per_env)))


REWARDS = columns([1.0, 2.0, 0.0, 4.0], [1.0, 1.0, 1.0, 0.0])
TERMINATED = columns([F, T, F, F], [F, F, F, F])
TRUNCATED = columns([F, F, F, F], [F, F, T, F])
NEXT_VALUES = columns([10.0, 20.0, 30.0, 40.0], [10.0, 20.0, 30.0, 40.0])
AUTORESET_VALID = columns([T, T, F, T], [T, T, T, F])


# ------------------------------------------------------------------------------------------- masks
def test_next_step_autoreset_mask_marks_the_step_after_each_episode_end():
    assert torch.equal(next_step_autoreset_mask(TERMINATED, TRUNCATED), AUTORESET_VALID)


def test_next_step_autoreset_mask_uses_the_flags_of_the_previous_rollout():
    # env 0 ended on the last step of the previous rollout, so its first step here is the reset.
    valid = next_step_autoreset_mask(TERMINATED, TRUNCATED, done_before=torch.tensor([T, F]))
    assert torch.equal(valid, columns([F, T, F, T], [T, T, T, F]))


def test_first_episode_mask_keeps_only_each_envs_first_episode():
    terminated = columns([F, T, F, F, T], [F, F, F, F, F], [T, F, F, T, F])
    truncated = columns([F, F, F, F, F], [F, F, F, F, T], [F, F, F, F, F])
    expected = columns([T, T, F, F, F], [T, T, T, T, T], [T, F, F, F, F])
    assert torch.equal(first_episode_mask(terminated, truncated), expected)


# ------------------------------------------------------------------------------------ reward-to-go
def reference_reward_to_go(rewards, terminated, truncated, gamma, next_values=None):
    """Textbook backward recursion, one env at a time, on python floats."""
    steps, envs = len(rewards), len(rewards[0])
    result = [[0.0] * envs for _ in range(steps)]
    for n in range(envs):
        following = 0.0  # what gamma multiplies at step t
        for t in reversed(range(steps)):
            if terminated[t][n]:
                following = 0.0
            elif truncated[t][n] or t == steps - 1:
                following = next_values[t][n] if next_values is not None else 0.0
            result[t][n] = rewards[t][n] + gamma * following
            following = result[t][n]
    return result


def test_reward_to_go_without_values_stops_at_every_episode_end():
    # env 0: G3 = 4 (rollout end, nothing added); G2 = 0 + .5 * 4 = 2 (masked -> 0);
    #        G1 = 2 (terminated); G0 = 1 + .5 * 2 = 2.
    # env 1: G3 = 0 (masked); G2 = 1 (truncated, nothing added); G1 = 1.5; G0 = 1.75.
    returns = reward_to_go(REWARDS, TERMINATED, TRUNCATED, GAMMA, valid=AUTORESET_VALID)
    expected = columns([2.0, 2.0, 0.0, 4.0], [1.75, 1.5, 1.0, 0.0])
    torch.testing.assert_close(returns, expected)


def test_reward_to_go_bootstraps_at_truncation_and_rollout_end_but_not_at_termination():
    # env 0: G3 = 4 + .5 * 40 = 24 (rollout end); G2 = .5 * 24 = 12 (masked); G1 = 2 (terminated,
    #        no bootstrap although next_values is 20); G0 = 1 + .5 * 2 = 2.
    # env 1: G3 = 0 + .5 * 40 (masked); G2 = 1 + .5 * 30 = 16 (truncated); G1 = 1 + 8 = 9;
    #        G0 = 1 + 4.5 = 5.5.
    returns = reward_to_go(REWARDS, TERMINATED, TRUNCATED, GAMMA, next_values=NEXT_VALUES,
                           valid=AUTORESET_VALID)
    expected = columns([2.0, 2.0, 0.0, 24.0], [5.5, 9.0, 16.0, 0.0])
    torch.testing.assert_close(returns, expected)


def test_reward_to_go_terminated_wins_over_truncated():
    # Both flags on step 1: the state is terminal, so no bootstrap: G1 = 1, G0 = 1 + .5 = 1.5.
    rewards = columns([1.0, 1.0])
    returns = reward_to_go(rewards, columns([F, T]), columns([F, T]), GAMMA,
                           next_values=columns([5.0, 7.0]))
    torch.testing.assert_close(returns, columns([1.5, 1.0]))


@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
@pytest.mark.parametrize("bootstrap", [False, True])
def test_reward_to_go_matches_the_reference_loop_on_random_rollouts(gamma, bootstrap):
    generator = torch.Generator().manual_seed(7)
    rewards = torch.randn(9, 5, generator=generator, dtype=torch.float64)
    terminated = torch.rand(9, 5, generator=generator) < 0.2
    truncated = torch.rand(9, 5, generator=generator) < 0.2
    next_values = torch.randn(9, 5, generator=generator, dtype=torch.float64) if bootstrap else None
    expected = reference_reward_to_go(rewards.tolist(), terminated.tolist(), truncated.tolist(), gamma,
                                      next_values.tolist() if bootstrap else None)
    returns = reward_to_go(rewards, terminated, truncated, gamma, next_values=next_values)
    torch.testing.assert_close(returns, torch.tensor(expected, dtype=torch.float64))


# --------------------------------------------------------------------------- whole-episode returns
def test_episode_returns_broadcast_the_return_from_each_episode_start():
    # env 0: first episode (steps 0-1) has G0 = 2; step 2 is the reset (0); the episode starting at
    #        step 3 returns 4 without values and 4 + .5 * 40 = 24 with them.
    # env 1: one episode (steps 0-2): 1.75 without values, 5.5 with them; step 3 is the reset.
    plain = episode_returns(REWARDS, TERMINATED, TRUNCATED, GAMMA, valid=AUTORESET_VALID)
    torch.testing.assert_close(plain, columns([2.0, 2.0, 0.0, 4.0], [1.75, 1.75, 1.75, 0.0]))
    bootstrapped = episode_returns(REWARDS, TERMINATED, TRUNCATED, GAMMA, next_values=NEXT_VALUES,
                                   valid=AUTORESET_VALID)
    torch.testing.assert_close(bootstrapped, columns([2.0, 2.0, 0.0, 24.0], [5.5, 5.5, 5.5, 0.0]))


def test_episode_returns_without_mask_start_a_new_episode_after_each_end():
    # Same-step reset (no autoreset step): episodes [0, 1] and [2, 3] of env 0 with gamma 1:
    # 1 + 2 = 3 and 3 + 4 = 7.
    rewards = columns([1.0, 2.0, 3.0, 4.0])
    returns = episode_returns(rewards, columns([F, T, F, F]), columns([F, F, F, F]), 1.0)
    torch.testing.assert_close(returns, columns([3.0, 3.0, 7.0, 7.0]))


# ------------------------------------------------------------------------------------------- GAE
def reference_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``A_t = sum_k (gamma lam)^k delta_{t+k}``, summed forward until the episode or rollout ends."""
    steps, envs = len(rewards), len(rewards[0])
    result = [[0.0] * envs for _ in range(steps)]
    for n in range(envs):
        for t in range(steps):
            total, factor = 0.0, 1.0
            for k in range(t, steps):
                bootstrap = 0.0 if terminated[k][n] else next_values[k][n]
                delta = rewards[k][n] + gamma * bootstrap - values[k][n]
                total += factor * delta
                if terminated[k][n] or truncated[k][n]:
                    break
                factor *= gamma * lam
            result[t][n] = total
    return result


ONE_ENV_REWARDS = columns([1.0, 2.0, 3.0])
ONE_ENV_VALUES = columns([0.5, 1.0, 1.5])
NOT_DONE = columns([F, F, F])


def test_gae_by_hand_for_lambda_between_zero_and_one():
    # gamma = lambda = .5, next_values = [1, 1.5, 4] (consistent with values, then the rollout's end):
    # delta = [1 + .5 - .5, 2 + .75 - 1, 3 + 2 - 1.5] = [1, 1.75, 3.5]
    # A2 = 3.5; A1 = 1.75 + .25 * 3.5 = 2.625; A0 = 1 + .25 * 2.625 = 1.65625.
    advantages = gae_advantages(ONE_ENV_REWARDS, ONE_ENV_VALUES, columns([1.0, 1.5, 4.0]),
                                NOT_DONE, NOT_DONE, GAMMA, 0.5)
    torch.testing.assert_close(advantages, columns([1.65625, 2.625, 3.5]))


def test_gae_bootstraps_from_the_final_observation_at_truncation():
    # Truncated at step 1 with V(final observation) = 6: delta1 = 2 + .5 * 6 - 1 = 4, nothing flows
    # back from step 2: A1 = 4, A0 = 1 + .25 * 4 = 2; A2 = delta2 = 3.5.
    advantages = gae_advantages(ONE_ENV_REWARDS, ONE_ENV_VALUES, columns([1.0, 6.0, 4.0]),
                                NOT_DONE, columns([F, T, F]), GAMMA, 0.5)
    torch.testing.assert_close(advantages, columns([2.0, 4.0, 3.5]))


def test_gae_does_not_bootstrap_at_termination():
    # Terminated at step 1: delta1 = 2 - 1 = 1 (next value ignored): A1 = 1, A0 = 1 + .25 = 1.25.
    advantages = gae_advantages(ONE_ENV_REWARDS, ONE_ENV_VALUES, columns([1.0, 6.0, 4.0]),
                                columns([F, T, F]), NOT_DONE, GAMMA, 0.5)
    torch.testing.assert_close(advantages, columns([1.25, 1.0, 3.5]))


# Values consistent with NEXT_VALUES inside each episode (V(s_{t+1}) = next_values[t] wherever
# step t did not end an episode; at the reset steps the observation is the final one, whose value
# is next_values of the step that ended): env 0 [3, 10, 20, 30], env 1 [2, 10, 20, 30].
CONSISTENT_VALUES = columns([3.0, 10.0, 20.0, 30.0], [2.0, 10.0, 20.0, 30.0])


def test_gae_lambda_zero_is_the_one_step_td_error():
    # delta = r + .5 * (1 - terminated) * next_value - value, masked:
    # env 0: [1 + 5 - 3, 2 - 10, reset, 4 + 20 - 30]; env 1: [1 + 5 - 2, 1 + 10 - 10, 1 + 15 - 20, reset]
    advantages = gae_advantages(REWARDS, CONSISTENT_VALUES, NEXT_VALUES, TERMINATED, TRUNCATED, GAMMA,
                                0.0, valid=AUTORESET_VALID)
    torch.testing.assert_close(advantages, columns([3.0, -8.0, 0.0, -6.0], [4.0, 1.0, -4.0, 0.0]))


def test_gae_lambda_one_is_the_bootstrapped_return_minus_the_value():
    # G from the bootstrapped reward-to-go test: env 0 [2, 2, -, 24], env 1 [5.5, 9, 16, -];
    # A = G - V: env 0 [2 - 3, 2 - 10, 0, 24 - 30], env 1 [5.5 - 2, 9 - 10, 16 - 20, 0].
    advantages = gae_advantages(REWARDS, CONSISTENT_VALUES, NEXT_VALUES, TERMINATED, TRUNCATED, GAMMA,
                                1.0, valid=AUTORESET_VALID)
    torch.testing.assert_close(advantages, columns([-1.0, -8.0, 0.0, -6.0], [3.5, -1.0, -4.0, 0.0]))


@pytest.mark.parametrize("lam", [0.0, 0.7, 1.0])
def test_gae_matches_the_forward_sum_reference_on_random_rollouts(lam):
    generator = torch.Generator().manual_seed(11)
    shape = (8, 4)
    rewards, values, next_values = (torch.randn(*shape, generator=generator, dtype=torch.float64)
                                    for _ in range(3))
    terminated = torch.rand(*shape, generator=generator) < 0.2
    truncated = torch.rand(*shape, generator=generator) < 0.2
    expected = reference_gae(rewards.tolist(), values.tolist(), next_values.tolist(), terminated.tolist(),
                             truncated.tolist(), 0.9, lam)
    advantages = gae_advantages(rewards, values, next_values, terminated, truncated, 0.9, lam)
    torch.testing.assert_close(advantages, torch.tensor(expected, dtype=torch.float64))


# ------------------------------------------------------------------------------------- baselines
def test_batch_mean_baseline_leaves_each_env_out_and_skips_invalid_ones():
    returns = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    valid = torch.tensor([[T, T, T], [T, F, T], [F, T, F]])
    # row 0: [(2 + 3) / 2, (1 + 3) / 2, (1 + 2) / 2]
    # row 1: env 1 is invalid: [6, (4 + 6) / 2, 4]
    # row 2: only env 1 is valid: it has no other env (0), the others see 8.
    expected = torch.tensor([[2.5, 2.0, 1.5], [6.0, 5.0, 4.0], [8.0, 0.0, 8.0]])
    torch.testing.assert_close(batch_mean_baseline(returns, valid), expected)


def test_batch_mean_baseline_of_a_single_env_is_zero():
    torch.testing.assert_close(batch_mean_baseline(torch.tensor([[7.0], [3.0]]), torch.tensor([[T], [T]])),
                               torch.zeros(2, 1))


def test_normalize_advantages_uses_only_the_valid_steps():
    advantages = torch.tensor([[1.0, 100.0], [3.0, 2.0], [-50.0, 6.0]])
    valid = torch.tensor([[T, F], [T, T], [F, T]])
    selected = np.array([1.0, 3.0, 2.0, 6.0])
    mean, std = selected.mean(), selected.std(ddof=1)
    expected = torch.tensor([[(1.0 - mean) / std, 0.0], [(3.0 - mean) / std, (2.0 - mean) / std],
                             [0.0, (6.0 - mean) / std]], dtype=torch.float32)
    normalized = normalize_advantages(advantages, valid)
    torch.testing.assert_close(normalized, expected)
    assert float(normalized[valid].mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(normalized[valid].std()) == pytest.approx(1.0, rel=1e-6)


def test_normalize_advantages_of_fewer_than_two_valid_steps_is_zero():
    valid = torch.tensor([[T, F]])
    assert torch.equal(normalize_advantages(torch.tensor([[5.0, 9.0]]), valid), torch.zeros(1, 2))


# ----------------------------------------------------------------------------- score function
def test_score_function_objective_value_and_gradient_by_hand():
    log_probs = torch.tensor([[-1.0, -2.0], [-0.5, float("-inf")]], requires_grad=True)
    weights = torch.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
    valid = torch.tensor([[T, T], [T, F]])  # the -inf log-probability sits on an ignored step
    objective = score_function_objective(log_probs, weights, valid)
    # (-1 * 2 + -2 * 3 + -.5 * 4) / 3 valid steps = -10 / 3
    assert float(objective.detach()) == pytest.approx(-10.0 / 3.0)
    objective.backward()
    torch.testing.assert_close(log_probs.grad, torch.tensor([[2.0, 3.0], [4.0, 0.0]]) / 3.0)
    assert weights.grad is None  # the weights are constants of the surrogate


def test_score_function_objective_per_episode_normalization():
    log_probs = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)
    weights = torch.tensor([[2.0, 3.0], [4.0, 5.0]])
    objective = score_function_objective(log_probs, weights, num_episodes=2)
    assert float(objective.detach()) == pytest.approx((-2.0 - 6.0 - 2.0 - 15.0) / 2.0)
    objective.backward()
    torch.testing.assert_close(log_probs.grad, weights / 2.0)


# ---------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\]"):
        reward_to_go(REWARDS, TERMINATED, TRUNCATED, 1.5)
    with pytest.raises(ValueError, match="lam must be in"):
        gae_advantages(REWARDS, REWARDS, REWARDS, TERMINATED, TRUNCATED, 0.9, -0.1)
    with pytest.raises(ValueError, match="next_values must have the shape"):
        reward_to_go(REWARDS, TERMINATED, TRUNCATED, GAMMA, next_values=torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"rewards must have shape \[T, N\]"):
        reward_to_go(torch.zeros(4), TERMINATED, TRUNCATED, GAMMA)
    with pytest.raises(ValueError, match="at least one step"):
        reward_to_go(torch.zeros(0, 2), torch.zeros(0, 2, dtype=torch.bool),
                     torch.zeros(0, 2, dtype=torch.bool), GAMMA)
    with pytest.raises(TypeError, match="terminated must be a bool tensor"):
        reward_to_go(REWARDS, TERMINATED.float(), TRUNCATED, GAMMA)
    with pytest.raises(TypeError, match="valid must be a bool tensor"):
        normalize_advantages(REWARDS, AUTORESET_VALID.float())
    with pytest.raises(TypeError, match="valid must be a bool tensor"):
        batch_mean_baseline(REWARDS, AUTORESET_VALID.float())
    with pytest.raises(ValueError, match="done_before must have shape"):
        next_step_autoreset_mask(TERMINATED, TRUNCATED, done_before=torch.tensor([T, F, F]))
    with pytest.raises(ValueError, match="num_episodes must be a positive integer"):
        score_function_objective(REWARDS, REWARDS, num_episodes=0)
    with pytest.raises(ValueError, match="log_probs and weights must have the same shape"):
        score_function_objective(REWARDS, REWARDS[:1])

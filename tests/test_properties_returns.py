"""Property-based tests of the return/advantage math over random episode boundaries.

The truth each property is checked against is a plain python loop over one env at a time, written
from the definitions (not from the vectorized code): a discounted sum that stops at a termination,
is cut (bootstrapped from V(s_{t+1}) when values are given) at a truncation or the rollout's end,
and restarts after either.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ascentrl.returns import (
    batch_mean_baseline,
    episode_returns,
    first_episode_mask,
    gae_advantages,
    next_step_autoreset_mask,
    normalize_advantages,
    reward_to_go,
)

EXAMPLES = settings(max_examples=60, deadline=None)


@st.composite
def rollouts(draw, with_values: bool = False):
    """A ``[T, N]`` rollout with random flags; float64 so the python reference can be exact-ish."""
    steps = draw(st.integers(1, 12))
    envs = draw(st.integers(1, 4))
    cells = steps * envs
    finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)

    def grid(elements):
        return draw(st.lists(elements, min_size=cells, max_size=cells))

    rewards = torch.tensor(grid(finite), dtype=torch.float64).reshape(steps, envs)
    terminated = torch.tensor(grid(st.booleans())).reshape(steps, envs)
    truncated = torch.tensor(grid(st.booleans())).reshape(steps, envs)
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]))
    rollout = {"rewards": rewards, "terminated": terminated, "truncated": truncated, "gamma": gamma}
    if with_values:
        # V(s_0..s_T) along the trajectory; where step t ended an episode, V(s_{t+1}) is the value
        # of the final observation, which differs from the next episode's first state value.
        values = torch.tensor(draw(st.lists(finite, min_size=cells + envs, max_size=cells + envs)),
                              dtype=torch.float64).reshape(steps + 1, envs)
        final_values = torch.tensor(grid(finite), dtype=torch.float64).reshape(steps, envs)
        done = terminated | truncated
        rollout["values"] = values[:-1]
        rollout["next_values"] = torch.where(done, final_values, values[1:])
    return rollout


def reference_reward_to_go(rewards, terminated, truncated, gamma, next_values=None):
    """Per env, backwards: G_t = r_t + gamma * (0 | V(s_{t+1}) or 0 | G_{t+1})."""
    steps, envs = rewards.shape
    result = [[0.0] * envs for _ in range(steps)]
    for n in range(envs):
        following = 0.0
        for t in reversed(range(steps)):
            if terminated[t, n]:
                after = 0.0
            elif truncated[t, n] or t == steps - 1:
                after = float(next_values[t, n]) if next_values is not None else 0.0
            else:
                after = following
            following = float(rewards[t, n]) + gamma * after
            result[t][n] = following
    return torch.tensor(result, dtype=torch.float64)


def random_valid_mask(draw, shape):
    cells = shape[0] * shape[1]
    return torch.tensor(draw(st.lists(st.booleans(), min_size=cells, max_size=cells))).reshape(shape)


@EXAMPLES
@given(rollouts(), st.data())
def test_reward_to_go_matches_a_per_episode_python_loop(rollout, data):
    expected = reference_reward_to_go(rollout["rewards"], rollout["terminated"], rollout["truncated"],
                                      rollout["gamma"])
    got = reward_to_go(rollout["rewards"], rollout["terminated"], rollout["truncated"], rollout["gamma"])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-9)
    valid = random_valid_mask(data.draw, rollout["rewards"].shape)
    masked = reward_to_go(rollout["rewards"], rollout["terminated"], rollout["truncated"], rollout["gamma"],
                          valid=valid)
    assert bool((masked[~valid] == 0).all())
    torch.testing.assert_close(masked[valid], expected[valid], rtol=1e-12, atol=1e-9)


@EXAMPLES
@given(rollouts(with_values=True))
def test_bootstrapped_reward_to_go_matches_the_loop(rollout):
    expected = reference_reward_to_go(rollout["rewards"], rollout["terminated"], rollout["truncated"],
                                      rollout["gamma"], rollout["next_values"])
    got = reward_to_go(rollout["rewards"], rollout["terminated"], rollout["truncated"], rollout["gamma"],
                       next_values=rollout["next_values"])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-9)


@EXAMPLES
@given(rollouts(with_values=True))
def test_gae_with_lambda_one_is_bootstrapped_reward_to_go_minus_values(rollout):
    flags = (rollout["terminated"], rollout["truncated"])
    to_go = reward_to_go(rollout["rewards"], *flags, rollout["gamma"], next_values=rollout["next_values"])
    advantages = gae_advantages(rollout["rewards"], rollout["values"], rollout["next_values"], *flags,
                                rollout["gamma"], 1.0)
    torch.testing.assert_close(advantages, to_go - rollout["values"], rtol=1e-9, atol=1e-8)


@EXAMPLES
@given(rollouts(with_values=True))
def test_gae_with_lambda_zero_is_the_one_step_td_error(rollout):
    rewards, gamma = rollout["rewards"], rollout["gamma"]
    advantages = gae_advantages(rewards, rollout["values"], rollout["next_values"], rollout["terminated"],
                                rollout["truncated"], gamma, 0.0)
    expected = [[float(rewards[t, n]) + (0.0 if rollout["terminated"][t, n] else gamma * float(
        rollout["next_values"][t, n])) - float(rollout["values"][t, n]) for n in range(rewards.shape[1])]
        for t in range(rewards.shape[0])]
    torch.testing.assert_close(advantages, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-9)


@EXAMPLES
@given(rollouts(with_values=True), st.data())
def test_masked_steps_are_exactly_zero_everywhere(rollout, data):
    flags = (rollout["terminated"], rollout["truncated"])
    valid = random_valid_mask(data.draw, rollout["rewards"].shape)
    outputs = {
        "reward_to_go": reward_to_go(rollout["rewards"], *flags, rollout["gamma"],
                                     next_values=rollout["next_values"], valid=valid),
        "episode_returns": episode_returns(rollout["rewards"], *flags, rollout["gamma"], valid=valid),
        "gae": gae_advantages(rollout["rewards"], rollout["values"], rollout["next_values"], *flags,
                              rollout["gamma"], 0.95, valid=valid),
        "normalized": normalize_advantages(rollout["rewards"], valid),
    }
    for name, output in outputs.items():
        assert bool((output[~valid] == 0).all()), name


@EXAMPLES
@given(rollouts())
def test_episode_return_is_the_return_from_the_first_step_of_each_episode(rollout):
    rewards, terminated, truncated, gamma = (rollout[key] for key in ("rewards", "terminated", "truncated",
                                                                        "gamma"))
    to_go = reference_reward_to_go(rewards, terminated, truncated, gamma)
    expected = torch.empty_like(rewards)
    for n in range(rewards.shape[1]):
        start = 0
        for t in range(rewards.shape[0]):
            if t > 0 and (terminated[t - 1, n] or truncated[t - 1, n]):
                start = t
            expected[t, n] = to_go[start, n]
    got = episode_returns(rewards, terminated, truncated, gamma)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-9)


@EXAMPLES
@given(rollouts())
def test_masks_follow_their_definitions(rollout):
    terminated, truncated = rollout["terminated"], rollout["truncated"]
    done = (terminated | truncated).tolist()
    steps, envs = terminated.shape
    after_reset = next_step_autoreset_mask(terminated, truncated)
    first = first_episode_mask(terminated, truncated)
    for n in range(envs):
        for t in range(steps):
            assert bool(after_reset[t, n]) == (t == 0 or not done[t - 1][n])
            assert bool(first[t, n]) == (not any(done[k][n] for k in range(t)))


@EXAMPLES
@given(rollouts(), st.data())
def test_batch_mean_baseline_is_the_leave_one_out_mean(rollout, data):
    returns = rollout["rewards"]
    valid = random_valid_mask(data.draw, returns.shape)
    baseline = batch_mean_baseline(returns, valid)
    steps, envs = returns.shape
    for t in range(steps):
        for n in range(envs):
            others = [float(returns[t, m]) for m in range(envs) if m != n and valid[t, m]]
            expected = sum(others) / len(others) if others else 0.0
            assert math.isclose(float(baseline[t, n]), expected, rel_tol=1e-9, abs_tol=1e-9)


@EXAMPLES
@given(rollouts(), st.data())
def test_normalized_advantages_have_zero_mean_and_unit_spread_on_valid_steps(rollout, data):
    advantages = rollout["rewards"]
    valid = random_valid_mask(data.draw, advantages.shape)
    selected = advantages[valid]
    normalized = normalize_advantages(advantages, valid)
    if selected.numel() < 2:
        assert bool((normalized == 0).all())
        return
    spread = float(selected.std())
    # (A - mean)/(std + eps) magnifies the rounding of the mean by max|A|/(std + eps): nearly equal
    # advantages leave ~1e-8 where exactly equal ones leave 0
    magnification = float(selected.abs().max()) / (spread + 1e-8)
    assert abs(float(normalized[valid].mean())) <= 1e-12 * (1.0 + magnification)
    # the spread is std/(std + eps): 1 up to eps/std, 0 for equal advantages
    assert math.isclose(float(normalized[valid].std()), spread / (spread + 1e-8), rel_tol=1e-9, abs_tol=1e-7)

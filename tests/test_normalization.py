"""Running observation normalization and return-based reward scaling (ascentrl.agents.normalization)
against references computed here from everything the statistics have seen: NumPy's mean and
variance in float64 over the concatenated data, and a plain loop for the discounted returns. Also:
both clip bounds at the default of 10, the disabled forms, and state dicts that restore the exact
statistics and carry on as if never saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascentrl.agents.normalization import EPSILON, ObservationNormalizer, RewardScaler, RunningMoments


def float32_data(seed: int, rows: int) -> np.ndarray:
    """Observations as envs give them (float32), with features on very different scales."""
    rng = np.random.default_rng(seed)
    return rng.normal([3.0, -2.0, 0.5], [2.0, 0.1, 5.0], (rows, 3)).astype(np.float32)


def standardized(observations: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``(o - mean) / sqrt(var + EPSILON)`` with NumPy's float64 mean and variance of everything seen."""
    reference = seen.astype(np.float64)
    return (observations - reference.mean(axis=0)) / np.sqrt(reference.var(axis=0) + EPSILON)


def test_running_moments_match_numpy_over_batches():
    data = float32_data(0, 1000)
    moments = RunningMoments((3,))
    for batch in np.array_split(data, [7, 100, 101, 640]):
        moments.update(batch)
    moments.update(data[:0])  # an empty batch changes nothing
    reference = data.astype(np.float64)  # the statistics are float64 whatever the data's type
    np.testing.assert_allclose(moments.mean, reference.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.var, reference.var(axis=0), rtol=1e-12)
    assert moments.count == 1000


def test_observations_are_standardized_by_the_statistics_of_what_was_seen():
    seen = float32_data(1, 300)
    normalizer = ObservationNormalizer((3,), enabled=True)
    normalizer.update(seen[:120])
    normalizer.update(seen[120:])
    observations = float32_data(2, 50)
    expected = standardized(observations, seen)
    normalized = normalizer(observations)
    assert normalized.dtype == np.float32
    assert np.abs(expected).max() < 10  # nothing clipped here
    np.testing.assert_allclose(normalized, expected, rtol=1e-5, atol=1e-6)


def test_epsilon_sets_the_scale_of_a_near_constant_feature():
    """A feature of variance 1e-6 (a contact flag that rarely changes, say) is divided by
    sqrt(1e-6 + 1e-8): EPSILON is 1% of its scale, and part of the formula."""
    rng = np.random.default_rng(14)
    seen = np.stack([rng.normal(0.0, 1.0, 400), 1.0 + rng.normal(0.0, 1e-3, 400)], axis=1).astype(np.float32)
    normalizer = ObservationNormalizer((2,), enabled=True)
    normalizer.update(seen)
    observations = np.array([[0.5, 1.002], [-0.5, 0.998]], np.float32)
    np.testing.assert_allclose(normalizer(observations), standardized(observations, seen), rtol=1e-5)


def test_observations_are_clipped_on_both_sides_at_ten_by_default():
    normalizer = ObservationNormalizer((3,), enabled=True)
    normalizer.update(float32_data(3, 200))
    far = np.array([[1e3, -1e3, 1e3], [-1e3, 1e3, -1e3]], np.float32)
    np.testing.assert_array_equal(normalizer(far), np.array([[10, -10, 10], [-10, 10, -10]], np.float32))
    narrow = ObservationNormalizer((3,), enabled=True, clip=2.5)
    narrow.load_state_dict(normalizer.state_dict())
    np.testing.assert_array_equal(narrow(far), far.clip(-2.5, 2.5))


def test_before_any_update_the_statistics_are_zero_mean_and_unit_variance():
    observations = float32_data(4, 5)
    np.testing.assert_allclose(ObservationNormalizer((3,), enabled=True)(observations),
                               observations / np.sqrt(1.0 + EPSILON), rtol=1e-6)


def test_a_disabled_normalizer_is_the_identity_and_learns_nothing():
    normalizer = ObservationNormalizer((3,), enabled=False)
    observations = float32_data(5, 20).astype(np.float64) * 100
    normalizer.update(observations)
    assert normalizer.moments.count == 0
    result = normalizer(observations)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, observations.astype(np.float32))


def reference_scaling(rollouts: list[tuple[np.ndarray, np.ndarray]], gamma: float, clip: float = 10.0):
    """Scaled rewards of each rollout and the variance after it, by a plain loop over steps and envs."""
    num_envs = rollouts[0][0].shape[1]
    running = [0.0] * num_envs
    seen: list[float] = []
    results = []
    for rewards, done in rollouts:
        for t in range(len(rewards)):
            for env in range(num_envs):
                running[env] = running[env] * gamma + float(rewards[t, env])
                seen.append(running[env])
                if done[t, env]:
                    running[env] = 0.0
        variance = float(np.var(np.array(seen)))
        results.append((np.clip(rewards.astype(np.float64) / np.sqrt(variance + EPSILON), -clip, clip), variance))
    return results


def staggered_rollout(seed: int, steps: int = 12, num_envs: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Small float32 rewards (so that EPSILON is not lost against the variance) and episode ends
    at different steps in each env."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0.002, 0.01, (steps, num_envs)).astype(np.float32), rng.random((steps, num_envs)) < 0.2)


def test_rewards_are_scaled_by_the_running_return_across_rollouts_and_episode_ends():
    rollouts = [staggered_rollout(6), staggered_rollout(7)]
    assert rollouts[0][1].any() and not rollouts[0][1].all()
    (first, first_variance), (second, second_variance) = reference_scaling(rollouts, gamma=0.9)
    scaler = RewardScaler(num_envs=3, gamma=0.9, enabled=True)
    scaled = scaler.scale(*rollouts[0])
    assert scaled.dtype == np.float32
    assert scaler.moments.var == pytest.approx(first_variance, rel=1e-12)
    np.testing.assert_allclose(scaled, first, rtol=1e-6)
    np.testing.assert_allclose(scaler.scale(*rollouts[1]), second, rtol=1e-6)
    assert scaler.moments.var == pytest.approx(second_variance, rel=1e-12)


def test_the_return_of_an_episode_in_progress_carries_over_and_resets_at_its_end():
    scaler = RewardScaler(num_envs=1, gamma=0.5, enabled=True)
    rewards = np.array([[1.0], [1.0], [1.0], [1.0]])
    done = np.array([[False], [True], [False], [False]])
    scaled = scaler.scale(rewards, done)
    returns = np.array([1.0, 1.5, 1.0, 1.5])  # 1, 1 + .5, reset, 1, 1.5
    np.testing.assert_allclose(scaled[:, 0], 1.0 / np.sqrt(returns.var() + EPSILON), rtol=1e-6)
    assert scaler.returns[0] == 1.5


def test_scaled_rewards_are_clipped_on_both_sides_at_ten_by_default():
    scaler = RewardScaler(num_envs=2, gamma=0.9, enabled=True)
    # 800 returns of ~0.01 first: with the two huge ones below they give a standard deviation of ~50,
    # so the rewards of +-1000 scale to ~+-20
    scaler.scale(*staggered_rollout(8, steps=400, num_envs=2))
    scaled = scaler.scale(np.array([[1e3, -1e3]]), np.array([[False, False]]))
    np.testing.assert_array_equal(scaled, np.array([[10.0, -10.0]], np.float32))


def test_a_disabled_scaler_passes_rewards_through_as_float32():
    scaler = RewardScaler(num_envs=3, gamma=0.9, enabled=False)
    rewards, done = staggered_rollout(9)
    scaled = scaler.scale(rewards.astype(np.float64) * 1e3, done)
    assert scaled.dtype == np.float32 and scaler.moments.count == 0
    np.testing.assert_array_equal(scaled, (rewards.astype(np.float64) * 1e3).astype(np.float32))


def test_state_dicts_restore_the_statistics_exactly_and_carry_on_as_if_never_saved():
    observations = [float32_data(seed, 40) for seed in (10, 11)]
    rollouts = [staggered_rollout(seed) for seed in (12, 13)]
    normalizer = ObservationNormalizer((3,), enabled=True)
    scaler = RewardScaler(num_envs=3, gamma=0.9, enabled=True)
    normalizer.update(observations[0])
    scaler.scale(*rollouts[0])
    observation_state, reward_state = normalizer.state_dict(), scaler.state_dict()
    assert {name: value.dtype for name, value in observation_state.items() if torch.is_tensor(value)} == {
        "mean": torch.float64, "var": torch.float64}
    assert observation_state["count"] == 40 and reward_state["count"] == 36
    assert torch.equal(reward_state["returns"], torch.from_numpy(scaler.returns))

    restored_normalizer = ObservationNormalizer((3,), enabled=True)
    restored_scaler = RewardScaler(num_envs=3, gamma=0.9, enabled=True)
    restored_normalizer.load_state_dict(observation_state)
    restored_scaler.load_state_dict(reward_state)
    for original, restored in ((normalizer, restored_normalizer), (scaler, restored_scaler)):
        assert restored.moments.count == original.moments.count
        assert np.array_equal(restored.moments.mean, original.moments.mean)
        assert np.array_equal(restored.moments.var, original.moments.var)
    assert np.array_equal(restored_scaler.returns, scaler.returns) and restored_scaler.returns.dtype == np.float64
    np.testing.assert_array_equal(restored_normalizer(observations[1]), normalizer(observations[1]))
    np.testing.assert_array_equal(restored_scaler.scale(*rollouts[1]), scaler.scale(*rollouts[1]))
    normalizer.update(observations[1])
    restored_normalizer.update(observations[1])
    np.testing.assert_array_equal(restored_normalizer(observations[0]), normalizer(observations[0]))

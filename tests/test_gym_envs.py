"""Gymnasium helpers of ``ascentrl.envs.gym_envs`` against Gymnasium itself.

- ``gymnasium.utils.env_checker.check_env`` takes a single ``gymnasium.Env`` (a vector env is not
  one), and warns when given a wrapped env. So it runs on the env :func:`make_env` builds, and must
  pass with no warning beyond the wrapper notice and those the bare Gymnasium env already gets.
- The vector envs are checked by behaviour: Gymnasium's own vector implementation is used, the
  NEXT_STEP autoreset steps are exactly those :func:`next_step_autoreset_mask` marks (CartPole pays
  1 per real step and 0 on a reset step), and the episode statistics match the rollout.
- :func:`evaluate_policy` must give the returns of one episode per single env run by hand.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from ascentrl.envs.gym_envs import (
    SUPPORTED_ACTION_SPACES,
    _sub_envs_to_step_alone,
    check_spaces,
    evaluate_policy,
    make_env,
    make_vector_env,
)
from ascentrl.returns import next_step_autoreset_mask

WRAPPER_NOTICE = "different from the unwrapped version"


class SpacesOnlyEnv(gym.Env):
    """A trivial env with configurable spaces, for the unsupported-space checks."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, True, False, {}


MULTI_DISCRETE_ID = "AscentrlGymEnvsTest/MultiDiscreteActions-v0"
DICT_OBSERVATION_ID = "AscentrlGymEnvsTest/DictObservations-v0"
MISSING_DEPENDENCY_ID = "AscentrlGymEnvsTest/MissingDependency-v0"
BOX = spaces.Box(-1.0, 1.0, (3,), np.float32)
gym.register(MULTI_DISCRETE_ID, lambda: SpacesOnlyEnv(BOX, spaces.MultiDiscrete([2, 3])), max_episode_steps=5)
gym.register(DICT_OBSERVATION_ID, lambda: SpacesOnlyEnv(spaces.Dict({"position": BOX}), spaces.Discrete(2)),
             max_episode_steps=5)
gym.register(MISSING_DEPENDENCY_ID, "ascentrl_module_that_is_not_installed:Env", max_episode_steps=5)


def checker_warnings(env: gym.Env) -> set[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    return {str(warning.message) for warning in caught}


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCarContinuous-v0"])
def test_make_env_passes_gymnasiums_check_env(env_id):
    env, described = make_env(env_id)
    bare = gym.make(env_id).unwrapped
    try:
        ours = checker_warnings(env)
        own = checker_warnings(bare)
    finally:
        env.close()
        bare.close()
    assert any(WRAPPER_NOTICE in message for message in ours)
    assert {message for message in ours if WRAPPER_NOTICE not in message} <= own
    assert described.env_id == env_id


def test_make_env_records_the_episode_return():
    env, _ = make_env("CartPole-v1")
    env.reset(seed=3)
    env.action_space.seed(3)
    total, done, info = 0.0, False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += reward
        done = terminated or truncated
    assert info["episode"]["r"] == pytest.approx(total)
    assert list(env.return_queue) == pytest.approx([total])
    env.close()


# ------------------------------------------------------------------------------------ vector envs
def test_vector_env_uses_gymnasiums_native_or_sync_implementation_with_next_step_autoreset():
    cartpole, cartpole_spaces = make_vector_env("CartPole-v1", 3, record_statistics=False)
    acrobot, acrobot_spaces = make_vector_env("Acrobot-v1", 2, record_statistics=False)
    try:
        assert type(cartpole).__name__ == "CartPoleVectorEnv"  # CartPole's own vector implementation
        assert isinstance(acrobot, SyncVectorEnv)
        for env in (cartpole, acrobot):
            assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    finally:
        cartpole.close()
        acrobot.close()
    assert (cartpole_spaces.observation_shape, cartpole_spaces.action_kind, cartpole_spaces.action_size) == (
        (4,), "discrete", 2)
    assert cartpole_spaces.max_episode_steps == 500 and cartpole_spaces.reward_threshold == 475.0
    assert (acrobot_spaces.observation_size, acrobot_spaces.action_size) == (6, 3)


def run_random_rollout(env, steps: int, seed: int) -> dict[str, np.ndarray]:
    env.reset(seed=seed)
    env.action_space.seed(seed)
    record = {"rewards": [], "terminated": [], "truncated": []}
    for _ in range(steps):
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        for key, value in zip(record, (reward, terminated, truncated)):
            record[key].append(np.array(value))
    return {key: np.stack(values) for key, values in record.items()}


def test_next_step_autoreset_steps_are_exactly_the_masked_ones():
    # A 4-step time limit makes truncations frequent; random actions also terminate some episodes.
    env, _ = make_vector_env("CartPole-v1", 6, max_episode_steps=4)
    rollout = run_random_rollout(env, 30, seed=0)
    valid = next_step_autoreset_mask(torch.from_numpy(rollout["terminated"]),
                                     torch.from_numpy(rollout["truncated"])).numpy()
    # CartPole pays 1 for every real step; the reset step pays 0 and raises no flag.
    assert np.array_equal(rollout["rewards"], valid.astype(np.float64))
    assert not (rollout["terminated"] | rollout["truncated"])[~valid].any()
    assert rollout["truncated"].any() and (~valid).any()
    # Every episode ends by the time limit at the latest: at most 4 real steps in a row.
    run = np.zeros(6, dtype=int)
    for t in range(30):
        run = np.where(valid[t], run + 1, 0)
        assert run.max() <= 4

    # The statistics wrapper saw the same episodes: one per end, each returning its real steps.
    lengths = []
    for n in range(6):
        length = 0
        for t in range(30):
            length += int(valid[t, n])
            if rollout["terminated"][t, n] or rollout["truncated"][t, n]:
                lengths.append(float(length))
                length = 0
    assert env.episode_count == len(lengths)
    assert sorted(env.return_queue) == sorted(lengths)
    env.close()


def test_sync_vector_env_truncates_at_the_requested_time_limit():
    env, described = make_vector_env("Acrobot-v1", 2, record_statistics=False, max_episode_steps=3)
    rollout = run_random_rollout(env, 8, seed=1)
    env.close()
    valid = next_step_autoreset_mask(torch.from_numpy(rollout["terminated"]),
                                     torch.from_numpy(rollout["truncated"])).numpy()
    # Steps 0-2 real (truncated at 2), step 3 resets, steps 4-6 real (truncated at 6), step 7 resets.
    expected_truncated = np.array([False, False, True, False, False, False, True, False])
    assert np.array_equal(rollout["truncated"], np.repeat(expected_truncated[:, None], 2, axis=1))
    assert np.array_equal(rollout["rewards"], -valid.astype(np.float64))  # -1 per real step
    assert described.max_episode_steps == 500  # the registered limit, not the override


# ----------------------------------------------------------------------------- evaluate_policy
def pump_energy(observations: np.ndarray) -> np.ndarray:
    """Acrobot: torque in the direction of the second joint's velocity (solves it in ~100 steps)."""
    return np.where(observations[..., 5] > 0, 2, 0)


def test_evaluate_policy_matches_single_envs_run_by_hand():
    env, _ = make_vector_env("Acrobot-v1", 3, record_statistics=False)
    returns = evaluate_policy(env, pump_energy, 500, seed=10)
    env.close()
    expected = []
    for index in range(3):  # a sync vector env seeds sub-env i with seed + i
        single = gym.make("Acrobot-v1")
        observation, _ = single.reset(seed=10 + index)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = single.step(int(pump_energy(observation)))
            total += reward
            done = terminated or truncated
        single.close()
        expected.append(total)
    assert returns.tolist() == expected
    assert max(expected) > -500.0 and len(set(expected)) > 1  # episodes ended at different steps


class CountingEnv(gym.Wrapper):
    """Counts the steps its env takes."""

    steps = 0

    def step(self, action):
        type(self).steps += 1
        return self.env.step(action)


@pytest.mark.parametrize(("env_id", "policy"), [
    ("Acrobot-v1", pump_energy),
    ("Pendulum-v1", lambda observations: np.clip(-2.0 * observations[:, 2:3] - observations[:, 1:2], -2.0, 2.0)),
])
def test_evaluate_policy_steps_only_the_sub_envs_still_playing_with_the_vector_envs_returns(env_id, policy):
    """A bare sync vector env's sub-envs are stepped one by one, the finished ones no more; the
    returns are those of the vector env's own step (a vector wrapper takes that path)."""
    CountingEnv.steps = 0
    env = gym.vector.SyncVectorEnv([lambda: CountingEnv(gym.make(env_id)) for _ in range(4)])
    fast = evaluate_policy(env, policy, 500, seed=3)
    fast_steps, CountingEnv.steps = CountingEnv.steps, 0
    wrapped = gym.wrappers.vector.RecordEpisodeStatistics(env)
    assert _sub_envs_to_step_alone(wrapped) is None and _sub_envs_to_step_alone(env) is not None
    through_step = evaluate_policy(wrapped, policy, 500, seed=3)
    env.close()
    assert fast.tolist() == through_step.tolist()
    if env_id == "Acrobot-v1":  # episodes of different lengths: only their own steps are taken
        assert fast_steps < CountingEnv.steps and len(set(fast.tolist())) > 1
        # Acrobot pays -1 a step and 0 on the step that reaches the goal: an episode's own steps
        assert fast_steps == sum(int(-value) + (value > -500) for value in fast.tolist())
    else:
        assert fast_steps == CountingEnv.steps == 4 * 200  # Pendulum: every episode is truncated at 200


def test_evaluate_policy_stops_after_max_steps():
    env, _ = make_vector_env("Acrobot-v1", 2, record_statistics=False)
    returns = evaluate_policy(env, lambda observations: np.zeros(2, dtype=np.int64), 10, seed=0)
    env.close()
    assert returns.tolist() == [-10.0, -10.0]
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        evaluate_policy(env, pump_energy, 0)


# -------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("observation_space", "action_space", "named"),
    [
        (BOX, spaces.MultiDiscrete([2, 3]), "action space MultiDiscrete"),
        (BOX, spaces.MultiBinary(4), "action space MultiBinary"),
        (BOX, spaces.Box(-1.0, 1.0, (2, 2), np.float32), "action space Box"),
        (spaces.Dict({"position": BOX}), spaces.Discrete(2), "observation space Dict"),
        (spaces.Discrete(16), spaces.Discrete(4), "observation space Discrete"),
    ],
)
def test_check_spaces_rejects_unsupported_spaces_naming_them_and_the_supported_ones(
        observation_space, action_space, named):
    with pytest.raises(ValueError) as raised:
        check_spaces("CartPole-v1", observation_space, action_space)
    message = str(raised.value)
    assert named in message and "is not supported; supported: " in message
    rejected = action_space if named.startswith("action") else observation_space
    assert str(rejected) in message
    if named.startswith("action"):
        assert ", ".join(SUPPORTED_ACTION_SPACES) in message  # Discrete, Box (1-D)
    else:
        assert message.endswith("supported: Box")


def test_check_spaces_describes_shifted_discrete_and_bounded_box_actions():
    shifted = check_spaces("CartPole-v1", BOX, spaces.Discrete(3, start=-1))
    assert (shifted.action_kind, shifted.action_size, shifted.action_start) == ("discrete", 3, -1)
    bounded = check_spaces("Pendulum-v1", BOX, spaces.Box(-2.0, 2.0, (1,), np.float32))
    assert bounded.action_kind == "box" and bounded.action_low.tolist() == [-2.0]
    assert bounded.action_high.tolist() == [2.0] and bounded.max_episode_steps == 200


@pytest.mark.parametrize(
    ("env_id", "fragment"),
    [
        ("NoSuchEnvironment-v0", "unknown Gymnasium environment id 'NoSuchEnvironment-v0'"),
        (MISSING_DEPENDENCY_ID, "cannot build Gymnasium environment"),
        (MULTI_DISCRETE_ID, "action space MultiDiscrete([2 3]) is not supported"),
        (DICT_OBSERVATION_ID, "observation space Dict("),
        ("Blackjack-v1", "observation space Tuple("),  # a registered Gymnasium env we cannot serve
    ],
)
def test_make_vector_env_and_make_env_refuse_what_they_cannot_build_or_serve(env_id, fragment):
    with pytest.raises(ValueError) as raised:
        make_vector_env(env_id, 2)
    assert fragment in str(raised.value)
    with pytest.raises(ValueError) as raised:
        make_env(env_id)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("num_envs", [0, -1, 2.0, True])
def test_make_vector_env_refuses_a_bad_number_of_envs(num_envs):
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        make_vector_env("CartPole-v1", num_envs)

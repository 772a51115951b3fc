"""Heterogeneous agents on a real PettingZoo env, not only the toy env of ``pettingzoo_test_envs``.

In mpe2's ``simple_adversary_v3`` the adversary sees 8 numbers and each good agent 10. The batch
must hand every agent its own observation, of its own size, exactly as the env returned it: the
truth is a second copy of the env, built and seeded the same way and stepped with the same actions,
read directly through PettingZoo's parallel API.
"""

from __future__ import annotations

import numpy as np
import pytest

from ascentrl.envs.pettingzoo_envs import ParallelEnvBatch, describe_agent_spaces, make_parallel_env

pytest.importorskip("mpe2")
ENV_ID, LENGTH, SEED = "mpe2/simple_adversary_v3", 4, 7


def test_simple_adversary_agents_get_their_own_observations_and_rewards():
    spaces = describe_agent_spaces(make_parallel_env(ENV_ID, episode_length=LENGTH))
    assert [(s.agent, s.observation_size, s.num_actions) for s in spaces] == [
        ("adversary_0", 8, 5), ("agent_0", 10, 5), ("agent_1", 10, 5)]

    batch = ParallelEnvBatch(lambda: make_parallel_env(ENV_ID, episode_length=LENGTH), 1)
    truth = make_parallel_env(ENV_ID, episode_length=LENGTH)
    agents = list(truth.possible_agents)
    tensors = batch.reset(seed=SEED)
    observations, _ = truth.reset(seed=SEED)
    generator = np.random.default_rng(0)
    for _ in range(LENGTH):
        for index, agent in enumerate(agents):
            assert tensors.observations[index].shape == (1, spaces[index].observation_size)
            np.testing.assert_array_equal(tensors.observations[index][0].numpy(), observations[agent])
        actions = generator.integers(0, 5, size=(len(agents), 1))
        tensors = batch.step(actions)
        observations, rewards, terminations, truncations, _ = truth.step(
            {agent: int(actions[index, 0]) for index, agent in enumerate(agents)})
        expected_rewards = [rewards[agent] for agent in agents]
        np.testing.assert_allclose(tensors.rewards[:, 0].numpy(), expected_rewards, rtol=0, atol=1e-6)
        assert tensors.truncated[:, 0].tolist() == [truncations[agent] for agent in agents]
    assert batch.all_done

"""A2C and PPO: rollouts, GAE and bootstrapping by hand, the objectives, the squashed Gaussian, and
PPO's relation to A2C — each checked against an independent computation in the test."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from ascentrl.agents import A2C, PPO, A2CConfig, PPOConfig
from ascentrl.agents.actor_critic import surrogate_objective, value_error
from ascentrl.agents.distributions import squash
from ascentrl.agents.policies import ActorCritic
from ascentrl.agents.rollouts import ContinuingEnvs
from ascentrl.envs.gym_envs import make_vector_env

TERMINATING_ID = "AscentrlActorCriticTest/Terminating-v0"
TRUNCATING_ID = "AscentrlActorCriticTest/Truncating-v0"


class CountingEnv(gym.Env):
    """Observation: one-hot of the steps taken so far (4 slots); reward of step k: k + 1; the action
    is ignored. Terminates after ``length`` steps if ``length`` is set (else only a time limit ends it)."""

    def __init__(self, length: int | None = None) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (4,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.length = length
        self.steps = 0

    def _observation(self) -> np.ndarray:
        observation = np.zeros(4, np.float32)
        observation[min(self.steps, 3)] = 1.0
        return observation

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self._observation(), {}

    def step(self, action):
        self.steps += 1
        reward = float(self.steps)
        return self._observation(), reward, self.length is not None and self.steps >= self.length, False, {}


gym.register(TERMINATING_ID, lambda: CountingEnv(length=3), max_episode_steps=100)
gym.register(TRUNCATING_ID, lambda: CountingEnv(length=None), max_episode_steps=2)

VALUES = torch.tensor([0.5, -1.0, 2.0, 4.0])  # V(one-hot k) = VALUES[k]


def agent_with_known_values(env_id: str, num_steps: int) -> A2C:
    agent = A2C(A2CConfig(env=env_id, num_envs=1, num_steps=num_steps, gamma=0.9, gae_lambda=0.8, hidden_sizes=()))
    with torch.no_grad():
        critic = agent.network.critic.layers[-1]
        critic.weight.copy_(VALUES.unsqueeze(0))
        critic.bias.zero_()
    return agent


def hand_gae(rewards, states, next_states, terminated, truncated, gamma=0.9, lam=0.8):
    """GAE written out step by step from the definitions, with V from the table."""
    advantages, following = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        bootstrap = 0.0 if terminated[t] else gamma * float(VALUES[next_states[t]])
        delta = rewards[t] + bootstrap - float(VALUES[states[t]])
        following = delta + (0.0 if terminated[t] or truncated[t] else gamma * lam * following)
        advantages[t] = following
    return advantages


def test_termination_is_not_bootstrapped_and_episodes_continue_across_rollouts():
    agent = agent_with_known_values(TERMINATING_ID, num_steps=4)
    first, second = agent.collect(), agent.collect()
    # Episodes of 3 steps (rewards 1, 2, 3), the second starting inside the first rollout and
    # finishing in the second: states 0 1 2 | 0 (first rollout), 1 2 | 0 1 (second).
    assert first.rewards[:, 0].tolist() == [1.0, 2.0, 3.0, 1.0]
    assert second.rewards[:, 0].tolist() == [2.0, 3.0, 1.0, 2.0]
    expected = hand_gae([1, 2, 3, 1], [0, 1, 2, 0], [1, 2, 3, 1], [False, False, True, False], [False] * 4)
    torch.testing.assert_close(first.advantages[:, 0], torch.tensor(expected))
    torch.testing.assert_close(first.returns, first.advantages + first.values)
    expected = hand_gae([2, 3, 1, 2], [1, 2, 0, 1], [2, 3, 1, 2], [False, True, False, False], [False] * 4)
    torch.testing.assert_close(second.advantages[:, 0], torch.tensor(expected))
    assert first.valid.all() and second.valid.all()  # no autoreset step ever enters a batch
    agent.close()


def test_a_truncation_bootstraps_from_the_final_observation():
    agent = agent_with_known_values(TRUNCATING_ID, num_steps=5)
    batch = agent.collect()
    # Time limit 2: states 0 1 | 0 1 | 0, each second step truncated with final observation one-hot 2.
    assert batch.truncated[:, 0].tolist() == [False, True, False, True, False]
    assert batch.next_observations[1, 0].tolist() == [0.0, 0.0, 1.0, 0.0]  # the final observation
    expected = hand_gae([1, 2, 1, 2, 1], [0, 1, 0, 1, 0], [1, 2, 1, 2, 1], [False] * 5,
                        [False, True, False, True, False])
    torch.testing.assert_close(batch.advantages[:, 0], torch.tensor(expected))
    agent.close()


def test_recorded_episode_statistics_survive_other_sub_envs_resets():
    """Each finished episode's recorded return and length are those its own steps add up to, even
    though other sub-envs are reset while it runs (Gymnasium's vector RecordEpisodeStatistics alone
    clears every sub-env's running return on a partial reset)."""
    env, _ = make_vector_env("CartPole-v1", 3, vectorization_mode="sync")
    envs = ContinuingEnvs(env, rank_seed=5)
    envs.start()
    rng = np.random.default_rng(0)
    running_return, running_length = np.zeros(3), np.zeros(3, np.int64)
    expected_returns, expected_lengths = [], []
    for _ in range(400):
        _, reward, terminated, truncated, _ = envs.step(rng.integers(0, 2, size=3))
        running_return += reward
        running_length += 1
        for index in np.flatnonzero(terminated | truncated):  # the wrapper queues them in index order
            expected_returns.append(running_return[index])
            expected_lengths.append(int(running_length[index]))
            running_return[index], running_length[index] = 0.0, 0
    assert len(expected_lengths) > 20 and len(set(expected_lengths)) > 5  # staggered episode ends
    assert list(env.length_queue) == expected_lengths[-100:]
    assert list(env.return_queue) == expected_returns[-100:]
    env.close()


def test_the_clipped_surrogate_and_value_error_by_hand():
    log_probs = torch.log(torch.tensor([1.5, 0.5, 1.1, 0.9]))  # ratios, with old log-probs 0
    old = torch.zeros(4)
    advantages = torch.tensor([1.0, 1.0, -2.0, -2.0])
    objective, clipped = surrogate_objective(log_probs, old, advantages, clip_range=0.2)
    # min(rho A, clip(rho) A): 1.5 -> 1.2; 0.5 -> 0.5 (unclipped is smaller); -2.2 (unclipped); -1.8 vs -1.6 -> -1.8
    assert objective.item() == pytest.approx((1.2 + 0.5 - 2.2 - 1.8) / 4)
    assert clipped.item() == pytest.approx(2 / 4)  # |rho - 1| > 0.2 for 1.5 and 0.5
    score, _ = surrogate_objective(log_probs, old, advantages, clip_range=None)
    assert score.item() == pytest.approx(float((log_probs * advantages).mean()))
    values, old_values, returns = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.5]), torch.tensor([2.0, 2.0])
    assert value_error(values, old_values, returns, None).item() == pytest.approx((1 + 1) / 2)
    # Clipped around the old values with range 0.5: V_clip = (0.5, 3.0); max errors (1, 2.25) -> (2.25, 1).
    assert value_error(values, old_values, returns, 0.5).item() == pytest.approx((2.25 + 1.0) / 2)


def test_the_squashed_gaussian_log_probability_is_the_change_of_variables():
    low, high = torch.tensor([-2.0, 0.0]), torch.tensor([1.0, 4.0])
    network = ActorCritic(3, "box", 2, (8,), initial_log_std=-0.3, bounds=(low, high))
    observations = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    pre_squash = torch.randn(5, 2, generator=torch.Generator().manual_seed(2)) * 2
    log_probs, _ = network.log_prob_and_entropy(observations, pre_squash)
    with torch.no_grad():
        mean = network.actor(observations)
    gaussian = torch.distributions.Normal(mean, network.log_std.exp()).log_prob(pre_squash)
    # |da/du| by central differences of the squash itself, per dimension.
    step = 1e-4
    derivative = (squash(pre_squash.double() + step, low.double(), high.double())
                  - squash(pre_squash.double() - step, low.double(), high.double())) / (2 * step)
    expected = (gaussian.double() - derivative.log()).sum(-1)
    torch.testing.assert_close(log_probs.double(), expected, rtol=1e-5, atol=1e-4)


def test_unsquashed_distributions_match_torch_distributions():
    network = ActorCritic(3, "box", 2, (8,), initial_log_std=0.4)
    observations, actions = torch.randn(6, 3), torch.randn(6, 2)
    log_probs, entropy = network.log_prob_and_entropy(observations, actions)
    reference = torch.distributions.Normal(network.actor(observations), network.log_std.exp())
    torch.testing.assert_close(log_probs, reference.log_prob(actions).sum(-1))
    torch.testing.assert_close(entropy, reference.entropy().sum(-1))
    discrete = ActorCritic(3, "discrete", 4, (8,))
    actions = torch.tensor([0, 3, 1, 2, 2, 0])
    log_probs, entropy = discrete.log_prob_and_entropy(observations, actions)
    reference = torch.distributions.Categorical(logits=discrete.actor(observations))
    torch.testing.assert_close(log_probs, reference.log_prob(actions))
    torch.testing.assert_close(entropy, reference.entropy())


@pytest.mark.parametrize("normalize", [False, True])
def test_ppo_with_an_infinite_clip_and_one_full_epoch_takes_the_a2c_step(normalize):
    shared = dict(env="CartPole-v1", num_envs=4, num_steps=16, lr=0.01, ascent={}, max_grad_norm=None,
                  normalize_advantages=normalize, entropy_coef=0.01, value_coef=0.5, seed=3, gae_lambda=0.9)
    ppo = PPO(PPOConfig(**shared, epochs=1, minibatches=1, clip_range=1e9))
    a2c = A2C(A2CConfig(**shared))
    a2c.network.load_state_dict(ppo.network.state_dict())
    batch = ppo.collect()
    before = [parameter.detach().clone() for parameter in ppo.network.parameters()]
    ppo.update(batch)
    a2c.update(batch)
    for start, mine, theirs in zip(before, ppo.network.parameters(), a2c.network.parameters()):
        assert not torch.equal(mine, start)
        torch.testing.assert_close(mine - start, theirs - start, rtol=1e-4, atol=1e-7)
    ppo.close(), a2c.close()


def test_bad_configuration_names_the_option():
    with pytest.raises(ValueError, match="minibatches must divide num_envs x num_steps = 64, got 5"):
        PPOConfig(num_envs=4, num_steps=16, minibatches=5)
    for name, value in (("num_steps", 0), ("gae_lambda", 1.5), ("clip_range", 0.0), ("epochs", 0)):
        with pytest.raises(ValueError, match=name):
            PPOConfig(**{name: value})
    with pytest.raises(ValueError, match="action_bound squash needs finite action bounds"):
        register_unbounded()
        PPO(PPOConfig(env="AscentrlActorCriticTest/Unbounded-v0", action_bound="squash", num_steps=8,
                      minibatches=1))


def register_unbounded() -> None:
    class Unbounded(CountingEnv):
        def __init__(self) -> None:
            super().__init__(length=3)
            self.action_space = spaces.Box(-math.inf, math.inf, (1,), np.float32)

    if "AscentrlActorCriticTest/Unbounded-v0" not in gym.registry:
        gym.register("AscentrlActorCriticTest/Unbounded-v0", Unbounded, max_episode_steps=5)

"""The agents' own gradient estimates against exact policy gradients, through their public code.

Two tiny registered Gymnasium tasks whose expected-return gradient is known exactly:

- a 4-armed bandit (one-step episodes, Gaussian rewards), ``grad J = pi * (mu - pi . mu)``;
- a 3-state chain MDP with a 5-step horizon, whose expected return is computed exactly by
  propagating the state distribution and differentiated by autograd.

Each agent (REINFORCE, A2C, PPO) runs with a linear policy on one-hot observations, which is a
tabular softmax policy, set to known parameters; its own ``collect`` produces the episodes and its own
objective code the gradient (REINFORCE's ``weights``/``policy_objective``; A2C's and PPO's
``surrogate_objective`` on the rollout's advantages at ``theta = theta_old``). Batches give
independent gradient samples; their mean must lie within 4 standard errors of the exact gradient in
every component, and 4 standard errors must be below a tenth of the smallest component checked, so a
bias that flips any component's sign (observations shifted by a step, bootstrapping at a
termination, a dropped baseline correction) fails.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import Tensor

from ascentrl.agents import A2C, PPO, A2CConfig, PPOConfig, Reinforce, ReinforceConfig
from ascentrl.agents.actor_critic import surrogate_objective

Z_TOLERANCE = 4.0
POWER = 0.1  # 4 standard errors must be below a tenth of the smallest |component| checked

# ------------------------------------------------------------------------------------ the tasks
ARM_MEANS = np.array([-3.0, 0.0, 3.0, 6.0])
ARM_NOISE = 1.0
BANDIT_THETA = torch.tensor([0.2, 0.0, -0.1, 0.1], dtype=torch.float64)

CHAIN_STATES, CHAIN_ACTIONS, HORIZON = 3, 2, 5
MOVE_PROBABILITY, BONUS = 0.75, 3.0
STATE_REWARDS = np.array([1.0, 0.5, 1.5])
CHAIN_THETA = torch.tensor([[-0.35, 0.2], [-0.15, 1.1], [-0.3, 1.3]], dtype=torch.float64)
"""Chosen so every component of the chain's gradient is at least 0.6 in size."""


class Bandit(gym.Env):
    """One step: pull an arm, get ``N(mu_arm, 1)``, terminate. The observation is a constant 1."""

    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action):
        reward = ARM_MEANS[int(action)] + ARM_NOISE * self.np_random.normal()
        return np.ones(1, np.float32), float(reward), True, False, {}


class Chain(gym.Env):
    """States 0, 1, 2 (one-hot observation). Action 0 moves left (0 stays), action 1 moves right
    with probability 0.75; from state 2 that move pays a bonus of 3 and stays. A step from state s
    pays ``STATE_REWARDS[s]``. Every episode lasts exactly 5 steps and then terminates."""

    observation_space = spaces.Box(0.0, 1.0, (CHAIN_STATES,), np.float32)
    action_space = spaces.Discrete(CHAIN_ACTIONS)

    def _observation(self) -> np.ndarray:
        return np.eye(CHAIN_STATES, dtype=np.float32)[self.state]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state, self.steps = 0, 0
        return self._observation(), {}

    def step(self, action):
        reward = STATE_REWARDS[self.state]
        if action == 0:
            self.state = max(self.state - 1, 0)
        elif self.np_random.random() < MOVE_PROBABILITY:
            if self.state == CHAIN_STATES - 1:
                reward += BONUS
            else:
                self.state += 1
        self.steps += 1
        return self._observation(), float(reward), self.steps >= HORIZON, False, {}


BANDIT_ID, CHAIN_ID = "AscentrlExactGradient/Bandit-v0", "AscentrlExactGradient/Chain-v0"
for env_id, entry_point in ((BANDIT_ID, Bandit), (CHAIN_ID, Chain)):
    if env_id not in gym.registry:
        gym.register(env_id, entry_point, max_episode_steps=HORIZON + 5)


def bandit_exact_gradient() -> Tensor:
    probabilities = torch.softmax(BANDIT_THETA, dim=0)
    means = torch.as_tensor(ARM_MEANS)
    return probabilities * (means - probabilities @ means)


def chain_exact_gradient() -> Tensor:
    """``grad_theta E[sum_{t < 5} r_t]`` for the tabular softmax policy ``theta[s, a]``."""
    transitions = torch.zeros(CHAIN_STATES, CHAIN_ACTIONS, CHAIN_STATES, dtype=torch.float64)
    rewards = torch.as_tensor(STATE_REWARDS).unsqueeze(1).repeat(1, CHAIN_ACTIONS)
    for state in range(CHAIN_STATES):
        transitions[state, 0, max(state - 1, 0)] = 1.0
        if state + 1 < CHAIN_STATES:
            transitions[state, 1, state + 1] = MOVE_PROBABILITY
            transitions[state, 1, state] = 1.0 - MOVE_PROBABILITY
        else:
            transitions[state, 1, state] = 1.0
            rewards[state, 1] += MOVE_PROBABILITY * BONUS
    theta = CHAIN_THETA.clone().requires_grad_(True)
    policy = torch.softmax(theta, dim=1)
    occupancy = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    expected_return = torch.zeros((), dtype=torch.float64)
    for _ in range(HORIZON):
        expected_return = expected_return + torch.einsum("s,sa,sa->", occupancy, policy, rewards)
        occupancy = torch.einsum("s,sa,sap->p", occupancy, policy, transitions)
    (gradient,) = torch.autograd.grad(expected_return, theta)
    return gradient


def set_tabular_policy(layer: torch.nn.Linear, theta: Tensor) -> None:
    """A linear layer on one-hot (or constant-1) observations as the tabular softmax ``theta[s, a]``."""
    with torch.no_grad():
        layer.weight.copy_(theta.reshape(-1, layer.in_features, layer.out_features)[0].T
                           if theta.dim() == 1 else theta.T)
        layer.bias.zero_()


def tabular_gradient(layer: torch.nn.Linear, states: int) -> Tensor:
    """The gradient of ``theta[s, a]``: the weight gradient, as ``[states, actions]`` (float64)."""
    return layer.weight.grad.T.double().reshape(states, -1)


def assert_matches(samples: Tensor, exact: Tensor) -> None:
    mean, standard_error = samples.mean(dim=0), samples.std(dim=0) / samples.shape[0] ** 0.5
    z = (mean - exact).abs() / standard_error
    assert float(z.max()) < Z_TOLERANCE, f"estimate {mean}, exact {exact}, z {z}"
    assert float(Z_TOLERANCE * standard_error.max()) < POWER * float(exact.abs().min()), (
        f"too few samples to tell a biased estimate: standard errors {standard_error}, exact {exact}")


# ------------------------------------------------------------------------------------ REINFORCE
def reinforce_samples(env_id: str, theta: Tensor, batches: int, baseline: str) -> Tensor:
    states = 1 if theta.dim() == 1 else theta.shape[0]
    agent = Reinforce(ReinforceConfig(env=env_id, num_envs=512, hidden_sizes=(), baseline=baseline,
                                      normalize_advantages=False, gamma=1.0, seed=1))
    layer = agent.policy.logits.layers[-1]
    set_tabular_policy(layer, theta)
    samples = []
    for _ in range(batches):
        batch = agent.collect()
        weights, _ = agent.weights(batch)
        agent.policy.zero_grad()
        agent.policy_objective(batch, weights).backward()
        samples.append(tabular_gradient(layer, states).reshape(-1))
    agent.close()
    return torch.stack(samples)


@pytest.mark.parametrize("baseline, batches", [("none", 170), ("mean", 100)])
def test_reinforce_estimates_the_bandit_gradient(baseline, batches):
    assert_matches(reinforce_samples(BANDIT_ID, BANDIT_THETA, batches, baseline), bandit_exact_gradient())


def test_reinforce_estimates_the_chain_gradient():
    samples = reinforce_samples(CHAIN_ID, CHAIN_THETA, 40, "mean")
    assert_matches(samples, chain_exact_gradient().reshape(-1))


# ------------------------------------------------------------------------------------ A2C and PPO
def actor_critic_samples(learner_class, config_class, env_id: str, theta: Tensor, batches: int,
                         episode_length: int, critic_level: float) -> Tensor:
    """``episode_length x`` the surrogate's gradient per rollout: its expectation is ``grad J``
    (the surrogate averages over steps, and every episode has ``episode_length`` steps)."""
    states = 1 if theta.dim() == 1 else theta.shape[0]
    options = dict(env=env_id, num_envs=64, num_steps=5 * episode_length, hidden_sizes=(), gamma=1.0,
                   gae_lambda=1.0, normalize_advantages=False, seed=2)
    if config_class is PPOConfig:
        options.update(minibatches=1, epochs=1)
    agent = learner_class(config_class(**options))
    layer = agent.network.actor.layers[-1]
    set_tabular_policy(layer, theta)
    with torch.no_grad():  # any critic is an unbiased baseline; one near the mean return lowers the variance
        agent.network.critic.layers[-1].weight.zero_()
        agent.network.critic.layers[-1].bias.fill_(critic_level)
    clip_range = 0.2 if learner_class is PPO else None
    samples = []
    for _ in range(batches):
        batch = agent.collect()
        data = batch.flat()
        log_probs, _, _ = agent.network.evaluate_actions(data["observations"], data["actions"])
        objective, _ = surrogate_objective(log_probs, data["log_probs"], data["advantages"], clip_range)
        agent.network.zero_grad()
        objective.backward()
        samples.append(episode_length * tabular_gradient(layer, states).reshape(-1))
    agent.close()
    return torch.stack(samples)


@pytest.mark.parametrize("learner_class, config_class", [(A2C, A2CConfig), (PPO, PPOConfig)], ids=["a2c", "ppo"])
def test_actor_critic_estimates_the_bandit_gradient(learner_class, config_class):
    samples = actor_critic_samples(learner_class, config_class, BANDIT_ID, BANDIT_THETA, 130, 1, 1.5)
    assert_matches(samples, bandit_exact_gradient())


@pytest.mark.parametrize("learner_class, config_class", [(A2C, A2CConfig), (PPO, PPOConfig)], ids=["a2c", "ppo"])
def test_actor_critic_estimates_the_chain_gradient(learner_class, config_class):
    samples = actor_critic_samples(learner_class, config_class, CHAIN_ID, CHAIN_THETA, 80, HORIZON, 4.0)
    assert_matches(samples, chain_exact_gradient().reshape(-1))

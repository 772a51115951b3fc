"""REINFORCE with a value baseline learns Pendulum-v1 (Box actions), from a short fixed budget.

The settings are the ones recommended for Pendulum (README): 8 envs, gamma 0.95, a learned value
baseline (bootstrapped at the 200-step time limit) with its own learning rate 0.3, policy learning
rate 0.005. Over 1M steps (about 30 s) they took the mean return of the last 100 training episodes
from about -1200 to between -540 and -180 on seeds 0-4; this file runs 200k steps per seed and
checks, for two seeds, that

- the value network fits its targets: its squared error on a fresh batch of the trained policy falls
  at least tenfold from the untrained network's, and
- the greedy policy's mean return over 100 evaluation episodes rises by at least 100 over the
  untrained (zero-torque) policy's, about -1200.
"""

from __future__ import annotations

import copy

import pytest
import torch

from ascentrl.agents import Reinforce, ReinforceConfig

PENDULUM_SETTINGS = {"env": "Pendulum-v1", "num_envs": 8, "gamma": 0.95, "baseline": "value",
                     "lr": 0.005, "value_lr": 0.3}
TRAINING_STEPS = 200_000
EVALUATION_EPISODES = 100


def value_squared_errors(values: list[torch.nn.Module], agent: Reinforce) -> list[float]:
    """Mean ``(V(s_t) - G_t)^2`` of each value network on one fresh batch of ``agent``'s policy."""
    batch = agent.collect()
    _, targets = agent.weights(batch)
    errors = []
    with torch.no_grad():
        for value in values:
            squared = (value(batch.observations[:-1]).squeeze(-1) - targets).square()
            errors.append(float((squared * batch.valid).sum() / batch.valid.sum()))
    return errors


@pytest.mark.parametrize("seed", [0, 1])
def test_pendulum_value_baseline_fits_and_the_greedy_return_improves(seed: int) -> None:
    agent = Reinforce(ReinforceConfig(seed=seed, torch_threads=1, **PENDULUM_SETTINGS))
    untrained_value = copy.deepcopy(agent.value)
    untrained_return = agent.evaluate(EVALUATION_EPISODES)

    history = agent.train(TRAINING_STEPS, eval_episodes=EVALUATION_EPISODES)

    assert history.env_steps >= TRAINING_STEPS
    assert -1600.0 < untrained_return < -900.0  # near-zero torque leaves the pendulum hanging
    assert history.eval_mean_return >= untrained_return + 100.0
    assert agent.policy.log_std.item() < 0.0  # the policy grew more certain than its initial sigma = 1
    trained_error, untrained_error = value_squared_errors([agent.value, untrained_value], agent)
    assert trained_error * 10.0 <= untrained_error

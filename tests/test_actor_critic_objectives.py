"""The actor-critic objective's parts against numbers worked out by hand: PPO's clipped surrogate and
clip fraction, the clipped value error, explained variance, and how ActorCriticLearner.objective
combines them (J = policy objective - c_V * value error + c_H * entropy, to maximize)."""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl.agents import PPO, PPOConfig
from ascentrl.agents.actor_critic import explained_variance, surrogate_objective, value_error


def test_clipped_surrogate_by_hand():
    """Log-ratios ln 0.25, 0.4 and ln 2 with advantages -1, 1, 2, and eps set to e^0.4 - 1 as computed,
    so the middle ratio sits exactly on the clip boundary: it is not counted as clipped (|rho - 1| > eps
    strictly), the other two are. Objective: mean of min(rho A, clip(rho, 1 - eps, 1 + eps) A), in plain
    floats."""
    log_ratios = torch.tensor([math.log(0.25), 0.4, math.log(2.0)], dtype=torch.float64)
    advantages = [-1.0, 1.0, 2.0]
    ratios = [float(r) for r in log_ratios.exp()]
    eps = ratios[1] - 1.0
    expected = sum(min(r * a, min(max(r, 1 - eps), 1 + eps) * a) for r, a in zip(ratios, advantages)) / 3
    objective, fraction = surrogate_objective(log_ratios, torch.zeros(3, dtype=torch.float64),
                                              torch.tensor(advantages, dtype=torch.float64), eps)
    assert float(objective) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx((-(1 - eps) + ratios[1] + 2 * (1 + eps)) / 3)  # the clip binds twice
    assert float(fraction) == pytest.approx(2 / 3, abs=1e-7)


def test_unclipped_surrogate_is_the_score_function_objective():
    log_probs = torch.tensor([-0.5, -1.0])
    objective, fraction = surrogate_objective(log_probs, torch.zeros(2), torch.tensor([2.0, -1.0]), None)
    assert float(objective) == pytest.approx((-1.0 + 1.0) / 2) and float(fraction) == 0.0


def test_clipped_value_error_by_hand():
    """V_old = 0, R = 1, c = 0.5. V = 2: max((2-1)^2, (0.5-1)^2) = 1. V = -1: max(4, (-0.5-1)^2) = 4.
    V = 0.25 (inside the clip): 0.5625 both ways. Mean 5.5625/3; unclipped mean (1 + 4 + 0.5625)/3 too,
    so a second case where clipping binds: V_old = 3, V = 1, R = 0: max(1, (2.5)^2) = 6.25."""
    values = torch.tensor([2.0, -1.0, 0.25], dtype=torch.float64)
    old, returns = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    assert float(value_error(values, old, returns, 0.5)) == pytest.approx(5.5625 / 3, abs=1e-12)
    one = torch.ones(1, dtype=torch.float64)
    assert float(value_error(one, 3 * one, 0 * one, 0.5)) == pytest.approx(6.25, abs=1e-12)
    assert float(value_error(one, -3 * one, 0 * one, 0.5)) == pytest.approx(6.25, abs=1e-12)
    assert float(value_error(one, 3 * one, 0 * one, None)) == pytest.approx(1.0, abs=1e-12)


def test_explained_variance_by_hand():
    """R = (0, 2, 4), sample variance 4. V = (1, 2, 3): R - V = (-1, 0, 1), variance 1 → 3/4.
    V = (-1, 1, 3): R - V = 1 everywhere → 1. Constant R → nan. R with variance 0.25 → defined."""
    returns = torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64)
    assert explained_variance(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), returns) == pytest.approx(0.75)
    assert explained_variance(torch.tensor([-1.0, 1.0, 3.0], dtype=torch.float64), returns) == pytest.approx(1.0)
    assert math.isnan(explained_variance(returns, torch.full((3,), 2.0, dtype=torch.float64)))
    small = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)  # variance 0.25
    assert explained_variance(small * 0, small) == pytest.approx(0.0)


@pytest.mark.parametrize("clip", [True, False], ids=["ppo", "a2c-style"])
def test_objective_combines_its_parts_with_the_documented_signs(clip):
    learner = PPO(PPOConfig(env="CartPole-v1", seed=0, num_envs=2, num_steps=4, minibatches=1, value_coef=0.7,
                            entropy_coef=0.3, normalize_advantages=False))
    generator = torch.Generator().manual_seed(2)
    minibatch = {"observations": torch.randn(6, 4, generator=generator),
                 "actions": torch.tensor([0, 1, 1, 0, 1, 0]),
                 "log_probs": torch.full((6,), math.log(0.5)),
                 "values": torch.randn(6, generator=generator),
                 "returns": torch.randn(6, generator=generator),
                 "advantages": torch.randn(6, generator=generator)}
    clip_range, value_clip = (0.2, 0.1) if clip else (None, None)
    objective, parts = learner.objective(minibatch, clip_range=clip_range, value_clip_range=value_clip)
    log_probs, entropy, values = learner.network.evaluate_actions(minibatch["observations"], minibatch["actions"])
    ratio = (log_probs - minibatch["log_probs"]).exp()
    advantages = minibatch["advantages"]
    if clip:
        policy = torch.minimum(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages).mean()
        clipped_values = minibatch["values"] + (values - minibatch["values"]).clamp(-0.1, 0.1)
        errors = torch.maximum((values - minibatch["returns"]).square(),
                               (clipped_values - minibatch["returns"]).square()).mean()
    else:
        policy = (log_probs * advantages).mean()
        errors = (values - minibatch["returns"]).square().mean()
    expected = policy - 0.7 * errors + 0.3 * entropy.mean()
    torch.testing.assert_close(objective, expected)
    torch.testing.assert_close(parts["value_error"], errors)
    learner.close()

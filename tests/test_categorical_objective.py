"""The categorical actor-critic objective as one autograd node (its gradient written out by hand)
against the same objective composed of torch operations and differentiated by autograd, in float64:
the value of J and of every part, and the gradient with respect to the logits and the values, for
PPO and A2C surrogates, with and without the clipped value error, on minibatches where the clips
bind for some steps and not others, with ties on the kinks; and torch.autograd.gradcheck."""

from __future__ import annotations

import pytest
import torch

from ascentrl.agents.actor_critic import surrogate_objective, value_error
from ascentrl.agents.categorical_objective import categorical_actor_critic_objective
from ascentrl.agents.distributions import categorical_log_prob_and_entropy

N, K = 40, 4
VALUE_COEF, ENTROPY_COEF = 0.7, 0.05


def make_minibatch(seed: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Logits, values and a minibatch whose old log-probabilities are the current ones moved by up
    to +-0.6 (so ratios fall on both sides of a 0.2 clip), old values within +-0.6 of the values (a
    0.25 value clip binds for some), some zero advantages, two values exactly on the value clip's
    boundary and one whose two value errors tie outside it (dyadic numbers: exact in float64)."""
    generator = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(N, K, generator=generator, dtype=torch.float64)
    values = torch.randn(N, generator=generator, dtype=torch.float64)
    actions = torch.randint(K, (N,), generator=generator)
    current = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    old_values = values + 1.2 * torch.rand(N, generator=generator, dtype=torch.float64) - 0.6
    values[:2] = torch.tensor([0.5, -0.75], dtype=torch.float64)
    old_values[:2] = values[:2] - torch.tensor([0.25, -0.25], dtype=torch.float64)
    advantages = torch.randn(N, generator=generator, dtype=torch.float64)
    advantages[2:5] = 0.0
    minibatch = {"actions": actions,
                 "log_probs": current + 1.2 * torch.rand(N, generator=generator, dtype=torch.float64) - 0.6,
                 "returns": torch.randn(N, generator=generator, dtype=torch.float64),
                 "values": old_values}
    # A tie of the clipped value error outside the clip: V_old = 0, R = 1, V = 1.75 -> (V - R)^2 =
    # (V_old + 0.25 - R)^2 = 0.5625 with c = 0.25.
    values[5], old_values[5], minibatch["returns"][5] = 1.75, 0.0, 1.0
    return logits, values, minibatch, advantages


def composed(logits, values, minibatch, advantages, clip_range, value_clip_range):
    """J from the learner's building blocks, differentiated by autograd."""
    log_probs, entropy = categorical_log_prob_and_entropy(logits, minibatch["actions"])
    policy, fraction = surrogate_objective(log_probs, minibatch["log_probs"], advantages, clip_range)
    errors = value_error(values, minibatch["values"], minibatch["returns"], value_clip_range)
    objective = policy - VALUE_COEF * errors + ENTROPY_COEF * entropy.mean()
    return objective, {"policy_objective": policy, "value_error": errors, "entropy": entropy.mean(),
                       "clip_fraction": fraction, "log_probs": log_probs}


def composed_and_node(logits, values, minibatch, advantages, clip_range, value_clip_range):
    """``(J, parts, dJ/dlogits, dJ/dvalues)`` from the composition, then from the node."""
    results = []
    for node in (False, True):
        z, v = logits.clone().requires_grad_(), values.clone().requires_grad_()
        if node:
            objective, parts = categorical_actor_critic_objective(
                z, v, minibatch, advantages, clip_range=clip_range, value_clip_range=value_clip_range,
                value_coef=VALUE_COEF, entropy_coef=ENTROPY_COEF)
        else:
            objective, parts = composed(z, v, minibatch, advantages, clip_range, value_clip_range)
        objective.backward()
        results.append((objective.detach(), {name: part.detach() for name, part in parts.items()}, z.grad, v.grad))
    return results


@pytest.mark.parametrize("value_clip_range", [None, 0.25], ids=["plain-value", "clipped-value"])
@pytest.mark.parametrize("clip_range", [None, 0.2], ids=["a2c", "ppo"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objective_and_gradient_equal_autograd_on_the_composition(seed, clip_range, value_clip_range):
    logits, values, minibatch, advantages = make_minibatch(seed)
    (reference, reference_parts, reference_logits, reference_values), (ours, parts, grad_logits, grad_values) = (
        composed_and_node(logits, values, minibatch, advantages, clip_range, value_clip_range))
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
    for name, part in reference_parts.items():
        torch.testing.assert_close(parts[name], part.to(parts[name].dtype), rtol=0, atol=1e-12)
    torch.testing.assert_close(grad_logits, reference_logits, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad_values, reference_values, rtol=0, atol=1e-12)
    if clip_range is not None:  # the surrogate's clip binds for some steps, not all
        assert 0.1 < float(parts["clip_fraction"]) < 0.9
    if value_clip_range is not None:  # and so does the value error's
        inside = (values - minibatch["values"]).abs() <= value_clip_range
        assert 0 < int(inside.sum()) < N


@pytest.mark.parametrize("clip_range, value_clip_range", [(0.2, 0.25), (None, None)])
def test_gradcheck(clip_range, value_clip_range):
    logits, values, minibatch, advantages = make_minibatch(7)
    advantages = advantages + 0.1  # no zero advantage: gradcheck's finite differences need a smooth point

    def objective(z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return categorical_actor_critic_objective(z, v, minibatch, advantages, clip_range=clip_range,
                                                  value_clip_range=value_clip_range, value_coef=VALUE_COEF,
                                                  entropy_coef=ENTROPY_COEF)[0]

    # away from the value clip's kinks too: move the values set on its boundary and on its tie
    values[:2] += 0.01
    values[5] += 0.01
    assert torch.autograd.gradcheck(objective, (logits.requires_grad_(), values.requires_grad_()))


def test_nan_logits_give_a_nan_objective_not_an_error():
    """The learner refuses a step on a non-finite objective; the node must let NaN through to it."""
    logits, values, minibatch, advantages = make_minibatch(3)
    logits[5, 1] = float("nan")
    objective, _ = categorical_actor_critic_objective(logits, values, minibatch, advantages, clip_range=0.2,
                                                      value_clip_range=None, value_coef=0.5, entropy_coef=0.0)
    assert torch.isnan(objective)


def test_the_parts_are_detached():
    """Only J carries a gradient; its parts are reported values (the docstring's "all detached")."""
    logits, values, minibatch, advantages = make_minibatch(4)
    objective, parts = categorical_actor_critic_objective(
        logits.requires_grad_(), values.requires_grad_(), minibatch, advantages, clip_range=0.2,
        value_clip_range=0.25, value_coef=VALUE_COEF, entropy_coef=ENTROPY_COEF)
    assert objective.requires_grad
    assert {name for name, part in parts.items() if part.requires_grad} == set()


def test_a_ratio_exactly_on_the_clip_boundary_is_not_counted_as_clipped():
    """The clip leaves rho = 1 +- eps unchanged, so the clip fraction counts |rho - 1| > eps strictly
    (as Stable-Baselines3 and CleanRL do); eps is set to the ratio the node itself computes."""
    logits, values, minibatch, advantages = make_minibatch(5)
    current = torch.log_softmax(logits, -1).gather(-1, minibatch["actions"].unsqueeze(-1)).squeeze(-1)
    minibatch["log_probs"] = current.clone()
    minibatch["log_probs"][0] = current[0] - 0.3  # only step 0 moves: rho_0 = e^0.3
    clip_range = float((torch.exp(current - minibatch["log_probs"])[0] - 1.0).abs())
    _, parts = categorical_actor_critic_objective(logits, values, minibatch, advantages, clip_range=clip_range,
                                                  value_clip_range=None, value_coef=VALUE_COEF,
                                                  entropy_coef=ENTROPY_COEF)
    assert float(parts["clip_fraction"]) == 0.0
    _, parts = categorical_actor_critic_objective(logits, values, minibatch, advantages, clip_range=0.9 * clip_range,
                                                  value_clip_range=None, value_coef=VALUE_COEF,
                                                  entropy_coef=ENTROPY_COEF)
    assert float(parts["clip_fraction"]) == pytest.approx(1.0 / N)  # a float32 mean


def test_float32_networks_with_float64_advantages_get_the_composed_gradient():
    """Mixed precision (a float32 network, float64 advantages and returns) is promoted as the
    composition of torch operations promotes it."""
    logits, values, minibatch, advantages = make_minibatch(6)
    (*_, reference_logits, reference_values), (*_, grad_logits, grad_values) = composed_and_node(
        logits.float(), values.float(), minibatch, advantages, 0.2, 0.25)
    assert grad_logits.dtype == torch.float32 and grad_values.dtype == torch.float32
    torch.testing.assert_close(grad_logits, reference_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_values, reference_values, rtol=1e-5, atol=1e-6)

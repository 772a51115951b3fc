"""Multi-agent PPO: advantages along each agent's own decisions against hand computation, the first
step against the policy gradient, the backward-induction game, NaN handling, exact resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pettingzoo_test_envs import TAKE_TURNS_ENV_ID, TWO_MOVES_ENV_ID, TWO_MOVES_EQUILIBRIUM

from ascentrl.agents import MultiAgentPPO, MultiAgentPPOConfig
from ascentrl.agents.multiagent_objectives import masked_kl
from ascentrl.returns import reward_to_go
from ascentrl.training import NonFiniteUpdateError


def _learners(**overrides) -> MultiAgentPPO:
    return MultiAgentPPO(MultiAgentPPOConfig(**{"env": TWO_MOVES_ENV_ID, "num_envs": 16, "hidden_sizes": (8,),
                                                **overrides}))


def test_advantages_run_along_each_agents_own_decisions():
    learners = _learners(env=TAKE_TURNS_ENV_ID, method="independent", num_envs=2, minibatches=1, gamma=0.5)
    batch = learners.collect()
    values = torch.tensor([[[0.25, 0.5], [2.0, 4.0]], [[1.0, 3.0], [8.0, 16.0]], [[0.5, 7.0], [9.0, 9.0]]])
    values = values.permute(0, 2, 1) * batch.valid  # given [agents, copies, decisions]; c decides once
    # lambda = 1: Monte-Carlo returns along the agent's decisions, minus V.
    learners.config.gae_lambda = 1.0
    expected = torch.stack([reward_to_go(batch.rewards[i], batch.terminated[i], batch.truncated[i], 0.5,
                                         valid=batch.valid[i]) for i in range(3)]) - values
    torch.testing.assert_close(learners._advantages(batch, values), expected * batch.valid)
    # lambda = 0: one-step errors r + gamma V(next decision) - V, with nothing after the last decision.
    learners.config.gae_lambda = 0.0
    a, b, c = learners._advantages(batch, values)[:, :, 0]
    # Copy 0. a: rewards 11 then -1 (terminated), V 0.25 then 0.5; b: 0 then 98, V 1 then 3;
    # c: -3 at its only decision, V 0.5.
    assert a.tolist() == pytest.approx([11.0 + 0.5 * 0.5 - 0.25, -1.0 - 0.5])
    assert b.tolist() == pytest.approx([0.0 + 0.5 * 3.0 - 1.0, 98.0 - 3.0])
    assert c[0].item() == pytest.approx(-3.0 - 0.5)
    learners.close()


def test_the_first_step_ascends_the_policy_gradient():
    # One pass, one minibatch, at the sampling policy: rho = 1, nothing is clipped, and the
    # surrogate's gradient is that of mean(log pi(a|o) A) over the valid decisions.
    learners = _learners(epochs=1, minibatches=1, entropy_coef=0.0, normalize_advantages=False, num_envs=32,
                         max_grad_norm=None, ascent={}, lr=0.1)
    batch = learners.collect()
    with torch.no_grad():
        values = torch.stack(learners.agent_policies.value_estimates(batch.observations)) * batch.valid
        advantages = learners._advantages(batch, values)
    log_probs, _ = learners.log_probs(batch)
    reference = sum((log_probs[i][batch.valid[i]] * advantages[i][batch.valid[i]]).mean() for i in range(2))
    expected = torch.autograd.grad(reference, list(learners.policies[0].parameters()))
    before = [parameter.detach().clone() for parameter in learners.policies[0].parameters()]
    metrics = learners.update(batch)
    for old, new, gradient in zip(before, learners.policies[0].parameters(), expected):
        torch.testing.assert_close(new.detach() - old, 0.1 * gradient, atol=1e-6, rtol=1e-5)  # plain ascent
    assert metrics["clip_fraction"] == 0.0 and abs(metrics["approx_kl"]) < 1e-12
    learners.close()


def test_self_play_finds_the_backward_induction_equilibrium():
    learners = _learners(num_envs=64, hidden_sizes=(), gamma=1.0, lr=0.03, entropy_coef=0.01, seed=1)
    learners.train(60)
    nodes, mover = {"root": 0, "after left": 1, "after right": 2}, {"root": "player_0"}
    for node, best in TWO_MOVES_EQUILIBRIUM.items():
        observation = {"observation": np.int64(nodes[node]), "action_mask": np.array([1, 1, 0], np.int8)}
        assert learners.act(mover.get(node, "player_1"), observation) == best, node
    learners.close()


def test_a_nan_in_a_later_minibatch_undoes_the_whole_update(monkeypatch):
    learners = _learners(epochs=2, minibatches=4)
    learners.train(1)
    before = {name: {key: value.clone() for key, value in network.state_dict().items()}
              for name, network in learners.networks().items()}
    calls = []
    original = MultiAgentPPO.log_probs

    def poisoned(self, batch):
        log_probs, entropy = original(self, batch)
        calls.append(None)
        return (log_probs * math.nan if len(calls) == 7 else log_probs), entropy  # epoch 2, minibatch 2

    monkeypatch.setattr(MultiAgentPPO, "log_probs", poisoned)
    with pytest.raises(NonFiniteUpdateError, match=r"iteration 2: the player_0 objective is nan"):
        learners.train(1)
    for name, network in learners.networks().items():
        for key, value in network.state_dict().items():
            assert torch.equal(value, before[name][key]), (name, key)
    learners.close()


def test_an_interrupted_ppo_run_resumes_exactly(tmp_path):
    config = MultiAgentPPOConfig(env="classic/tictactoe-v3", num_envs=8, hidden_sizes=(16,), minibatches=2,
                                 observation_encoding="flatten")
    truth = MultiAgentPPO(config)
    expected = truth.train(4)
    stopped = MultiAgentPPO(config)
    stopped.train(4, checkpoint_path=tmp_path / "run.pt", should_stop=lambda: stopped.iterations == 2)
    resumed = MultiAgentPPO.load(tmp_path / "run.pt", restore_global_rng=True)
    history = resumed.resume_training()
    for name, network in truth.networks().items():
        for tensor, other in zip(network.state_dict().values(), resumed.networks()[name].state_dict().values()):
            assert torch.equal(tensor, other), name
    assert [r.metrics for r in history.records] == [r.metrics for r in expected.records]
    for learners in (truth, stopped, resumed):
        learners.close()


def test_masked_kl_matches_torch_on_the_legal_actions():
    generator = torch.Generator().manual_seed(3)
    logits, reference = torch.randn(6, 4, generator=generator), torch.randn(6, 4, generator=generator)
    masks = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 1, 0], [1, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 1]],
                         dtype=torch.bool)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=logits.masked_fill(~masks, -math.inf)),
        torch.distributions.Categorical(logits=reference.masked_fill(~masks, -math.inf)))
    torch.testing.assert_close(masked_kl(logits, reference, masks), expected)
    assert masked_kl(logits, logits, masks).abs().max() < 1e-6  # KL(pi || pi) = 0
    logits.requires_grad_(True)
    masked_kl(logits, reference, masks).sum().backward()
    assert bool(torch.isfinite(logits.grad).all()) and bool((logits.grad[~masks] == 0).all())


def test_the_magnet_term_enters_the_first_step_and_the_magnet_follows_the_policy():
    """One pass, one minibatch, at the sampling policy (nothing clipped): the step is the gradient of
    mean(log pi(a|o) A) - alpha mean KL(pi || magnet) over the valid decisions, the KL computed here
    by torch.distributions; then the magnet moves magnet_rate of the way to the new policy."""
    learners = _learners(epochs=1, minibatches=1, entropy_coef=0.0, normalize_advantages=False, num_envs=32,
                         max_grad_norm=None, ascent={}, lr=0.1, magnet_coef=0.5, magnet_rate=0.25)
    magnet = learners.magnets[0]
    with torch.no_grad():  # a magnet away from the policy, so that the pull is not zero
        for parameter in magnet.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(4)))
    old_magnet = [parameter.detach().clone() for parameter in magnet.parameters()]
    batch = learners.collect()
    with torch.no_grad():
        values = torch.stack(learners.agent_policies.value_estimates(batch.observations)) * batch.valid
        advantages = learners._advantages(batch, values)
    log_probs, _ = learners.log_probs(batch)
    reference = 0.0
    magnet_logits = learners.agent_policies._forward([magnet.logits], batch.observations)
    for i, logits in enumerate(learners.agent_policies.logits(batch.observations)):
        valid, masks = batch.valid[i], batch.action_masks[i]
        # Illegal actions filled with -1e9, not -inf: probability exactly 0 and a gradient without NaN.
        divergence = torch.distributions.kl_divergence(
            torch.distributions.Categorical(logits=logits.masked_fill(~masks, -1e9)),
            torch.distributions.Categorical(logits=magnet_logits[i].detach().masked_fill(~masks, -1e9)))
        reference = reference + (log_probs[i][valid] * advantages[i][valid]).mean() - 0.5 * divergence[valid].mean()
    expected = torch.autograd.grad(reference, list(learners.policies[0].parameters()))
    before = [parameter.detach().clone() for parameter in learners.policies[0].parameters()]
    learners.update(batch)
    for old, new, gradient in zip(before, learners.policies[0].parameters(), expected):
        torch.testing.assert_close(new.detach() - old, 0.1 * gradient, atol=1e-6, rtol=1e-5)
    for old, new, policy in zip(old_magnet, magnet.parameters(), learners.policies[0].parameters()):
        torch.testing.assert_close(new, old + 0.25 * (policy.detach() - old))
    assert not any(parameter.requires_grad for parameter in magnet.parameters())
    learners.close()


def test_an_interrupted_run_with_a_magnet_resumes_exactly(tmp_path):
    config = MultiAgentPPOConfig(env="extensive/kuhn_poker", num_envs=16, hidden_sizes=(), minibatches=2,
                                 magnet_coef=0.1, magnet_rate=0.1)
    truth = MultiAgentPPO(config)
    truth.train(4)
    stopped = MultiAgentPPO(config)
    stopped.train(4, checkpoint_path=tmp_path / "run.pt", should_stop=lambda: stopped.iterations == 2)
    resumed = MultiAgentPPO.load(tmp_path / "run.pt", restore_global_rng=True)
    resumed.resume_training()
    assert list(truth.networks()) == ["shared policy", "shared value", "shared policy magnet"]
    for name, network in truth.networks().items():
        for tensor, other in zip(network.state_dict().values(), resumed.networks()[name].state_dict().values()):
            assert torch.equal(tensor, other), name
    for learners in (truth, stopped, resumed):
        learners.close()


@pytest.mark.parametrize("overrides, message", [
    ({"method": "lola"}, r"method must be one of \('independent', 'shared'\)"),
    ({"baseline": "mean"}, r"baseline must be one of \('value',\)"),
    ({"num_envs": 4, "minibatches": 8}, r"minibatches \(8\) must be at most num_envs \(4\)"),
    ({"gae_lambda": 1.5}, "gae_lambda must be in"),
    ({"magnet_coef": -0.1}, "magnet_coef must be"),
    ({"magnet_rate": 1.5}, "magnet_rate must be in"),
])
def test_bad_configuration_is_rejected_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        MultiAgentPPOConfig(**overrides)

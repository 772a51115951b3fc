"""Multi-agent learners: estimators against exact gradients, and learning behaviour in matrix games."""

from __future__ import annotations

import dataclasses
import math

import pettingzoo
import pytest
import torch
from pettingzoo_test_envs import ROLES_ENV_ID, SCRIPTED_ENV_ID

from ascentrl.agents.multiagent import MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.multiagent_objectives import (
    joint_return_estimates,
    masked_log_probs,
    reinforce_objective,
    reinforce_weights,
)
from ascentrl.envs import make_matrix_game
from ascentrl.envs.pettingzoo_envs import EnvStepError

FAILING_ENV_ID = "ascentrl_test/scripted-failing-v0"
if FAILING_ENV_ID not in pettingzoo.parallel_registry:
    pettingzoo.register("parallel", FAILING_ENV_ID, entry_point="pettingzoo_test_envs:ScriptedEnv",
                        kwargs={"raise_at": (2, 3)})


def _learners(**overrides) -> MultiAgentReinforce:
    return MultiAgentReinforce(MultiAgentConfig(**overrides))


def _set_strategies(learners: MultiAgentReinforce, logits: list[list[float]]) -> None:
    """Start memoryless policies from chosen logits (their only parameter that matters: the bias)."""
    with torch.no_grad():
        for policy, values in zip(learners.policies, logits):
            policy.logits.layers[-1].bias.copy_(torch.tensor(values))


# ------------------------------------------------------------------------------------ estimators
def test_masked_log_probs_match_torch_categorical_on_the_legal_actions():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, generator=generator)
    masks = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 1, 0], [1, 1, 0, 1], [0, 1, 1, 1]], dtype=torch.bool)
    actions = torch.tensor([3, 2, 2, 0, 1])
    log_probs, entropy = masked_log_probs(logits, actions, masks)
    reference = torch.distributions.Categorical(logits=logits.masked_fill(~masks, -1e30))
    torch.testing.assert_close(log_probs, reference.log_prob(actions))
    torch.testing.assert_close(entropy, reference.entropy())


def test_joint_estimate_at_the_sampling_policy_is_the_mean_discounted_return():
    # Two agents, two steps, two episodes; the second agent leaves episode 1 after step 0.
    rewards = torch.tensor([[[1.0, 2.0], [3.0, -1.0]], [[0.5, 0.0], [0.0, 4.0]]])
    valid = torch.tensor([[[True, True], [True, True]], [[True, True], [False, True]]])
    terminated = torch.tensor([[[False, False], [True, True]], [[True, False], [False, True]]])
    log_probs = torch.log(torch.tensor([0.3, 0.6, 0.2, 0.9])).reshape(1, 2, 2).expand(2, 2, 2)
    for baseline in ("none", "mean"):
        estimates = joint_return_estimates(log_probs, log_probs.clone(), rewards, terminated,
                                           torch.zeros_like(terminated), valid, 0.5, baseline=baseline)
        # Agent 0: episodes 1 + 0.5*3 = 2.5 and 2 + 0.5*(-1) = 1.5; agent 1: 0.5 and 0 + 0.5*4 = 2.
        torch.testing.assert_close(estimates, torch.tensor([2.0, 1.25]))


def _sampled_game(game_name: str, logits: list[torch.Tensor], samples: int, seed: int):
    """A batch of one-round plays of a matrix game under softmax(logits): rewards [2, 1, N], actions."""
    game = make_matrix_game(game_name)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        actions = [torch.multinomial(torch.softmax(x, -1), samples, replacement=True, generator=generator)
                   for x in logits]
    rewards = game.payoffs.float()[(slice(None), *actions)].unsqueeze(1)
    return game, torch.stack(actions).unsqueeze(1), rewards


def _exact_payoffs(game, logits):
    return game.expected_payoffs([torch.softmax(x.double(), -1) for x in logits])


def _standard_errors(terms: torch.Tensor) -> torch.Tensor:
    """Standard error of the mean of per-sample ``terms`` (samples along the first axis), in float64."""
    terms = terms.double()
    return terms.std(0) / math.sqrt(terms.shape[0])


def test_joint_estimate_gradients_and_cross_hessian_match_the_exact_game_derivatives():
    """Battle of the sexes away from equilibrium (a general-sum game with non-zero cross terms), 200k
    samples. The tolerance of every component is 4 standard errors of its own per-sample terms,
    computed here by hand — ``(r − r̄)(e_a − π)`` for a gradient, ``(r − r̄)(e_a − π)_i (e_b − π')`` for
    a cross term — and 4 standard errors must be under a tenth of the smallest component checked."""
    logits = [torch.tensor([0.4, -0.3], requires_grad=True), torch.tensor([-0.6, 0.2], requires_grad=True)]
    game, actions, rewards = _sampled_game("battle_of_the_sexes", logits, 200_000, seed=1)
    valid = torch.ones_like(rewards, dtype=torch.bool)
    flags = torch.zeros_like(valid)

    def estimates():
        log_probs = torch.stack([torch.log_softmax(x, -1)[a] for x, a in zip(logits, actions)])
        return joint_return_estimates(log_probs, log_probs.detach(), rewards, flags, flags, valid, 1.0,
                                      baseline="mean")

    scores = [torch.nn.functional.one_hot(a[0], 2).double() - torch.softmax(x.detach().double(), -1)
              for x, a in zip(logits, actions)]  # (N, 2): ∇_θ log π(a) per sample
    sampled, exact = estimates(), _exact_payoffs(game, logits)
    for player in range(2):
        other = 1 - player
        centered = (rewards[player, 0].double() - rewards[player, 0].double().mean()).unsqueeze(1)
        own_sampled = torch.autograd.grad(sampled[player], logits[player], create_graph=True)[0]
        own_exact = torch.autograd.grad(exact[player], logits[player], create_graph=True)[0]
        tolerance = 4 * _standard_errors(centered * scores[player])
        assert (tolerance < 0.1 * own_exact.abs().min()).all()
        assert ((own_sampled.double() - own_exact.double()).abs() <= tolerance + 1e-6).all()
        # d/d theta_other of grad_own u: the cross term LOLA and SGA need.
        for index in range(2):
            cross_sampled = torch.autograd.grad(own_sampled[index], logits[other], retain_graph=True)[0]
            cross_exact = torch.autograd.grad(own_exact[index], logits[other], retain_graph=True)[0]
            tolerance = 4 * _standard_errors(centered * scores[player][:, index:index + 1] * scores[other])
            assert (tolerance < 0.1 * cross_exact.abs().min()).all()
            assert ((cross_sampled.double() - cross_exact.double()).abs() <= tolerance + 1e-6).all()


def test_joint_estimate_away_from_the_sampling_policy_is_the_importance_sampled_payoff():
    """Uniform behaviour, moved target policies: each payoff estimate is within 4 standard errors of
    its per-sample importance-weighted terms ``r · π(a)/β(a)`` of the exact payoff."""
    behaviour = [torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.0])]
    game, actions, rewards = _sampled_game("biased_rock_paper_scissors", behaviour, 200_000, seed=2)
    moved = [torch.tensor([1.0, -0.5, 0.0]), torch.tensor([0.0, 0.0, 1.0])]  # exact payoffs ±0.258
    valid = torch.ones_like(rewards, dtype=torch.bool)
    flags = torch.zeros_like(valid)
    log_probs = torch.stack([torch.log_softmax(x, -1)[a] for x, a in zip(moved, actions)])
    log_behaviour = torch.full_like(log_probs, -math.log(3.0))
    estimates = joint_return_estimates(log_probs, log_behaviour, rewards, flags, flags, valid, 1.0, baseline="none")
    weights = (log_probs.double() - log_behaviour.double()).sum(0).exp()  # joint ratio, (1, N)
    tolerance = 4 * _standard_errors((weights * rewards.double()).squeeze(1).T)
    assert (tolerance < 0.1 * _exact_payoffs(game, moved).abs()).all()
    assert ((estimates.double() - _exact_payoffs(game, moved)).abs() <= tolerance + 1e-6).all()


def test_reinforce_surrogate_has_no_cross_terms_and_matches_simultaneous_dynamics_gradient():
    """With gamma = 1 the simultaneous dynamics' gradient is exactly independent REINFORCE's."""
    learners = _learners(env="classic/rps-v2", method="simultaneous", gamma=1.0, num_envs=6,
                         hidden_sizes=(8,), episode_length=4)
    batch = learners.collect()
    parameters = [list(policy.parameters()) for policy in learners.policies]
    surrogates = learners.reinforce_objectives(batch)
    surrogate_grads = [torch.autograd.grad(surrogates[i], parameters[i], retain_graph=True) for i in range(2)]
    cross = torch.autograd.grad(surrogates[0], parameters[1], allow_unused=True)
    assert all(gradient is None or not gradient.any() for gradient in cross)
    with torch.no_grad():
        learners._behaviour_log_probs = learners.log_probs(batch)[0]
    learners._batch = batch
    joint = learners._joint_objectives()
    for i in range(2):
        for ours, theirs in zip(torch.autograd.grad(joint[i], parameters[i], retain_graph=True), surrogate_grads[i]):
            torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    assert any(g.abs().max() > 1e-3 for g in surrogate_grads[0])


def test_reinforce_weights_are_reward_to_go_minus_the_leave_one_out_mean():
    rewards = torch.tensor([[1.0, 3.0], [2.0, 0.0]])
    terminated = torch.tensor([[False, False], [True, True]])
    valid = torch.ones_like(terminated)
    weights = reinforce_weights(rewards, terminated, torch.zeros_like(terminated), valid, 1.0,
                                baseline="mean", normalize=False)
    # G = [[3, 3], [2, 0]]; each episode's baseline is the other episode's G at the same step.
    torch.testing.assert_close(weights, torch.tensor([[0.0, 0.0], [2.0, -2.0]]))
    log_probs = torch.log(torch.tensor([[0.5, 0.25], [0.5, 0.5]]))
    objective = reinforce_objective(log_probs, weights, valid)
    torch.testing.assert_close(objective, (2.0 * math.log(0.5) - 2.0 * math.log(0.5)) / 2 * torch.ones(()))


# --------------------------------------------------------------------------------- behaviour
def test_matching_pennies_simultaneous_reinforce_cycles_while_lola_converges():
    start = [[0.7, -0.7], [-0.4, 0.4]]
    common = dict(env="matching_pennies", num_envs=512, lr=0.5, seed=0)
    plain = _learners(method="simultaneous", **common)
    _set_strategies(plain, start)
    plain_history = plain.train(150)
    heads = [record.strategies["player_0"][0] for record in plain_history.records]
    # Plain simultaneous ascent orbits the equilibrium: player 0 swings from mostly heads to
    # mostly tails and back, and exploitability never settles near 0.
    assert max(heads) > 0.8 and min(heads) < 0.2
    assert min(record.nash_conv for record in plain_history.records[50:]) > 0.3
    assert plain_history.final("nash_conv") > 0.5

    aware = _learners(method="lola", dynamics_options={"lookahead": 4.0}, **common)
    _set_strategies(aware, start)
    aware_history = aware.train(150)
    assert aware_history.records[0].nash_conv > 0.5
    assert aware_history.final("nash_conv") <= 0.05
    for strategy in aware.strategies():
        torch.testing.assert_close(strategy, torch.tensor([0.5, 0.5], dtype=torch.float64), atol=0.03, rtol=0)


def test_prisoners_dilemma_independent_learners_both_defect():
    learners = _learners(env="prisoners_dilemma", method="independent", num_envs=128, seed=3)
    history = learners.train(100)
    defect = 1
    for strategy in learners.strategies():
        assert strategy[defect] > 0.95
    assert history.final("nash_conv") < 0.1
    assert history.records[-1].mean_returns["player_0"] < 1.5  # mutual defection pays 1


def test_shared_policy_uses_the_agent_id_to_play_different_roles():
    learners = _learners(env=ROLES_ENV_ID, method="shared", num_envs=64, lr=1.0, seed=1)
    assert len(learners.policies) == 1
    learners.train(40)
    first, second = learners.strategies()
    assert first[0] > 0.9 and second[1] > 0.9


def test_learners_never_act_for_departed_agents_and_honour_masks():
    # ScriptedEnv raises if a departed agent gets an action or the quitter plays a masked one.
    learners = _learners(env=SCRIPTED_ENV_ID, method="independent", num_envs=8, hidden_sizes=(8,), lr=0.05,
                         ascent={"adaptive": "adam"})
    learners.train(3)
    batch = learners.collect()
    runner, quitter, latecomer = range(3)
    assert batch.valid[runner].all(dim=1).tolist() == [True] * 5
    assert batch.valid[quitter].all(dim=1).tolist() == [True, True, False, False, False]
    assert batch.valid[latecomer].all(dim=1).tolist() == [False, True, True, True, True]
    for env in learners.envs.envs:
        for step, actions in enumerate(env.unwrapped.action_log):
            assert ("quitter" in actions) == (step % 5 < 2)


def test_env_exception_surfaces_with_agent_episode_and_step():
    learners = _learners(env=FAILING_ENV_ID, method="independent", num_envs=2, hidden_sizes=(4,))
    with pytest.raises(EnvStepError, match=r"env 0: episode 2, step 3: stepping agents 'runner' .*"
                                           r"'latecomer' .*RuntimeError: scripted failure"):
        learners.train(3)


def test_same_seed_same_results_and_checkpoint_round_trip(tmp_path):
    def run(seed):
        learners = _learners(env="rock_paper_scissors", method="optimistic", num_envs=32, seed=seed)
        records = learners.train(5).records
        return learners, [dataclasses.replace(record, wall_seconds=0.0) for record in records]

    first, first_records = run(4)
    _, second_records = run(4)
    _, other_records = run(5)
    assert first_records == second_records
    assert first_records != other_records
    first.save(tmp_path / "learners.pt")
    loaded = MultiAgentReinforce.load(tmp_path / "learners.pt")
    for ours, theirs in zip(loaded.strategies(), first.strategies()):
        torch.testing.assert_close(ours, theirs)
    assert (loaded.iterations, loaded.env_steps) == (first.iterations, first.env_steps)


@pytest.mark.parametrize("overrides, message", [
    ({"gamma": 1.5}, "gamma must be in"),
    ({"method": "nope"}, "method must be one of"),
    ({"method": "lola", "normalize_advantages": True}, "normalize_advantages applies to"),
    ({"method": "independent", "dynamics_options": {"lookahead": 1.0}}, "dynamics_options needs"),
    ({"num_envs": 0}, "num_envs must be a positive integer"),
    ({"ascent": {"lr": 0.1}}, "ascent must not contain 'lr'"),
])
def test_bad_configuration_is_rejected_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        MultiAgentConfig(**overrides)


@pytest.mark.parametrize("overrides, message", [
    ({"env": "matching_pennies_3p", "method": "lola"}, "method lola: .*needs 2 players"),
    ({"env": SCRIPTED_ENV_ID, "method": "shared"}, "method shared needs the same spaces"),
    ({"env": "no_such_game"}, "unknown env id"),
])
def test_methods_the_env_cannot_support_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        _learners(**overrides)


def test_shared_policy_beats_random_play_on_mpe_simple_spread():
    pytest.importorskip("mpe2")
    learners = _learners(env="mpe2/simple_spread-v3", method="shared", num_envs=32, lr=0.01,
                         ascent={"adaptive": "adam"}, lr_schedule="constant", hidden_sizes=(64,),
                         normalize_advantages=True)
    random_returns = learners.evaluate(uniform=True)
    learners.train(15)
    trained_returns = learners.evaluate()
    # Each mean is over 32 episodes of 25 steps; random play scores about -27 per agent.
    for agent in learners.agents:
        assert trained_returns[agent] > random_returns[agent] + 2.0

"""Turn-based games: reward credit against hand-played games, masked sampling, a game solved by
backward induction, PettingZoo's own API test, and the AEC batch's checks."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test
from pettingzoo_test_envs import (
    TAKE_TURNS_ENV_ID,
    TWO_MOVES_ENV_ID,
    TWO_MOVES_EQUILIBRIUM,
    TWO_MOVES_PAYOFFS,
    TakeTurnsEnv,
    TwoMovesEnv,
)

from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.multiagent_policies import AgentPolicies
from ascentrl.agents.turn_based_rollout import collect_turns
from ascentrl.envs.pettingzoo_envs import EnvStepError
from ascentrl.envs.turn_based import TurnBasedEnvBatch

A, B, C = range(3)


def _legal_first(index, copies, observations, masks):
    """Each agent's first legal action (0 where there is no mask)."""
    if masks is None:
        return torch.zeros(len(copies), dtype=torch.int64)
    return masks.to(torch.int64).argmax(dim=-1)


# ------------------------------------------------------------------------------------ the envs
@pytest.mark.parametrize("make", [TakeTurnsEnv, lambda: TakeTurnsEnv(truncate_after=3), TwoMovesEnv],
                         ids=["take_turns", "take_turns_truncated", "two_moves"])
def test_the_test_games_pass_pettingzoo_api_test(make):
    api_test(make(), num_cycles=20)


# -------------------------------------------------------------------------------- reward credit
def test_credit_of_a_hand_played_game():
    # Moves a, b, b, a, c. Paid after each: {a 1, c 2}, {a 10}, {b 100}, {c 1000}, {a -1, b -2, c -3}.
    envs = TurnBasedEnvBatch(TakeTurnsEnv, 2)
    batch = collect_turns(envs, _legal_first, 100, seed=0)
    # a moved at moves 1 and 4: its first decision earns everything paid to it until move 4 (1 + 10),
    # its second the final -1. b: nothing between its two moves, then 100 - 2. c moved once, at the
    # end: -3 for that decision; the 2 + 1000 it was paid before it ever moved belong to no decision.
    assert batch.rewards[:, :, 0].tolist() == [[11.0, -1.0], [0.0, 98.0], [-3.0, 0.0]]
    assert batch.valid[:, :, 0].tolist() == [[True, True], [True, True], [True, False]]
    assert batch.terminated[:, :, 0].tolist() == [[False, True], [False, True], [True, False]]
    assert not batch.truncated.any()
    assert batch.rewards_before_first_decision[:, 0].tolist() == [0.0, 0.0, 1002.0]
    assert batch.episode_returns()[:, 0].tolist() == [10.0, 98.0, 999.0]  # every reward paid, once
    assert batch.env_steps == 2 * 5 and batch.agent_steps == 2 * 5
    # Each decision holds what the agent saw then: the move number, b's mask from its info dict,
    # c's from its observation dict.
    assert batch.observations[A][:, 0].tolist() == [[0.0, 1.0], [3.0, 1.0]]
    assert batch.observations[B][:, 0].tolist() == [[1.0, 1.0], [2.0, 1.0]]
    assert batch.observations[C][0, 0].argmax().item() == 4
    assert batch.action_masks[B][:, 0].tolist() == [[True, True], [False, True]]
    assert batch.action_masks[C][0, 0].tolist() == [True, False]
    assert batch.actions[B, :, 0].tolist() == [0, 1]
    assert [env.unwrapped.action_log for env in envs.envs] == [[("a", 0), ("b", 0), ("b", 1), ("a", 0), ("c", 0)]] * 2


def test_reward_to_go_runs_along_each_agents_own_decisions():
    from ascentrl.agents.multiagent_objectives import reinforce_weights

    batch = collect_turns(TurnBasedEnvBatch(TakeTurnsEnv, 1), _legal_first, 100, seed=0)
    weights = [reinforce_weights(batch.rewards[i], batch.terminated[i], batch.truncated[i], batch.valid[i], 0.5,
                                 baseline="none", normalize=False)[:, 0].tolist() for i in range(3)]
    assert weights == [[11.0 - 0.5, -1.0], [0.0 + 0.5 * 98.0, 98.0], [-3.0, 0.0]]


def test_truncation_by_the_env_flags_every_agents_last_decision():
    batch = collect_turns(TurnBasedEnvBatch(lambda: TakeTurnsEnv(truncate_after=3), 1), _legal_first, 100)
    assert batch.rewards[:, :, 0].tolist() == [[11.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # move 3 pays nothing
    assert batch.truncated[:, :, 0].tolist() == [[True, False], [False, True], [False, False]]
    assert not batch.terminated.any()
    assert batch.rewards_before_first_decision[:, 0].tolist() == [0.0, 0.0, 2.0]


def test_the_step_limit_cuts_games_as_truncations():
    batch = collect_turns(TurnBasedEnvBatch(TakeTurnsEnv, 1), _legal_first, 3)
    assert batch.valid[:, :, 0].tolist() == [[True, False], [True, True], [False, False]]
    assert batch.truncated[:, :, 0].tolist() == [[True, False], [False, True], [False, False]]
    # a's rewards were read when its next turn came; b's 100 would only come with its next last().
    assert batch.rewards[:, :, 0].tolist() == [[11.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_tic_tac_toe_rewards_reach_both_players_and_games_are_whole():
    envs = TurnBasedEnvBatch(lambda: pettingzoo.make("aec", "classic/tictactoe-v3"), 64)
    generator = torch.Generator().manual_seed(0)
    batch = collect_turns(envs, lambda i, c, o, m: AgentPolicies.sample_one(torch.zeros(m.shape), m, generator),
                          20, seed=1)
    returns = batch.episode_returns()
    assert torch.equal(returns[0], -returns[1]) and set(returns[0].tolist()) <= {-1.0, 0.0, 1.0}
    moves = batch.valid.sum(dim=(0, 1))
    assert ((moves >= 5) & (moves <= 9)).all()
    # The first player moves first and never fewer times than the second.
    first, second = batch.valid[0].sum(dim=0), batch.valid[1].sum(dim=0)
    assert ((first - second == 0) | (first - second == 1)).all()
    # The final reward sits on each player's last decision, which is flagged terminated.
    last = batch.valid.sum(dim=1) - 1
    for player in range(2):
        final = batch.rewards[player].gather(0, last[player].unsqueeze(0)).squeeze(0)
        assert torch.equal(final, returns[player])
        assert batch.terminated[player].gather(0, last[player].unsqueeze(0)).all()
    assert int(batch.terminated.sum()) == 2 * 64
    # Illegal squares had probability 0: the batch's masks exclude every occupied square.
    board_full = batch.observations[0].reshape(*batch.observations[0].shape[:2], 2, 9).sum(dim=2) > 0
    assert not (board_full & batch.action_masks[0]).any()


# ------------------------------------------------------------------------------ masked sampling
@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 6), actions=st.integers(1, 9), seed=st.integers(0, 2**31 - 1),
       special=st.sampled_from([None, float("inf"), float("-inf"), float("nan"), 1e30, -1e30]))
def test_masked_sampling_and_greedy_play_never_pick_an_illegal_action(rows, actions, seed, special):
    generator = torch.Generator().manual_seed(seed)
    masks = torch.rand(rows, actions, generator=generator) < 0.5
    masks[torch.arange(rows), torch.randint(actions, (rows,), generator=generator)] = True
    logits = torch.randn(rows, actions, generator=generator) * 10
    if special is not None:  # extreme values anywhere, legal or not
        logits[torch.rand(rows, actions, generator=generator) < 0.5] = special
    for chosen in (AgentPolicies.sample_one(logits, masks, generator), AgentPolicies.greedy(logits, masks)):
        assert masks[torch.arange(rows), chosen].all()


def test_masked_sampling_draws_from_the_softmax_over_legal_actions():
    logits = torch.tensor([0.5, 2.0, -1.0, 1.0, 0.0])
    mask = torch.tensor([True, False, True, True, False])
    samples = 200_000
    chosen = AgentPolicies.sample_one(logits.expand(samples, -1), mask.expand(samples, -1),
                                      torch.Generator().manual_seed(0))
    frequencies = torch.bincount(chosen, minlength=5).double() / samples
    expected = torch.zeros(5, dtype=torch.float64)
    expected[mask] = torch.softmax(logits[mask].double(), dim=0)
    # Binomial standard errors are below 0.0012; 5 of them is far beyond chance.
    torch.testing.assert_close(frequencies, expected, atol=0.006, rtol=0)


# ----------------------------------------------------------------------------- learning to play
@pytest.mark.parametrize("method", ["independent", "shared"])
def test_tabular_self_play_finds_the_backward_induction_equilibrium(method):
    # One-hot observations of the three nodes and linear policies: a table of logits per node.
    # Adam's per-parameter steps let the node player_0 soon stops visiting (after left) keep learning.
    learners = MultiAgentReinforce(MultiAgentConfig(
        env=TWO_MOVES_ENV_ID, method=method, num_envs=64, hidden_sizes=(), gamma=1.0, lr=0.1,
        ascent={"adaptive": "adam"}, lr_schedule="constant", seed=1))
    learners.train(150)
    nodes = {"root": 0, "after left": 1, "after right": 2}
    mover = {"root": "player_0", "after left": "player_1", "after right": "player_1"}
    probabilities = {}
    for node, best in TWO_MOVES_EQUILIBRIUM.items():
        observation = {"observation": np.int64(nodes[node]), "action_mask": np.array([1, 1, 0], np.int8)}
        assert learners.act(mover[node], observation) == best, node  # greedy play is the equilibrium
        index = learners.agents.index(mover[node])
        encoded = torch.from_numpy(learners.envs.encode_observation(index, np.int64(nodes[node])))
        with torch.no_grad():
            logits = learners.agent_policies.agent_logits(index, encoded)
        probabilities[node] = torch.softmax(logits.masked_fill(torch.tensor([False, False, True]), float("-inf")), -1)
        assert probabilities[node][2] == 0.0  # "pass" is never legal
    # Nearly pure at every node, on the equilibrium path and off it.
    assert all(probabilities[node][best] > 0.9 for node, best in TWO_MOVES_EQUILIBRIUM.items()), probabilities
    returns = learners.evaluate(episodes=256)
    on_path = TWO_MOVES_PAYOFFS[1, 0]  # (1, 3)
    assert abs(returns["player_0"] - on_path[0]) < 0.2 and abs(returns["player_1"] - on_path[1]) < 0.3, returns
    learners.close()


# ----------------------------------------------------------------------------------- the batch
def test_an_illegal_action_is_refused_before_the_env_sees_it():
    envs = TurnBasedEnvBatch(TwoMovesEnv, 2)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"env 1: game 1, move 1: action 2 of 'player_0' is illegal; "
                                         r"legal actions: \[0, 1\]"):
        envs.step(np.array([0, 2]))
    with pytest.raises(ValueError, match=r"actions must have shape \(num_envs,\) = \(2,\)"):
        envs.step(np.zeros((2, 2), np.int64))


def test_the_batch_refuses_envs_that_are_not_turn_based():
    with pytest.raises(ValueError, match="TurnBasedEnvBatch plays turn-based AEC envs"):
        TurnBasedEnvBatch(lambda: pettingzoo.make("aec", "classic/rps-v2"), 1)


def test_an_env_failure_names_the_copy_game_move_and_agent():
    class Failing(TwoMovesEnv):
        def step(self, action):
            if self.agent_selection == "player_1" and not self.terminations["player_1"]:
                raise RuntimeError("broken board")
            super().step(action)

    envs = TurnBasedEnvBatch(Failing, 1)
    envs.reset()
    envs.step(np.array([1]))
    with pytest.raises(EnvStepError, match=r"env 0: game 1, move 2: stepping agent 'player_1' \(action 0\) "
                                           r"raised RuntimeError: broken board"):
        envs.step(np.array([0]))


def test_registered_turn_based_ids_build_a_turn_based_learner():
    learners = MultiAgentReinforce(MultiAgentConfig(env=TAKE_TURNS_ENV_ID, method="independent", num_envs=4,
                                                    hidden_sizes=(4,)))
    assert learners.turn_based and isinstance(learners.envs, TurnBasedEnvBatch)
    history = learners.train(2)
    assert history.env_steps == 2 * 4 * 5 and history.episodes == 8
    assert history.records[-1].mean_returns == {"a": 10.0, "b": 98.0, "c": 999.0}
    learners.close()

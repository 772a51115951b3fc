"""The PettingZoo adapter: PettingZoo's own API test, hand-checked tensors, departures, masks, errors."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest
import torch
from gymnasium import spaces
from pettingzoo.test import parallel_api_test
from pettingzoo_test_envs import SCRIPTED_ENV_ID, ScriptedEnv

from ascentrl.envs.pettingzoo_envs import (
    EnvStepError,
    ParallelEnvBatch,
    PettingZooAdapter,
    describe_agent_spaces,
    make_parallel_env,
)

ROCK, PAPER, SCISSORS = 0, 1, 2


@pytest.mark.parametrize("env_id", ["matching_pennies", "prisoners_dilemma", "classic/rps-v2", SCRIPTED_ENV_ID])
def test_adapter_passes_pettingzoo_parallel_api_test(env_id):
    parallel_api_test(PettingZooAdapter(make_parallel_env(env_id)), num_cycles=30)


def test_adapter_converts_an_aec_env_and_passes_the_api_test():
    adapter = PettingZooAdapter(pettingzoo.make("aec", "classic/rps-v2"))
    parallel_api_test(adapter, num_cycles=20)


def test_rps_from_the_registry_pays_by_the_rules_and_encodes_the_opponents_move():
    batch = ParallelEnvBatch(lambda: make_parallel_env("classic/rps-v2", episode_length=3), 3)
    start = batch.reset(seed=0)
    # RPS observations are Discrete(4) with 3 = "no move yet": one-hot at index 3.
    assert torch.equal(start.observations[0], torch.tensor([[0.0, 0, 0, 1]] * 3))
    moves = torch.tensor([[ROCK, PAPER, SCISSORS], [SCISSORS, PAPER, ROCK]])
    after = batch.step(moves)
    # rock beats scissors, paper ties paper, scissors loses to rock.
    assert after.rewards.tolist() == [[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]]
    # Each player now sees the other's move.
    assert after.observations[0].argmax(-1).tolist() == [SCISSORS, PAPER, ROCK]
    assert after.observations[1].argmax(-1).tolist() == [ROCK, PAPER, SCISSORS]
    steps = 1
    while not batch.all_done:
        last = batch.step(moves)
        steps += 1
    assert steps == 3  # episode_length became rps's max_cycles
    assert last.truncated.all() and not last.live.any()


def test_matrix_game_batch_gives_the_payoff_table_and_previous_joint_action():
    batch = ParallelEnvBatch(lambda: make_parallel_env("prisoners_dilemma", episode_length=2), 2)
    batch.reset(seed=3)
    cooperate, defect = 0, 1
    first = batch.step(torch.tensor([[cooperate, defect], [defect, defect]]))
    # Payoffs (row, column): C/D -> (0, 5), D/D -> (1, 1).
    assert first.rewards.tolist() == [[0.0, 1.0], [5.0, 1.0]]
    # Observation: MultiDiscrete([3, 3]) of the previous joint action, one one-hot block per player.
    assert first.observations[0].tolist() == [[1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0]]
    assert not first.truncated.any() and first.live.all()
    second = batch.step(torch.zeros(2, 2, dtype=torch.int64))
    assert second.truncated.all() and batch.all_done


def test_departed_agents_are_masked_and_never_receive_actions():
    batch = ParallelEnvBatch(lambda: ScriptedEnv(runner_steps=4, quitter_steps=2), 2)
    runner, quitter, latecomer = range(3)
    current = batch.reset(seed=0)
    live_history = [current.live.clone()]
    while not batch.all_done:
        # Propose an action for every agent, legal under the quitter's mask; the batch must pass on
        # only the live agents' ones.
        legal_quitter = current.action_masks[quitter].to(torch.int64).argmax(-1)
        actions = torch.stack([torch.full((2,), 2), legal_quitter, torch.zeros(2, dtype=torch.int64)])
        current = batch.step(actions)
        live_history.append(current.live.clone())
        if len(live_history) == 3:
            assert current.terminated[quitter].all()
    live = torch.stack(live_history)  # [steps + 1, n_agents, N]
    assert live[:, runner, 0].tolist() == [True, True, True, True, False]
    assert live[:, quitter, 0].tolist() == [True, True, False, False, False]
    assert live[:, latecomer, 0].tolist() == [False, True, True, True, False]
    for env in batch.envs:
        log = env.unwrapped.action_log
        assert [sorted(actions) for actions in log] == [
            ["quitter", "runner"], ["latecomer", "quitter", "runner"],
            ["latecomer", "runner"], ["latecomer", "runner"],
        ]
        assert all(actions["runner"] == 2 for actions in log)


def test_masks_spaces_and_observations_of_agents_with_different_spaces():
    batch = ParallelEnvBatch(lambda: ScriptedEnv(), 1)
    described = {spaces.agent: spaces for spaces in batch.spaces}
    assert (described["runner"].observation_size, described["runner"].num_actions) == (2, 3)
    assert (described["quitter"].observation_size, described["quitter"].action_start) == (3, 1)
    assert described["quitter"].masked_observation and not described["runner"].masked_observation
    assert described["latecomer"].observation_size == 5
    start = batch.reset()
    assert start.action_masks[1].tolist() == [[True, False]]  # step 0: only the first action
    assert start.action_masks[0].tolist() == [[True, True, True]]  # no mask: everything legal
    assert start.observations[0].tolist() == [[0.0, 1.0]]
    assert start.observations[1].tolist() == [[1.0, 0.0, 0.0]]
    after = batch.step(torch.tensor([[0], [0], [0]]))
    assert after.action_masks[1].tolist() == [[False, True]]
    assert after.observations[2].tolist() == [[0.0, 1.0, 0.0, 0.0, 0.0]]  # the latecomer joined


def test_adapter_refuses_actions_for_departed_agents_masked_actions_and_missing_agents():
    adapter = PettingZooAdapter(ScriptedEnv(quitter_steps=1))
    adapter.reset()
    with pytest.raises(ValueError, match=r"masked out.*legal actions: \[0\]"):
        adapter.step({"runner": 0, "quitter": 2})
    with pytest.raises(ValueError, match="missing live agents"):
        adapter.step({"runner": 0})
    with pytest.raises(ValueError, match=r"'latecomer' is not live in episode 1 at step 1"):
        adapter.step({"runner": 0, "quitter": 1, "latecomer": 0})
    with pytest.raises(ValueError, match="must be in Discrete"):
        adapter.step({"runner": 7, "quitter": 1})
    adapter.step({"runner": 0, "quitter": 1})
    with pytest.raises(ValueError, match=r"'quitter' is not live in episode 1 at step 2"):
        adapter.step({"runner": 0, "quitter": 1, "latecomer": 0})


def test_env_exception_names_agents_episode_and_step():
    batch = ParallelEnvBatch(lambda: ScriptedEnv(quitter_steps=1, raise_at=(2, 3)), 1)
    actions = torch.tensor([[1], [0], [0]])  # the quitter's only step allows its first action
    batch.reset()
    while not batch.all_done:  # episode 1 runs to its end
        batch.step(actions)
    batch.reset()
    with pytest.raises(EnvStepError) as caught:
        while not batch.all_done:
            batch.step(actions)
    message = str(caught.value)
    assert "env 0: episode 2, step 3" in message
    assert "'runner' (action 1)" in message and "'latecomer' (action 0)" in message
    assert "RuntimeError: scripted failure" in message
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_aec_env_exception_names_the_agent_whose_turn_it_was():
    aec = pettingzoo.make("aec", "classic/rps-v2")
    adapter = PettingZooAdapter(aec)
    adapter.reset(seed=0)
    original_step = aec.unwrapped.step

    def failing_step(action):
        if aec.unwrapped.agent_selection == "player_1":
            raise ValueError("player_1 cannot move")
        original_step(action)

    aec.unwrapped.step = failing_step
    with pytest.raises(EnvStepError, match=r"episode 1, step 1: stepping agent 'player_1' \(action 2\)"):
        adapter.step({"player_0": 0, "player_1": 2})


class _BoxActions(ScriptedEnv):
    def action_space(self, agent):
        return spaces.Box(-1.0, 1.0, (2,)) if agent == "quitter" else super().action_space(agent)


class _TupleObservations(ScriptedEnv):
    def observation_space(self, agent):
        if agent == "latecomer":
            return spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3)))
        return super().observation_space(agent)


def test_unsupported_spaces_are_rejected_naming_agent_and_alternatives():
    with pytest.raises(ValueError, match=r"agent 'quitter': unsupported action space Box.*supported: Discrete"):
        describe_agent_spaces(_BoxActions())
    with pytest.raises(ValueError, match=r"agent 'latecomer': unsupported observation space Tuple.*MultiDiscrete"):
        PettingZooAdapter(_TupleObservations())


def test_make_parallel_env_rejects_unknown_ids_turn_based_envs_and_bad_lengths():
    with pytest.raises(ValueError, match="unknown env id 'no_such_game'.*matching_pennies.*classic/rps-v2|"
                                         "unknown env id 'no_such_game'.*matching_pennies"):
        make_parallel_env("no_such_game")
    with pytest.raises(ValueError, match="turn-based"):
        make_parallel_env("classic/tictactoe-v3")
    with pytest.raises(ValueError, match="episode_length must be a positive integer"):
        make_parallel_env("matching_pennies", episode_length=0)
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        ParallelEnvBatch(lambda: make_parallel_env("matching_pennies"), 0)


def test_batch_checks_the_action_shape():
    batch = ParallelEnvBatch(lambda: make_parallel_env("matching_pennies"), 2)
    batch.reset()
    with pytest.raises(ValueError, match=r"actions must have shape \(n_agents, num_envs\) = \(2, 2\)"):
        batch.step(np.zeros((2, 3), np.int64))


def test_mpe2_ids_build_the_multi_particle_envs():
    pytest.importorskip("mpe2")
    env = make_parallel_env("mpe2/simple_spread-v3", episode_length=4)
    parallel_api_test(PettingZooAdapter(env), num_cycles=10)
    batch = ParallelEnvBatch(lambda: make_parallel_env("mpe2/simple_spread-v3", episode_length=4), 2)
    assert [(s.observation_size, s.num_actions) for s in batch.spaces] == [(18, 5)] * 3
    batch.reset(seed=0)
    steps = 0
    while not batch.all_done:
        batch.step(torch.zeros(3, 2, dtype=torch.int64))
        steps += 1
    assert steps == 4


def test_pettingzoo_without_a_registry_imports_the_env_module(monkeypatch):
    """PettingZoo < 1.27 has no ``make``: ``classic/rps-v2`` is the module ``pettingzoo.classic.rps_v2``."""
    monkeypatch.delattr(pettingzoo, "make")
    batch = ParallelEnvBatch(lambda: make_parallel_env("classic/rps-v2", episode_length=2), 1)
    batch.reset(seed=0)
    first = batch.step(torch.tensor([[PAPER], [ROCK]]))
    assert first.rewards.tolist() == [[1.0], [-1.0]]
    with pytest.raises(ValueError, match="cannot import pettingzoo.classic.no_such_game_v1"):
        make_parallel_env("classic/no_such_game-v1")

"""Trained agents at play: act() in a PettingZoo loop, games against fixed opponents counted exactly,
Wilson intervals against SciPy, exact resume of a turn-based run, presets, Leduc hold'em."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest
import torch
from pettingzoo_test_envs import TWO_MOVES_ENV_ID

from ascentrl.agents import (
    MULTIAGENT_ALGORITHMS,
    MULTIAGENT_PRESETS,
    MultiAgentConfig,
    MultiAgentPPO,
    MultiAgentPPOConfig,
    MultiAgentReinforce,
    multiagent_preset_for,
)
from ascentrl.agents.multiagent_evaluation import opponent_from_spec, wilson_interval

LEFT, RIGHT, PASS = 0, 1, 2


def _two_moves(**overrides) -> MultiAgentReinforce:
    """Linear (tabular) policies on the two-move game whose greedy moves are player_0 right, player_1 left."""
    learners = MultiAgentReinforce(MultiAgentConfig(env=TWO_MOVES_ENV_ID, method="independent", num_envs=64,
                                                    hidden_sizes=(), **overrides))
    with torch.no_grad():
        learners.policies[0].logits.layers[-1].bias.copy_(torch.tensor([0.0, 5.0, 9.0]))  # pass is illegal
        learners.policies[1].logits.layers[-1].bias.copy_(torch.tensor([5.0, 0.0, 9.0]))
    return learners


# ------------------------------------------------------------------------------------ opponents
def test_games_against_a_fixed_policy_are_counted_exactly():
    learners = _two_moves()
    always_left = lambda observation: LEFT  # noqa: E731
    records = learners.play_against(always_left, games=100)
    # Seat player_0: right, then left -> (1, 3), a loss. Seat player_1: left after left -> (3, 1), a loss.
    for agent, mean_return in (("player_0", 1.0), ("player_1", 1.0)):
        record = records[agent]
        assert (record.games, record.wins, record.draws, record.losses) == (100, 0, 0, 100)
        assert record.mean_return == mean_return
    learners.close()


def test_games_against_random_play_match_the_enumerated_odds():
    learners = _two_moves()
    records = learners.play_against("random", games=2000)
    # player_0 plays right: random left -> (1, 3) loss, random right -> (2, 0) win; player_1 plays
    # left: after random left (3, 1) a loss, after random right (1, 3) a win. Half and half, never a draw.
    for agent, mean_return in (("player_0", 1.5), ("player_1", 2.0)):
        record = records[agent]
        assert record.games == 2000 and record.draws == 0 and record.wins + record.losses == 2000
        assert abs(record.wins / 2000 - 0.5) < 0.06  # 5 binomial standard errors
        assert abs(record.mean_return - mean_return) < 0.06
        low, high = record.as_dict()["win_interval"]
        assert low < record.wins / 2000 < high
    learners.close()


def test_an_illegal_move_of_an_opponent_names_it_the_agent_and_the_move():
    learners = _two_moves()
    # Env copy 1 seats the trained policy as player_1, so the opponent opens there as player_0.
    with pytest.raises(ValueError, match=r"opponent passer: illegal action 2 for 'player_0' at env 1: game \d+, "
                                         r"move 1; legal actions: \[0, 1\]"):
        def passer(observation):
            return PASS

        learners.play_against(passer, games=4)
    learners.close()


def test_a_past_checkpoint_is_an_opponent(tmp_path):
    learners = MultiAgentReinforce(MultiAgentConfig(env="classic/tictactoe-v3", method="shared", num_envs=16,
                                                    hidden_sizes=(16,), lr=1e-3, ascent={"adaptive": "adam"}))
    learners.train(2, checkpoint_path=tmp_path / "early.pt")
    early = MultiAgentReinforce.load(tmp_path / "early.pt")
    records = learners.play_against(early, games=50)
    for record in records.values():
        assert record.games == 50 and record.wins + record.draws + record.losses == 50
        assert -1.0 <= record.mean_return <= 1.0
    mismatch = MultiAgentReinforce(MultiAgentConfig(env="classic/connect_four-v3", method="shared", num_envs=1,
                                                    conv_channels=(2,), hidden_sizes=(4,)))
    with pytest.raises(ValueError, match="trained on classic/connect_four-v3"):
        learners.play_against(mismatch)
    for closing in (learners, early, mismatch):
        closing.close()


def test_a_ppo_checkpoint_named_on_the_command_line_is_an_opponent(tmp_path):
    """``--eval-opponent PATH`` loads the checkpoint as the learners' own class (a PPO run's file once
    failed: it was read as a MultiAgentReinforce checkpoint)."""
    learners = MultiAgentPPO(MultiAgentPPOConfig(env="classic/tictactoe-v3", num_envs=8, hidden_sizes=(8,)))
    learners.train(1, checkpoint_path=tmp_path / "ppo.pt")
    opponent = opponent_from_spec(str(tmp_path / "ppo.pt"), learners)
    records = learners.play_against(opponent, games=20)
    assert all(record.games == 20 and record.wins + record.draws + record.losses == 20 for record in records.values())
    learners.close()


@pytest.mark.parametrize("successes, trials", [(0, 1000), (7, 1000), (500, 1000), (1000, 1000), (3, 20)])
def test_wilson_intervals_match_scipy(successes, trials):
    stats = pytest.importorskip("scipy.stats")
    reference = stats.binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose(wilson_interval(successes, trials), (reference.low, reference.high), atol=1e-12)


# ------------------------------------------------------------------------------------------ act
def test_act_plays_legal_moves_in_a_pettingzoo_loop_after_loading(tmp_path):
    learners = MultiAgentReinforce(MultiAgentConfig(env="classic/tictactoe-v3", method="shared", num_envs=8,
                                                    hidden_sizes=(16,), lr=1e-3, ascent={"adaptive": "adam"}))
    learners.train(1)
    learners.save(tmp_path / "agent.pt")
    agent = MultiAgentReinforce.load(tmp_path / "agent.pt")
    env = pettingzoo.make("aec", "classic/tictactoe-v3")
    generator = torch.Generator().manual_seed(0)
    for game in range(20):
        env.reset(seed=game)
        for name in env.agent_iter():
            observation, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                action = None
            else:
                action = agent.act(name, observation, deterministic=game % 2 == 0, generator=generator)
                assert observation["action_mask"][action] == 1
                if game % 2 == 0:  # greedy: the most probable legal move of the trained policy
                    index = agent.agents.index(name)
                    encoded = torch.from_numpy(agent.envs.encode_observation(index, observation["observation"]))
                    with torch.no_grad():
                        logits = learners.agent_policies.agent_logits(index, encoded)
                    legal = torch.from_numpy(observation["action_mask"].astype(bool))
                    assert action == int(logits.masked_fill(~legal, float("-inf")).argmax())
            env.step(action)
    with pytest.raises(ValueError, match="unknown agent 'player_3'"):
        agent.act("player_3", observation)
    with pytest.raises(ValueError, match="must be the dict PettingZoo gives"):
        agent.act("player_1", observation["observation"])
    with pytest.raises(ValueError, match="action mask must be 9 booleans with at least one True"):
        agent.act("player_1", {"observation": observation["observation"], "action_mask": np.zeros(9, np.int8)})
    for closing in (learners, agent):
        closing.close()


# ---------------------------------------------------------------------------------------- resume
def test_an_interrupted_turn_based_run_resumes_exactly(tmp_path):
    config = MultiAgentConfig(env="classic/tictactoe-v3", method="shared", num_envs=8, hidden_sizes=(16,), lr=1e-3,
                              ascent={"adaptive": "adam"}, baseline="value", entropy_coef=0.01,
                              lr_schedule="constant", conv_channels=(4,))
    truth = MultiAgentReinforce(config)
    expected = truth.train(5)
    stopped = MultiAgentReinforce(config)
    stopped.train(5, checkpoint_path=tmp_path / "run.pt", should_stop=lambda: stopped.iterations == 2)
    resumed = MultiAgentReinforce.load(tmp_path / "run.pt", restore_global_rng=True)
    history = resumed.resume_training()
    for name, network in truth.networks().items():
        for (key, tensor), other in zip(network.state_dict().items(), resumed.networks()[name].state_dict().values()):
            assert torch.equal(tensor, other), (name, key)
    assert [r.mean_returns for r in history.records] == [r.mean_returns for r in expected.records]
    assert history.env_steps == expected.env_steps
    for learners in (truth, stopped, resumed):
        learners.close()


# --------------------------------------------------------------------------------------- presets
def test_presets_are_found_by_algorithm_id_then_family_and_matrix_games_have_none():
    ppo, reinforce = MULTIAGENT_PRESETS["ppo"], MULTIAGENT_PRESETS["reinforce"]
    assert multiagent_preset_for("ppo", "classic/tictactoe-v3") == ppo["classic/tictactoe-v3"]
    assert multiagent_preset_for("ppo", "classic/texas_holdem-v4") == ppo["classic/"]
    assert multiagent_preset_for("reinforce", "mpe2/simple_tag-v3") == reinforce["mpe2/"]
    for algo in ("reinforce", "ppo"):
        assert multiagent_preset_for(algo, "matching_pennies") == {} == multiagent_preset_for(algo, "prisoners_dilemma")
    for algo, presets in MULTIAGENT_PRESETS.items():
        for env, preset in presets.items():  # every preset is a valid config of its learner...
            MULTIAGENT_ALGORITHMS[algo].config_class(**multiagent_preset_for(algo, env))
            assert set(preset) - set(multiagent_preset_for(algo, env)) <= {"iterations"}  # ...and maybe a budget
    multiagent_preset_for("reinforce", "mpe2/simple_spread-v3")["ascent"]["adaptive"] = "changed"  # a copy...
    assert reinforce["mpe2/"]["ascent"] == {"adaptive": "adam"}  # ...that leaves the table alone


@pytest.mark.parametrize("algo", ["reinforce", "ppo"])
def test_the_mpe2_presets_beat_random_play_on_simple_spread(algo):
    pytest.importorskip("mpe2")
    learner_class = MULTIAGENT_ALGORITHMS[algo]
    learners = learner_class(learner_class.config_class(**{**multiagent_preset_for(algo, "mpe2/simple_spread-v3"),
                                                           "env": "mpe2/simple_spread-v3"}))
    random_returns = learners.evaluate(uniform=True, episodes=256)
    learners.train(15)
    trained_returns = learners.evaluate(episodes=256)
    # Random play scores about -26 per agent (means over 256 episodes, so noise moves them little);
    # lr 0.5 without Adam (the matrix-game default) ends below it.
    for agent in learners.agents:
        assert trained_returns[agent] > random_returns[agent] + 1.0, (trained_returns, random_returns)
    learners.close()


def test_leduc_holdem_trains_and_plays_random_opponents():
    pytest.importorskip("rlcard")
    learners = MultiAgentPPO(MultiAgentPPOConfig(**{**multiagent_preset_for("ppo", "classic/leduc_holdem-v4"),
                                                    "env": "classic/leduc_holdem-v4", "num_envs": 32}))
    assert learners.turn_based
    history = learners.train(2)
    returns = history.records[-1].mean_returns
    assert abs(returns["player_0"] + returns["player_1"]) < 1e-5  # zero-sum
    records = learners.play_against("random", games=64)
    assert all(record.games == 64 and record.wins + record.draws + record.losses == 64 for record in records.values())
    learners.close()

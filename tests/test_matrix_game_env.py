"""MatrixGameEnv: the repeated matrix game as a PettingZoo ParallelEnv.

Truths used: PettingZoo's own API and seeding checkers, and the payoff tables of the catalogue
games (rewards must be the payoffs of the joint action, observations the previous joint action).
"""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test, parallel_seed_test

from ascentrl.envs import MatrixGameEnv, make_matrix_game, random_general_sum_game


@pytest.mark.parametrize("name", ["prisoners_dilemma", "rock_paper_scissors", "matching_pennies_3p"])
def test_passes_the_pettingzoo_parallel_api_test(name):
    parallel_api_test(MatrixGameEnv(make_matrix_game(name), rounds=25), num_cycles=60)


def test_passes_the_pettingzoo_seed_test():
    parallel_seed_test(lambda: MatrixGameEnv(make_matrix_game("rock_paper_scissors"), rounds=10), num_cycles=30)


def test_spaces():
    env = MatrixGameEnv(random_general_sum_game((2, 3, 4), seed=0), rounds=5)
    assert env.possible_agents == ["player_0", "player_1", "player_2"]
    assert [env.action_space(agent) for agent in env.possible_agents] == [
        spaces.Discrete(2),
        spaces.Discrete(3),
        spaces.Discrete(4),
    ]
    # Entry A_j means "no previous action", so player j's entry ranges over A_j + 1 values.
    assert env.observation_space("player_1") == spaces.MultiDiscrete([3, 4, 5])


def test_observations_are_the_previous_joint_action_and_rewards_the_payoffs():
    game = make_matrix_game("prisoners_dilemma")
    env = MatrixGameEnv(game, rounds=3)
    observations, infos = env.reset(seed=0)
    assert set(observations) == set(env.possible_agents) and infos == {a: {} for a in env.possible_agents}
    for observation in observations.values():
        assert observation.tolist() == [2, 2]  # nothing played yet
    rounds = [(0, 1), (1, 1), (1, 0)]  # (cooperate, defect), (defect, defect), (defect, cooperate)
    expected_rewards = [(0.0, 5.0), (1.0, 1.0), (5.0, 0.0)]
    for number, (joint, rewards) in enumerate(zip(rounds, expected_rewards), start=1):
        actions = {"player_0": joint[0], "player_1": np.int64(joint[1])}
        observations, reward, terminations, truncations, _ = env.step(actions)
        for observation in observations.values():
            assert observation.tolist() == list(joint)
        assert (reward["player_0"], reward["player_1"]) == rewards
        assert not any(terminations.values())
        assert all(truncations.values()) == (number == 3)
    assert env.agents == []
    assert env.render() is None  # no render mode


def test_render_ansi():
    env = MatrixGameEnv(make_matrix_game("rock_paper_scissors"), rounds=2, render_mode="ansi")
    env.reset()
    assert env.render() == "rock_paper_scissors: no round played yet"
    env.step({"player_0": 1, "player_1": 2})
    assert env.render() == "rock_paper_scissors round 1/2: paper, scissors"


def test_reset_starts_a_new_episode():
    env = MatrixGameEnv(make_matrix_game("matching_pennies"), rounds=1)
    env.reset()
    env.step({"player_0": 0, "player_1": 1})
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"player_0": 0, "player_1": 1})
    observations, _ = env.reset()
    assert env.agents == env.possible_agents
    assert observations["player_0"].tolist() == [2, 2]


def test_bad_arguments():
    game = make_matrix_game("matching_pennies")
    with pytest.raises(TypeError, match="MatrixGame"):
        MatrixGameEnv(game.payoffs)
    with pytest.raises(ValueError, match="single game"):
        MatrixGameEnv(random_general_sum_game((2, 2), count=3))
    with pytest.raises(ValueError, match="rounds must be an int >= 1"):
        MatrixGameEnv(game, rounds=0)
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        MatrixGameEnv(game, render_mode="human")
    env = MatrixGameEnv(game)
    with pytest.raises(ValueError, match="unknown agent 'player_2'"):
        env.action_space("player_2")
    env.reset()
    with pytest.raises(ValueError, match=r"missing the action of \['player_1'\]"):
        env.step({"player_0": 0})
    for action in (2, -1, 1.5, 1.0, "1", None):
        with pytest.raises(ValueError, match="action of player_1 must be an int in Discrete"):
            env.step({"player_0": 0, "player_1": action})
    _, rewards, *_ = env.step({"player_0": np.array(1), "player_1": True})  # integer scalars are ints
    assert rewards == {"player_0": 1.0, "player_1": -1.0}  # tails, tails: the row player matches

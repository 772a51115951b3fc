"""scripts/bench_turn_based.py and its harness: the minimax judge against tic-tac-toe's known value
(a draw), the judging loop's counts, a smoke run of both players, bad input."""

from __future__ import annotations

import json

import bench_turn_based
import pytest
from harness.tictactoe_minimax import PerfectTicTacToe, position_value
from harness.turn_based_games import TrainedPlayer, UniformRandom, compare, play_games

TICTACTOE = "classic/tictactoe-v3"


def test_tic_tac_toe_is_a_draw_and_perfect_play_never_loses():
    assert position_value(0, 0) == 0  # the empty board: neither side can force a win
    assert position_value(0b000_000_011, 0b000_011_000) == 1  # the mover completes its top row
    perfect = PerfectTicTacToe(seed=1)
    against_itself = play_games(TICTACTOE, lambda agent, observation: perfect(observation), PerfectTicTacToe(2), 20, 0)
    assert all(outcome.draws == 20 for outcome in against_itself.values())
    against_random = play_games(TICTACTOE, lambda agent, observation: perfect(observation), UniformRandom(3), 200, 0)
    for outcome in against_random.values():
        assert outcome.losses == 0 and outcome.wins > 100  # random play loses most games to perfect play


def test_the_judging_loop_counts_every_game_of_every_seat():
    first_square = TrainedPlayer("first legal", lambda agent, observation: int(observation["action_mask"].argmax()),
                                 0.0, 0, 0)
    outcomes = play_games(TICTACTOE, first_square.policy, UniformRandom(0), 30, 100)
    assert set(outcomes) == {"player_1", "player_2"}
    for outcome in outcomes.values():
        assert outcome.wins + outcome.draws + outcome.losses == outcome.games == 30
        low, high = outcome.interval("win")
        assert low <= outcome.rate("win") <= high


def test_a_smoke_run_trains_and_judges_both_players(one_torch_thread):
    pytest.importorskip("sb3_contrib")
    results = compare(TICTACTOE, seconds=1.0, games=10, seed=0, overrides={"num_envs": 16, "minibatches": 2})
    assert [player["name"] for player in results["players"]] == ["ascentrl ppo", "MaskablePPO"]
    for player in results["players"]:
        assert player["moves"] > 0 and set(player["outcomes"]) == {"random", "perfect_play"}
        assert [target["opponent"] for target in player["targets"]] == ["random", "perfect_play"]
        assert json.dumps(player)  # the --json output is plain data


@pytest.mark.parametrize("arguments, fragment", [
    (["--envs", "classic/chess-v6"], "--envs must be among classic/tictactoe-v3, classic/connect_four-v3"),
    (["--seconds", "0"], "--seconds must be > 0"),
    (["--games", "0"], "--games must be a positive integer"),
    (["--algo", "dqn"], "--algo must be one of reinforce, ppo"),
    (["--overrides", '{"lr": -1}'], "--overrides: lr must be in"),
    (["--overrides", '{"learning_rate": 1}'], "--overrides: "),
])
def test_bad_input_is_one_line_and_exit_code_2(arguments, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_turn_based.main(arguments)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert error.count("\n") == 1 and fragment in error, error

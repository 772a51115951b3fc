"""scripts/train_multiagent.py: outputs, NashConv reporting, reproducibility and one-line bad-input errors."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.envs import make_matrix_game

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_multiagent.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL = ["--num-envs", "32", "--no-progress-bar"]


def _load_script():
    spec = importlib.util.spec_from_file_location("train_multiagent_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


script = _load_script()


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _progress(folder: Path) -> list[dict[str, str]]:
    with open(folder / "progress.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_matrix_game_run_writes_summary_progress_plots_and_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert script.main(["--env", "rock_paper_scissors", "--method", "optimistic", "--iterations", "20",
                        "--seed", "2", "--out", str(out), *SMALL]) == 0
    summary, rows = _summary(out), _progress(out)
    assert (summary["env"], summary["method"], summary["seed"], summary["iterations"]) == (
        "rock_paper_scissors", "optimistic", 2, 20)
    assert summary["agent_steps"] == 2 * summary["env_steps"] == 2 * 20 * 32
    assert len(rows) == 20 and rows[-1]["iteration"] == "20"
    # The reported NashConv is that of the reported strategies, recomputed here from the game.
    game = make_matrix_game("rock_paper_scissors")
    strategies = [summary["strategies"][agent] for agent in ("player_0", "player_1")]
    assert summary["nash_conv"] == pytest.approx(float(game.nash_conv(strategies)), abs=1e-6)
    assert float(rows[-1]["nash_conv"]) == pytest.approx(summary["nash_conv"])
    assert float(rows[-1]["p_player_1_scissors"]) == pytest.approx(strategies[1][2])
    assert all(float(row["return_player_0"]) == -float(row["return_player_1"]) for row in rows)  # zero-sum
    for plot in ("returns.png", "strategies.png", "nash_conv.png"):
        assert (out / plot).read_bytes()[:8] == PNG_SIGNATURE
    config = json.loads((out / "config.json").read_text())
    assert MultiAgentConfig(**config["config"]).method == "optimistic"
    loaded = MultiAgentReinforce.load(out / "checkpoint.pt")
    assert loaded.nash_conv() == pytest.approx(summary["nash_conv"], abs=1e-6)


def test_same_seed_gives_the_same_summary_apart_from_wall_time(tmp_path):
    def run(folder: Path, seed: int) -> dict:
        assert script.main(["--iterations", "8", "--seed", str(seed), "--out", str(folder), *SMALL]) == 0
        summary = _summary(folder)
        summary.pop("wall_seconds")
        return summary

    first = run(tmp_path / "a", 7)
    assert first == run(tmp_path / "b", 7)
    assert first != run(tmp_path / "c", 8)


def test_target_nash_conv_stops_early_or_reports_failure(tmp_path, capsys):
    out = tmp_path / "target"
    assert script.main(["--method", "lola", "--iterations", "200", "--target-nash-conv", "0.1",
                        "--num-envs", "128", "--out", str(out), "--no-progress-bar"]) == 0
    summary = _summary(out)
    assert summary["reached_target"] is True
    assert summary["nash_conv"] <= 0.1 and summary["iterations"] < 200
    # Plain simultaneous ascent orbits matching pennies and cannot get that close in a few steps.
    assert script.main(["--method", "simultaneous", "--iterations", "10", "--target-nash-conv", "0.001",
                        *SMALL]) == 1
    assert "NashConv" in capsys.readouterr().out


def test_pettingzoo_env_run_reports_returns_and_no_nash_conv(tmp_path):
    out = tmp_path / "rps"
    assert script.main(["--env", "classic/rps-v2", "--method", "shared", "--iterations", "2",
                        "--episode-length", "5", "--num-envs", "4", "--lr", "0.01", "--ascent",
                        '{"adaptive": "adam"}', "--compare-random", "--out", str(out), "--no-progress-bar"]) == 0
    summary = _summary(out)
    for key in ("trained_mean_returns", "random_mean_returns"):  # zero-sum under any play
        assert summary[key]["player_0"] == -summary[key]["player_1"]
    assert summary["nash_conv"] is None and summary["strategies"] is None
    assert summary["env_steps"] == 2 * 4 * 5
    assert math.isclose(summary["mean_returns"]["player_0"], -summary["mean_returns"]["player_1"])
    assert (out / "returns.png").exists() and not (out / "strategies.png").exists()
    assert "nash_conv" not in _progress(out)[0]


@pytest.mark.parametrize("arguments, message", [
    (["--env", "no_such_game"], "unknown env id 'no_such_game'"),
    (["--method", "nope"], "argument --method: invalid choice"),
    (["--iterations", "0"], "--iterations must be a positive integer"),
    (["--gamma", "1.5"], "gamma must be in [0.0, 1.0]"),
    (["--env", "matching_pennies_3p", "--method", "lola"], "needs 2 players"),
    (["--env", "classic/rps-v2", "--target-nash-conv", "0.1"],
     "--target-nash-conv needs a matrix game or an extensive/ game"),
    (["--ascent", "{not json"], "argument --ascent: expected a JSON object"),
])
def test_bad_input_exits_2_with_one_line(arguments, message, capsys):
    with pytest.raises(SystemExit) as caught:
        script.main([*arguments, "--no-progress-bar"])
    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error


def test_bad_input_from_the_command_line_has_no_traceback():
    result = subprocess.run([sys.executable, str(SCRIPT), "--num-envs", "0"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "train_multiagent.py: error: num_envs must be a positive integer, got 0"]


@pytest.mark.parametrize("arguments, message", [
    (["--env", "extensive/chess"], "unknown env id 'extensive/chess': the extensive-form games are"),
    (["--env", "classic/tictactoe-v3", "--method", "lola", "--preset", "none"],
     "tictactoe-v3 is turn-based, use method shared"),
    (["--algo", "ppo", "--env", "classic/tictactoe-v3", "--method", "lola"],
     "argument --method: invalid choice: 'lola' (choose from 'independent', 'shared')"),
    (["--algo", "ppo", "--env", "classic/connect_four-v3", "--observation-encoding", "pixels"],
     "argument --observation-encoding: invalid choice: 'pixels' (choose from 'auto', 'flatten')"),
])
def test_bad_turn_based_input_exits_2_with_one_line(arguments, message, capsys):
    with pytest.raises(SystemExit) as caught:
        script.main([*arguments, "--no-progress-bar"])
    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error


def test_an_opponent_playing_an_illegal_move_exits_2_naming_the_agent_and_the_move(tmp_path, capsys):
    opponent = tmp_path / "corner.py"
    opponent.write_text("def always_corner(observation):\n    return 0\n")  # illegal once square 0 is taken
    code = script.main(["--algo", "ppo", "--env", "classic/tictactoe-v3", "--num-envs", "8", "--minibatches", "2",
                        "--iterations", "1", "--eval-games", "8", "--eval-opponent", f"{opponent}:always_corner",
                        "--out", str(tmp_path / "run"), "--no-progress-bar"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1, error
    assert "corner.py:always_corner: illegal action 0 for 'player_" in error and ", move " in error, error
    assert (tmp_path / "run" / "checkpoint.pt").exists()  # the training is kept

"""scripts/train_cartpole.py: its command line, its refusal of bad input, and the files it writes.

The script is run in-process through ``main(argv)`` (fast), and once as a subprocess to prove the
real exit code and the absence of a traceback end to end.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from ascentrl.agents import Reinforce

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_cartpole.py"
SUMMARY_KEYS = {"seed", "solved", "env_steps", "episodes", "wall_seconds", "eval_mean_return"}
OUTPUT_FILES = ("summary.json", "progress.csv", "checkpoint.pt", "config.json", "learning_curve.png")


def load_script():
    spec = importlib.util.spec_from_file_location("train_cartpole_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


train_cartpole = load_script()


class MultiDiscreteActionsEnv(gym.Env):
    """A registered env whose actions are ``MultiDiscrete``. Gymnasium's installed envs all act
    through Discrete or Box spaces (Box2D and MuJoCo ones too), so the test registers its own."""

    observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = spaces.MultiDiscrete([2, 3])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return np.zeros(3, np.float32), 0.0, True, False, {}


MULTI_DISCRETE_ID = "AscentrlScriptTest/MultiDiscreteActions-v0"
gym.register(MULTI_DISCRETE_ID, MultiDiscreteActionsEnv, max_episode_steps=5)


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exited:
        train_cartpole.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    options = [action for action in train_cartpole.build_parser()._actions if action.dest != "help"]
    for action in options:
        assert action.option_strings[0] in text
        documentation = action.help.split("(default:")[0].strip()
        assert len(documentation) > 10, f"{action.option_strings[0]} has no description"
    flags = {flag for action in options for flag in action.option_strings}
    for required in ("--seed", "--out", "--env", "--total-steps", "--num-envs", "--lr", "--gamma",
                     "--tensorboard"):
        assert required in flags


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--env", "NoSuchEnvironment-v0"], "unknown Gymnasium environment id 'NoSuchEnvironment-v0'"),
        (["--env", MULTI_DISCRETE_ID], "action space MultiDiscrete([2 3]) is not supported; supported: Discrete"),
        (["--env", "Blackjack-v1"], "observation space Tuple("),
        (["--total-steps", "0"], "--total-steps must be a positive integer, got 0"),
        (["--total-steps", "-5"], "--total-steps must be a positive integer, got -5"),
        (["--gamma", "1.5"], "gamma must be in [0.0, 1.0], got 1.5"),
        (["--gamma", "-0.1"], "gamma must be in [0.0, 1.0], got -0.1"),
        (["--num-envs", "0"], "num_envs must be a positive integer, got 0"),
        (["--num-envs", "two"], "expected int for --num-envs, got 'two'"),
    ],
)
def test_bad_input_exits_2_with_one_line_before_any_training(argv, fragment, capsys, monkeypatch, tmp_path):
    def training_must_not_start(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(Reinforce, "train", training_must_not_start)
    with pytest.raises(SystemExit) as exited:
        train_cartpole.main([*argv, "--no-progress-bar", "--out", str(tmp_path / "run")])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert ": error: " in lines[0]
    assert fragment in lines[0]


def test_bad_input_from_the_command_line_gives_exit_code_2_and_no_traceback():
    result = subprocess.run([sys.executable, str(SCRIPT), "--gamma", "1.5", "--no-progress-bar"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "train_cartpole.py: error: gamma must be in [0.0, 1.0], got 1.5"]


def run_script(folder: Path, seed: int) -> dict:
    code = train_cartpole.main(["--seed", str(seed), "--total-steps", "2000", "--num-envs", "8",
                                "--eval-episodes", "5", "--no-progress-bar", "--out", str(folder)])
    assert code == 1  # the budget ran out before CartPole was solved
    return json.loads((folder / "summary.json").read_text())


def read_progress(folder: Path) -> list[dict[str, str]]:
    with open(folder / "progress.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_out_folder_holds_every_file_and_the_same_seed_gives_the_same_numbers(tmp_path, capsys):
    first, second, other = (run_script(tmp_path / name, seed) for name, seed in
                            (("first", 5), ("second", 5), ("other", 6)))
    capsys.readouterr()
    for name in ("first", "second", "other"):
        assert all((tmp_path / name / file).is_file() for file in OUTPUT_FILES)
    assert SUMMARY_KEYS <= first.keys()
    assert first["seed"] == 5 and first["solved"] is False and first["env_steps"] >= 2000
    without_time = [{key: value for key, value in summary.items() if key != "wall_seconds"}
                    for summary in (first, second)]
    assert without_time[0] == without_time[1]
    assert first["wall_seconds"] > 0

    progress = read_progress(tmp_path / "first")
    assert {"env_steps", "wall_seconds", "mean_return"} <= progress[0].keys()
    assert int(progress[-1]["env_steps"]) == first["env_steps"]
    assert [int(row["env_steps"]) for row in progress] == sorted(int(row["env_steps"]) for row in progress)
    returns = [row["mean_return"] for row in progress]
    assert returns == [row["mean_return"] for row in read_progress(tmp_path / "second")]
    assert returns != [row["mean_return"] for row in read_progress(tmp_path / "other")]

    config = json.loads((tmp_path / "first" / "config.json").read_text())
    assert config["config"]["seed"] == 5 and config["config"]["num_envs"] == 8
    assert config["run"]["total_steps"] == 2000
    assert (tmp_path / "first" / "learning_curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    agent = Reinforce.load(tmp_path / "first" / "checkpoint.pt")
    assert agent.env_steps == first["env_steps"]
    twin = Reinforce.load(tmp_path / "second" / "checkpoint.pt")
    assert all(torch.equal(a, b) for a, b in zip(agent.policy.parameters(), twin.policy.parameters()))


def test_default_configuration_solves_cartpole(tmp_path, capsys):
    code = train_cartpole.main(["--no-progress-bar", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0 and summary["solved"] is True
    assert summary["eval_mean_return"] >= 475.0
    assert "CartPole-v1 seed 0: solved" in capsys.readouterr().out

"""scripts/train.py and scripts/evaluate.py: every algorithm on the shared run layer — presets, bad
input, exact resume of A2C and PPO (episodes continue across the interruption), a reloaded agent
acting identically in a fresh process, evaluate.py repeating the final evaluation, and smoke runs
on Box2D and MuJoCo."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from run_comparison import assert_same_training_state, progress_without_wall_time, summary_without_wall_time
from script_modules import load_script

from ascentrl.agents import A2C, PPO
from ascentrl.checkpoints import load_checkpoint

INTERRUPTED_AT = 3
RUNS = {
    # Discrete actions, observation and reward normalization, linear learning-rate decay, episodes
    # in progress at the interruption.
    "ppo": ["--algo", "ppo", "--env", "CartPole-v1", "--preset", "none", "--num-envs", "4", "--num-steps", "64",
            "--minibatches", "4", "--epochs", "2", "--normalize-observations", "--normalize-rewards",
            "--lr-schedule", "linear", "--total-steps", "1536", "--target-return", "1e9", "--eval-episodes", "3"],
    # Box actions squashed by tanh, RMSprop, shared trunk.
    "a2c": ["--algo", "a2c", "--env", "Pendulum-v1", "--preset", "none", "--num-envs", "4", "--num-steps", "8",
            "--action-bound", "squash", "--shared-trunk", "--normalize-observations", "--total-steps", "640",
            "--eval-episodes", "2"],
}
COMMON = ["--checkpoint-every", "2", "--no-progress-bar"]


@pytest.fixture(scope="module")
def train():
    return load_script("train")


@pytest.fixture(scope="module")
def evaluate():
    return load_script("evaluate")


@pytest.fixture(scope="module")
def uninterrupted(train, tmp_path_factory) -> dict[str, Path]:
    folders = {}
    for algo, arguments in RUNS.items():
        folders[algo] = tmp_path_factory.mktemp(f"uninterrupted-{algo}")
        EXIT_CODES[algo] = train.main([*arguments, *COMMON, "--out", str(folders[algo])])
    return folders


EXIT_CODES: dict[str, int] = {}
"""What the uninterrupted runs exited with: 1 for the unreachable CartPole target, 0 for Pendulum
(no registered threshold, so no target)."""


@pytest.mark.parametrize("algo", list(RUNS))
def test_an_interrupted_and_resumed_run_ends_exactly_like_the_uninterrupted_one(
        train, uninterrupted, tmp_path, monkeypatch, capsys, algo):
    learner_class = {"ppo": PPO, "a2c": A2C}[algo]
    original = learner_class.update

    def update_after_a_signal(self, batch):
        if self.iterations == INTERRUPTED_AT:
            signal.raise_signal(signal.SIGINT)
        return original(self, batch)

    monkeypatch.setattr(learner_class, "update", update_after_a_signal)
    assert train.main([*RUNS[algo], *COMMON, "--out", str(tmp_path)]) == 130
    monkeypatch.undo()
    assert f"SIGINT: stopped after iteration {INTERRUPTED_AT}" in capsys.readouterr().out
    saved = load_checkpoint(tmp_path / "checkpoint.pt", learner_class.__name__)
    assert any(len(actions) for actions in saved["episodes_in_progress"]["actions"])  # episodes mid-way
    assert EXIT_CODES == {"ppo": 1, "a2c": 0}
    assert train.main(["--resume", str(tmp_path / "checkpoint.pt"), "--no-progress-bar"]) == EXIT_CODES[algo]
    truth = uninterrupted[algo]
    assert_same_training_state(load_checkpoint(tmp_path / "checkpoint.pt", learner_class.__name__),
                               load_checkpoint(truth / "checkpoint.pt", learner_class.__name__))
    assert summary_without_wall_time(tmp_path) == summary_without_wall_time(truth)
    assert progress_without_wall_time(tmp_path) == progress_without_wall_time(truth)


def test_progress_holds_every_metric_of_the_update(uninterrupted):
    header = (uninterrupted["ppo"] / "progress.csv").read_text().splitlines()[0].split(",")
    assert header == ["iteration", "env_steps", "episodes", "wall_seconds", "mean_return", "objective",
                      "policy_objective", "value_error", "entropy", "approx_kl", "clip_fraction",
                      "explained_variance", "epochs"]


def test_a_reloaded_agent_acts_identically_in_a_fresh_process(uninterrupted, tmp_path):
    checkpoint = uninterrupted["ppo"] / "checkpoint.pt"
    observations = np.random.default_rng(0).normal(0.0, 1.0, (32, 4)).astype(np.float32)
    np.save(tmp_path / "observations.npy", observations)
    code = (f"import numpy as np; from ascentrl.agents import PPO; agent = PPO.load({str(checkpoint)!r}); "
            f"print(agent.act(np.load({str(tmp_path / 'observations.npy')!r}), deterministic=True).tolist()); "
            f"print(agent.observation_normalizer.moments.count)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    actions, count = result.stdout.strip().splitlines()
    agent = PPO.load(checkpoint)
    assert int(count) == agent.observation_normalizer.moments.count > 0  # the statistics came with it
    assert json.loads(actions) == agent.act(observations, deterministic=True).tolist()
    # Without the saved normalization the same observations would be read differently.
    agent.observation_normalizer.enabled = False
    assert json.loads(actions) != agent.act(observations * 10, deterministic=True).tolist()
    agent.close()


@pytest.mark.parametrize("algo", list(RUNS))
def test_evaluate_repeats_the_final_evaluation(evaluate, uninterrupted, capsys, algo):
    assert evaluate.main([str(uninterrupted[algo] / "checkpoint.pt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = json.loads((uninterrupted[algo] / "summary.json").read_text())
    assert result["mean_return"] == summary["eval_mean_return"]
    assert result["episodes"] == int(RUNS[algo][RUNS[algo].index("--eval-episodes") + 1])
    assert result["std_return"] == pytest.approx(float(np.std(result["returns"])))


def test_evaluate_writes_a_gif_of_one_episode(evaluate, uninterrupted, tmp_path, capsys):
    assert evaluate.main([str(uninterrupted["ppo"] / "checkpoint.pt"), "--episodes", "1",
                          "--video", str(tmp_path / "episode.gif")]) == 0
    assert (tmp_path / "episode.gif").read_bytes().startswith(b"GIF89a")
    assert f"wrote {tmp_path / 'episode.gif'}" in capsys.readouterr().out


def test_a_preset_is_announced_and_options_override_it(train, tmp_path, capsys):
    assert train.main(["--algo", "ppo", "--env", "CartPole-v1", "--total-steps", "256", "--num-envs", "2",
                       "--num-steps", "64", "--target-return", "1e9", "--eval-episodes", "1", "--no-progress-bar",
                       "--out", str(tmp_path)]) == 1
    assert "ppo on CartPole-v1: starting from the tuned preset for CartPole-v1" in capsys.readouterr().out
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["num_envs"] == 2 and config["config"]["num_steps"] == 64  # given: override
    assert config["config"]["epochs"] == 20 and config["config"]["gae_lambda"] == 0.8  # from the preset


@pytest.mark.parametrize("argv, fragment", [
    (["--env", "CartPole-v1"], "--algo is required: one of a2c, ppo, reinforce"),
    (["--algo", "dqn"], "argument --algo: invalid choice: 'dqn'"),
    (["--algo", "ppo", "--env", "NoSuchEnv-v0"], "unknown Gymnasium environment id 'NoSuchEnv-v0'"),
    (["--algo", "ppo", "--preset", "Pong-v5"], "--preset Pong-v5: there is no ppo preset for it"),
    (["--algo", "ppo", "--no-such-option", "3"], "unrecognized arguments: --no-such-option"),
    (["--algo", "ppo", "--total-steps", "0"], "--total-steps must be a positive integer"),
    (["--algo", "ppo", "--preset", "none", "--num-envs", "3", "--num-steps", "10", "--minibatches", "4"],
     "minibatches must divide num_envs x num_steps = 30, got 4"),
    (["--algo", "a2c", "--num-steps", "0"], "num_steps must be a positive integer"),
    (["--algo", "ppo", "--env", "Blackjack-v1"], "observation space Tuple("),
    (["--algo", "ppo", "--env", "AscentrlTrainTest/MissingMujoco-v0"], "pip install 'ascentrl[mujoco]'"),
])
def test_bad_input_is_one_line_and_exit_2(train, capsys, argv, fragment):
    import gymnasium as gym

    if "AscentrlTrainTest/MissingMujoco-v0" not in gym.registry:
        gym.register("AscentrlTrainTest/MissingMujoco-v0", "mujoco_not_installed_here:Env", max_episode_steps=5)
    with pytest.raises(SystemExit) as exited:
        train.main([*argv, "--no-progress-bar"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], captured.err
    assert captured.out == ""


@pytest.mark.parametrize("env", ["LunarLander-v3", "HalfCheetah-v5"])
def test_smoke_runs_on_box2d_and_mujoco(train, tmp_path, env):
    assert train.main(["--algo", "ppo", "--env", env, "--num-envs", "2", "--num-steps", "128", "--minibatches", "4",
                       "--epochs", "2", "--total-steps", "512", "--eval-episodes", "1", "--max-episode-steps", "200",
                       "--no-progress-bar", "--out", str(tmp_path)]) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["env"] == env and summary["env_steps"] == 512 and np.isfinite(summary["eval_mean_return"])
    rows = (tmp_path / "progress.csv").read_text().splitlines()
    assert len(rows) == 3 and "nan" not in rows[-1]

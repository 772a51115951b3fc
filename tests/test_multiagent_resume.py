"""Multi-agent runs that lose nothing: interrupt, resume, non-finite values and bad input.

The central claim: for the same seed, a CPU run of scripts/train_multiagent.py that is interrupted
(SIGINT/SIGTERM) and resumed from its checkpoint ends with the same parameters, optimizer states,
dynamics memory and generator, bit for bit, and the same summary.json and progress.csv numbers (wall
time aside) as the run that was never interrupted. The uninterrupted run is the truth.
"""

from __future__ import annotations

import importlib.util
import math
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pettingzoo
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv
from run_comparison import (
    assert_same_training_state,
    progress_without_wall_time,
    summary_without_wall_time,
    tensors_of,
)

from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.checkpoints import load_checkpoint
from ascentrl.games import DYNAMICS
from ascentrl.training import NonFiniteUpdateError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_multiagent.py"
KIND = "MultiAgentReinforce"
INTERRUPTED_AT = 3
COMMON = ["--num-envs", "32", "--iterations", "8", "--checkpoint-every", "2", "--seed", "3", "--no-progress-bar"]
RUNS = {
    # LOLA differentiates through the opponent's step; linear learning-rate decay.
    "lola": ["--method", "lola", "--env", "matching_pennies"],
    # The optimistic step uses the previous gradient: the dynamics' own memory must be restored.
    "optimistic": ["--method", "optimistic", "--env", "rock_paper_scissors", "--lr-schedule", "constant",
                   "--ascent", '{"momentum": 0.5}'],
    # Popov's two step sizes (the look-ahead gradient is the memory) under the inverse-time schedule.
    "two-step": ["--method", "optimistic", "--env", "rock_paper_scissors", "--lr", "1.0", "--lr-schedule", "inverse",
                 "--lr-time-scale", "3", "--dynamics-options", '{"extrapolation_lr": 1.5}'],
    # Observation-reading networks over three-round episodes, each agent with Adam's moments.
    "independent": ["--method", "independent", "--env", "rock_paper_scissors", "--episode-length", "3",
                    "--no-memoryless", "--lr", "0.05", "--ascent", '{"adaptive": "adam"}'],
}


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_multiagent_resumed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def uninterrupted(script, tmp_path_factory):
    """method -> the folder of the run that was never stopped."""
    folders = {}
    for method, arguments in RUNS.items():
        folders[method] = tmp_path_factory.mktemp(f"uninterrupted-{method}")
        assert script.main([*COMMON, *arguments, "--out", str(folders[method])]) == 0
    return folders


def assert_same_run(folder: Path, truth: Path) -> None:
    assert_same_training_state(load_checkpoint(folder / "checkpoint.pt", KIND),
                               load_checkpoint(truth / "checkpoint.pt", KIND))
    assert summary_without_wall_time(folder) == summary_without_wall_time(truth)
    assert progress_without_wall_time(folder) == progress_without_wall_time(truth)


# ---------------------------------------------------------------------- the script, interrupted
@pytest.mark.parametrize("method, signal_number, exit_code", [
    ("lola", signal.SIGINT, 130),
    ("optimistic", signal.SIGINT, 130),
    ("independent", signal.SIGINT, 130),
    ("optimistic", signal.SIGTERM, 143),
    ("two-step", signal.SIGINT, 130),
], ids=["lola-SIGINT", "optimistic-SIGINT", "independent-SIGINT", "optimistic-SIGTERM", "two-step-SIGINT"])
def test_a_signalled_and_resumed_run_ends_exactly_like_the_uninterrupted_one(
        script, uninterrupted, tmp_path, monkeypatch, capsys, method, signal_number, exit_code):
    handlers_before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    original_update = MultiAgentReinforce.update

    def update_after_a_signal(self, batch):
        if self.iterations == INTERRUPTED_AT:
            signal.raise_signal(signal_number)  # arrives mid-iteration; the update must still finish
        return original_update(self, batch)

    monkeypatch.setattr(MultiAgentReinforce, "update", update_after_a_signal)
    assert script.main([*COMMON, *RUNS[method], "--out", str(tmp_path)]) == exit_code
    monkeypatch.undo()
    assert {number: signal.getsignal(number) for number in handlers_before} == handlers_before
    printed = capsys.readouterr().out
    checkpoint = tmp_path / "checkpoint.pt"
    assert f"{signal_number.name}: stopped after iteration {INTERRUPTED_AT}" in printed
    assert f"--resume {checkpoint}" in printed
    assert not (tmp_path / "summary.json").exists()
    saved = load_checkpoint(checkpoint, KIND)
    assert saved["iterations"] == INTERRUPTED_AT and saved["training_run"]["history"]["interrupted"]
    if method in ("optimistic", "two-step"):  # the memory is there, one tensor per parameter of each agent
        assert len(saved["dynamics_memory"]["previous_gradients"]) == 2
    if method == "two-step":  # the interrupted schedule, three steps into lr / (1 + t/3)
        assert saved["training_run"]["scheduler_states"][0]["last_epoch"] == INTERRUPTED_AT
        assert saved["player_0 policy optimizer"]["param_groups"][0]["lr"] == 1.0 / (1 + INTERRUPTED_AT / 3)

    assert script.main(["--resume", str(checkpoint), "--no-progress-bar"]) == 0
    assert_same_run(tmp_path, uninterrupted[method])


def test_without_out_the_interrupted_run_is_saved_in_a_named_folder_and_resumes_there(
        script, uninterrupted, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    original_update = MultiAgentReinforce.update

    def update_after_a_signal(self, batch):
        if self.iterations == INTERRUPTED_AT:
            signal.raise_signal(signal.SIGTERM)
        return original_update(self, batch)

    with monkeypatch.context() as patched:
        patched.setattr(MultiAgentReinforce, "update", update_after_a_signal)
        assert script.main([*COMMON, *RUNS["lola"]]) == 143
    checkpoint = Path("matching_pennies-lola-seed3-interrupted") / "checkpoint.pt"
    assert f"--resume {checkpoint}" in capsys.readouterr().out
    assert script.main(["--resume", str(checkpoint), "--no-progress-bar"]) == 0
    assert_same_run(tmp_path / checkpoint.parent, uninterrupted["lola"])


def test_sigint_to_a_real_process_then_resume_matches_the_uninterrupted_run(script, tmp_path):
    # Long enough (about a second of training) that the signal lands while it trains.
    arguments = ["--method", "optimistic", "--env", "matching_pennies", "--num-envs", "64", "--iterations", "150",
                 "--seed", "5", "--checkpoint-every", "1000"]
    process = subprocess.Popen([sys.executable, str(SCRIPT), *arguments, "--out", str(tmp_path / "stopped")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # The progress bar appears on stderr once the handlers are installed and training starts.
        ready, _, _ = select.select([process.stderr], [], [], 120)
        assert ready, "the script never started training"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr.decode()[-2000:]
    checkpoint = tmp_path / "stopped" / "checkpoint.pt"
    assert "SIGINT: stopped after iteration" in stdout.decode() and f"--resume {checkpoint}" in stdout.decode()
    assert "Traceback" not in stderr.decode()
    saved = load_checkpoint(checkpoint, KIND)
    assert 1 <= saved["iterations"] < 150 and not saved["training_run"]["finished"]

    assert script.main(["--resume", str(checkpoint), "--no-progress-bar"]) == 0
    assert script.main([*arguments, "--no-progress-bar", "--out", str(tmp_path / "truth")]) == 0
    assert_same_run(tmp_path / "stopped", tmp_path / "truth")


def test_the_script_repeats_itself_for_a_seed_and_differs_across_seeds(script, uninterrupted, tmp_path):
    for method, arguments in RUNS.items():
        assert script.main([*COMMON, *arguments, "--out", str(tmp_path / method)]) == 0
        assert_same_run(tmp_path / method, uninterrupted[method])
        assert script.main([*COMMON, *arguments, "--seed", "4", "--out", str(tmp_path / f"{method}-4")]) == 0
        other = load_checkpoint(tmp_path / f"{method}-4" / "checkpoint.pt", KIND)
        truth = load_checkpoint(uninterrupted[method] / "checkpoint.pt", KIND)
        policies = sorted(key for key in truth if key.endswith(" policy"))
        assert policies and not all(torch.equal(mine, theirs) for (_, mine), (_, theirs) in zip(
            tensors_of([other[key] for key in policies]), tensors_of([truth[key] for key in policies]))), method
        assert progress_without_wall_time(tmp_path / f"{method}-4") != progress_without_wall_time(uninterrupted[method])


# ------------------------------------------------------------------------ env randomness, library
NOISY_ENV_ID = "ascentrl_test/noisy-coordination-v0"


class NoisyCoordinationEnv(ParallelEnv):
    """Two agents paid 1 for choosing the same action, plus N(0, 1) noise from the env's own
    generator, over three rounds; observation: the round. A reset without a seed continues the
    generator, so a resumed run that did not reseed its envs would see other rewards."""

    metadata = {"name": "noisy_coordination_v0", "is_parallelizable": True}

    def __init__(self) -> None:
        self.possible_agents = ["player_0", "player_1"]
        self.agents: list[str] = []
        self._observation_space = spaces.Box(0.0, 3.0, (1,), np.float32)
        self._action_space = spaces.Discrete(2)
        self._generator = np.random.default_rng()
        self._round = 0

    def observation_space(self, agent):
        return self._observation_space

    def action_space(self, agent):
        return self._action_space

    def _observations(self) -> dict:
        return {agent: np.array([self._round], np.float32) for agent in self.agents}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._generator = np.random.default_rng(seed)
        self.agents, self._round = list(self.possible_agents), 0
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions):
        self._round += 1
        agree = float(actions["player_0"] == actions["player_1"])
        rewards = {agent: agree + float(self._generator.normal()) for agent in self.agents}
        over = self._round >= 3
        terminations = {agent: over for agent in self.agents}
        truncations = {agent: False for agent in self.agents}
        infos = {agent: {} for agent in self.agents}
        observations = self._observations()
        if over:
            self.agents = []
        return observations, rewards, terminations, truncations, infos


if NOISY_ENV_ID not in pettingzoo.parallel_registry:
    pettingzoo.register("parallel", NOISY_ENV_ID, entry_point=NoisyCoordinationEnv)


@pytest.mark.parametrize("method", ["independent", "optimistic", "shared"])
def test_resume_training_reproduces_a_run_on_an_env_with_its_own_randomness(tmp_path, method):
    config = MultiAgentConfig(env=NOISY_ENV_ID, method=method, num_envs=8, seed=1, lr=0.05, hidden_sizes=(8,),
                              ascent={"adaptive": "adam"} if method != "optimistic" else {})
    truth = MultiAgentReinforce(config)
    expected = truth.train(6)
    stopped = MultiAgentReinforce(config)
    stopped.train(6, checkpoint_path=tmp_path / "run.pt", should_stop=lambda: stopped.iterations == 2)
    assert stopped.training_run.history.interrupted and stopped.last_checkpoint == (str(tmp_path / "run.pt"), 2)
    resumed = MultiAgentReinforce.load(tmp_path / "run.pt", restore_global_rng=True)
    history = resumed.resume_training()

    for policy, other in zip(truth.policies, resumed.policies, strict=True):
        for (name, tensor), (_, theirs) in zip(policy.state_dict().items(), other.state_dict().items()):
            assert torch.equal(tensor, theirs), name
    returns = [record.mean_returns for record in expected.records]
    assert [record.mean_returns for record in history.records] == returns
    assert (history.env_steps, history.agent_steps, history.episodes) == (
        expected.env_steps, expected.agent_steps, expected.episodes)
    assert len(set(map(str, returns))) == len(returns)  # the noise differs from rollout to rollout

    other_seed = MultiAgentReinforce(MultiAgentConfig(**{**vars(config), "seed": 2}))
    assert [record.mean_returns for record in other_seed.train(6).records] != returns
    for learners in (truth, stopped, resumed, other_seed):
        learners.close()


@pytest.mark.parametrize("method", sorted(DYNAMICS))
def test_dynamics_memory_lists_every_attribute_a_step_changes(method):
    learners = MultiAgentReinforce(MultiAgentConfig(method=method, num_envs=8, lr_schedule="constant"))
    before = dict(vars(learners.dynamics))
    learners.train(2)
    changed = {name for name, value in vars(learners.dynamics).items() if before.get(name, object()) is not value}
    assert changed == set(learners.dynamics._memory.values())
    learners.close()


# ------------------------------------------------------------------------------ non-finite values
def poison_iteration(monkeypatch, iteration: int, where: str) -> None:
    """Make the log-probabilities of ``iteration`` NaN, or give only player_1 an infinite gradient."""
    original = MultiAgentReinforce.log_probs

    def poisoned(self, batch):
        log_probs, entropy = original(self, batch)
        if self.iterations != iteration:
            return log_probs, entropy
        if where == "objective":
            return log_probs * math.nan, entropy
        # sqrt(u) at u = 0 adds 0 to the value but an infinite slope, in player_1's parameters only.
        bias = list(self.policies[1].parameters())[-1]  # a memoryless policy's weight is empty
        return torch.cat((log_probs[:1], log_probs[1:] + torch.sqrt((bias - bias.detach()).sum()))), entropy

    monkeypatch.setattr(MultiAgentReinforce, "log_probs", poisoned)


def learning_state(learners: MultiAgentReinforce) -> list[torch.Tensor]:
    tensors = [tensor.clone() for policy in learners.policies for tensor in policy.state_dict().values()]
    return tensors + [tensor.clone() for _, tensor in tensors_of([o.state_dict() for o in learners.optimizers])]


@pytest.mark.parametrize("method, where, problem", [
    ("simultaneous", "gradient", "the player_1 policy's gradient holds"),
    ("lola", "objective", "the player_0 objective is nan"),
    ("independent", "gradient", "the player_1 policy's gradient holds"),
    ("shared", "objective", "the player_0 objective is nan"),
])
def test_a_nan_stops_training_naming_the_iteration_and_undoes_the_update(tmp_path, monkeypatch, method, where,
                                                                          problem):
    # Momentum gives the optimizers a state that a half-applied update would have changed too.
    learners = MultiAgentReinforce(MultiAgentConfig(method=method, num_envs=8, ascent={"momentum": 0.9}))
    poison_iteration(monkeypatch, 3, where)
    states = []
    with pytest.raises(NonFiniteUpdateError) as caught:
        learners.train(10, checkpoint_path=tmp_path / "run.pt", checkpoint_every=2,
                       on_update=lambda record: states.append(learning_state(learners)))
    message = str(caught.value)
    assert message.startswith(f"iteration 3: {problem}")
    assert "not applied" in message and f"{tmp_path / 'run.pt'} (iteration 2)" in message
    # Simultaneous steps player_0 before player_1's bad direction turns up: undone as well.
    assert all(torch.equal(now, then) for now, then in zip(learning_state(learners), states[-1], strict=True))
    assert load_checkpoint(tmp_path / "run.pt", KIND)["iterations"] == 2
    learners.close()


def test_on_nonfinite_skip_skips_only_the_poisoned_update(monkeypatch):
    learners = MultiAgentReinforce(MultiAgentConfig(method="optimistic", num_envs=8, on_nonfinite="skip"))
    poison_iteration(monkeypatch, 3, "gradient")
    snapshots = []
    history = learners.train(5, on_update=lambda record: snapshots.append(learning_state(learners)))
    assert history.skipped_iterations == [3] and len(snapshots) == 5
    assert all(torch.equal(a, b) for a, b in zip(snapshots[1], snapshots[2]))  # iteration 3 skipped
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[2], snapshots[3]))  # 4 learned again
    assert all(bool(torch.isfinite(tensor).all()) for tensor in snapshots[-1])
    learners.close()


def test_the_script_exits_3_with_one_line_on_a_nan_and_the_last_good_checkpoint_resumes(
        script, tmp_path, monkeypatch, capsys):
    arguments = ["--method", "lola", "--num-envs", "8", "--iterations", "10", "--checkpoint-every", "1",
                 "--no-progress-bar"]
    with monkeypatch.context() as patched:
        poison_iteration(patched, 3, "objective")
        code = script.main([*arguments, "--out", str(tmp_path / "failed")])
    error = capsys.readouterr().err.strip()
    assert code == 3
    assert error.count("\n") == 0 and "iteration 3: the player_0 objective is nan" in error
    checkpoint = tmp_path / "failed" / "checkpoint.pt"
    assert f"{checkpoint} (iteration 2)" in error
    assert load_checkpoint(checkpoint, KIND)["iterations"] == 2
    # Once the cause is gone, the periodic checkpoint continues the run as if nothing had happened.
    assert script.main(["--resume", str(checkpoint), "--no-progress-bar"]) == 0
    assert script.main([*arguments, "--out", str(tmp_path / "clean")]) == 0
    assert_same_run(tmp_path / "failed", tmp_path / "clean")


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("arguments, fragment", [
    (["--resume", "{tmp}/absent.pt"], "no such checkpoint file"),
    (["--resume", "{tmp}"], "is a folder, not a checkpoint file"),
    (["--resume", "{finished}"], "already finished"),
    (["--resume", "{finished}", "--lr", "0.1", "--iterations", "5"], "drop --iterations, --lr"),
    (["--resume", "{tmp}/foreign.pt"], "not an ascentrl checkpoint"),
    (["--resume", "{tmp}/truncated.pt"], "truncated"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be a positive integer"),
    (["--on-nonfinite", "ignore"], "invalid choice"),
])
def test_bad_options_exit_2_with_one_line(script, uninterrupted, tmp_path, capsys, arguments, fragment):
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    finished = uninterrupted["lola"] / "checkpoint.pt"
    (tmp_path / "truncated.pt").write_bytes(finished.read_bytes()[:300])
    argv = [argument.format(tmp=tmp_path, finished=finished) for argument in arguments]
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert error.count("\n") == 1 and fragment in error, error


def test_library_arguments_are_checked_up_front(tmp_path):
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        MultiAgentConfig(on_nonfinite="ignore")
    learners = MultiAgentReinforce(MultiAgentConfig(num_envs=2))
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        learners.train(3, checkpoint_path=tmp_path / "x.pt", checkpoint_every=0)
    with pytest.raises(ValueError, match="checkpoint_every needs a checkpoint_path"):
        learners.train(3, checkpoint_every=5)
    with pytest.raises(ValueError, match="no training run to continue"):
        learners.resume_training()
    assert learners.iterations == 0  # nothing ran
    learners.train(1)
    with pytest.raises(ValueError, match="already finished"):
        learners.resume_training()
    learners.close()

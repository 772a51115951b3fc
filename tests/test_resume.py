"""Runs that lose nothing: interrupt, resume, non-finite values and bad input.

The central claim: for the same seed, a CPU run that is interrupted (SIGINT/SIGTERM) and resumed
from its checkpoint ends with the same parameters, bit for bit, and the same summary numbers (wall
time aside) as the run that was never interrupted. The uninterrupted run is the truth.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from run_comparison import (
    assert_same_training_state,
    progress_without_wall_time,
    without_wall_time,
)

import ascentrl.interrupts
from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.checkpoints import load_checkpoint
from ascentrl.interrupts import StopOnSignals
from ascentrl.training import NonFiniteUpdateError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_cartpole.py"
# About eight iterations; the solve check (mean of the last 100 episodes >= 130) first runs an
# evaluation around iteration 6, after the interruption at iteration 4.
SMALL_RUN = ["--num-envs", "16", "--total-steps", "30000", "--target-return", "130", "--eval-episodes", "5",
             "--checkpoint-every", "3", "--no-progress-bar"]
INTERRUPTED_AT = 4


@pytest.fixture(scope="module")
def train_cartpole():
    spec = importlib.util.spec_from_file_location("train_cartpole", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def uninterrupted(train_cartpole, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    code = train_cartpole.main([*SMALL_RUN, "--out", str(folder)])
    return code, folder


# ---------------------------------------------------------------------------- the script, in process
@pytest.mark.parametrize("signal_number, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signalled_and_resumed_run_ends_exactly_like_the_uninterrupted_one(
        train_cartpole, uninterrupted, tmp_path, monkeypatch, capsys, signal_number, exit_code):
    expected_code, expected_folder = uninterrupted
    handlers_before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    original_update = Reinforce.update

    def update_after_a_signal(self, batch):
        if self.iterations == INTERRUPTED_AT:
            signal.raise_signal(signal_number)  # arrives mid-iteration; the update must still finish
        return original_update(self, batch)

    monkeypatch.setattr(Reinforce, "update", update_after_a_signal)
    assert train_cartpole.main([*SMALL_RUN, "--out", str(tmp_path)]) == exit_code
    monkeypatch.undo()
    assert {number: signal.getsignal(number) for number in handlers_before} == handlers_before
    printed = capsys.readouterr().out
    checkpoint = tmp_path / "checkpoint.pt"
    assert f"{signal_number.name}: stopped after iteration {INTERRUPTED_AT}" in printed
    assert f"--resume {checkpoint}" in printed
    assert not (tmp_path / "summary.json").exists()
    saved = load_checkpoint(checkpoint, "Reinforce")
    assert saved["iterations"] == INTERRUPTED_AT and saved["training_run"]["history"]["interrupted"]

    assert train_cartpole.main(["--resume", str(checkpoint), "--no-progress-bar"]) == expected_code
    final = load_checkpoint(checkpoint, "Reinforce")
    truth = load_checkpoint(expected_folder / "checkpoint.pt", "Reinforce")
    assert_same_training_state(final, truth)
    summary = json.loads((tmp_path / "summary.json").read_text())
    expected_summary = json.loads((expected_folder / "summary.json").read_text())
    assert summary.pop("wall_seconds") > 0
    expected_summary.pop("wall_seconds")
    assert summary == expected_summary
    assert progress_without_wall_time(tmp_path) == progress_without_wall_time(expected_folder)
    history, expected_history = final["training_run"]["history"], truth["training_run"]["history"]
    assert history["evaluations"] == expected_history["evaluations"]
    assert without_wall_time(history["records"]) == without_wall_time(expected_history["records"])


def test_sigint_to_a_real_process_writes_a_resumable_checkpoint_and_exits_130(tmp_path):
    command = [sys.executable, str(SCRIPT), "--num-envs", "8", "--total-steps", "100000000",
               "--target-return", "1e9", "--out", str(tmp_path), "--checkpoint-every", "100000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # The progress bar appears on stderr once the handlers are installed and training starts.
        ready, _, _ = select.select([process.stderr], [], [], 120)
        assert ready, "the script never started training"
        os.read(process.stderr.fileno(), 4096)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr.decode()[-2000:]
    output = stdout.decode()
    assert "SIGINT: stopped after iteration" in output and f"--resume {tmp_path / 'checkpoint.pt'}" in output
    assert "Traceback" not in stderr.decode()
    agent = Reinforce.load(tmp_path / "checkpoint.pt")
    assert agent.iterations >= 1 and agent.training_run.history.interrupted
    assert not agent.training_run.finished and len(agent.training_run.history.records) == agent.iterations


# ---------------------------------------------------------------------------------- the library
@pytest.mark.parametrize("config", [
    ReinforceConfig(num_envs=6, seed=2, baseline="value", entropy_coef=0.01),
    ReinforceConfig(env="Pendulum-v1", num_envs=3, seed=1, max_grad_norm=1.0),
], ids=["cartpole-value-baseline", "pendulum-gaussian"])
def test_resume_training_reproduces_the_uninterrupted_run(config, tmp_path):
    budget = 3000
    truth = Reinforce(config)
    expected = truth.train(budget, eval_episodes=2)

    stopped = Reinforce(config)
    stopped.train(budget, eval_episodes=2, checkpoint_path=tmp_path / "run.pt",
                  should_stop=lambda: stopped.iterations == 2)
    assert stopped.training_run.history.interrupted and stopped.last_checkpoint == (str(tmp_path / "run.pt"), 2)
    resumed = Reinforce.load(tmp_path / "run.pt", restore_global_rng=True)
    history = resumed.resume_training()

    for (name, tensor), (_, other) in zip(truth.policy.state_dict().items(), resumed.policy.state_dict().items()):
        assert torch.equal(tensor, other), name
    if truth.value is not None:
        for (name, tensor), (_, other) in zip(truth.value.state_dict().items(), resumed.value.state_dict().items()):
            assert torch.equal(tensor, other), name
    assert (history.env_steps, history.episodes, history.eval_mean_return, history.solved) == (
        expected.env_steps, expected.episodes, expected.eval_mean_return, expected.solved)
    assert [(r.iteration, r.env_steps, r.mean_return, r.objective) for r in history.records] == [
        (r.iteration, r.env_steps, r.mean_return, r.objective) for r in expected.records]

    other_seed = Reinforce(ReinforceConfig(**{**vars(config), "seed": config.seed + 1}))
    other_seed.train(budget, eval_episodes=2)
    assert not torch.equal(other_seed.policy.state_dict()[next(iter(truth.policy.state_dict()))],
                           truth.policy.state_dict()[next(iter(truth.policy.state_dict()))])


def poison_iteration(agent: Reinforce, iteration: int, where: str) -> None:
    """Make the update of ``iteration`` see a NaN in the objective or (only) in the gradient."""
    original = agent.policy_objective

    def poisoned(batch, weights):
        objective = original(batch, weights)
        if agent.iterations != iteration:
            return objective
        if where == "objective":
            return objective * math.nan
        # sqrt(u) at u = 0 adds 0 to the value but an infinite slope to the gradient.
        first = next(agent.policy.parameters())
        return objective + torch.sqrt((first - first.detach()).sum())

    agent.policy_objective = poisoned


@pytest.mark.parametrize("where, problem", [("objective", "the policy objective is nan"),
                                            ("gradient", "the policy's gradient holds")])
def test_a_nan_stops_training_naming_the_iteration_and_keeps_the_last_good_checkpoint(tmp_path, where, problem):
    agent = Reinforce(ReinforceConfig(num_envs=4, seed=0))
    poison_iteration(agent, 3, where)
    before = {}
    with pytest.raises(NonFiniteUpdateError) as caught:
        agent.train(100_000, eval_episodes=2, checkpoint_path=tmp_path / "run.pt", checkpoint_every=2,
                    on_update=lambda record: before.update(
                        {name: tensor.clone() for name, tensor in agent.policy.state_dict().items()}))
    message = str(caught.value)
    assert message.startswith(f"iteration 3: {problem}")
    assert "not applied" in message and f"{tmp_path / 'run.pt'} (iteration 2)" in message
    for name, tensor in agent.policy.state_dict().items():
        assert torch.equal(tensor, before[name]), name  # the poisoned update changed nothing
    saved = load_checkpoint(tmp_path / "run.pt", "Reinforce")
    assert saved["iterations"] == 2
    for name, tensor in saved["policy"].items():
        assert torch.equal(tensor, before[name]), name


def test_on_nonfinite_skip_skips_only_the_poisoned_update():
    agent = Reinforce(ReinforceConfig(num_envs=4, seed=0, on_nonfinite="skip"))
    poison_iteration(agent, 3, "objective")
    snapshots = []
    history = agent.train(3000, eval_episodes=2, on_update=lambda record: snapshots.append(
        [tensor.clone() for tensor in agent.policy.parameters()]))
    assert history.skipped_iterations == [3] and len(snapshots) > 4
    assert all(torch.equal(a, b) for a, b in zip(snapshots[1], snapshots[2]))  # iteration 3 skipped
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[2], snapshots[3]))  # 4 learned again
    assert all(bool(torch.isfinite(tensor).all()) for tensor in agent.policy.parameters())
    assert math.isnan(history.records[2].objective)


def test_the_script_exits_3_with_one_line_on_a_nan(train_cartpole, tmp_path, monkeypatch, capsys):
    original = Reinforce.policy_objective

    def nan_at_third_iteration(self, batch, weights):
        objective = original(self, batch, weights)
        return objective * math.nan if self.iterations == 3 else objective

    monkeypatch.setattr(Reinforce, "policy_objective", nan_at_third_iteration)
    code = train_cartpole.main(["--num-envs", "4", "--total-steps", "50000", "--no-progress-bar",
                                "--checkpoint-every", "1", "--out", str(tmp_path)])
    error = capsys.readouterr().err.strip()
    assert code == 3
    assert error.count("\n") == 0 and "iteration 3: the policy objective is nan" in error
    assert f"{tmp_path / 'checkpoint.pt'} (iteration 2)" in error
    assert load_checkpoint(tmp_path / "checkpoint.pt", "Reinforce")["iterations"] == 2


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("arguments, fragment", [
    (["--resume", "{tmp}/absent.pt"], "no such checkpoint file"),
    (["--resume", "{finished}"], "already finished"),
    (["--resume", "{finished}", "--lr", "0.1", "--total-steps", "5"], "drop --lr, --total-steps"),
    (["--resume", "{tmp}/foreign.pt"], "not an ascentrl checkpoint"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be a positive integer"),
    (["--on-nonfinite", "ignore"], "invalid choice"),
])
def test_bad_options_exit_2_with_one_line(train_cartpole, uninterrupted, tmp_path, capsys, arguments, fragment):
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    finished = uninterrupted[1] / "checkpoint.pt"
    argv = [argument.format(tmp=tmp_path, finished=finished) for argument in arguments]
    with pytest.raises(SystemExit) as exit_info:
        train_cartpole.main(argv)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert error.count("\n") == 1 and fragment in error, error


def test_library_arguments_are_checked_up_front(tmp_path):
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        ReinforceConfig(on_nonfinite="ignore")
    agent = Reinforce(ReinforceConfig(num_envs=2))
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        agent.train(100, checkpoint_path=tmp_path / "x.pt", checkpoint_every=0)
    with pytest.raises(ValueError, match="checkpoint_every needs a checkpoint_path"):
        agent.train(100, checkpoint_every=5)
    with pytest.raises(ValueError, match="no training run to continue"):
        agent.resume_training()
    assert agent.env_steps == 0  # nothing ran


# -------------------------------------------------------------------------------- StopOnSignals
def test_stop_on_signals_records_the_first_signal_and_restores_the_handlers():
    previous = signal.getsignal(signal.SIGINT)
    importlib.reload(ascentrl.interrupts)  # importing installs nothing
    assert signal.getsignal(signal.SIGINT) is previous
    with StopOnSignals() as stop:
        assert not stop.requested
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested and stop.signal_name == "SIGTERM" and stop.exit_code == 143
        with pytest.raises(KeyboardInterrupt, match="second SIGINT"):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous
    with pytest.raises(RuntimeError, match="no signal"):
        _ = StopOnSignals().exit_code
    with pytest.raises(ValueError, match="signals"):
        StopOnSignals(signals=())


def test_the_script_repeats_itself_for_a_seed_and_differs_across_seeds(train_cartpole, uninterrupted, tmp_path):
    expected_code, expected_folder = uninterrupted
    truth = load_checkpoint(expected_folder / "checkpoint.pt", "Reinforce")
    assert train_cartpole.main([*SMALL_RUN, "--out", str(tmp_path / "again")]) == expected_code
    assert_same_training_state(load_checkpoint(tmp_path / "again" / "checkpoint.pt", "Reinforce"), truth)
    assert progress_without_wall_time(tmp_path / "again") == progress_without_wall_time(expected_folder)
    train_cartpole.main([*SMALL_RUN, "--seed", "1", "--out", str(tmp_path / "other")])
    other = load_checkpoint(tmp_path / "other" / "checkpoint.pt", "Reinforce")
    assert not all(torch.equal(other["policy"][name], tensor) for name, tensor in truth["policy"].items())
    assert progress_without_wall_time(tmp_path / "other") != progress_without_wall_time(expected_folder)

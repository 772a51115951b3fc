"""Fault injection: a hostile user's probes, each of which once lost work or ended in a traceback.

One test (or parametrized case) per row of the "runs that lose nothing" table: corruption of a
checkpoint at every byte, two runs on one folder, folders that cannot be written, sizes the machine
cannot hold, out-of-range seeds and thread counts, optional dependencies that are missing, hostile
payoff files and plot paths, bench options, and signals during start-up, training, evaluation and
while a checkpoint is being written — the signal tests in real subprocesses. Every refusal must be
one line on stderr with exit code 2, before any work; every stop must leave a checkpoint that
resumes to the uninterrupted run's result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from run_comparison import assert_same_training_state, progress_without_wall_time, summary_without_wall_time
from script_modules import SCRIPTS, load_script

from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.checkpoints import CheckpointError, load_checkpoint
from ascentrl.output_folder import LOCK_NAME, OutputFolder

# Small, quick runs: a few iterations of CartPole with an evaluation of 20 greedy episodes.
SMALL = ["--num-envs", "8", "--total-steps", "3000", "--eval-episodes", "20", "--checkpoint-every", "2",
         "--no-progress-bar"]
# Solved at its first evaluation: the 100-episode window fills at iteration 4 (32 episodes each).
SOLVING = ["--num-envs", "32", "--total-steps", "5000", "--eval-episodes", "20", "--checkpoint-every", "2",
           "--target-return", "15", "--no-progress-bar"]
RUNS = {"unsolved": [*SMALL, "--target-return", "1e9"], "solved": SOLVING}


@pytest.fixture(scope="module")
def train_cartpole():
    return load_script("train_cartpole", "under_fault_injection")


@pytest.fixture(scope="module")
def train_multiagent():
    return load_script("train_multiagent", "under_fault_injection")


@pytest.fixture(scope="module")
def matrix_games():
    return load_script("matrix_games", "under_fault_injection")


def assert_refused(main, argv: list[str], capsys, *fragments: str) -> str:
    """``main(argv)`` exits with code 2 and one line on stderr holding every fragment; nothing printed."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert captured.out == ""
    return lines[0]


# ------------------------------------------------------------------ checkpoint integrity, whole file
@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory) -> bytes:
    """A real Reinforce checkpoint (networks, Adam states, generator, statistics, run history)."""
    folder = tmp_path_factory.mktemp("checkpoint")
    agent = Reinforce(ReinforceConfig(num_envs=4, max_episode_steps=50))
    agent.train(400, eval_episodes=2, checkpoint_path=folder / "checkpoint.pt")
    agent.close()
    return (folder / "checkpoint.pt").read_bytes()


def test_a_flipped_byte_at_every_offset_is_refused_never_loaded(checkpoint_bytes, tmp_path, monkeypatch):
    target = tmp_path / "corrupted.pt"
    target.write_bytes(checkpoint_bytes)
    served = {"data": b""}
    real_read_bytes = Path.read_bytes
    # Every offset, through the real loader, with the file's bytes served from memory (writing
    # 25k files would take minutes); a sample below goes through real files too.
    monkeypatch.setattr(Path, "read_bytes", lambda self: served["data"] if self == target else real_read_bytes(self))
    silent = []
    for offset in range(len(checkpoint_bytes)):
        corrupted = bytearray(checkpoint_bytes)
        corrupted[offset] ^= 0xFF
        served["data"] = bytes(corrupted)
        try:
            load_checkpoint(target, "Reinforce")
        except CheckpointError as error:
            assert str(target) in str(error) and "\n" not in str(error)
        else:
            silent.append(offset)
    assert silent == [], f"{len(silent)} corrupted files loaded silently, e.g. at offsets {silent[:5]}"
    assert len(checkpoint_bytes) > 10_000


def test_corruption_in_the_zip_index_and_elsewhere_is_refused_through_real_files(checkpoint_bytes, tmp_path):
    with zipfile.ZipFile(tmp_path / "unused.zip", "w"):
        pass
    end = checkpoint_bytes.rfind(b"PK\x05\x06")
    index = checkpoint_bytes.rfind(b"PK\x01\x02", 0, end)  # the last central-directory entry
    offsets = sorted({*range(index, index + 46), *range(end, end + 22), *range(0, len(checkpoint_bytes), 499)})
    for offset in offsets:
        corrupted = bytearray(checkpoint_bytes)
        corrupted[offset] = (corrupted[offset] + 1) % 256
        path = tmp_path / "corrupted.pt"
        path.write_bytes(bytes(corrupted))
        with pytest.raises(CheckpointError, match="corrupted|not an ascentrl checkpoint"):
            Reinforce.load(path)


def test_truncated_and_extended_checkpoints_are_refused(checkpoint_bytes, tmp_path):
    path = tmp_path / "cut.pt"
    for length in [*range(0, len(checkpoint_bytes), 97), len(checkpoint_bytes) - 1]:
        path.write_bytes(checkpoint_bytes[:length])
        with pytest.raises(CheckpointError):
            load_checkpoint(path, "Reinforce")
    path.write_bytes(checkpoint_bytes + b"appended")
    with pytest.raises(CheckpointError, match="not an ascentrl checkpoint"):
        load_checkpoint(path, "Reinforce")


def test_a_temporary_file_left_by_a_killed_write_is_removed_with_a_note(train_cartpole, tmp_path, capsys):
    stale = tmp_path / ".checkpoint.pt.k1ll3d_w.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert train_cartpole.main([*SMALL, "--target-return", "1e9", "--out", str(tmp_path)]) == 1
    assert not stale.exists()
    assert f"removed {stale}: a temporary file left by a write that was interrupted" in capsys.readouterr().err
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


# ----------------------------------------------------------------------------------- the output folder
def test_two_runs_on_one_folder_the_second_is_refused_naming_the_first(train_cartpole, tmp_path, capsys):
    first = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "train_cartpole.py"), "--num-envs", "8", "--total-steps", "100000000",
         "--target-return", "1e9", "--checkpoint-every", "1", "--no-progress-bar", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "checkpoint.pt").is_file():  # it is training
            time.sleep(0.05)
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(first.pid)
        assert_refused(train_cartpole.main, ["--total-steps", "1000", "--out", str(tmp_path)], capsys,
                       f"--out {tmp_path}: another run (pid {first.pid}) is writing there")
    finally:
        first.send_signal(signal.SIGTERM)
        _, error = first.communicate(timeout=60)
    assert first.returncode == 143, error
    Reinforce.load(tmp_path / "checkpoint.pt").close()  # the first run's work is there, whole


def test_the_lock_is_exclusive_and_released_when_the_run_ends(tmp_path):
    with OutputFolder(tmp_path):
        with pytest.raises(ValueError, match=rf"another run \(pid {os.getpid()}\)"), OutputFolder(tmp_path):
            pass
    with OutputFolder(tmp_path):  # free again
        pass


@pytest.mark.parametrize("out, fragment", [
    ("/proc/self/ascentrl-run", "cannot write there"),
    ("/sys/kernel", "cannot write there"),
    ("", "--out must name a folder"),
], ids=["cannot-create", "exists-unwritable", "empty"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_training(train_cartpole, capsys, out, fragment):
    if out and not Path(out).parent.exists():
        pytest.skip(f"{out}: no such system folder here")
    if out == "/sys/kernel" and os.access(out, os.W_OK) and _writable(Path(out)):
        pytest.skip("/sys/kernel is writable here")
    started = time.monotonic()
    assert_refused(train_cartpole.main, ["--out", out], capsys, fragment)
    assert time.monotonic() - started < 10  # refused at start-up, not after training


def _writable(folder: Path) -> bool:
    try:
        (folder / ".ascentrl-writable-check").write_bytes(b"")
    except OSError:
        return False
    (folder / ".ascentrl-writable-check").unlink()
    return True


# ------------------------------------------------------------------------ sizes the machine cannot hold
@pytest.mark.parametrize("argv, fragment", [
    (["--num-envs", "1000000000"], "--num-envs 1000000000"),
    (["--max-episode-steps", "1000000000000"], "--max-episode-steps 1000000000000"),
    (["--hidden-sizes", "100000", "100000"], "--hidden-sizes 100000 100000"),
    (["--eval-episodes", "1000000000"], "--eval-episodes 1000000000"),
    (["--torch-threads", "1000000"], "--torch-threads must be at most"),
    (["--seed", "18446744073709551616"], "seed must be below 2**63"),
])
def test_oversized_training_options_are_refused_before_any_work(train_cartpole, capsys, argv, fragment):
    line = assert_refused(train_cartpole.main, argv, capsys, fragment)
    if "memory" in line:
        assert "is available" in line


@pytest.mark.parametrize("argv, fragment", [
    (["--num-envs", "1000000000"], "--num-envs 1000000000"),
    (["--torch-threads", "1000000"], "--torch-threads must be at most"),
    (["--seed", "18446744073709551616"], "seed must be below 2**63"),
    (["--env", "classic/hanabi-v5"], "classic/hanabi-v5 needs an optional dependency"),
])
def test_oversized_or_unavailable_multiagent_options_are_refused(train_multiagent, capsys, argv, fragment):
    assert_refused(train_multiagent.main, argv, capsys, fragment)


def test_a_seed_beyond_numpy_is_refused_by_the_matrix_games_script(matrix_games, capsys):
    assert_refused(matrix_games.main, ["--seed", "18446744073709551616"], capsys, "--seed must be below 2**63")


# --------------------------------------------------------------------------- payoff files and plot paths
def _npy_with_header(path: Path, shape: tuple[int, ...], data: bytes) -> Path:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (117 - len(header)) + "\n"  # 10 + 118 = 128 bytes: a multiple of 64, as numpy writes
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data)
    return path


def test_hostile_payoff_files_are_refused_in_one_line(matrix_games, tmp_path, capsys):
    huge = tmp_path / "huge.npy"
    np.save(huge, np.array([[[1e200, 0.0], [0.0, 1.0]], [[-1e200, 0.0], [0.0, -1.0]]]))
    assert_refused(matrix_games.main, ["--payoffs", str(huge)], capsys, "at most 1e+50 in magnitude", "divide")
    liar = _npy_with_header(tmp_path / "liar.npy", (2, 100000, 100000), bytes(64))
    assert liar.stat().st_size == 192
    assert_refused(matrix_games.main, ["--payoffs", str(liar)], capsys, "promises shape (2, 100000, 100000)",
                   "64 bytes follow it")
    text = tmp_path / "text.npy"
    text.write_text("0 1\n1 0\n")
    line = assert_refused(matrix_games.main, ["--payoffs", str(text)], capsys, "not a .npy file")
    assert "allow_pickle" not in line


def test_the_largest_allowed_payoffs_run_every_dynamics(matrix_games, tmp_path, capsys):
    payoffs = tmp_path / "large.npy"
    np.save(payoffs, 1e50 * np.array([[[1.0, -1.0], [-1.0, 1.0]], [[-1.0, 1.0], [1.0, -1.0]]]))
    for method in ("simultaneous", "sga", "consensus", "lola", "extragradient"):
        assert matrix_games.main(["--payoffs", str(payoffs), "--method", method, "--steps", "20", "--json"]) == 0
        assert all(np.isfinite(value) for value in json.loads(capsys.readouterr().out)["strategies"][0])


@pytest.mark.parametrize("plot, fragment", [
    ("FOLDER", "is a folder"),
    ("FOLDER/trajectory", "give a file name ending in .png"),
    ("/proc/self/ascentrl/trajectory.png", "cannot write there"),
])
def test_bad_plot_paths_are_refused_before_the_run(matrix_games, tmp_path, capsys, plot, fragment):
    assert_refused(matrix_games.main, ["--plot", plot.replace("FOLDER", str(tmp_path))], capsys, fragment)


def test_a_plot_is_written_where_the_message_says(matrix_games, tmp_path, capsys):
    assert matrix_games.main(["--steps", "20", "--plot", str(tmp_path / "run.png")]) == 0
    assert f"plot written to {tmp_path / 'run.png'}" in capsys.readouterr().out
    assert (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("script, argv, fragment", [
    ("bench_escape", ["--starts", "0"], "--starts must be a positive integer, got 0"),
    ("bench_escape", ["--starts", "-5"], "--starts must be a positive integer, got -5"),
    ("bench_escape", ["--starts", "1e13"], "invalid int value: '1e13'"),
    ("bench_escape", ["--starts", "10000000000000"], "--starts 10000000000000: the run needs at least"),
    ("benchmarks", ["--steps", "-3"], "--steps must be a positive integer"),
])
def test_bench_scripts_refuse_bad_counts(script, argv, fragment):
    result = subprocess.run([sys.executable, str(SCRIPTS / f"{script}.py"), *argv], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


# ---------------------------------------------------------------------------------- signals, in every phase
def run_script(arguments: list[str], *, helper: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """``scripts/train_cartpole.py ARGUMENTS`` in a subprocess, after ``helper`` (code that patches it)."""
    code = textwrap.dedent(f"""
        import os, runpy, signal, sys
        {textwrap.indent(textwrap.dedent(helper), "        ").strip()}
        sys.argv = ["train_cartpole.py", *{arguments!r}]
        runpy.run_path({str(SCRIPTS / "train_cartpole.py")!r}, run_name="__main__")
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("delay", [0.2, 0.5, 0.8])
def test_a_signal_during_start_up_is_one_line_and_130(tmp_path, delay):
    # Python is up (the handler is installed first) and importing torch, or building the envs; a
    # signal inside torch's C++ import once aborted through std::terminate when the handler raised.
    process = subprocess.Popen([sys.executable, str(SCRIPTS / "train_cartpole.py"), "--out", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    output, error = process.communicate(timeout=60)
    assert process.returncode == 130, error
    assert "Traceback" not in error and error.strip().splitlines() == [
        "train_cartpole.py: SIGINT before training started; nothing to save"]
    assert not (tmp_path / "checkpoint.pt").exists()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, Path]:
    """The runs the interrupted ones must end like: unsolved (final evaluation), solved (target check)."""
    folders = {}
    for name, arguments in RUNS.items():
        folders[name] = tmp_path_factory.mktemp(name)
        result = run_script([*arguments, "--out", str(folders[name])])
        assert result.returncode == (1 if name == "unsolved" else 0), result.stderr
    return folders


SIGNAL_AT_FIRST_EVALUATION = """
    import ascentrl.agents.gym_learner as gym_learner
    evaluate = gym_learner.GymLearner.evaluate
    def signalled(self, *arguments, **options):
        if not os.environ.get("SIGNALLED"):
            os.environ["SIGNALLED"] = "1"
            os.kill(os.getpid(), signal.SIGTERM)
        return evaluate(self, *arguments, **options)
    gym_learner.GymLearner.evaluate = signalled
"""


@pytest.mark.parametrize("case, exit_code", [("unsolved", 1), ("solved", 0)],
                         ids=["final-evaluation", "target-check-evaluation"])
def test_a_signal_during_an_evaluation_stops_it_checkpoints_and_resumes_exactly(uninterrupted, tmp_path, case,
                                                                                  exit_code):
    result = run_script([*RUNS[case], "--out", str(tmp_path)], helper=SIGNAL_AT_FIRST_EVALUATION)
    assert result.returncode == 143, result.stderr
    assert "SIGTERM: stopped after iteration" in result.stdout
    assert f"--resume {tmp_path / 'checkpoint.pt'}" in result.stdout
    assert not (tmp_path / "summary.json").exists() and "Traceback" not in result.stderr
    saved = load_checkpoint(tmp_path / "checkpoint.pt", "Reinforce")
    assert saved["training_run"]["history"]["evaluations"] == []  # the abandoned evaluation left nothing

    resumed = run_script(["--resume", str(tmp_path / "checkpoint.pt"), "--no-progress-bar"])
    assert resumed.returncode == exit_code, resumed.stderr
    truth = uninterrupted[case]
    assert_same_training_state(load_checkpoint(tmp_path / "checkpoint.pt", "Reinforce"),
                               load_checkpoint(truth / "checkpoint.pt", "Reinforce"))
    assert summary_without_wall_time(tmp_path) == summary_without_wall_time(truth)
    assert progress_without_wall_time(tmp_path) == progress_without_wall_time(truth)


SECOND_SIGNAL_DURING_THE_CHECKPOINT_WRITE = """
    import ascentrl.agents.reinforce as reinforce
    import ascentrl.files as files
    update, write = reinforce.Reinforce.update, files._write_and_replace
    def first_signal(self, batch):
        if self.iterations == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # a stop request: the run will checkpoint at once
        return update(self, batch)
    def second_signal(descriptor, temporary, target, data, binary):
        if target.name == "checkpoint.pt" and os.environ.get("ARMED") != "done":
            os.environ["ARMED"] = "done"
            os.kill(os.getpid(), signal.SIGTERM)  # arrives half way through writing the checkpoint
            os.write(descriptor, data[: len(data) // 2])
            os.lseek(descriptor, 0, os.SEEK_SET)
        return write(descriptor, temporary, target, data, binary)
    reinforce.Reinforce.update = first_signal
    files._write_and_replace = second_signal
"""


def test_a_second_signal_while_the_checkpoint_is_written_finishes_the_write_first(uninterrupted, tmp_path):
    # --checkpoint-every 100: the checkpoint of the stop request is the first one written.
    arguments = [*RUNS["unsolved"], "--checkpoint-every", "100", "--out", str(tmp_path)]
    result = run_script(arguments, helper=SECOND_SIGNAL_DURING_THE_CHECKPOINT_WRITE)
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"train_cartpole.py: second SIGTERM: stopping at once; the last checkpoint is {tmp_path / 'checkpoint.pt'} "
        f"(iteration 3); resume with: python {SCRIPTS / 'train_cartpole.py'} --resume {tmp_path / 'checkpoint.pt'}"]
    assert load_checkpoint(tmp_path / "checkpoint.pt", "Reinforce")["iterations"] == 3  # whole, and loadable
    resumed = run_script(["--resume", str(tmp_path / "checkpoint.pt"), "--no-progress-bar"])
    assert resumed.returncode == 1, resumed.stderr
    assert summary_without_wall_time(tmp_path) == summary_without_wall_time(uninterrupted["unsolved"])

"""scripts/matrix_games.py: its JSON, user payoff files, plots, the comparison table, bad input.

Truths used: the JSON contract of the issue (keys method, steps, last_nash_conv,
average_nash_conv, strategies), NashConv recomputed from the printed strategies with the game's
payoffs, the PNG file signature, and the single-game runs that every row of ``--game all`` must
reproduce.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ascentrl.agents import matrix_players
from ascentrl.envs import MATRIX_GAMES, make_matrix_game
from ascentrl.envs.matrix_games import known_equilibria, load_matrix_game
from ascentrl.games import DYNAMICS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "matrix_games.py"
JSON_KEYS = {"method", "steps", "last_nash_conv", "average_nash_conv", "strategies"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_script():
    spec = importlib.util.spec_from_file_location("matrix_games_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


matrix_games = load_script()


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """The script sets one torch thread for its tiny tensors; give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_json(capsys, *arguments: str):
    assert matrix_games.main([*arguments, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def test_json_of_one_run(capsys):
    result = run_json(capsys, "--game", "matching_pennies", "--method", "optimistic", "--steps", "400")
    assert set(result) == JSON_KEYS
    assert result["method"] == "optimistic" and result["steps"] == 400
    assert result["last_nash_conv"] <= 1e-6
    game = make_matrix_game("matching_pennies")
    strategies = [torch.tensor(p, dtype=torch.float64) for p in result["strategies"]]
    assert float(game.nash_conv(strategies)) == pytest.approx(result["last_nash_conv"], abs=1e-12)
    assert result["strategies"] == [pytest.approx([0.5, 0.5], abs=1e-6)] * 2
    again = run_json(capsys, "--game", "matching_pennies", "--method", "optimistic", "--steps", "400")
    assert again == result  # same seed, same numbers


@pytest.mark.parametrize("method", ["alternating", "sga", "lola"])
def test_autograd_flag_gives_the_closed_forms_numbers(capsys, monkeypatch, method):
    arguments = ("--game", "battle_of_the_sexes", "--method", method, "--steps", "100", "--parameterization", "softmax")
    closed_form = run_json(capsys, *arguments)

    def refuse(*args, **kwargs):
        raise AssertionError("the closed form ran under --autograd")

    monkeypatch.setattr(matrix_players, "ClosedFormDynamics", refuse)
    autograd = run_json(capsys, *arguments, "--autograd")
    for key in ("last_nash_conv", "average_nash_conv"):
        assert closed_form[key] == pytest.approx(autograd[key], abs=1e-12)
    for ours, reference in zip(closed_form["strategies"], autograd["strategies"]):
        assert ours == pytest.approx(reference, abs=1e-12)


def test_lola_looks_ahead_by_the_players_step_size(capsys):
    # With --lr 0.2 as look-ahead LOLA settles on a pure equilibrium of chicken; with the
    # dynamics' default look-ahead 1 it would stop at (straight, straight) (see the dynamics docs).
    result = run_json(capsys, "--game", "chicken", "--method", "lola", "--steps", "200")
    assert result["last_nash_conv"] <= 1e-12
    assert sorted(result["strategies"]) == [pytest.approx([0.0, 1.0], abs=1e-12), pytest.approx([1.0, 0.0], abs=1e-12)]


def test_seed_changes_the_start(capsys):
    first = run_json(capsys, "--game", "rock_paper_scissors", "--method", "simultaneous", "--steps", "5")
    other = run_json(capsys, "--game", "rock_paper_scissors", "--method", "simultaneous", "--steps", "5", "--seed", "1")
    assert first["strategies"] != other["strategies"]


def test_users_payoff_file(tmp_path, capsys):
    path = tmp_path / "dilemma.npy"
    np.save(path, make_matrix_game("prisoners_dilemma").payoffs.numpy())
    result = run_json(capsys, "--payoffs", str(path), "--method", "lola", "--steps", "100")
    assert result["strategies"] == [pytest.approx([0.0, 1.0], abs=1e-12)] * 2  # defect, defect
    assert result["last_nash_conv"] <= 1e-12
    three_players = tmp_path / "pennies.npy"
    np.save(three_players, make_matrix_game("matching_pennies_3p").payoffs.numpy())
    result = run_json(capsys, "--payoffs", str(three_players), "--method", "consensus", "--steps", "50")
    assert len(result["strategies"]) == 3


def test_readable_table(capsys):
    assert matrix_games.main(["--game", "rock_paper_scissors", "--method", "extragradient", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "rock_paper_scissors: extragradient, 20 steps" in out
    assert "NashConv of the last iterate" in out and "NashConv of the time average" in out
    assert "rock" in out and "paper" in out and "scissors" in out


@pytest.mark.parametrize("game", ["matching_pennies", "rock_paper_scissors", "matching_pennies_3p"])
def test_plot_writes_a_png(tmp_path, capsys, game):
    path = tmp_path / "plots" / f"{game}.png"
    assert matrix_games.main(["--game", game, "--method", "simultaneous", "--steps", "30", "--plot", str(path)]) == 0
    assert f"plot written to {path}" in capsys.readouterr().out
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000


def test_plot_marks_the_solved_equilibrium_of_a_users_zero_sum_game(tmp_path, capsys):
    row = np.array([[2.0, -1.0, 0.5], [-1.0, 1.0, 0.0], [0.0, 0.3, -0.4]])
    path = tmp_path / "game.npy"
    np.save(path, np.stack([row, -row]))
    game = load_matrix_game(path)
    (equilibrium,) = known_equilibria(game)
    assert float(game.nash_conv(equilibrium)) <= 1e-6
    plot = tmp_path / "game.png"
    assert matrix_games.main(["--payoffs", str(path), "--steps", "10", "--plot", str(plot), "--json"]) == 0
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_every_method_on_every_game_equals_the_single_runs(capsys):
    rows = run_json(capsys, "--game", "all", "--steps", "40")
    assert [(row["game"], row["method"]) for row in rows] == [(g, m) for g in MATRIX_GAMES for m in DYNAMICS]
    for row in rows:
        if row["game"] == "matching_pennies_3p" and row["method"] == "lola":
            assert row["skipped"] == "lola is defined for two players"
            continue
        assert set(row) == JSON_KEYS | {"game"} and row["steps"] == 40
    for game, method in [("chicken", "sga"), ("shapley", "lola"), ("matching_pennies_3p", "extragradient")]:
        (row,) = [r for r in rows if r["game"] == game and r["method"] == method]
        single = run_json(capsys, "--game", game, "--method", method, "--steps", "40")
        assert row["last_nash_conv"] == pytest.approx(single["last_nash_conv"], abs=1e-12)
        assert row["average_nash_conv"] == pytest.approx(single["average_nash_conv"], abs=1e-12)
        for ours, reference in zip(row["strategies"], single["strategies"]):
            assert ours == pytest.approx(reference, abs=1e-12)


def test_comparison_table(capsys):
    assert matrix_games.main(["--game", "all", "--steps", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("NashConv after 10 steps (last iterate / time average)")
    assert lines[1].split() == ["game", *DYNAMICS]
    assert [line.split()[0] for line in lines[2:]] == list(MATRIX_GAMES)
    assert lines[-1].split()[-1] == "n/a"  # lola on the three-player game


def bad_payoff_files(directory: Path) -> dict[str, Path]:
    files = {"missing": directory / "missing.npy", "text": directory / "text.npy"}
    files["text"].write_text("not an array\n")
    for name, array in {
        "rank": np.zeros((2, 2)),
        "players_axis": np.zeros((3, 2, 2)),
        "nan": np.array([[[np.nan, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]),
    }.items():
        files[name] = directory / f"{name}.npy"
        np.save(files[name], array)
    return files


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--game", "poker"], "--game must be 'all' or one of prisoners_dilemma"),
        (["--method", "fictitious_play"], "--method must be one of simultaneous"),
        (["--steps", "0"], "--steps must be a positive integer"),
        (["--steps", "-5"], "--steps must be a positive integer"),
        (["--steps", "ten"], "expected int"),
        (["--lr", "0"], "--lr must be a finite number > 0"),
        (["--lr", "-0.1"], "--lr must be a finite number > 0"),
        (["--lr", "nan"], "--lr must be a finite number > 0"),
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
        (["--game", "matching_pennies_3p", "--method", "lola"], "lola needs a two-player game"),
        (["--game", "all", "--plot", "x.png"], "--plot draws one game"),
        (["--payoffs", "{missing}"], "cannot read a .npy array"),
        (["--payoffs", "{text}"], "not a .npy file"),
        (["--payoffs", "{rank}"], "must have shape"),
        (["--payoffs", "{players_axis}"], "3 entries on its players axis"),
        (["--payoffs", "{nan}"], "must be finite"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, arguments, message):
    files = bad_payoff_files(tmp_path)
    arguments = [argument.format(**files) for argument in arguments]
    with pytest.raises(SystemExit) as exited:
        matrix_games.main(arguments)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")
    assert message in captured.err


def test_runs_as_a_program():
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--game", "stag_hunt", "--method", "sga", "--steps", "50", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert set(json.loads(completed.stdout)) == JSON_KEYS

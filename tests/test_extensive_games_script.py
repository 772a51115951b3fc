"""scripts/extensive_games.py and the bad input of scripts/bench_extensive_games.py.

Truths used: the JSON contract of issue 12 (keys method, iterations, seconds, last_nash_conv,
average_nash_conv), NashConv recomputed from the written policy file, the stopping rule (the first
iteration whose reported iterate reaches the target), the PNG file signature, and the exit code 2
with one line on stderr for every kind of bad input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from script_modules import SCRIPTS, load_script

from ascentrl.games.extensive import load_policy, make_game, make_solver, nash_conv, sequence_form

JSON_KEYS = {"method", "iterations", "seconds", "last_nash_conv", "average_nash_conv"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


extensive_games = load_script("extensive_games")


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """The script sets one torch thread for its tiny tensors; give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_json(capsys, *arguments: str) -> dict:
    assert extensive_games.main([*arguments, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def test_target_stops_at_the_first_iterate_that_reaches_it(capsys, tmp_path):
    policy_file, plot_file = tmp_path / "policy.json", tmp_path / "curve.png"
    result = run_json(capsys, "--game", "kuhn_poker", "--method", "extragradient", "--target-nash-conv", "1e-6",
                      "--policy-out", str(policy_file), "--plot", str(plot_file))
    assert set(result) == JSON_KEYS and result["method"] == "extragradient"
    assert result["last_nash_conv"] <= 1e-6 and result["seconds"] > 0
    game = make_game("kuhn_poker")
    written = load_policy(policy_file, game)
    assert float(nash_conv(game, sequence_form(game, written))) == pytest.approx(result["last_nash_conv"], abs=1e-12)
    solver = make_solver("extragradient", game)  # the same deterministic run, one iteration shorter
    for _ in range(result["iterations"] - 1):
        solver.step()
    assert solver.nash_conv() > 1e-6
    assert plot_file.read_bytes().startswith(PNG_SIGNATURE)


def test_cfr_plus_reports_and_writes_the_average(capsys, tmp_path):
    policy_file = tmp_path / "average.json"
    result = run_json(capsys, "--game", "leduc_poker", "--method", "cfr_plus", "--iterations", "20",
                      "--policy-out", str(policy_file))
    assert result["iterations"] == 20 and result["average_nash_conv"] < result["last_nash_conv"]
    game = make_game("leduc_poker")
    written = sequence_form(game, load_policy(policy_file, game))
    assert float(nash_conv(game, written)) == pytest.approx(result["average_nash_conv"], abs=1e-12)
    again = run_json(capsys, "--game", "leduc_poker", "--method", "cfr_plus", "--iterations", "20")
    assert {**again, "seconds": None} == {**result, "seconds": None}  # the same numbers, but for the clock


def test_evaluate_policy_prints_its_values(capsys, tmp_path):
    policy_file = tmp_path / "policy.json"
    run_json(capsys, "--game", "kuhn_poker", "--method", "cfr", "--iterations", "5", "--policy-out", str(policy_file))
    result = run_json(capsys, "--game", "kuhn_poker", "--evaluate-policy", str(policy_file))
    game = make_game("kuhn_poker")
    plan = sequence_form(game, load_policy(policy_file, game))
    assert result["nash_conv"] == pytest.approx(float(nash_conv(game, plan)), abs=1e-12)
    assert result["exploitability"] == pytest.approx(result["nash_conv"] / 2, abs=1e-15)


def bad_policy_file(tmp_path: Path, problem: str) -> str:
    game = make_game("kuhn_poker")
    mapping = {key: [0.5, 0.5] for key in game.information_states}
    if problem == "missing":
        del mapping["2pb"]
    elif problem == "extra":
        mapping["3p"] = [0.5, 0.5]
    elif problem == "sum":
        mapping["1"] = [0.5, 0.7]
    path = tmp_path / f"{problem}.json"
    path.write_text(json.dumps(mapping))
    return str(path)


def fails_with_one_line(capsys, main, arguments: list[str]) -> str:
    """Run ``main(arguments)`` in-process; it must exit with code 2 and print one line on stderr only."""
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    return captured.err


@pytest.mark.parametrize(("arguments", "message"), [
    (["--game", "texas_holdem"], "--game must be one of kuhn_poker, leduc_poker"),
    (["--method", "fictitious_play"], "--method must be one of simultaneous, optimistic, extragradient"),
    (["--iterations", "0"], "--iterations must be a positive integer"),
    (["--iterations", "-3"], "--iterations must be a positive integer"),
    (["--iterations", "many"], "expected int for --iterations"),
    (["--target-nash-conv", "0"], "--target-nash-conv must be a finite number > 0"),
    (["--method", "cfr_plus", "--step-size", "0.5"], "apply to simultaneous, optimistic, extragradient, mmd"),
    (["--evaluate-policy", "MISSING"], "missing from the policy, e.g. '2pb'"),
    (["--evaluate-policy", "EXTRA"], "not in kuhn_poker, e.g. '3p'"),
    (["--evaluate-policy", "SUM"], "'1': probabilities sum to 1.2, not 1"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path, arguments, message):
    arguments = [bad_policy_file(tmp_path, argument.lower()) if argument.isupper() else argument
                 for argument in arguments]
    assert message in fails_with_one_line(capsys, extensive_games.main, arguments)


def test_bad_input_exits_2_from_the_command_line():
    completed = subprocess.run([sys.executable, str(SCRIPTS / "extensive_games.py"), "--game", "go"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.strip().splitlines() == [
        "extensive_games.py: error: --game must be one of kuhn_poker, leduc_poker; got 'go'"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--game", "go"], "--game must be one of kuhn_poker, leduc_poker or all"),
    (["--methods", "extragradient", "newton"], "--methods must name one or more of"),
    (["--seconds", "0"], "--seconds must be a finite number > 0"),
])
def test_benchmark_bad_input(capsys, arguments, message):
    assert message in fails_with_one_line(capsys, load_script("bench_extensive_games").main, arguments)

"""scripts/bench_optimizer.py: bad input is one line and exit code 2; a short run prints its figures as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_optimizer.py"


def run_script(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("arguments, option", [
    (["--rounds", "0"], "--rounds"),
    (["--large-rounds", "-3"], "--large-rounds"),
    (["--threads", "two"], "--threads"),
])
def test_bad_input_is_one_line_and_exit_code_2(arguments, option):
    completed = run_script(*arguments)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert len(completed.stderr.strip().splitlines()) == 1 and option in completed.stderr


def test_a_short_run_reports_every_target_with_same_run_ratios():
    completed = run_script("--rounds", "5", "--large-rounds", "1", "--no-modes", "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["threads"] == 1 and "modes" not in report
    rows = {(row["workload"], row["case"]): row for row in report["targets"]}
    assert set(rows) == {(w, c) for w in ("actor-critic", "200x10k") for c in ("adam", "adam+clip_norm")}
    for (workload, _case), row in rows.items():
        assert row["target"] == {"actor-critic": 1.1, "200x10k": 1.2}[workload]
        assert min(row["ascent_us"], row["ascent_unchecked_us"], row["torch_fused_us"], row["torch_foreach_us"]) > 0
        assert row["ratio"] == pytest.approx(row["ascent_us"] / row["torch_fused_us"])
        assert row["ratio_unchecked"] == pytest.approx(row["ascent_unchecked_us"] / row["torch_fused_us"])
        assert row["met"] == (row["ratio"] <= row["target"])

"""scripts/harness/mutation.py's counting: each mutant is killed, equivalent, surviving or not checked, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mutmut")

from harness.mutation import result  # noqa: E402
from harness.mutation_targets import MutationTarget  # noqa: E402


def test_a_recorded_equivalent_is_counted_once_even_when_a_run_reports_it_killed(tmp_path: Path):
    # mutmut's exit codes: 1 killed, 0 survived, 255 timeout (counted as killed), None not checked
    codes = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": 255, "m.x_f__mutmut_4": 0,
             "m.x_f__mutmut_5": None}
    meta = tmp_path / "mutants" / "pkg" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    target = MutationTarget("m", ("pkg/m.py",), ("tests/test_m.py",))
    counted = result(target, tmp_path, equivalents={"m.x_f__mutmut_3", "m.x_f__mutmut_4"})
    assert (counted.total, counted.killed, counted.equivalent, counted.not_checked) == (5, 1, 2, 1)
    assert counted.surviving == ("m.x_f__mutmut_2",)

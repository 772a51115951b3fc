"""Mutation testing of the core math with mutmut 3, one target module at a time.

mutmut copies the code into ``mutants/``, plants every small change it can (an operator swapped,
a constant moved by one, an argument dropped, ...) and runs the tests that reach the changed
function; a mutant no test notices *survives* and points at untested behaviour. Run on the whole
package against the whole suite that takes hours, so each target (:mod:`harness.mutation_targets`)
names the files (and optionally the functions) it mutates and the test files that check them, and
runs in its own work folder ``.mutation/<target>/`` (kept between runs: mutmut re-runs only the
mutants of changed functions).

The work folder is a copy of the project in its *installed* layout: ``agents/`` and ``envs/``
become ``ascentrl/agents/`` and ``ascentrl/envs/``, so a file's path names the module the tests
import (``ascentrl/agents/reinforce.py`` is ``ascentrl.agents.reinforce``), which is how mutmut
maps the functions the tests call to the mutants it made. The shared settings come from
``[tool.mutmut]`` in pyproject.toml; each target adds its ``only_mutate`` files and its tests.

Equivalent mutants are listed with reasons in ``tests/mutation_equivalents.md`` and counted
apart; :mod:`harness.mutation_verification` re-checks the timeouts and crashes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomllib

from harness.mutation_targets import TARGETS, MutationTarget

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.md"
INSTALLED_LAYOUT = {"ascentrl": "ascentrl", "agents": "ascentrl/agents", "envs": "ascentrl/envs"}
"""Source folder of the repository -> its folder in the installed package."""
KILLED = {"killed", "timeout", "segfault"}
"""mutmut statuses that count as caught: a failing test, a test that no longer finishes (mutmut
kills it), or a crash."""


@dataclass(frozen=True)
class TargetResult:
    """The counts of one target's mutants after a run."""

    name: str
    total: int
    killed: int
    equivalent: int
    surviving: tuple[str, ...]
    not_checked: int
    """Mutants a run has not reached yet (an interrupted run); neither killed nor surviving."""

    @property
    def kill_rate(self) -> float:
        """Killed among the mutants that can be killed (all but the recorded equivalents)."""
        killable = self.total - self.equivalent
        return self.killed / killable if killable else 1.0


def select_targets(names: Sequence[str]) -> list[MutationTarget]:
    """The targets named (all of them for an empty list); raises ``ValueError`` on an unknown name."""
    known = {target.name: target for target in TARGETS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"--targets: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known[name] for name in names] if names else list(TARGETS)


def stage(target: MutationTarget) -> Path:
    """Copy the project into the target's work folder in its installed layout, with the target's
    ``[tool.mutmut]``; files already there with the same content keep their time stamps, so mutmut
    only re-mutates what changed."""
    folder = WORK / target.name
    for source, installed in INSTALLED_LAYOUT.items():
        _sync(ROOT / source, folder / installed, skip=tuple(d for d in INSTALLED_LAYOUT if d != "ascentrl"))
    for extra in ("tests", "scripts"):
        _sync(ROOT / extra, folder / extra, skip=())
    (folder / "pyproject.toml").write_text(_pyproject(target))
    return folder


def _sync(source: Path, destination: Path, skip: tuple[str, ...]) -> None:
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts or (source.name == "ascentrl" and relative.parts[0] in skip):
            continue
        target = destination / relative
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists() or target.read_bytes() != path.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _pyproject(target: MutationTarget) -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    settings = dict(project["tool"]["mutmut"])
    settings["only_mutate"] = list(target.files)
    settings["pytest_add_cli_args_test_selection"] = list(target.tests)
    pytest_options = project["tool"]["pytest"]["ini_options"]
    lines = ["[tool.pytest.ini_options]"] + [f"{key} = {json.dumps(value)}" for key, value in pytest_options.items()]
    lines += ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def run(target: MutationTarget, folder: Path) -> int:
    """Run mutmut on one worker in the work folder, its output in ``mutmut.log`` there; returns its
    exit code."""
    # One torch thread: the tensors are tiny, and the machine's other cores belong to others.
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    mutmut = Path(sys.executable).with_name("mutmut")
    print(f"{target.name}: mutating {', '.join(target.files)} against {len(target.tests)} test files "
          f"(log: {folder / 'mutmut.log'})", flush=True)
    with open(folder / "mutmut.log", "w") as log:
        return subprocess.run([str(mutmut), "run", "--max-children", "1", *target.functions],
                              cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT).returncode


def result(target: MutationTarget, folder: Path, equivalents: set[str]) -> TargetResult:
    """Count the target's mutants from mutmut's ``.meta`` files."""
    statuses: dict[str, str] = {}
    for file in target.files:
        meta = folder / "mutants" / (file + ".meta")
        if not meta.exists():
            raise FileNotFoundError(f"{meta} is missing: mutmut did not mutate {file} (see its output above)")
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        statuses.update({name: status_of(code) for name, code in exit_codes.items()})
    statuses = {name: status for name, status in statuses.items() if target.counts(name)}
    equivalent = {name for name in statuses if name in equivalents}
    # a recorded equivalent counts once, as equivalent, even where an unverified timeout or crash "killed" it
    killed = sum(status in KILLED for name, status in statuses.items() if name not in equivalent)
    not_checked = sum(status == "not checked" for status in statuses.values())
    surviving = tuple(sorted(name for name, status in statuses.items()
                             if status not in KILLED | {"not checked"} and name not in equivalent))
    return TargetResult(target.name, len(statuses), killed, len(equivalent), surviving, not_checked)


def status_of(exit_code: int | None) -> str:
    """mutmut's status name for a test run's exit code."""
    # mutmut's own reading of a test run's exit code; imported here so the table code loads without it.
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[exit_code]


def recorded_equivalents() -> set[str]:
    """Mutant names listed in ``tests/mutation_equivalents.md`` (the first backticked name of each
    table row)."""
    if not EQUIVALENTS.exists():
        return set()
    return set(re.findall(r"^\|\s*`([^`]+__mutmut_\d+)`", EQUIVALENTS.read_text(), flags=re.MULTILINE))


def format_table(results: Sequence[TargetResult]) -> str:
    """The per-target kill-rate table, then the surviving mutants by name."""
    header = f"{'target':<24}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'surviving':>10}{'kill rate':>11}"
    lines = [header, "-" * len(header)]
    for row in results:
        unfinished = f"  ({row.not_checked} not checked yet)" if row.not_checked else ""
        lines.append(f"{row.name:<24}{row.total:>8}{row.killed:>8}{row.equivalent:>8}{len(row.surviving):>10}"
                     f"{row.kill_rate:>10.1%}{'' if row.kill_rate >= 0.9 else '  < 90%'}{unfinished}")
    lines.append("kill rate = killed / (mutants - recorded equivalents); timeouts count as killed")
    for row in results:
        if row.surviving:
            lines.append(f"\nsurviving in {row.name} (inspect with: cd .mutation/{row.name} && "
                         "mutmut show NAME):")
            lines += [f"  {name}" for name in row.surviving]
    return "\n".join(lines)

"""Second opinions on the mutants mutmut could not judge: re-run them directly with pytest.

mutmut reports a mutant whose test run did not end normally as a timeout or a crash, and counts
it as caught. Its forked runner can also fail on its own: every mutant of ``Ascent.__init__`` came
back with exit code 255 after 0.0 s, while the same mutant run directly passed every test of its
target. :func:`verify_suspects` re-runs such mutants the way mutmut selects them (the mutated copy,
``MUTANT_UNDER_TEST`` naming the mutant) and records what the direct run says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.mutation import status_of
from harness.mutation_targets import MutationTarget

__all__ = ["verify_suspects"]

SUSPECT = {"timeout", "segfault", "suspicious"}
"""Statuses mutmut also gives when its own forked runner fails (exit code 255 after 0.0 s was seen on
every mutant of ``Ascent.__init__``), so :func:`verify_suspects` re-runs those mutants directly."""
VERIFY_TIMEOUT = 900.0
"""Seconds one direct re-run may take before the mutant counts as a genuine timeout."""


def verify_suspects(target: MutationTarget, folder: Path) -> dict[str, str]:
    """Re-run every mutant mutmut marked as a timeout or crash: pytest on the target's tests in the
    mutants copy, the mutant switched on by ``MUTANT_UNDER_TEST`` (how mutmut itself selects it).
    The verdict — ``killed`` (a test failed), ``survived`` or ``timeout`` (still running after
    :data:`VERIFY_TIMEOUT`) — replaces mutmut's in its ``.meta`` file and is listed in
    ``verified.json`` there. Returns ``{mutant: verdict}``."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    verdicts: dict[str, str] = {}
    for file in target.files:
        meta_path = folder / "mutants" / (file + ".meta")
        meta = json.loads(meta_path.read_text())
        codes = meta["exit_code_by_key"]
        for name, code in codes.items():
            if status_of(code) not in SUSPECT or not target.counts(name):
                continue
            command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *target.tests]
            try:
                completed = subprocess.run(command, cwd=folder / "mutants", capture_output=True,
                                           env={**environment, "MUTANT_UNDER_TEST": name}, timeout=VERIFY_TIMEOUT)
                verdicts[name] = "survived" if completed.returncode == 0 else "killed"
                codes[name] = 0 if completed.returncode == 0 else 1
            except subprocess.TimeoutExpired:
                verdicts[name] = "timeout"
            print(f"  {name}: {verdicts[name]}", flush=True)
        meta_path.write_text(json.dumps(meta))
    verified = folder / "verified.json"
    earlier = json.loads(verified.read_text()) if verified.exists() else {}
    verified.write_text(json.dumps({**earlier, **verdicts}, indent=1))
    return verdicts

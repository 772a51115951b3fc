"""Launch a script on two local gloo ranks with torchrun, for the data-parallel tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def torchrun(cwd: Path, *arguments: str, timeout: float = 90.0, processes: int = 2) -> tuple[int, str, float]:
    """Run ``python -m torch.distributed.run --standalone`` on ``arguments``.

    Returns the exit status, the combined output and the seconds it took. A launch still running
    after ``timeout`` seconds has hung, which is the bug under test: it is killed with its workers
    (it runs in a session of its own) and the test fails.
    """
    environment = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               str(processes), *arguments]
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun {' '.join(arguments)} hung for {timeout} s:\n{output}")
    return process.returncode, output, time.monotonic() - start

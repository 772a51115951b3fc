"""The command-line layer: every script's --help renders, and field docstrings reach it verbatim."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "scripts").glob("*.py"))


@dataclass
class _Config:
    """A config whose docstrings hold characters argparse treats specially."""

    share: float = 0.2
    """Fraction of runs, e.g. 20% (argparse %-formats help strings)."""
    names: tuple[str, ...] = ("a", "b")
    """Names, zero or more."""


def test_a_percent_sign_in_a_field_docstring_is_shown_as_written(capsys):
    parser = CommandLineParser(prog="demo")
    add_config_arguments(parser, _Config)
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--help"])
    assert stopped.value.code == 0
    assert "e.g. 20% (argparse %-formats help strings)" in " ".join(capsys.readouterr().out.split())
    assert config_from_args(_Config, parser.parse_args(["--share", "0.5"])) == _Config(share=0.5)


def test_every_script_prints_its_help():
    """All scripts at once (each is a fresh interpreter importing torch): --help exits 0 with a usage line."""
    running = {script.name: subprocess.Popen([sys.executable, str(script), "--help"], stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True) for script in SCRIPTS}
    failures = []
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=300)
        if process.returncode != 0 or "usage:" not in stdout:
            failures.append(f"{name}: exit {process.returncode}: {stderr.strip()[-300:]}")
    assert len(SCRIPTS) >= 20
    assert not failures, "\n".join(failures)

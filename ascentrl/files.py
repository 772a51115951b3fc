"""Files written atomically: a reader sees the previous version or the new one, never a torn one.

Every writer here goes through :func:`write_atomically`: the data is written to a temporary file in
the target's folder, flushed and fsynced, then ``os.replace``-d over the target (atomic on POSIX and
Windows), and the folder is fsynced where the OS allows it so the rename itself survives a crash. A
failure at any point removes the temporary file and leaves the previous target untouched. A second
Ctrl-C/SIGTERM during a write waits for the write to finish (:func:`ascentrl.interrupts.signals_held`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ascentrl.interrupts import signals_held

__all__ = ["TEMPORARY_SUFFIX", "write_atomically", "write_csv", "write_json"]

TEMPORARY_SUFFIX = ".tmp"
"""Temporary files are named ``.<target name>.<random>.tmp`` in the target's folder."""


def _umask_file_mode() -> int:
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


_FILE_MODE = _umask_file_mode()


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text written with ``newline=""``) to ``path`` atomically.

    Creates the parent folders. Returns the path written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX, dir=target.parent)
    binary = isinstance(data, bytes)
    with signals_held():
        _write_and_replace(descriptor, temporary, target, data, binary)
    return target


def _write_and_replace(descriptor: int, temporary: str, target: Path, data: bytes | str, binary: bool) -> None:
    try:
        os.chmod(temporary, _FILE_MODE)  # mkstemp makes 0600; give the usual mode of a new file
        with os.fdopen(descriptor, "wb" if binary else "w", **({} if binary else {"newline": ""})) as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically. Returns the path written."""
    return write_atomically(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=True) + "\n")


def write_csv(path: str | os.PathLike, fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write (or rewrite) a CSV file with a header row, atomically. Returns the path written."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames))
    writer.writeheader()
    writer.writerows(rows)
    return write_atomically(path, buffer.getvalue())

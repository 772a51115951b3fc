"""A run's output folder: checked writable before any work, held by one run at a time.

:class:`OutputFolder` is what a training script enters before it trains:

1. the folder is created (with its parents) and **probed with a real write** — a temporary file is
   written, flushed and removed — so a folder that exists but cannot be written (``/proc/self``, a
   read-only mount, a full disk) is refused at once, not after hours of training at the first
   checkpoint;
2. an **exclusive lock** is taken on ``.ascentrl.lock`` in the folder (``fcntl.flock`` on POSIX,
   ``msvcrt.locking`` on Windows; the operating system releases it when the process ends, however
   it ends) and the process id is written into it, so a second run on the same folder is refused at
   once, naming the first run's pid, instead of overwriting its checkpoint;
3. temporary files left by a write that was killed half way (``.NAME.XXXXXXXX.tmp``, see
   :func:`ascentrl.files.write_atomically`) are removed — safe, since the lock guarantees no other
   run is writing — and reported.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from types import TracebackType

from ascentrl.files import TEMPORARY_SUFFIX

__all__ = ["LOCK_NAME", "OutputFolder", "check_png_path", "check_writable_folder"]

LOCK_NAME = ".ascentrl.lock"
_STALE_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX) + "$")

try:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
except ImportError:  # Windows
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


def check_writable_folder(option: str, folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) and prove it writable with a real write, or raise
    ``ValueError`` naming ``option``. Returns the folder."""
    path = Path(folder)
    if str(folder) == "":
        raise ValueError(f"{option} must name a folder, got ''")
    try:
        path.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".ascentrl-probe.", dir=path)
        try:
            os.write(descriptor, b"probe")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
            os.unlink(probe)
    except OSError as error:
        reason = "a file of that name exists" if path.exists() and not path.is_dir() else (error.strerror or error)
        raise ValueError(f"{option} {folder}: cannot write there ({reason})") from None
    return path


def check_png_path(option: str, path: str | os.PathLike) -> Path:
    """A path a PNG image can be written to (its folder probed with a real write), or ``ValueError``
    naming ``option``: not a folder, not empty, named ``*.png`` (so the name printed is the one written)."""
    target = Path(path)
    if str(path) == "" or target.is_dir():
        raise ValueError(f"{option} {path!s}: is a folder; give a file name ending in .png")
    if target.suffix.lower() != ".png":
        raise ValueError(f"{option} {path}: writes a PNG image; give a file name ending in .png")
    check_writable_folder(option, target.parent)
    return target


class OutputFolder:
    """Check, lock and tidy a run's output folder (module docstring); a context manager.

    Args:
        folder: the folder (created if needed).
        option: how error messages name it, e.g. ``"--out"``.

    Attributes:
        removed: the stale temporary files removed on entering.
    """

    def __init__(self, folder: str | os.PathLike, option: str = "--out") -> None:
        self.folder = Path(folder)
        self.option = option
        self.removed: list[Path] = []
        self._descriptor: int | None = None

    def __enter__(self) -> OutputFolder:
        check_writable_folder(self.option, self.folder)
        lock = self.folder / LOCK_NAME
        try:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ValueError(f"{self.option} {self.folder}: cannot create its lock file "
                             f"({error.strerror or error})") from None
        if not _try_lock(descriptor):
            owner = os.read(descriptor, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise ValueError(f"{self.option} {self.folder}: another run (pid {owner}) is writing there; wait for "
                             f"it to end or choose another {self.option}")
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(descriptor)
        self._descriptor = descriptor
        for path in sorted(self.folder.iterdir()):
            if _STALE_TEMPORARY.match(path.name) and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()
                    self.removed.append(path)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # The lock file stays: unlinking it would let a run that opened it just before lock a file
        # no longer in the folder while a third run locks a new one.
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing releases the lock
            self._descriptor = None

"""Signals (Ctrl-C's SIGINT, SIGTERM) in every phase of a run: nothing lost, never a traceback.

A training loop cannot stop in the middle of an update without losing it, so instead of raising
``KeyboardInterrupt`` wherever Python happens to be, :class:`StopOnSignals` records the signal and
lets the loop ask ``stop.requested`` between updates (and long phases such as an evaluation poll it
and raise :class:`Interrupted`)::

    with StopOnSignals() as stop:
        history = agent.train(..., should_stop=lambda: stop.requested)
    if stop.requested:
        sys.exit(stop.exit_code)  # 130 for SIGINT, 143 for SIGTERM (128 + signal number)

- The handlers exist only inside the ``with`` block; on leaving it the previous handlers are
  restored. Importing this module installs nothing, and imports nothing heavy (no torch), so a
  script can call :func:`exit_quietly_on_signals` before its slow imports.
- A second signal while a stop is already pending means the user insists: :class:`ForcedStop` (a
  ``KeyboardInterrupt``) is raised at once — except inside :func:`signals_held`, which every
  checkpoint write is: there the write finishes first, and ``ForcedStop`` is raised as the block
  ends. So a file being written is never left half done and the previous one is never lost.
- :func:`exit_quietly_on_signals` covers start-up (imports, building envs), before any
  ``StopOnSignals``: one line on stderr and exit code 128 + signal number, nothing to save yet.
- Python delivers signals only to the main thread; elsewhere ``StopOnSignals`` installs nothing
  and ``requested`` stays False.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

__all__ = ["ForcedStop", "Interrupted", "StopOnSignals", "exit_quietly_on_signals", "signals_held"]

_held_depth = 0
_pending: list[ForcedStop] = []


class ForcedStop(KeyboardInterrupt):
    """A second signal while a stop was pending: stop at once (after any checkpoint write)."""

    def __init__(self, signal_number: signal.Signals) -> None:
        super().__init__(f"second {signal_number.name}: stopping at once")
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signal_number)


class Interrupted(Exception):
    """A long phase (an evaluation) saw a stop request and was abandoned; nothing of it was kept."""


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Inside this block a second signal does not interrupt: its :class:`ForcedStop` is raised when
    the outermost such block has completed (e.g. once a checkpoint is completely written); if the
    block fails, its own exception propagates instead."""
    global _held_depth
    _held_depth += 1
    try:
        yield
    except BaseException:
        _held_depth -= 1
        if _held_depth == 0:
            _pending.clear()  # the block failed; its own error is what the caller must see
        raise
    _held_depth -= 1
    if _held_depth == 0 and _pending:
        forced = _pending.pop()
        _pending.clear()
        raise forced


def exit_quietly_on_signals(program: str) -> None:
    """Until a :class:`StopOnSignals` takes over, SIGINT/SIGTERM print one line and exit with
    ``128 + signal number``. For a script's start-up.

    The exit is immediate (``os._exit`` after flushing the standard streams), not ``SystemExit``:
    the signal may land while a C++ extension is importing (torch calls back into Python there),
    where an exception raised by the handler ends in ``std::terminate`` — an abort with a C++
    message instead of one line. Nothing needs cleaning up at this stage: no checkpoint has been
    written, and the output folder's lock is released by the operating system."""
    if threading.current_thread() is not threading.main_thread():
        return

    program = os.path.basename(program)

    def handle(number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        print(f"{program}: {name} before training started; nothing to save", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(128 + number)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, handle)


class StopOnSignals:
    """Context manager recording SIGINT/SIGTERM as a stop request (see the module docstring).

    Args:
        signals: the signals to catch; SIGINT and SIGTERM by default.

    Attributes:
        signal_number: the first signal received, ``None`` while none has arrived.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        if not signals or not all(isinstance(number, int) for number in signals):
            raise ValueError(f"signals must be a non-empty tuple of signal numbers, got {signals!r}")
        self.signals = tuple(signal.Signals(number) for number in signals)
        self.signal_number: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def requested(self) -> bool:
        """True once one of the signals has arrived."""
        return self.signal_number is not None

    @property
    def signal_name(self) -> str:
        """``"SIGINT"``, ``"SIGTERM"``, ... of the received signal (empty before any)."""
        return self.signal_number.name if self.signal_number is not None else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: ``128 + signal number``."""
        if self.signal_number is None:
            raise RuntimeError("no signal was received, so there is no signal exit code")
        return 128 + int(self.signal_number)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.signal_number is None:
            self.signal_number = signal.Signals(number)
            return
        forced = ForcedStop(signal.Signals(number))
        if _held_depth:
            _pending.append(forced)
            return
        raise forced

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for number in self.signals:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for number, handler in self._previous.items():
            # A handler installed from C (or none) reads back as None; the default is the safe stand-in.
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

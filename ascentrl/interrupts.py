"""Turn SIGINT (Ctrl-C) and SIGTERM into a request to stop at the next safe point.

A training loop cannot stop in the middle of an update without losing it, so instead of raising
``KeyboardInterrupt`` wherever Python happens to be, :class:`StopOnSignals` records the signal and
lets the loop ask ``stop.requested`` between updates::

    with StopOnSignals() as stop:
        history = agent.train(..., should_stop=lambda: stop.requested)
    if stop.requested:
        sys.exit(stop.exit_code)  # 130 for SIGINT, 143 for SIGTERM (128 + signal number)

- The handlers exist only inside the ``with`` block; on leaving it the previous handlers are
  restored. Importing this module installs nothing.
- A second signal while a stop is already pending raises ``KeyboardInterrupt`` at once: the user
  insists, and a stuck loop must still be stoppable.
- Python delivers signals only to the main thread; elsewhere the block installs nothing and
  ``requested`` stays False.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["StopOnSignals"]


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
        if self.signal_number is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(number).name}: stopping at once")
        self.signal_number = signal.Signals(number)

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

"""Plots written as PNG files, atomically, with matplotlib's object API (no pyplot state)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ascentrl.files import write_atomically

__all__ = ["write_figure", "write_line_plot"]


def write_figure(path: str | os.PathLike, figure: Any, *, dpi: int = 110) -> Path:
    """Render a matplotlib ``Figure`` (built without pyplot) to a PNG and write it atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_atomically(path, buffer.getvalue())


def write_line_plot(
    path: str | os.PathLike,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    reference: tuple[str, float] | None = None,
) -> Path:
    """Plot each ``label -> (x, y)`` as a line and write a PNG, atomically.

    ``reference = (label, y)`` adds a dashed horizontal line, e.g. a target return.
    """
    from matplotlib.figure import Figure  # imported here: only the callers that plot pay for it

    figure = Figure(figsize=(7, 4.2), layout="constrained")
    axes = figure.subplots()
    for label, (xs, ys) in series.items():
        axes.plot(list(xs), list(ys), label=label)
    if reference is not None:
        axes.axhline(reference[1], linestyle="--", color="grey", label=reference[0])
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return write_figure(path, figure)

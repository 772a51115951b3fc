"""What a run will need from the machine, checked before it starts: memory and CPU threads.

A learner lists what it will hold in memory as :class:`MemoryNeed` entries — each with the options
that drive it — from its config alone, before it builds anything (e.g. ``num_envs x steps x
observation size`` floats of rollout buffers, the networks with their gradients and optimizer state,
one env object per copy). :func:`check_memory` adds them up and refuses a run whose total exceeds the
memory available now, naming the option behind the largest need, the estimate and the limit, so that
``--num-envs 1000000000`` is one line at start-up instead of an allocation traceback, a hang or a
killed machine hours later. The estimates are rough and leave bookkeeping overheads out: they are
meant to catch sizes that cannot fit, not to account for every byte.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["ENV_OBJECT_BYTES", "MemoryNeed", "available_cpus", "available_memory", "check_memory",
           "check_thread_count", "format_bytes", "network_parameters"]

ENV_OBJECT_BYTES = 16 * 1024
"""A low estimate of the memory of one environment object (its Python state and buffers)."""
FLOAT_BYTES = 4
TRAINING_COPIES = 6
"""Copies of every parameter a training network keeps: itself, its gradient, two Adam moments, the
snapshot that undoes a non-finite update, and one in the checkpoint being written."""


@dataclass(frozen=True)
class MemoryNeed:
    """``bytes`` of memory for ``what``, driven by the command-line ``options``."""

    what: str
    bytes: int
    options: tuple[str, ...]


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS tells it, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory available for a new run: Linux's ``MemAvailable``, else the physical total."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 2**63 - 1  # unknown: nothing is refused


def format_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if count < 1024 or unit == "PB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def network_parameters(input_size: int, hidden_sizes: Sequence[int], output_size: int) -> int:
    """Weights and biases of a fully connected network ``input -> hidden... -> output``."""
    sizes = [input_size, *hidden_sizes, output_size]
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))


def check_memory(needs: Iterable[MemoryNeed], limit: int | None = None) -> None:
    """Refuse (``ValueError``) a run whose needs add up to more than ``limit`` (default: available now).

    The message names the options behind the largest need, e.g. ``--num-envs 1000000000 ...: the run
    needs at least 7.5 TB of memory (rollout buffers 7.5 TB, ...); 21.4 GB is available``.
    """
    needs = sorted(needs, key=lambda need: need.bytes, reverse=True)
    total = sum(need.bytes for need in needs)
    limit = available_memory() if limit is None else limit
    if total <= limit:
        return
    largest = needs[0]
    parts = ", ".join(f"{need.what} {format_bytes(need.bytes)}" for need in needs if need.bytes >= total / 1000)
    raise ValueError(f"{' '.join(largest.options)}: the run needs at least {format_bytes(total)} of memory "
                     f"({parts}); {format_bytes(limit)} is available. Lower "
                     f"{' or '.join(option.split()[0] for option in largest.options)}")


def check_thread_count(option: str, threads: int | None) -> None:
    """Refuse more torch threads than this process has CPUs (``ValueError`` naming ``option``)."""
    cpus = available_cpus()
    if threads is not None and threads > cpus:
        raise ValueError(f"{option} must be at most {cpus}, the CPUs this process may use; got {threads}")

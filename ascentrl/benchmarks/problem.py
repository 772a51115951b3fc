"""What a benchmark is: a seeded problem to maximize, with its known optimum and settings.

A :class:`Benchmark` is a recipe: ``benchmark.build(seed)`` returns a fresh :class:`Problem`
(parameters, the objective J to **maximize**, its optimum value and, where the optimum is a
known point, a distance to it), so every optimizer starts from the same point.  The benchmark
also says what kind of optimum J has and the learning rate and step count it is run with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

OptimumKind = Literal["global", "local", "supremum", "unbounded"]
"""What a problem's ``optimum_value`` means.

* ``"global"``: the global maximum of J, attained at a known point.
* ``"local"``: the local maximum that ascent from the start point converges to (J is unbounded
  or multimodal elsewhere).
* ``"supremum"``: an upper bound of J that is approached but never attained.
* ``"unbounded"``: J has no upper bound; report its growth instead.
"""


@dataclass(frozen=True)
class Problem:
    """One instance of a benchmark, ready to optimize.

    Attributes:
        parameters: the tensors to optimize (leaves with ``requires_grad=True``).
        objective: evaluates J at the current parameters; J is **maximized** — call
            ``objective().backward()`` and step an ascent optimizer.
        optimum_value: the maximum, local maximum or supremum of J (see :data:`OptimumKind`);
            ``None`` if J is unbounded.
        distance_to_optimum: the distance from the current parameters to the optimum, measured
            as the benchmark's builder documents; ``None`` when the optimum is not a known point.
    """

    parameters: list[Tensor]
    objective: Callable[[], Tensor]
    optimum_value: float | None = None
    distance_to_optimum: Callable[[], float] | None = None


@dataclass(frozen=True)
class Benchmark:
    """A named objective to maximize, what is known about its optimum, and how it is run.

    Attributes:
        name: short identifier, e.g. ``"rosenbrock"``.
        summary: one line with the objective's formula and start point.
        build: ``build(seed)`` returns a fresh :class:`Problem`; the same seed gives the same
            model, inputs and start point.
        lr: learning rate the benchmark is run with.
        steps: number of ascent steps.
        optimum_kind: what the problems' ``optimum_value`` means (see :data:`OptimumKind`).
        seed_number: the benchmark's number in the original ``gradient-ascent`` package's
            benchmark script (1–10), or ``None`` for benchmarks added since.
    """

    name: str
    summary: str
    build: Callable[[int], Problem]
    lr: float
    steps: int
    optimum_kind: OptimumKind
    seed_number: int | None = None


def parameter(values: list[float], dtype: torch.dtype = torch.float32) -> Tensor:
    """A leaf tensor holding ``values`` that requires a gradient (a free start point)."""
    return torch.tensor(values, dtype=dtype, requires_grad=True)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run the block with torch's global generator seeded to ``seed``, then restore it.

    Modules are built inside this block so they get PyTorch's default initialisation,
    reproducibly, without disturbing the caller's random state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield

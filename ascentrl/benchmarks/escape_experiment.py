"""Do escape strategies help ascent find the global maximum of a multimodal function?

The experiment: draw random start points uniformly from a box, run plain gradient ascent
(:class:`ascentrl.Ascent` with only ``lr``) from each, once without an escape strategy and once
with each strategy, with the same starts, learning rate and number of steps, and count the
fraction of starts that reach the global maximizer (within ``tolerance``).  Two measures:

* **final** — the last iterate is at the global maximizer;
* **best** — the iterate with the highest objective seen during the run is (what a run that
  keeps its best checkpoint returns; Jin et al.'s perturbed gradient descent likewise returns
  the point before a perturbation that did not pay off).

Every strategy instance is seeded, so the experiment is deterministic.  Element-wise
strategies (none, :class:`~ascentrl.escape.GradientNoise`) run all starts as the rows of one
tensor in one optimizer — each row then follows exactly the law of a separate run.  A strategy
that reads the optimizer-wide gradient norm (``needs_grad_norm``, e.g.
:class:`~ascentrl.escape.PerturbedAscent`) would couple starts sharing an optimizer, so each
start gets its own optimizer and its own seed.

The two problems of :data:`MULTIMODAL_PROBLEMS` and what the measured fractions show
(``scripts/bench_escape.py`` prints them):

* ``sinc``, J(x) = sin(πx)/(πx), starts in [−10, 10]: the central peak's basin (|x| < 1.43) is
  wider than the side lobes' (≈ 2.04 wide).  A perturbation radius between the side lobes'
  half-width and the central half-width makes the global maximum absorbing — a jump from it
  stays in its basin — while a jump from a side lobe can leave it.  Perturbed ascent therefore
  raises even the *final* fraction.
* ``rastrigin``, negated 2-D Rastrigin, starts in [−5.12, 5.12]²: all basins are unit cells of
  the same size, so no radius makes the global maximum absorbing and the final iterate is
  wherever the random walk between local maxima stopped; the *best* iterate is where escape
  helps.  Gradient noise needs a large η: the barriers between maxima are ≈ 2A = 20 in J, and
  plain ascent with noise has temperature T = lr·η/2 (η = 5·10⁴, lr = 4·10⁻³ give T₀ = 100,
  annealed as (1 + t)^−0.55).

The strategies' settings were chosen on a coarse grid (radius ∈ {0.8, 1.2, 1.4} or
{0.6, 1.0, 1.5}, interval ∈ {5, 10, 20}, threshold ∈ {0.01, 0.1}; three values of η) with the
starts of seeds 0–2, looking at both measures; seeds 3–5 give the same ordering.  Learning rate
and step count are the problem's, the same for every arm.  With their default settings
(``escape="perturb"`` or ``"noise"``) neither strategy changes any fraction here: radius 0.1 and
η = 0.01 are far below these problems' basin widths and barriers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ascentrl import Ascent, EscapeStrategy, GradientNoise, PerturbedAscent
from ascentrl.benchmarks.functions import negated_rastrigin, sinc

EscapeFactory = Callable[[int], EscapeStrategy]
"""``make_escape(seed)`` → a fresh escape strategy drawing its randomness from ``seed``."""

NO_ESCAPE = "none"


@dataclass(frozen=True)
class MultimodalProblem:
    """A function with many local maxima and a known global maximizer, and how to ascend it.

    Attributes:
        name: short identifier.
        summary: one line with the function and the start box.
        objective: J for a batch of points, shape ``(n, d)`` → ``(n,)``; **maximized**.
        global_maximizer: the point where J is largest.
        start_half_width: starts are uniform in [−w, w]^d.
        lr: learning rate of plain ascent, the same for every arm.
        steps: ascent steps per start, the same for every arm.
        escapes: the strategies to compare with plain ascent, by name, with tuned settings.
        tolerance: a point within this distance of the global maximizer has reached it.
    """

    name: str
    summary: str
    objective: Callable[[Tensor], Tensor]
    global_maximizer: tuple[float, ...]
    start_half_width: float
    lr: float
    steps: int
    escapes: Mapping[str, EscapeFactory] = field(default_factory=dict)
    tolerance: float = 0.25

    @property
    def dimension(self) -> int:
        return len(self.global_maximizer)


@dataclass(frozen=True)
class EscapeOutcome:
    """The result of one arm of the experiment on one problem.

    Attributes:
        problem: the problem's name.
        strategy: ``"none"`` or the escape strategy's name in ``problem.escapes``.
        settings: the strategy's constructor arguments (for seed 0), or ``"-"``.
        starts: number of random starts.
        final_fraction: fraction of starts whose last iterate reached the global maximizer.
        best_fraction: fraction whose best iterate (highest J seen) reached it.
        mean_final_objective: mean J of the last iterates.
        wall_time: seconds for all starts.
    """

    problem: str
    strategy: str
    settings: str
    starts: int
    final_fraction: float
    best_fraction: float
    mean_final_objective: float
    wall_time: float


def _ascend(problem: MultimodalProblem, starts: Tensor, make_escape: EscapeFactory | None,
            seed: int) -> tuple[Tensor, Tensor]:
    """Ascend from every row of ``starts``; return the final points and the best points seen."""
    count = starts.shape[0]
    escape = None if make_escape is None else make_escape(seed)
    if escape is not None and escape.needs_grad_norm:  # couples whatever shares an optimizer
        leaves = [row.clone().unsqueeze(0).requires_grad_(True) for row in starts]
        optimizers = [Ascent([leaf], lr=problem.lr, escape=make_escape(seed + index))
                      for index, leaf in enumerate(leaves)]
    else:
        leaves = [starts.clone().requires_grad_(True)]
        optimizers = [Ascent(leaves, lr=problem.lr, escape=escape)]

    best_points = starts.clone()
    best_values = torch.full((count,), -math.inf, dtype=starts.dtype)

    def remember_best(points: Tensor, values: Tensor) -> None:
        improved = values > best_values
        best_points[improved] = points[improved]
        best_values[improved] = values[improved]

    for _ in range(problem.steps):
        points = torch.cat(leaves)
        values = problem.objective(points)
        remember_best(points.detach(), values.detach())
        values.sum().backward()  # rows are independent: d(sum)/d(row) = ∇J(row)
        for optimizer in optimizers:
            optimizer.step()
        for leaf in leaves:
            leaf.grad = None
    with torch.no_grad():
        final_points = torch.cat(leaves)
        remember_best(final_points, problem.objective(final_points))
    return final_points, best_points


def _fraction_reached(problem: MultimodalProblem, points: Tensor) -> float:
    maximizer = torch.tensor(problem.global_maximizer, dtype=points.dtype)
    return float(((points - maximizer).norm(dim=-1) <= problem.tolerance).double().mean())


def run_escape_experiment(problem: MultimodalProblem, *, starts: int = 100, seed: int = 0,
                          strategies: Sequence[str] | None = None) -> list[EscapeOutcome]:
    """Compare plain ascent with each escape strategy on ``problem`` from the same random starts.

    Args:
        problem: the multimodal function and its settings.
        starts: number of random start points.
        seed: seeds the start points and the strategy (``seed + start index`` when each start
            has its own optimizer).
        strategies: names from ``problem.escapes`` to run (default: all); plain ascent
            (``"none"``) always runs first.

    Returns:
        One :class:`EscapeOutcome` per arm, plain ascent first.
    """
    names = list(problem.escapes) if strategies is None else list(strategies)
    unknown = [name for name in names if name not in problem.escapes]
    if unknown:
        raise ValueError(
            f"unknown strategies {unknown} for problem {problem.name!r}; choose from {list(problem.escapes)}")
    generator = torch.Generator().manual_seed(seed)
    uniform = torch.rand(starts, problem.dimension, generator=generator, dtype=torch.float64)
    start_points = (2 * uniform - 1) * problem.start_half_width

    outcomes = []
    for name in [NO_ESCAPE, *names]:
        make_escape = None if name == NO_ESCAPE else problem.escapes[name]
        clock = time.perf_counter()
        final_points, best_points = _ascend(problem, start_points, make_escape, seed)
        wall_time = time.perf_counter() - clock
        with torch.no_grad():
            mean_final_objective = float(problem.objective(final_points).mean())
        outcomes.append(EscapeOutcome(
            problem=problem.name,
            strategy=name,
            settings="-" if make_escape is None else repr(make_escape(0)),
            starts=starts,
            final_fraction=_fraction_reached(problem, final_points),
            best_fraction=_fraction_reached(problem, best_points),
            mean_final_objective=mean_final_objective,
            wall_time=wall_time,
        ))
    return outcomes


SINC_PROBLEM = MultimodalProblem(
    name="sinc",
    summary="J = sin(pi x)/(pi x), 1-D, max 1 at x = 0, starts uniform in [-10, 10]",
    objective=sinc,
    global_maximizer=(0.0,),
    start_half_width=10.0,
    lr=0.5,
    steps=300,
    escapes={
        "perturb": lambda seed: PerturbedAscent(threshold=0.1, radius=1.4, interval=10, seed=seed),
        "noise": lambda seed: GradientNoise(eta=10.0, seed=seed),
    },
)

RASTRIGIN_PROBLEM = MultimodalProblem(
    name="rastrigin",
    summary="J = negated 2-D Rastrigin (A = 10), max 0 at 0, starts uniform in [-5.12, 5.12]^2",
    objective=negated_rastrigin,
    global_maximizer=(0.0, 0.0),
    start_half_width=5.12,
    lr=4e-3,
    steps=300,
    escapes={
        "perturb": lambda seed: PerturbedAscent(threshold=0.1, radius=1.5, interval=10, seed=seed),
        "noise": lambda seed: GradientNoise(eta=5e4, seed=seed),
    },
)

MULTIMODAL_PROBLEMS: tuple[MultimodalProblem, ...] = (SINC_PROBLEM, RASTRIGIN_PROBLEM)
"""The 1-D function with many local maxima (sinc) and negated 2-D Rastrigin."""

"""Solve many two-player zero-sum matrix games at once: exactly (the default), or by restarted
first-order dynamics.

The row player picks ``x ∈ Δ_m`` to **maximize** ``xᵀAy``; the column player picks
``y ∈ Δ_n`` to minimize it (it ascends ``−xᵀAy``). NashConv is the duality gap,
``max_i (Ay)_i − min_j (Aᵀx)_j``. Every returned profile's NashConv is computed from the input
payoffs and returned, so each game's answer carries its own certificate. One call solves a whole
batch of games ``A`` as tensor arithmetic.

* ``exact`` (default): batched simplex pivoting finds the supports of an extreme equilibrium of
  every game, then the equilibrium equations on those supports are solved by one batched linear
  solve (:mod:`ascentrl.games.zero_sum_exact` explains it step by step). Degenerate games —
  duplicate rows or columns, several equilibria, pure equilibria, value zero — are solved like the
  others; standard normal games end at NashConv ~1e-15. Default tolerance 1e-9.
* ``primal_dual`` and ``extragradient``: first-order dynamics with adaptive restarts, below. They
  approach an equilibrium (default tolerance 1e-6) and are slow on the nearly degenerate games;
  they remain as the dynamics the rest of the library studies, and as a baseline.

The first-order methods, step by step (each game has its own step size and leaves the batch as
soon as it is solved):

1. Step size per game: ``η = step_scale / ‖A‖₂``. Both methods below are stable for
   ``η‖A‖₂ < 1``; a single step for all games must suit the game with the largest norm and is
   too small for most (the naive batch stalls at ~86% after 500 iterations).
2. One iteration of the chosen method, with the exact Euclidean projection onto the simplex
   (:func:`ascentrl.games.simplex.project_to_simplex`):

   * ``extragradient`` (Korpelevich 1976): ``x̂ = P(x + η A y)``, ``ŷ = P(y − η Aᵀx)``, then
     ``x ← P(x + η A ŷ)``, ``y ← P(y − η Aᵀx̂)``. Two matrix products per player.
   * ``primal_dual`` (Chambolle & Pock 2011, PDHG): ``x⁺ = P(x + η A y)``,
     ``y ← P(y − η Aᵀ(2x⁺ − x))``, ``x ← x⁺``. The column player answers the row player's
     extrapolated move — the optimistic correction taken in turn — at one matrix product per
     player, half the cost of extragradient.
3. Every ``check_every`` iterations: NashConv of the current iterate (and, with restarts, of the
   average of the iterates since the last restart); games at or below ``tolerance`` are frozen
   and removed from the batch, so late iterations only pay for the slow games.
4. Adaptive restarts (Applegate, Hinder, Lu & Lubin 2023, "Faster first-order primal-dual
   methods for linear programming using restarts and sharpness"): matrix games are *sharp*
   (NashConv grows linearly with the distance to the equilibrium set), and for sharp problems
   restarting the averaged iterate whenever its NashConv has dropped to ``restart_factor`` times
   its value at the previous restart converges linearly at a far better rate than the last
   iterate alone. This is what removes the slow tail of the plain methods.

Each game's result is the better (lower NashConv) of its current and averaged iterate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ascentrl.games.simplex import project_to_simplex
from ascentrl.games.zero_sum_exact import solve_exactly

ZERO_SUM_METHODS = ("exact", "primal_dual", "extragradient")
_DEFAULT_TOLERANCE = {"exact": 1e-9, "primal_dual": 1e-6, "extragradient": 1e-6}


@dataclass(frozen=True)
class ZeroSumSolution:
    """Equilibria of a batch of zero-sum games, each with its certificate.

    Attributes:
        row_strategies: ``(games, m)``, the maximizing player's mixed strategies.
        column_strategies: ``(games, n)``, the minimizing player's mixed strategies.
        nash_conv: ``(games,)``, NashConv (duality gap) of each returned profile, computed from the
            input payoffs.
        converged: ``(games,)``, whether ``nash_conv <= tolerance``.
        iterations: ``(games,)``, pivots (``exact``) or iterations (first-order) each game took.
        values: ``(games,)``, the payoff ``xᵀAy`` of each returned profile; it lies within
            ``nash_conv`` of the game's value.
    """

    row_strategies: Tensor
    column_strategies: Tensor
    nash_conv: Tensor
    converged: Tensor
    iterations: Tensor
    values: Tensor


def solve_zero_sum_games(
    row_payoffs: Tensor,
    *,
    method: str = "exact",
    tolerance: float | None = None,
    max_iterations: int = 20_000,
    step_scale: float = 0.95,
    step_size: float | None = None,
    restarts: bool = True,
    restart_factor: float = 0.2,
    check_every: int = 8,
) -> ZeroSumSolution:
    """Equilibria of many zero-sum games: exact ones, or ``tolerance``-equilibria from first-order dynamics.

    Args:
        row_payoffs: ``(games, m, n)`` payoffs of the row player; the column player gets the
            negation. Use float64 for tolerances below ~1e-5 (``exact`` computes in float64 and
            returns the input dtype).
        method: ``"exact"``, ``"primal_dual"`` or ``"extragradient"`` (see the module docstring).
        tolerance: a game is solved when its NashConv is at most this; ``None`` means 1e-9 for
            ``exact`` and 1e-6 for the first-order methods. First-order games stop there; exact
            solutions are only certified against it.
        max_iterations: pivots (``exact``) or iterations after which unsolved games are returned as
            they are.
        step_scale: first-order only: per-game step size ``step_scale / ‖A‖₂``; in (0, 1).
        step_size: first-order only: one fixed step size for every game instead (the naive baseline).
        restarts: first-order only: restart each game from its best point when its NashConv has
            shrunk by ``restart_factor`` (see the module docstring).
        restart_factor: first-order only; in (0, 1).
        check_every: first-order only: iterations between NashConv checks (convergence, freezing,
            restarts).

    Returns:
        A :class:`ZeroSumSolution`.
    """
    _check_arguments(row_payoffs, method, tolerance, max_iterations, step_scale, step_size, restart_factor, check_every)
    if tolerance is None:
        tolerance = _DEFAULT_TOLERANCE[method]
    if method == "exact":
        row, column, iterations = solve_exactly(row_payoffs, max_pivots=max_iterations)
        row, column = row.to(row_payoffs.dtype), column.to(row_payoffs.dtype)
        gap = _nash_conv(row_payoffs.detach().permute(1, 2, 0), row.T, column.T)
    else:
        row, column, gap, iterations = _solve_first_order(
            row_payoffs, _ITERATIONS[method], tolerance, max_iterations, step_scale, step_size, restarts,
            restart_factor, check_every)
    return ZeroSumSolution(
        row_strategies=row,
        column_strategies=column,
        nash_conv=gap,
        converged=gap <= tolerance,
        iterations=iterations,
        values=(row.T * _row_values(row_payoffs.detach().permute(1, 2, 0), column.T)).sum(0),
    )


def _solve_first_order(
    row_payoffs: Tensor, iterate, tolerance, max_iterations, step_scale, step_size, restarts, restart_factor,
    check_every,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The first-order loop of the module docstring; returns ``(x, y, NashConv, iterations)``."""
    games, rows, columns = row_payoffs.shape
    # Actions first and games last: reductions over a few actions then run along contiguous
    # memory, many times faster than reductions over a short trailing dimension.
    payoffs = row_payoffs.detach().permute(1, 2, 0).contiguous()
    if step_size is None:
        norms = torch.linalg.matrix_norm(row_payoffs.detach(), ord=2)
        steps = step_scale / norms.clamp_min(torch.finfo(norms.dtype).tiny)
    else:
        steps = torch.full((games,), float(step_size), dtype=payoffs.dtype)

    row_out = torch.empty(rows, games, dtype=payoffs.dtype)
    column_out = torch.empty(columns, games, dtype=payoffs.dtype)
    gap_out = torch.empty(games, dtype=payoffs.dtype)
    iterations_out = torch.full((games,), max_iterations, dtype=torch.long)

    active = torch.arange(games)
    x = torch.full((rows, games), 1.0 / rows, dtype=payoffs.dtype)
    y = torch.full((columns, games), 1.0 / columns, dtype=payoffs.dtype)
    x_sum, y_sum = torch.zeros_like(x), torch.zeros_like(y)
    averaged = torch.zeros(games, dtype=payoffs.dtype)
    restart_gap = _nash_conv(payoffs, x, y)

    iteration = 0
    while True:
        if iteration % check_every == 0 or iteration == max_iterations:
            best_x, best_y, gap = _best_point(payoffs, x, y, x_sum, y_sum, averaged)
            finished = gap <= tolerance
            if iteration == max_iterations:
                finished = torch.ones_like(finished)
            if finished.any():
                done = active[finished]
                row_out[:, done], column_out[:, done] = best_x[:, finished], best_y[:, finished]
                gap_out[done] = gap[finished]
                iterations_out[done] = iteration
                keep = ~finished
                if not keep.any():
                    break
                active, payoffs, steps = active[keep], payoffs[:, :, keep], steps[keep]
                x, y, x_sum, y_sum = x[:, keep], y[:, keep], x_sum[:, keep], y_sum[:, keep]
                best_x, best_y = best_x[:, keep], best_y[:, keep]
                averaged, restart_gap, gap = averaged[keep], restart_gap[keep], gap[keep]
            if restarts and iteration > 0:
                restart = gap <= restart_factor * restart_gap
                x, y = torch.where(restart, best_x, x), torch.where(restart, best_y, y)
                restart_gap = torch.where(restart, gap, restart_gap)
                x_sum = torch.where(restart, 0.0, x_sum)
                y_sum = torch.where(restart, 0.0, y_sum)
                averaged = torch.where(restart, 0.0, averaged)
        x, y, x_average_term, y_average_term = iterate(payoffs, x, y, steps)
        if restarts:
            x_sum += x_average_term
            y_sum += y_average_term
            averaged += 1
        iteration += 1
    return row_out.T.contiguous(), column_out.T.contiguous(), gap_out, iterations_out


def _extragradient_iteration(payoffs: Tensor, x: Tensor, y: Tensor, steps: Tensor) -> tuple[Tensor, ...]:
    """One projected extragradient step; the look-ahead points are what gets averaged."""
    x_half = project_to_simplex(x + steps * _row_values(payoffs, y), dim=0)
    y_half = project_to_simplex(y - steps * _column_values(payoffs, x), dim=0)
    x = project_to_simplex(x + steps * _row_values(payoffs, y_half), dim=0)
    y = project_to_simplex(y - steps * _column_values(payoffs, x_half), dim=0)
    return x, y, x_half, y_half


def _primal_dual_iteration(payoffs: Tensor, x: Tensor, y: Tensor, steps: Tensor) -> tuple[Tensor, ...]:
    """One PDHG step: the row player moves, the column player answers its extrapolation."""
    x_next = project_to_simplex(x + steps * _row_values(payoffs, y), dim=0)
    y = project_to_simplex(y - steps * _column_values(payoffs, 2 * x_next - x), dim=0)
    return x_next, y, x_next, y


_ITERATIONS = {"primal_dual": _primal_dual_iteration, "extragradient": _extragradient_iteration}


def _best_point(
    payoffs: Tensor, x: Tensor, y: Tensor, x_sum: Tensor, y_sum: Tensor, averaged: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Per game, the current or the averaged iterate, whichever has the lower NashConv."""
    gap = _nash_conv(payoffs, x, y)
    if not bool((averaged > 0).any()):
        return x, y, gap
    count = averaged.clamp_min(1)
    x_average, y_average = x_sum / count, y_sum / count
    average_gap = torch.where(averaged > 0, _nash_conv(payoffs, x_average, y_average), torch.inf)
    use_average = average_gap < gap
    return (
        torch.where(use_average, x_average, x),
        torch.where(use_average, y_average, y),
        torch.minimum(gap, average_gap),
    )


def _row_values(payoffs: Tensor, y: Tensor) -> Tensor:
    """``A y`` for every game: the row player's payoff for each of its actions."""
    return (payoffs * y.unsqueeze(0)).sum(1)


def _column_values(payoffs: Tensor, x: Tensor) -> Tensor:
    """``Aᵀ x`` for every game: the row player's payoff against each column action."""
    return (payoffs * x.unsqueeze(1)).sum(0)


def _nash_conv(payoffs: Tensor, x: Tensor, y: Tensor) -> Tensor:
    return _row_values(payoffs, y).amax(0) - _column_values(payoffs, x).amin(0)


def _check_arguments(
    row_payoffs, method, tolerance, max_iterations, step_scale, step_size, restart_factor, check_every
) -> None:
    if not isinstance(row_payoffs, Tensor) or not row_payoffs.is_floating_point():
        raise TypeError(f"row_payoffs must be a floating-point torch.Tensor, got {type(row_payoffs).__name__}")
    if row_payoffs.dim() != 3 or 0 in row_payoffs.shape:
        raise ValueError("row_payoffs must have shape (games, m, n) with no empty axis, "
                         f"got {tuple(row_payoffs.shape)}")
    if not torch.isfinite(row_payoffs).all():
        raise ValueError("row_payoffs must be finite (found NaN or inf)")
    if method not in ZERO_SUM_METHODS:
        raise ValueError(f"method must be one of {ZERO_SUM_METHODS}, got {method!r}")
    if tolerance is not None and (not _is_number(tolerance) or tolerance < 0):
        raise ValueError(f"tolerance must be None or a finite number >= 0, got {tolerance!r}")
    for name, value in (("max_iterations", max_iterations), ("check_every", check_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not _is_number(step_scale) or not 0 < step_scale < 1:
        raise ValueError(f"step_scale must be in (0, 1), got {step_scale!r}")
    if step_size is not None and (not _is_number(step_size) or step_size <= 0):
        raise ValueError(f"step_size must be None or a finite number > 0, got {step_size!r}")
    if not _is_number(restart_factor) or not 0 < restart_factor < 1:
        raise ValueError(f"restart_factor must be in (0, 1), got {restart_factor!r}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < float("inf")

"""The tables of ``scripts/bench_applications.py``: one block per case from the summaries that
:mod:`harness.likelihood_benchmark` computes (best-of-restarts log-likelihood, time, steps, stuck
rates, collapses, and the verdict against EM)."""

from __future__ import annotations

from collections.abc import Callable

from harness.likelihood_benchmark import FLOOR_FACTOR

__all__ = ["format_hmm_rows", "format_mixture_rows"]


def _row(label: str, result: dict, extra: str) -> str:
    stuck = "-" if result["stuck_starts"] is None else f"{100 * result['stuck_starts']:.0f}%"
    return (f"  {label:<6}{result['median_best']:>14.6f}{result['worst_best']:>14.6f}{result['median_seconds']:>9.2f}"
            f"{result['median_steps']:>8.0f}{stuck:>8}{100 * result['stuck_best_of_restarts']:>8.0f}%"
            f"{result['collapsed_starts']:>7}  {extra}")


def _header(restarts: int) -> str:
    return (f"  {'':<6}{'median LL':>14}{'worst LL':>14}{'med s':>9}{'steps':>8}{'stuck':>8}{'stuck':>9}"
            f"{'coll.':>7}\n  {'':<6}{'best of ' + str(restarts):>14}{'best of ' + str(restarts):>14}{'':>9}"
            f"{'(med)':>8}{'starts':>8}{'best':>9}")


def _verdict(result: dict) -> str:
    seeds = result["seeds"]
    line = (f"  ours >= EM on {result['seeds_ours_at_least_em']}/{seeds} seeds (worst ours - EM: "
            f"{result['worst_difference']:+.2e}); time ours/EM {result['time_ratio']:.2f}x")
    if result.get("em_ahead_median_smallest_relative_eigenvalue") is not None:
        line += (f"; where EM is ahead, its smallest eigenvalue / data variance has median "
                 f"{result['em_ahead_median_smallest_relative_eigenvalue']:.1e}")
    if "em_ahead_at_floor" in result:
        line += (f"\n  EM ahead at its regularization floor (an eigenvalue <= {FLOOR_FACTOR:g} reg_covar) on "
                 f"{result['em_ahead_at_floor']} seeds; ours >= EM's best fit off the floor on "
                 f"{result['seeds_ours_at_least_em_regular']}/{seeds} seeds")
    return line


def format_mixture_rows(results: list[dict], restarts: int) -> str:
    return _format_rows(
        f"Gaussian mixtures: ascentrl GaussianMixture ({restarts} restarts in one batch) vs scikit-learn EM "
        f"({restarts} k-means starts), mean log-likelihood per point", results, restarts,
        lambda run: f"smallest eigenvalue / data variance {run['smallest_relative_eigenvalue']:.1e}")


def format_hmm_rows(results: list[dict], restarts: int) -> str:
    return _format_rows(
        f"HMMs: ascentrl ({restarts} restarts in one batch) vs hmmlearn Baum-Welch ({restarts} starts), "
        "mean log-likelihood per observation", results, restarts,
        lambda run: f"right parameters (best of {restarts}): {100 * run['right_parameters']:.0f}%")


def _format_rows(title: str, results: list[dict], restarts: int, detail: Callable[[dict], str]) -> str:
    """One table per case: ours and EM, each row with its method-specific ``detail``, then the verdict."""
    lines = [title]
    for result in results:
        lines += [f"{result['case']}: {result['description']}", _header(restarts)]
        for method, label in (("ours", "ours"), ("em", "EM")):
            lines.append(_row(label, result[method], detail(result[method])))
        lines.append(_verdict(result))
    return "\n".join(lines)

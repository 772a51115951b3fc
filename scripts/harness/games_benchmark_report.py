"""The targets and the text table of ``scripts/bench_games.py``.

The report is the benchmark's JSON object: ``zero_sum`` (entries of
:func:`harness.zero_sum_timing.bench_zero_sum`), and where they were measured ``dynamics`` (rows of
:func:`harness.dynamics_timing.compare_dynamics_paths`) and ``catalogue``
(:func:`harness.dynamics_timing.time_catalogue`). :func:`target_verdicts` judges it against the
targets below; :func:`format_report` prints it as tables.
"""

from __future__ import annotations

__all__ = ["TARGET_CATALOGUE_SECONDS", "TARGET_DIFFERENCE", "TARGET_MS_PER_1000_STEPS", "TARGET_SPEEDUP",
           "TARGET_TOLERANCE", "format_report", "target_verdicts"]

TARGET_TOLERANCE = 1e-9
"""Every game certified at NashConv ≤ this."""
TARGET_SPEEDUP = 30.0
"""Our time per game at least this many times shorter than HiGHS's, every shape."""
TARGET_MS_PER_1000_STEPS = 50.0
"""CPU milliseconds per 1,000 closed-form steps of every dynamics on a 2×2 game, at most."""
TARGET_DIFFERENCE = 1e-12
"""Largest difference between the closed-form and the autograd trajectories."""
TARGET_CATALOGUE_SECONDS = 5.0
"""Wall seconds of ``scripts/matrix_games.py --game all --steps 2000`` in closed form, at most."""


def target_verdicts(report: dict) -> dict:
    """Each target of the issue: met or not (None where its measurement was skipped)."""
    shapes = report["zero_sum"]
    met = {
        "certified": all(entry["ours"]["fraction_solved"] == 1.0 for entry in shapes)
        and report["tolerance"] <= TARGET_TOLERANCE,
        "speedup": all(entry["speedup"] >= TARGET_SPEEDUP for entry in shapes) if "speedup" in shapes[0] else None,
        "dynamics_speed": None, "dynamics_equality": None, "catalogue_seconds": None,
    }
    if "dynamics" in report:
        rows = report["dynamics"]
        met["dynamics_speed"] = all(row["closed_form_ms_per_1000_steps"] <= TARGET_MS_PER_1000_STEPS for row in rows)
        met["dynamics_equality"] = all(row["max_difference"] <= TARGET_DIFFERENCE for row in rows)
    if "catalogue" in report:
        met["catalogue_seconds"] = report["catalogue"]["closed_form"]["wall_seconds"] <= TARGET_CATALOGUE_SECONDS
    return met


def format_report(report: dict, *, dynamics_steps: int) -> str:
    """The report as text: one table per measurement and the targets' verdicts.

    Args:
        report: the benchmark's JSON object, ``targets`` included.
        dynamics_steps: steps of each dynamics run (the rows do not record it).
    """
    lines = [f"Zero-sum games: standard normal payoffs (seed {report['seed']}), float64, {report['threads']} torch"
             f" thread(s) x {report['processes']} process(es); certified = NashConv <= {report['tolerance']:g}",
             f"{'shape':<7}{'games':>8}{'solver':>26}{'certified':>11}{'seconds':>9}{'us/game':>9}"
             f"{'pivots/it (med, max)':>22}{'worst NashConv':>16}"]
    for entry in report["zero_sum"]:
        for row in [entry["ours"], *entry.get("baselines", [])]:
            lines.append(f"{entry['shape']:<7}{entry['games']:>8}{row['solver']:>26}"
                         f"{100 * row['fraction_solved']:>10.2f}%{row['wall_seconds']:>9.3f}{row['us_per_game']:>9.1f}"
                         f"{row['median_iterations']:>14.0f}, {row['max_iterations']:<6.0f}"
                         f"{row['worst_nash_conv']:>16.2e}")
        if "highs" in entry:
            highs = entry["highs"]
            lines.append(f"{'':<7}HiGHS on the first {highs['games_measured']}: {highs['us_per_game']:.0f} us/game,"
                         f" worst NashConv {highs['worst_nash_conv']:.1e}; ours is {entry['speedup']:.0f}x faster per"
                         f" game; values agree to {highs['max_value_difference']:.1e}")
    if "dynamics" in report:
        lines.append(f"\nDynamics on matching pennies, {dynamics_steps} steps, CPU ms per 1,000 steps:")
        lines.append(f"{'method':<15}{'strategies':>11}{'closed form':>13}{'autograd':>10}{'ratio':>8}"
                     f"{'max difference':>16}")
        for row in report["dynamics"]:
            lines.append(f"{row['method']:<15}{row['parameterization']:>11}{row['closed_form_ms_per_1000_steps']:>13.1f}"
                         f"{row['autograd_ms_per_1000_steps']:>10.0f}{row['speedup']:>7.0f}x{row['max_difference']:>16.1e}")
    if "catalogue" in report:
        catalogue = report["catalogue"]
        closed, autograd = catalogue["closed_form"], catalogue["autograd"]
        lines.append(f"\nscripts/matrix_games.py --game all --steps {catalogue['steps']}: closed form"
                     f" {closed['wall_seconds']:.2f} s wall ({closed['cpu_seconds']:.2f} s CPU), --autograd"
                     f" {autograd['wall_seconds']:.1f} s wall ({autograd['cpu_seconds']:.1f} s CPU), ratio"
                     f" {autograd['wall_seconds'] / closed['wall_seconds']:.0f}x; outputs agree to"
                     f" {catalogue['max_difference']:.1e}")
    verdicts = {True: "met", False: "NOT met", None: "not measured"}
    lines.append("\nTargets: " + "; ".join(f"{name} {verdicts[value]}" for name, value in report["targets"].items()))
    return "\n".join(lines)

"""The GAN section of the applications benchmark: modes covered and high-quality samples per dynamics.

Every requested dynamics trains the same GAN (same networks, optimizer and seeds; see
:class:`ascentrl.applications.GANSettings`) on ring8 and grid25, and the plain simultaneous dynamics is
always run beside it as the baseline. :func:`gan_rows` returns one row per (target, dynamics, seed);
:func:`format_gan_table` summarizes them per (target, dynamics) next to the published figures of
PacGAN (Lin et al. 2018) and VEEGAN (Srivastava et al. 2017): means over their trials, with their
networks and training length, not run here.

Target of issue 13: with at least one dynamics, every mode covered (8/8, 25/25) with at least 90%
high-quality samples on 5 of 5 seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch

from ascentrl.applications import GANSettings, make_target, train_gan

__all__ = ["PUBLISHED", "TARGET_HIGH_QUALITY", "format_gan_table", "gan_rows", "meets_target", "summarize"]

TARGET_HIGH_QUALITY = 0.9

PUBLISHED = {
    "ring8": [("GAN", 6.3, 0.98), ("PacGAN", 7.9, 0.96)],
    "grid25": [("GAN", 17.3, 0.95), ("PacGAN", 24.8, 0.94), ("VEEGAN", 24.6, 0.40)],
}
"""Published (method, mean modes covered, mean high-quality fraction) on the same targets, as quoted in
issue 13 from the PacGAN and VEEGAN papers (their networks and training length; not run here)."""


def meets_target(row: dict) -> bool:
    """All modes covered with at least 90% high-quality samples."""
    return row["modes_covered"] == row["modes"] and row["high_quality_fraction"] >= TARGET_HIGH_QUALITY


def gan_rows(
    targets: Sequence[str] = ("ring8", "grid25"),
    dynamics: Sequence[str] = ("simultaneous", "alternating"),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    settings: GANSettings | None = None,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train one GAN per (target, dynamics, seed) and score it; ``simultaneous`` is always included.

    Args:
        targets: ``ring8`` and/or ``grid25``.
        dynamics: the dynamics to compare (``simultaneous`` is added first if missing).
        seeds: one run per seed.
        settings: shared settings; each run replaces only ``dynamics``. Defaults to ``GANSettings()``.
        progress: called with every finished row.
    """
    settings = settings or GANSettings()
    methods = ["simultaneous", *[name for name in dynamics if name != "simultaneous"]]
    rows = []
    torch.set_num_threads(1)
    for target_name in targets:
        target = make_target(target_name)
        for method in methods:
            for seed in seeds:
                run = train_gan(target, dataclasses.replace(settings, dynamics=method), seed=seed)
                row = {
                    "target": target_name,
                    "dynamics": method,
                    "seed": seed,
                    "modes_covered": run.coverage.modes_covered,
                    "modes": target.n_modes,
                    "high_quality_fraction": run.coverage.high_quality_fraction,
                    "mode_kl": run.coverage.mode_kl,
                    "seconds": run.seconds,
                }
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


def summarize(rows: Sequence[dict]) -> list[dict]:
    """One summary per (target, dynamics): means, worst seed, seeds meeting the target, time vs simultaneous."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["target"], row["dynamics"]), []).append(row)
    baseline_seconds = {target: sum(r["seconds"] for r in group) / len(group)
                        for (target, method), group in groups.items() if method == "simultaneous"}
    summaries = []
    for (target, method), group in groups.items():
        seconds = sum(r["seconds"] for r in group) / len(group)
        summaries.append({
            "target": target,
            "dynamics": method,
            "seeds": len(group),
            "mean_modes_covered": sum(r["modes_covered"] for r in group) / len(group),
            "min_modes_covered": min(r["modes_covered"] for r in group),
            "modes": group[0]["modes"],
            "mean_high_quality_fraction": sum(r["high_quality_fraction"] for r in group) / len(group),
            "min_high_quality_fraction": min(r["high_quality_fraction"] for r in group),
            "seeds_meeting_target": sum(meets_target(r) for r in group),
            "mean_seconds": seconds,
            "time_vs_simultaneous": seconds / baseline_seconds[target] if target in baseline_seconds else None,
        })
    return summaries


def format_gan_table(rows: Sequence[dict]) -> str:
    """A text table of :func:`summarize` with the published figures under each target."""
    lines = [f"{'target':<8}{'dynamics':<15}{'modes (mean, min)':>19}{'high quality (mean, min)':>26}"
             f"{'target met':>12}{'s/run':>8}{'x simult.':>11}"]
    summaries = summarize(rows)
    for target in dict.fromkeys(s["target"] for s in summaries):
        for s in (s for s in summaries if s["target"] == target):
            ratio = "-" if s["time_vs_simultaneous"] is None else f"{s['time_vs_simultaneous']:.2f}"
            lines.append(
                f"{target:<8}{s['dynamics']:<15}"
                f"{s['mean_modes_covered']:>10.1f}, {s['min_modes_covered']:>2}/{s['modes']:<3}"
                f"{100 * s['mean_high_quality_fraction']:>15.1f}%, {100 * s['min_high_quality_fraction']:>5.1f}%"
                f"{s['seeds_meeting_target']:>8}/{s['seeds']:<3}{s['mean_seconds']:>8.1f}{ratio:>11}"
            )
        for method, modes, quality in PUBLISHED.get(target, []):
            lines.append(f"{'':<8}{method + ' (published)':<19}{modes:>10.1f}{'':<18}{100 * quality:>5.1f}%")
    lines.append(f"(target met = all modes covered and >= {100 * TARGET_HIGH_QUALITY:.0f}% high-quality samples;"
                 " 2,500 samples per run; high quality = within 3 sigma of the nearest mode)")
    return "\n".join(lines)

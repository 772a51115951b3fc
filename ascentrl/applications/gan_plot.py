"""A scatter plot of GAN samples over the modes of a 2-D mixture target, written atomically.

Generated points are drawn small and translucent; every mode is a ring of radius ``3σ`` (the
high-quality radius of :mod:`ascentrl.applications.gan_targets`), red if no high-quality sample
reached it, green otherwise. matplotlib's object API only (no pyplot), so nothing global changes.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor

from ascentrl.applications.gan_targets import HIGH_QUALITY_RADIUS, MixtureTarget, mode_coverage
from ascentrl.plots import write_figure

__all__ = ["write_sample_plot"]


def write_sample_plot(path: str | os.PathLike, samples: Tensor, target: MixtureTarget, *, title: str = "") -> Path:
    """Scatter ``samples`` (``(n, 2)``) over ``target``'s modes and write a PNG to ``path``, atomically.

    The title gets the modes covered and the high-quality share appended.
    """
    from matplotlib.figure import Figure  # imported here: only runs that plot pay for it
    from matplotlib.patches import Circle

    coverage = mode_coverage(samples, target)
    points = samples.detach().cpu().numpy()
    figure = Figure(figsize=(5.4, 5.4), layout="constrained")
    axes = figure.subplots()
    axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.35, color="tab:blue", label="generated", rasterized=True)
    for mean, count in zip(target.means.tolist(), coverage.samples_per_mode.tolist()):
        axes.add_patch(Circle(mean, HIGH_QUALITY_RADIUS * target.std, fill=False, lw=1.0,
                              color="tab:green" if count else "tab:red"))
    extent = float(target.means.abs().max()) + 1.0
    axes.set_xlim(-extent, extent)
    axes.set_ylim(-extent, extent)
    axes.set_aspect("equal")
    axes.grid(alpha=0.2)
    summary = (f"{coverage.modes_covered}/{target.n_modes} modes, "
               f"{100 * coverage.high_quality_fraction:.1f}% high quality")
    axes.set_title(f"{title}\n{summary}" if title else summary, fontsize="medium")
    axes.legend(loc="upper right", fontsize="small", markerscale=4)
    return write_figure(path, figure)

r"""Settings under which optimistic and extragradient converge in the last iterate from sampled play.

With sampled returns, :class:`~ascentrl.agents.MultiAgentReinforce` with ``method="optimistic"`` or
``"extragradient"`` and one step size ends in a cloud around the equilibrium (NashConv ~0.1-0.15 on
matching pennies with the defaults): the contraction these methods add per step and the noise they
take in both scale with the square of the step, so no schedule of a single step shrinks the cloud
(:mod:`ascentrl.games.dynamics`, "Two step sizes"). :data:`LAST_ITERATE_PRESETS` holds what
converges instead:

1. **Two step sizes** (``dynamics_options={"extrapolation_lr": γ}``): the look-ahead takes a
   large constant step ``γ``, the update the optimizer's rate ``η_t`` (Hsieh et al. 2020; for
   ``optimistic`` Popov's single-call form, whose base point is the policy).
2. **A decaying update rate** (``lr_schedule="inverse"``): ``η_t = η_0 / (1 + t/τ)``
   (:class:`ascentrl.training.InverseTimeLR`), so the noise the updates take in vanishes while their
   total length does not (Robbins and Monro 1951).
3. **The same sample for the look-ahead**, as every dynamics of the learner already does: the
   look-ahead gradient is the importance-weighted estimate on the batch just played, so one batch
   of episodes serves both gradients.

How the numbers follow from the game. Near an interior equilibrium ``(p, q)`` of a two-player
zero-sum game the logit gradients rotate at rate ``c``, the largest singular value of
``(diag p − p pᵀ) A (diag q − q qᵀ)``: ``c = 1/2`` for matching pennies, ``√3/9 ≈ 0.19`` for
rock-paper-scissors. Extragradient takes ``γ = 1/c`` and ``η_0 = 1/(2c)``; optimistic, whose
look-ahead recursion diverges from ``γ c ≈ 1`` on, takes ``γ = 0.7/c`` and ``η_0 = 0.4/c``. The
update then contracts the squared distance by ``~2 η γ c²`` per iteration, and ``τ`` makes the
Robbins–Monro constant ``a λ = η_0 τ · γ c²`` about 3: above 1/2, so the error decays like
``1/t``, and not so large that it inflates the constant of that decay. ``iterations`` is the
training budget.

``scripts/bench_last_iterate.py`` measures these settings over many seeds against the one-step-size
runs, and ``tests/test_sampled_last_iterate.py`` checks each of them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LAST_ITERATE_PRESETS", "last_iterate_preset"]

LAST_ITERATE_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "extragradient": {
        "matching_pennies": {"lr": 1.0, "lr_schedule": "inverse", "lr_time_scale": 6.0,
                             "dynamics_options": {"extrapolation_lr": 2.0}, "iterations": 300},
        "rock_paper_scissors": {"lr": 2.6, "lr_schedule": "inverse", "lr_time_scale": 6.0,
                                "dynamics_options": {"extrapolation_lr": 5.0}, "iterations": 300},
    },
    "optimistic": {
        "matching_pennies": {"lr": 0.8, "lr_schedule": "inverse", "lr_time_scale": 10.0,
                             "dynamics_options": {"extrapolation_lr": 1.4}, "iterations": 300},
        "rock_paper_scissors": {"lr": 2.1, "lr_schedule": "inverse", "lr_time_scale": 10.0, "num_envs": 256,
                                "dynamics_options": {"extrapolation_lr": 3.6}, "iterations": 300},
    },
}
"""``LAST_ITERATE_PRESETS[method][matrix game]``: :class:`~ascentrl.agents.MultiAgentConfig` fields,
plus the training budget ``iterations``. Rock-paper-scissors' gradients are noisier relative to its
coupling ``c``, and optimistic's smaller ``γ`` contracts more slowly, so that pair plays 256 episodes
per update instead of the default 128."""


def last_iterate_preset(method: str, game: str) -> tuple[dict[str, Any], int]:
    """The config fields (a deep copy) and the iterations of ``LAST_ITERATE_PRESETS[method][game]``.

    Raises:
        KeyError: no preset for that method and game; the message lists the ones there are.
    """
    try:
        preset = LAST_ITERATE_PRESETS[method][game]
    except KeyError:
        there = ", ".join(f"{m} on {g}" for m, games in LAST_ITERATE_PRESETS.items() for g in games)
        raise KeyError(f"no last-iterate preset for {method} on {game}; there are: {there}") from None
    fields = {name: dict(value) if isinstance(value, dict) else value for name, value in preset.items()}
    return fields, fields.pop("iterations")

"""Runner of ``scripts/bench_extensive_sampled_play.py``: multi-agent learners trained from sampled
deals of Kuhn or Leduc poker (``extensive/<game>``, :class:`ascentrl.envs.ExtensiveGameEnv`) for a
wall budget, with the exact NashConv of what they have learned along the way.

After every iteration two profiles are measured exactly (:func:`ascentrl.games.extensive.nash_conv`):

- the **last iterate**: the learned policy table (:func:`ascentrl.agents.extensive_play.learned_policy_table`);
- the **average**: the mean of the iterates' realization plans (sequence form), the profile whose
  NashConv CFR-style averaging reports; averaging plans, not tables, weights each information set
  by how often the iterate reaches it, as a mixture of the iterates' strategies does.

Measuring happens off the training clock: ``seconds`` counts training time only. The reference in
the same run is uniform play's NashConv (0.916667 on Kuhn, 4.747222 on Leduc), computed exactly.
"""

from __future__ import annotations

import time
from typing import Any

from ascentrl.agents import MULTIAGENT_ALGORITHMS, multiagent_preset_for
from ascentrl.agents.extensive_play import learned_policy_table
from ascentrl.games.extensive import nash_conv, sequence_form, uniform_policy
from ascentrl.rng import seed_everything
from harness.turn_based_games import import_torch_dynamo

__all__ = ["train_from_sampled_play"]


def train_from_sampled_play(game_name: str, seconds: float | None, seed: int, algo: str = "ppo",
                            overrides: dict[str, Any] | None = None, iterations: int | None = None) -> dict[str, Any]:
    """Train ``algo`` on ``extensive/<game_name>`` for ``iterations`` updates (the horizon of a decaying
    ``lr_schedule``; none: the preset's budget, if it has one) or ``seconds`` of training time,
    whichever ends first; the NashConv curve."""
    env_id = f"extensive/{game_name}"
    preset = multiagent_preset_for(algo, env_id, with_budget=True)
    preset_iterations = preset.pop("iterations", None)
    iterations = preset_iterations if iterations is None else iterations
    if seconds is None and iterations is None:
        raise ValueError("train_from_sampled_play needs seconds, iterations or both")
    learner_class = MULTIAGENT_ALGORITHMS[algo]
    config = learner_class.config_class(**{**preset, "env": env_id, "seed": seed, **(overrides or {})})
    import_torch_dynamo()
    seed_everything(seed)
    learners = learner_class(config)
    game = learners.extensive_game
    curve: list[dict[str, float]] = []
    plan_sum = None
    measuring = 0.0  # seconds spent measuring, taken off the training clock
    start = time.perf_counter()

    def measure(record: Any) -> None:
        nonlocal plan_sum, measuring
        began = time.perf_counter()
        plan = sequence_form(game, learned_policy_table(learners))
        plan_sum = plan if plan_sum is None else plan_sum + plan
        curve.append({"seconds": began - start - measuring, "iterations": record.iteration,
                      "episodes": record.counters["episodes"], "last_nash_conv": float(nash_conv(game, plan)),
                      "average_nash_conv": float(nash_conv(game, plan_sum / (len(curve) + 1)))})
        measuring += time.perf_counter() - began

    try:
        learners.train(iterations or 10**9, on_update=measure, eval_episodes=None,
                       should_stop=None if seconds is None else
                       lambda: time.perf_counter() - start - measuring >= seconds)
    finally:
        learners.close()
    return {"game": game_name, "algo": algo, "seed": seed, "seconds": seconds, "iterations": iterations,
            "config": overrides or {},
            "uniform_nash_conv": float(nash_conv(game, sequence_form(game, uniform_policy(game)))), "curve": curve}

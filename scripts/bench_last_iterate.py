"""Benchmark: the last iterate of optimistic and extragradient learning from sampled play, per seed.

For every game of --games (matching_pennies, rock_paper_scissors) and method of --methods
(optimistic, extragradient), each seed trains ascentrl.agents.MultiAgentReinforce three ways on the
same budget (the preset's episodes per update and iterations), all from sampled returns:

- defaults: the config's defaults (one step size, lr 0.5 decayed linearly to 0): the runs the
  issue measured, the peer of this benchmark;
- one-step: the preset's decaying rate lr/(1+t/tau), the look-ahead taking that rate too;
- two-step: ascentrl.agents.LAST_ITERATE_PRESETS[method][game]: the same rate for the update and
  a constant, larger extrapolation_lr for the look-ahead.

It prints, per game, method and variant, the NashConv of the learned strategies after the last
update (median and worst over the seeds), how many seeds end at NashConv <= --target-nash-conv,
the iteration from which a run stays there (median over the seeds that end there), and the wall
seconds per run; then the ratio of each peer's worst final NashConv to two-step's and of their
times. Target (issue 14): two-step ends at NashConv <= 0.05 on every seed, for both methods and
both games.

  python scripts/bench_last_iterate.py [--seeds 10] [--games matching_pennies] [--methods optimistic] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass

from ascentrl.agents import LAST_ITERATE_PRESETS, MultiAgentConfig, MultiAgentReinforce, last_iterate_preset
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail

VARIANTS = ("defaults", "one-step", "two-step")


@dataclass
class BenchConfig:
    """What to run and what counts as converged."""

    seeds: int = 10
    """Seeds 0 .. seeds-1, each trained by every variant."""
    games: str = "matching_pennies,rock_paper_scissors"
    """Matrix games, comma-separated (each needs a preset)."""
    methods: str = "optimistic,extragradient"
    """Methods, comma-separated (each needs a preset)."""
    variants: str = ",".join(VARIANTS)
    """Variants to run, comma-separated: defaults, one-step, two-step."""
    target_nash_conv: float = 0.05
    """A run reaches the target when the NashConv after its last update is at most this."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or self.seeds < 1:
            raise ValueError(f"--seeds must be a positive integer, got {self.seeds!r}")
        if not self.target_nash_conv > 0:
            raise ValueError(f"--target-nash-conv must be > 0, got {self.target_nash_conv!r}")
        for game in self.game_list():
            for method in self.method_list():
                if game not in LAST_ITERATE_PRESETS.get(method, {}):
                    raise ValueError(f"--games/--methods: no preset for {method} on {game}; presets: "
                                     + ", ".join(f"{m} on {g}" for m, gs in LAST_ITERATE_PRESETS.items() for g in gs))
        unknown = set(self.variant_list()) - set(VARIANTS)
        if unknown:
            raise ValueError(f"--variants must be among {', '.join(VARIANTS)}; got {', '.join(sorted(unknown))}")

    def game_list(self) -> list[str]:
        return [name.strip() for name in self.games.split(",") if name.strip()]

    def method_list(self) -> list[str]:
        return [name.strip() for name in self.methods.split(",") if name.strip()]

    def variant_list(self) -> list[str]:
        return [name.strip() for name in self.variants.split(",") if name.strip()]


def variant_config(variant: str, method: str, game: str, seed: int) -> tuple[MultiAgentConfig, int]:
    """The config of one variant (module docstring) and its iterations."""
    fields, iterations = last_iterate_preset(method, game)
    if variant == "defaults":
        fields = {"num_envs": fields["num_envs"]} if "num_envs" in fields else {}
    elif variant == "one-step":
        fields["dynamics_options"] = {}
    return MultiAgentConfig(env=game, method=method, seed=seed, **fields), iterations


def run(config: MultiAgentConfig, iterations: int, target: float) -> dict:
    """Train; the final NashConv, the iteration from which NashConv stays <= target (or None), time."""
    learners = MultiAgentReinforce(config)
    try:
        history = learners.train(iterations)
    finally:
        learners.close()
    nash_convs = [record.nash_conv for record in history.records]
    settled = None
    for index in range(len(nash_convs), 0, -1):
        if nash_convs[index - 1] > target:
            break
        settled = index
    return {"seed": config.seed, "final_nash_conv": nash_convs[-1], "settled_at": settled,
            "episodes": history.episodes, "wall_seconds": history.wall_seconds}


def summarize(runs: list[dict], target: float) -> dict:
    finals = [r["final_nash_conv"] for r in runs]
    settled = [r["settled_at"] for r in runs if r["settled_at"] is not None]
    return {"median_final_nash_conv": statistics.median(finals), "worst_final_nash_conv": max(finals),
            "reached": sum(final <= target for final in finals), "seeds": len(runs),
            "median_settled_at": statistics.median(settled) if settled else None,
            "median_wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
            "episodes_per_run": runs[0]["episodes"]}


def format_report(bench: BenchConfig, results: dict) -> str:
    lines = [f"last iterate from sampled play, seeds 0-{bench.seeds - 1}, target NashConv <= {bench.target_nash_conv}"]
    for key, variants in results.items():
        game, method = key.split("/")
        lines.append(f"{method} on {game}")
        summaries = {variant: entry["summary"] for variant, entry in variants.items()}
        for variant, summary in summaries.items():
            settled = (f"stays from iteration {summary['median_settled_at']:.0f}"
                       if summary["median_settled_at"] is not None else "never settles")
            lines.append(f"  {variant:9s} final NashConv median {summary['median_final_nash_conv']:.3f} worst "
                         f"{summary['worst_final_nash_conv']:.3f}; {summary['reached']}/{summary['seeds']} seeds "
                         f"<= target, {settled}; {summary['median_wall_seconds']:.2f} s per run "
                         f"({summary['episodes_per_run']} episodes)")
        two_step = summaries.get("two-step")
        if two_step is None:
            continue
        for peer in ("defaults", "one-step"):
            if peer in summaries:
                nash_conv_ratio = summaries[peer]["worst_final_nash_conv"] / two_step["worst_final_nash_conv"]
                time_ratio = summaries[peer]["median_wall_seconds"] / two_step["median_wall_seconds"]
                lines.append(f"  {peer} / two-step: worst final NashConv {nash_conv_ratio:.1f}x, "
                             f"time {time_ratio:.2f}x")
        met = two_step["reached"] == two_step["seeds"]
        lines.append(f"  target: {'met' if met else 'NOT met'} "
                     f"(two-step worst {two_step['worst_final_nash_conv']:.3f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    try:
        bench = config_from_args(BenchConfig, parser.parse_args(argv))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    results: dict[str, dict] = {}
    for game in bench.game_list():
        for method in bench.method_list():
            entry = results.setdefault(f"{game}/{method}", {})
            for variant in bench.variant_list():
                runs = [run(*variant_config(variant, method, game, seed), bench.target_nash_conv)
                        for seed in range(bench.seeds)]
                entry[variant] = {"runs": runs, "summary": summarize(runs, bench.target_nash_conv)}
                if not bench.json:
                    print(f"{method} on {game}, {variant}: done", file=sys.stderr, flush=True)
    targets = {key: variants["two-step"]["summary"]["reached"] == bench.seeds
               for key, variants in results.items() if "two-step" in variants}
    print(json.dumps({"target_nash_conv": bench.target_nash_conv, "results": results, "targets": targets})
          if bench.json else format_report(bench, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

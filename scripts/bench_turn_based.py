"""Benchmark: our multi-agent learners against sb3-contrib's MaskablePPO on turn-based PettingZoo games.

For each game of --envs, in the same run: our learners (--algo, PPO by default, from the game's
preset in ascentrl.agents.MULTIAGENT_PRESETS) and MaskablePPO trained as in PettingZoo's own SB3
tutorial (one model playing every seat through a Gymnasium view of the AEC env, every
hyperparameter at sb3-contrib's default) each train for the same wall time (--seconds, or the
game's budget: 180 s for tic-tac-toe, 600 s for connect four). Then both are judged by the same
games in a plain PettingZoo loop, greedily, --games games per seat and opponent, with the same env
seeds: against uniformly random legal play (tic-tac-toe: loss rate per seat; connect four: win
rate per seat) and, for tic-tac-toe, against perfect minimax play (draw rate per seat). Rates come
with 95% Wilson intervals; the report ends with each target of issue 15 met or not per player and
the ratio of moves trained per second.

Targets: tic-tac-toe loss <= 1% vs random in each seat and >= 90% draws vs perfect play within 3
minutes; connect four >= 95% wins vs random in each seat within 10 minutes; both at least as good
as MaskablePPO at equal time. Wall times are noisy on a shared machine: compare the two players of
one run, not runs on different days.

  python scripts/bench_turn_based.py [--envs classic/tictactoe-v3] [--seconds 180] [--games 1000] [--json]

Needs the bench extra (sb3-contrib); --no-peer runs ours alone.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from harness.turn_based_games import GAMES, compare, format_report

from ascentrl.agents import MULTIAGENT_ALGORITHMS, multiagent_preset_for
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail


@dataclass
class BenchConfig:
    """What to train, for how long, and how many games judge it."""

    envs: str = ",".join(GAMES)
    """PettingZoo ids, comma-separated: classic/tictactoe-v3, classic/connect_four-v3."""
    seconds: float | None = None
    """Wall seconds of training for each learner; none: the game's budget (180 tic-tac-toe, 600 connect four)."""
    games: int = 1000
    """Judging games per seat and opponent."""
    seed: int = 0
    """Seed of both learners and of the judging games."""
    algo: str = "ppo"
    """Our learner: ppo or reinforce."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Options of our learner that replace the preset's, as JSON, e.g. '{"lr": 0.001}'."""
    peer: bool = True
    """Also train and judge MaskablePPO (--no-peer: ours alone)."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        unknown = [env for env in self.env_list() if env not in GAMES]
        if unknown or not self.env_list():
            raise ValueError(f"--envs must be among {', '.join(GAMES)}; got {self.envs!r}")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"--seconds must be > 0, got {self.seconds!r}")
        if isinstance(self.games, bool) or self.games < 1:
            raise ValueError(f"--games must be a positive integer, got {self.games!r}")
        if isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if self.algo not in MULTIAGENT_ALGORITHMS:
            raise ValueError(f"--algo must be one of {', '.join(MULTIAGENT_ALGORITHMS)}; got {self.algo!r}")
        config_class = MULTIAGENT_ALGORITHMS[self.algo].config_class
        try:  # the learner's own checks, before any training
            config_class(**{**multiagent_preset_for(self.algo, self.env_list()[0]), **self.overrides,
                            "env": self.env_list()[0]})
        except TypeError as error:
            raise ValueError(f"--overrides: {error}") from None
        except ValueError as error:
            raise ValueError(f"--overrides: {str(error).splitlines()[0]}") from None

    def env_list(self) -> list[str]:
        return [name.strip() for name in self.envs.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    arguments = parser.parse_args(argv)
    try:
        bench = config_from_args(BenchConfig, arguments)
    except (TypeError, ValueError) as error:
        fail(parser, error)
    if bench.peer:
        try:
            import sb3_contrib  # noqa: F401  (checked before any training starts)
        except ImportError:
            fail(parser, ValueError("--peer needs sb3-contrib (pip install 'ascentrl[bench]'); or pass --no-peer"))
    results = [compare(env, bench.seconds or GAMES[env].seconds, bench.games, bench.seed, bench.algo, bench.peer,
                       bench.overrides or None) for env in bench.env_list()]
    if bench.json:
        print(json.dumps({"games": results}))
    else:
        print("\n\n".join(format_report(result) for result in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

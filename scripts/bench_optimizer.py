"""Time Ascent.step() against torch.optim on the same tensors, the contenders of a row in turns.

1. Targets (issue 11). Adam with Ascent's defaults (nonfinite="raise": every gradient is read once
   more, for the NaN/inf check and the norm logged in last_stats) against torch.optim.Adam with
   maximize=True, fused and foreach, on two workloads: "actor-critic", the 12 tensors of a 64-64
   actor-critic (9,797 parameters; a step there is almost all per-call overhead), target <= 1.1x
   torch fused; and "200x10k", 200 tensors of 10,000 elements, target <= 1.2x. Ascent with
   nonfinite="ignore" is timed too. A second row adds clip_norm, which the torch peers do with
   clip_grad_norm_ (in place on the gradients; Ascent clips copies).
2. Modes (--modes). Every mode (Adam, Adagrad, RMSprop, SGD with momentum or Nesterov, norm and
   value clipping, gradient noise, perturbed ascent) on 200x10k and one 10M tensor, against the
   fastest torch composition doing the same update, and the defaults against that composition
   preceded by the same NaN/inf check.

Every contender gets its own parameters holding the same fixed random gradients, so only the
optimizer is timed; each is built --instances times on separately allocated tensors, since where
they land in memory moves a small step's time by up to ~20%. Each round calls every instance once,
starting with a different one each round, so that a machine busy with other work slows them alike;
figures are medians over all rounds and instances, and ratios come from the same rounds.

  python scripts/bench_optimizer.py [--rounds 1000] [--large-rounds 10] [--instances 3] [--threads 1]
                                    [--no-modes] [--json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import torch
from harness.optimizer_timing import CASES, TARGET_WORKLOADS, WORKLOADS, time_case

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail

TARGET_CASES = ("adam", "adam+clip_norm")
MODE_WORKLOADS = ("200x10k", "1x10M")


@dataclass
class BenchConfig:
    """How long to measure, and what."""

    rounds: int = 1000
    """Timed rounds on the actor-critic workload (a round calls every instance of every contender once)."""
    large_rounds: int = 10
    """Timed rounds on the 200x10k and 1x10M workloads."""
    instances: int = 3
    """Instances of each contender, each on its own tensors (one on 1x10M, for memory): where a
    contender's tensors land in memory moves a small step's time by up to ~20%."""
    threads: int = 1
    """torch threads. One measures the optimizers; on a shared machine, several measure mostly how
    long OpenMP waits for a descheduled thread at each parallel region."""
    modes: bool = True
    """Also time every other mode on 200x10k and 1x10M (part 2)."""
    json: bool = False
    """Print one JSON object instead of tables."""

    def __post_init__(self) -> None:
        for name in ("rounds", "large_rounds", "instances", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        config = config_from_args(BenchConfig, parser.parse_args(argv))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    return run(config)


def run(config: BenchConfig) -> int:
    torch.set_num_threads(config.threads)
    report = {"torch": torch.__version__, "threads": config.threads,
              "targets": [target_row(config, workload, case) for workload in TARGET_WORKLOADS for case in TARGET_CASES]}
    if config.modes:
        report["modes"] = [mode_row(config, workload, name)
                           for workload in MODE_WORKLOADS for name in CASES]
    print(json.dumps(report) if config.json else format_report(config, report))
    return 0


def _rounds(config: BenchConfig, workload: str) -> int:
    return config.rounds if workload == "actor-critic" else config.large_rounds


def _instances(config: BenchConfig, workload: str) -> int:
    return 1 if workload == "1x10M" else config.instances


def target_row(config: BenchConfig, workload: str, case: str) -> dict:
    """Ascent's defaults and nonfinite="ignore" against torch's fused and foreach Adam, in microseconds."""
    seconds = time_case(CASES[case], WORKLOADS[workload], _rounds(config, workload),
                        instances=_instances(config, workload))
    us = {name: value * 1e6 for name, value in seconds.items()}
    ratio = us["ascent"] / us["torch_fused"]
    return {"workload": workload, "case": case, "rounds": _rounds(config, workload),
            "instances": _instances(config, workload), "ascent_us": us["ascent"],
            "ascent_unchecked_us": us["ascent_unchecked"], "torch_fused_us": us["torch_fused"],
            "torch_foreach_us": us["torch_foreach"], "ratio": ratio,
            "ratio_unchecked": us["ascent_unchecked"] / us["torch_fused"],
            "ratio_to_foreach": us["ascent"] / us["torch_foreach"],
            "target": TARGET_WORKLOADS[workload], "met": ratio <= TARGET_WORKLOADS[workload]}


def mode_row(config: BenchConfig, workload: str, name: str) -> dict:
    """Defaults against the fastest torch path plus the same check; nonfinite="ignore" against it alone."""
    case = CASES[name]
    seconds = time_case(case, WORKLOADS[workload], _rounds(config, workload), instances=_instances(config, workload),
                        checked_peer=True)
    ms = {key: value * 1e3 for key, value in seconds.items()}
    torch_ms = {path: ms[f"torch_{path}"] for path in case.torch_paths}
    fastest = min(torch_ms, key=torch_ms.get)
    return {"workload": workload, "mode": name, "ascent_ms": ms["ascent"],
            "ascent_unchecked_ms": ms["ascent_unchecked"], "torch_ms": torch_ms, "torch_fastest": fastest,
            "torch_checked_ms": ms["torch_checked"],
            "ratio_checked": ms["ascent"] / ms["torch_checked"],
            "ratio_unchecked": ms["ascent_unchecked"] / torch_ms[fastest]}


def format_report(config: BenchConfig, report: dict) -> str:
    lines = [f"torch {report['torch']}, {report['threads']} thread(s); medians over {config.rounds} rounds "
             f"(actor-critic) and {config.large_rounds} (others) of {config.instances} instances of each contender "
             "(1 on 1x10M), in turns",
             "",
             "Targets: Adam, Ascent's defaults (NaN/inf check + logged norm) / torch.optim.Adam(fused=True), in us",
             f"{'workload':13}{'case':16}{'Ascent':>10}{'unchecked':>11}{'torch fused':>13}{'foreach':>10}"
             f"{'ratio':>8}{'unchecked':>11}{'target':>8}  verdict"]
    for row in report["targets"]:
        lines.append(f"{row['workload']:13}{row['case']:16}{row['ascent_us']:10.1f}{row['ascent_unchecked_us']:11.1f}"
                     f"{row['torch_fused_us']:13.1f}{row['torch_foreach_us']:10.1f}{row['ratio']:7.3f}x"
                     f"{row['ratio_unchecked']:10.3f}x{row['target']:7.1f}x  {'met' if row['met'] else 'NOT met'}")
    lines.append("ratio: Ascent's defaults / torch fused; unchecked: Ascent(nonfinite='ignore') / torch fused. With "
                 "clip_norm the torch peers clip the gradients in place with clip_grad_norm_ first.")
    if "modes" in report:
        lines += ["", "Modes, in ms: Ascent's defaults / (fastest torch path preceded by the same check); "
                  "Ascent(nonfinite='ignore') / fastest torch path",
                  f"{'workload':9} {'mode':16}{'Ascent':>9}{'torch+check':>13}{'ratio':>8}   {'unchecked':>10}"
                  f"{'torch fused':>13}{'foreach':>10}{'ratio':>8}"]
        for row in report["modes"]:
            fused = row["torch_ms"].get("fused")
            lines.append(f"{row['workload']:9} {row['mode']:16}{row['ascent_ms']:9.2f}{row['torch_checked_ms']:13.2f}"
                         f"{row['ratio_checked']:7.2f}x   {row['ascent_unchecked_ms']:10.2f}"
                         f"{(f'{fused:.2f}' if fused is not None else '-'):>13}{row['torch_ms']['foreach']:10.2f}"
                         f"{row['ratio_unchecked']:7.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

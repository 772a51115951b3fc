"""Soak test (not part of CI): train for a wall-clock time and check that resident memory stays flat.

REINFORCE trains without a target (so it never stops on its own) for --minutes, writing its
checkpoint every --checkpoint-every iterations. Every --reload-every seconds the run is stopped the
way Ctrl-C stops it, reloaded from the checkpoint into a fresh agent and resumed, so the
save/load/resume path is soaked too. Resident memory (RSS, from /proc/self/statm; the peak from
getrusage where /proc is missing) is sampled every --sample-every seconds.

The starting memory is taken after --warmup seconds of training, once imports, torch's first
allocations and the allocator's pools have settled; growth is measured from there to the end.
Exit code: 0 when memory grew by at most --max-growth (default 10%), 1 when it grew more, 2 on bad
input.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.rng import seed_everything
from ascentrl.training import Record

MEBIBYTE = 2**20
BUDGET = 10**15  # environment steps: more than any soak reaches, so only the clock stops training


@dataclass
class SoakOptions:
    """How long to soak and what counts as a leak."""

    minutes: float = 10.0
    """Wall-clock minutes of training."""
    warmup: float = 30.0
    """Seconds of training before the starting memory is taken."""
    checkpoint_every: int = 20
    """Iterations between checkpoints."""
    reload_every: float = 60.0
    """Seconds between stopping, reloading the checkpoint into a fresh agent and resuming; 0 never."""
    sample_every: float = 5.0
    """Seconds between memory samples."""
    max_growth: float = 0.10
    """Largest allowed relative growth of resident memory from the start to the end."""
    out: str | None = None
    """Folder for the checkpoint; a temporary folder (deleted afterwards) by default."""

    def __post_init__(self) -> None:
        for name, positive in (("minutes", True), ("sample_every", True), ("warmup", False),
                               ("max_growth", False), ("reload_every", False)):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (positive and value == 0):
                kind = "positive" if positive else "non-negative"
                raise ValueError(f"--{name.replace('_', '-')} must be a finite {kind} number, got {value!r}")
        if self.warmup >= self.minutes * 60:
            raise ValueError(f"--warmup ({self.warmup:g} s) must be shorter than --minutes ({self.minutes:g} min)")
        if self.checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every must be a positive integer, got {self.checkpoint_every!r}")


def resident_bytes() -> int:
    """Resident set size of this process, in bytes.

    Linux: the second field of /proc/self/statm (resident pages) times the page size. Elsewhere the
    peak resident size from ``getrusage`` (KiB on Linux, bytes on macOS), an upper bound.
    """
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class MemoryWatch:
    """Samples resident memory at most every ``interval`` seconds and prints each sample."""

    def __init__(self, interval: float, warmup: float, began: float) -> None:
        self.interval, self.warmup, self.began = interval, warmup, began
        self.at_process_start = resident_bytes()
        self.start: int | None = None
        self.latest = self.peak = self.at_process_start
        self._next = began

    def on_update(self, record: Record, *, force: bool = False) -> None:
        now = time.monotonic()
        if now < self._next and not force:
            return
        self._next = now + self.interval
        self.latest = resident_bytes()
        self.peak = max(self.peak, self.latest)
        elapsed = now - self.began
        if self.start is None and elapsed >= self.warmup:
            self.start = self.latest
        print(f"{elapsed / 60:6.2f} min  rss {self.latest / MEBIBYTE:8.1f} MiB  iteration {record.iteration:6d}  "
              f"steps {record.env_steps:>12,}  mean return {record.mean_return:7.1f}", flush=True)


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser.add_argument_group("soak"), SoakOptions)
    add_config_arguments(parser.add_argument_group("REINFORCE"), ReinforceConfig)
    return parser


def soak(options: SoakOptions, config: ReinforceConfig, folder: Path) -> int:
    checkpoint = folder / "checkpoint.pt"
    began = time.monotonic()
    deadline = began + options.minutes * 60
    watch = MemoryWatch(options.sample_every, options.warmup, began)
    agent = Reinforce(config)
    reloads = 0
    while True:
        session_end = time.monotonic() + (options.reload_every or math.inf)
        arguments = {
            "on_update": watch.on_update,
            "checkpoint_path": checkpoint,
            "checkpoint_every": options.checkpoint_every,
            "should_stop": lambda end=session_end: time.monotonic() >= min(deadline, end),
        }
        if agent.training_run is None:
            agent.train(BUDGET, **arguments)
        else:
            agent.resume_training(**arguments)
        if time.monotonic() >= deadline:
            break
        agent.close()
        agent = None
        gc.collect()
        agent = Reinforce.load(checkpoint)
        reloads += 1
    watch.on_update(agent.training_run.history.records[-1], force=True)  # the end sample

    start = watch.start if watch.start is not None else watch.at_process_start
    growth = (watch.latest - start) / start
    seconds = time.monotonic() - began
    print(f"trained {seconds / 60:.2f} min: {agent.iterations} iterations, {agent.env_steps:,} steps "
          f"({agent.env_steps / seconds:,.0f} steps/s), {reloads} reload(s) from {checkpoint} "
          f"(last written at iteration {agent.last_checkpoint[1] if agent.last_checkpoint else 'none'})")
    print(f"resident memory: {watch.at_process_start / MEBIBYTE:.1f} MiB after imports; "
          f"start {start / MEBIBYTE:.1f} MiB (after {options.warmup:g} s warm-up); "
          f"end {watch.latest / MEBIBYTE:.1f} MiB ({growth:+.1%}); peak {watch.peak / MEBIBYTE:.1f} MiB")
    if growth > options.max_growth:
        print(f"FAIL: resident memory grew by {growth:.1%}, more than the {options.max_growth:.0%} allowed")
        return 1
    print(f"PASS: resident memory changed by {growth:+.1%} (at most {options.max_growth:+.0%} allowed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        options = config_from_args(SoakOptions, arguments)
        config = config_from_args(ReinforceConfig, arguments)
        Reinforce(config).env.close()  # checks the env id and spaces before the soak starts
    except (ValueError, TypeError) as error:
        fail(parser, error)
    seed_everything(config.seed)
    print(f"soak: {config.env}, {options.minutes:g} min, checkpoint every {options.checkpoint_every} iterations, "
          f"reload every {options.reload_every:g} s, memory sampled every {options.sample_every:g} s", flush=True)
    if options.out is not None:
        folder = Path(options.out)
        folder.mkdir(parents=True, exist_ok=True)
        return soak(options, config, folder)
    with tempfile.TemporaryDirectory(prefix="ascentrl-soak-") as folder:
        return soak(options, config, Path(folder))


if __name__ == "__main__":
    sys.exit(main())

"""Time ``Ascent.step()`` against the fastest torch.optim path for the same update.

For each mode (default options otherwise) and two workloads — one 10M-element tensor and 200
tensors of 10k elements — the median wall time of ``step()`` is printed for Ascent and for the
fastest torch composition that performs the same update (torch.optim with ``maximize=True``,
fused where torch has a kernel, else foreach; clipping through ``torch.nn.utils``; gradient noise
added to the gradients by hand), with the ratio ours / torch.  Gradients are fixed random tensors,
so only the optimizer is timed.

    python scripts/bench_optimizer.py [--repeats 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ascentrl import Ascent, GradientNoise, PerturbedAscent

WORKLOADS = {"1x10M": [(10_000_000,)], "200x10k": [(10_000,)] * 200}


@dataclass
class Case:
    """One row: how to build our optimizer and the torch steps that do the same update."""

    name: str
    ours: Callable[[list[torch.Tensor]], Callable[[], None]]
    torch_paths: dict[str, Callable[[list[torch.Tensor]], Callable[[], None]]]


def _torch_step(factory, before=None):
    def build(params):
        optimizer = factory(params)

        def step():
            if before is not None:
                before(params)
            optimizer.step()

        return step

    return build


def _clip_norm(params):
    torch.nn.utils.clip_grad_norm_(params, max_norm=1.0, foreach=True)


def _clip_value(params):
    torch.nn.utils.clip_grad_value_(params, clip_value=1e-3, foreach=True)


_NOISE_GENERATOR = torch.Generator().manual_seed(0)


def _add_noise(params):
    for param in params:
        param.grad.add_(torch.randn(param.shape, generator=_NOISE_GENERATOR), alpha=0.1)


def _grad_norm(params):
    torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True).item()


def _ours(**options):
    def build(params):
        return Ascent(params, **options).step

    return build


def _adam(**kw):
    return {
        "fused": _torch_step(lambda p: torch.optim.Adam(p, lr=1e-3, maximize=True, fused=True), **kw),
        "foreach": _torch_step(lambda p: torch.optim.Adam(p, lr=1e-3, maximize=True, foreach=True), **kw),
    }


CASES = [
    Case("adam", _ours(lr=1e-3, adaptive="adam"), _adam()),
    Case("adagrad", _ours(lr=1e-3, adaptive="adagrad"), {
        "fused": _torch_step(lambda p: torch.optim.Adagrad(p, lr=1e-3, maximize=True, fused=True)),
        "foreach": _torch_step(lambda p: torch.optim.Adagrad(p, lr=1e-3, maximize=True, foreach=True)),
    }),
    Case("rmsprop", _ours(lr=1e-3, adaptive="rmsprop"), {
        "foreach": _torch_step(lambda p: torch.optim.RMSprop(p, lr=1e-3, maximize=True, foreach=True)),
    }),
    Case("sgd-momentum", _ours(lr=1e-3, momentum=0.9), {
        "fused": _torch_step(lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, maximize=True, fused=True)),
        "foreach": _torch_step(lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, maximize=True, foreach=True)),
    }),
    Case("sgd-nesterov", _ours(lr=1e-3, momentum=0.9, nesterov=True), {
        "fused": _torch_step(lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True, maximize=True,
                                                       fused=True)),
        "foreach": _torch_step(lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True, maximize=True,
                                                         foreach=True)),
    }),
    Case("adam+clip_norm", _ours(lr=1e-3, adaptive="adam", clip_norm=1.0), _adam(before=_clip_norm)),
    Case("adam+clip_value", _ours(lr=1e-3, adaptive="adam", clip_value=1e-3), _adam(before=_clip_value)),
    Case("adam+noise", lambda p: Ascent(p, lr=1e-3, adaptive="adam", escape=GradientNoise(eta=0.01)).step,
         _adam(before=_add_noise)),
    Case("adam+perturb", lambda p: Ascent(p, lr=1e-3, adaptive="adam",
                                          escape=PerturbedAscent(threshold=1e-3, radius=0.1, interval=50)).step,
         _adam(before=_grad_norm)),
]


def _median_ms(step: Callable[[], None], repeats: int) -> float:
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _fresh_params(shapes, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        param = torch.zeros(shape, requires_grad=True)
        param.grad = torch.randn(shape, generator=generator)
        params.append(param)
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="timed step() calls per measurement (default 30)")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of the table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    rows = []
    for workload, shapes in WORKLOADS.items():
        for case in CASES:
            ours = _median_ms(case.ours(_fresh_params(shapes)), args.repeats)
            theirs = {path: _median_ms(build(_fresh_params(shapes)), args.repeats)
                      for path, build in case.torch_paths.items()}
            fastest = min(theirs, key=theirs.get)
            rows.append(dict(workload=workload, mode=case.name, ascent_ms=ours, torch_ms=theirs,
                             torch_fastest=fastest, ratio=ours / theirs[fastest]))
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} steps")
    print(f"{'workload':9} {'mode':16} {'Ascent ms':>10} {'torch fused':>12} {'torch foreach':>14} {'ratio':>7}")
    for row in rows:
        fused = row["torch_ms"].get("fused")
        print(f"{row['workload']:9} {row['mode']:16} {row['ascent_ms']:10.2f} "
              f"{(f'{fused:.2f}' if fused is not None else '-'):>12} {row['torch_ms']['foreach']:14.2f} "
              f"{row['ratio']:6.2f}x")
    print("ratio = Ascent / fastest torch path for the same update (<= 1.00 is the target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

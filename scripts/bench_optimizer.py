"""Time ``Ascent.step()`` against the fastest torch.optim path for the same update.

For each mode (default options otherwise) and two workloads — one 10M-element tensor and 200
tensors of 10k elements — the median wall time of ``step()`` is printed for Ascent and for the
fastest torch composition that performs the same update (torch.optim with ``maximize=True``,
fused where torch has a kernel, else foreach; clipping through ``torch.nn.utils``; gradient noise
added to the gradients by hand), with the ratio ours / torch. Ascent's default
``nonfinite="raise"`` reads every gradient once more to check it for NaN/inf (and report its norm);
torch.optim does not check, so two ratios are printed: defaults against torch plus the same check,
and ``nonfinite="ignore"`` against torch alone.  Gradients are fixed random tensors,
so only the optimizer is timed. The contenders of a row are timed in turns, step by step, so
that a busy machine slows them alike.

    python scripts/bench_optimizer.py [--repeats 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ascentrl import Ascent, GradientNoise, PerturbedAscent

WORKLOADS = {"1x10M": [(10_000_000,)], "200x10k": [(10_000,)] * 200}


@dataclass
class Case:
    """One row: how to build our optimizer and the torch steps that do the same update."""

    name: str
    ours: Callable[..., Callable[[list[torch.Tensor]], Callable[[], None]]]
    """``ours(**extra_options)`` builds Ascent's ``step`` for a parameter list."""
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
    def with_extra(**extra):
        def build(params):
            return Ascent(params, **options, **extra).step

        return build

    return with_extra


def _with_finite_check(build):
    """The torch path preceded by what Ascent's default ``nonfinite="raise"`` does: one gradient
    norm, checked for NaN/inf."""

    def build_checked(params):
        step = build(params)

        def checked_step():
            norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
            if not torch.isfinite(norm):
                raise FloatingPointError("non-finite gradient")
            step()

        return checked_step

    return build_checked


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
    Case("adam+noise", lambda **extra: _ours(lr=1e-3, adaptive="adam", escape=GradientNoise(eta=0.01), **extra)(),
         _adam(before=_add_noise)),
    Case("adam+perturb", lambda **extra: _ours(lr=1e-3, adaptive="adam", **extra,
                                               escape=PerturbedAscent(threshold=1e-3, radius=0.1, interval=50))(),
         _adam(before=_grad_norm)),
]


def _interleaved_medians_ms(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median wall time of each ``step`` in ms, timed round-robin so that all see the same load."""
    for _ in range(3):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


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
            checked_path = "fused" if "fused" in case.torch_paths else "foreach"
            builders = {"ascent": case.ours(), "ascent_unchecked": case.ours(nonfinite="ignore"),
                        **case.torch_paths,
                        "torch_checked": _with_finite_check(case.torch_paths[checked_path])}
            medians = _interleaved_medians_ms(
                {name: build(_fresh_params(shapes)) for name, build in builders.items()}, args.repeats)
            theirs = {path: medians[path] for path in case.torch_paths}
            fastest = min(theirs, key=theirs.get)
            rows.append(dict(
                workload=workload, mode=case.name, ascent_ms=medians["ascent"],
                ascent_unchecked_ms=medians["ascent_unchecked"], torch_ms=theirs, torch_fastest=fastest,
                torch_checked_ms=medians["torch_checked"],
                ratio_checked=medians["ascent"] / medians["torch_checked"],
                ratio_unchecked=medians["ascent_unchecked"] / theirs[fastest],
            ))
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} steps (ms)")
    print(f"{'workload':9} {'mode':16} {'Ascent':>8} {'torch+check':>12} {'ratio':>6}   "
          f"{'Ascent unchecked':>16} {'torch fused':>12} {'torch foreach':>14} {'ratio':>6}")
    for row in rows:
        fused = row["torch_ms"].get("fused")
        print(f"{row['workload']:9} {row['mode']:16} {row['ascent_ms']:8.2f} {row['torch_checked_ms']:12.2f} "
              f"{row['ratio_checked']:5.2f}x   {row['ascent_unchecked_ms']:16.2f} "
              f"{(f'{fused:.2f}' if fused is not None else '-'):>12} {row['torch_ms']['foreach']:14.2f} "
              f"{row['ratio_unchecked']:5.2f}x")
    print("left: Ascent's defaults (nonfinite='raise' computes the gradient norm and checks it) against the")
    print("fastest torch path preceded by the same check; right: Ascent(nonfinite='ignore') against the")
    print("fastest torch path alone. Target: ratio <= 1.00.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

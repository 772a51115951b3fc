"""``Ascent.step()`` against torch.optim on fixed gradients, the contenders of a row timed in turns.

Used by ``scripts/bench_optimizer.py``. A workload is a list of parameter shapes; every contender
gets its own zero parameters holding the same fixed random gradients, so only the optimizer is
timed (no forward or backward pass). Each round calls every contender's ``step`` once, starting
with a different contender each round, so that a machine busy with other work slows them alike;
the figure of a contender is the median of its rounds.

The torch peers do the same update as Ascent: ``torch.optim`` with ``maximize=True`` (fused where
torch has a kernel, and foreach), norm and value clipping through ``torch.nn.utils`` (in place on
the gradients, which Ascent never does), gradient noise added to the gradients by hand.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ascentrl import Ascent, GradientNoise, PerturbedAscent

__all__ = ["CASES", "TARGET_WORKLOADS", "WORKLOADS", "Case", "interleaved_medians", "mlp_shapes", "time_case"]

Step = Callable[[], None]
Builder = Callable[[list[torch.Tensor]], Step]


def mlp_shapes(sizes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The parameter shapes of ``Linear(sizes[0], sizes[1]) → … → Linear(sizes[-2], sizes[-1])``,
    in ``Module.parameters()`` order (weight, then bias, per layer)."""
    shapes: list[tuple[int, ...]] = []
    for inputs, outputs in zip(sizes[:-1], sizes[1:]):
        shapes += [(outputs, inputs), (outputs,)]
    return shapes


WORKLOADS: dict[str, list[tuple[int, ...]]] = {
    # A 64-64 actor-critic with separate trunks (a PPO policy 8 → 64 → 64 → 4 and value 8 → 64 → 64 → 1):
    # 9,797 parameters in 12 tensors, where the cost of a step is almost all per-call overhead.
    "actor-critic": mlp_shapes((8, 64, 64, 4)) + mlp_shapes((8, 64, 64, 1)),
    "200x10k": [(10_000,)] * 200,
    "1x10M": [(10_000_000,)],
}
TARGET_WORKLOADS = {"actor-critic": 1.1, "200x10k": 1.2}
"""The issue's targets for Ascent's defaults over torch's fused Adam: one extra read of the
gradients (NaN/inf check and logged norm) is the honest floor."""


@dataclass
class Case:
    """One row: how to build Ascent's ``step`` and the torch steps that do the same update."""

    name: str
    ascent: Callable[..., Builder]
    """``ascent(**extra_options)`` builds Ascent's ``step`` for a parameter list."""
    torch_paths: dict[str, Builder]
    """``"fused"`` (where torch has a kernel) and ``"foreach"``."""


def _torch_step(factory: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
                before: Callable[[list[torch.Tensor]], object] | None = None) -> Builder:
    def build(params: list[torch.Tensor]) -> Step:
        optimizer = factory(params)

        def step() -> None:
            if before is not None:
                before(params)
            optimizer.step()

        return step

    return build


def _clip_norm(params: list[torch.Tensor]) -> None:
    torch.nn.utils.clip_grad_norm_(params, max_norm=1.0, foreach=True)


def _clip_value(params: list[torch.Tensor]) -> None:
    torch.nn.utils.clip_grad_value_(params, clip_value=1e-3, foreach=True)


_NOISE_GENERATOR = torch.Generator().manual_seed(0)


def _add_noise(params: list[torch.Tensor]) -> None:
    for param in params:
        param.grad.add_(torch.randn(param.shape, generator=_NOISE_GENERATOR), alpha=0.1)


def _grad_norm(params: list[torch.Tensor]) -> None:
    torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True).item()


def _ascent(**options) -> Callable[..., Builder]:
    def with_extra(**extra) -> Builder:
        def build(params: list[torch.Tensor]) -> Step:
            fresh = dict(options)
            if "escape" in fresh:  # every contender needs its own strategy
                fresh["escape"] = type(fresh["escape"])(**fresh["escape"].config())
            return Ascent(params, **fresh, **extra).step

        return build

    return with_extra


def with_finite_check(build: Builder) -> Builder:
    """The torch step preceded by what Ascent's default ``nonfinite="raise"`` does: one gradient
    norm, checked for NaN/inf."""

    def build_checked(params: list[torch.Tensor]) -> Step:
        step = build(params)

        def checked_step() -> None:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
            if not torch.isfinite(norm):
                raise FloatingPointError("non-finite gradient")
            step()

        return checked_step

    return build_checked


def _adam(before: Callable[[list[torch.Tensor]], object] | None = None) -> dict[str, Builder]:
    return {
        "fused": _torch_step(lambda p: torch.optim.Adam(p, lr=1e-3, maximize=True, fused=True), before),
        "foreach": _torch_step(lambda p: torch.optim.Adam(p, lr=1e-3, maximize=True, foreach=True), before),
    }


def _sgd(**options) -> dict[str, Builder]:
    return {path: _torch_step(lambda p, path=path: torch.optim.SGD(p, lr=1e-3, maximize=True, **options,
                                                                   **{path: True}))
            for path in ("fused", "foreach")}


CASES = {case.name: case for case in [
    Case("adam", _ascent(lr=1e-3, adaptive="adam"), _adam()),
    Case("adam+clip_norm", _ascent(lr=1e-3, adaptive="adam", clip_norm=1.0), _adam(before=_clip_norm)),
    Case("adagrad", _ascent(lr=1e-3, adaptive="adagrad"), {
        "fused": _torch_step(lambda p: torch.optim.Adagrad(p, lr=1e-3, maximize=True, fused=True)),
        "foreach": _torch_step(lambda p: torch.optim.Adagrad(p, lr=1e-3, maximize=True, foreach=True)),
    }),
    Case("rmsprop", _ascent(lr=1e-3, adaptive="rmsprop"), {
        "foreach": _torch_step(lambda p: torch.optim.RMSprop(p, lr=1e-3, maximize=True, foreach=True)),
    }),
    Case("sgd-momentum", _ascent(lr=1e-3, momentum=0.9), _sgd(momentum=0.9)),
    Case("sgd-nesterov", _ascent(lr=1e-3, momentum=0.9, nesterov=True), _sgd(momentum=0.9, nesterov=True)),
    Case("adam+clip_value", _ascent(lr=1e-3, adaptive="adam", clip_value=1e-3), _adam(before=_clip_value)),
    Case("adam+noise", _ascent(lr=1e-3, adaptive="adam", escape=GradientNoise(eta=0.01)), _adam(before=_add_noise)),
    Case("adam+perturb", _ascent(lr=1e-3, adaptive="adam",
                                 escape=PerturbedAscent(threshold=1e-3, radius=0.1, interval=50)),
         _adam(before=_grad_norm)),
]}


def fresh_params(shapes: list[tuple[int, ...]], seed: int = 0) -> list[torch.Tensor]:
    """Zero float32 parameters of ``shapes`` holding standard normal gradients drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        param = torch.zeros(shape, requires_grad=True)
        param.grad = torch.randn(shape, generator=generator)
        params.append(param)
    return params


def interleaved_medians(steps: dict[str, list[Step]], rounds: int, warmup: int = 3) -> dict[str, float]:
    """Median wall seconds of each contender's steps over ``rounds`` rounds.

    A contender may have several instances (the same optimizer built on separately allocated
    tensors): where its tensors land in memory moves a small step's time by up to ~20% here, so its
    figure is the median over all of its instances. Every round calls every instance once, round
    ``r`` starting ``r`` places further along, so that all see the same load.
    """
    calls = [(name, step) for name, instances in steps.items() for step in instances]
    for _ in range(warmup):
        for _name, step in calls:
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(rounds):
        shift = round_index % len(calls)
        for name, step in calls[shift:] + calls[:shift]:
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def time_case(case: Case, shapes: list[tuple[int, ...]], rounds: int, *, instances: int = 1,
              checked_peer: bool = False, warmup: int = 3) -> dict[str, float]:
    """Median seconds per step of Ascent's defaults (``ascent``), Ascent with ``nonfinite="ignore"``
    (``ascent_unchecked``), each torch path of ``case`` and, with ``checked_peer``, the fastest
    torch path preceded by Ascent's NaN/inf check (``torch_checked``), all in the same rounds, each
    contender built ``instances`` times on its own tensors."""
    builders = {"ascent": case.ascent(), "ascent_unchecked": case.ascent(nonfinite="ignore"),
                **{f"torch_{path}": build for path, build in case.torch_paths.items()}}
    if checked_peer:
        builders["torch_checked"] = with_finite_check(case.torch_paths.get("fused", case.torch_paths["foreach"]))
    steps = {name: [build(fresh_params(shapes)) for _ in range(instances)] for name, build in builders.items()}
    return interleaved_medians(steps, rounds, warmup)

"""``Ascent``: a ``torch.optim.Optimizer`` that maximizes.

This module holds the optimizer class, which validates arguments, creates state lazily, clips
gradients (on copies) and applies the escape strategy of :mod:`ascentrl.escape`. One step:

1. collect each group's parameters that have a gradient, in device/dtype buckets, with their
   state (:mod:`ascentrl._gradients`);
2. read every gradient once for ‖∇J‖, which is logged, scales norm clipping and is the NaN/inf
   check: a non-finite gradient stops the step before anything changes (``nonfinite``);
3. clip, add escape noise, and update each bucket along its path, torch's fused kernel,
   multi-tensor or for-loop (:mod:`ascentrl._update_paths`), with the rules of
   :mod:`ascentrl._update_rules`.

Python touches each parameter only to collect it (its gradient and state); the tensor work is a
fixed handful of torch calls per bucket, whatever the number of tensors. That matters where a step
is mostly per-call overhead, as on the small networks of PPO, which takes 10⁵ of them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from ascentrl import _gradients as gradients
from ascentrl import _update_paths as paths
from ascentrl._ascent_options import ADAPTIVE_MODES, NONFINITE_POLICIES, rule_of, validate_group
from ascentrl._step_hooks import profile_hook_step
from ascentrl.escape import EscapeStrategy, make_escape

__all__ = ["ADAPTIVE_MODES", "NONFINITE_POLICIES", "Ascent", "NonFiniteGradientError", "StepStats"]

_CLIP_NORM_EPS = 1e-6  # as torch.nn.utils.clip_grad_norm_: coefficient = c / (‖g‖ + 1e-6)
_STATE_VERSION = 1
_FEW_LARGE_TENSORS = 4  # up to this many gradients in a bucket, clip into per-parameter buffers
_STATE_NAMES = {  # torch.optim's state names for each update rule, in the rules' argument order
    "sgd": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq", "step"),
    "adamw": ("exp_avg", "exp_avg_sq", "step"),
    "nadam": ("exp_avg", "exp_avg_sq", "step"),
    "rmsprop": ("square_avg", "momentum_buffer", "step"),
    "adagrad": ("sum", "step"),
}


class NonFiniteGradientError(FloatingPointError):
    """A gradient contained NaN or ±inf; the step was not applied."""


@dataclass(frozen=True)
class StepStats:
    """What the last :meth:`Ascent.step` did, for logging.

    Attributes:
        step: number of updates applied so far (skipped steps do not count).
        lr: learning rate of the first parameter group for this step.
        grad_norm: ‖∇J‖₂ over all parameters with a gradient, before clipping and noise
            (``None`` only with ``nonfinite="ignore"`` and nothing else needing the norm).
        update_norm: ‖θ_{t+1} − θ_t‖₂ including any escape perturbation
            (``None`` unless the optimizer was built with ``track_update_norm=True``).
        skipped: True if the step was skipped because a gradient was not finite.
        perturbed: True if the escape strategy perturbed the parameters in this step.
    """

    step: int
    lr: float
    grad_norm: float | None
    update_norm: float | None
    skipped: bool
    perturbed: bool


class Ascent(Optimizer):
    r"""Gradient **ascent** with momentum, adaptive step sizes, clipping and escape strategies.

    Sign convention: the objective J is *maximized*.  Compute J, call ``J.backward()``, then
    ``step()``; J goes up.  Never negate J.  Internally the gradient is flipped, ĝ = −∇J, and
    the update is the matching torch.optim rule with ``maximize=True``; the learning rate is
    never negated, so momentum and moment estimates are those of torch.optim and weight decay
    still shrinks weights.  State tensors have torch.optim's names and values.

    One step, for each parameter group (η = ``lr``, λ = ``weight_decay``, t = step count):

    .. math::
        g &= \nabla_\theta J(\theta_t), \text{ never modified; the rules below work on a copy}\\
        g &\leftarrow \operatorname{clamp}(g, -c_v, c_v) \quad (\texttt{clip\_value}=c_v)\\
        g &\leftarrow g \cdot \min(1, c_n / (\lVert g\rVert_{group} + 10^{-6}))
             \quad (\texttt{clip\_norm}=c_n)\\
        g &\leftarrow g + \text{escape noise} \quad (\texttt{escape}=\text{GradientNoise})\\
        \hat g &= -g + \lambda\theta_t \ (\lambda\theta_t \text{ omitted if decoupled, which instead
                  sets } \theta_t \leftarrow (1-\eta\lambda)\theta_t)\\
        \text{None:}\ & b \leftarrow \mu b + (1-\tau)\hat g \ (b_1 = \hat g),\
              d = \hat g + \mu b \text{ (Nesterov) or } b,\ \theta \leftarrow \theta - \eta d\\
        \text{adagrad:}\ & s \leftarrow s + \hat g^2,\ \theta \leftarrow \theta - \eta \hat g / (\sqrt{s}+\epsilon)\\
        \text{rmsprop:}\ & v \leftarrow \alpha v + (1-\alpha)\hat g^2,\ u = \hat g/(\sqrt v+\epsilon),\
              b \leftarrow \mu b + u,\ \theta \leftarrow \theta - \eta (b \text{ or } u)\\
        \text{adam:}\ & m \leftarrow \beta_1 m + (1-\beta_1)\hat g,\ v \leftarrow \beta_2 v + (1-\beta_2)\hat g^2,\
              \theta \leftarrow \theta - \eta \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)}+\epsilon}

    With ``adaptive="adam", nesterov=True`` the first moment is Dozat's (2016) Nesterov form
    β₁m/(1−β₁ᵗ⁺¹) + (1−β₁)ĝ/(1−β₁ᵗ).  After the update, a :class:`~ascentrl.escape.PerturbedAscent`
    strategy may move θ by a random vector (see :mod:`ascentrl.escape`).

    Equivalences (tested in float64): ``adaptive="adam"`` is ``torch.optim.Adam(maximize=True)``
    (``decoupled_weight_decay=True``: ``AdamW``), ``"rmsprop"`` is ``RMSprop``, ``"adagrad"`` is
    ``Adagrad`` and ``None`` is ``SGD``, all with ``maximize=True``.

    Args:
        params: parameters or parameter groups (dicts may override any option but ``escape``,
            ``nonfinite`` and ``track_update_norm``, which apply to the whole optimizer).
        lr: learning rate η ≥ 0.
        momentum: μ ∈ [0, 1) for ``adaptive`` None or ``"rmsprop"`` (Adam uses ``betas[0]``).
        dampening: τ ∈ [0, 1] (plain momentum only).
        nesterov: Nesterov momentum (adaptive None, needs μ > 0 and τ = 0) or Nesterov-Adam.
        adaptive: None, ``"adagrad"``, ``"rmsprop"`` or ``"adam"``.
        betas: (β₁, β₂) for Adam, each in [0, 1).
        alpha: RMSprop smoothing constant α ∈ [0, 1).
        eps: ε > 0 added to adaptive denominators.
        weight_decay: λ ≥ 0; shrinks weights towards 0.
        decoupled_weight_decay: apply λ as θ ← (1 − ηλ)θ instead of through the gradient
            (AdamW's rule for Adam).
        clip_value: clamp each gradient element to [−c, c] (on a copy) before the update.
        clip_norm: scale the group's gradients so their global L2 norm is at most c.
        escape: None, ``"perturb"``, ``"noise"`` or an :class:`~ascentrl.escape.EscapeStrategy`.
        nonfinite: what to do when a gradient holds NaN/inf — ``"raise"`` a
            :class:`NonFiniteGradientError` naming the parameter (default), ``"skip"`` the whole
            step (``last_stats.skipped`` is then True), or ``"ignore"`` (no check at all).
        track_update_norm: also record ‖θ_{t+1} − θ_t‖ in :attr:`last_stats` (costs a copy).
        foreach: True forces the multi-tensor path, False the for-loop path.
        fused: True forces torch's fused kernels (SGD, Adam/AdamW, Adagrad only).  With
            ``foreach=None, fused=None`` the fastest path that supports the options is used:
            fused where torch has a kernel, else multi-tensor.

    Attributes:
        last_stats: :class:`StepStats` of the most recent step (None before the first).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        *,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        adaptive: str | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        clip_value: float | None = None,
        clip_norm: float | None = None,
        escape: str | EscapeStrategy | None = None,
        nonfinite: str = "raise",
        track_update_norm: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
    ) -> None:
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        if not isinstance(track_update_norm, bool):
            raise TypeError(f"track_update_norm must be a bool, got {track_update_norm!r}")
        self.escape = make_escape(escape)
        self.nonfinite = nonfinite
        self.track_update_norm = track_update_norm
        self.steps = 0
        self.last_stats: StepStats | None = None
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, adaptive=adaptive,
            betas=tuple(betas) if isinstance(betas, list) else betas, alpha=alpha, eps=eps,
            weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
            clip_value=clip_value, clip_norm=clip_norm, foreach=foreach, fused=fused,
        )
        validate_group({**defaults, "params": []})
        super().__init__(params, defaults)

    # torch.optim's step wrapper (hooks, profiler range) without its fixed cost; see ascentrl._step_hooks.
    profile_hook_step = staticmethod(profile_hook_step)
    _inside_step = False

    # ------------------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        # torch wraps Optimizer.add_param_group in torch._disable_dynamo, whose first call imports
        # torch._dynamo: on CPU as long as `import torch` itself. Until dynamo is imported nothing can
        # be compiling, so the undecorated method is the same, and building an optimizer stays cheap.
        base = Optimizer.add_param_group
        if "torch._dynamo" not in sys.modules:
            base = getattr(base, "__wrapped__", base)
        base(self, param_group)
        try:
            validate_group(self.param_groups[-1])
        except (ValueError, TypeError):
            self.param_groups.pop()
            raise

    def __getstate__(self) -> dict[str, Any]:
        # torch.optim pickles only defaults, state and param groups; Ascent's settings and counters
        # (public attributes, subclasses' too) travel with them, so a copy steps as the original would.
        # Private attributes stay: torch's hooks, which need not pickle, and the clip buffers.
        state = super().__getstate__()
        state.update((name, value) for name, value in self.__dict__.items()
                     if not name.startswith("_") and name not in state)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # State saved by older versions lacks newer options. Only Ascent's own options: torch's
        # __setstate__ adds "differentiable" to the defaults, which a group of a fresh Ascent lacks,
        # and a loaded optimizer must save the same state dict as the one that was never saved.
        for group in self.param_groups:
            for key, value in self.defaults.items():
                if key != "differentiable":
                    group.setdefault(key, value)

    # ----------------------------------------------------------------------- state dicts
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["ascent"] = {
            "version": _STATE_VERSION,
            "steps": self.steps,
            "escape": None if self.escape is None else self.escape.state_dict(),
        }
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop("ascent", None)  # absent in a plain torch.optim state dict
        super().load_state_dict(state_dict)
        for param, param_state in self.state.items():
            step = param_state.get("step")
            if step is not None:  # fused kernels need float32 step tensors on the param's device
                param_state["step"] = torch.as_tensor(step, dtype=torch.float32, device=param.device).clone()
        if extra is None:
            return
        self.steps = int(extra["steps"])
        if (extra["escape"] is None) != (self.escape is None):
            raise ValueError(
                "state dict escape strategy does not match this optimizer's: "
                f"saved {None if extra['escape'] is None else extra['escape']['name']!r}, "
                f"optimizer has {None if self.escape is None else self.escape.name!r}"
            )
        if self.escape is not None:
            self.escape.load_state_dict(extra["escape"])

    # ------------------------------------------------------------------------------- step
    def _collect(self, group: dict[str, Any]) -> gradients.Batch:
        """The group's parameters that have a gradient, in device/dtype buckets with their
        gradients and state lists (state created lazily)."""
        rule = rule_of(group)
        params: list[Tensor] = []
        grads: list[Tensor] = []
        for param in group["params"]:
            grad = param.grad
            if grad is not None:
                params.append(param)
                grads.append(grad)
        if not params:
            return gradients.Batch(group, rule, params, [])
        state_of = self.state
        states = list(map(state_of.__getitem__, params))
        if rule != "sgd" and not all(states):  # SGD's momentum buffers are made by its update rule
            for param, state in zip(params, states):
                if not state:
                    self._init_state(group, rule, param, state)
        state_lists = [[state.get(name) for state in states] for name in _STATE_NAMES[rule]]
        return gradients.Batch(group, rule, params, gradients.split_by_device_and_dtype(params, grads, state_lists))

    @staticmethod
    def _init_state(group: dict[str, Any], rule: str, param: Tensor, state: dict[str, Any]) -> None:
        state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
        if rule == "adagrad":
            state["sum"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        elif rule == "rmsprop":
            state["square_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            if group["momentum"]:
                state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        else:
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Take one ascent step; ``closure`` (optional) re-evaluates J and calls ``J.backward()``.

        Returns the closure's value (the objective), if a closure was given.
        """
        with torch.no_grad():
            objective = None
            if closure is not None:
                with torch.enable_grad():
                    objective = closure()

            batches = [self._collect(group) for group in self.param_groups]
            grad_norm: float | None = None
            if self.nonfinite != "ignore" or self._norm_needed_by_options():
                grad_norm = gradients.gradient_norm(batches)
                if self.nonfinite != "ignore" and not math.isfinite(grad_norm):
                    culprit = gradients.first_nonfinite(self.param_groups)
                    if culprit is None:  # finite gradients whose fast norm overflowed
                        grad_norm = gradients.exact_gradient_norm(batches)
                    if culprit is not None or not math.isfinite(grad_norm):
                        if self.nonfinite == "raise":
                            raise NonFiniteGradientError(self._describe_nonfinite(culprit))
                        self.last_stats = StepStats(self.steps, self.param_groups[0]["lr"], grad_norm, None, True,
                                                    False)
                        return objective

            escape = self.escape
            updated = None
            if escape is not None or self.track_update_norm:
                updated = [param for batch in batches for param in batch.params]
            before = [param.clone() for param in updated] if self.track_update_norm else None

            for batch in batches:
                group = batch.group
                if group["clip_value"] is not None or group["clip_norm"] is not None:
                    self._clip(batch)
                for bucket in batch.buckets:
                    grads = bucket.grads if escape is None else escape.transform_gradients(bucket.grads, self.steps)
                    new_buffers = (batch.rule == "sgd" and group["momentum"]
                                   and any(buffer is None for buffer in bucket.state_lists[0]))
                    paths.update_bucket(group, batch.rule, bucket.device, bucket.params, grads, bucket.state_lists)
                    if new_buffers:  # SGD made momentum buffers in place of None: keep them in the state
                        self._store_momentum_buffers(bucket.params, bucket.state_lists[0])

            perturbed = False
            if escape is not None:
                perturbed = escape.after_update(updated, grad_norm, self.steps)
            update_norm = None
            if before is not None:
                update_norm = math.sqrt(gradients.squared_norm(torch._foreach_sub(updated, before))) if updated else 0.0
            self.steps += 1
            self.last_stats = StepStats(self.steps, self.param_groups[0]["lr"], grad_norm, update_norm, False,
                                        perturbed)
            return objective

    def _norm_needed_by_options(self) -> bool:
        """Whether clipping or the escape strategy needs ‖∇J‖ (the NaN/inf check always does)."""
        return (self.escape is not None and self.escape.needs_grad_norm) or any(
            group["clip_norm"] is not None for group in self.param_groups)

    def _clip(self, batch: gradients.Batch) -> None:
        """Replace each bucket's gradients by clipped copies, as ``clip_value``/``clip_norm`` ask."""
        group, buckets = batch.group, batch.buckets
        limit = group["clip_value"]
        if limit is not None:
            for bucket in buckets:
                bucket.grads = self._transformed_copies(
                    bucket.params, bucket.grads, lambda grad, out: torch.clamp(grad, -limit, limit, out=out),
                    lambda grads: torch._foreach_clamp_min_(torch._foreach_clamp_max(grads, limit), -limit))
        if group["clip_norm"] is None:
            return
        norm_squared = batch.norm_squared
        if limit is not None:  # clip to the norm of the value-clipped gradients
            norm_squared = sum(gradients.squared_norm(bucket.grads) for bucket in buckets)
        coefficient = group["clip_norm"] / (math.sqrt(norm_squared) + _CLIP_NORM_EPS)
        if coefficient >= 1.0:
            return
        for bucket in buckets:
            if limit is not None:  # already our copies
                torch._foreach_mul_(bucket.grads, coefficient)
            else:
                bucket.grads = self._transformed_copies(
                    bucket.params, bucket.grads, lambda grad, out: torch.mul(grad, coefficient, out=out),
                    lambda grads: torch._foreach_mul(grads, coefficient))

    def _transformed_copies(
        self,
        params: list[Tensor],
        grads: list[Tensor],
        into: Callable[[Tensor, Tensor], Tensor],
        foreach: Callable[[list[Tensor]], list[Tensor]],
    ) -> list[Tensor]:
        """``f(g)`` for every gradient, written to new tensors so that ``p.grad`` stays untouched.

        Many small tensors: one multi-tensor op (the allocator recycles small blocks). A few large
        ones: ``into(g, out)`` writes into a buffer kept per parameter, because a fresh multi-MB
        tensor every step is a fresh ``mmap`` whose page faults cost several times the op itself.
        Not part of the state dict; rebuilt lazily.
        """
        if len(grads) > _FEW_LARGE_TENSORS:
            return foreach(grads)
        buffers = self.__dict__.setdefault("_clip_buffers", {})
        copies = []
        for param, grad in zip(params, grads):
            buffer = buffers.get(param)
            if (buffer is None or buffer.shape != grad.shape or buffer.dtype != grad.dtype
                    or buffer.device != grad.device):
                buffer = buffers[param] = torch.empty_like(grad, memory_format=torch.contiguous_format)
            copies.append(into(grad, buffer))
        return copies

    def _store_momentum_buffers(self, params: list[Tensor], buffers: list[Tensor | None]) -> None:
        for param, buffer in zip(params, buffers):
            if buffer is not None:
                self.state[param]["momentum_buffer"] = buffer

    def _describe_nonfinite(self, culprit: tuple[int, int, Tensor] | None) -> str:
        """Name the parameter whose gradient is not finite, or say that the norm overflowed."""
        if culprit is None:
            return (f"the gradient norm overflows float64 at step {self.steps} (gradient entries above ~1e154); "
                    "the step was not applied")
        group_index, index, param = culprit
        names = self.param_groups[group_index].get("param_names")
        label = names[index] if names else f"param_groups[{group_index}]['params'][{index}]"
        return (
            f"non-finite gradient (NaN or inf) in parameter {label} with shape {tuple(param.shape)} "
            f"at step {self.steps}; the step was not applied. Pass nonfinite='skip' to skip "
            "such steps instead of raising."
        )

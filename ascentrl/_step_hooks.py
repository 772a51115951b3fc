"""The wrapper torch.optim puts around ``step``, for :class:`ascentrl.Ascent`, without its fixed cost.

``torch.optim.Optimizer.__init__`` replaces a class's ``step`` by ``profile_hook_step(step)``:

1. open a profiler range named ``Optimizer.step#<class>.step``;
2. run the global step pre-hooks, then the optimizer's own; a hook may return ``(args, kwargs)``
   to replace the call's arguments, anything else but ``None`` is refused;
3. run ``step``, then ``_optimizer_step_code`` (the profiler's marker of a finished step);
4. run the optimizer's own post-hooks, then the global ones.

:func:`profile_hook_step` does exactly that, with two differences. The range is opened by torch's
``_RecordFunctionFast`` where torch has it: ``record_function`` goes through a Python op dispatch
that costs ~9 µs per call here even when nothing profiles, as much as a sixth of a step on a 64-64
actor-critic. And a subclass's ``step`` calling ``super().step()`` (``GradientAscent``) runs the
hooks and opens the range once, not twice: torch wraps each class's ``step`` separately, so once
both are wrapped a torch.optim subclass fires every hook twice per step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import chain
from typing import Any

import torch
from torch.optim import optimizer as torch_optimizer

__all__ = ["profile_hook_step"]

# torch's profiler range without the Python op dispatch of torch.autograd.profiler.record_function.
_RecordFunction = getattr(torch._C._profiler, "_RecordFunctionFast", torch.autograd.profiler.record_function)


def profile_hook_step(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (an optimizer's ``step``) wrapped in the profiler range and the step hooks, as torch.optim does.

    The optimizer needs a ``_inside_step`` attribute, ``False`` between steps.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        self = args[0]
        if self._inside_step:  # super().step() of a subclass's step: the outer call runs the hooks
            return func(*args, **kwargs)
        self._inside_step = True
        try:
            with _RecordFunction(f"Optimizer.step#{type(self).__name__}.step"):
                for pre_hook in chain(torch_optimizer._global_optimizer_pre_hooks.values(),
                                      self._optimizer_step_pre_hooks.values()):
                    result = pre_hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError(
                                f"{func} must return None or a tuple of (new_args, new_kwargs), but got {result}.")
                        args, kwargs = result
                out = func(*args, **kwargs)
                self._optimizer_step_code()
                for post_hook in chain(self._optimizer_step_post_hooks.values(),
                                       torch_optimizer._global_optimizer_post_hooks.values()):
                    post_hook(self, args, kwargs)
                return out
        finally:
            self._inside_step = False

    return wrapper

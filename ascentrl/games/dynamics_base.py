"""What every game dynamics is: players, objectives to maximize, one optimizer per player.

:class:`GameDynamics` is the base class of the dynamics of :mod:`ascentrl.games.dynamics`. It holds
and checks the players' parameters, the closure of their objectives, their optimizers and optional
projections, and gives the subclasses the pieces a step is made of: evaluate the objectives, take
each player's gradient ``∇_{θ_i} u_i``, let each optimizer ascend along a direction (then
project), take a look-ahead step with another learning rate and undo it, and remember state
between steps (:meth:`GameDynamics.state_dict`). The helpers at the end compute the autograd
products the second-order dynamics need (``Jᵀv`` and ``J v`` of the game Hessian ``J``) without
forming ``J``. Every player **maximizes** its objective: nothing is negated.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer

from ascentrl.ascent import Ascent

__all__ = ["GameDynamics", "Objectives", "Projection"]

Objectives = Callable[[], Sequence[Tensor]]
"""A closure returning ``[u_1, …, u_n]``, each of shape ``batch``, at the current parameters."""

Projection = Callable[[Tensor], Tensor]
"""Maps a parameter tensor to the nearest feasible one, e.g. :func:`project_to_simplex`."""

_PlayerTensors = list[list[Tensor]]


class GameDynamics:
    """Base class: one call of :meth:`step` moves every player once.

    Args:
        players: the parameters of each player: one tensor or a sequence of tensors per player.
            Every tensor must be a leaf that requires grad.
        objectives: closure returning the ``n`` objectives to **maximize**, each of shape
            ``batch`` (the first ``batch_dims`` dimensions of the parameters).
        optimizers: one optimizer per player holding exactly that player's parameters. It must
            ascend: an :class:`ascentrl.Ascent`, or a torch optimizer built with
            ``maximize=True``.
        projections: optional, one per player (or ``None`` for an unconstrained player); applied
            to every parameter of that player after each of its steps.
        batch_dims: number of leading parameter dimensions that index independent games.
    """

    min_players = 2
    max_players: int | None = None
    _memory: dict[str, str] = {}
    """What a dynamics remembers between steps: state-dict key -> attribute name."""

    def __init__(
        self,
        players: Sequence[Tensor | Sequence[Tensor]],
        objectives: Objectives,
        optimizers: Sequence[Optimizer],
        *,
        projections: Sequence[Projection | None] | None = None,
        batch_dims: int = 0,
    ) -> None:
        self.players = _check_players(players)
        n_players = len(self.players)
        if n_players < self.min_players or (self.max_players and n_players > self.max_players):
            allowed = self.min_players if self.max_players == self.min_players else f">= {self.min_players}"
            raise ValueError(f"{type(self).__name__} needs {allowed} players, got {n_players}")
        if not callable(objectives):
            raise TypeError(f"objectives must be a callable returning {n_players} tensors")
        self.objectives = objectives
        self.optimizers = _check_optimizers(optimizers, self.players)
        if projections is None:
            projections = [None] * n_players
        if len(projections) != n_players or not all(p is None or callable(p) for p in projections):
            raise ValueError(
                f"projections must hold {n_players} entries, each a callable or None,"
                f" got {projections!r:.80}"
            )
        self.projections = list(projections)
        if isinstance(batch_dims, bool) or not isinstance(batch_dims, int) or batch_dims < 0:
            raise ValueError(f"batch_dims must be an int >= 0, got {batch_dims!r}")
        for index, player in enumerate(self.players):
            for tensor in player:
                if tensor.dim() < batch_dims:
                    raise ValueError(
                        f"batch_dims={batch_dims} but a parameter of players[{index}] has only"
                        f" {tensor.dim()} dimensions"
                    )
        self.batch_dims = batch_dims

    @property
    def n_players(self) -> int:
        return len(self.players)

    def state_dict(self) -> dict[str, object]:
        """What this dynamics remembers between steps (a copy), e.g. the optimistic method's previous
        gradient; empty for memoryless dynamics. The players' optimizers keep their own state."""
        return {key: copy.deepcopy(getattr(self, name)) for key, name in self._memory.items()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore what :meth:`state_dict` returned, so that the next step continues exactly."""
        if set(state) != set(self._memory):
            raise ValueError(f"{type(self).__name__} state must hold {sorted(self._memory)}, got {sorted(state)}")
        for key, name in self._memory.items():
            setattr(self, name, copy.deepcopy(state[key]))

    def step(self) -> Tensor:
        """Move every player once.

        Returns:
            The objectives at the parameters *before* the step, detached, of shape
            ``(n_players, *batch)``.
        """
        raise NotImplementedError

    def _evaluate(self) -> list[Tensor]:
        values = list(self.objectives())
        if len(values) != self.n_players:
            raise ValueError(
                f"objectives() returned {len(values)} values for {self.n_players} players"
            )
        return values

    def _gradients(
        self, values: Sequence[Tensor], *, create_graph: bool = False, players: Sequence[int] | None = None
    ) -> _PlayerTensors:
        """``∇_{θ_i} u_i`` for each requested player (all by default), summed over the batch."""
        players = range(self.n_players) if players is None else players
        return [
            _vector_jacobian_product([values[i].sum()], self.players[i], None, create_graph=create_graph)
            for i in players
        ]

    def _ascend(self, directions: _PlayerTensors, players: Sequence[int] | None = None) -> None:
        """Let each player's optimizer step along its direction, then project."""
        players = range(self.n_players) if players is None else players
        for index, direction in zip(players, directions):
            for tensor, component in zip(self.players[index], direction):
                tensor.grad = component.detach()
            self.optimizers[index].step()
            projection = self.projections[index]
            with torch.no_grad():
                for tensor in self.players[index]:
                    tensor.grad = None
                    if projection is not None:
                        tensor.copy_(projection(tensor))

    @contextlib.contextmanager
    def _learning_rate(self, lr: float | None) -> Iterator[None]:
        """Every player's optimizer steps with ``lr`` inside the block (``None``: with its own rate)."""
        if lr is None:
            yield
            return
        saved = [[group["lr"] for group in optimizer.param_groups] for optimizer in self.optimizers]
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr
        try:
            yield
        finally:
            for optimizer, rates in zip(self.optimizers, saved):
                for group, rate in zip(optimizer.param_groups, rates):
                    group["lr"] = rate

    def _restore(self, saved: _PlayerTensors) -> None:
        """Put every player's parameters back to ``saved`` (a look-ahead step undone)."""
        with torch.no_grad():
            for player, values in zip(self.players, saved):
                for tensor, value in zip(player, values):
                    tensor.copy_(value)

    def _copy_parameters(self) -> _PlayerTensors:
        return [[tensor.detach().clone() for tensor in player] for player in self.players]

    def _flat_gradients_with_graph(self, values: list[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """All players' parameters and gradients, flattened in player order, the gradients both
        with their graph (for Hessian-vector products) and detached: ``(θ, g, stop(g))``."""
        gradients = self._gradients(values, create_graph=True)
        parameters = [tensor for player in self.players for tensor in player]
        flat_gradients = [component for player in gradients for component in player]
        return parameters, flat_gradients, [component.detach() for component in flat_gradients]

    def _split(self, flat: Sequence[Tensor]) -> _PlayerTensors:
        """Regroup a flat list (player order) into one list per player."""
        result, start = [], 0
        for player in self.players:
            result.append(list(flat[start : start + len(player)]))
            start += len(player)
        return result

    def _per_game_dot(self, first: _PlayerTensors, second: _PlayerTensors) -> Tensor:
        """``⟨first, second⟩`` over all players and parameters, separately for every game."""
        total = torch.zeros(())
        for first_player, second_player in zip(first, second):
            for a, b in zip(first_player, second_player):
                product = a * b
                dims = tuple(range(self.batch_dims, product.dim()))
                total = total + (product.sum(dims) if dims else product)
        return total

    def _per_game(self, values: Tensor, like: Tensor) -> Tensor:
        """Reshape per-game ``values`` to broadcast against a parameter-shaped tensor."""
        return values.reshape(tuple(values.shape) + (1,) * (like.dim() - self.batch_dims))

    @staticmethod
    def _stack(values: Sequence[Tensor]) -> Tensor:
        return torch.stack(torch.broadcast_tensors(*[v.detach() for v in values]))


def _vector_jacobian_product(
    outputs: Sequence[Tensor],
    inputs: Sequence[Tensor],
    cotangents: Sequence[Tensor] | None,
    *,
    create_graph: bool = False,
    retain_graph: bool = True,
) -> list[Tensor]:
    """``Σ_k ∂⟨outputs_k, cotangents_k⟩/∂inputs``, with zeros where an input has no influence."""
    cotangents = [None] * len(outputs) if cotangents is None else list(cotangents)
    live = [(out, cot) for out, cot in zip(outputs, cotangents) if out.requires_grad]
    if not live:
        return [torch.zeros_like(tensor) for tensor in inputs]
    grads = torch.autograd.grad(
        [out for out, _ in live],
        list(inputs),
        grad_outputs=[cot for _, cot in live],
        create_graph=create_graph,
        retain_graph=retain_graph,
        allow_unused=True,
    )
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads)]


def _jacobian_vector_product(
    outputs: Sequence[Tensor], inputs: Sequence[Tensor], tangents: Sequence[Tensor]
) -> list[Tensor]:
    """``J v`` for ``J = ∂outputs/∂inputs`` by double backward (Pearlmutter's trick).

    ``w ↦ Jᵀw`` is linear in a dummy ``w``; differentiating ``⟨Jᵀw, v⟩`` with respect to ``w``
    gives ``J v`` without forward-mode autograd, which the closure-based objectives do not allow.
    """
    dummies = [torch.zeros_like(out, requires_grad=True) for out in outputs]
    transposed = _vector_jacobian_product(outputs, inputs, dummies, create_graph=True)
    return _vector_jacobian_product(transposed, dummies, tangents)


def _combine(first: _PlayerTensors, second: _PlayerTensors, a: float, b: float) -> _PlayerTensors:
    """``a·first + b·second`` player by player, tensor by tensor."""
    return [[a * x + b * y for x, y in zip(fp, sp)] for fp, sp in zip(first, second)]


def _check_players(players: Sequence[Tensor | Sequence[Tensor]]) -> list[list[Tensor]]:
    if isinstance(players, Tensor) or not isinstance(players, Sequence):
        raise TypeError("players must be a sequence with one tensor (or list of tensors) per player")
    checked = []
    for index, player in enumerate(players):
        tensors = [player] if isinstance(player, Tensor) else list(player)
        if not tensors:
            raise ValueError(f"players[{index}] has no parameters")
        for tensor in tensors:
            if not isinstance(tensor, Tensor) or not tensor.is_leaf or not tensor.requires_grad:
                raise ValueError(
                    f"players[{index}] must hold leaf tensors with requires_grad=True"
                    " (e.g. torch.nn.Parameter)"
                )
        checked.append(tensors)
    return checked


def _check_optimizers(optimizers: Sequence[Optimizer], players: list[list[Tensor]]) -> list[Optimizer]:
    if len(optimizers) != len(players):
        raise ValueError(f"optimizers must hold one optimizer per player ({len(players)}), got {len(optimizers)}")
    for index, (optimizer, player) in enumerate(zip(optimizers, players)):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizers[{index}] must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        ascends = isinstance(optimizer, Ascent) or all(g.get("maximize", False) for g in optimizer.param_groups)
        if not ascends:
            raise ValueError(
                f"optimizers[{index}] would descend the objective; use ascentrl.Ascent"
                " (or a torch optimizer with maximize=True)"
            )
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if held != {id(t) for t in player}:
            raise ValueError(f"optimizers[{index}] must hold exactly the parameters of players[{index}]")
    return list(optimizers)


def _check_positive_or_none(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")
    return float(value)


def _check_non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)

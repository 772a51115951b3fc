"""Learning dynamics for differentiable games: every player ascends its own objective at once.

A differentiable game has ``n`` players; player ``i`` owns parameters ``θ_i`` and wants to
**maximize** its objective ``u_i(θ_1, …, θ_n)``. Every dynamics here is one way to turn the
*simultaneous gradient* ``g = (∇_{θ_1} u_1, …, ∇_{θ_n} u_n)`` into an ascent direction per
player. The direction is written into ``θ_i.grad`` and player ``i``'s own optimizer (an
:class:`ascentrl.Ascent`) takes the step, so momentum or Adam apply on top of any dynamics. An
optional projection per player is applied after every step, e.g. onto the probability simplex
for mixed strategies. Nothing is negated: ``u_i`` goes up along ``g_i``.

The objectives are a closure ``objectives()`` that reads the current parameters and returns the
``n`` objective values, so one implementation serves matrix games, the bilinear game ``x·y`` and
GANs. The dynamics that need second derivatives use autograd's Hessian-vector products with
``J`` the Jacobian of ``g`` (the *game Hessian*); they never form ``J``.

* ``simultaneous``: every player steps along ``g_i`` at the same time. Cycles around (or spirals
  out of) the equilibrium of matching pennies and of ``x·y``; its time average converges in
  two-player zero-sum games.
* ``alternating``: players step in turn, each against the others' newest parameters
  (Gauss–Seidel instead of Jacobi).
* ``optimistic``: optimistic gradient ascent (OGDA; Daskalakis et al. 2018, "Training GANs with
  optimism"): step along ``2 g_t − g_{t−1}``, extrapolating the opponents' motion from the last
  gradient. Converges in the last iterate in bilinear and matrix games.
* ``extragradient``: Korpelevich (1976). Step along ``g`` to a look-ahead point, evaluate the
  gradient there, go back and step along the look-ahead gradient. The look-ahead is an ordinary
  optimizer step that is then undone (as in Gidel et al. 2019, "A variational inequality
  perspective on GANs"), so optimizer state sees both gradients.
* ``sga``: symplectic gradient adjustment (Balduzzi et al. 2018, "The mechanics of n-player
  differentiable games"). With ``A = (J − Jᵀ)/2`` the antisymmetric part of the game Hessian,
  the ascent direction is ``g − λ Aᵀ g``; this removes the rotation that makes simultaneous
  ascent cycle. With the sign-alignment rule, ``λ = sign(−⟨g, Jᵀg⟩ ⟨Aᵀg, Jᵀg⟩ / d + ε)``
  (``d`` parameters, ``ε = 0.1``): the paper's rule for losses ``ℓ_i = −u_i``, under which
  ``ξ = −g``, ``∇½‖ξ‖² = Jᵀg`` and ``Aᵀξ`` for the losses equals ``Aᵀg`` here.
* ``consensus``: consensus optimization (Mescheder et al. 2017, "The numerics of GANs"): ascend
  ``g − γ Jᵀg = g − γ ∇(½‖g‖²)``, which also pulls every player towards a stationary point.
* ``lola``: learning with opponent-learning awareness (Foerster et al. 2018), two players,
  first-order version. Player 1 assumes player 2 takes a naive step ``η ∇_{θ_2} u_2`` and adds
  the effect of its own parameters on that step:
  ``∇_{θ_1} u_1 + η ∇_{θ_1}⟨stop(∇_{θ_2} u_1), ∇_{θ_2} u_2⟩``, and symmetrically for player 2.

Constrained players: for parameters kept on an affine set by their projection (mixed
strategies on the simplex), evaluate the objectives through the affine map onto that set's hull
(for the simplex ``θ ↦ θ − mean(θ) + 1/A``, as :class:`ascentrl.agents.MatrixGamePlayer` does).
Then ``g`` and every Hessian-vector product live in the tangent space. With raw parameters the
first-order dynamics take the same projected steps, but the second-order terms of ``sga``,
``consensus`` and ``lola`` pick up the gradient's meaningless component normal to the set: in the
prisoner's dilemma that component looked like a rotation and drove SGA and LOLA to
cooperate/cooperate.

What the corrections do on the matrix-game catalogue (``scripts/matrix_games.py --game all``) is
genuine behaviour of these methods, not a defect of the implementation:

* ``sga`` seeks *stable* fixed points of the game. Jordan's three-player matching pennies has none
  in the interior (its equilibrium is a saddle of the dynamics), so SGA's sign rule pushes away
  from it and the projected iterate stalls at a pure profile such as (tails, tails, heads), where
  the adjusted direction of every player points out of its simplex or vanishes: NashConv 2.
* ``consensus`` descends ``½‖g‖²`` besides ascending. Its fixed points are where
  ``(I − γJᵀ) g = 0``, which holds away from equilibria whenever ``Jᵀ`` has the eigenvalue
  ``1/γ``: in coordination (tangent-space ``J = [[0, 1], [1, 0]]``) with ``γ = 1`` every symmetric
  profile is stationary. The consensus term is a gradient step on ``½‖g‖²`` of size
  ``lr·γ·‖J‖²``; with large payoffs (chicken: ``‖J‖ = 5``) and ``lr = 0.2`` it overshoots and the
  iterates settle in a two-cycle between non-equilibria (a smaller ``lr`` or ``γ`` converges).
* ``lola`` is not equilibrium-seeking: its fixed points solve ``g + η·shaping = 0``. With a long
  look-ahead (``η = 1``) each player shapes the other's learning more than it follows its own
  payoff: in chicken both go straight to make the other swerve, in the battle of the sexes both
  insist on their favourite event, and in Shapley's game it stops at an interior non-equilibrium.
  With ``η`` equal to the opponent's actual step size (0.2 in the script) chicken and the battle of
  the sexes reach pure equilibria.

Batched games: with ``batch_dims = k`` every parameter has ``k`` leading dimensions that index
independent games (or independent starting profiles of one game), and every objective has
shape ``batch``. Gradients of the summed objectives are the per-game gradients because games do
not interact; the inner products of ``sga`` are taken per game, so each game gets its own ``λ``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer

from ascentrl.ascent import Ascent

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


class SimultaneousAscent(GameDynamics):
    """Every player steps along its own gradient ``∇_{θ_i} u_i`` at the same time."""

    def step(self) -> Tensor:
        values = self._evaluate()
        self._ascend(self._gradients(values))
        return self._stack(values)


class AlternatingAscent(GameDynamics):
    """Players step in turn (player 0 first), each against the others' newest parameters."""

    def step(self) -> Tensor:
        first_values = None
        for player in range(self.n_players):
            values = self._evaluate()
            first_values = values if first_values is None else first_values
            self._ascend(self._gradients(values, players=[player]), players=[player])
        return self._stack(first_values)


class OptimisticAscent(GameDynamics):
    """Optimistic gradient ascent: every player steps along ``2 g_t − g_{t−1}``.

    The first step has no previous gradient and is a plain simultaneous step.
    """

    _memory = {"previous_gradients": "_previous"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._previous: _PlayerTensors | None = None

    def step(self) -> Tensor:
        values = self._evaluate()
        gradients = self._gradients(values)
        previous = gradients if self._previous is None else self._previous
        self._ascend(_combine(gradients, previous, 2.0, -1.0))
        self._previous = gradients
        return self._stack(values)


class Extragradient(GameDynamics):
    """Extragradient: step to a look-ahead point, then step from the start with its gradient."""

    def step(self) -> Tensor:
        values = self._evaluate()
        start = [[tensor.detach().clone() for tensor in player] for player in self.players]
        self._ascend(self._gradients(values))
        lookahead_gradients = self._gradients(self._evaluate())
        with torch.no_grad():
            for player, saved in zip(self.players, start):
                for tensor, value in zip(player, saved):
                    tensor.copy_(value)
        self._ascend(lookahead_gradients)
        return self._stack(values)


class SymplecticGradientAdjustment(GameDynamics):
    """SGA: ascend ``g − λ Aᵀg`` with ``A`` the antisymmetric part of the game Hessian.

    Args:
        adjustment: magnitude of ``λ``.
        alignment: choose the sign of ``λ`` per game by the sign-alignment rule of Balduzzi et al.
            (2018); if False, ``λ = adjustment``.
        alignment_epsilon: the ``ε`` of the sign-alignment rule (0.1 in the paper).
        **kwargs: as :class:`GameDynamics`.
    """

    def __init__(
        self, *args, adjustment: float = 1.0, alignment: bool = True, alignment_epsilon: float = 0.1, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.adjustment = _check_non_negative("adjustment", adjustment)
        if not isinstance(alignment, bool):
            raise TypeError(f"alignment must be a bool, got {alignment!r}")
        self.alignment = alignment
        self.alignment_epsilon = _check_non_negative("alignment_epsilon", alignment_epsilon)

    def step(self) -> Tensor:
        values = self._evaluate()
        parameters, flat_gradients, constant = self._flat_gradients_with_graph(values)
        transposed = _vector_jacobian_product(flat_gradients, parameters, constant, retain_graph=True)
        direct = _jacobian_vector_product(flat_gradients, parameters, constant)
        transposed, direct = self._split(transposed), self._split(direct)
        constant = self._split(constant)
        antisymmetric = _combine(transposed, direct, 0.5, -0.5)  # Aᵀg = (Jᵀg − Jg)/2
        sign = torch.ones(())
        if self.alignment:
            n_parameters = sum(t[(0,) * self.batch_dims].numel() for t in parameters)
            score = (
                -self._per_game_dot(constant, transposed)
                * self._per_game_dot(antisymmetric, transposed)
                / n_parameters
                + self.alignment_epsilon
            )
            sign = torch.where(score >= 0, 1.0, -1.0)
        directions = [
            [g - self.adjustment * self._per_game(sign, a) * a for g, a in zip(g_player, a_player)]
            for g_player, a_player in zip(constant, antisymmetric)
        ]
        self._ascend(directions)
        return self._stack(values)


class ConsensusOptimization(GameDynamics):
    """Consensus optimization: ascend ``g − γ Jᵀg``, i.e. also descend ``½‖g‖²``.

    Args:
        consensus_weight: ``γ``, the weight of the consensus term.
        **kwargs: as :class:`GameDynamics`.
    """

    def __init__(self, *args, consensus_weight: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.consensus_weight = _check_non_negative("consensus_weight", consensus_weight)

    def step(self) -> Tensor:
        values = self._evaluate()
        parameters, flat_gradients, constant = self._flat_gradients_with_graph(values)
        transposed = _vector_jacobian_product(flat_gradients, parameters, constant)
        self._ascend(self._split([g - self.consensus_weight * t for g, t in zip(constant, transposed)]))
        return self._stack(values)


class LookaheadOpponentLearning(GameDynamics):
    """LOLA (first-order): each of two players accounts for the other's naive learning step.

    Args:
        lookahead: ``η``, the step size each player assumes its opponent takes.
        **kwargs: as :class:`GameDynamics`.
    """

    max_players = 2

    def __init__(self, *args, lookahead: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lookahead = _check_non_negative("lookahead", lookahead)

    def step(self) -> Tensor:
        values = self._evaluate()
        own = self._gradients(values, create_graph=True)
        directions = []
        for player, opponent in ((0, 1), (1, 0)):
            # ∇_{θ_opponent} u_player, held constant: how the opponent's step moves my payoff.
            cross = _vector_jacobian_product([values[player].sum()], self.players[opponent], None)
            shaping = _vector_jacobian_product(own[opponent], self.players[player], cross)
            directions.append(
                [g.detach() + self.lookahead * s for g, s in zip(own[player], shaping)]
            )
        self._ascend(directions)
        return self._stack(values)


DYNAMICS: dict[str, type[GameDynamics]] = {
    "simultaneous": SimultaneousAscent,
    "alternating": AlternatingAscent,
    "optimistic": OptimisticAscent,
    "extragradient": Extragradient,
    "sga": SymplecticGradientAdjustment,
    "consensus": ConsensusOptimization,
    "lola": LookaheadOpponentLearning,
}
"""Every dynamics by the name used in scripts and :func:`make_dynamics`."""


def make_dynamics(
    method: str,
    players: Sequence[Tensor | Sequence[Tensor]],
    objectives: Objectives,
    optimizers: Sequence[Optimizer],
    **options,
) -> GameDynamics:
    """Build the dynamics called ``method`` (a key of :data:`DYNAMICS`).

    Args:
        method: one of ``simultaneous``, ``alternating``, ``optimistic``, ``extragradient``,
            ``sga``, ``consensus``, ``lola``.
        players, objectives, optimizers: as :class:`GameDynamics`.
        **options: keyword arguments of that class (``projections``, ``batch_dims``,
            ``consensus_weight``, ``lookahead``, ...).
    """
    if method not in DYNAMICS:
        raise ValueError(f"method must be one of {sorted(DYNAMICS)}, got {method!r}")
    return DYNAMICS[method](players, objectives, optimizers, **options)


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


def _check_non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)

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

Two step sizes, for noisy gradients (``extrapolation_lr``). With gradient *estimates*
``ĝ = g + ξ`` (sampled play) and one step size ``η``, the last iterate of extragradient and of
optimistic ascent does not converge, however ``η`` decays: near an equilibrium of a bilinear game
(``g(x) = A x``, ``A`` antisymmetric with singular values ``c``) one extragradient step is
``x ← x + η A x − η² c² x + η ξ + …``, so it contracts ``‖x‖²`` by ``~η² c²`` while the noise adds
``~η² σ²``: both scale with ``η²``, and the iterate stays in a cloud of radius ``~σ/c`` whatever
the schedule (Li et al. 2022, "On the convergence of stochastic extragradient for bilinear games
with restarted iteration averaging"; Hsieh et al. 2020). The remedy is to explore aggressively and
update conservatively (Hsieh, Iutzeler, Malick and Mertikopoulos 2020, "Explore aggressively,
update conservatively: stochastic extragradient methods with variable stepsize scaling"): take the
look-ahead with its own, larger step ``γ`` and only the update with the optimizer's rate ``η``,

    x_{t+1/2} = x_t + γ ĝ(x_t),        x_{t+1} = x_t + η_t ĝ(x_{t+1/2}).

Now one step contracts ``‖x‖²`` by ``~2 η γ c²`` (first order in ``η``) against noise ``~η² σ²``:
the cloud has radius ``~σ √(η/(2γ)) / c``, and with a decaying rate (``η_t = η_0/(1 + t/τ)``,
:class:`ascentrl.training.InverseTimeLR`) and a constant ``γ`` the iterate converges by the
Robbins–Monro argument. ``optimistic`` then takes the same two steps in the single-call form of
Popov (1980, "A modification of the Arrow–Hurwicz method for search of saddle points"), whose
look-ahead reuses the previous look-ahead gradient instead of computing a new one:

    x_{t+1/2} = x_t + γ ĝ(x_{t−1/2}),   x_{t+1} = x_t + η_t ĝ(x_{t+1/2}).

The parameters then hold the base point ``x_t`` (the iterate that converges); the look-ahead points
are where the gradients are taken. With ``γ = η`` constant they are exactly the OGDA iterates
(Hsieh, Iutzeler, Malick and Mertikopoulos 2019, "On the convergence of single-call stochastic
extra-gradient methods"), which is why OGDA's own iterate, ``x_t + γ ĝ(x_{t−1/2})``, keeps the
look-ahead's noise ``γ ξ`` and cannot converge. Both look-aheads are optimizer steps taken with the
learning rate ``γ`` and undone; without momentum or adaptive steps they are exactly the formulas above.

Choosing ``γ``: in the linearized game a fresh look-ahead (extragradient) contracts for any ``γ``
with ``γ c`` up to about 1, the fastest choice; Popov's look-ahead starts from its own previous
gradient, a recursion with gain ``γ c``, and diverges from ``γ c ≈ 1`` on (at ``γ c = 0.7`` already
for ``η c > 0.4``), so ``γ c ≈ 1/2`` with ``η_0 ≤ γ`` is the safe choice there.
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

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer

from ascentrl.games.dynamics_base import (
    GameDynamics,
    Objectives,
    Projection,
    _check_non_negative,
    _check_positive_or_none,
    _combine,
    _jacobian_vector_product,
    _PlayerTensors,
    _vector_jacobian_product,
)

__all__ = [
    "DYNAMICS",
    "AlternatingAscent",
    "ConsensusOptimization",
    "Extragradient",
    "GameDynamics",
    "LookaheadOpponentLearning",
    "Objectives",
    "OptimisticAscent",
    "Projection",
    "SimultaneousAscent",
    "SymplecticGradientAdjustment",
    "make_dynamics",
]


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

    Args:
        extrapolation_lr: ``γ``: take Popov's two steps instead (module docstring), a look-ahead
            with learning rate ``γ`` along the previous look-ahead gradient and the update with each
            optimizer's own rate; the parameters hold the base point. ``None``: OGDA's one step.
        **kwargs: as :class:`GameDynamics`.
    """

    _memory = {"previous_gradients": "_previous"}

    def __init__(self, *args, extrapolation_lr: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.extrapolation_lr = _check_positive_or_none("extrapolation_lr", extrapolation_lr)
        self._previous: _PlayerTensors | None = None

    def step(self) -> Tensor:
        if self.extrapolation_lr is not None:
            return self._past_extragradient_step()
        values = self._evaluate()
        gradients = self._gradients(values)
        previous = gradients if self._previous is None else self._previous
        self._ascend(_combine(gradients, previous, 2.0, -1.0))
        self._previous = gradients
        return self._stack(values)

    def _past_extragradient_step(self) -> Tensor:
        """``x_{t+1/2} = x_t + γ g_{t−1/2}``, ``x_{t+1} = x_t + η g(x_{t+1/2})``; the first step has
        no previous gradient, so its look-ahead point is ``x_0`` itself."""
        values = self._evaluate()
        if self._previous is None:
            lookahead_values = values
        else:
            start = self._copy_parameters()
            with self._learning_rate(self.extrapolation_lr):
                self._ascend(self._previous)
            lookahead_values = self._evaluate()
        gradients = self._gradients(lookahead_values)
        if self._previous is not None:
            self._restore(start)
        self._ascend(gradients)
        self._previous = gradients
        return self._stack(values)


class Extragradient(GameDynamics):
    """Extragradient: step to a look-ahead point, then step from the start with its gradient.

    Args:
        extrapolation_lr: ``γ``, the learning rate of the look-ahead step; the update keeps each
            optimizer's own rate (module docstring). ``None``: both steps with the optimizer's rate.
        **kwargs: as :class:`GameDynamics`.
    """

    def __init__(self, *args, extrapolation_lr: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.extrapolation_lr = _check_positive_or_none("extrapolation_lr", extrapolation_lr)

    def step(self) -> Tensor:
        values = self._evaluate()
        start = self._copy_parameters()
        with self._learning_rate(self.extrapolation_lr):
            self._ascend(self._gradients(values))
        lookahead_gradients = self._gradients(self._evaluate())
        self._restore(start)
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

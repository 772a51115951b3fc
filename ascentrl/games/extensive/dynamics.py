"""Ascent dynamics on the sequence form: both players climb their own expected payoffs at once.

Player ``i`` holds a realization plan ``x_i`` on its treeplex and **maximizes** ``u_i``; the
direction it ascends is its payoff gradient ``g_i = ∂u_i/∂x_i`` (``A x_1`` for player 0,
``−Aᵀ x_0`` for player 1: :func:`~ascentrl.games.extensive.evaluation.payoff_gradient_matrix`),
and nothing is negated. Every step is a proximal (mirror) step on both treeplexes,
``prox_r(s) = argmax_{x ∈ Q} ⟨s, x⟩ − D(x ‖ r)``, solved exactly bottom-up under a dilated
regularizer (:mod:`~ascentrl.games.extensive.mirror`): the dilated squared Euclidean norm by
default (projections onto each information set's simplex), or the dilated entropy
(per-information-set softmax, multiplicative weights). With step size ``η``:

* ``simultaneous`` — mirror ascent, ``x ← prox_x(η g(x))``. Like gradient ascent in matching
  pennies it circles the equilibrium; its average converges, its last iterate need not.
* ``optimistic`` — optimistic ascent (Popov 1980; Rakhlin & Sridharan 2013; Daskalakis et al.
  2018): ``x_{t+1} = prox_{x_t}(η (2 g_t − g_{t−1}))``, the last gradient extrapolated by the
  change since the one before. One gradient and one proximal step per iteration.
* ``extragradient`` — mirror prox (Korpelevich 1976; Nemirovski 2004): a look-ahead
  ``x̂ = prox_x(η g(x))``, then ``x ← prox_x(η g(x̂))``. Two gradients and two proximal steps,
  and by default an adaptive ``η`` (see :class:`TreeplexExtragradient`): the fastest last iterate
  here.
* ``mmd`` — magnetic mirror descent (Sokota et al. 2023, "A unified approach to reinforcement
  learning, quantal response equilibria, and two-player zero-sum games"):
  ``x ← argmax_x ⟨η g(x_t), x⟩ − αη D(x ‖ ρ) − D(x ‖ x_t)``, pulled towards a magnet ``ρ``
  (uniform play). With a fixed magnet it converges in the last iterate to the equilibrium of the
  game regularized by ``α D(· ‖ ρ)``, which is ``O(α)`` away from Nash; ``magnet_every = K``
  (the default, ``K = 10``) moves the magnet to the current iterate every ``K`` steps, a
  proximal-point outer loop whose iterates approach a Nash equilibrium itself.

Optimistic ascent and extragradient converge in the last iterate in two-player zero-sum games
(Lee, Kroer & Luo 2021, "Last-iterate convergence in extensive-form games"; Wei, Lee, Zhang & Luo
2021 show a linear rate on polytopes for the Euclidean geometry). Step sizes are in units of the
game's payoff scale: the gradient is divided by ``max_I M_I``, the most payoff that hangs below
one information set (:func:`~ascentrl.games.extensive.mirror.subtree_payoff_mass`). Even so the
largest stable step differs between games (about 3 for extragradient and 1.5 for optimistic
ascent on Kuhn poker, 8 and 3.5 on Leduc poker, measured), so the fixed defaults are Kuhn's safe
ones and extragradient finds its own. The tensors are tiny: run with one torch thread
(``torch.set_num_threads(1)``); a second one only adds synchronization.
"""

from __future__ import annotations

import math

from torch import Tensor

from ascentrl.games.extensive.evaluation import payoff_gradient_matrix
from ascentrl.games.extensive.mirror import REGULARIZERS, WEIGHTINGS, dilation_weights, subtree_payoff_mass
from ascentrl.games.extensive.solver import Solver
from ascentrl.games.extensive.strategies import local_probabilities, realization_plan, uniform_policy
from ascentrl.games.extensive.tree import ExtensiveFormGame

_ROUNDING = 64 * 2.0**-52
"""A generous bound on the relative rounding error of a float64 gradient difference."""
_MAX_HALVINGS = 30


class TreeplexAscent(Solver):
    """Base class of the mirror-ascent dynamics: a regularizer, a step size and the current iterate.

    Args:
        game: the game to solve.
        step_size: ``η`` in units of the game's payoff scale (``None``: the method's default).
        regularizer: ``"euclidean"`` or ``"entropy"`` (see :mod:`~ascentrl.games.extensive.mirror`).
        weighting: ``"payoff"`` or ``"unit"``, the information-set weights of the regularizer
            (:func:`~ascentrl.games.extensive.mirror.dilation_weights`).
    """

    default_step_sizes: dict[str, float] = {}
    """Default ``η`` per regularizer."""

    def __init__(self, game: ExtensiveFormGame, *, step_size: float | None = None, regularizer: str = "euclidean",
                 weighting: str = "payoff") -> None:
        super().__init__(game)
        if regularizer not in REGULARIZERS:
            raise ValueError(f"regularizer must be one of {sorted(REGULARIZERS)}, got {regularizer!r}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        step_size = self.default_step_sizes[regularizer] if step_size is None else step_size
        self.step_size = _check_positive("step_size", step_size)
        self.regularizer = REGULARIZERS[regularizer](game, dilation_weights(game, weighting))
        self._scale = 1 / float(subtree_payoff_mass(game).max().clamp_min(1e-300))
        self._gradient_matrix = payoff_gradient_matrix(game)
        self._state = self.regularizer.from_local(local_probabilities(game, uniform_policy(game)))
        self._plan = realization_plan(game, self.regularizer.to_local(self._state))

    def local_probabilities(self) -> Tensor:
        return self.regularizer.to_local(self._state)

    def plan(self) -> Tensor:
        return self._plan

    def step(self) -> None:
        self.iteration += 1
        self._state, self._plan = self._next_state()
        self._accumulate(self._plan)

    def _next_state(self) -> tuple[Tensor, Tensor]:
        """The method's next state and its realization plan (the current iterate is ``self._plan``)."""
        raise NotImplementedError

    def _with_plan(self, state: Tensor) -> tuple[Tensor, Tensor]:
        return state, self._plan_of(state)

    def _scores(self, plan: Tensor) -> Tensor:
        """The payoff gradient of both players at plan ``x``, in units of the game's payoff scale."""
        return self._scale * (self._gradient_matrix @ plan)

    def _plan_of(self, state: Tensor) -> Tensor:
        return realization_plan(self.game, self.regularizer.to_local(state))


class TreeplexSimultaneousAscent(TreeplexAscent):
    """Mirror ascent, both players at once: ``x ← prox_x(η g(x))``."""

    default_step_sizes = {"euclidean": 1.0, "entropy": 1.0}

    def _next_state(self) -> tuple[Tensor, Tensor]:
        return self._with_plan(self.regularizer.step(self.step_size * self._scores(self._plan), [self._state], [1.0]))


class TreeplexOptimisticAscent(TreeplexAscent):
    """Optimistic mirror ascent: ``x_{t+1} = prox_{x_t}(η (2 g_t − g_{t−1}))`` (the first step is plain)."""

    default_step_sizes = {"euclidean": 1.5, "entropy": 1.0}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._previous_scores: Tensor | None = None

    def _next_state(self) -> tuple[Tensor, Tensor]:
        scores = self.step_size * self._scores(self._plan)
        previous = scores if self._previous_scores is None else self._previous_scores
        self._previous_scores = scores
        return self._with_plan(self.regularizer.step(2 * scores - previous, [self._state], [1.0]))


class TreeplexExtragradient(TreeplexAscent):
    """Mirror prox: ``x̂ = prox_x(η g(x))``, then ``x ← prox_x(η g(x̂))``, with an adaptive ``η``.

    With ``adaptive=True`` every step checks the condition of Nemirovski's (2004) analysis,

        η ⟨g(x̂) − g(x), x⁺ − x̂⟩ ≤ D(x̂ ‖ x) + D(x⁺ ‖ x̂),

    (the change of gradient between the two points must be small next to how far they are apart
    in the regularizer's geometry). A step that breaks ``ratio = left / right ≤ acceptance`` is
    taken again with ``η`` halved; an accepted step lets ``η`` grow by ``growth`` for the next one.
    ``η`` so settles near the largest step the game allows, which is what makes the last iterate
    fast, and no step size needs tuning per game (Kuhn poker allows about half of Leduc's).

    Args:
        game: the game to solve.
        adaptive: adapt ``η`` as above; if False, ``η = step_size`` throughout.
        acceptance: the largest accepted ratio, in (0, 1].
        growth: factor applied to ``η`` after each accepted step, ``>= 1``.
        **kwargs: as :class:`TreeplexAscent` (``step_size`` is the first ``η``).
    """

    default_step_sizes = {"euclidean": 1.0, "entropy": 1.0}

    def __init__(self, game: ExtensiveFormGame, *, adaptive: bool = True, acceptance: float = 0.9,
                 growth: float = 1.02, **kwargs) -> None:
        super().__init__(game, **kwargs)
        if not 0 < _check_positive("acceptance", acceptance) <= 1:
            raise ValueError(f"acceptance must be in (0, 1], got {acceptance!r}")
        if _check_positive("growth", growth) < 1:
            raise ValueError(f"growth must be >= 1, got {growth!r}")
        self.adaptive, self.acceptance, self.growth = bool(adaptive), float(acceptance), float(growth)
        self.rejected_steps = 0

    def _next_state(self) -> tuple[Tensor, Tensor]:
        gradient = self._scores(self._plan)
        halvings = 0
        while True:
            step = self.step_size
            lookahead = self.regularizer.step(step * gradient, [self._state], [1.0])
            lookahead_plan = self._plan_of(lookahead)
            lookahead_gradient = self._scores(lookahead_plan)
            following = self.regularizer.step(step * lookahead_gradient, [self._state], [1.0])
            following_plan = self._plan_of(following)
            if not self.adaptive:
                return following, following_plan
            movement = following_plan - lookahead_plan
            change = step * float(((lookahead_gradient - gradient) * movement).sum())
            rounding = _ROUNDING * step * float(((lookahead_gradient.abs() + gradient.abs()) * movement.abs()).sum())
            distance = float(self.regularizer.divergence(lookahead, lookahead_plan, self._state)
                             + self.regularizer.divergence(following, following_plan, lookahead))
            if change <= self.acceptance * distance:
                self.step_size = step * self.growth
                return following, following_plan
            # Near an equilibrium the change of gradient drowns in the rounding of the two gradients:
            # such a step is accepted without growing η. The cap on halvings ends any loop.
            if change <= rounding or halvings == _MAX_HALVINGS:
                return following, following_plan
            self.step_size = step / 2
            self.rejected_steps += 1
            halvings += 1


class MagneticMirrorDescent(TreeplexAscent):
    """Magnetic mirror descent: ``x ← argmax ⟨η g(x_t), x⟩ − αη D(x ‖ ρ) − D(x ‖ x_t)``.

    Args:
        game: the game to solve.
        magnet_strength: ``α``, the weight of the pull towards the magnet.
        magnet_every: move the magnet to the current iterate every this many steps (``None``:
            the magnet stays at uniform play).
        **kwargs: as :class:`TreeplexAscent`.
    """

    default_step_sizes = {"euclidean": 1.5, "entropy": 1.0}

    def __init__(self, game: ExtensiveFormGame, *, magnet_strength: float = 0.2, magnet_every: int | None = 10,
                 **kwargs) -> None:
        super().__init__(game, **kwargs)
        self.magnet_strength = _check_positive("magnet_strength", magnet_strength)
        if magnet_every is not None and (isinstance(magnet_every, bool) or not isinstance(magnet_every, int)
                                         or magnet_every < 1):
            raise ValueError(f"magnet_every must be a positive integer or None, got {magnet_every!r}")
        self.magnet_every = magnet_every
        self.magnet = self._state

    def _next_state(self) -> tuple[Tensor, Tensor]:
        state = self.regularizer.step(self.step_size * self._scores(self._plan), [self._state, self.magnet],
                                      [1.0, self.magnet_strength * self.step_size])
        if self.magnet_every is not None and self.iteration % self.magnet_every == 0:
            self.magnet = state
        return self._with_plan(state)


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)

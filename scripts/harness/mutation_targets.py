"""What mutation testing mutates and which tests must notice: :class:`MutationTarget` and :data:`TARGETS`.

Used by :mod:`harness.mutation` (staging, running mutmut, the table) and
:mod:`harness.mutation_verification`. Paths are in the installed layout (``agents/`` as
``ascentrl/agents/``), as mutmut sees them in the work folder.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

__all__ = ["TARGETS", "MutationTarget"]


@dataclass(frozen=True)
class MutationTarget:
    """One module (or a few functions of one) and the tests that check it."""

    name: str
    """Short name, used for the work folder and the table."""
    files: tuple[str, ...]
    """Files to mutate, as installed-layout paths (``ascentrl/agents/reinforce.py``)."""
    tests: tuple[str, ...]
    """Test files (or node ids) run against the mutants."""
    functions: tuple[str, ...] = ()
    """If given, only mutants of these functions count: mutmut name globs such as
    ``*xǁReinforceǁweights__mutmut_*`` or ``*x_surrogate_objective__mutmut_*``."""

    def counts(self, mutant: str) -> bool:
        """Whether ``mutant`` (a mutmut name) is one this target counts (:attr:`functions`)."""
        return not self.functions or any(fnmatch.fnmatchcase(mutant, pattern) for pattern in self.functions)


def _method(cls: str, name: str) -> str:
    return f"*.x\u01c1{cls}\u01c1{name}__mutmut_*"


def _function(name: str) -> str:
    return f"*.x_{name}__mutmut_*"


_OPTIMIZER_TESTS = ("tests/test_ascent_behaviour.py", "tests/test_ascent_equivalence.py",
                    "tests/test_ascent_properties.py", "tests/test_ascent_references.py")

TARGETS: tuple[MutationTarget, ...] = (
    MutationTarget("returns", ("ascentrl/returns.py",),
                   ("tests/test_returns.py", "tests/test_properties_returns.py", "tests/test_returns_contracts.py",
                    "tests/test_batch_mean_baseline_ties.py")),
    MutationTarget("update_rules", ("ascentrl/_update_rules.py",),
                   (*_OPTIMIZER_TESTS, "tests/test_ascent_contracts.py")),
    MutationTarget("ascent", ("ascentrl/ascent.py",),
                   (*_OPTIMIZER_TESTS, "tests/test_ascent_contracts.py", "tests/test_ascent_step_hooks.py",
                    "tests/test_ascent_gradient_pass.py", "tests/test_gradient_ascent.py",
                    "tests/test_ascent_step.py")),
    MutationTarget("escape", ("ascentrl/escape.py",), (*_OPTIMIZER_TESTS, "tests/test_escape_contracts.py")),
    MutationTarget("payoffs", ("ascentrl/games/payoffs.py",),
                   ("tests/test_payoffs.py", "tests/test_properties_games.py", "tests/test_equilibrium_metrics.py")),
    MutationTarget("simplex", ("ascentrl/games/simplex.py",),
                   ("tests/test_simplex.py", "tests/test_properties_games.py")),
    MutationTarget("zero_sum", ("ascentrl/games/zero_sum.py", "ascentrl/games/zero_sum_exact.py"),
                   ("tests/test_zero_sum.py", "tests/test_zero_sum_exact_steps.py",
                    "tests/test_zero_sum_first_order_loop.py")),
    MutationTarget("dynamics", ("ascentrl/games/dynamics.py", "ascentrl/games/dynamics_base.py"),
                   ("tests/test_game_dynamics.py", "tests/test_two_step_dynamics.py",
                    "tests/test_dynamics_contracts.py")),
    MutationTarget("reinforce_objective", ("ascentrl/agents/reinforce.py",),
                   ("tests/test_reinforce.py", "tests/test_policy_gradient_exact.py",
                    "tests/test_reinforce_objectives.py"),
                   functions=(_method("Reinforce", "weights"), _method("Reinforce", "policy_objective"),
                              _method("Reinforce", "value_objective"))),
    MutationTarget("actor_critic_objective", ("ascentrl/agents/actor_critic.py",),
                   ("tests/test_actor_critic.py", "tests/test_policy_gradient_exact.py",
                    "tests/test_actor_critic_objectives.py"),
                   functions=(_function("surrogate_objective"), _function("value_error"),
                              _function("explained_variance"), _method("ActorCriticLearner", "objective"))),
    MutationTarget("categorical_objective", ("ascentrl/agents/categorical_objective.py",),
                   ("tests/test_categorical_objective.py",)),
    MutationTarget("distributions", ("ascentrl/agents/distributions.py",),
                   ("tests/test_distributions.py", "tests/test_actor_critic.py", "tests/test_reinforce.py")),
    MutationTarget("normalization", ("ascentrl/agents/normalization.py",),
                   ("tests/test_normalization.py", "tests/test_actor_critic.py")),
    MutationTarget("hmm_inference", ("ascentrl/applications/hmm_inference.py",),
                   ("tests/test_hmm.py", "tests/test_mirror_ascent.py")),
    MutationTarget("extensive_evaluation", ("ascentrl/games/extensive/evaluation.py",),
                   ("tests/test_extensive_games.py", "tests/test_extensive_solvers.py")),
    MutationTarget("eigengame", ("ascentrl/applications/eigengame.py",), ("tests/test_eigengame.py",)),
    MutationTarget("gaussian", ("ascentrl/applications/gaussian.py",),
                   ("tests/test_likelihood_gaussian.py", "tests/test_mirror_ascent.py",
                    "tests/test_mixture_contracts.py", "tests/test_mixtures.py")),
    MutationTarget("mixtures", ("ascentrl/applications/mixtures.py",),
                   ("tests/test_mixtures.py", "tests/test_mixture_contracts.py", "tests/test_likelihood_gaussian.py",
                    "tests/test_mirror_ascent.py")),
    MutationTarget("fitting", ("ascentrl/applications/fitting.py",),
                   ("tests/test_fitting.py", "tests/test_mirror_ascent.py", "tests/test_mixtures.py")),
    MutationTarget("multiagent_objectives", ("ascentrl/agents/multiagent_objectives.py",),
                   ("tests/test_multiagent.py", "tests/test_multiagent_objectives.py", "tests/test_multiagent_ppo.py")),
)

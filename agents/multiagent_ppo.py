r"""Multi-agent PPO: independent or parameter-shared learners with the clipped surrogate (Schulman et al., 2017).

Sign convention: every objective is **maximized** (``J.backward()`` then an :class:`ascentrl.Ascent`
step); nothing is negated into a loss.

:class:`MultiAgentPPO` is :class:`~ascentrl.agents.MultiAgentReinforce` with another update; the
rollout (simultaneous or turn-based, one episode per env copy), the policies with their value
networks, evaluation, ``act`` and checkpoints are its. Its methods are ``independent`` (one policy
and one value network per agent) and ``shared`` (one of each, reading the agent's one-hot id: in a
turn-based game, self-play that knows its seat). One update, on a batch of ``N`` episodes:

1. With the sampling policies fixed: ``log pi_old(a_t|o_t)``, ``V(o_t)``, and agent i's advantages
   along its own steps (its decisions, in a turn-based game) by GAE(gamma, lambda)
   (:func:`ascentrl.returns.gae_advantages`), the value after an agent's last step being 0 (no
   bootstrap: a cut episode's return stops at the cut); return targets ``R_t = A_t + V(o_t)``.
2. ``epochs`` passes over the batch, each in ``minibatches`` random sets of whole episodes (a fresh
   permutation from the learners' saved generator every pass). On each, every agent's policy
   ascends, over its valid steps,

   .. math::

       J_i(\theta) = \hat{\mathbb E}\big[\min(\rho_t \hat A_t,\ \operatorname{clip}(\rho_t,
                     1-\epsilon, 1+\epsilon)\,\hat A_t)\big]
                     + \beta\,\hat{\mathbb E}\big[H(\pi_\theta(\cdot|o_t))\big]
                     - \alpha\,\hat{\mathbb E}\big[\mathrm{KL}(\pi_\theta(\cdot|o_t) \,\|\, \mu(\cdot|o_t))\big],
       \qquad \rho_t = \frac{\pi_\theta(a_t|o_t)}{\pi_{\text{old}}(a_t|o_t)},

   with the advantages normalized over the minibatch (``normalize_advantages``), illegal actions
   at probability 0 (masked logits), and its value network ascends ``-E[(V(o_t) - R_t)^2]``.
   Gradients are clipped to ``max_grad_norm`` per network. A NaN/inf in any minibatch undoes the
   whole update (the training loop restores the state from before the first minibatch).

The last term is off by default (``magnet_coef`` = alpha = 0). With alpha > 0 each policy is pulled
towards a *magnet* ``mu``: a copy of the policy network whose parameters follow the policy's by an
exponential moving average, ``phi <- phi + magnet_rate (theta - phi)`` after every update (for a
tabular softmax policy, a geometric mixture of the past policies). This is magnetic mirror descent
played from samples (Sokota et al. 2023, "A unified approach to reinforcement learning, quantal
response equilibria, and two-player zero-sum games", section 5): with a fixed magnet self-play
converges to the equilibrium of the game regularized towards it, and moving the magnet moves that
equilibrium towards the game's own. An entropy bonus is the special case of a uniform magnet. In
a two-player zero-sum game plain self-play cycles around the equilibrium; the magnet damps the
cycle (measured on Kuhn poker in ``scripts/bench_extensive_sampled_play.py``). At a constant
learning rate the damped iterate still wanders around the equilibrium (on Kuhn poker between
NashConv 0.01 and 0.19 late in a run); the poker presets therefore also decay the rate linearly to
0 over the run (``lr_schedule="linear"``), so that the policy training ends with has settled. The magnets are
saved with the networks, so a resumed run is the run that never stopped.

Why the entropy bonus matters in self-play: a policy that turns deterministic early only ever meets
the few positions it steers the game into, and its copy in the other seat learns to beat that one
line rather than to play; the bonus keeps both seats exploring, so the greedy policy (``act``)
plays well from the positions other opponents lead to. The defaults are the turn-based presets'
(:mod:`ascentrl.agents.presets`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from ascentrl import validation
from ascentrl.agents.actor_critic import surrogate_objective
from ascentrl.agents.multiagent import MultiAgentReinforce
from ascentrl.agents.multiagent_config import DATA_PARALLEL_METHODS, MultiAgentConfig
from ascentrl.agents.multiagent_rollout import MultiAgentBatch
from ascentrl.agents.turn_based_rollout import TurnBasedBatch
from ascentrl.distributed import all_reduce_gradients
from ascentrl.returns import gae_advantages, normalize_advantages
from ascentrl.training import NonFiniteUpdateError, non_finite_report

__all__ = ["MultiAgentPPO", "MultiAgentPPOConfig"]


@dataclass
class MultiAgentPPOConfig(MultiAgentConfig):
    """Hyperparameters of :class:`MultiAgentPPO` (the shared ones are documented in MultiAgentConfig)."""

    method: Literal["independent", "shared"] = "shared"
    """independent: one policy and value network per agent; shared: one of each, told the agent's id."""
    baseline: Literal["value"] = "value"
    """PPO's baseline is its learned value network."""
    lr: float = 3e-4
    """Learning rate of every policy's Ascent optimizer."""
    lr_schedule: Literal["constant", "linear", "inverse", "inverse_sqrt"] = "constant"
    """Keep the rate, decay it linearly to 0 over train()'s iterations, or to lr/(1+t/tau) or lr/sqrt(1+t/tau)."""
    ascent: dict[str, Any] = field(default_factory=lambda: {"adaptive": "adam"})
    """Other keyword arguments of ascentrl.Ascent (Adam by default)."""
    max_grad_norm: float | None = 0.5
    """Clip each network's gradient to this global norm (Ascent clip_norm); none disables."""
    entropy_coef: float = 0.1
    """Weight of the entropy bonus (high: self-play must keep exploring; module docstring)."""
    normalize_advantages: bool = True
    """Normalize the advantages over each minibatch (per agent)."""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden layer widths of the policies and value networks (tanh; ReLU after convolutions)."""
    epochs: int = 4
    """Passes over every batch."""
    minibatches: int = 4
    """Random sets of whole episodes per pass; at most num_envs."""
    clip_range: float = 0.2
    """epsilon of the clipped surrogate (the probability ratio is kept within 1 +- epsilon)."""
    gae_lambda: float = 1.0
    """lambda of the advantages' GAE: 1 for Monte-Carlo returns minus V, lower to lean on V."""
    magnet_coef: float = 0.0
    """alpha: weight of -alpha KL(pi || magnet), the pull towards each policy's magnet; 0: no magnet."""
    magnet_rate: float = 0.05
    """After every update the magnets' parameters move this fraction of the way to the policies'; 0: never."""

    def __post_init__(self) -> None:
        # PPO's own choices first: the base config would object to a game-dynamics method less clearly.
        validation.check_choice("method", self.method, DATA_PARALLEL_METHODS)
        validation.check_choice("baseline", self.baseline, ("value",))
        super().__post_init__()
        validation.check_positive_int("epochs", self.epochs)
        validation.check_positive_int("minibatches", self.minibatches)
        if self.minibatches > self.num_envs:
            raise ValueError(f"minibatches ({self.minibatches}) must be at most num_envs ({self.num_envs}): "
                             f"a minibatch holds whole episodes")
        validation.check_number("clip_range", self.clip_range, 0.0, include_low=False)
        validation.check_number("gae_lambda", self.gae_lambda, 0.0, 1.0)
        validation.check_number("magnet_coef", self.magnet_coef, 0.0)
        validation.check_number("magnet_rate", self.magnet_rate, 0.0, 1.0)


class MultiAgentPPO(MultiAgentReinforce):
    """Independent or parameter-shared PPO learners on PettingZoo envs, turn-based ones included
    (module docstring).

    Example::

        learners = MultiAgentPPO(MultiAgentPPOConfig(env="classic/tictactoe-v3"))
        learners.train(400)
        print(learners.play_against("random"))
    """

    config_class: ClassVar[type] = MultiAgentPPOConfig
    metric_names: ClassVar[tuple[str, ...]] = ("approx_kl", "clip_fraction")

    magnets: tuple[nn.Module, ...] = ()
    """One magnet per policy (``magnet_coef`` > 0): a frozen copy the policy is pulled towards."""

    def __init__(self, config: MultiAgentPPOConfig | None = None, **options: Any) -> None:
        super().__init__(config if config is not None else MultiAgentPPOConfig(), **options)
        if self.config.magnet_coef > 0:
            self.magnets = tuple(copy.deepcopy(policy).requires_grad_(False) for policy in self.policies)

    def networks(self) -> dict[str, nn.Module | None]:
        return {**super().networks(),
                **{f"{name} magnet": magnet for name, magnet in zip(self._policy_names, self.magnets)}}

    def _advantages(self, batch: MultiAgentBatch, values: Tensor) -> Tensor:
        """Every agent's GAE advantages along its own steps, ``[n_agents, T, N]`` (step 1)."""
        config = self.config
        next_values = torch.zeros_like(values)
        next_values[:, :-1] = values[:, 1:] * batch.valid[:, 1:]
        return torch.stack([
            gae_advantages(batch.rewards[index], values[index], next_values[index], batch.terminated[index],
                           batch.truncated[index], config.gamma, config.gae_lambda, valid=batch.valid[index])
            for index in range(len(self.agents))])

    def update(self, batch: MultiAgentBatch) -> dict[str, float]:
        """Steps 1 and 2 on one batch; returns the last pass's mean approximate KL and clip fraction.

        Raises:
            NonFiniteUpdateError: an objective or a gradient is NaN/inf (the training loop puts the
                networks and optimizers back as they were before this update).
        """
        config = self.config
        with torch.no_grad():
            old_log_probs, _ = self.log_probs(batch)
            values = torch.stack(self.agent_policies.value_estimates(batch.observations)) * batch.valid
            advantages = self._advantages(batch, values)
            returns = advantages + values
        optimizers = (*self.optimizers, *self.value_optimizers)
        kls, clipped = [], []
        for _ in range(config.epochs):
            order = torch.randperm(batch.num_episodes, generator=self.generator)
            kls, clipped = [], []
            for episodes in order.tensor_split(config.minibatches):
                part = _episodes(batch, episodes)
                log_probs, entropy = self.log_probs(part)
                divergences = self.agent_policies.divergences(self.magnets, part) if self.magnets else None
                estimates = self.agent_policies.value_estimates(part.observations)
                named: dict[str, Tensor] = {}
                for index, agent in enumerate(self.agents):
                    valid = part.valid[index]
                    if not valid.any():
                        continue
                    part_advantages = advantages[index][:, episodes]
                    if config.normalize_advantages:
                        part_advantages = normalize_advantages(part_advantages, valid)
                    old = old_log_probs[index][:, episodes][valid]
                    objective, fraction = surrogate_objective(log_probs[index][valid], old,
                                                              part_advantages[valid], config.clip_range)
                    objective = objective + config.entropy_coef * entropy[index][valid].mean()
                    if divergences is not None:
                        objective = objective - config.magnet_coef * divergences[index][valid].mean()
                    named[f"{agent} objective"] = objective
                    named[f"{agent} value objective"] = -(estimates[index][valid]
                                                          - returns[index][:, episodes][valid]).square().mean()
                    with torch.no_grad():
                        ratio_log = log_probs[index][valid] - old
                        kls.append(float((ratio_log.exp() - 1 - ratio_log).mean()))
                    clipped.append(float(fraction))
                for optimizer in optimizers:
                    optimizer.zero_grad(set_to_none=True)
                torch.stack(list(named.values())).sum().backward()
                for network in (*self.policies, *self.value_networks):
                    all_reduce_gradients(network, part.num_episodes, self.distributed)
                problem = non_finite_report(named, {name: network.parameters()
                                                    for name, network in self.networks().items()})
                if problem is not None:
                    raise NonFiniteUpdateError(problem)
                for optimizer in optimizers:
                    optimizer.step()
        with torch.no_grad():
            for magnet, policy in zip(self.magnets, self.policies):
                torch._foreach_lerp_(list(magnet.parameters()), list(policy.parameters()), config.magnet_rate)
        return {"approx_kl": sum(kls) / max(len(kls), 1), "clip_fraction": sum(clipped) / max(len(clipped), 1)}


def _episodes(batch: MultiAgentBatch, episodes: Tensor) -> MultiAgentBatch:
    """The batch restricted to the episodes (env copies) ``episodes``."""
    columns = {name: getattr(batch, name)[..., episodes] for name in ("actions", "rewards", "terminated",
                                                                      "truncated", "valid")}
    extra = {}
    if isinstance(batch, TurnBasedBatch):
        extra["rewards_before_first_decision"] = batch.rewards_before_first_decision[:, episodes]
    return dataclasses.replace(
        batch, observations=[observations[:, episodes] for observations in batch.observations],
        action_masks=None if batch.action_masks is None else [masks[:, episodes] for masks in batch.action_masks],
        **columns, **extra)

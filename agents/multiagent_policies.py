"""The policies of several agents: one per agent or one shared, how they act, and their mixed strategies.

- One :class:`~ascentrl.agents.policies.CategoricalPolicy` per agent, or one shared by all agents
  (parameter sharing, Gupta et al. 2017) whose input is the observation with the agent's one-hot id
  appended. Agents whose observations are images (boards, screens) get a
  :class:`~ascentrl.agents.conv_policy.ConvCategoricalPolicy` instead, whose convolutions read the
  image and whose dense layers also read the id.
- With a learned baseline, one value network ``V_i(o)`` per policy, built like it (same inputs,
  one output).
- *Memoryless* policies ignore observations: each is one softmax mixed strategy ``softmax(b)``
  over its actions, started from ``b ~ N(0, initial_logit_std^2)`` (the matrix-game default).
- Acting samples ``argmax_a (logits_a + g_a)``, ``g ~ Gumbel(0, 1)``, over the legal actions only:
  a sample of the masked softmax, drawn from the learners' seeded generator. Illegal actions are
  set to ``-inf`` *after* the noise is added and legal ones are kept finite, so no value of the
  logits or the noise (an infinite Gumbel draw, a diverged network) can pick an illegal action.
  Acting greedily takes ``argmax_a logits_a`` over the legal actions, the same way.
- An agent's *learned mixed strategy* is its action distribution averaged over the valid
  observations of a batch (exact, and batch-free, for memoryless policies).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ascentrl.agents.conv_policy import ConvCategoricalPolicy, ConvLogits
from ascentrl.agents.multiagent_objectives import masked_kl, masked_log_probs
from ascentrl.agents.multiagent_rollout import MultiAgentBatch
from ascentrl.agents.policies import MLP, CategoricalPolicy
from ascentrl.envs.pettingzoo_spaces import AgentSpaces

__all__ = ["AgentPolicies"]


class AgentPolicies:
    """Every agent's policy (module docstring). Build it under the learners' seeded generator."""

    def __init__(self, spaces: Sequence[AgentSpaces], *, shared: bool, memoryless: bool,
                 hidden_sizes: Sequence[int], initial_logit_std: float, conv_channels: Sequence[int] = (),
                 values: bool = False) -> None:
        self.spaces = tuple(spaces)
        self.shared = shared
        self.memoryless = memoryless
        hidden = () if memoryless else tuple(hidden_sizes)
        identity = len(self.spaces) if shared else 0
        described = self.spaces[:1] if shared else self.spaces
        with warnings.catch_warnings():
            # A memoryless policy's input is empty, so its weight has no entries to initialize.
            warnings.filterwarnings("ignore", "Initializing zero-element tensors", UserWarning)
            self.policies = [
                ConvCategoricalPolicy(space.image_shape, identity, space.num_actions, conv_channels, hidden)
                if space.image_shape is not None and not memoryless else
                CategoricalPolicy((0 if memoryless else space.observation_size) + identity, space.num_actions, hidden)
                for space in described
            ]
        if memoryless:
            with torch.no_grad():
                for policy in self.policies:
                    policy.logits.layers[-1].bias.normal_(0.0, initial_logit_std)
        self.values: list[nn.Module] = []
        """Value networks ``V_i(o)`` (a learned baseline; ``values=True``), one per policy, same inputs."""
        if values:
            self.values = [
                ConvLogits(space.image_shape, identity, 1, conv_channels, hidden, output_gain=1.0)
                if space.image_shape is not None and not memoryless else
                MLP((0 if memoryless else space.observation_size) + identity, hidden, 1, output_gain=1.0)
                for space in described
            ]

    def logits(self, observations: list[Tensor]) -> list[Tensor]:
        """Each agent's logits for its observations ``[*batch, size_i]``: one forward per policy."""
        return self._forward([policy.logits for policy in self.policies], observations)

    def value_estimates(self, observations: list[Tensor]) -> list[Tensor]:
        """Each agent's ``V_i(o)`` for its observations ``[*batch, size_i]``, ``[*batch]`` each."""
        return [values.squeeze(-1) for values in self._forward(self.values, observations)]

    def _forward(self, networks: list[nn.Module], observations: list[Tensor]) -> list[Tensor]:
        if self.memoryless:
            observations = [observation[..., :0] for observation in observations]
        if not self.shared:
            return [network(observation) for network, observation in zip(networks, observations)]
        identities = torch.eye(len(self.spaces))
        inputs = torch.stack([
            torch.cat((observation, identities[index].expand(*observation.shape[:-1], -1)), dim=-1)
            for index, observation in enumerate(observations)
        ])
        return list(networks[0](inputs).unbind(0))

    def agent_logits(self, index: int, observations: Tensor) -> Tensor:
        """Agent ``index``'s logits for its observations ``[*batch, size]`` alone (turn-based
        play, where one agent acts at a time)."""
        if self.memoryless:
            observations = observations[..., :0]
        if not self.shared:
            return self.policies[index].logits(observations)
        identity = torch.eye(len(self.spaces))[index].expand(*observations.shape[:-1], -1)
        return self.policies[0].logits(torch.cat((observations, identity), dim=-1))

    @staticmethod
    def sample(all_logits: list[Tensor], masks: list[Tensor] | None, generator: torch.Generator) -> Tensor:
        """``argmax_a (logits_a + g_a)`` over each agent's legal actions: a sample of the masked
        softmax, ``[n_agents, N]``."""
        return torch.stack([
            AgentPolicies.sample_one(logits, None if masks is None else masks[index], generator)
            for index, logits in enumerate(all_logits)
        ])

    @staticmethod
    def sample_one(logits: Tensor, masks: Tensor | None, generator: torch.Generator) -> Tensor:
        """``argmax_a (logits_a + g_a)`` over the legal actions of each row: a sample of the masked
        softmax, ``[*batch]``; never an illegal action (module docstring)."""
        noise = torch.empty_like(logits).exponential_(generator=generator).log_().neg_()
        return AgentPolicies.greedy(logits + noise, masks)

    @staticmethod
    def greedy(scores: Tensor, masks: Tensor | None) -> Tensor:
        """``argmax_a scores_a`` over the legal actions of each row (the first of equal ones)."""
        if masks is None:
            return scores.argmax(dim=-1)
        largest = torch.finfo(scores.dtype).max
        legal = torch.nan_to_num(scores, nan=-largest, posinf=largest, neginf=-largest)
        return torch.where(masks, legal, float("-inf")).argmax(dim=-1)

    def log_probs(self, batch: MultiAgentBatch) -> tuple[Tensor, Tensor]:
        """``log pi_i(a_t^i|o_t^i)`` and the entropies for the whole batch, each ``[n_agents, T, N]``."""
        results = [
            masked_log_probs(logits, batch.actions[index],
                             None if batch.action_masks is None else batch.action_masks[index])
            for index, logits in enumerate(self.logits(batch.observations))
        ]
        return torch.stack([lp for lp, _ in results]), torch.stack([entropy for _, entropy in results])

    def divergences(self, references: Sequence[nn.Module], batch: MultiAgentBatch) -> Tensor:
        """``KL(pi_i(.|o_t^i) || rho_i(.|o_t^i))`` at every step of ``batch``, ``[n_agents, T, N]``, for
        reference policies ``rho`` built like :attr:`policies` (e.g. copies of them); differentiable
        in the policies' parameters only."""
        with torch.no_grad():
            reference_logits = self._forward([reference.logits for reference in references], batch.observations)
        masks = batch.action_masks
        return torch.stack([masked_kl(logits, reference_logits[index], None if masks is None else masks[index])
                            for index, logits in enumerate(self.logits(batch.observations))])

    def strategy_sums(self, batch: MultiAgentBatch) -> list[tuple[Tensor, float]]:
        """Per agent, ``sum pi_i(.|o)`` over the valid observations of ``batch`` (float64 ``[A_i]``)
        and how many there were: the numerator and denominator of :meth:`strategies`."""
        sums = []
        with torch.no_grad():
            for index, logits in enumerate(self.logits(batch.observations)):
                if batch.action_masks is not None:
                    logits = logits.masked_fill(~batch.action_masks[index], float("-inf"))
                valid = batch.valid[index].unsqueeze(-1)
                sums.append(((torch.softmax(logits, dim=-1) * valid).sum(dim=(0, 1)).double(), float(valid.sum())))
        return sums

    def strategies(self, batch: MultiAgentBatch | None = None) -> list[Tensor]:
        """Each agent's mixed strategy: ``pi_i(.|o)`` averaged over the valid observations of
        ``batch`` (exact for memoryless policies, which need no batch). float64 ``[A_i]`` each."""
        with torch.no_grad():
            if self.memoryless:
                observations = [torch.zeros(1, space.observation_size) for space in self.spaces]
                return [torch.softmax(logits[0], -1).double() for logits in self.logits(observations)]
            if batch is None:
                raise ValueError("strategies of policies that read observations need a batch to average over")
            strategies = []
            for index, logits in enumerate(self.logits(batch.observations)):
                if batch.action_masks is not None:
                    logits = logits.masked_fill(~batch.action_masks[index], float("-inf"))
                valid = batch.valid[index].unsqueeze(-1)
                probabilities = torch.softmax(logits, dim=-1) * valid
                strategies.append((probabilities.sum(dim=(0, 1)) / valid.sum().clamp(min=1)).double())
            return strategies

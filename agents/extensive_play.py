r"""Learners trained from sampled play on an extensive-form game, read back as a policy table and measured exactly.

The multi-agent learners play an :class:`~ascentrl.envs.ExtensiveGameEnv` (``env="extensive/kuhn_poker"``
or ``"extensive/leduc_poker"``) like any turn-based PettingZoo game: one deal per episode, each
agent's trajectory its own decisions, illegal actions at probability 0. They never see the game
tree; they learn from sampled deals only. What they have learned is nevertheless a *behavioural
strategy* of the game, exactly:

1. The env's observation of an agent at information set ``I`` is the one-hot vector ``e_I``
   (:meth:`ExtensiveGameEnv.observation_of`), a function of ``I`` alone, so the trained policy of
   the player who acts at ``I`` defines ``π(I, a) = softmax(logits(e_I))_a`` over the legal actions
   (masked logits: ``π(I, a) = 0`` for an illegal ``a``), without sampling.
2. Stacking every information set of both players gives the policy table of shape
   ``(num_infosets, num_distinct_actions)`` of :mod:`ascentrl.games.extensive.strategies`.
3. :func:`ascentrl.games.extensive.nash_conv` of its sequence form is the profile's exact
   NashConv, ``Σ_i max_{π_i'} u_i(π_i', π_{-i}) − u_i(π)``, by one pass over the tree.

So a run from sampled play is measured by the same exact number as the tree solvers of
:mod:`ascentrl.games.extensive` (Kuhn poker: 0.916667 for uniform play; Leduc poker: 4.747222).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ascentrl.envs.extensive_game_env import ExtensiveGameEnv
from ascentrl.games.extensive import ExtensiveFormGame, nash_conv, sequence_form

if TYPE_CHECKING:
    from ascentrl.agents.multiagent import MultiAgentReinforce

__all__ = ["extensive_game_of", "learned_nash_conv", "learned_policy_table"]


def extensive_game_of(env: object) -> ExtensiveFormGame | None:
    """The game an (unwrapped) env plays if it is an :class:`ExtensiveGameEnv`, else None."""
    return env.game if isinstance(env, ExtensiveGameEnv) else None


def learned_policy_table(learners: MultiAgentReinforce) -> Tensor:
    """``π(I, ·)`` of the trained policies at every information set (steps 1-2), float64.

    Raises:
        ValueError: the learners do not play an extensive-form game.
    """
    env = learners.envs.envs[0].unwrapped
    game = extensive_game_of(env)
    if game is None:
        raise ValueError(f"a policy table needs an extensive-form game env (extensive/...); "
                         f"{learners.config.env} is not one")
    table = torch.zeros(game.num_infosets, game.num_distinct_actions, dtype=torch.float64)
    legal = game.legal_actions_mask
    with torch.no_grad():
        for player, agent in enumerate(env.possible_agents):
            infosets = game.player_infosets(player)
            index = learners.agents.index(agent)
            observations = torch.stack([torch.from_numpy(learners.envs.encode_observation(
                index, env.observation_of(int(infoset)))) for infoset in infosets])
            logits = learners.agent_policies.agent_logits(index, observations).to(torch.float64)
            logits = logits.masked_fill(~legal[infosets], -torch.inf)
            table[infosets] = torch.softmax(logits, dim=-1)
    return table


def learned_nash_conv(learners: MultiAgentReinforce) -> float:
    """Exact NashConv of :func:`learned_policy_table` (step 3)."""
    game = extensive_game_of(learners.envs.envs[0].unwrapped)
    table = learned_policy_table(learners)
    return float(nash_conv(game, sequence_form(game, table)))

"""Agents that ascend expected-return objectives with :class:`ascentrl.Ascent`."""
from ascentrl.agents.matrix_players import PARAMETERIZATIONS, MatrixGamePlayer, Trajectory, play
from ascentrl.agents.multiagent import (
    METHODS,
    MultiAgentConfig,
    MultiAgentHistory,
    MultiAgentRecord,
    MultiAgentReinforce,
)
from ascentrl.agents.reinforce import Reinforce, ReinforceConfig, TrainHistory, UpdateRecord

__all__ = [
    "METHODS",
    "PARAMETERIZATIONS",
    "MatrixGamePlayer",
    "MultiAgentConfig",
    "MultiAgentHistory",
    "MultiAgentRecord",
    "MultiAgentReinforce",
    "Reinforce",
    "ReinforceConfig",
    "TrainHistory",
    "Trajectory",
    "UpdateRecord",
    "play",
]

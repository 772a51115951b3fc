"""Agents that ascend expected-return objectives with :class:`ascentrl.Ascent`."""
from ascentrl.agents.reinforce import Reinforce, ReinforceConfig, TrainHistory, UpdateRecord
from ascentrl.agents.matrix_players import PARAMETERIZATIONS, MatrixGamePlayer, Trajectory, play
from ascentrl.agents.multiagent import METHODS, MultiAgentConfig, MultiAgentHistory, MultiAgentRecord, MultiAgentReinforce

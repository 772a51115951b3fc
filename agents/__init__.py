"""Agents that ascend expected-return objectives with :class:`ascentrl.Ascent`, all on the training
loop of :class:`ascentrl.training.Learner`."""
from ascentrl.agents.gym_learner import GymLearner, GymTrainingOptions
from ascentrl.agents.matrix_players import PARAMETERIZATIONS, MatrixGamePlayer, Trajectory, play
from ascentrl.agents.multiagent import METHODS, MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.multiagent_reporting import MultiAgentTrainingOptions
from ascentrl.agents.reinforce import EpisodeBatch, Reinforce, ReinforceConfig

__all__ = [
    "METHODS",
    "PARAMETERIZATIONS",
    "EpisodeBatch",
    "GymLearner",
    "GymTrainingOptions",
    "MatrixGamePlayer",
    "MultiAgentConfig",
    "MultiAgentReinforce",
    "MultiAgentTrainingOptions",
    "Reinforce",
    "ReinforceConfig",
    "Trajectory",
    "play",
]

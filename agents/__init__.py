"""Agents that ascend expected-return objectives with :class:`ascentrl.Ascent`, all on the training
loop of :class:`ascentrl.training.Learner`."""
from ascentrl.agents.a2c import A2C, A2CConfig
from ascentrl.agents.actor_critic import ActorCriticConfig, ActorCriticLearner
from ascentrl.agents.gym_learner import GymLearner, GymTrainingOptions
from ascentrl.agents.matrix_players import PARAMETERIZATIONS, MatrixGamePlayer, Trajectory, play
from ascentrl.agents.multiagent import METHODS, MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.multiagent_evaluation import SeatRecord
from ascentrl.agents.multiagent_ppo import MultiAgentPPO, MultiAgentPPOConfig
from ascentrl.agents.multiagent_presets import LAST_ITERATE_PRESETS, last_iterate_preset
from ascentrl.agents.multiagent_reporting import MultiAgentTrainingOptions
from ascentrl.agents.ppo import PPO, PPOConfig
from ascentrl.agents.presets import MULTIAGENT_PRESETS, PRESETS, multiagent_preset_for, preset_for
from ascentrl.agents.reinforce import EpisodeBatch, Reinforce, ReinforceConfig

ALGORITHMS = {"reinforce": Reinforce, "a2c": A2C, "ppo": PPO}
"""The single-agent Gymnasium learners by the name ``scripts/train.py --algo`` takes."""
MULTIAGENT_ALGORITHMS = {"reinforce": MultiAgentReinforce, "ppo": MultiAgentPPO}
"""The multi-agent learners by the name ``scripts/train_multiagent.py --algo`` takes."""

__all__ = [
    "A2C",
    "ALGORITHMS",
    "METHODS",
    "MULTIAGENT_ALGORITHMS",
    "MULTIAGENT_PRESETS",
    "PPO",
    "PRESETS",
    "A2CConfig",
    "ActorCriticConfig",
    "ActorCriticLearner",
    "PPOConfig",
    "PARAMETERIZATIONS",
    "EpisodeBatch",
    "GymLearner",
    "GymTrainingOptions",
    "LAST_ITERATE_PRESETS",
    "MatrixGamePlayer",
    "MultiAgentConfig",
    "MultiAgentPPO",
    "MultiAgentPPOConfig",
    "MultiAgentReinforce",
    "MultiAgentTrainingOptions",
    "Reinforce",
    "ReinforceConfig",
    "SeatRecord",
    "Trajectory",
    "last_iterate_preset",
    "multiagent_preset_for",
    "play",
    "preset_for",
]

"""Environments for ascentrl: Gymnasium helpers, matrix games, extensive-form games and PettingZoo adapters."""
from ascentrl.envs.extensive_game_env import ExtensiveGameEnv
from ascentrl.envs.gym_envs import EnvSpaces, check_spaces, evaluate_policy, make_env, make_vector_env
from ascentrl.envs.matrix_game_env import MatrixGameEnv
from ascentrl.envs.matrix_games import (
    MATRIX_GAMES,
    MatrixGame,
    make_matrix_game,
    random_general_sum_game,
    random_zero_sum_game,
)
from ascentrl.envs.pettingzoo_envs import (
    AgentSpaces,
    AgentTensors,
    EnvStepError,
    ParallelEnvBatch,
    PettingZooAdapter,
    describe_agent_spaces,
)
from ascentrl.envs.pettingzoo_registry import is_turn_based, make_parallel_env, make_pettingzoo_env
from ascentrl.envs.turn_based import TurnBasedEnvBatch, Turns
from ascentrl.games.payoffs import (
    best_response_values,
    best_responses,
    deviation_payoffs,
    distance_to_equilibrium,
    expected_payoffs,
    exploitability,
    nash_conv,
)

__all__ = [
    "MATRIX_GAMES",
    "AgentSpaces",
    "AgentTensors",
    "EnvSpaces",
    "EnvStepError",
    "ExtensiveGameEnv",
    "MatrixGame",
    "MatrixGameEnv",
    "ParallelEnvBatch",
    "PettingZooAdapter",
    "TurnBasedEnvBatch",
    "Turns",
    "best_response_values",
    "best_responses",
    "check_spaces",
    "describe_agent_spaces",
    "deviation_payoffs",
    "distance_to_equilibrium",
    "evaluate_policy",
    "expected_payoffs",
    "exploitability",
    "is_turn_based",
    "make_env",
    "make_matrix_game",
    "make_parallel_env",
    "make_pettingzoo_env",
    "make_vector_env",
    "nash_conv",
    "random_general_sum_game",
    "random_zero_sum_game",
]

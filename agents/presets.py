"""Tuned hyperparameters per algorithm and environment, kept in one place.

``scripts/train.py --algo ALGO --env ID`` starts from ``PRESETS[ALGO][ID]`` when there is one (and
says so); any option given on the command line overrides it, and ``--preset none`` starts from the
config's plain defaults. A preset may also set the training budget (``total_steps``).

Where they come from. The PPO and A2C entries start from the RL-Baselines3-Zoo's tuned
hyperparameters (translated: ``n_envs`` -> ``num_envs``, ``n_steps`` -> ``num_steps``,
``batch_size`` -> ``minibatches = num_envs * num_steps / batch_size``, ``lin_X`` -> ``lr X`` with a
linear schedule, ``normalize`` -> observation and reward normalization, ``log_std_init`` ->
``initial_log_std``); entries marked "ours" were changed after measuring (see
``scripts/bench_pg.py``). The REINFORCE entries are the settings measured in the README.

``scripts/train_multiagent.py --algo ALGO --env ID`` starts the same way from
``MULTIAGENT_PRESETS[ALGO]``, looked up by the env id and then by its family (``classic/``,
``mpe2/``): self-play settings for turn-based games (measured in ``scripts/bench_turn_based.py``)
and settings for the Multi-Particle Environments, whose plain defaults (``lr 0.5`` without Adam,
tuned for matrix games) do worse than random play within a few iterations.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["MULTIAGENT_PRESETS", "PRESETS", "multiagent_preset_for", "preset_for"]

_MUJOCO_NETWORK = {"hidden_sizes": (256, 256), "activation": "relu", "initial_log_std": -2.0,
                   "normalize_observations": True, "normalize_rewards": True}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "reinforce": {
        "CartPole-v1": {},  # the defaults are tuned for it
        "Acrobot-v1": {"total_steps": 500_000},
        "Pendulum-v1": {"num_envs": 8, "gamma": 0.95, "baseline": "value", "lr": 0.005, "value_lr": 0.3,
                        "total_steps": 1_000_000},
    },
    "ppo": {
        "CartPole-v1": {"num_envs": 8, "num_steps": 32, "minibatches": 1, "gae_lambda": 0.8, "gamma": 0.98,
                        "epochs": 20, "lr": 1e-3, "lr_schedule": "linear", "total_steps": 100_000},
        "Acrobot-v1": {"num_envs": 16, "num_steps": 256, "minibatches": 64, "gae_lambda": 0.94, "epochs": 4,
                       "normalize_observations": True, "normalize_rewards": True, "total_steps": 1_000_000},
        # ours: the zoo's entry with rollouts of 512 steps and 10 epochs of 32 minibatches of 256 in
        # place of 1024 steps and 4 epochs of 256 minibatches of 64, which solved at 0.9-1.6M steps
        # here; this solved 5/5 seeds at 0.46-0.87M steps (scripts/bench_pg.py, figures in the README)
        "LunarLander-v3": {"num_envs": 16, "num_steps": 512, "minibatches": 32, "gae_lambda": 0.98,
                           "gamma": 0.999, "epochs": 10, "entropy_coef": 0.01, "total_steps": 1_000_000},
        "Pendulum-v1": {"num_envs": 4, "num_steps": 1024, "minibatches": 64, "gae_lambda": 0.95, "gamma": 0.9,
                        "epochs": 10, "lr": 1e-3, "normalize_observations": True, "normalize_rewards": True,
                        "total_steps": 200_000},
        # ours: the zoo's settings with 128-128 networks, 2 envs x 256 steps (the same 512 per batch),
        # 10 epochs of 4 minibatches of 128 instead of 20 of 8 of 64, and lr 2e-4 annealed linearly to 0
        # (1e-4 on average) for the 4x fewer steps; constant 1e-4 reached 4,264-5,756 at 1M on seeds 0-2
        # (figures from scripts/bench_pg.py in the README)
        "HalfCheetah-v5": {**_MUJOCO_NETWORK, "hidden_sizes": (128, 128), "num_envs": 2, "num_steps": 256,
                           "minibatches": 4, "gamma": 0.98, "lr": 2e-4, "lr_schedule": "linear",
                           "entropy_coef": 0.000401762,
                           "clip_range": 0.1, "epochs": 10, "gae_lambda": 0.92, "max_grad_norm": 0.8,
                           "value_coef": 0.58096, "total_steps": 1_000_000},
        # ours: not the zoo's entry (greedy 981 at 1M here) but CleanRL's MuJoCo settings -- 64-64 tanh
        # networks, 1 env x 2048 steps, 10 epochs of 32 minibatches, lr 3e-4 annealed, clipped value
        # objective, no entropy bonus, observation and reward normalization (figures in the README)
        "Hopper-v5": {"num_envs": 1, "num_steps": 2048, "minibatches": 32, "epochs": 10, "lr": 3e-4,
                      "lr_schedule": "linear", "value_clip_range": 0.2, "normalize_observations": True,
                      "normalize_rewards": True, "total_steps": 1_000_000},
        "Walker2d-v5": {**_MUJOCO_NETWORK, "num_envs": 1, "num_steps": 512, "minibatches": 16, "gamma": 0.99,
                        "lr": 5.05041e-05, "entropy_coef": 0.000585045, "clip_range": 0.1, "epochs": 20,
                        "gae_lambda": 0.95, "max_grad_norm": 1.0, "value_coef": 0.871923, "total_steps": 1_000_000},
    },
    "a2c": {
        "CartPole-v1": {"num_envs": 8, "entropy_coef": 0.0, "total_steps": 500_000},
        "Acrobot-v1": {"num_envs": 16, "normalize_observations": True, "normalize_rewards": True,
                       "total_steps": 500_000},
        "LunarLander-v3": {"num_envs": 8, "gamma": 0.995, "num_steps": 5, "lr": 0.00083, "lr_schedule": "linear",
                           "entropy_coef": 0.00001, "total_steps": 1_000_000},
        "Pendulum-v1": {"num_envs": 8, "num_steps": 8, "gae_lambda": 0.9, "value_coef": 0.4, "lr": 7e-4,
                        "lr_schedule": "linear", "initial_log_std": -2.0, "normalize_observations": True,
                        "normalize_rewards": True, "total_steps": 1_000_000},
        "HalfCheetah-v5": {**_MUJOCO_NETWORK, "num_envs": 4, "num_steps": 8, "gae_lambda": 0.9, "value_coef": 0.4,
                           "lr": 0.00096, "lr_schedule": "linear", "total_steps": 2_000_000},
        "Hopper-v5": {**_MUJOCO_NETWORK, "num_envs": 4, "num_steps": 8, "gae_lambda": 0.9, "value_coef": 0.4,
                      "lr": 0.00096, "lr_schedule": "linear", "total_steps": 2_000_000},
        "Walker2d-v5": {**_MUJOCO_NETWORK, "num_envs": 4, "num_steps": 8, "gae_lambda": 0.9, "value_coef": 0.4,
                        "lr": 0.00096, "lr_schedule": "linear", "total_steps": 2_000_000},
    },
}
"""``PRESETS[algo][env id]``: option name -> value (see the module docstring)."""


def preset_for(algo: str, env: str) -> dict[str, Any]:
    """The preset of ``algo`` on ``env`` (a copy), or ``{}`` when there is none."""
    return dict(PRESETS.get(algo, {}).get(env, {}))


_MPE2 = {"method": "shared", "lr": 3e-3, "ascent": {"adaptive": "adam"}, "lr_schedule": "constant",
         "hidden_sizes": (64, 64), "normalize_advantages": True, "num_envs": 32}

_EXTENSIVE = {"num_envs": 512, "hidden_sizes": (), "entropy_coef": 0.0, "magnet_coef": 1.0, "magnet_rate": 0.05,
              "lr": 5e-3, "lr_schedule": "linear"}

MULTIAGENT_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # By algorithm, then by env id or family: an id without an entry of its own starts from its
    # family's ("classic/texas_holdem-v4" from "classic/").
    "reinforce": {
        "mpe2/": _MPE2,
        # Self-play on a turn-based game: one policy that knows its seat, a learned value baseline, and
        # a large entropy bonus (see ascentrl.agents.multiagent_ppo on why). Slower than PPO.
        "classic/": {"method": "shared", "lr": 1e-3, "ascent": {"adaptive": "adam"}, "lr_schedule": "constant",
                     "baseline": "value", "entropy_coef": 0.1, "normalize_advantages": True,
                     "hidden_sizes": (128, 128), "num_envs": 256},
    },
    "ppo": {
        "mpe2/": {**_MPE2, "lr": 1e-3},
        "classic/": {"num_envs": 256},  # MultiAgentPPOConfig's defaults are the turn-based ones
        # Measured in scripts/bench_turn_based.py ("ours").
        "classic/tictactoe-v3": {"num_envs": 256, "observation_encoding": "flatten"},
        "classic/connect_four-v3": {"num_envs": 256, "observation_encoding": "flatten"},
        "classic/leduc_holdem-v4": {"num_envs": 256, "hidden_sizes": (64, 64)},
        # Kuhn and Leduc poker (ascentrl.envs.ExtensiveGameEnv): the observation is the one-hot
        # information set, so a linear policy is a tabular one. A magnet (magnetic mirror descent
        # from samples, multiagent_ppo's docstring) damps the cycling of self-play around the Nash
        # equilibrium, and the learning rate decays linearly to 0 over the run's iterations (the
        # preset's own budget), so the last iterate settles instead of wandering at a constant
        # step. Measured in scripts/bench_extensive_sampled_play.py (seeds 0-4): Kuhn NashConv of
        # the last iterate 0.017-0.042 after its 700 iterations (112-117 s here), against 0.045-0.089
        # at a constant rate with magnet 0.1, and 0.13-0.3 with an entropy bonus alone.
        "extensive/": _EXTENSIVE,
        "extensive/kuhn_poker": {**_EXTENSIVE, "iterations": 700},
        "extensive/leduc_poker": {**_EXTENSIVE, "iterations": 600},
    },
}
"""``scripts/train_multiagent.py`` presets: ``MULTIAGENT_PRESETS[algo][env id or family]``, option ->
value; ``iterations``, where given, is the training budget (a linear ``lr_schedule`` decays over it).
Matrix games have none: :class:`~ascentrl.agents.MultiAgentConfig`'s defaults are tuned for them."""


def multiagent_preset_for(algo: str, env: str, *, with_budget: bool = False) -> dict[str, Any]:
    """The multi-agent preset of ``algo`` on ``env`` (its own, else its family's; a deep copy), or ``{}``.

    Only config fields (``MultiAgentPPOConfig(**preset)`` works), unless ``with_budget``: then also
    the preset's ``iterations``, if it names them (``scripts/train_multiagent.py``'s default budget).
    """
    presets = MULTIAGENT_PRESETS.get(algo, {})
    family = env.split("/", 1)[0] + "/" if "/" in env else None
    preset = copy.deepcopy(presets.get(env, presets.get(family, {})))
    if not with_budget:
        preset.pop("iterations", None)
    return preset

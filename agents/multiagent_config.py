"""The hyperparameters of the multi-agent learners (:class:`~ascentrl.agents.MultiAgentReinforce`) and their methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ascentrl import validation
from ascentrl.envs.pettingzoo_spaces import ENCODINGS
from ascentrl.games import DYNAMICS

__all__ = ["DATA_PARALLEL_METHODS", "METHODS", "MultiAgentConfig"]

Method = Literal["independent", "shared", "simultaneous", "alternating", "optimistic", "extragradient",
                 "sga", "consensus", "lola"]
METHODS: tuple[str, ...] = get_args(Method)
"""``independent``, ``shared``, and every game dynamics of :data:`ascentrl.games.DYNAMICS`."""
DATA_PARALLEL_METHODS: tuple[str, ...] = ("independent", "shared")
"""The methods that train data-parallel: their step direction is a mean of per-episode terms, so
the all-reduced mean of the ranks' directions is the direction of the union of their batches."""


@dataclass
class MultiAgentConfig:
    """Hyperparameters of :class:`~ascentrl.agents.MultiAgentReinforce`; the defaults suit matrix
    games (:mod:`ascentrl.agents.presets` holds tuned settings for other env families)."""

    env: str = "matching_pennies"
    """A matrix game name (played repeatedly) or a PettingZoo id such as classic/rps-v2 or classic/tictactoe-v3."""
    method: Method = "lola"
    """independent or shared REINFORCE learners, or a game dynamics stepping all agents."""
    seed: int = 0
    """Seed of the networks' initialization, the action noise and the environments."""
    num_envs: int = 128
    """Env copies, i.e. episodes per update."""
    episode_length: int | None = None
    """Rounds per episode of a matrix game (none: 1) or max_cycles of a PettingZoo env (none: its own)."""
    max_episode_steps: int = 1000
    """Steps after which a rollout cuts the episodes still running (a truncation)."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    baseline: Literal["none", "mean", "value"] = "mean"
    """Baseline subtracted from the returns: none, the leave-one-out batch mean at each step, or a learned V(o)."""
    normalize_advantages: bool = False
    """Rescale each agent's weights to zero mean and unit variance (independent and shared only)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus added to every agent's objective."""
    lr: float = 0.5
    """Learning rate of every agent's Ascent optimizer."""
    value_lr: float | None = None
    """Learning rate of the value networks' Ascent optimizers (baseline value); none: lr."""
    lr_schedule: Literal["constant", "linear", "inverse", "inverse_sqrt"] = "linear"
    """Keep the rate, decay it linearly to 0 over train()'s iterations, or to lr/(1+t/tau) or lr/sqrt(1+t/tau)."""
    lr_time_scale: float = 10.0
    """tau of the inverse and inverse_sqrt schedules, in iterations: the rate after t is lr/(1+t/tau)^p."""
    max_grad_norm: float | None = None
    """Clip each agent's gradient to this global norm (Ascent clip_norm); none disables."""
    ascent: dict[str, Any] = field(default_factory=dict)
    """Other keyword arguments of ascentrl.Ascent, e.g. {"momentum": 0.9} or {"adaptive": "adam"}."""
    dynamics_options: dict[str, Any] = field(default_factory=dict)
    """Options of the game dynamics, e.g. {"lookahead": 1.0} for lola, {"extrapolation_lr": 2.0} for extragradient."""
    memoryless: bool | None = None
    """Policies ignore observations (one softmax mixed strategy each); none: yes for matrix games."""
    initial_logit_std: float = 1.0
    """Memoryless policies start from softmax(z), z ~ N(0, std^2) per action (seeded); 0: uniform."""
    hidden_sizes: tuple[int, ...] = (32,)
    """Hidden layer widths of the policies (tanh; ReLU after convolutions); empty: linear; unused if memoryless."""
    conv_channels: tuple[int, ...] = (32, 64)
    """Channels of the convolutional layers that read image observations (boards, screens)."""
    observation_encoding: Literal["auto", "flatten"] = "auto"
    """auto: 3-D Box observations are images read by convolutions (other shapes refused); flatten: flatten every Box."""
    torch_threads: int | None = 1
    """torch intra-op threads, set process-wide when training starts; none leaves torch's."""
    on_nonfinite: Literal["stop", "skip"] = "stop"
    """A NaN/inf objective or step direction: stop training with an error, or skip that update."""

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"env must be a matrix game name or a PettingZoo id, got {self.env!r}")
        validation.check_choice("method", self.method, METHODS)
        validation.check_choice("baseline", self.baseline, ("none", "mean", "value"))
        validation.check_choice("lr_schedule", self.lr_schedule, ("constant", "linear", "inverse", "inverse_sqrt"))
        validation.check_choice("on_nonfinite", self.on_nonfinite, ("stop", "skip"))
        validation.check_seed("seed", self.seed)
        validation.check_positive_int("num_envs", self.num_envs)
        validation.check_positive_int("episode_length", self.episode_length, allow_none=True)
        validation.check_positive_int("max_episode_steps", self.max_episode_steps)
        validation.check_number("gamma", self.gamma, 0.0, 1.0)
        validation.check_number("entropy_coef", self.entropy_coef, 0.0)
        validation.check_number("lr", self.lr, 0.0, include_low=False)
        validation.check_number("lr_time_scale", self.lr_time_scale, 0.0, include_low=False)
        if self.value_lr is not None:
            validation.check_number("value_lr", self.value_lr, 0.0, include_low=False)
        validation.check_number("initial_logit_std", self.initial_logit_std, 0.0)
        if self.max_grad_norm is not None:
            validation.check_number("max_grad_norm", self.max_grad_norm, 0.0, include_low=False)
        validation.check_bool("normalize_advantages", self.normalize_advantages)
        validation.check_bool("memoryless", self.memoryless, allow_none=True)
        if self.normalize_advantages and self.method in DYNAMICS:
            raise ValueError(
                f"normalize_advantages applies to the independent and shared methods only; the game "
                f"dynamics ({self.method}) differentiate return estimates, which normalizing would change"
            )
        if self.baseline == "value" and self.method in DYNAMICS:
            raise ValueError(f"baseline value applies to the independent and shared methods only; the game "
                             f"dynamics ({self.method}) use baseline none or mean")
        validation.check_keyword_arguments("ascent", self.ascent, reserved={"lr": "lr", "clip_norm": "max_grad_norm"})
        validation.check_keyword_arguments("dynamics_options", self.dynamics_options)
        if self.dynamics_options and self.method not in DYNAMICS:
            raise ValueError(f"dynamics_options needs a game-dynamics method, not {self.method!r}")
        self.hidden_sizes = validation.check_positive_ints("hidden_sizes", self.hidden_sizes)
        self.conv_channels = validation.check_positive_ints("conv_channels", self.conv_channels)
        validation.check_choice("observation_encoding", self.observation_encoding, ENCODINGS)
        validation.check_positive_int("torch_threads", self.torch_threads, allow_none=True)

"""What every single-agent Gymnasium learner shares: its vector env, episode statistics, greedy
evaluation, acting, and what a training script reports about it.

A subclass (:class:`~ascentrl.agents.Reinforce`, A2C, PPO) builds ``self.policy`` (a
:class:`~ascentrl.agents.policies.CategoricalPolicy` or
:class:`~ascentrl.agents.policies.GaussianPolicy`) and supplies its algorithm (collect, update); this
class gives it:

- the training env: ``config.num_envs`` copies of ``config.env`` as one Gymnasium vector env with
  ``RecordEpisodeStatistics`` over the last :data:`~ascentrl.training.RETURN_WINDOW` episodes, and
  the checked :class:`~ascentrl.envs.EnvSpaces`;
- the measure of progress: the mean return of the last 100 finished training episodes, summed over
  data-parallel ranks, and whether that window is full on every rank (what
  :class:`~ascentrl.training.ReturnThreshold` needs);
- :meth:`GymLearner.evaluate` (greedy episodes on separate, freshly seeded envs) and
  :meth:`GymLearner.act`;
- the script side: :class:`GymTrainingOptions` (budget, target, evaluation) and the summary,
  plot and messages of ``scripts/train_cartpole.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from ascentrl import validation
from ascentrl.distributed import all_reduce_sum
from ascentrl.envs.gym_envs import describe_env, evaluate_policy, make_vector_env
from ascentrl.plots import write_line_plot
from ascentrl.resources import ENV_OBJECT_BYTES, MemoryNeed, check_memory
from ascentrl.training import (
    EVALUATION_SEED_OFFSET,
    RETURN_WINDOW,
    Budget,
    History,
    Learner,
    Record,
    ReturnThreshold,
    StepBudget,
    StopRule,
    TrainingRun,
)
from ascentrl.validation import check_number, check_positive_int

__all__ = ["GymLearner", "GymLearnerConfig", "GymTrainingOptions"]


@dataclass
class GymLearnerConfig:
    """The options every single-agent Gymnasium learner has (each algorithm's config adds its own,
    and may redeclare these with other defaults)."""

    env: str = "CartPole-v1"
    """Gymnasium environment id (Discrete or 1-D Box actions, Box observations)."""
    seed: int = 0
    """Seed of the networks' initialization, the action noise and the environments."""
    num_envs: int = 8
    """Vector envs stepped side by side."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    lr: float = 3e-4
    """Learning rate of the Ascent optimizer."""
    max_grad_norm: float | None = None
    """Clip the gradient to this global norm (Ascent clip_norm); none disables."""
    ascent: dict[str, Any] = field(default_factory=lambda: {"adaptive": "adam"})
    """Other keyword arguments of ascentrl.Ascent, e.g. {"adaptive": "rmsprop"}."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus added to the policy objective."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the networks; empty for linear ones."""
    initial_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy (Box actions)."""
    max_episode_steps: int | None = None
    """Time limit per episode; none uses the env's own (required if it has none)."""
    torch_threads: int | None = 1
    """torch intra-op threads, set process-wide when the learner is built and trains; none leaves torch's."""
    on_nonfinite: Literal["stop", "skip"] = "stop"
    """A NaN/inf objective or gradient: stop training with an error, or undo and skip that update."""

    reserved_ascent_options: ClassVar[dict[str, str]] = {"lr": "lr", "clip_norm": "max_grad_norm"}
    """Keys ``ascent`` must not hold, and the option to set instead."""

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"env must be a Gymnasium environment id, got {self.env!r}")
        validation.check_seed("seed", self.seed)
        validation.check_positive_int("num_envs", self.num_envs)
        validation.check_number("gamma", self.gamma, 0.0, 1.0)
        validation.check_number("lr", self.lr, 0.0, include_low=False)
        if self.max_grad_norm is not None:
            validation.check_number("max_grad_norm", self.max_grad_norm, 0.0, include_low=False)
        validation.check_keyword_arguments("ascent", self.ascent, reserved=self.reserved_ascent_options)
        validation.check_number("entropy_coef", self.entropy_coef, 0.0)
        self.hidden_sizes = validation.check_positive_ints("hidden_sizes", self.hidden_sizes)
        validation.check_number("initial_log_std", self.initial_log_std)
        validation.check_positive_int("max_episode_steps", self.max_episode_steps, allow_none=True)
        validation.check_positive_int("torch_threads", self.torch_threads, allow_none=True)
        validation.check_choice("on_nonfinite", self.on_nonfinite, ("stop", "skip"))


@dataclass
class GymTrainingOptions:
    """How long to train and when a Gymnasium task counts as solved."""

    total_steps: int = 5_000_000
    """Budget of environment steps; training stops earlier once solved."""
    target_return: float | None = None
    """Mean return that counts as solved; none takes the env's registered reward threshold."""
    eval_episodes: int = 100
    """Greedy evaluation episodes that must also reach the target."""

    resumable: ClassVar[tuple[str, ...]] = ()
    """Options of this class that --resume accepts (the others come from the checkpoint)."""

    def __post_init__(self) -> None:
        check_positive_int("--total-steps", self.total_steps)
        check_positive_int("--eval-episodes", self.eval_episodes)
        if self.target_return is not None:
            check_number("--target-return", self.target_return)

    def stop_rules(self, learner: GymLearner) -> tuple[Budget, list[StopRule], int]:
        """The budget, the target (the env's registered threshold unless given) and final evaluation."""
        target = self.target_return if self.target_return is not None else learner.spaces.reward_threshold
        targets = [] if target is None else [ReturnThreshold(target, eval_episodes=self.eval_episodes)]
        return StepBudget(self.total_steps), targets, self.eval_episodes

    @classmethod
    def from_run(cls, run: TrainingRun) -> GymTrainingOptions:
        """The options a saved run was started with (its budget counted from step 0)."""
        target = next((rule.target for rule in run.targets if isinstance(rule, ReturnThreshold)), None)
        return cls(total_steps=run.budget.stop_at, target_return=target, eval_episodes=run.eval_episodes)


class GymLearner(Learner):
    """Base of the single-agent learners on a Gymnasium vector env (module docstring)."""

    counter_names: ClassVar[tuple[str, ...]] = ("env_steps", "episodes")
    default_budget: ClassVar[type[Budget]] = StepBudget
    default_eval_episodes: ClassVar[int | None] = 100
    training_options_class: ClassVar[type] = GymTrainingOptions
    return_window: ClassVar[int] = RETURN_WINDOW
    """Training returns are averaged over the last this many finished episodes."""
    vectorization_mode: ClassVar[str | None] = None
    """How the training env is vectorized: None lets Gymnasium choose (native where it exists)."""

    def __init__(self, config: Any, distributed: Any = None) -> None:
        super().__init__(config, distributed)
        check_memory(self.memory_needs(config))  # before anything is built
        self._env_kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
        self.env, self.spaces = make_vector_env(config.env, config.num_envs, statistics_window=RETURN_WINDOW,
                                                vectorization_mode=self.vectorization_mode, **self._env_kwargs)
        self.episode_step_limit = config.max_episode_steps or self.spaces.max_episode_steps
        if self.episode_step_limit is None:
            self.env.close()
            raise ValueError(f"max_episode_steps: {config.env} has no time limit; set one")
        self._evaluation_env = None
        self.return_window_full = False
        """Whether every rank had a full window of training returns at the latest iteration."""

    @classmethod
    def memory_needs(cls, config: Any, eval_episodes: int | None = None) -> list[MemoryNeed]:
        """Lower bounds of what a run with ``config`` holds in memory (:mod:`ascentrl.resources`):
        the env copies, the evaluation envs, and the algorithm's own (:meth:`algorithm_memory`)."""
        env_kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
        spaces = describe_env(config.env, **env_kwargs)
        steps = config.max_episode_steps or spaces.max_episode_steps or 1
        needs = [MemoryNeed("env copies", config.num_envs * ENV_OBJECT_BYTES, (f"--num-envs {config.num_envs}",))]
        if eval_episodes is not None:
            needs.append(MemoryNeed("evaluation envs", eval_episodes * ENV_OBJECT_BYTES,
                                    (f"--eval-episodes {eval_episodes}",)))
        return needs + cls.algorithm_memory(config, spaces, steps)

    @classmethod
    def algorithm_memory(cls, config: Any, spaces: Any, steps: int) -> list[MemoryNeed]:
        """The algorithm's rollout buffers and networks for ``spaces`` and episodes of ``steps``."""
        return []

    def close(self) -> None:
        self.env.close()
        if self._evaluation_env is not None:
            self._evaluation_env.close()

    # ------------------------------------------------------------------------ progress measures
    def progress_values(self, batch: Any) -> dict[str, float]:
        recent = self.env.return_queue
        return {"window_sum": float(np.sum(recent, dtype=np.float64)), "window_count": len(recent),
                "full_windows": len(recent) == RETURN_WINDOW}

    def measures(self, batch: Any, totals: dict[str, float]) -> dict[str, Any]:
        """``mean_return``: mean undiscounted return of the last 100 training episodes of every rank."""
        self.return_window_full = totals["full_windows"] == self.distributed.world_size
        count = totals["window_count"]
        return {"mean_return": totals["window_sum"] / count if count else math.nan}

    def extra_state(self) -> dict[str, Any]:
        statistics = self.env
        return {"episode_statistics": {
            "episode_count": int(statistics.episode_count),
            "returns": torch.tensor(list(statistics.return_queue), dtype=torch.float64),
            "lengths": torch.tensor(list(statistics.length_queue), dtype=torch.int64),
            "return_window_full": self.return_window_full,  # a resumed target check needs it
        }}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        statistics = state["episode_statistics"]
        self.return_window_full = bool(statistics["return_window_full"])
        self.env.episode_count = int(statistics["episode_count"])
        # numpy scalars, as RecordEpisodeStatistics stores them, so means come out identical
        self.env.return_queue.clear()
        self.env.return_queue.extend(statistics["returns"].numpy())
        self.env.length_queue.clear()
        self.env.length_queue.extend(statistics["lengths"].numpy())

    # ------------------------------------------------------------------------------- inference
    def to_env_action(self, action: np.ndarray) -> np.ndarray:
        """Policy output -> env action: shift by a Discrete space's start, clip to a Box's bounds."""
        if self.spaces.action_kind == "discrete":
            return action + self.spaces.action_start if self.spaces.action_start else action
        return np.clip(action, self.spaces.action_low, self.spaces.action_high)

    def policy_inputs(self, observations: np.ndarray) -> torch.Tensor:
        """What the policy reads for a batch of flattened observations (as they are, by default)."""
        return torch.as_tensor(observations, dtype=torch.float32)

    def _policy_action(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        inputs = self.policy_inputs(observations)
        if deterministic:
            action = self.policy.mode(inputs)
        else:
            action = self.policy.sample(inputs, self.policy.draw_noise(1, inputs.shape[0], self.generator)[0])
        return self.to_env_action(action.numpy())

    def act(self, observation: Any, deterministic: bool = False) -> Any:
        """Action(s) for one observation or a batch ``[B, *observation_shape]``, in the env's format.

        ``deterministic=True`` takes the most probable action (argmax / Gaussian mean); otherwise
        the action is sampled from ``pi(.|s)`` with the agent's seeded generator.
        """
        array = np.asarray(observation, dtype=np.float32)
        shape = self.spaces.observation_shape
        single = array.shape == shape
        if not single and array.shape[1:] != shape:
            raise ValueError(
                f"observation: expected shape {shape} or (batch, *{shape}) for {self.config.env}, "
                f"got {array.shape}"
            )
        with torch.inference_mode():
            actions = self._policy_action(array.reshape(-1, self.spaces.observation_size), deterministic)
        return actions[0] if single else actions

    def evaluate(self, num_episodes: int = 100, *, deterministic: bool = True) -> float:
        """Mean undiscounted return of ``num_episodes`` fresh episodes, run side by side.

        Evaluation envs are seeded from ``seed + EVALUATION_SEED_OFFSET`` on, with new seeds for
        every call (the ``evaluations``-th call uses the seeds after those of the calls before), and
        are separate from the training envs; the procedure is
        :func:`ascentrl.envs.gym_envs.evaluate_policy`. In a data-parallel job this is a collective
        call: each rank runs its share of the episodes (with the seeds the single process would give
        those episodes) and every rank returns the mean over all of them.
        """
        check_positive_int("num_episodes", num_episodes)
        rank, world_size = self.distributed.rank, self.distributed.world_size
        share = num_episodes // world_size + (rank < num_episodes % world_size)
        first_episode = rank * (num_episodes // world_size) + min(rank, num_episodes % world_size)
        returns = self.evaluation_returns(share, first_episode=first_episode, episodes_per_call=num_episodes,
                                          deterministic=deterministic) if share else np.zeros(0)
        self.evaluations += 1
        return all_reduce_sum({"returns": float(returns.sum())}, self.distributed)["returns"] / num_episodes

    def evaluation_returns(self, num_episodes: int, *, first_episode: int = 0, episodes_per_call: int | None = None,
                           deterministic: bool = True) -> np.ndarray:
        """The returns of episodes ``first_episode .. first_episode + num_episodes - 1`` of the
        ``evaluations``-th evaluation of ``episodes_per_call`` episodes (default ``num_episodes``).

        The seeds are those :meth:`evaluate` uses, so a reloaded agent repeats a saved evaluation
        exactly (``scripts/evaluate.py``). This process alone; the counter is not advanced.
        """
        check_memory([MemoryNeed("evaluation envs", num_episodes * ENV_OBJECT_BYTES,
                                  (f"eval_episodes {num_episodes}",))])
        if self._evaluation_env is None or self._evaluation_env.num_envs != num_episodes:
            if self._evaluation_env is not None:
                self._evaluation_env.close()
            self._evaluation_env, _ = make_vector_env(self.config.env, num_episodes, record_statistics=False,
                                                      **self._env_kwargs)
        # Every evaluation gets fresh, reproducible seeds (a sync vector env seeds its sub-envs
        # seed, seed + 1, ...; a native one draws all from one generator).
        per_call = episodes_per_call if episodes_per_call is not None else num_episodes
        seed = self.config.seed + EVALUATION_SEED_OFFSET + self.evaluations * per_call + first_episode
        with torch.inference_mode():
            return evaluate_policy(
                self._evaluation_env,
                lambda observation: self._policy_action(observation.reshape(num_episodes, -1), deterministic),
                self.episode_step_limit,
                seed=seed,
                # Only a single process abandons an evaluation: ranks must finish collectives together.
                should_stop=self.stop_requested if self.distributed.world_size == 1 else None,
            )

    # ------------------------------------------------------------------ what a script reports
    @property
    def run_name(self) -> str:
        """Names the run in messages and the folder of an interrupted run without --out."""
        return f"{self.config.env.replace('/', '_')}-seed{self.config.seed}"

    def progress_postfix(self, record: Record) -> dict[str, Any]:
        return {"episodes": record.episodes, "mean_return": f"{record.mean_return:.1f}"}

    def progress_text(self) -> str:
        return f"iteration {self.iterations} ({self.env_steps} steps)"

    def after_training(self, options: GymTrainingOptions) -> dict[str, Any]:
        """Nothing more to measure: the final evaluation is part of training."""
        return {}

    def summary(self, history: History, targets: list[StopRule], extra: dict[str, Any]) -> dict[str, Any]:
        """summary.json: the outcome and counters (``wall_seconds`` is the only non-reproducible field)."""
        target = next((rule.target for rule in targets if isinstance(rule, ReturnThreshold)), None)
        return {
            "seed": self.config.seed,
            "world_size": self.distributed.world_size,
            "solved": history.reached_target,
            "env_steps": history.env_steps,
            "episodes": history.episodes,
            "wall_seconds": history.wall_seconds,
            "eval_mean_return": history.eval_mean_return,
            "env": self.config.env,
            "target_return": target,
            "skipped_updates": len(history.skipped_iterations),
        }

    def outcome(self, history: History, targets: list[StopRule], extra: dict[str, Any]) -> list[str]:
        """The lines a script prints at the end."""
        target = next((rule.target for rule in targets if isinstance(rule, ReturnThreshold)), None)
        verdict = "solved" if history.reached_target else ("not solved" if target is not None else "done")
        processes = f" on {self.distributed.world_size} processes" if self.distributed.world_size > 1 else ""
        return [f"{self.config.env} seed {self.config.seed}{processes}: {verdict} after {history.env_steps} steps, "
                f"{history.episodes} episodes, {history.wall_seconds:.2f} s; "
                f"greedy evaluation mean return {history.eval_mean_return:.1f}"
                + (f" (target {target:g})" if target is not None else "")]

    def write_plots(self, folder: Path, history: History, targets: list[StopRule]) -> list[str]:
        """learning_curve.png: the training mean return against environment steps."""
        target = next((rule.target for rule in targets if isinstance(rule, ReturnThreshold)), None)
        write_line_plot(
            folder / "learning_curve.png",
            {"mean return, last 100 training episodes": ([r.env_steps for r in history.records],
                                                         [r.mean_return for r in history.records])},
            xlabel="environment steps",
            ylabel="return",
            title=f"{type(self).__name__.upper()} on {self.config.env}, seed {self.config.seed}",
            reference=("target", target) if target is not None else None,
        )
        return ["learning_curve.png"]

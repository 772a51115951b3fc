"""Gymnasium environments for the agents: vector envs with episode statistics and checked spaces.

Everything is built with Gymnasium's own machinery: ``gymnasium.make_vec`` (which picks an env's
native vector implementation where it has one, e.g. CartPole, and ``SyncVectorEnv`` otherwise) and
``RecordEpisodeStatistics``. The spaces are checked once, up front, so that an unsupported env fails
with a clear message before any training: actions must be ``Discrete`` or a 1-D ``Box``, observations
a ``Box`` (flattened for the networks).

Vector envs here use Gymnasium's default ``AutoresetMode.NEXT_STEP``: the step after an episode ends
resets that sub-env, ignores its action and returns reward 0. Learners must mask those steps
(:func:`ascentrl.returns.next_step_autoreset_mask`); the final observation of an episode is the one
returned together with ``terminated``/``truncated``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv
from gymnasium.vector.utils import iterate
from gymnasium.wrappers import RecordEpisodeStatistics
from gymnasium.wrappers.vector import RecordEpisodeStatistics as RecordVectorEpisodeStatistics

from ascentrl.interrupts import Interrupted

__all__ = [
    "SUPPORTED_ACTION_SPACES",
    "SUPPORTED_OBSERVATION_SPACES",
    "EnvSpaces",
    "check_spaces",
    "describe_env",
    "evaluate_policy",
    "make_env",
    "make_vector_env",
]

SUPPORTED_ACTION_SPACES = ("Discrete", "Box (1-D)")
SUPPORTED_OBSERVATION_SPACES = ("Box",)


@dataclass(frozen=True)
class EnvSpaces:
    """What an agent needs to know about an env's spaces, without importing Gymnasium.

    Attributes:
        env_id: the Gymnasium id.
        observation_shape: shape of one observation.
        observation_size: length of the flattened observation vector.
        action_kind: ``"discrete"`` (a ``Discrete`` space) or ``"box"`` (a 1-D ``Box``).
        action_size: number of actions (discrete) or action dimensions (box).
        action_start: first action of a ``Discrete`` space (its ``start``), 0 for a box.
        action_low, action_high: bounds of a ``Box`` action (may be infinite); ``None`` if discrete.
        max_episode_steps: the env's time limit, ``None`` if it has none.
        reward_threshold: the return at which the env counts as solved, ``None`` if none is registered.
    """

    env_id: str
    observation_shape: tuple[int, ...]
    observation_size: int
    action_kind: Literal["discrete", "box"]
    action_size: int
    action_start: int
    action_low: np.ndarray | None
    action_high: np.ndarray | None
    max_episode_steps: int | None
    reward_threshold: float | None


def _spec(env_id: str) -> gym.envs.registration.EnvSpec:
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty string, got {env_id!r}")
    try:
        return gym.spec(env_id)
    except gym.error.Error as error:
        raise ValueError(f"unknown Gymnasium environment id {env_id!r}: {error}") from None


def check_spaces(env_id: str, observation_space: spaces.Space, action_space: spaces.Space) -> EnvSpaces:
    """Check that the agents support these (single-env) spaces and describe them.

    Raises:
        ValueError: naming the unsupported space and the supported ones.
    """
    if not isinstance(observation_space, spaces.Box):
        raise ValueError(
            f"{env_id}: observation space {observation_space} is not supported; "
            f"supported: {', '.join(SUPPORTED_OBSERVATION_SPACES)}"
        )
    if isinstance(action_space, spaces.Discrete):
        kind, size, start, low, high = "discrete", int(action_space.n), int(action_space.start), None, None
    elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        kind, size, start = "box", int(action_space.shape[0]), 0
        low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
    else:
        raise ValueError(
            f"{env_id}: action space {action_space} is not supported; "
            f"supported: {', '.join(SUPPORTED_ACTION_SPACES)}"
        )
    spec = _spec(env_id)
    return EnvSpaces(
        env_id=env_id,
        observation_shape=tuple(observation_space.shape),
        observation_size=int(np.prod(observation_space.shape)),
        action_kind=kind,
        action_size=size,
        action_start=start,
        action_low=low,
        action_high=high,
        max_episode_steps=spec.max_episode_steps,
        reward_threshold=spec.reward_threshold,
    )


def _cannot_build(env_id: str, error: BaseException) -> ValueError:
    """One line for an env that failed to build, naming the extra to install when one is missing."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for extra in ("box2d", "mujoco"):
        if extra in text.lower() or extra in str(_spec(env_id).entry_point).lower():
            if isinstance(error, ImportError) or "install" in text.lower():
                return ValueError(f"{env_id} needs an optional dependency: pip install 'ascentrl[{extra}]' ({text})")
    return ValueError(f"cannot build Gymnasium environment {env_id!r}: {text}")


def describe_env(env_id: str, **env_kwargs: Any) -> EnvSpaces:
    """Build one ``env_id`` env just to check and describe its spaces (e.g. before sizing a run)."""
    _spec(env_id)
    try:
        env = gym.make(env_id, **env_kwargs)
    except (gym.error.Error, ImportError) as error:  # ImportError: an optional dependency is missing
        raise _cannot_build(env_id, error) from None
    try:
        return check_spaces(env_id, env.observation_space, env.action_space)
    finally:
        env.close()


def make_vector_env(
    env_id: str,
    num_envs: int,
    *,
    record_statistics: bool = True,
    statistics_window: int = 100,
    vectorization_mode: Literal["sync"] | None = None,
    **env_kwargs: Any,
) -> tuple[VectorEnv, EnvSpaces]:
    """Build ``num_envs`` copies of ``env_id`` as one Gymnasium vector env and check its spaces.

    Args:
        env_id: a registered Gymnasium id, e.g. ``"CartPole-v1"``.
        num_envs: number of sub-envs, at least 1.
        record_statistics: wrap in ``gymnasium.wrappers.vector.RecordEpisodeStatistics``; its
            ``return_queue`` then holds the returns of the last ``statistics_window`` finished
            episodes and ``episode_count`` counts them.
        vectorization_mode: ``"sync"`` for a ``SyncVectorEnv`` of ``num_envs`` single envs (whose
            sub-envs can be reset and stepped one by one); None lets Gymnasium pick the env's native
            vector implementation where it has one.
        env_kwargs: passed to the env's constructor (e.g. ``max_episode_steps``).

    Returns:
        The vector env (NEXT_STEP autoreset) and the description of its single-env spaces.

    Raises:
        ValueError: unknown id, ``num_envs < 1``, or unsupported spaces (checked before wrapping).
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    if isinstance(statistics_window, bool) or not isinstance(statistics_window, int) or statistics_window < 1:
        raise ValueError(f"statistics_window must be a positive integer, got {statistics_window!r}")
    _spec(env_id)
    try:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode, **env_kwargs)
    except (gym.error.Error, ImportError) as error:  # ImportError: an optional dependency is missing
        raise _cannot_build(env_id, error) from None
    try:
        described = check_spaces(env_id, env.single_observation_space, env.single_action_space)
        autoreset = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if autoreset != AutoresetMode.NEXT_STEP:
            raise ValueError(f"{env_id}: autoreset mode {autoreset} is not supported; expected NEXT_STEP")
    except ValueError:
        env.close()
        raise
    if record_statistics:
        env = RecordVectorEpisodeStatistics(env, buffer_length=statistics_window)
    return env, described


def make_env(env_id: str, *, statistics_window: int = 100, **env_kwargs: Any) -> tuple[gym.Env, EnvSpaces]:
    """One env of ``env_id`` (``gymnasium.make``) with ``RecordEpisodeStatistics`` and checked spaces.

    For watching or evaluating a trained agent one episode at a time (e.g. with
    ``render_mode="human"``); training uses :func:`make_vector_env`.
    """
    _spec(env_id)
    try:
        env = gym.make(env_id, **env_kwargs)
    except (gym.error.Error, ImportError) as error:  # ImportError: an optional dependency is missing
        raise _cannot_build(env_id, error) from None
    try:
        described = check_spaces(env_id, env.observation_space, env.action_space)
    except ValueError:
        env.close()
        raise
    return RecordEpisodeStatistics(env, buffer_length=statistics_window), described


def evaluate_policy(
    env: VectorEnv,
    policy: Callable[[np.ndarray], np.ndarray],
    max_steps: int,
    *,
    seed: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Undiscounted return of one fresh episode per sub-env of ``env``, run side by side.

    ``policy`` maps a batch of observations ``[num_envs, *shape]`` to a batch of env actions. Each
    sub-env counts only its first episode (what follows its end is ignored), and the loop stops when
    all have ended or after ``max_steps`` steps. Works for any agent, so that the same evaluation
    is applied to every method compared. ``should_stop`` is polled every step; once it returns True
    the evaluation is abandoned with :class:`ascentrl.interrupts.Interrupted`.

    Returns:
        float64 array ``[num_envs]`` of episode returns.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    observation, _ = env.reset(seed=seed)
    totals = np.zeros(env.num_envs)
    finished = np.zeros(env.num_envs, dtype=bool)
    sub_envs = _sub_envs_to_step_alone(env)
    if sub_envs is not None:
        observation = np.array(observation)  # our own copy: its rows are replaced as sub-envs step
    for _ in range(max_steps):
        if should_stop is not None and should_stop():
            raise Interrupted("the evaluation was interrupted")
        if sub_envs is None:
            observation, reward, terminated, truncated, _ = env.step(policy(observation))
            totals += np.where(finished, 0.0, reward)
            finished |= terminated | truncated
        else:
            actions = list(iterate(env.action_space, policy(observation)))
            for index in np.flatnonzero(~finished):
                observation[index], reward, terminated, truncated, _ = sub_envs[index].step(actions[index])
                totals[index] += reward
                finished[index] = terminated or truncated
        if finished.all():
            break
    return totals


def _sub_envs_to_step_alone(env: VectorEnv) -> list[gym.Env] | None:
    """The sub-envs of a bare ``SyncVectorEnv`` with ``Box`` observations, else None.

    :func:`evaluate_policy` steps these one by one, and only those whose first episode is still
    running: a vector env can only step all of its sub-envs, so an evaluation of 100 episodes would
    otherwise step all 100 until the longest ended. The policy still sees the whole batch (a
    finished sub-env's row holds its last observation, where the vector env would hold a new
    episode's), so for a policy that acts on each row alone, as the agents' policies do, every
    row's action, and hence every return, is what the vector env's step gives.
    Wrapped vector envs and other implementations take ``env.step``. The vector env's own
    bookkeeping is left stale; the next evaluation's ``reset`` renews it.
    """
    if type(env) is SyncVectorEnv and isinstance(env.single_observation_space, spaces.Box):
        return list(env.envs)
    return None

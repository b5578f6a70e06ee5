"""Stepping a SAME_STEP-autoreset vector env for an algorithm, and keeping episode statistics.

Every algorithm needs the same per-step bookkeeping: float32 observations, the privileged critic
input, the true terminal observation of envs that just finished (to bootstrap on truncation), and
returns/lengths/success of finished episodes for logging. It lives here once. Continuous actions
are clipped to [-1, 1]; Discrete ones (DQN) pass as integer indices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from robot_rl.envs import EnvSpecError, final_info_value, final_observations

PRIVILEGED_KEY = "privileged"


@dataclass
class StepResult:
    """One vector step. ``next_obs`` is the obs to act on next (a reset obs where ``done``)."""

    next_obs: np.ndarray  # (N, obs_dim) float32
    next_priv: np.ndarray | None  # (N, k) float32 or None
    reward: np.ndarray  # (N,) float32
    terminated: np.ndarray  # (N,) bool
    truncated: np.ndarray  # (N,) bool
    done_idx: np.ndarray  # indices of envs whose episode ended this step
    final_obs: np.ndarray  # (len(done_idx), obs_dim): their true last obs
    final_priv: np.ndarray | None  # (len(done_idx), k)


class EpisodeStats:
    """Returns, lengths and successes of finished episodes (a window for display, a list to drain)."""

    def __init__(self, num_envs: int, window: int = 100):
        self.running_return = np.zeros(num_envs, dtype=np.float64)
        self.running_length = np.zeros(num_envs, dtype=np.int64)
        self.recent_returns: deque[float] = deque(maxlen=window)
        self.recent_lengths: deque[int] = deque(maxlen=window)
        self.recent_success: deque[float] = deque(maxlen=window)
        self.recent_terms: dict[str, deque[float]] = {}  # "reward/<term>": per-episode sums (named reward terms)
        self.finished_since_drain = 0
        # Optional observer of every finished episode: (return, length). Benchmarks time-stamp these.
        self.on_episode: Callable[[float, int], None] | None = None

    def record(self, reward: np.ndarray, done_idx: np.ndarray, success: np.ndarray | None) -> None:
        self.running_return += reward
        self.running_length += 1
        for j, i in enumerate(done_idx):
            self.recent_returns.append(float(self.running_return[i]))
            self.recent_lengths.append(int(self.running_length[i]))
            if success is not None:
                self.recent_success.append(float(bool(success[j])))
            if self.on_episode is not None:
                self.on_episode(float(self.running_return[i]), int(self.running_length[i]))
        self.finished_since_drain += len(done_idx)
        self.running_return[done_idx] = 0.0
        self.running_length[done_idx] = 0

    def summary(self) -> dict[str, float]:
        """Means over the recent window (empty until the first episode ends)."""
        out: dict[str, float] = {}
        if self.recent_returns:
            out["episode/return"] = float(np.mean(self.recent_returns))
            out["episode/length"] = float(np.mean(self.recent_lengths))
        if self.recent_success:
            out["episode/success_rate"] = float(np.mean(self.recent_success))
        for key, values in self.recent_terms.items():
            if values:
                out[f"episode/{key}"] = float(np.mean(values))
        out["episode/finished"] = float(self.finished_since_drain)
        self.finished_since_drain = 0
        return out


class VecCollector:
    """Owns the vector env's current observation and steps it with agent actions in [-1, 1]."""

    def __init__(self, env: gym.vector.VectorEnv, seed: int, use_privileged: bool):
        self.env = env
        self.num_envs = env.num_envs
        self.obs_dim = int(env.single_observation_space.shape[0])
        space = env.single_action_space
        # Discrete actions (DQN) travel as one integer per env; act_dim 1 is the replay column width.
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.n_actions = int(space.n) if self.discrete else 0
        self.act_dim = 1 if self.discrete else int(space.shape[0])
        self.use_privileged = use_privileged
        obs, info = env.reset(seed=seed)
        self.obs = np.asarray(obs, dtype=np.float32)
        self.priv = self._privileged(info) if use_privileged else None
        self.priv_dim = 0 if self.priv is None else int(self.priv.shape[1])
        self.stats = EpisodeStats(self.num_envs)

    def _privileged(self, info: dict) -> np.ndarray:
        if PRIVILEGED_KEY not in info:
            raise EnvSpecError(
                "asymmetric actor-critic needs the env to put the privileged simulator state in "
                "info['privileged'] on reset and step; this env does not (train without --asymmetric)"
            )
        return np.asarray(info[PRIVILEGED_KEY], dtype=np.float32).reshape(self.num_envs, -1)

    def close(self) -> None:
        self.env.close()

    def _record_reward_terms(self, info: dict, done: np.ndarray) -> None:
        """Per-episode sums of a task's named reward terms (`final_info["reward/<term>"]`), if it reports them, and
        the terrain level each episode ran on (`final_info["terrain/level"]`, a terrain curriculum's progress)."""
        final_info = info.get("final_info")
        if not isinstance(final_info, dict) or not len(np.flatnonzero(done)):
            return
        for key in final_info:
            if key.startswith(("reward/", "terrain/")):
                values = final_info_value(info, key, done)
                if values is not None:
                    window = self.stats.recent_terms.setdefault(key, deque(maxlen=self.stats.recent_returns.maxlen))
                    window.extend(float(v) for v in values)

    def step(self, actions: np.ndarray) -> StepResult:
        # Clip here, not in the policy: PPO's Gaussian samples may leave [-1, 1] and its log-prob
        # must be of the unclipped sample (CleanRL's ClipAction), while tanh actors never leave it.
        if self.discrete:
            actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        else:
            actions = np.clip(actions, -1.0, 1.0)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        done = terminated | truncated
        done_idx = np.flatnonzero(done)
        final_obs = final_observations(info, done, self.obs_dim)
        next_priv = self._privileged(info) if self.use_privileged else None
        final_priv = None
        if self.use_privileged:
            final_priv = final_info_value(info, PRIVILEGED_KEY, done)
            # Privileged state is per-episode physics; if the final info lacks it, the episode's
            # own value (the one before this step) is the right terminal value.
            final_priv = self.priv[done_idx] if final_priv is None else final_priv.astype(np.float32)
        reward = np.asarray(reward, dtype=np.float32)
        self.stats.record(reward, done_idx, final_info_value(info, "success", done))
        self._record_reward_terms(info, done)
        self.obs = np.asarray(obs, dtype=np.float32)
        self.priv = next_priv
        return StepResult(self.obs, next_priv, reward, terminated, truncated, done_idx, final_obs, final_priv)

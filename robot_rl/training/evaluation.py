"""Policy evaluation: run whole episodes with a deterministic policy and summarize them.

``evaluate`` knows nothing about torch: ``policy_fn`` maps one raw observation to one action, so
a torch actor, an ONNX runner or a hand-written controller plug in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

PolicyFn = Callable[[np.ndarray], np.ndarray]


def evaluate(
    policy_fn: PolicyFn,
    env_factory: Callable[[], gym.Env],
    episodes: int,
    seed: int,
    max_steps: int | None = None,
    per_episode: bool = False,
) -> dict[str, Any]:
    """Run ``episodes`` episodes; episode ``i`` is reset with ``seed + i`` (reproducible, comparable).

    Returns ``mean_return``, ``std_return``, ``min_return``, ``max_return``, ``mean_length``,
    ``success_rate`` (fraction of episodes whose final ``info["success"]`` is true; None when the
    env reports no success), ``episodes`` and the per-episode ``returns``. With `per_episode`, also
    ``per_episode``: one ``{"return", "length", "success", "end"}`` per episode, ``end`` saying why it
    ended (`episode_end`): a mean return alone cannot tell a policy that fell early from one that ran out
    of time.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = env_factory()
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    limit = episode_limit(env) if per_episode else None
    rows: list[dict[str, Any]] = []  # one per episode; the summary is made from them
    try:
        for i in range(episodes):
            obs, info = env.reset(seed=seed + i)
            total, steps, done = 0.0, 0, False
            while not done:
                action = np.asarray(policy_fn(np.asarray(obs, dtype=np.float32)))
                # A Discrete env (DQN) takes the action index as an int; a Box env its float32 vector.
                if discrete:
                    action = int(action.reshape(()))
                else:
                    action = action.astype(np.float32).reshape(env.action_space.shape)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                steps += 1
                done = bool(terminated or truncated) or (max_steps is not None and steps >= max_steps)
            rows.append({"return": total, "length": steps,
                         "success": bool(info["success"]) if "success" in info else None,
                         "end": episode_end(bool(terminated), bool(truncated), steps, limit)})
    finally:
        env.close()
    summary = summarize_episodes([r["return"] for r in rows], [r["length"] for r in rows],
                                 [r["success"] for r in rows if r["success"] is not None])
    if per_episode:
        summary["per_episode"] = rows
    return summary


def episode_limit(env: gym.Env) -> int | None:
    """The env's episode length in steps: gymnasium's ``max_episode_steps`` (a TimeLimit), else our task's
    ``episode_steps`` (sim.core); None when neither says."""
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    if limit is None:
        core = getattr(getattr(env, "unwrapped", env), "core", None)
        limit = getattr(getattr(core, "spec", None), "episode_steps", None)
    return int(limit) if limit is not None else None


def episode_end(terminated: bool, truncated: bool, steps: int, limit: int | None) -> str:
    """Why an episode ended: "terminated" (the task ended it: a fall, the cart at its rail's end; wins
    when both flags are set), "time_limit" (truncated at the env's episode length), "truncated" (truncated
    before it, e.g. a legged robot at the terrain's edge, or by an env that names no length), or
    "max_steps" (cut by `evaluate`'s own `max_steps`, the env still running)."""
    if terminated:
        return "terminated"
    if truncated:
        return "time_limit" if limit is not None and steps >= limit else "truncated"
    return "max_steps"


def summarize_episodes(returns: list[float], lengths: list[int], successes: list[bool]) -> dict[str, Any]:
    """The evaluation summary every evaluator in the project prints (eval, export, sim-robot, demo)."""
    arr = np.asarray(returns, dtype=float)
    return {
        "mean_return": float(arr.mean()),
        "std_return": float(arr.std()),
        "min_return": float(arr.min()),
        "max_return": float(arr.max()),
        "mean_length": float(np.mean(lengths)),
        "success_rate": float(np.mean(successes)) if successes else None,
        "episodes": len(returns),
        "returns": [float(r) for r in returns],
    }


def default_eval_every(steps: int) -> int:
    """The CLI's evaluation interval when ``--eval-every`` is not given: about ten evaluations a run.

    Why: the runner keeps the best evaluated checkpoint (``checkpoints/best.pt``), which is only as
    good as the evaluations it chose from: a DQN run on CartPole held the time limit (500) at 64k steps
    and scored 206 at 80k (seed 5, bench/results/seed_robustness.jsonl), and with one evaluation every
    50k steps nothing would have seen the 500. Ten a run (every 5k steps at least, every 50k at most)
    costs a few percent of a run's time.
    """
    return max(5_000, min(50_000, int(steps) // 10))

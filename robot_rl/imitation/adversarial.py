"""The loop GAIL and AIRL share: PPO on a learned reward, the discriminator trained against its rollouts.

Each iteration: PPO collects a rollout on the vector env whose reward the discriminator gives
(`LearnedRewardVecEnv`) and updates; the rollout's transitions become the discriminator's negatives
and it takes a few minibatch steps against the demonstrations. What differs between the methods is
only the discriminator (`gail.Discriminator`: a state-only D; `airl.AIRLDiscriminator`:
f = g(s) + gamma h(s') - h(s) against log pi), behind the small `AdversarialReward` protocol.

The output is a run directory of the PPO learner (config.yaml, checkpoints/last.pt, metrics.csv,
summary.json: `robot-rl eval` and `export` take it) plus `reward.pt`, the learned reward that
`robot-rl train --reward` optimizes again; `reward_against_true` compares it with the task's reward.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
import yaml

from robot_rl.errors import RobotRLError
from robot_rl.imitation.demos import Demonstrations
from robot_rl.imitation.reward import LearnedRewardVecEnv, RewardNet, save_reward

REWARD_FILE = "reward.pt"


class IRLError(RobotRLError):
    """Inverse RL cannot run as asked."""


class AdversarialReward(Protocol):
    """A discriminator as the loop uses it."""

    method: str  # "gail" | "airl": the run's config and the reward file say which
    config: Any  # a dataclass, recorded in config.yaml

    def reward_net(self) -> RewardNet:
        """The reward to save (GAIL: D's logit; AIRL: g, its output map folded in)."""

    def wrap(self, env: gym.vector.VectorEnv) -> LearnedRewardVecEnv:
        """The env with the reward the learner is trained on."""

    def bind(self, algo: Any) -> None:
        """Called once the learner exists (AIRL's D needs its log pi(a|s))."""

    def observe(self, env: LearnedRewardVecEnv) -> None:
        """Take the rollout's transitions from `env` as negatives."""

    def update(self) -> dict[str, float]:
        """A few discriminator minibatch steps; returns metrics ("disc/...")."""


class DiscriminatorSteps:
    """One discriminator's optimizer steps and what they log (loss, each side's accuracy): GAIL's and AIRL's
    updates differ only in how they score a batch (their logits), not in how a step is taken or reported."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.losses: list[float] = []
        self.expert_accuracy: list[float] = []
        self.learner_accuracy: list[float] = []

    def step(self, loss: torch.Tensor, expert_logits: torch.Tensor, learner_logits: torch.Tensor) -> None:
        """Descend `loss` once; an expert sample is classified right at a positive logit, a learner's at a negative."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.losses.append(float(loss.detach()))
        self.expert_accuracy.append(float((expert_logits > 0).float().mean()))
        self.learner_accuracy.append(float((learner_logits < 0).float().mean()))

    def summary(self) -> dict[str, float]:
        return {"disc/loss": float(np.mean(self.losses)), "disc/expert_accuracy": float(np.mean(self.expert_accuracy)),
                "disc/learner_accuracy": float(np.mean(self.learner_accuracy))}


def run_adversarial(demos: Demonstrations, out: str | Path, steps: int,
                    make_discriminator: Callable[[Any], AdversarialReward], *, seed: int = 0,
                    engine: str = "mujoco", ppo_settings: dict[str, Any] | None = None, eval_episodes: int = 20,
                    command: str = "", progress: bool = False) -> dict[str, Any]:
    """Adversarial IRL on `demos`: PPO's run directory in `out`, the learned reward in `out/reward.pt`.

    ``make_discriminator(ppo_config)`` builds the discriminator (AIRL reads the learner's gamma)."""
    from robot_rl.algos.ppo import PPO
    from robot_rl.envs import make_env, make_vec_env, task_kwargs_for
    from robot_rl.train import _git_commit, plain_data
    from robot_rl.training.algo_settings import algo_config
    from robot_rl.training.checkpoint import save_checkpoint
    from robot_rl.training.evaluation import evaluate
    from robot_rl.training.logger import MetricsLogger
    from sim.tasks.registry import task_spec

    out = Path(out)
    if (out / "checkpoints" / "last.pt").exists():
        raise IRLError(f"{out} already holds a run; choose another --out")
    torch.set_num_threads(1)
    env_id = f"robot_rl/{demos.task}"
    robot_arg = None if task_spec(demos.task).robot is not None else demos.robot
    kwargs = task_kwargs_for(env_id, engine, None, None, robot_arg)
    ppo_cfg = algo_config("ppo", dict(ppo_settings or {}))
    disc = make_discriminator(ppo_cfg)
    env = disc.wrap(make_vec_env(env_id, ppo_cfg.num_envs, seed=seed, **kwargs))
    algo = PPO(env, ppo_cfg, total_steps=steps, seed=seed)
    disc.bind(algo)
    out.mkdir(parents=True, exist_ok=True)
    record = {"env_id": env_id, "task": demos.task, "robot": robot_arg, "algo": "ppo", "steps": steps, "seed": seed,
              "engine": engine, "randomize": None, "params": None, "irl": disc.method, "demos": demos.sources,
              "demo_episodes": demos.episodes, "reward_file": REWARD_FILE,
              f"{disc.method}_config": plain_data(asdict(disc.config)), "algo_config": plain_data(asdict(ppo_cfg)),
              "command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git_commit": _git_commit(),
              "model": algo.model_meta()}
    (out / "config.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    logger = MetricsLogger(out)
    start = time.perf_counter()
    try:
        while algo.global_step < steps:
            metrics = algo.iterate()
            disc.observe(env)
            metrics.update(disc.update())
            if env.true_returns:  # the task's reward, which the learner never sees
                metrics["irl/true_return"] = float(np.mean(env.true_returns[-32:]))
            metrics["time/elapsed_s"] = time.perf_counter() - start
            logger.log(algo.global_step, metrics)
            if progress and algo.iteration % 10 == 0:
                acc = (f", discriminator accuracy {metrics['disc/expert_accuracy']:.2f} expert / "
                       f"{metrics['disc/learner_accuracy']:.2f} learner" if "disc/loss" in metrics else "")
                print(f"step {algo.global_step}: true return {metrics.get('irl/true_return', float('nan')):.1f}{acc}",
                      flush=True)
        save_checkpoint(out / "checkpoints" / "last.pt", {
            "algo": "ppo", "global_step": algo.global_step, "model_meta": algo.model_meta(),
            "algo_config": plain_data(asdict(ppo_cfg)), "runner": {"elapsed_s": time.perf_counter() - start},
            "state": algo.state_dict()})
        save_reward(out / REWARD_FILE, disc.reward_net(), demos.task, demos.robot, disc.method,
                    {"demos": demos.sources, "steps": steps, "seed": seed})
    finally:
        logger.close()
        algo.close()
    evaluation = evaluate(lambda o: algo.act(o[None])[0], lambda: make_env(env_id, **kwargs), eval_episodes,
                          seed + 1_000_000) if eval_episodes else None
    summary = {"status": "finished", "method": disc.method, "global_step": algo.global_step,
               "elapsed_s": time.perf_counter() - start, "final_eval": evaluation,
               "reward_file": str(out / REWARD_FILE)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def reward_against_true(net: RewardNet, env_id: str, kwargs: dict[str, Any], policies: dict[str, Any],
                        episodes: int, seed: int, plot: str | Path | None = None) -> dict[str, Any]:
    """Roll out each policy (obs -> action) for `episodes` held-out episodes; per step, the learned and the
    task's true reward. Returns their correlation per policy and overall, and the mean of each; with
    `plot`, a PNG of learned against true reward (scatter, per policy) and along one episode of each."""
    from robot_rl.envs import make_env

    env = make_env(env_id, **kwargs)
    rows: dict[str, tuple[np.ndarray, np.ndarray, list[int]]] = {}
    try:
        for name, policy in policies.items():
            learned, true, lengths = [], [], []
            for i in range(episodes):
                obs, _ = env.reset(seed=seed + i)
                done, n = False, 0
                while not done:
                    obs, r, term, trunc, _ = env.step(np.asarray(policy(obs), np.float32))
                    learned.append(float(net.reward(obs[None])[0]))
                    true.append(float(r))
                    done, n = bool(term or trunc), n + 1
                lengths.append(n)
            rows[name] = (np.asarray(learned), np.asarray(true), lengths)
    finally:
        env.close()
    corr = {name: _pearson(lr, tr) for name, (lr, tr, _) in rows.items()}
    all_l = np.concatenate([r[0] for r in rows.values()])
    all_t = np.concatenate([r[1] for r in rows.values()])
    result = {"correlation": corr, "correlation_all": _pearson(all_l, all_t),
              "mean_learned": {n: float(r[0].mean()) for n, r in rows.items()},
              "mean_true": {n: float(r[1].mean()) for n, r in rows.items()}}
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        for name, (lr, tr, lengths) in rows.items():
            ax1.scatter(tr, lr, s=3, alpha=0.4, label=f"{name} (r = {corr[name]:.2f})")
            ax2.plot(np.arange(lengths[0]), tr[: lengths[0]], label=f"{name}: true")
            ax2.plot(np.arange(lengths[0]), lr[: lengths[0]] / max(lr.max(), 1e-9) * max(tr.max(), 1e-9), "--",
                     label=f"{name}: learned (scaled)")
        ax1.set_xlabel("task's true reward per step")
        ax1.set_ylabel("learned reward per step")
        ax1.set_title(f"held-out episodes, all: r = {result['correlation_all']:.2f}")
        ax1.legend(fontsize=8)
        ax2.set_xlabel("control step")
        ax2.set_title("one episode of each")
        ax2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plot, dpi=90)
        plt.close(fig)
        result["plot"] = str(plot)
    return result


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])

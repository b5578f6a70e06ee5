"""Behaviour cloning from demonstrations, with optional DAgger rounds, into a run directory like any training run's.

Regression of the expert's action on the observation (Pomerleau's ALVINN, and the first half of
Ross et al. 2011): the clone is the distillation student's network (`robot_rl.algos.distill.
student_policy`: observation normalization inside, an MLP, the action clipped to [-1, 1] as PPO's
exported actor clips its mean), fitted by minibatch MSE between its pre-clip output and the
recorded action. Cloning is statistically inconsistent under distribution shift: a small error
leads to states no demonstration visited, where errors compound. DAgger fixes that when an expert
can be asked in simulation (a shipped policy folder, run through onnxruntime): each round runs the
clone in the simulator, labels every state it visits with the expert's action, adds them to the
dataset and fits again.

The run directory holds config.yaml (algo ``bc``), checkpoints/last.pt, metrics.csv and summary.json
(held-out action error, the clone's evaluation in simulation), so `robot-rl eval RUN` and
`robot-rl export RUN --out FOLDER` take it as they take any trained run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from robot_rl.errors import RobotRLError
from robot_rl.imitation.demos import Demonstrations

CONFIG_FILE = "config.yaml"
LAST = "last.pt"


class BCError(RobotRLError):
    """Behaviour cloning cannot run as asked (an output folder in use, an expert for another task)."""


@dataclass
class BCConfig:
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "elu"
    learning_rate: float = 1e-3
    batch_size: int = 256
    gradient_steps: int = 4000  # minibatch updates on the demonstrations (and again after each DAgger round)
    weight_decay: float = 0.0
    held_out: float = 0.2  # share of the episodes kept out of training to measure the action error
    normalize_obs: bool = True
    # The copycat problem (de Haan et al. 2019, causal confusion): consecutive actions are so alike
    # that a clone shown the previous action learns to repeat it, and drifts once it errs. Measured
    # on the swing-up: action error 0.009 on held-out pairs, yet the clone followed its own last
    # action off the rail in every episode. With this on, the observation's `last_action` field is
    # replaced by uniform noise in [-1, 1] in training, so the clone learns to act from the state.
    mask_last_action: bool = True
    dagger_rounds: int = 0
    dagger_steps: int = 4096  # simulator steps per DAgger round (labelled by the expert)
    dagger_envs: int = 16


def _meta(obs_dim: int, act_dim: int, cfg: BCConfig) -> dict[str, Any]:
    """The checkpoint's model description, as `robot_rl.algos.distill.Distillation.actor_from_state` reads it."""
    return {"obs_dim": obs_dim, "base_obs_dim": obs_dim, "history": 1, "act_dim": act_dim, "priv_dim": 0,
            "hidden": list(cfg.hidden), "activation": cfg.activation, "normalize_obs": cfg.normalize_obs,
            "squash": "clip"}


class Cloner:
    """The clone and its optimizer; `fit(obs, act, steps)` runs minibatch MSE updates."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: BCConfig, seed: int, masked: slice | None = None):
        from robot_rl.algos.distill import student_policy

        torch.manual_seed(seed)
        self.cfg = cfg
        self.masked = masked if cfg.mask_last_action else None  # observation columns replaced by noise
        self.meta = _meta(obs_dim, act_dim, cfg)
        self.policy = student_policy(obs_dim, act_dim, self.meta)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.learning_rate,
                                          weight_decay=cfg.weight_decay)
        self.generator = torch.Generator().manual_seed(seed)

    def fit(self, obs: np.ndarray, act: np.ndarray, steps: int) -> float:
        """`steps` minibatch updates on all of (obs, act); the normalizer is set from the whole dataset
        first (it is a fixed affine map at run time, exported inside the ONNX graph). Returns the mean loss."""
        x, y = torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(act, dtype=torch.float32)
        norm = self.policy.normalizer
        if self.cfg.normalize_obs:  # reset, then one pass over the dataset: the mean and variance of all of it
            norm.mean.zero_()
            norm.var.fill_(1.0)
            norm.count.zero_()
            norm.update(self._masked(x))
        batch = min(self.cfg.batch_size, len(x))
        total = 0.0
        for _ in range(steps):
            idx = torch.randint(0, len(x), (batch,), generator=self.generator)
            loss = (self.policy.net(norm(self._masked(x[idx]))) - y[idx]).square().mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
        return total / max(steps, 1)

    def _masked(self, x: torch.Tensor) -> torch.Tensor:
        if self.masked is None:
            return x
        x = x.clone()
        width = x[:, self.masked].shape[1]
        x[:, self.masked] = torch.rand(len(x), width, generator=self.generator) * 2.0 - 1.0
        return x

    @torch.inference_mode()
    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    def action_error(self, obs: np.ndarray, act: np.ndarray) -> float:
        """Mean absolute error of the clone's action (clipped, as deployed) against the recorded one."""
        return float(np.abs(self.act(obs) - act).mean()) if len(obs) else float("nan")


def _expert(folder: str | Path, task: str, robot: str):
    from robot_rl.runtime.onnx_policy import load_policy_folder

    policy = load_policy_folder(folder)
    card = policy.card or {}
    card_task = str(card.get("task", "")).removeprefix("robot_rl/")
    if card_task != task or card.get("robot", {}).get("name") != robot:
        raise BCError(f"--expert {folder} is a policy for task '{card_task}' on robot "
                      f"'{card.get('robot', {}).get('name')}', but the demonstrations are of '{task}' on '{robot}'")
    return policy


def _dagger_round(cloner: Cloner, expert, env_id: str, kwargs: dict[str, Any], cfg: BCConfig,
                  seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Run the clone in the simulator for `cfg.dagger_steps` steps; every visited observation labelled by the expert."""
    from robot_rl.algos.collector import VecCollector
    from robot_rl.envs import make_vec_env

    env = make_vec_env(env_id, cfg.dagger_envs, seed=seed, **kwargs)
    collector = VecCollector(env, seed=seed, use_privileged=False)
    obs, labels = [], []
    try:
        for _ in range(max(1, cfg.dagger_steps // cfg.dagger_envs)):
            o = collector.obs.copy()
            obs.append(o)
            labels.append(np.clip(expert(o), -1.0, 1.0))
            collector.step(cloner.act(o))
        stats = collector.stats.summary()
    finally:
        collector.close()
    return np.concatenate(obs), np.concatenate(labels), stats


def behaviour_clone(demos: Demonstrations, out: str | Path, config: BCConfig | None = None, *, seed: int = 0,
                    engine: str = "mujoco", expert: str | Path | None = None, eval_episodes: int = 20,
                    command: str = "", progress: bool = False) -> dict[str, Any]:
    """Fit a clone to `demos`, write the run directory `out`; returns the summary (also summary.json)."""
    from robot_rl.envs import task_kwargs_for
    from robot_rl.train import _git_commit, plain_data
    from robot_rl.training.checkpoint import save_checkpoint
    from robot_rl.training.evaluation import evaluate
    from robot_rl.training.logger import MetricsLogger

    cfg = config or BCConfig()
    out = Path(out)
    if (out / "checkpoints" / LAST).exists():
        raise BCError(f"{out} already holds a run; choose another --out")
    if cfg.dagger_rounds and expert is None:
        raise BCError("--dagger-rounds needs --expert FOLDER: the policy that labels the states the clone visits")
    torch.set_num_threads(1)
    start = time.perf_counter()
    train, held = demos.split(cfg.held_out, seed=seed)
    cloner = Cloner(demos.obs.shape[1], demos.actions.shape[1], cfg, seed, last_action_columns(demos.interface))
    env_id = f"robot_rl/{demos.task}"
    robot_arg = None if _is_alias(demos.task) else demos.robot  # an alias names its robot; a task by kind needs it
    kwargs = task_kwargs_for(env_id, engine, None, None, robot_arg)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "env_id": env_id, "task": demos.task, "robot": robot_arg, "algo": "bc", "steps": cfg.gradient_steps,
        "seed": seed, "engine": engine, "randomize": None, "params": None, "demos": demos.sources,
        "demo_episodes": demos.episodes, "demo_pairs": len(demos.obs), "expert": str(expert) if expert else None,
        "algo_config": plain_data(asdict(cfg)), "command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": _git_commit(), "model": cloner.meta,
    }
    (out / CONFIG_FILE).write_text(yaml.safe_dump(record, sort_keys=False))
    logger = MetricsLogger(out)
    obs, act = train.obs, train.actions
    try:
        loss = cloner.fit(obs, act, cfg.gradient_steps)
        step = cfg.gradient_steps
        logger.log(step, {"loss/imitation": loss, "bc/held_out_action_error": cloner.action_error(held.obs,
                                                                                                 held.actions)})
        if cfg.dagger_rounds:
            labeller = _expert(expert, demos.task, demos.robot)
            for r in range(cfg.dagger_rounds):
                new_obs, new_act, stats = _dagger_round(cloner, labeller, env_id, kwargs, cfg, seed + 1000 + r)
                obs, act = np.concatenate([obs, new_obs]), np.concatenate([act, new_act])
                loss = cloner.fit(obs, act, cfg.gradient_steps)
                step += cfg.gradient_steps
                logger.log(step, {"loss/imitation": loss, "dagger/round": r + 1, "dagger/dataset": len(obs), **stats})
                if progress:
                    print(f"DAgger round {r + 1}: dataset {len(obs)}, clone's return in sim "
                          f"{stats.get('episode/return', float('nan')):.1f}", flush=True)
        payload = {"algo": "bc", "global_step": step, "model_meta": cloner.meta, "algo_config": plain_data(asdict(cfg)),
                   "runner": {"elapsed_s": time.perf_counter() - start},
                   "state": {"student": cloner.policy.state_dict()}}
        save_checkpoint(out / "checkpoints" / LAST, payload)
    finally:
        logger.close()
    from robot_rl.envs import make_env

    evaluation = evaluate(lambda o: cloner.act(o[None])[0], lambda: make_env(env_id, **kwargs), eval_episodes,
                          seed + 1_000_000) if eval_episodes else None
    summary = {
        "status": "finished", "global_step": step, "elapsed_s": time.perf_counter() - start,
        "demo_episodes": demos.episodes, "train_pairs": len(train.obs), "held_out_pairs": len(held.obs),
        "held_out_action_error": cloner.action_error(held.obs, held.actions),
        "train_action_error": cloner.action_error(train.obs, train.actions),
        "commands_clipped": demos.clipped, "final_eval": evaluation,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def last_action_columns(interface) -> slice | None:
    """The observation's `last_action` field as a column slice (None if the task does not observe it)."""
    start = 0
    for f in interface.layout:
        if f.name == "last_action":
            return slice(start, start + f.size)
        start += f.size
    return None


def _is_alias(task: str) -> bool:
    from sim.tasks.registry import task_spec

    return task_spec(task).robot is not None

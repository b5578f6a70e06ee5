"""Teacher-student distillation with DAgger (Ross et al. 2011), readable top to bottom.

The sim-to-real pattern of RMA and legged_gym: a teacher trained with privileged information
(the sampled masses, frictions, gains, delay and noise; ``robot-rl train --privileged-obs``)
is imitated by a student that sees only what a robot reports, optionally a short history of it,
from which it can infer what the teacher was told. The pieces, each named where used:

* DAgger data collection: the executed action is the teacher's with probability ``beta`` and the
  student's otherwise, ``beta`` decaying by ``beta_decay`` per round, so the student is trained on
  the states ITS OWN mistakes lead to; every visited state is labelled with the teacher's action;
* an aggregated dataset (a circular buffer of ``buffer_size`` labelled states) over all rounds;
* observation history: the student's input is its last ``history`` observations, oldest first,
  filled with the episode's first observation after a reset;
* running observation normalization of the student's input, exported inside the actor;
* regression of the student's pre-squash output to the teacher's action in [-1, 1] (MSE), the
  action then clipped exactly as PPO's exported actor clips its mean.

Collection runs under the teacher run's domain randomization, so the student learns to act
across it, not on the nominal simulator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from robot_rl.algos.collector import VecCollector
from robot_rl.algos.modules import DeterministicPolicy, make_normalizer, mlp
from robot_rl.algos.sac import fused_adam


@dataclass
class DistillConfig:
    num_envs: int = 16
    steps_per_iteration: int = 4096  # env steps per DAgger round
    history: int = 1  # observations the student sees (1: exportable with the task's contract)
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "elu"
    learning_rate: float = 1e-3
    epochs: int = 4  # passes over the aggregated dataset per round
    batch_size: int = 512
    max_batches_per_round: int = 200  # caps the update cost once the dataset is large
    buffer_size: int = 200_000  # labelled states kept (the aggregated DAgger dataset)
    beta: float = 1.0  # probability of executing the teacher's action in the first round
    beta_decay: float = 0.5  # beta's factor per round
    normalize_obs: bool = True


def student_policy(obs_dim: int, act_dim: int, cfg_or_meta: Any) -> DeterministicPolicy:
    """The student: normalizer, MLP, clip; input is ``history * obs_dim`` (the stacked history)."""
    get = cfg_or_meta.get if isinstance(cfg_or_meta, dict) else lambda k: getattr(cfg_or_meta, k)
    width = obs_dim * int(get("history"))
    return DeterministicPolicy(
        make_normalizer(width, bool(get("normalize_obs"))),
        mlp(width, tuple(get("hidden")), act_dim, str(get("activation"))),
        act_dim,
        squash="clip",
    )


class ObservationHistory(gym.Wrapper):
    """A single env whose observation is its last ``k`` observations, oldest first (the student's input)."""

    def __init__(self, env: gym.Env, k: int):
        super().__init__(env)
        self.k = k
        low = np.tile(env.observation_space.low, k)
        high = np.tile(env.observation_space.high, k)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self._frames: np.ndarray | None = None

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._frames = np.tile(np.asarray(obs, dtype=np.float32), (self.k, 1))
        return self._frames.reshape(-1).copy(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames = np.concatenate([self._frames[1:], np.asarray(obs, dtype=np.float32)[None]])
        return self._frames.reshape(-1).copy(), reward, terminated, truncated, info


class Distillation:
    """DAgger from a teacher module into a student; ``iterate()`` is one round (collect, then fit)."""

    name = "distill"

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        teacher: Callable[[torch.Tensor], torch.Tensor],
        student_obs_dim: int,
        config: DistillConfig,
        seed: int,
    ):
        if config.history < 1:
            raise ValueError(f"distill: history must be >= 1, got {config.history}")
        self.cfg = config
        self.teacher = teacher
        self.collector = VecCollector(env, seed=seed, use_privileged=False)
        c = self.collector
        if c.discrete:
            raise ValueError("distill: the teacher must have continuous actions")
        self.obs_dim = student_obs_dim  # the leading part of the teacher's observation
        torch.manual_seed(seed)
        self.student = student_policy(student_obs_dim, c.act_dim, config)
        self.optimizer = fused_adam(self.student.parameters(), config.learning_rate)
        width = student_obs_dim * config.history
        self.data_obs = torch.zeros(config.buffer_size, width)
        self.data_act = torch.zeros(config.buffer_size, c.act_dim)
        self.ptr, self.size = 0, 0
        self.frames = self._fresh_history(torch.from_numpy(c.obs[:, :student_obs_dim]))
        self.generator = torch.Generator().manual_seed(seed)
        self.global_step = 0
        self.iteration = 0

    def _fresh_history(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.unsqueeze(1).repeat(1, self.cfg.history, 1)  # (N, history, obs_dim)

    def beta(self) -> float:
        return self.cfg.beta * self.cfg.beta_decay**self.iteration

    # ------------------------------------------------------------------ one DAgger round
    def iterate(self) -> dict[str, float]:
        cfg, c = self.cfg, self.collector
        beta = self.beta()
        n_steps = max(1, cfg.steps_per_iteration // c.num_envs)
        teacher_share = 0.0
        for _ in range(n_steps):
            full = torch.from_numpy(c.obs)
            student_in = self.frames.reshape(c.num_envs, -1)
            with torch.inference_mode():
                teacher_action = self.teacher(full)
                student_action = self.student(student_in)
            # DAgger's mixture: the teacher acts with probability beta, else the student.
            use_teacher = torch.rand(c.num_envs, 1, generator=self.generator) < beta
            action = torch.where(use_teacher, teacher_action, student_action)
            teacher_share += float(use_teacher.float().mean())
            self._store(student_in, teacher_action)  # every visited state, labelled by the teacher
            self.student.normalizer.update(student_in)
            step = c.step(action.numpy())
            new_obs = torch.from_numpy(step.next_obs[:, : self.obs_dim])
            self.frames = torch.cat([self.frames[:, 1:], new_obs.unsqueeze(1)], 1)
            if len(step.done_idx):  # a new episode starts its history from its first observation
                rows = torch.from_numpy(step.done_idx)
                self.frames[rows] = self._fresh_history(new_obs[rows])
            self.global_step += c.num_envs
        loss = self._fit()
        self.iteration += 1
        metrics = {
            "loss/imitation": loss,
            "train/beta": beta,
            "train/teacher_action_share": teacher_share / n_steps,
            "train/dataset_size": float(self.size),
        }
        metrics.update(c.stats.summary())  # returns of the executed (mixed) policy
        return metrics

    def _store(self, obs: torch.Tensor, action: torch.Tensor) -> None:
        n = obs.shape[0]
        rows = torch.arange(self.ptr, self.ptr + n) % self.cfg.buffer_size
        self.data_obs[rows] = obs
        self.data_act[rows] = action
        self.ptr = (self.ptr + n) % self.cfg.buffer_size
        self.size = min(self.size + n, self.cfg.buffer_size)

    def _fit(self) -> float:
        """Epochs of minibatch MSE between the student's pre-clip output and the teacher's action."""
        cfg, student = self.cfg, self.student
        obs, act = self.data_obs[: self.size], self.data_act[: self.size]
        batch = min(cfg.batch_size, self.size)
        batches = min(cfg.epochs * max(self.size // batch, 1), cfg.max_batches_per_round)
        total = torch.zeros(())
        for _ in range(batches):
            idx = torch.randint(0, self.size, (batch,), generator=self.generator)
            loss = (student.net(student.normalizer(obs[idx])) - act[idx]).square().mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach()
        return float(total) / max(batches, 1)

    # ------------------------------------------------------------------ policy and state
    @torch.inference_mode()
    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.student(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    def export_actor(self) -> DeterministicPolicy:
        return copy.deepcopy(self.student).eval().requires_grad_(False)

    @staticmethod
    def actor_from_state(meta: dict, state: dict) -> DeterministicPolicy:
        student = student_policy(meta["base_obs_dim"], meta["act_dim"], meta)
        student.load_state_dict(state["student"])
        return student.eval().requires_grad_(False)

    def model_meta(self) -> dict:
        return {
            "obs_dim": self.obs_dim * self.cfg.history,
            "base_obs_dim": self.obs_dim,
            "history": self.cfg.history,
            "act_dim": self.collector.act_dim,
            "priv_dim": 0,
            "hidden": list(self.cfg.hidden),
            "activation": self.cfg.activation,
            "normalize_obs": self.cfg.normalize_obs,
            "squash": "clip",
        }

    def state_dict(self, include_replay: bool = False) -> dict:  # noqa: ARG002 - the dataset is not kept
        return {
            "student": self.student.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "global_step": self.global_step,
            "iteration": self.iteration,
        }

    def close(self) -> None:
        self.collector.close()

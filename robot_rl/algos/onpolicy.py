"""On-policy infrastructure shared by PPO, A2C/REINFORCE and TRPO: the rollout, its advantages, the state.

An on-policy algorithm here is a Gaussian actor-critic (``GaussianActorCritic``: separate MLPs,
state-independent log std) that collects ``num_steps`` vector steps from ``num_envs`` envs and
then updates on that batch alone. What differs between PPO, A2C and TRPO is only the update
(``update()``, in each algorithm's file); this base owns everything else, each trick named where
applied:

* vectorized rollouts (one batched forward per vector step, not per env);
* running observation normalization (statistics frozen during a rollout and its update, merged
  after, so old and new log-probs see identical inputs; exported inside the actor);
* reward scaling by the running std of the discounted return;
* time-limit bootstrapping: a truncated episode's last reward gets ``+ gamma * V(final_obs)``;
* GAE(lambda) advantages and TD(lambda) value targets;
* asymmetric actor-critic: the critic may see the simulator's privileged state, the actor never.

A config for this base has the fields ``num_envs, num_steps, learning_rate, anneal_lr, gamma,
gae_lambda, normalize_obs, normalize_rewards, hidden, activation, init_log_std, asymmetric``.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from robot_rl.algos.collector import VecCollector
from robot_rl.algos.modules import HALF_LOG_2PI, DeterministicPolicy, GaussianActorCritic
from robot_rl.algos.storage import RolloutStorage, compute_gae


class RunningVariance:
    """Running variance of a scalar stream in float64 (for reward scaling)."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 0.0

    def update(self, x: np.ndarray) -> None:
        n = x.size
        if n == 0:
            return
        batch_mean, batch_var = float(x.mean()), float(x.var())
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta * delta * self.count * n / total
        self.mean, self.var, self.count = self.mean + delta * n / total, m2 / total, total


class OnPolicyAlgorithm:
    """Rollout, advantages, acting, export and state of a Gaussian actor-critic; subclasses add ``update``."""

    name: ClassVar[str]

    def __init__(self, env: gym.vector.VectorEnv | VecCollector, config: Any, total_steps: int, seed: int):
        self.cfg = config
        self.total_steps = int(total_steps)
        # A ready collector may stand in for the env: Ray rollout workers (robot_rl.distributed) do.
        self.collector = (
            env if isinstance(env, VecCollector) else VecCollector(env, seed=seed, use_privileged=config.asymmetric)
        )
        c = self.collector
        torch.manual_seed(seed)  # network initialization only; sampling uses self.generator
        self.model = GaussianActorCritic(
            c.obs_dim,
            c.act_dim,
            config.hidden,
            config.activation,
            normalize=config.normalize_obs,
            init_log_std=config.init_log_std,
            critic_extra_dim=c.priv_dim,
        )
        self.optimizer = self.make_optimizer()
        self.storage = RolloutStorage(config.num_steps, c.num_envs, c.obs_dim, c.act_dim, c.priv_dim)
        self.running_return = np.zeros(c.num_envs)  # per-env discounted return, for reward scaling
        self.return_stats = RunningVariance()
        self.generator = torch.Generator().manual_seed(seed)
        self.global_step = 0
        self.iteration = 0
        if getattr(config, "init_action", "zero") == "hold" and not isinstance(env, VecCollector):
            from robot_rl.envs import hold_action  # (a remote collector's learner: the runner sets it)

            self.start_actions_at(hold_action(env))

    def start_actions_at(self, action: np.ndarray) -> None:
        """Start the actor's mean action at ``action`` (PPOConfig.init_action "hold"): its output bias.

        A fresh actor's last layer has near-zero weights (gain 0.01), so its mean is its bias everywhere."""
        last = [m for m in self.model.actor if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.bias.copy_(torch.as_tensor(np.asarray(action), dtype=last.bias.dtype))

    @property
    def batch_size(self) -> int:
        return self.cfg.num_envs * self.cfg.num_steps

    def _critic_input(self, obs: torch.Tensor, priv: torch.Tensor) -> torch.Tensor:
        # Asymmetric actor-critic: privileged state is appended to the critic's input only.
        return torch.cat([obs, priv], dim=-1) if self.collector.priv_dim else obs

    # ------------------------------------------------------------------ rollout
    @torch.inference_mode()
    def collect(self) -> None:
        """Fill the rollout storage with ``num_steps`` vector steps of the current stochastic policy."""
        cfg, s, c, model = self.cfg, self.storage, self.collector, self.model
        log_std = model.log_std
        std = log_std.exp()
        logp_const = -(log_std.sum() + HALF_LOG_2PI * c.act_dim)
        empty_priv = torch.zeros(c.num_envs, 0)
        for t in range(cfg.num_steps):
            obs = torch.from_numpy(c.obs)
            priv = torch.from_numpy(c.priv) if c.priv is not None else empty_priv
            mean = model.actor_mean(obs)
            noise = torch.randn(mean.shape, generator=self.generator)
            action = mean + std * noise
            s.obs[t] = obs
            s.priv[t] = priv
            s.actions[t] = action
            # log N(a; mean, std) with a = mean + std * noise needs no subtraction or division.
            s.log_probs[t] = logp_const - 0.5 * noise.square().sum(-1)
            s.values[t] = model.value(self._critic_input(obs, priv))

            step = c.step(action.numpy())
            s.raw_rewards[t] = torch.from_numpy(step.reward)
            done = step.terminated | step.truncated
            s.dones[t] = torch.from_numpy(done.astype(np.float32))
            s.bootstrap[t] = 0.0
            # Time-limit bootstrapping: a truncated (not terminated) episode did not end in a terminal
            # state, so its last reward gets gamma * V(final_obs) instead of an implicit V = 0.
            trunc_only = step.truncated[step.done_idx] & ~step.terminated[step.done_idx]
            if trunc_only.any():
                rows = step.done_idx[trunc_only]
                final_obs = torch.from_numpy(step.final_obs[trunc_only])
                final_priv = torch.from_numpy(step.final_priv[trunc_only]) if step.final_priv is not None else None
                final_cobs = self._critic_input(final_obs, final_priv) if final_priv is not None else final_obs
                s.bootstrap[t, torch.from_numpy(rows)] = cfg.gamma * model.value(final_cobs)
            # Discounted return per env, whose running std scales rewards (reset at episode ends).
            self.running_return = self.running_return * cfg.gamma + step.reward
            s.discounted_returns[t] = torch.from_numpy(self.running_return)
            self.running_return[done] = 0.0
        s.last_obs = torch.from_numpy(c.obs.copy())
        s.last_priv = torch.from_numpy(c.priv.copy()) if c.priv is not None else empty_priv
        self.global_step += self.batch_size

    def make_optimizer(self) -> torch.optim.Optimizer:
        """Adam over actor, log std and critic (TRPO overrides it: its actor step is not a gradient step)."""
        return torch.optim.Adam(self.model.parameters(), lr=self.cfg.learning_rate, eps=1e-5)

    def annealed_lr(self) -> float:
        """Linear learning-rate annealing from the initial rate to 0 over the whole run (or constant)."""
        lr = self.cfg.learning_rate
        if self.cfg.anneal_lr:
            lr *= max(1.0 - (self.global_step - self.batch_size) / max(self.total_steps, 1), 0.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def rollout_batch(self, bootstrap: bool = True) -> dict[str, torch.Tensor]:
        """The stored rollout as flat ``(T * N, ...)`` tensors with GAE advantages and value targets.

        ``bootstrap=False`` (REINFORCE, no critic): advantages are plain discounted returns-to-go
        within the rollout, with no value function anywhere (no time-limit bootstrap, V = 0).
        Observations come normalized with the statistics the rollout was collected with.
        """
        cfg, s, model = self.cfg, self.storage, self.model
        # Reward scaling: divide by the running std of the discounted return (not its mean: the
        # reward's sign and offset carry meaning, e.g. a survival bonus).
        rewards = s.raw_rewards
        if cfg.normalize_rewards:
            self.return_stats.update(s.discounted_returns.numpy())
            rewards = rewards / math.sqrt(self.return_stats.var + 1e-8)
        with torch.no_grad():
            if bootstrap:
                last_values = model.value(self._critic_input(s.last_obs, s.last_priv))
                advantages, returns = compute_gae(
                    rewards + s.bootstrap, s.values, s.dones, last_values, cfg.gamma, cfg.gae_lambda
                )
            else:
                zeros = torch.zeros_like(s.values)
                advantages, returns = compute_gae(rewards, zeros, s.dones, zeros[0], cfg.gamma, 1.0)
            obs = model.actor_normalizer(s.obs.reshape(self.batch_size, -1))
            cobs = model.critic_normalizer(self._critic_input(s.obs, s.priv).reshape(self.batch_size, -1))
        return {
            "obs": obs,
            "critic_obs": cobs,
            "actions": s.actions.reshape(self.batch_size, -1),
            "log_probs": s.log_probs.reshape(-1),
            "advantages": advantages.reshape(-1),
            "returns": returns.reshape(-1),
            "values": s.values.reshape(-1),
        }

    def merge_normalizer_stats(self) -> None:
        """Observation statistics are merged only after the update used the rollout's own."""
        s = self.storage
        self.model.actor_normalizer.update(s.obs)
        self.model.critic_normalizer.update(self._critic_input(s.obs, s.priv))

    def update(self) -> dict[str, float]:
        raise NotImplementedError  # each algorithm's file

    def iterate(self) -> dict[str, float]:
        """One iteration: a rollout, then the algorithm's update. Returns metrics (losses, episode stats)."""
        self.collect()
        metrics = self.update()
        self.iteration += 1
        metrics.update(self.collector.stats.summary())
        return metrics

    # ------------------------------------------------------------------ policy and state
    @torch.inference_mode()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action for a batch of raw observations (evaluation during training)."""
        mean = self.model.actor_mean(torch.as_tensor(obs, dtype=torch.float32))
        return mean.clamp(-1.0, 1.0).numpy()

    def export_actor(self) -> DeterministicPolicy:
        """A detached copy of the actor (with its normalizer) that outputs the clipped mean action."""
        return copy.deepcopy(self.model.deterministic()).eval().requires_grad_(False)

    @staticmethod
    def actor_from_state(meta: dict, state: dict) -> DeterministicPolicy:
        model = GaussianActorCritic(
            meta["obs_dim"],
            meta["act_dim"],
            tuple(meta["hidden"]),
            meta["activation"],
            normalize=meta["normalize_obs"],
            init_log_std=0.0,
            critic_extra_dim=meta["priv_dim"],
        )
        model.load_state_dict(state["model"])
        return model.deterministic().eval().requires_grad_(False)

    def close(self) -> None:
        self.collector.close()

    def model_meta(self) -> dict:
        c = self.collector
        return {
            "obs_dim": c.obs_dim,
            "act_dim": c.act_dim,
            "priv_dim": c.priv_dim,
            "hidden": list(self.cfg.hidden),
            "activation": self.cfg.activation,
            "normalize_obs": self.cfg.normalize_obs,
            "squash": "clip",
        }

    def state_dict(self, include_replay: bool = True) -> dict:  # noqa: ARG002 - no replay buffer

        """Everything needed to continue training exactly: nets, normalizers, optimizer, RNG, counters."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "return_stats": [self.return_stats.mean, self.return_stats.var, self.return_stats.count],
            "global_step": self.global_step,
            "iteration": self.iteration,
        }

    def load_networks(self, state: dict) -> None:
        """Only the networks, observation normalizer and return scale of a `state_dict`: what a
        fine-tuning run (`train --init-from`) starts from, with a fresh optimizer and step count."""
        self.model.load_state_dict(state["model"])
        self.return_stats.mean, self.return_stats.var, self.return_stats.count = (
            float(v) for v in state["return_stats"]
        )

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.return_stats.mean, self.return_stats.var, self.return_stats.count = (
            float(v) for v in state["return_stats"]
        )
        self.global_step = int(state["global_step"])
        self.iteration = int(state["iteration"])

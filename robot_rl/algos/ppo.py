"""Proximal Policy Optimization (Schulman et al. 2017) for continuous actions, readable top to bottom.

One ``iterate()`` = collect ``num_steps`` vector steps from ``num_envs`` envs, then optimize the
clipped surrogate for ``update_epochs`` epochs of minibatches. The tricks, each named where used:

* vectorized rollouts (one batched forward per vector step, not per env);
* running observation normalization (statistics frozen during a rollout and its update, merged
  after, so old and new log-probs see identical inputs; exported inside the actor);
* reward scaling by the running std of the discounted return;
* time-limit bootstrapping: a truncated episode's last reward gets ``+ gamma * V(final_obs)``;
* GAE(lambda) advantages; per-minibatch advantage normalization;
* clipped surrogate objective; optional clipped value loss; entropy bonus;
* global gradient-norm clipping; linear learning-rate annealing or rsl_rl's adaptive-KL learning
  rate (``desired_kl``); KL early stopping;
* asymmetric actor-critic: the critic may see the simulator's privileged state, the actor never.

Hyperparameter defaults follow CleanRL's ``ppo_continuous_action.py`` except the batch shape
(many envs and few, large minibatches, which is what makes PPO fast on a 2-core CPU) and a
learning rate raised to match it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from robot_rl.algos.collector import VecCollector
from robot_rl.algos.modules import (
    HALF_LOG_2PI,
    DeterministicPolicy,
    GaussianActorCritic,
    gaussian_entropy,
    gaussian_log_prob,
)
from robot_rl.algos.storage import RolloutStorage, compute_gae


@dataclass
class PPOConfig:
    num_envs: int = 16
    num_steps: int = 64  # vector steps per rollout; batch = num_envs * num_steps
    num_minibatches: int = 4
    update_epochs: int = 10
    # 1e-3 rather than CleanRL's 3e-4: with few, large minibatches per rollout the higher rate
    # reaches a swing-up in ~40% fewer env steps (measured on CartpoleSwingup-v0, InvertedPendulum-v5).
    learning_rate: float = 1e-3
    anneal_lr: bool = True
    # Adaptive learning rate (rsl_rl / legged_gym): after each minibatch, divide the rate by 1.5 when
    # the policy's KL from the rollout policy exceeds 2 * desired_kl, multiply by 1.5 below half of it
    # (bounded to [1e-5, 1e-2]). Replaces annealing when set.
    desired_kl: float | None = None
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    clip_vloss: bool = False
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    norm_adv: bool = True
    normalize_obs: bool = True
    normalize_rewards: bool = True
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    asymmetric: bool = False


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


class PPO:
    name = "ppo"

    def __init__(self, env: gym.vector.VectorEnv | VecCollector, config: PPOConfig, total_steps: int, seed: int):
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
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate, eps=1e-5)
        self.storage = RolloutStorage(config.num_steps, c.num_envs, c.obs_dim, c.act_dim, c.priv_dim)
        self.running_return = np.zeros(c.num_envs)  # per-env discounted return, for reward scaling
        self.return_stats = RunningVariance()
        self.generator = torch.Generator().manual_seed(seed)
        self.global_step = 0
        self.iteration = 0
        self.adaptive_lr = config.learning_rate  # the current rate of the adaptive-KL schedule

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

    # ------------------------------------------------------------------ update
    def update(self) -> dict[str, float]:
        """Optimize the clipped surrogate on the stored rollout; returns scalar diagnostics."""
        cfg, s, model = self.cfg, self.storage, self.model

        # Learning rate: the adaptive-KL schedule's current rate, or linear annealing from the
        # initial rate to 0 over the whole run, or constant.
        lr = cfg.learning_rate
        if cfg.desired_kl is not None:
            lr = self.adaptive_lr
        elif cfg.anneal_lr:
            lr *= max(1.0 - (self.global_step - self.batch_size) / max(self.total_steps, 1), 0.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

        # Reward scaling: divide by the running std of the discounted return (not its mean: the
        # reward's sign and offset carry meaning, e.g. a survival bonus).
        if cfg.normalize_rewards:
            self.return_stats.update(s.discounted_returns.numpy())
            rewards = s.raw_rewards / math.sqrt(self.return_stats.var + 1e-8) + s.bootstrap
        else:
            rewards = s.raw_rewards + s.bootstrap

        with torch.no_grad():
            last_values = model.value(self._critic_input(s.last_obs, s.last_priv))
            advantages, returns = compute_gae(rewards, s.values, s.dones, last_values, cfg.gamma, cfg.gae_lambda)
            # Normalize the whole batch once with the statistics the rollout was collected with.
            b_obs = model.actor_normalizer(s.obs.reshape(self.batch_size, -1))
            b_cobs = model.critic_normalizer(self._critic_input(s.obs, s.priv).reshape(self.batch_size, -1))
        b_actions = s.actions.reshape(self.batch_size, -1)
        b_logp = s.log_probs.reshape(-1)
        b_adv = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = s.values.reshape(-1)

        minibatch = self.batch_size // cfg.num_minibatches
        sums = torch.zeros(5)  # pg loss, v loss, entropy, approx kl, clip fraction
        n_minibatches = 0
        epochs_run = 0
        for _epoch in range(cfg.update_epochs):
            epochs_run += 1
            epoch_kl = torch.zeros(())
            perm = torch.randperm(self.batch_size, generator=self.generator)
            for start in range(0, self.batch_size - minibatch + 1, minibatch):
                idx = perm[start : start + minibatch]
                mean = model.actor(b_obs[idx])
                new_logp = gaussian_log_prob(b_actions[idx], mean, model.log_std)
                entropy = gaussian_entropy(model.log_std)
                log_ratio = new_logp - b_logp[idx]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    # Schulman's low-variance KL estimator k3 = (r - 1) - log r.
                    approx_kl = ((ratio - 1.0) - log_ratio).mean()
                    clip_frac = ((ratio - 1.0).abs() > cfg.clip_coef).float().mean()

                mb_adv = b_adv[idx]
                if cfg.norm_adv:  # advantage normalization, per minibatch
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)

                # Clipped surrogate objective (pessimistic bound of the two).
                pg_loss = torch.max(
                    -mb_adv * ratio, -mb_adv * ratio.clamp(1.0 - cfg.clip_coef, 1.0 + cfg.clip_coef)
                ).mean()

                new_values = model.critic(b_cobs[idx]).squeeze(-1)
                if cfg.clip_vloss:  # value clipping around the rollout's value estimates
                    v_clipped = b_values[idx] + (new_values - b_values[idx]).clamp(-cfg.clip_coef, cfg.clip_coef)
                    v_loss = (
                        0.5
                        * torch.max(
                            (new_values - b_returns[idx]).square(), (v_clipped - b_returns[idx]).square()
                        ).mean()
                    )
                else:
                    v_loss = 0.5 * (new_values - b_returns[idx]).square().mean()

                # Entropy bonus keeps exploration alive (0 by default for continuous control).
                loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm, foreach=True)
                self.optimizer.step()

                if cfg.desired_kl is not None:
                    lr = self._adapt_learning_rate(float(approx_kl))
                sums += torch.stack([pg_loss.detach(), v_loss.detach(), entropy.detach(), approx_kl, clip_frac])
                epoch_kl += approx_kl
                n_minibatches += 1
            # KL early stopping: stop the epochs once the policy moved too far from the rollout policy.
            if cfg.target_kl is not None and float(epoch_kl) / cfg.num_minibatches > cfg.target_kl:
                break

        # Observation statistics are merged only now, after the update used the rollout's own.
        model.actor_normalizer.update(s.obs)
        model.critic_normalizer.update(self._critic_input(s.obs, s.priv))

        pg, vl, ent, kl, cf = (sums / max(n_minibatches, 1)).tolist()
        var_ret = float(b_returns.var())
        explained_var = float("nan") if var_ret == 0 else 1.0 - float((b_returns - b_values).var()) / var_ret
        return {
            "loss/policy": pg,
            "loss/value": vl,
            "loss/entropy": ent,
            "train/approx_kl": kl,
            "train/clip_fraction": cf,
            "train/explained_variance": explained_var,
            "train/learning_rate": lr,
            "train/action_std": float(model.log_std.detach().exp().mean()),
            "train/epochs": float(epochs_run),
        }

    def _adapt_learning_rate(self, kl: float) -> float:
        """The adaptive-KL schedule: one step of the rate, applied to the optimizer for the next minibatch."""
        desired = self.cfg.desired_kl
        if kl > 2.0 * desired:
            self.adaptive_lr = max(self.adaptive_lr / 1.5, 1e-5)
        elif 0.0 <= kl < 0.5 * desired:
            self.adaptive_lr = min(self.adaptive_lr * 1.5, 1e-2)
        for group in self.optimizer.param_groups:
            group["lr"] = self.adaptive_lr
        return self.adaptive_lr

    def iterate(self) -> dict[str, float]:
        """One PPO iteration: a rollout, then its update. Returns metrics (losses and episode stats)."""
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
            "adaptive_lr": self.adaptive_lr,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.return_stats.mean, self.return_stats.var, self.return_stats.count = (
            float(v) for v in state["return_stats"]
        )
        self.global_step = int(state["global_step"])
        self.iteration = int(state["iteration"])
        self.adaptive_lr = float(state.get("adaptive_lr", self.cfg.learning_rate))

"""Proximal Policy Optimization (Schulman et al. 2017) for continuous actions, readable top to bottom.

One ``iterate()`` = collect ``num_steps`` vector steps from ``num_envs`` envs, then optimize the
clipped surrogate for ``update_epochs`` epochs of minibatches. The rollout and its tricks
(vectorized collection, observation normalization, reward scaling, time-limit bootstrapping,
GAE, asymmetric critic) are shared with A2C and TRPO in ``onpolicy.py``; the update's tricks are
named here where used:

* per-minibatch advantage normalization;
* clipped surrogate objective; optional clipped value loss; entropy bonus;
* global gradient-norm clipping; linear learning-rate annealing or rsl_rl's adaptive-KL learning
  rate (``desired_kl``); KL early stopping.

Hyperparameter defaults follow CleanRL's ``ppo_continuous_action.py`` except the batch shape
(many envs and few, large minibatches, which is what makes PPO fast on a 2-core CPU) and a
learning rate raised to match it.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from robot_rl.algos.collector import VecCollector
from robot_rl.algos.modules import gaussian_entropy, gaussian_log_prob
from robot_rl.algos.onpolicy import OnPolicyAlgorithm


@dataclass
class PPOConfig:
    # 16 envs x 64 steps, 10 epochs, 64x64 stay the defaults. Measured against wider batches on
    # CartpoleSwingup-v0 under default DR, to a training return of 180 (bench/train_vs_sb3.py trials,
    # seeds 0/1/2, 1 torch thread, on a shared machine at load 10-17), median env steps / CPU seconds
    # / wall seconds to the threshold:
    #   16 envs, 10 epochs, 64x64:    83k / 12.5 / 102   (every seed)
    #   32 envs, 5 epochs, 128x128:  176k / 14.9 /  68
    #   64 envs, 5 epochs, 128x128:  250k / 17.3 /  91   (robot-rl demo's settings)
    # The wider batches run ~2.1x the env steps per CPU-second but need 2-3x the env steps: no less
    # CPU time. Their wall-clock lead here may be the load's doing (MuJoCo's 2 rollout threads take a
    # larger share of a contended CPU). Idle-machine check (seed 0, 2026-11-30): the defaults reached
    # 180 after 105k steps in 11.1 s (9.3k steps/s); 32 envs / 5 epochs / 128x128 ran 14.7k steps/s
    # but stood at 157 after 200k steps (13.6 s). The defaults stay: fastest to the threshold.
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
    # Where the actor's mean action starts: "zero" (the middle of every action's range), or "hold": the
    # action that commands each position actuator to the joint position the task starts its episodes in
    # (robot_rl.envs.hold_action; our robot tasks only). Why: an arm's action 0 is the middle of its joint
    # ranges, the iiwa straight up, far from its Reach goals. Measured on Reach-v0 (iiwa, gap-class DR,
    # 64 envs x 32 steps, 3 min on the shared 2-core machine): "zero" evaluated 0.05 success after 3 min
    # (the first ~400k steps spent unlearning the offset), "hold" 0.9 after 2.4 min.
    init_action: str = "zero"
    # Temporal action smoothness (CAPS, Mysore et al. 2021): adds smoothness_coef * |mu(s_t) - mu(s_t+1)|^2
    # (the actor's mean at consecutive steps of one episode, summed over actions) to the loss. Why: behind
    # a rate limit a policy is paid nothing to stop chattering, and learns to ask for a target beyond the
    # limit on alternate sides every period (measured on Reach-v0, Panda: every joint alternated by
    # the full 0.044 rad limit every 20 ms at the goal; with 100, by 0.05-0.2 of it, as fast to success:
    # the `reach` preset, robot_rl/training/presets.py); 0: off.
    smoothness_coef: float = 0.0
    # Left-right symmetry of a legged robot (sim/symmetry.py: the mirror maps come from its URDF), two ways:
    # * symmetry_augment: every rollout sample also enters the policy loss mirrored (observation and action
    #   mirrored, same advantage; its old log-probability is the sample's own, exact for a symmetric policy
    #   and what rsl_rl's augmentation assumes too); the critic trains on the samples as collected;
    # * symmetry_coef: adds symmetry_coef * |mu(mirror(s)) - mirror(mu(s))|^2 (the mirror loss of Yu et al.
    #   2018) to the loss, pulling the actor's mean toward a symmetric one.
    # Both need one of our Walk tasks (the runner asks the env for the maps); off by default. Measured on
    # A1Walk-v0: docs/training.md, "Symmetry".
    symmetry_augment: bool = False
    symmetry_coef: float = 0.0


class PPO(OnPolicyAlgorithm):
    name = "ppo"

    def __init__(self, env: gym.vector.VectorEnv, config: PPOConfig, total_steps: int, seed: int):
        super().__init__(env, config, total_steps, seed)
        self.adaptive_lr = config.learning_rate  # the current rate of the adaptive-KL schedule
        # Mirror maps (observation, action) as matrices: x' = x @ M.T. None until set_mirror (symmetry off).
        self.obs_mirror: torch.Tensor | None = None
        self.action_mirror: torch.Tensor | None = None
        if self.uses_symmetry and not isinstance(env, VecCollector):
            from robot_rl.envs import mirror_maps  # (a remote collector's learner: the runner sets them)

            self.set_mirror(*mirror_maps(env))

    @property
    def uses_symmetry(self) -> bool:
        return bool(self.cfg.symmetry_augment) or self.cfg.symmetry_coef > 0

    def set_mirror(self, obs_matrix: np.ndarray, action_matrix: np.ndarray) -> None:
        """The task's left-right mirror of observations and actions (sim.symmetry.ObservationMirror)."""
        c = self.collector
        if obs_matrix.shape != (c.obs_dim, c.obs_dim) or action_matrix.shape != (c.act_dim, c.act_dim):
            raise ValueError(f"mirror maps of shape {obs_matrix.shape} / {action_matrix.shape} do not fit this "
                             f"policy's {c.obs_dim} observations and {c.act_dim} actions")
        self.obs_mirror = torch.as_tensor(obs_matrix, dtype=torch.float32).T.contiguous()
        self.action_mirror = torch.as_tensor(action_matrix, dtype=torch.float32).T.contiguous()

    # ------------------------------------------------------------------ update
    def update(self) -> dict[str, float]:
        """Optimize the clipped surrogate on the stored rollout; returns scalar diagnostics."""
        cfg, model = self.cfg, self.model

        # Learning rate: the adaptive-KL schedule's current rate, or linear annealing from the
        # initial rate to 0 over the whole run, or constant.
        if cfg.desired_kl is not None:
            lr = self.adaptive_lr
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        else:
            lr = self.annealed_lr()

        # Reward scaling, time-limit bootstrap, GAE, the normalized batch (onpolicy.py).
        batch = self.rollout_batch()
        b_obs, b_cobs, b_actions = batch["obs"], batch["critic_obs"], batch["actions"]
        b_logp, b_adv, b_returns, b_values = batch["log_probs"], batch["advantages"], batch["returns"], batch["values"]

        minibatch = self.batch_size // cfg.num_minibatches
        # Smoothness pairs: flat index i = t * num_envs + n, its next step i + num_envs, unless the episode
        # ended at step t (dones[t]) or t is the rollout's last step.
        n_envs = self.collector.num_envs
        has_next = (self.storage.dones[:-1].reshape(-1) == 0) if cfg.smoothness_coef > 0 else None
        if self.uses_symmetry:  # the batch mirrored once: raw observations mirrored, then normalized
            if self.obs_mirror is None or self.action_mirror is None:
                raise RuntimeError("symmetry is on but no mirror maps were set (PPO.set_mirror)")
            with torch.no_grad():
                raw = self.storage.obs.reshape(self.batch_size, -1)
                b_obs_m = model.actor_normalizer(raw @ self.obs_mirror)
                b_actions_m = b_actions @ self.action_mirror
        sums = torch.zeros(7)  # pg loss, v loss, entropy, approx kl, clip fraction, smoothness, symmetry
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
                symmetry = torch.zeros(())
                if self.uses_symmetry:
                    mean_m = model.actor(b_obs_m[idx])
                    if cfg.symmetry_augment:  # the mirrored samples' surrogate, averaged with the samples'
                        ratio_m = (gaussian_log_prob(b_actions_m[idx], mean_m, model.log_std) - b_logp[idx]).exp()
                        pg_loss_m = torch.max(
                            -mb_adv * ratio_m, -mb_adv * ratio_m.clamp(1.0 - cfg.clip_coef, 1.0 + cfg.clip_coef)
                        ).mean()
                        pg_loss = 0.5 * (pg_loss + pg_loss_m)
                    symmetry = (mean_m - mean @ self.action_mirror).square().sum(-1).mean()

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
                loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss + cfg.symmetry_coef * symmetry
                smooth = torch.zeros(())
                if has_next is not None:  # temporal smoothness of the mean action (CAPS)
                    inside = idx < self.batch_size - n_envs
                    pairs = inside.clone()
                    pairs[inside] = has_next[idx[inside]]
                    if pairs.any():
                        following = model.actor(b_obs[idx[pairs] + n_envs])
                        smooth = (mean[pairs] - following).square().sum(-1).mean()
                        loss = loss + cfg.smoothness_coef * smooth
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm, foreach=True)
                self.optimizer.step()

                if cfg.desired_kl is not None:
                    lr = self._adapt_learning_rate(float(approx_kl))
                sums += torch.stack([pg_loss.detach(), v_loss.detach(), entropy.detach(), approx_kl, clip_frac,
                                     smooth.detach(), symmetry.detach()])
                epoch_kl += approx_kl
                n_minibatches += 1
            # KL early stopping: stop the epochs once the policy moved too far from the rollout policy.
            if cfg.target_kl is not None and float(epoch_kl) / cfg.num_minibatches > cfg.target_kl:
                break

        self.merge_normalizer_stats()  # only now, after the update used the rollout's own statistics

        pg, vl, ent, kl, cf, sm, sym = (sums / max(n_minibatches, 1)).tolist()
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
            **({"loss/smoothness": sm} if has_next is not None else {}),
            # how far the actor's mean is from its own mirror image (0: a left-right symmetric policy)
            **({"loss/symmetry": sym} if self.uses_symmetry else {}),
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

    def state_dict(self, include_replay: bool = True) -> dict:
        return {**super().state_dict(include_replay), "adaptive_lr": self.adaptive_lr}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.adaptive_lr = float(state.get("adaptive_lr", self.cfg.learning_rate))

"""TD3 (Fujimoto et al. 2018), and DDPG (Lillicrap et al. 2016) as its three tricks switched off.

A deterministic actor ``a = tanh(mu(s))`` is trained to maximize a learned Q; the critic regresses
to ``r + gamma * (1 - terminated) * Q'(s', mu'(s'))``. One ``iterate()`` = ``steps_per_iteration``
env steps of vectorized collection, each vector step followed by ``utd * num_envs`` critic updates.
The pieces, each named where used:

* exploration by Gaussian noise on the deterministic action (``exploration_noise``), uniform
  random actions for the first ``learning_starts`` steps;
* TD3 trick 1, clipped double-Q: two critics, the target takes their minimum (``n_critics=2``);
* TD3 trick 2, delayed policy updates: actor and target networks move every ``policy_delay``-th
  critic update;
* TD3 trick 3, target policy smoothing: clipped Gaussian noise on the target action
  (``target_noise``, ``target_noise_clip``);
* Polyak-averaged target actor and critics; a preallocated replay buffer; time-limit truncations
  are not terminal (the target bootstraps through them).

DDPG is exactly this with ``n_critics=1``, ``policy_delay=1``, ``target_noise=0`` (``ddpg.py``).

The CPU speed tricks are SAC's (``sac.py``): both critics in one batched ``TwinQ``, the actor loss
through detached critic weights so critic and actor share one backward and one fused Adam step,
one gather per batch, one ``_foreach_lerp_`` per target update, no ``.item()`` in the hot loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from robot_rl.algos.collector import VecCollector
from robot_rl.algos.modules import DeterministicPolicy, TwinQ, make_normalizer, mlp
from robot_rl.algos.sac import fused_adam
from robot_rl.algos.storage import ReplayBuffer


@dataclass
class TD3Config:
    num_envs: int = 1
    buffer_size: int = 1_000_000
    batch_size: int = 256
    learning_starts: int = 1000  # env steps of uniform random actions before any update
    utd: float = 1.0  # critic updates per env step
    gamma: float = 0.99
    # Polyak rate of the target networks per target update. TD3 moves its targets only on every
    # policy_delay-th critic update, so 0.01 tracks at 0.005 per update, as DDPG and SAC do at 0.005.
    # Measured on Pendulum-v1 (gamma 0.98, 10k steps, final evaluation of the last state): tau 0.005
    # reached -300 on 6 of 10 seeds (the swing-up learned only at 6-7k steps, then swings of -420..-820
    # at 10k); 0.01 on 10 of 10, swing-up learned by 4-5k steps, finishing at -145..-197
    # (bench/seed_robustness.py, seeds 0-9; bench/results/seed_robustness.jsonl).
    tau: float = 0.01
    # 128x128 at 1e-3, as our SAC (see SACConfig): on a CPU the width is most of an update's cost.
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    exploration_noise: float = 0.1  # std of the Gaussian added to the acting policy's action
    n_critics: int = 2  # clipped double-Q (1: DDPG's single critic)
    policy_delay: int = 2  # actor and targets move every policy_delay-th critic update (1: DDPG)
    target_noise: float = 0.2  # target policy smoothing std (0: DDPG)
    target_noise_clip: float = 0.5
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    normalize_obs: bool = False
    steps_per_iteration: int = 1000  # env steps per iterate() call (granularity of logging/checkpoints)


class TD3:
    name = "td3"

    def __init__(self, env: gym.vector.VectorEnv, config: TD3Config, total_steps: int, seed: int):
        if config.n_critics < 1 or config.policy_delay < 1:
            raise ValueError(f"{self.name}: n_critics and policy_delay must be >= 1")
        self.cfg = config
        self.total_steps = int(total_steps)
        self.collector = VecCollector(env, seed=seed, use_privileged=False)
        c = self.collector
        torch.manual_seed(seed)  # network initialization only; sampling uses self.generator
        # The actor is the exported module itself: normalizer, MLP, tanh.
        self.actor = DeterministicPolicy(
            make_normalizer(c.obs_dim, config.normalize_obs),
            mlp(c.obs_dim, config.hidden, c.act_dim, config.activation),
            c.act_dim,
            squash="tanh",
        )
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = TwinQ(c.obs_dim + c.act_dim, config.hidden, config.activation, n_critics=config.n_critics)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        # One optimizer, two groups: the actor loss sees detached critic weights, so one backward
        # serves both losses; on critic-only steps the actor's grads are None and Adam skips them.
        self.optimizer = fused_adam(
            [
                {"params": list(self.critic.parameters()), "lr": config.critic_lr},
                {"params": list(self.actor.parameters()), "lr": config.actor_lr},
            ]
        )
        self.replay = ReplayBuffer(config.buffer_size, c.obs_dim, c.act_dim, 0)
        self.generator = torch.Generator().manual_seed(seed)
        self.global_step = 0
        self.iteration = 0
        self.update_credit = 0.0  # fractional updates owed (utd * env steps - updates done)
        self.num_updates = 0
        self._online = [*self.critic.parameters(), *self.actor.parameters()]
        self._targets = [*self.critic_target.parameters(), *self.actor_target.parameters()]
        self._critic_detached = [p.detach() for p in self.critic.parameters()]

    def _q_input(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        # The critic sees the actor's normalized observation (Identity when normalization is off).
        return torch.cat([self.actor.normalizer(obs), action], -1)

    # ------------------------------------------------------------------ one gradient update
    def update(self) -> torch.Tensor:
        """One critic step (and, every ``policy_delay``-th, an actor step and target update);
        returns detached [critic loss, actor loss (0 on critic-only steps), Q mean]."""
        cfg = self.cfg
        b = self.replay.sample(cfg.batch_size, self.generator)

        with torch.no_grad():
            next_action = self.actor_target(b["next_obs"])
            if cfg.target_noise > 0:  # target policy smoothing (TD3 trick 3)
                noise = torch.randn(next_action.shape, generator=self.generator) * cfg.target_noise
                next_action = (next_action + noise.clamp(-cfg.target_noise_clip, cfg.target_noise_clip)).clamp(-1, 1)
            q_next = self.critic_target(self._q_input(b["next_obs"], next_action)).min(0).values  # clipped double-Q
            target = torch.addcmul(b["rewards"], 1.0 - b["terminated"], q_next, value=cfg.gamma)

        q = self.critic(self._q_input(b["obs"], b["actions"]))
        critic_loss = 0.5 * (q - target).square().mean(1).sum()
        loss = critic_loss
        delayed = self.num_updates % cfg.policy_delay == 0  # delayed policy updates (TD3 trick 2)
        actor_loss = torch.zeros(())
        if delayed:
            # Deterministic policy gradient: maximize Q_1(s, mu(s)); gradients reach the action
            # through detached critic weights, so none are computed for the critic.
            q_pi = self.critic(self._q_input(b["obs"], self.actor(b["obs"])), params=self._critic_detached)
            actor_loss = -q_pi[0].mean()
            loss = loss + actor_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if delayed:  # Polyak averaging of target critics and actor: target += tau * (online - target)
            with torch.no_grad():
                torch._foreach_lerp_(self._targets, self._online, cfg.tau)
        self.num_updates += 1
        return torch.stack([critic_loss.detach(), actor_loss.detach(), q.detach().mean()])

    # ------------------------------------------------------------------ collection + updates
    def iterate(self) -> dict[str, float]:
        """Collect ``steps_per_iteration`` env steps, updating after each vector step at the UTD ratio."""
        cfg, c = self.cfg, self.collector
        sums = torch.zeros(3)
        n_updates, n_actor = 0, 0
        for _ in range(max(1, cfg.steps_per_iteration // c.num_envs)):
            obs = torch.from_numpy(c.obs)
            if self.global_step < cfg.learning_starts:
                action = torch.rand(c.num_envs, c.act_dim, generator=self.generator) * 2.0 - 1.0
            else:
                with torch.inference_mode():  # exploration: Gaussian noise on the deterministic action
                    noise = torch.randn(c.num_envs, c.act_dim, generator=self.generator) * cfg.exploration_noise
                    action = (self.actor(obs) + noise).clamp(-1.0, 1.0)
            step = c.step(action.numpy())
            next_obs = torch.from_numpy(step.next_obs.copy())
            if len(step.done_idx):  # the true next observation: the terminal one for envs that reset
                next_obs[torch.from_numpy(step.done_idx)] = torch.from_numpy(step.final_obs)
            self.replay.add(
                obs=obs,
                next_obs=next_obs,
                actions=action,
                rewards=torch.from_numpy(step.reward),
                terminated=torch.from_numpy(step.terminated.astype(np.float32)),
            )
            if cfg.normalize_obs:
                self.actor.normalizer.update(obs)
            self.global_step += c.num_envs
            if self.global_step >= cfg.learning_starts:
                self.update_credit += cfg.utd * c.num_envs
                while self.update_credit >= 1.0:
                    n_actor += self.num_updates % cfg.policy_delay == 0
                    sums += self.update()
                    n_updates += 1
                    self.update_credit -= 1.0
        self.iteration += 1
        metrics: dict[str, float] = {"train/updates": float(self.num_updates)}
        if n_updates:
            critic_loss, actor_loss_sum, q_mean = sums.tolist()
            metrics["loss/critic"] = critic_loss / n_updates
            metrics["loss/actor"] = actor_loss_sum / max(n_actor, 1)
            metrics["train/q_mean"] = q_mean / n_updates
        metrics.update(c.stats.summary())
        return metrics

    # ------------------------------------------------------------------ policy and state
    @torch.inference_mode()
    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.actor(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    def export_actor(self) -> DeterministicPolicy:
        return copy.deepcopy(self.actor).eval().requires_grad_(False)

    @staticmethod
    def actor_from_state(meta: dict, state: dict) -> DeterministicPolicy:
        actor = DeterministicPolicy(
            make_normalizer(meta["obs_dim"], meta["normalize_obs"]),
            mlp(meta["obs_dim"], tuple(meta["hidden"]), meta["act_dim"], meta["activation"]),
            meta["act_dim"],
            squash="tanh",
        )
        actor.load_state_dict(state["actor"])
        return actor.eval().requires_grad_(False)

    def model_meta(self) -> dict:
        c = self.collector
        return {
            "obs_dim": c.obs_dim,
            "act_dim": c.act_dim,
            "priv_dim": 0,
            "hidden": list(self.cfg.hidden),
            "activation": self.cfg.activation,
            "normalize_obs": self.cfg.normalize_obs,
            "squash": "tanh",
            "n_critics": self.cfg.n_critics,
        }

    def state_dict(self, include_replay: bool = True) -> dict:
        state = {
            "actor": self.actor.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "global_step": self.global_step,
            "iteration": self.iteration,
            "update_credit": self.update_credit,
            "num_updates": self.num_updates,
        }
        if include_replay:
            state["replay"] = self.replay.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        for name in ("actor", "actor_target", "critic", "critic_target", "optimizer"):
            getattr(self, name).load_state_dict(state[name])
        self.generator.set_state(state["generator"])
        self.global_step = int(state["global_step"])
        self.iteration = int(state["iteration"])
        self.update_credit = float(state["update_credit"])
        self.num_updates = int(state["num_updates"])
        if "replay" in state:
            self.replay.load_state_dict(state["replay"])

    def close(self) -> None:
        self.collector.close()

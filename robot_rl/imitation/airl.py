"""AIRL (Fu, Luo & Levine 2018): adversarial IRL whose reward is disentangled from the dynamics.

The discriminator has the form D(s, a, s') = exp(f) / (exp(f) + pi(a|s)), with

    f(s, a, s') = g(s) + gamma * h(s') - h(s)        (h(s') = 0 where the episode terminated)

so its logit is f - log pi(a|s): D is trained by logistic regression of expert transitions (the
demonstrations: consecutive rebuilt observations and the recorded action) against the learner's,
log pi being the learner's current policy on both. The learner (PPO, `adversarial.run_adversarial`)
is trained on log D - log(1 - D) = f - log pi: the shaped reward plus an entropy bonus.

Why this form: g reads the state only (the robot's configuration and the goal, `reward.state_columns`)
and h is a potential, so h absorbs what depends on the dynamics (gamma h(s') - h(s) is a shaping term:
it changes no optimal policy) and g is left with a reward of the state, which can be optimized again
on a robot with other dynamics (a heavier pole, a slower actuator). g is the saved reward
(`reward.pt`, `robot-rl train --reward`); h and log pi are not part of it.

Which constant: a reward is defined up to a constant only where episodes cannot end early; the
swing-up ends at the rail stop, and a negative reward per step then makes the rail the best place to
go. Measured: with f - log pi as it is, the learner's episodes shrank from 40 to 17 steps within 17k
steps (every one into the rail) and stayed there. The expert never ends an episode early, so a
constant per step alive is consistent with the demonstrations: the learner is paid f - log pi minus
the lowest 5% of it over the latest transitions (`reward_floor`), >= 0 almost everywhere; and the saved
g is mapped affinely (folded into its last layer, so the file is one network) so that the expert's
states are worth 1 on average and the lowest 5% of every state the learner visited 0, the shape of
the task's own reward.

Differences from GAIL here (`gail.py`), each because log pi is in the logit: negatives are the learner's
recent transitions only (`negatives_kept`: older ones came from other policies), and no uniform
negatives (they would need actions and their log pi).

Measured on the swing-up (docs/imitation.md): from whole episodes the AIRL learner reaches 0.49 of the
expert's return (GAIL's 0.0), but PPO from scratch on the saved g (or f) hangs still: g has a local
maximum hanging down, where the expert pumps for its first 0.6 s. Without those states (`--skip-start
0.6`) the learner reaches 0.55-1.0 and PPO from scratch on g a median 0.49 in 300k steps (0.08-1.0,
five runs), not converged: in 1M steps (`robot-rl train`'s PPO default) 0.72-0.99 (median 0.92, four
runs); a run either finds the balance or keeps swinging the pole round (a local optimum of g).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robot_rl.imitation.adversarial import DiscriminatorSteps, IRLError, run_adversarial
from robot_rl.imitation.demos import Demonstrations
from robot_rl.imitation.reward import LearnedRewardVecEnv, RewardNet, state_columns


@dataclass
class AIRLConfig:
    disc_hidden: tuple[int, ...] = (64, 64)
    disc_lr: float = 1e-3
    disc_batch: int = 512
    disc_updates: int = 8  # discriminator minibatches per PPO iteration
    negatives_kept: int = 8192  # the learner's most recent transitions (log pi is its current policy's)
    reward_inputs: str = "positions"  # what g reads: "positions" (and the goal) or "state" (with velocities)
    shaping_inputs: str = "state"  # what h reads: the whole state (without the last action)
    gamma: float | None = None  # the shaping's discount; None: the learner's (PPO's gamma)
    states_kept: int = 50_000  # a reservoir of every state the learner visited, for the saved g's zero
    reward_floor: float | None = 0.05  # the learner's reward minus this quantile of it (module doc); None: off
    saved_reward: str = "g"  # "g": the state-only term; "f": g with its shaping h (`train --reward` pays f)


def expert_transitions(demos: Demonstrations) -> dict[str, np.ndarray]:
    """(s, a, s') of consecutive pairs within each recorded episode (an episode's last pair has no s')."""
    same = demos.episode[1:] == demos.episode[:-1]
    idx = np.flatnonzero(same)
    if not len(idx):
        raise IRLError(f"the demonstrations ({', '.join(demos.sources)}) hold no two consecutive pairs of one "
                       "episode: AIRL learns from transitions; record longer episodes")
    return {"obs": demos.obs[idx], "actions": demos.actions[idx], "next_obs": demos.obs[idx + 1],
            "terminated": np.zeros(len(idx), bool)}


class AIRLDiscriminator:
    """g (the reward), h (the shaping potential) and their training against the expert's transitions."""

    method = "airl"

    def __init__(self, demos: Demonstrations, cfg: AIRLConfig, gamma: float, seed: int):
        if cfg.saved_reward not in ("g", "f"):
            raise IRLError(f"AIRL saved reward {cfg.saved_reward!r}: expected g (the state-only term) or f (with h)")
        torch.manual_seed(seed)
        self.config = self.cfg = cfg
        self.gamma = float(cfg.gamma if cfg.gamma is not None else gamma)
        size = demos.obs.shape[1]
        self.g = RewardNet(size, state_columns(demos.interface, cfg.reward_inputs), cfg.disc_hidden, output="linear")
        self.h = RewardNet(size, state_columns(demos.interface, cfg.shaping_inputs), cfg.disc_hidden,
                           output="linear")
        params = [*self.g.net.parameters(), *self.h.net.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=cfg.disc_lr)
        self.expert = {k: torch.as_tensor(v) for k, v in expert_transitions(demos).items()}
        self.expert["terminated"] = self.expert["terminated"].float()
        self.negatives: dict[str, torch.Tensor] = {}
        self.states = torch.zeros(0, size)  # reservoir of visited states (the saved g's zero)
        self.states_seen = 0
        self.generator = torch.Generator().manual_seed(seed)
        self.model: Any = None  # the learner's GaussianActorCritic (`bind`)
        self.floor = 0.0  # subtracted from the learner's reward (`reward_floor`), set by each update
        self.normalizer_fixed = False

    # -- the pieces of D ----------------------------------------------------------------------------
    def f(self, obs: torch.Tensor, next_obs: torch.Tensor, terminated: torch.Tensor) -> torch.Tensor:
        """g(s) + gamma h(s') - h(s), with h(s') = 0 after a terminal step."""
        return self.g.logit(obs) + self.gamma * (1.0 - terminated) * self.h.logit(next_obs) - self.h.logit(obs)

    def log_pi(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The learner's log-density of `actions` (clipped into [-1, 1], as the env received them)."""
        from robot_rl.algos.modules import gaussian_log_prob

        with torch.no_grad():
            return gaussian_log_prob(actions, self.model.actor_mean(obs), self.model.log_std)

    def transition_reward(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                          terminated: np.ndarray) -> np.ndarray:
        """The learner's reward log D - log(1 - D) = f(s, a, s') - log pi(a|s)."""
        s, a, s2 = (torch.as_tensor(x, dtype=torch.float32) for x in (obs, actions, next_obs))
        with torch.no_grad():
            r = self.f(s, s2, torch.as_tensor(terminated, dtype=torch.float32)) - self.log_pi(s, a)
        return r.numpy() - self.floor

    # -- adversarial.AdversarialReward ----------------------------------------------------------------
    def wrap(self, env) -> LearnedRewardVecEnv:
        return LearnedRewardVecEnv(env, self.g, keep_observations=True, transition_reward=self.transition_reward)

    def bind(self, algo: Any) -> None:
        self.model = algo.model

    def observe(self, env: LearnedRewardVecEnv) -> None:
        self.add_negatives(env.drain_transitions())

    def add_negatives(self, batch: dict[str, np.ndarray]) -> None:
        new = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in batch.items()}
        if not self.normalizer_fixed:  # once: the expert's and the first rollout's spread, then fixed maps
            both = torch.cat([self.expert["obs"], new["obs"]])
            self.g.normalizer.update(self.g.features(both))
            self.h.normalizer.update(self.h.features(both))
            self.normalizer_fixed = True
        keep = self.cfg.negatives_kept
        self.negatives = {k: torch.cat([self.negatives[k], v])[-keep:] if self.negatives else v[-keep:]
                          for k, v in new.items()}
        self._reservoir(new["next_obs"])

    def _reservoir(self, states: torch.Tensor) -> None:
        """Keep a uniform sample of every state visited so far (reservoir sampling)."""
        cap = self.cfg.states_kept
        room = max(0, cap - len(self.states))
        self.states = torch.cat([self.states, states[:room]])
        self.states_seen += len(states[:room])
        for x in states[room:]:
            self.states_seen += 1
            j = int(torch.randint(0, self.states_seen, (1,), generator=self.generator))
            if j < cap:
                self.states[j] = x

    def update(self) -> dict[str, float]:
        if self.model is None:
            raise IRLError("AIRL's discriminator needs the learner's policy: call bind(algo) first")
        cfg, bce = self.cfg, torch.nn.functional.binary_cross_entropy_with_logits
        n_neg = len(self.negatives["obs"])
        steps = DiscriminatorSteps(self.optimizer)
        for _ in range(cfg.disc_updates):
            ie = torch.randint(0, len(self.expert["obs"]), (cfg.disc_batch,), generator=self.generator)
            ip = torch.randint(0, n_neg, (cfg.disc_batch,), generator=self.generator)
            e = {k: v[ie] for k, v in self.expert.items()}
            p = {k: v[ip] for k, v in self.negatives.items()}
            le = self.f(e["obs"], e["next_obs"], e["terminated"]) - self.log_pi(e["obs"], e["actions"])
            lp = self.f(p["obs"], p["next_obs"], p["terminated"]) - self.log_pi(p["obs"], p["actions"])
            steps.step(bce(le, torch.ones_like(le)) + bce(lp, torch.zeros_like(lp)), le, lp)
        with torch.no_grad():
            g_expert = float(self.g.logit(self.expert["obs"]).mean())
            g_learner = float(self.g.logit(self.negatives["next_obs"]).mean())
            if cfg.reward_floor is not None:  # for the next rollout: the latest transitions' low quantile
                n = self.negatives
                r = self.f(n["obs"], n["next_obs"], n["terminated"]) - self.log_pi(n["obs"], n["actions"])
                self.floor = float(torch.quantile(r, cfg.reward_floor))
        return {**steps.summary(), "airl/g_expert": g_expert,
                "airl/g_learner": g_learner, "airl/reward_floor": self.floor}

    def reward_net(self) -> RewardNet:
        """g, mapped affinely so the expert's states are worth 1 on average and the lowest 5% of the
        visited states 0 (the module docstring says why), the map folded into g's last layer; with
        ``saved_reward: f``, h attached, scaled alike (a shaping term needs no offset)."""
        import copy

        net = copy.deepcopy(self.g).eval().requires_grad_(False)
        h = copy.deepcopy(self.h).eval().requires_grad_(False)
        with torch.no_grad():
            hi = float(net.logit(self.expert["obs"]).mean())
            seen = self.states if len(self.states) else self.expert["obs"]
            lo = float(torch.quantile(net.logit(seen), 0.05))
            if hi - lo > 1e-6:
                scale = 1.0 / (hi - lo)
                for module, offset in ((net, lo), (h, 0.0)):
                    last = [m for m in module.net if isinstance(m, torch.nn.Linear)][-1]
                    last.weight.mul_(scale)
                    last.bias.sub_(offset).mul_(scale)
        return net.with_shaping(h, self.gamma) if self.cfg.saved_reward == "f" else net


def airl(demos: Demonstrations, out: str | Path, steps: int, *, seed: int = 0, engine: str = "mujoco",
         ppo_settings: dict[str, Any] | None = None, config: AIRLConfig | None = None, eval_episodes: int = 20,
         command: str = "", progress: bool = False) -> dict[str, Any]:
    """AIRL on `demos`: PPO's run directory in `out` and the learned reward g in `out/reward.pt`."""
    cfg = config or AIRLConfig()
    return run_adversarial(demos, out, steps, lambda ppo: AIRLDiscriminator(demos, cfg, ppo.gamma, seed),
                           seed=seed, engine=engine, ppo_settings=ppo_settings, eval_episodes=eval_episodes,
                           command=command, progress=progress)

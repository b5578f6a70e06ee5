"""GAIL (Ho & Ermon 2016) with PPO as the inner learner on our vector envs, readable top to bottom.

A discriminator D learns to tell the expert's observations (the demonstrations, rebuilt from the
bags) from those the learner reaches; the learner is PPO on a reward of D's logit of each
observation it reaches (`robot_rl.imitation.reward.LearnedRewardVecEnv`), which the discriminator
changes as it learns (its logit mapped onto [0, 1]: `reward.py` says why). The pieces, each named where used:

* a state-only discriminator: it reads the observation without its `last_action` field, by default
  without velocities too (see `reward.py` for why a reward of the state transfers to other dynamics,
  and `reward.state_columns` for why positions);
* negatives from a replay of every learner observation so far (`negatives_kept`), not only the
  latest rollout: the saved reward then ranks the early, failing behaviour low as well, so PPO
  started from scratch on it later (`robot-rl train --reward`) is pulled out of it;
* a gradient penalty on points between expert and learner samples (WGAN-GP, Gulrajani et al. 2017:
  |grad logit| pulled to 1 there): the logit then rises steadily from the learner's states to the
  expert's instead of jumping between two flat plateaus. Measured on the swing-up with R1 (the
  penalty on expert samples only, Mescheder et al. 2018): the learner's states all sat on the low
  plateau, every one worth the same, and PPO's true return stayed 0 for 80k steps;
* the feature normalizer fixed after the first update (from the expert's and the first rollout's
  observations): the reward is then one fixed function of the observation once saved.

The loop around it (PPO, the run directory, `reward.pt`) is `adversarial.run_adversarial`, which
AIRL (`airl.py`) shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robot_rl.imitation.adversarial import DiscriminatorSteps, run_adversarial
from robot_rl.imitation.demos import Demonstrations
from robot_rl.imitation.reward import LearnedRewardVecEnv, RewardNet, state_columns


@dataclass
class GAILConfig:
    disc_hidden: tuple[int, ...] = (64, 64)
    disc_lr: float = 1e-3  # 3e-4 needed ~100 updates to tell expert from random on the swing-up, 1e-3 ~40
    disc_batch: int = 512
    disc_updates: int = 8  # discriminator minibatches per PPO iteration
    negatives_kept: int = 200_000
    grad_penalty: float = 10.0  # on points between expert and learner samples (WGAN-GP's)
    # Share of each negative batch drawn uniformly from the box the expert's and the learner's
    # observations span (widened by a quarter each way), the rest from the learner's replay. Why:
    # against the learner alone, D ranked "hanging still" just below the expert's start and PPO
    # stayed there (measured on the swing-up: true return 0.0 after 100k steps, every variant of
    # reward and penalty tried); against the whole box, D also learns how rare each state is
    # under the expert, so the reward rises towards where the expert spends its time.
    uniform_negatives: float = 0.5
    reward_inputs: str = "positions"  # or "state" (with velocities): reward.state_columns says why


class Discriminator:
    """The reward network and its training against the expert's observations (`adversarial.AdversarialReward`)."""

    method = "gail"

    def __init__(self, expert_obs: np.ndarray, columns: list[int], cfg: GAILConfig, seed: int):
        torch.manual_seed(seed)
        self.cfg = self.config = cfg
        self.net = RewardNet(expert_obs.shape[1], columns, cfg.disc_hidden)
        self.optimizer = torch.optim.Adam(self.net.net.parameters(), lr=cfg.disc_lr)
        self.expert = torch.as_tensor(expert_obs, dtype=torch.float32)
        self.negatives = torch.zeros(cfg.negatives_kept, expert_obs.shape[1])
        self.size = self.ptr = 0
        self.generator = torch.Generator().manual_seed(seed)
        self.normalizer_fixed = False
        self.low: torch.Tensor | None = None  # the box uniform negatives come from (add_negatives widens it)
        self.high: torch.Tensor | None = None

    def reward_net(self) -> RewardNet:
        return self.net

    def wrap(self, env) -> LearnedRewardVecEnv:
        return LearnedRewardVecEnv(env, self.net, keep_observations=True)

    def bind(self, algo: Any) -> None:
        """GAIL's D reads states only: nothing of the learner's policy."""

    def observe(self, env: LearnedRewardVecEnv) -> None:
        self.add_negatives(env.drain())

    def add_negatives(self, obs: np.ndarray) -> None:
        x = torch.as_tensor(obs, dtype=torch.float32)
        if not self.normalizer_fixed:  # once: the expert's and the first rollout's spread, then a fixed map
            self.net.normalizer.update(self.net.features(torch.cat([self.expert, x])))
            self.normalizer_fixed = True
        rows = torch.arange(self.ptr, self.ptr + len(x)) % self.cfg.negatives_kept
        self.negatives[rows] = x[-self.cfg.negatives_kept:] if len(x) > self.cfg.negatives_kept else x
        self.ptr = int((self.ptr + len(x)) % self.cfg.negatives_kept)
        self.size = min(self.size + len(x), self.cfg.negatives_kept)
        both = torch.cat([self.expert, x])
        low, high = both.min(0).values, both.max(0).values
        low, high = low - 0.25 * (high - low), high + 0.25 * (high - low)
        self.low = low if self.low is None else torch.minimum(self.low, low)
        self.high = high if self.high is None else torch.maximum(self.high, high)

    def update(self) -> dict[str, float]:
        cfg, bce = self.cfg, torch.nn.functional.binary_cross_entropy_with_logits
        steps = DiscriminatorSteps(self.optimizer)
        for _ in range(cfg.disc_updates):
            e = self.expert[torch.randint(0, len(self.expert), (cfg.disc_batch,), generator=self.generator)]
            p = self.negatives[torch.randint(0, self.size, (cfg.disc_batch,), generator=self.generator)]
            n_uniform = int(round(cfg.uniform_negatives * cfg.disc_batch))
            if n_uniform:
                u = torch.rand(n_uniform, p.shape[1], generator=self.generator)
                p = torch.cat([p[n_uniform:], self.low + u * (self.high - self.low)])
            le, lp = self.net.logit(e), self.net.logit(p)
            loss = bce(le, torch.ones_like(le)) + bce(lp, torch.zeros_like(lp))
            if cfg.grad_penalty > 0:  # WGAN-GP: (|grad logit| - 1)^2 between the two, in the features' units
                u = torch.rand(len(e), 1, generator=self.generator)
                f = self.net.normalizer(self.net.features(u * e + (1 - u) * p)).requires_grad_(True)
                (grad,) = torch.autograd.grad(self.net.net(f).sum(), f, create_graph=True)
                loss = loss + cfg.grad_penalty * (grad.norm(dim=-1) - 1.0).square().mean()
            steps.step(loss, le, lp)
        return steps.summary()


def gail(demos: Demonstrations, out: str | Path, steps: int, *, seed: int = 0, engine: str = "mujoco",
         ppo_settings: dict[str, Any] | None = None, config: GAILConfig | None = None, eval_episodes: int = 20,
         command: str = "", progress: bool = False) -> dict[str, Any]:
    """GAIL on `demos`: PPO's run directory in `out` and the learned reward in `out/reward.pt`."""
    cfg = config or GAILConfig()
    return run_adversarial(
        demos, out, steps, lambda _: Discriminator(demos.obs, state_columns(demos.interface, cfg.reward_inputs),
                                                   cfg, seed),
        seed=seed, engine=engine, ppo_settings=ppo_settings, eval_episodes=eval_episodes, command=command,
        progress=progress)

"""A2C (Mnih et al. 2016, the synchronous form), with REINFORCE (Williams 1992) as its no-critic setting.

One ``iterate()`` = collect ``num_steps`` vector steps from ``num_envs`` envs (the rollout and its
tricks live in ``onpolicy.py``), then take ONE gradient step on the whole batch:

    loss = -mean(A * log pi(a|s)) + vf_coef * 0.5 * mean((V(s) - R)^2) - ent_coef * H[pi]

The differences from PPO are the point: no ratio and no clipping (the data is used once, by the
policy that collected it, so the vanilla policy gradient is unbiased), no epochs, no minibatches.
The tricks, named where used: the critic as a baseline (advantage ``A`` by GAE; ``gae_lambda=1``
gives the n-step return of the original A2C), optional advantage normalization, global
gradient-norm clipping, linear learning-rate annealing.

REINFORCE is the setting ``use_critic=False``: no value function at all, ``A`` is the discounted
return-to-go within the rollout (normalized over the batch, the usual variance reduction). It is
exact when a rollout spans whole episodes (``num_steps`` >= the episode length); shorter rollouts
cut returns at the rollout's end, a bias the critic's bootstrap exists to remove.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robot_rl.algos.modules import gaussian_entropy, gaussian_log_prob
from robot_rl.algos.onpolicy import OnPolicyAlgorithm


@dataclass
class A2CConfig:
    num_envs: int = 16
    num_steps: int = 8  # vector steps per rollout (SB3: 5 steps x 1 env); batch = num_envs * num_steps
    # Adam at 3e-3 (SB3: RMSprop at 7e-4). Measured on InvertedPendulum-v5, 60k steps: 3e-3 reached
    # eval 1000 in seeds 0, 1, 2; 1e-3 reached 82 (seed 0); 3e-3 with 32-step rollouts 328.
    learning_rate: float = 3e-3
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95  # 1.0: the original n-step return
    use_critic: bool = True  # False: REINFORCE (returns-to-go, no value function)
    norm_adv: bool = True  # advantage normalization over the batch
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_obs: bool = True
    normalize_rewards: bool = True
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    asymmetric: bool = False


class A2C(OnPolicyAlgorithm):
    name = "a2c"

    def update(self) -> dict[str, float]:
        """One policy-gradient step (and, with the critic, one value step) on the stored rollout."""
        cfg, model = self.cfg, self.model
        lr = self.annealed_lr()
        batch = self.rollout_batch(bootstrap=cfg.use_critic)
        adv = batch["advantages"]
        if cfg.norm_adv:  # advantage normalization over the whole batch
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)

        log_prob = gaussian_log_prob(batch["actions"], model.actor(batch["obs"]), model.log_std)
        entropy = gaussian_entropy(model.log_std)
        # Vanilla policy gradient: the score function weighted by the advantage (on-policy, no ratio).
        pg_loss = -(adv * log_prob).mean()
        loss = pg_loss - cfg.ent_coef * entropy
        v_loss = torch.zeros(())
        if cfg.use_critic:  # the baseline: V regresses to the TD(lambda) returns
            v_loss = 0.5 * (model.critic(batch["critic_obs"]).squeeze(-1) - batch["returns"]).square().mean()
            loss = loss + cfg.vf_coef * v_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        self.merge_normalizer_stats()

        metrics = {
            "loss/policy": float(pg_loss.detach()),
            "loss/entropy": float(entropy.detach()),
            "train/learning_rate": lr,
            "train/action_std": float(model.log_std.detach().exp().mean()),
        }
        if cfg.use_critic:
            returns, values = batch["returns"], batch["values"]
            var_ret = float(returns.var())
            metrics["loss/value"] = float(v_loss.detach())
            metrics["train/explained_variance"] = (
                float("nan") if var_ret == 0 else 1.0 - float((returns - values).var()) / var_ret
            )
        return metrics

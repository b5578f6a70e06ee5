"""Trust Region Policy Optimization (Schulman et al. 2015), readable top to bottom.

One ``iterate()`` = collect ``num_steps`` vector steps from ``num_envs`` envs (the rollout and its
tricks live in ``onpolicy.py``), then:

1. the policy takes ONE natural-gradient step: maximize the surrogate ``L = mean(ratio * A)``
   subject to ``mean KL(pi_old || pi) <= max_kl``. Its pieces, named where used:
   * Fisher-vector products as Hessian-vector products of the KL (Pearlmutter's trick: the
     Fisher matrix is never formed), plus ``cg_damping * v`` for conditioning;
   * conjugate gradient, ``cg_iters`` steps, solves ``F x = g`` for the natural gradient ``x``;
   * the step is scaled to the trust region's edge, ``sqrt(2 max_kl / x^T F x) * x``;
   * a backtracking line search (factor ``line_search_shrink``) accepts the first step that keeps
     the exact KL within ``max_kl`` and improves the surrogate, else the policy stays put;
2. the critic, which is no part of the trust region, takes ``critic_epochs`` epochs of Adam
   minibatches on the TD(lambda) returns.

The Gaussian's KL is closed-form (state-independent std), so every KL here is exact, not sampled.
Defaults are sb3-contrib's TRPO (``max_kl`` 0.01, 15 CG steps, damping 0.1, shrink 0.8, 10 critic
epochs of 128-sample minibatches at 1e-3) with our batch shape: 16 envs x 128 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robot_rl.algos.modules import gaussian_log_prob
from robot_rl.algos.onpolicy import OnPolicyAlgorithm


@dataclass
class TRPOConfig:
    num_envs: int = 16
    num_steps: int = 128  # vector steps per rollout; batch = num_envs * num_steps
    learning_rate: float = 1e-3  # the critic's Adam (the policy step size is max_kl's)
    anneal_lr: bool = False
    gamma: float = 0.99
    gae_lambda: float = 0.95
    max_kl: float = 0.01  # the trust region: mean KL(pi_old || pi) after the step
    cg_iters: int = 15
    cg_damping: float = 0.1
    line_search_shrink: float = 0.8
    line_search_steps: int = 10
    critic_epochs: int = 10
    critic_minibatch: int = 128
    norm_adv: bool = True
    normalize_obs: bool = True
    normalize_rewards: bool = True
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    asymmetric: bool = False


def gaussian_kl(mean_old: torch.Tensor, log_std_old: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor):
    """Mean over the batch of KL(N_old || N), diagonal Gaussians, summed over action dimensions."""
    var_old, var = (2.0 * log_std_old).exp(), (2.0 * log_std).exp()
    kl = log_std - log_std_old + (var_old + (mean_old - mean).square()) / (2.0 * var) - 0.5
    return kl.sum(-1).mean()


def conjugate_gradient(fvp, g: torch.Tensor, iters: int, tol: float = 1e-10) -> torch.Tensor:
    """Solve ``F x = g`` with ``fvp(v) = F v`` (F symmetric positive definite), from x = 0."""
    x = torch.zeros_like(g)
    r, p = g.clone(), g.clone()
    rr = r.dot(r)
    for _ in range(iters):
        fp = fvp(p)
        alpha = rr / (p.dot(fp) + 1e-12)
        x += alpha * p
        r -= alpha * fp
        rr_new = r.dot(r)
        if rr_new < tol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


class TRPO(OnPolicyAlgorithm):
    name = "trpo"

    def make_optimizer(self) -> torch.optim.Optimizer:
        # Adam for the critic only: the actor moves by the natural-gradient step below.
        return torch.optim.Adam(self.model.critic.parameters(), lr=self.cfg.learning_rate, eps=1e-5)

    def update(self) -> dict[str, float]:
        cfg, model = self.cfg, self.model
        lr = self.annealed_lr()
        batch = self.rollout_batch()
        obs, actions, old_logp = batch["obs"], batch["actions"], batch["log_probs"]
        adv = batch["advantages"]
        if cfg.norm_adv:  # advantage normalization over the whole batch
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)

        # ---- the policy's natural-gradient step
        params = [*model.actor.parameters(), model.log_std]
        with torch.no_grad():
            mean_old, log_std_old = model.actor(obs), model.log_std.detach().clone()

        def surrogate() -> torch.Tensor:
            # mean(ratio * A): the first-order approximation of the policy's improvement.
            return ((gaussian_log_prob(actions, model.actor(obs), model.log_std) - old_logp).exp() * adv).mean()

        def kl() -> torch.Tensor:
            return gaussian_kl(mean_old, log_std_old, model.actor(obs), model.log_std)

        loss_old = surrogate()
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss_old, params)])
        grad_kl = torch.cat([t.reshape(-1) for t in torch.autograd.grad(kl(), params, create_graph=True)])

        def fisher_vector_product(v: torch.Tensor) -> torch.Tensor:
            # Hessian of the KL times v, by differentiating (grad KL . v): F is never formed.
            hv = torch.autograd.grad(grad_kl.dot(v), params, retain_graph=True)
            return torch.cat([t.reshape(-1) for t in hv]) + cfg.cg_damping * v

        step_dir = conjugate_gradient(fisher_vector_product, g, cfg.cg_iters)
        shs = step_dir.dot(fisher_vector_product(step_dir))  # x^T F x
        full_step = torch.sqrt(2.0 * cfg.max_kl / (shs + 1e-12)) * step_dir  # to the trust region's edge
        old_flat = torch.cat([p.detach().reshape(-1) for p in params])
        expected = float(g.dot(full_step))

        accepted, step_kl, improvement, fraction = False, 0.0, 0.0, 1.0
        with torch.no_grad():
            for _ in range(cfg.line_search_steps):  # backtracking line search on the KL constraint
                self._set_flat(params, old_flat + fraction * full_step)
                step_kl, improvement = float(kl()), float(surrogate() - loss_old)
                if step_kl <= cfg.max_kl and improvement > 0:
                    accepted = True
                    break
                fraction *= cfg.line_search_shrink
            if not accepted:
                self._set_flat(params, old_flat)  # no acceptable step: the policy stays put

        # ---- the critic: Adam minibatches on the TD(lambda) returns, outside the trust region
        critic_obs, returns = batch["critic_obs"], batch["returns"]
        minibatch = min(cfg.critic_minibatch, self.batch_size)
        v_losses = []
        for _ in range(cfg.critic_epochs):
            perm = torch.randperm(self.batch_size, generator=self.generator)
            for start in range(0, self.batch_size - minibatch + 1, minibatch):
                idx = perm[start : start + minibatch]
                v_loss = 0.5 * (model.critic(critic_obs[idx]).squeeze(-1) - returns[idx]).square().mean()
                self.optimizer.zero_grad(set_to_none=True)
                v_loss.backward()
                self.optimizer.step()
                v_losses.append(v_loss.detach())
        self.merge_normalizer_stats()

        var_ret = float(returns.var())
        return {
            "loss/policy": -float(loss_old.detach()) - (improvement if accepted else 0.0),
            "loss/value": float(torch.stack(v_losses).mean()) if v_losses else 0.0,
            "train/kl": step_kl if accepted else 0.0,
            "train/expected_improvement": expected,
            "train/step_fraction": fraction if accepted else 0.0,
            "train/line_search_accepted": float(accepted),
            "train/learning_rate": lr,
            "train/action_std": float(model.log_std.detach().exp().mean()),
            "train/explained_variance": float("nan")
            if var_ret == 0
            else 1.0 - float((returns - batch["values"]).var()) / var_ret,
        }

    @staticmethod
    def _set_flat(params: list[torch.Tensor], flat: torch.Tensor) -> None:
        offset = 0
        for p in params:
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p))
            offset += n

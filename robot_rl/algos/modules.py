"""Networks shared by the algorithms: MLPs, running observation normalization, actors and critics.

Everything an exported policy needs (normalization, the MLP, the output squashing) lives in
``nn.Module`` parameters and buffers, so ``state_dict`` round-trips it and ``torch.onnx.export``
sees one small graph (Sub, Div, Clip, Gemm, Tanh/Elu) with no Python-side state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "elu": nn.ELU, "relu": nn.ReLU}
# In-place forms, for layer outputs nothing else reads: the backward of tanh/relu/elu needs only
# their output, so overwriting the pre-activation is safe and saves writing a fresh tensor. With
# (2, 256, 128) activations the update's working set exceeds the L2 cache, so memory traffic is
# much of its cost.
INPLACE_ACTIVATIONS = {
    "tanh": torch.tanh_,
    "relu": torch.relu_,
    "elu": nn.functional.elu_,
}


def activation_class(name: str) -> type[nn.Module]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; choose one of {sorted(ACTIVATIONS)}") from None


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str) -> nn.Sequential:
    """Linear + activation layers, then a final Linear with no activation."""
    act = activation_class(activation)
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        # In place: a Linear's output is read by nothing but its activation (see INPLACE_ACTIVATIONS).
        layers += [nn.Linear(last, width), act(inplace=True) if act in (nn.ReLU, nn.ELU) else act()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


def orthogonal_init(module: nn.Sequential, hidden_gain: float, out_gain: float) -> None:
    """Orthogonal weights, zero biases (the PPO implementation detail from Engstrom et al. 2020)."""
    linears = [m for m in module if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        nn.init.orthogonal_(layer.weight, gain=out_gain if i == len(linears) - 1 else hidden_gain)
        nn.init.zeros_(layer.bias)


class EmpiricalNormalization(nn.Module):
    """Running mean and variance of inputs; ``forward`` whitens and clips.

    Statistics are buffers: they are saved in checkpoints, restored on resume and exported inside
    the actor. ``update`` merges a whole batch at once (Chan et al. parallel variance), so the
    training loop pays for it once per rollout, not per env step.
    """

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8):
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, self.mean.shape[0]).double()
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean.double()
        new_mean = self.mean.double() + delta * (n / total)
        m2 = self.var.double() * self.count + batch_var * n + delta.square() * (self.count * n / total)
        self.mean.copy_(new_mean.float())
        self.var.copy_((m2 / total).float())
        self.count.copy_(total)


class Identity(nn.Module):
    """Stand-in for the normalizer when normalization is off, so modules keep one structure."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def update(self, x: torch.Tensor) -> None:  # noqa: ARG002 - same interface as the normalizer
        return None


def make_normalizer(dim: int, enabled: bool, clip: float = 10.0) -> nn.Module:
    return EmpiricalNormalization(dim, clip=clip) if enabled else Identity()


class DeterministicPolicy(nn.Module):
    """What gets exported: raw observation in, deterministic action in [-1, 1] out.

    ``squash`` is "clip" for PPO (its Gaussian mean is clipped to the action bounds, exactly as the
    training env clipped sampled actions) and "tanh" for SAC (its policy is tanh-squashed).
    """

    def __init__(self, normalizer: nn.Module, net: nn.Sequential, act_dim: int, squash: str):
        super().__init__()
        if squash not in ("clip", "tanh"):
            raise ValueError(f"squash must be 'clip' or 'tanh', got {squash!r}")
        self.normalizer = normalizer
        self.net = net
        self.act_dim = act_dim
        self.squash = squash

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.net(self.normalizer(obs))
        return torch.tanh(out) if self.squash == "tanh" else out.clamp(-1.0, 1.0)


# ----------------------------------------------------------------------------------------------
# SAC pieces
# ----------------------------------------------------------------------------------------------

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
LOG_2 = math.log(2.0)


def squashed_gaussian_sample(
    mean: torch.Tensor, log_std: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``a = tanh(u)``, ``u = mean + std * noise``, and its log-density with the tanh correction.

    log pi(a) = log N(u; mean, std) - sum_i log(1 - tanh(u_i)^2), where per dimension
    log N = -0.5 * noise^2 - log_std - log(2 pi) / 2 and the correction is computed as
    ``log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u))``, which never takes the log of 0 when
    tanh saturates (the numerically naive form gives -inf at |u| > ~9). The constants of both terms
    are summed once at the end: this runs twice per SAC update, and on a CPU every elementwise op
    costs microseconds whatever its size.
    """
    u = torch.addcmul(mean, log_std.exp(), noise)
    per_dim = torch.addcmul(2.0 * (u + nn.functional.softplus(-2.0 * u)) - log_std, noise, noise, value=-0.5)
    return torch.tanh(u), per_dim.sum(-1) - noise.shape[-1] * (HALF_LOG_2PI + 2.0 * LOG_2)


class SquashedGaussianActor(nn.Module):
    """SAC actor: obs -> (mean, log_std) of a Gaussian whose samples are squashed by tanh."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], activation: str, normalize: bool):
        super().__init__()
        self.act_dim = act_dim
        self.normalizer = make_normalizer(obs_dim, normalize)
        # One Linear head outputs mean and log_std together (one matmul instead of two).
        self.net = mlp(obs_dim, hidden, 2 * act_dim, activation)

    def distribution(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(self.normalizer(obs))
        mean, log_std = out[..., : self.act_dim], out[..., self.act_dim :]
        # Soft clamp of log_std into [LOG_STD_MIN, LOG_STD_MAX] (smooth, so gradients never vanish):
        # LOG_STD_MIN + half_range * (tanh(x) + 1), constants folded.
        half_range = 0.5 * (LOG_STD_MAX - LOG_STD_MIN)
        log_std = torch.tanh(log_std) * half_range + (LOG_STD_MIN + half_range)
        return mean, log_std

    def sample_action(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """An exploration action tanh(mean + std * noise), without its log-prob (acting needs none)."""
        mean, log_std = self.distribution(obs)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        return torch.tanh(torch.addcmul(mean, log_std.exp(), noise))


class TwinQ(nn.Module):
    """Both SAC critics in one module: every layer's weights are stacked ``(2, in, out)``.

    A layer is then one ``torch.baddbmm`` for both Q networks instead of two Linear calls, halving
    kernel launches and Python overhead in the hot update loop. ``forward`` returns ``(2, B)``.
    Parameters can be overridden (``params=``) so the actor loss can use detached critic weights:
    gradients then flow to the action but no weight gradients are computed for the critic.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], activation: str, n_critics: int = 2):
        super().__init__()
        self.n = n_critics
        activation_class(activation)  # validates the name
        self.act_ = INPLACE_ACTIVATIONS[activation]
        sizes = [in_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            # Same distribution as nn.Linear's default init, independently for each critic.
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(n_critics, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_critics, 1, fan_out).uniform_(-bound, bound)))
        # Flat [weights..., biases...] (the order of self.parameters()), built once: forward is hot.
        self._flat_params = [*self.weights, *self.biases]

    def forward(self, x: torch.Tensor, params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        params = self._flat_params if params is None else params
        n_layers = len(self.weights)
        ws, bs = params[:n_layers], params[n_layers:]
        h = x.unsqueeze(0).expand(self.n, *x.shape)
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            h = self.act_(torch.baddbmm(b, h, w))
        return torch.baddbmm(bs[-1], h, ws[-1]).squeeze(-1)


# ----------------------------------------------------------------------------------------------
# PPO pieces
# ----------------------------------------------------------------------------------------------


class GaussianActorCritic(nn.Module):
    """PPO policy and value function: separate MLPs, state-independent log std.

    The critic may take extra privileged inputs (asymmetric actor-critic): ``critic_extra_dim`` > 0
    appends the simulator's privileged state to the critic's observation; the actor never sees it.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: Sequence[int],
        activation: str,
        normalize: bool,
        init_log_std: float,
        critic_extra_dim: int = 0,
    ):
        super().__init__()
        self.act_dim = act_dim
        self.actor_normalizer = make_normalizer(obs_dim, normalize)
        self.critic_normalizer = make_normalizer(obs_dim + critic_extra_dim, normalize)
        self.actor = mlp(obs_dim, hidden, act_dim, activation)
        self.critic = mlp(obs_dim + critic_extra_dim, hidden, 1, activation)
        # Orthogonal init with a small last-layer gain for the policy: initial actions ~ 0, so early
        # exploration comes from log_std, not from a random mean (Andrychowicz et al. 2021).
        orthogonal_init(self.actor, hidden_gain=math.sqrt(2), out_gain=0.01)
        orthogonal_init(self.critic, hidden_gain=math.sqrt(2), out_gain=1.0)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def actor_mean(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(self.actor_normalizer(obs))

    def value(self, critic_obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.critic_normalizer(critic_obs)).squeeze(-1)

    def deterministic(self) -> DeterministicPolicy:
        return DeterministicPolicy(self.actor_normalizer, self.actor, self.act_dim, squash="clip")


def gaussian_log_prob(actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over action dimensions."""
    return (-0.5 * ((actions - mean) / log_std.exp()).square() - log_std - HALF_LOG_2PI).sum(-1)


def gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of a diagonal Gaussian (state-independent std: one number per batch)."""
    return (0.5 + HALF_LOG_2PI + log_std).sum(-1)

"""Unit checks of the pieces PPO and SAC are built from, against hand or numerical computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robot_rl.algos.modules import (
    EmpiricalNormalization,
    GaussianActorCritic,
    SquashedGaussianActor,
    TwinQ,
    gaussian_log_prob,
    squashed_gaussian_sample,
)
from robot_rl.algos.sac import deterministic_from_actor
from robot_rl.algos.storage import ReplayBuffer, compute_gae

torch.set_num_threads(1)


def test_gae_matches_hand_computed_example():
    # gamma 0.9, lambda 0.8; the episode ends at t=1 (so V(s_2) must not leak into t=1).
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    last_values = torch.tensor([2.0])
    adv, ret = compute_gae(rewards, values, dones, last_values, gamma=0.9, lam=0.8)
    # t=2: delta = 3 + 0.9*2.0 - 1.5 = 3.3;           A2 = 3.3
    # t=1: delta = 2 + 0 - 1.0 = 1.0 (done);          A1 = 1.0
    # t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4;           A0 = 1.4 + 0.9*0.8*1.0 = 2.12
    torch.testing.assert_close(adv[:, 0], torch.tensor([2.12, 1.0, 3.3]))
    torch.testing.assert_close(ret[:, 0], torch.tensor([2.62, 2.0, 4.8]))


def test_gae_lambda_one_is_discounted_return_minus_value():
    torch.manual_seed(0)
    rewards, values = torch.randn(5, 2), torch.randn(5, 2)
    dones, last = torch.zeros(5, 2), torch.randn(2)
    adv, _ = compute_gae(rewards, values, dones, last, gamma=0.95, lam=1.0)
    expected = last.clone()
    for t in reversed(range(5)):
        expected = rewards[t] + 0.95 * expected
        torch.testing.assert_close(adv[t], expected - values[t])


def _numerical_tanh_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log p(a) for a = tanh(u) by change of variables with a finite-difference Jacobian (float64)."""
    base = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(-1)
    h = 1e-6
    dtanh = (torch.tanh(u + h) - torch.tanh(u - h)) / (2 * h)
    return base - torch.log(dtanh).sum(-1)


def test_tanh_log_prob_matches_numerical_change_of_variables():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(64, 3, generator=g, dtype=torch.float64)
    log_std = torch.randn(64, 3, generator=g, dtype=torch.float64) * 0.5
    noise = torch.randn(64, 3, generator=g, dtype=torch.float64)
    action, logp = squashed_gaussian_sample(mean, log_std, noise)
    u = mean + log_std.exp() * noise
    torch.testing.assert_close(action, torch.tanh(u))
    torch.testing.assert_close(logp, _numerical_tanh_log_prob(u, mean, log_std), rtol=1e-6, atol=1e-6)


def test_tanh_density_integrates_to_one_and_stays_finite_when_saturated():
    mean, log_std = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[0.2]], dtype=torch.float64)
    a = torch.linspace(-1 + 1e-9, 1 - 1e-9, 400001, dtype=torch.float64)
    noise = ((torch.atanh(a) - mean[0, 0]) / log_std.exp()[0, 0]).unsqueeze(-1)
    _, logp = squashed_gaussian_sample(mean.expand(len(a), 1), log_std.expand(len(a), 1), noise)
    assert torch.trapezoid(logp.exp(), a).item() == pytest.approx(1.0, abs=1e-3)
    # |u| = 20: the naive log(1 - tanh(u)^2) is log(0) = -inf; ours stays finite.
    _, logp_sat = squashed_gaussian_sample(torch.tensor([[20.0]]), torch.tensor([[0.0]]), torch.tensor([[0.0]]))
    assert torch.isfinite(logp_sat).all()


def test_gaussian_log_prob_matches_torch_distributions():
    mean, log_std, a = torch.randn(10, 2), torch.randn(2) * 0.3, torch.randn(10, 2)
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(a).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(a, mean, log_std), expected)


def test_running_normalization_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4)).astype(np.float32)
    norm = EmpiricalNormalization(4)
    for chunk in np.array_split(data, 7):
        norm.update(torch.from_numpy(chunk))
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.var.numpy(), data.var(0), rtol=1e-4)
    out = norm(torch.from_numpy(data)).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-3)


def test_twin_q_equals_two_independent_mlps():
    torch.manual_seed(0)
    q = TwinQ(5, (16, 16), "relu")
    x = torch.randn(7, 5)
    out = q(x)
    assert out.shape == (2, 7)
    for i in range(2):
        h = x
        for layer, (w, b) in enumerate(zip(q.weights, q.biases, strict=True)):
            h = h @ w[i] + b[i]
            if layer < len(q.weights) - 1:
                h = torch.relu(h)
        torch.testing.assert_close(out[i], h.squeeze(-1))
    # The critics are independently initialized (otherwise the min over them means nothing).
    assert not torch.allclose(q.weights[0][0], q.weights[0][1])


def test_twin_q_detached_params_give_no_critic_gradient():
    q = TwinQ(3, (8,), "relu")
    a = torch.randn(4, 3, requires_grad=True)
    q(a, params=[p.detach() for p in q.parameters()]).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert all(p.grad is None for p in q.parameters())


def test_replay_buffer_wraps_and_samples_what_was_added():
    buf = ReplayBuffer(capacity=5, obs_dim=2, act_dim=1, priv_dim=0)
    for k in range(3):  # 3 adds of 2 rows: the third wraps around the end
        obs = torch.full((2, 2), float(k))
        buf.add(
            obs=obs,
            next_obs=obs + 0.5,
            actions=torch.full((2, 1), -float(k)),
            rewards=torch.full((2,), 10.0 * k),
            terminated=torch.ones(2),
        )
    assert buf.size == 5 and buf.ptr == 1
    assert buf.data[0, 0].item() == 2.0  # row 0 overwritten by the wrap
    batch = buf.sample(256, torch.Generator().manual_seed(0))
    k = batch["obs"][:, 0]
    torch.testing.assert_close(batch["next_obs"][:, 0], k + 0.5)
    torch.testing.assert_close(batch["actions"][:, 0], -k)
    torch.testing.assert_close(batch["rewards"], 10.0 * k)
    # Rows hold k = [2, 0, 1, 1, 2]: one of the two k=0 rows was overwritten by the wrap.
    assert buf.data[:, 0].tolist() == [2.0, 0.0, 1.0, 1.0, 2.0]
    # A field left out is 0 in the new row, not the overwritten transition's value.
    buf.add(obs=torch.full((1, 2), 7.0), next_obs=torch.zeros(1, 2), actions=torch.zeros(1, 1), rewards=torch.ones(1))
    assert buf.data[1, 0].item() == 7.0 and buf.data[1, buf.columns["terminated"]].item() == 0.0


def test_deterministic_policies_are_plain_mlps_bounded_in_unit_box():
    torch.manual_seed(0)
    ppo_model = GaussianActorCritic(4, 2, (8, 8), "tanh", normalize=True, init_log_std=0.0)
    ppo_model.actor_normalizer.update(torch.randn(100, 4) * 5 + 2)
    sac_actor = SquashedGaussianActor(4, 2, (8, 8), "relu", normalize=False)
    obs = torch.randn(32, 4) * 100
    for policy in (ppo_model.deterministic(), deterministic_from_actor(sac_actor)):
        out = policy(obs)
        assert out.shape == (32, 2)
        assert out.abs().max() <= 1.0
        kinds = {type(m).__name__ for m in policy.net}
        assert kinds <= {"Linear", "Tanh", "ELU", "ReLU"}
    # SAC's export keeps only the mean half of the head and matches tanh(mean).
    mean, _ = sac_actor.distribution(obs)
    torch.testing.assert_close(deterministic_from_actor(sac_actor)(obs), torch.tanh(mean))
    assert math.isclose(
        ppo_model.deterministic()(obs)[0, 0].item(), ppo_model.actor_mean(obs)[0, 0].clamp(-1, 1).item(), rel_tol=1e-6
    )


def test_twin_q_target_copy_computes_with_its_own_weights():
    import copy

    q = TwinQ(3, (8,), "relu")
    target = copy.deepcopy(q)
    x = torch.randn(5, 3)
    before = target(x)
    with torch.no_grad():
        for p in q.parameters():
            p.add_(1.0)
    torch.testing.assert_close(target(x), before)
    assert not torch.allclose(q(x), before)

"""Checkpoint then resume gives the same next update as an uninterrupted run (bitwise).

The uninterrupted agent A trains, its state goes through a real checkpoint file (written by
save_checkpoint, read with torch.load(weights_only=True)) into a fresh agent B built with a
different seed. Both then apply the next update to the same data; every parameter, optimizer
moment and normalizer statistic must come out identical. (The envs themselves restart their
episodes on resume, so the data is shared here instead of re-collected.)
"""

from __future__ import annotations

import copy

import pytest
import torch

from robot_rl.algos.ppo import PPO, PPOConfig
from robot_rl.algos.sac import SAC, SACConfig
from robot_rl.envs import make_vec_env
from robot_rl.training.checkpoint import load_checkpoint, save_checkpoint

torch.set_num_threads(1)


def _assert_same_state(a: dict, b: dict, path: str = "") -> None:
    assert a.keys() == b.keys(), path
    for key in a:
        va, vb = a[key], b[key]
        where = f"{path}.{key}"
        if isinstance(va, dict):
            _assert_same_state(va, vb, where)
        elif isinstance(va, torch.Tensor):
            assert torch.equal(va, vb), where
        else:
            assert va == vb, where


def _roundtrip(tmp_path, algo_name: str, state: dict) -> dict:
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"algo": algo_name, "global_step": state["global_step"], "model_meta": {}, "state": state})
    return load_checkpoint(path, expected_algo=algo_name)["state"]


def test_ppo_resume_gives_identical_next_update(tmp_path):
    cfg = PPOConfig(num_envs=4, num_steps=32, num_minibatches=4, update_epochs=3, hidden=(32, 32), target_kl=0.5)
    env_kwargs = {"engine": "mujoco", "randomization": "default"}
    a = PPO(make_vec_env("CartpoleBalance-v0", 4, seed=1, **env_kwargs), cfg, total_steps=10_000, seed=1)
    for _ in range(2):
        a.iterate()
    b = PPO(make_vec_env("CartpoleBalance-v0", 4, seed=7, **env_kwargs), cfg, total_steps=10_000, seed=7)
    b.load_state_dict(_roundtrip(tmp_path, "ppo", a.state_dict()))
    _assert_same_state(a.state_dict(), b.state_dict())

    # Both collect their next rollout (B's env restarted, so its data differs; the RNG draws do not),
    # then B's rollout is replaced by A's so the update sees the same data.
    a.collect()
    b.collect()
    b.storage = copy.deepcopy(a.storage)
    metrics_a, metrics_b = a.update(), b.update()
    assert metrics_a == metrics_b
    _assert_same_state(a.state_dict(), b.state_dict())
    # The update really changed something (otherwise equality would prove nothing).
    assert metrics_a["train/approx_kl"] > 0


def test_sac_resume_gives_identical_next_updates(tmp_path):
    cfg = SACConfig(hidden=(32, 32), batch_size=32, learning_starts=50, steps_per_iteration=100, buffer_size=1000)
    a = SAC(make_vec_env("Pendulum-v1", 1, seed=1), cfg, total_steps=10_000, seed=1)
    for _ in range(2):
        a.iterate()
    b = SAC(make_vec_env("Pendulum-v1", 1, seed=7), cfg, total_steps=10_000, seed=7)
    b.load_state_dict(_roundtrip(tmp_path, "sac", a.state_dict()))
    _assert_same_state(a.state_dict(), b.state_dict())
    before = copy.deepcopy(a.actor.state_dict())
    for _ in range(3):  # replay sampling, policy noise, the optimizer, Polyak targets
        assert torch.equal(a.update(), b.update())
    _assert_same_state(a.state_dict(), b.state_dict())
    assert any(not torch.equal(before[k], v) for k, v in a.actor.state_dict().items())


def test_ppo_adaptive_learning_rate_follows_kl_and_survives_resume(tmp_path):
    cfg = PPOConfig(num_envs=4, num_steps=32, num_minibatches=4, update_epochs=3, hidden=(32, 32), desired_kl=0.01)
    a = PPO(make_vec_env("Pendulum-v1", 4, seed=1), cfg, total_steps=10_000, seed=1)
    assert a._adapt_learning_rate(0.05) == pytest.approx(1e-3 / 1.5)  # KL > 2 * desired: slow down
    assert a._adapt_learning_rate(0.01) == pytest.approx(1e-3 / 1.5)  # within [desired/2, 2 desired]: keep
    assert a._adapt_learning_rate(0.001) == pytest.approx(1e-3)  # KL < desired / 2: speed up
    assert a.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    a.adaptive_lr = 1.2e-5
    assert a._adapt_learning_rate(1.0) == 1e-5  # bounded below
    a.adaptive_lr = 1e-3
    metrics = a.iterate()
    assert metrics["train/learning_rate"] == a.adaptive_lr != 1e-3  # 12 minibatches moved it
    b = PPO(make_vec_env("Pendulum-v1", 4, seed=7), cfg, total_steps=10_000, seed=7)
    b.load_state_dict(_roundtrip(tmp_path, "ppo", a.state_dict()))
    assert b.adaptive_lr == a.adaptive_lr

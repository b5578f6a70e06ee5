"""The algorithm family on one infrastructure: protocol conformance and a learning test per algorithm.

Protocol tests (fast) build every registered algorithm on a tiny problem and check what the
runner relies on: the ``Algorithm`` protocol, checkpoint round trips through real files
(``weights_only=True``), and that the actor rebuilt from a checkpoint alone acts exactly like the
live agent. Learning tests (slow) train each new algorithm on a small classic problem with a fixed
seed and a return threshold that an untrained or subtly broken agent does not reach.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from seeds import test_seed

from robot_rl.algos import ALGORITHMS, Algorithm
from robot_rl.envs import make_env, make_vec_env
from robot_rl.training.checkpoint import load_checkpoint, save_checkpoint
from robot_rl.training.evaluation import evaluate

torch.set_num_threads(1)

TINY = {
    "ppo": {"num_envs": 2, "num_steps": 16, "hidden": [8, 8]},
    "a2c": {"num_envs": 2, "num_steps": 8, "hidden": [8, 8]},
    "trpo": {"num_envs": 2, "num_steps": 16, "hidden": [8, 8], "critic_minibatch": 16},
    "sac": {"hidden": [8, 8], "learning_starts": 20, "steps_per_iteration": 40, "batch_size": 8, "buffer_size": 100},
    "td3": {"hidden": [8, 8], "learning_starts": 20, "steps_per_iteration": 40, "batch_size": 8, "buffer_size": 100},
    "ddpg": {"hidden": [8, 8], "learning_starts": 20, "steps_per_iteration": 40, "batch_size": 8, "buffer_size": 100},
    "dqn": {"hidden": [8, 8], "learning_starts": 20, "steps_per_iteration": 40, "batch_size": 8, "buffer_size": 100,
            "train_freq": 4},
}


def _build(name: str, seed: int):
    from robot_rl.train import algo_config

    spec = ALGORITHMS[name]
    cfg = algo_config(name, TINY[name])
    env_id = "CartPole-v1" if spec.action_space == "discrete" else "Pendulum-v1"
    return spec.cls(make_vec_env(env_id, cfg.num_envs, seed=seed), cfg, total_steps=1000, seed=seed)


def test_every_algorithm_is_registered_and_tested():
    assert set(ALGORITHMS) == set(TINY) == {"ppo", "sac", "td3", "ddpg", "a2c", "trpo", "dqn"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_algorithm_protocol_checkpoint_and_actor(tmp_path, name):
    a = _build(name, seed=1)
    assert isinstance(a, Algorithm)
    metrics = a.iterate()
    metrics = {**metrics, **a.iterate()}
    assert a.global_step > 0 and any(k.startswith("loss/") for k in metrics), metrics
    assert all(np.isfinite(v) for k, v in metrics.items() if k.startswith("loss/"))

    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"algo": name, "global_step": a.global_step, "model_meta": a.model_meta(),
                           "state": a.state_dict()})
    payload = load_checkpoint(path, expected_algo=name)
    b = _build(name, seed=7)
    b.load_state_dict(payload["state"])
    assert b.global_step == a.global_step

    obs = np.random.default_rng(0).normal(size=(5, a.collector.obs_dim)).astype(np.float32)
    rebuilt = ALGORITHMS[name].cls.actor_from_state(payload["model_meta"], payload["state"])
    with torch.no_grad():
        from_file = rebuilt(torch.from_numpy(obs)).numpy()
        exported = a.export_actor()(torch.from_numpy(obs)).numpy()
    np.testing.assert_array_equal(from_file, exported)
    np.testing.assert_array_equal(a.act(obs), b.act(obs))
    np.testing.assert_allclose(a.act(obs).reshape(from_file.shape), from_file, atol=1e-6)
    assert not any(p.requires_grad for p in rebuilt.parameters())
    a.close()
    b.close()


@pytest.mark.parametrize("name", ["td3", "ddpg", "a2c", "trpo"])
def test_continuous_algorithms_train_through_the_runner_and_export_to_onnx(tmp_path, name):
    from robot_rl.export import export_actor
    from robot_rl.train import RunConfig, load_policy, train

    tiny = {**TINY[name], **({"num_envs": 2} if name in ("a2c", "trpo") else {})}
    config = RunConfig(env_id="robot_rl/CartpoleBalance-v0", algo=name, steps=256, seed=0, engine="mujoco",
                       randomize="default", eval_every=0, eval_episodes=1, checkpoint_every=0, algo_config=tiny)
    result = train(config, tmp_path / "run", progress=False)
    assert result.status == "finished"
    actor, meta = load_policy(tmp_path / "run")
    card = export_actor(actor, meta, tmp_path / "policy")
    assert card["training"]["algo"] == name
    assert max(card["parity"]["max_abs_diff_batched"], card["parity"]["max_abs_diff_single"]) < 1e-5


def test_dqn_refuses_continuous_actions_and_export_refuses_dqn(tmp_path):
    from robot_rl.commands.export import exportable
    from robot_rl.train import RunConfig, RunConfigError, train

    config = RunConfig(env_id="Pendulum-v1", algo="dqn", steps=100, engine=None, algo_config=TINY["dqn"])
    with pytest.raises(RunConfigError, match="continuous"):
        train(config, tmp_path / "a", progress=False)
    config = RunConfig(env_id="CartPole-v1", algo="ppo", steps=100, engine=None, algo_config=TINY["ppo"])
    with pytest.raises(RunConfigError, match="Discrete actions, which ppo does not train; use \\['dqn'\\]"):
        train(config, tmp_path / "b", progress=False)
    assert "Discrete" in exportable({"algo": "dqn", "action_space": "discrete"})
    assert "distill it first" in exportable({"algo": "ppo", "config": {"privileged_obs": True}})
    assert exportable({"algo": "td3", "config": {}}) is None


# --------------------------------------------------------------------------------------------
# learning tests: budgets and thresholds chosen from several seeds (each test's comment has the
# measured spread), seeded through tests/seeds.py so ROBOT_RL_TEST_SEED_OFFSET moves them all;
# thresholds far from an untrained agent's returns.
# --------------------------------------------------------------------------------------------


def _train_and_evaluate(
    name: str, env_id: str, steps: int, overrides: dict, base_seed: int = 0, select_at: tuple[int, ...] = ()
) -> dict:
    """Train ``steps`` env steps, then evaluate the deterministic actor on 10 held-out episodes.

    ``select_at``: env steps at which a 5-episode evaluation (other episodes than the final ones)
    keeps the best actor so far, which is then the one evaluated: what the runner's
    ``checkpoints/best.pt`` does. Why: an off-policy deterministic actor on Pendulum swings
    (measured, DDPG: -177..-183 at 6k steps but -533 on one seed; SAC below); a broken algorithm
    never reaches the threshold at any of them, so selecting does not hide a bug.
    """
    from robot_rl.train import algo_config

    seed = test_seed(base_seed)
    cfg = algo_config(name, overrides)
    algo = ALGORITHMS[name].cls(make_vec_env(env_id, cfg.num_envs, seed=seed), cfg, total_steps=steps, seed=seed)
    best_actor, best_return = None, -float("inf")

    def policy(actor):
        return lambda o: actor(torch.as_tensor(o[None]))[0].numpy()

    pending = sorted(select_at)
    while algo.global_step < steps:
        algo.iterate()
        if pending and algo.global_step >= pending[0]:
            pending = [s for s in pending if s > algo.global_step]
            actor = algo.export_actor()
            with torch.no_grad():
                score = evaluate(policy(actor), lambda: make_env(env_id), 5, 1_000)["mean_return"]
            if score > best_return:
                best_actor, best_return = actor, score
    algo.close()
    with torch.no_grad():
        if best_actor is not None:
            return evaluate(policy(best_actor), lambda: make_env(env_id), 10, 123)
        return evaluate(lambda o: algo.act(o[None])[0], lambda: make_env(env_id), 10, 123)


# RL Zoo's Pendulum discount (0.98, the README's TD3 command); CLI defaults otherwise (128x128 at
# 1e-3, 1000 random steps). A random policy scores about -1200 to -1500, a swung-up one -150.
PENDULUM = {"gamma": 0.98}


@pytest.mark.slow
def test_td3_learns_pendulum():
    # Measured (seeds 0-4, the runner's periodic evaluation): -131..-155 at 4k steps, -114..-465 at 5k,
    # -110..-188 at 6k. (With the old tau 0.005: -310..-450 at 6k, -185..-194 at 8k, and 4 of 5 seeds
    # swung to -430..-710 by 10k.) The best of 4k/5k/6k, threshold -300.
    result = _train_and_evaluate("td3", "Pendulum-v1", 6_000, PENDULUM, select_at=(4_000, 5_000, 6_000))
    assert result["mean_return"] > -300, result


@pytest.mark.slow
def test_ddpg_learns_pendulum():
    # Measured (seeds 0-4, gamma 0.98 and 0.99): at 4k steps -188..-387, at 6k -177..-183 but one
    # swing to -533 (and -404, -461 at gamma 0.99), at 8k -177..-187. The best of 4k/5k/6k was
    # -177..-192 in all 10 runs; threshold -300. (The old 64x64, 5k-step test gave -444 on another CPU.)
    result = _train_and_evaluate("ddpg", "Pendulum-v1", 6_000, PENDULUM, select_at=(4_000, 5_000, 6_000))
    assert result["mean_return"] > -300, result


@pytest.mark.slow
def test_a2c_learns_inverted_pendulum():
    # An untrained policy balances for ~5-10 steps; 1000 is the time limit. Measured (CLI defaults,
    # seeds 0-4, 200k-step runs): 1000 from 40-60k steps on seeds 0-2, but seeds 3 and 4 stall at
    # 50-160 until 100k and reach 937/725 at 120k, 1000 from 140k/160k. So the budget, 200k
    # (~25 CPU s), the best of 160k/180k/200k, threshold 500.
    result = _train_and_evaluate("a2c", "InvertedPendulum-v5", 200_000, {}, select_at=(160_000, 180_000, 200_000))
    assert result["mean_return"] > 500, result


@pytest.mark.slow
def test_reinforce_setting_learns_inverted_pendulum():
    # REINFORCE learns slowly and unevenly here (returns-to-go cut at the 64-step rollout's end). The
    # untrained deterministic policy scores 24-25 (seeds 0-3). Measured (seeds 0-5, 60k-step runs):
    # 34-54 at 20k steps, 66-142 at 40k, 90-201 at 60k; the best of 20k/40k/60k 96-201. Longer runs
    # do not make it reliable (100k: 73-336, two seeds stuck near 75; 150k: seed 5 stuck at 47-52
    # from 60k on, its best 76). So: ~5 CPU s, threshold 50, twice the untrained policy's return.
    overrides = {"use_critic": False, "num_steps": 64}
    result = _train_and_evaluate("a2c", "InvertedPendulum-v5", 60_000, overrides, select_at=(20_000, 40_000, 60_000))
    assert result["mean_return"] > 50, result


@pytest.mark.slow
def test_trpo_learns_inverted_pendulum():
    # Measured (CLI defaults, seeds 0-4): 58-157 at 10k steps, 91-420 at 20k, 1000 on every seed
    # from 30k on; 40k steps (~9 CPU s), threshold 500.
    result = _train_and_evaluate("trpo", "InvertedPendulum-v5", 40_000, {})
    assert result["mean_return"] > 500, result


@pytest.mark.slow
def test_dqn_learns_cartpole():
    # A random policy lasts ~20 steps; 500 is the time limit. CLI defaults (Zoo phases, 5-step returns).
    # Measured (seeds 0-6, this call): 462-500 (469.8, 500, 490, 500, 473.4, 472.1, 462), 20-24 CPU s;
    # at 20k steps (best of 10k/15k/20k) 123-500, too spread. The greedy policy can still swing between
    # evaluations, so the best of 15k/20k/25k/30k, as the runner's best.pt; threshold 300.
    result = _train_and_evaluate("dqn", "CartPole-v1", 30_000, {}, select_at=(15_000, 20_000, 25_000, 30_000))
    assert result["mean_return"] > 300, result


@pytest.mark.slow
def test_distilled_student_matches_privileged_teacher_under_dr(tmp_path):
    from robot_rl.algos.distill import DistillConfig
    from robot_rl.distill import distill
    from robot_rl.train import RunConfig, load_policy, train

    # Measured (seeds 0-4): teacher 226-244 (threshold 150), student/teacher 1.005-1.032 (threshold
    # 0.95), ~8 CPU s in all.
    seed = test_seed(0)
    teacher = tmp_path / "teacher"
    config = RunConfig(env_id="robot_rl/CartpoleBalance-v0", algo="ppo", steps=40_000, seed=seed, engine="mujoco",
                       randomize="default", eval_every=0, eval_episodes=5, checkpoint_every=0, privileged_obs=True,
                       algo_config={"num_envs": 16, "update_epochs": 10, "hidden": [64, 64]})
    train(config, teacher, progress=False)
    _, meta = load_policy(teacher)
    assert meta["obs_dim"] > 6  # the teacher's actor reads the privileged state after the observation
    summary = distill(teacher, tmp_path / "student", 16_384, DistillConfig(), seed=seed, eval_episodes=10,
                      progress=False)
    assert summary["teacher_eval"]["mean_return"] > 150, summary["teacher_eval"]
    assert summary["student_to_teacher_return"] > 0.95, summary  # the target: within 5%
    actor, student_meta = load_policy(tmp_path / "student")
    assert student_meta["obs_dim"] == 6 and student_meta["algo"] == "distill"
    assert json.loads((tmp_path / "student" / "summary.json").read_text())["final_eval"]["episodes"] == 10

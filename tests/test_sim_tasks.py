"""Gymnasium tasks: API conformance, one observation function, success semantics, vector env."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim
from sim.observations import task_interface
from sim.tasks.env import RobotTaskEnv
from sim.vector import RobotVectorEnv

TASKS = sim.TASKS
ENGINES = ("mujoco", "pybullet")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("engine", ENGINES)
def test_check_env_passes(task, engine):
    env = gym.make(f"robot_rl/{task}", engine=engine, randomization="default")
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_observation_identical_in_both_engines_for_same_state(task):
    envs = [RobotTaskEnv(task, engine=e) for e in ENGINES]
    obs = []
    for env in envs:
        env.reset(seed=5)
        n = len(env.robot.joints)
        env.engine.reset(np.linspace(0.1, 0.4, n), np.linspace(-0.5, 0.5, n))
        obs.append(env._observe())
    assert np.allclose(obs[0], obs[1], atol=1e-6)
    assert obs[0].shape == (task_interface(task).obs_size,)


def test_observation_function_is_the_task_interface():
    env = RobotTaskEnv("CartpoleSwingup-v0")
    env.reset(seed=0)
    q, qd = env.engine.joint_state()
    expected = task_interface("CartpoleSwingup-v0").build(q, qd, np.zeros(1))
    assert np.array_equal(env._observe(), expected)


def test_seeded_reset_is_reproducible_and_dr_differs_per_episode():
    env = RobotTaskEnv("CartpoleSwingup-v0", randomization="default")
    o1, i1 = env.reset(seed=11)
    p1 = dict(env.params)
    o2, i2 = env.reset(seed=11)
    assert np.array_equal(o1, o2) and env.params == p1
    env.reset()
    assert env.params != p1
    assert not np.array_equal(i1["privileged"], np.ones_like(i1["privileged"]))


def test_swingup_success_needs_the_pole_up_at_the_end():
    env = RobotTaskEnv("CartpoleSwingup-v0")
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, term, trunc, info = env.step(np.zeros(1))
        done = term or trunc
    assert info["success"] is False  # hanging pole never succeeds

    env.reset(seed=0)
    for _ in range(env.logic.episode_steps):
        q, qd = env.engine.joint_state()
        env.engine.reset(np.array([q[0], 0.0]), np.zeros(2))  # an oracle holding the pole upright
        _, _, term, trunc, info = env.step(np.zeros(1))
        if term or trunc:
            break
    assert info["success"] is True


def test_balance_terminates_when_the_pole_falls():
    env = RobotTaskEnv("CartpoleBalance-v0")
    env.reset(seed=1)
    env.engine.reset(np.array([0.0, 0.35]), np.zeros(2))
    for _ in range(50):
        _, _, term, trunc, info = env.step(np.zeros(1))
        if term:
            break
    assert term and info["success"] is False


def test_reach_success_at_goal():
    env = RobotTaskEnv("IiwaReach-v0")
    env.reset(seed=2)
    goal = env.command
    q = np.zeros(7)
    env.engine.reset(q, np.zeros(7))
    ee = env.logic.ee_positions(q[None])[0]
    env.core.command[0] = ee  # the goal is where the arm already is: holding still succeeds
    hold = env.interface.command_to_action(q)
    for _ in range(env.logic.episode_steps):
        _, _, term, trunc, info = env.step(hold)
        if trunc:
            break
    assert info["success"] is True
    assert goal.shape == (3,)


@pytest.mark.parametrize("engine", ENGINES)
def test_vector_env_matches_single_env(engine):
    """Batched stepping (rollout for MuJoCo), including action delay, equals the single env."""
    params = {"action_delay": 0.012, "pole.mass": 0.25}
    single = RobotTaskEnv("CartpoleSwingup-v0", engine=engine, params=params)
    vec = RobotVectorEnv("CartpoleSwingup-v0", 3, seed=0, engine=engine, params=params)
    vec.reset(seed=0)
    q0 = np.array([0.1, 2.9])
    single.reset(seed=0)
    single.engine.reset(q0, np.zeros(2))
    for i in range(3):
        vec.sim.reset(i, q0, np.zeros(2))
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = rng.uniform(-1, 1, 1)
        o_single, r_single, *_ = single.step(a)
        o_vec, r_vec, *_ = vec.step(np.tile(a, (3, 1)))
        assert np.allclose(o_vec, o_single, atol=1e-9)
        assert np.allclose(r_vec, r_single, atol=1e-9)
    vec.close()


def test_vector_env_autoreset_same_step():
    vec = RobotVectorEnv("CartpoleBalance-v0", 4, seed=3, randomization="default")
    obs, info = vec.reset(seed=3)
    assert obs.shape == (4, 6) and info["privileged"].shape[0] == 4
    ended = 0
    for _ in range(300):
        obs, rew, term, trunc, info = vec.step(np.ones((4, 1)))  # full push: the pole falls
        if "final_obs" in info:
            mask = info["_final_obs"]
            assert np.array_equal(mask, term | trunc)
            assert all(info["final_obs"][i].shape == (6,) for i in np.flatnonzero(mask))
            assert not np.any(info["final_info"]["success"][mask & term])
            ended += mask.sum()
    assert ended >= 4
    vec.close()


def test_vector_env_dr_differs_per_env_and_repeats_per_seed():
    a = RobotVectorEnv("CartpoleSwingup-v0", 4, seed=9, randomization="default")
    b = RobotVectorEnv("CartpoleSwingup-v0", 4, seed=9, randomization="default")
    _, ia = a.reset(seed=9)
    _, ib = b.reset(seed=9)
    assert np.array_equal(ia["privileged"], ib["privileged"])
    assert len({tuple(row) for row in ia["privileged"]}) == 4
    a.close()
    b.close()


# Measured on main before the episode core and RobotState (same seeds, DR on, random actions):
# cart-pole and iiwa must give bit-for-bit the same rewards and observations through the new code.
# The iiwa values were re-measured on the issue-11 branch (precision reward term, DR with friction and
# 0-40 ms latency) before it was merged onto the episode core; the merged code reproduces them exactly.
# MuJoCo values re-measured when MuJoCo's joint friction and limits became hard constraints as in
# PyBullet (sim/engines/mujoco.py, HARD_SOLIMP): the DR samples rail and joint friction, and the cart
# meets its rail limits. The cart-pole swing-up's MuJoCo episode now matches PyBullet's to 2e-6 of
# the return (4.358875 vs 4.358866; it was 4.342060) and 2e-6 of the observation sum (was 5e-4).
# Re-measured again for robot.yaml `integrator: implicit` and the default DR covering the whole gap
# class (links 5-7 lighter, joint 7 damping and gain): both change the iiwa's episodes by design.
# The iiwa's values measured with both changes (hard constraints and the implicit integrator) merged.
# Re-measured for the reach's rate-limited targets (TaskSpec `rate_limited_targets`: random actions
# now move each target at most 0.2 rad per step, so the arm stays nearer home) and links 1-6 sharing
# one mass draw in half of the DR episodes: both change the iiwa's episodes by design.
# Cart-pole values re-measured when its physics step went from 2 ms to 5 ms (robot.yaml, issue 12):
# a coarser step changes every trajectory; the code paths were first made faster at 2 ms against the
# old values, bit for bit. The swing-up's MuJoCo and PyBullet episodes now agree to 8e-5 of the return
# and 3e-4 of the observation sum (2e-6 at 2 ms): on DR episodes that stick on the rail's friction the
# engines' states differ by up to 0.2 mm / 0.6 mrad over 5 s (6 um / 16 urad at 2 ms).
GOLDEN = {
    ("CartpoleSwingup-v0", "mujoco"): (4.369646034341901, 600.5250854492188),
    ("CartpoleSwingup-v0", "pybullet"): (4.37001129350791, 600.3563232421875),
    ("CartpoleSwingup-v0", "vec"): (23.871856249247095, 4058.858642578125),
    ("CartpoleBalance-v0", "mujoco"): (95.95016890836695, 464.32916259765625),
    ("CartpoleBalance-v0", "vec"): (785.0263802735208, 3152.966796875),
    ("IiwaReach-v0", "mujoco"): (-111.94873984986165, 1446.1484375),
    ("IiwaReach-v0", "vec"): (-815.2461140789744, 11478.2041015625),
}


@pytest.mark.parametrize("task, engine", list(GOLDEN))
def test_fixed_base_tasks_unchanged(task, engine):
    rng = np.random.default_rng(0 if engine != "vec" else 1)
    if engine == "vec":
        vec = RobotVectorEnv(task, 8, seed=4, randomization="default")
        vec.reset(seed=4)
        total, obs_sum = 0.0, 0.0
        for _ in range(120):
            o, r, *_ = vec.step(rng.uniform(-1, 1, (8, vec.single_action_space.shape[0])))
            total, obs_sum = total + r.sum(), obs_sum + np.abs(o).sum()
        vec.close()
    else:
        env = RobotTaskEnv(task, engine=engine, randomization="default")
        o, _ = env.reset(seed=3)
        rewards, obs = [], [o]
        for _ in range(120):
            o, r, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            rewards.append(r)
            obs.append(o)
            if term or trunc:
                o, _ = env.reset()
                obs.append(o)
        total, obs_sum = float(np.sum(rewards)), float(np.abs(np.array(obs)).sum())
        env.close()
    assert (total, obs_sum) == pytest.approx(GOLDEN[(task, engine)], rel=1e-9)

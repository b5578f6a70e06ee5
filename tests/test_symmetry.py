"""Left-right symmetry of legged robots (sim/symmetry.py) and PPO's two uses of it.

Why these tests: a mirror map with one wrong sign teaches the policy that stepping left mirrors into
stepping left; nothing would crash, training would just get worse. So the maps are checked against
the physics: a robot commanded with mirrored actions from a mirrored command must produce mirrored
observations, in both engines and on two robots whose URDFs define their joint axes differently (the
A1 flips its left hips' sign, the Laikago's axes make the same joints mirror with +1). An asymmetric
robot or pose is refused by name, and PPO's options are checked for doing what they claim.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from robot_rl.algos.ppo import PPO, PPOConfig
from robot_rl.envs import EnvSpecError, make_vec_env, mirror_maps
from sim.robot import load_robot
from sim.symmetry import SymmetryError, joint_mirror, walk_mirror
from sim.tasks import walk
from sim.vector import RobotVectorEnv

LEGGED = ("a1", "laikago")


@pytest.mark.parametrize("robot", LEGGED)
def test_mirror_maps_pair_left_with_right_and_are_involutions(robot):
    spec = load_robot(robot)
    mirror = joint_mirror(spec)
    names = spec.joint_names
    for i, name in enumerate(names):
        swapped = name[0] + {"L": "R", "R": "L"}[name[1]] + name[2:]  # FR_... <-> FL_..., RL_... <-> RR_...
        assert names[mirror.partner[i]] == swapped, (name, names[mirror.partner[i]])
    maps = walk_mirror(spec, walk.interface("Walk-v0", spec))
    assert np.allclose(maps.obs @ maps.obs, np.eye(len(maps.obs)))
    assert np.allclose(maps.action @ maps.action, np.eye(len(maps.action)))


def test_a1_hips_flip_sign_thighs_and_calves_do_not():
    spec = load_robot("a1")
    mirror = joint_mirror(spec)
    for i, name in enumerate(spec.joint_names):
        assert mirror.sign[i] == (-1.0 if "hip" in name else 1.0), name


@pytest.mark.parametrize("robot,engine", [("a1", "mujoco"), ("laikago", "mujoco"), ("a1", "pybullet")])
def test_mirrored_actions_give_mirrored_observations_in_the_simulator(robot, engine):
    """Env 0 walks a random action sequence under a command; env 1 gets the mirrored command and actions.

    Measured, the worst channel's mean |obs1 - mirror(obs0)| over 25 steps: 0.012-0.016 on the A1 in both
    engines (its URDF's inertias are not exactly symmetric), 1.2 unmirrored, 0.11 with one joint pair's
    sign wrong."""
    spec = load_robot(robot)
    maps = walk_mirror(spec, walk.interface("Walk-v0", spec))
    wrong = maps.obs.copy()  # the same maps with one joint pair's sign wrong (position and velocity)
    n = len(spec.joints)
    first, partner = 0, int(np.flatnonzero(maps.obs[9:9 + n, 9])[0])
    for block in (9, 9 + n):
        wrong[block + partner, block + first] *= -1.0
        wrong[block + first, block + partner] *= -1.0
    env = RobotVectorEnv("Walk-v0", 2, robot=robot, engine=engine, seed=0)
    try:
        env.reset(seed=0)
        command = np.array([0.4, 0.15, 0.6])
        env.core.command[0] = command
        env.core.command[1] = command * np.array([1.0, -1.0, -1.0])
        rng = np.random.default_rng(3)
        right, wrong_sign, unmirrored = [], [], []
        for _ in range(25):  # half a second at 50 Hz: several steps' worth of contacts
            action = rng.uniform(-0.4, 0.4, len(spec.actuators)).astype(np.float32)
            obs, _, terminated, truncated, _ = env.step(np.stack([action, maps.mirror_action(action)]))
            assert not (terminated.any() or truncated.any())
            right.append(np.abs(obs[1] - maps.mirror_obs(obs[0])))
            wrong_sign.append(np.abs(obs[1] - obs[0] @ wrong.T))
            unmirrored.append(np.abs(obs[1] - obs[0]))
    finally:
        env.close()
    # the worst observation channel's mean error over the run
    right, wrong_sign, unmirrored = (float(np.mean(e, axis=0).max()) for e in (right, wrong_sign, unmirrored))
    assert right < 0.04, f"{robot} in {engine}: the mirrored run is {right:.4f} off its mirror image"
    assert wrong_sign > 0.04 and unmirrored > 0.1, (wrong_sign, unmirrored)  # the measure has teeth


def test_an_asymmetric_default_pose_is_refused_naming_the_joint():
    spec = load_robot("a1")
    pose = list(spec.default_pose)
    pose[spec.joint_names.index("FL_upper_joint")] += 0.1
    with pytest.raises(SymmetryError, match="default_pose is not left-right symmetric: 'FR_upper_joint'"):
        joint_mirror(dataclasses.replace(spec, default_pose=tuple(pose)))


def test_a_joint_without_a_mirror_image_is_refused_by_name():
    spec = load_robot("a1")
    joints = dict(spec.urdf.joints)
    moved = joints["RL_hip_joint"]
    joints["RL_hip_joint"] = dataclasses.replace(moved, origin_xyz=(moved.origin_xyz[0] - 0.05, *moved.origin_xyz[1:]))
    lopsided = dataclasses.replace(spec, urdf=dataclasses.replace(spec.urdf, joints=joints))
    with pytest.raises(SymmetryError, match="joint 'RR_hip_joint' at .* has no joint at its mirror image"):
        joint_mirror(lopsided)


def test_symmetry_refuses_an_arm_and_an_observation_it_cannot_mirror():
    arm = make_vec_env("robot_rl/Reach-v0", 1, seed=0, robot="iiwa")
    try:
        with pytest.raises(EnvSpecError, match="symmetry is defined for legged robots"):
            mirror_maps(arm)
    finally:
        arm.close()
    legged = make_vec_env("robot_rl/A1Walk-v0", 1, seed=0, privileged_obs=True)
    try:
        with pytest.raises(EnvSpecError, match="privileged_obs"):
            mirror_maps(legged)
    finally:
        legged.close()


def _asymmetry_after_training(**symmetry) -> tuple[float, dict]:
    """|mu(mirror(s)) - mirror(mu(s))| of the actor's mean on its own rollout after a few PPO iterations."""
    torch.set_num_threads(1)
    env = make_vec_env("robot_rl/A1Walk-v0", 8, seed=0)
    cfg = PPOConfig(num_envs=8, num_steps=16, num_minibatches=2, update_epochs=4, learning_rate=3e-3,
                    hidden=(32, 32), activation="elu", **symmetry)
    algo = PPO(env, cfg, total_steps=8 * 16 * 6, seed=0)
    obs_m, act_m = (torch.as_tensor(m, dtype=torch.float32) for m in mirror_maps(env))
    try:
        for _ in range(6):
            algo.collect()
            metrics = algo.update()
        raw = algo.storage.obs.reshape(-1, algo.collector.obs_dim)
        with torch.no_grad():
            gap = (algo.model.actor_mean(raw @ obs_m.T) - algo.model.actor_mean(raw) @ act_m.T).abs().mean()
    finally:
        env.close()
    return float(gap), metrics


def test_ppo_symmetry_options_make_the_policy_symmetric():
    plain, plain_metrics = _asymmetry_after_training()
    mirror_loss, loss_metrics = _asymmetry_after_training(symmetry_coef=10.0)
    augmented, _ = _asymmetry_after_training(symmetry_augment=True)
    assert "loss/symmetry" not in plain_metrics and loss_metrics["loss/symmetry"] >= 0.0
    assert mirror_loss < 0.3 * plain, (plain, mirror_loss)
    assert augmented < 0.7 * plain, (plain, augmented)

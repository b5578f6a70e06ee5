"""Legged robots: the A1's floating base, contacts and IMU in both engines, and the A1Walk-v0 task."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the envs)
from sim.core import EpisodeCore
from sim.engines import make_engine
from sim.robot import load_robot
from sim.state import quat_rotate_inverse
from sim.tasks.env import RobotTaskEnv
from sim.vector import RobotVectorEnv

ENGINES = ("mujoco", "pybullet")


@pytest.fixture(scope="module")
def a1():
    return load_robot("a1")


def test_a1_description(a1):
    assert a1.floating and a1.base.link == "trunk" and a1.base.imu_link == "imu_link"
    assert len(a1.joints) == 12 and all(j.type == "revolute" for j in a1.joints)
    assert a1.substeps == 4 and a1.physics_dt == 0.005 and a1.control_hz == 50
    assert a1.joint("FR_hip_joint").effort_limit == 20 and a1.joint("FR_lower_joint").effort_limit == 55
    assert all(a.type == "position" for a in a1.actuators)
    assert "pybullet_data" in str(a1.urdf_path)
    assert {"trunk.mass", "trunk.com_x", "floor.friction", "FR_lower_joint.kd"} <= set(a1.nominal)


@pytest.mark.parametrize("engine", ENGINES)
def test_zero_action_stands_for_5_s(engine):
    """Action 0 = the default pose: 250 control steps without a fall, trunk up and level, four feet loaded."""
    env = RobotTaskEnv("A1Walk-v0", engine=engine)
    env.reset(seed=0)
    for _ in range(250):
        _, _, terminated, truncated, _ = env.step(np.zeros(12))
        assert not terminated and not truncated
    state = env.state()
    assert 0.22 < state.base.position[2] < 0.32
    assert state.imu.projected_gravity[2] < -0.99
    assert np.all(state.contacts) and 100 < state.foot_forces.sum() < 145  # ~12.5 kg robot
    assert state.base_force < 1.0
    assert np.allclose(state.imu.linear_acceleration, [0, 0, 9.81], atol=0.5)  # standing still: specific force
    env.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_imu_agrees_with_base_orientation(engine):
    """Tilted and spinning base: IMU orientation, projected gravity and rate match the base's truth."""
    e = make_engine("a1", engine)
    from sim.state import BaseState

    axis = np.array([1.0, 2.0, 0.5]) / np.linalg.norm([1.0, 2.0, 0.5])
    angle = 0.4
    quat = np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])
    omega = np.array([0.3, -0.2, 0.5])
    e.reset(np.array(e.robot.default_pose), np.zeros(12),
            BaseState(np.array([0.1, -0.2, 0.6]), quat, np.array([0.2, 0.0, 0.0]), omega))
    e.step(np.array(e.robot.default_pose))  # 20 ms in the air
    s = e.state()
    assert np.allclose(s.base.orientation, s.imu.orientation, atol=2e-3)
    gravity_from_base = quat_rotate_inverse(s.base.orientation, np.array([0.0, 0.0, -1.0]))
    assert np.allclose(s.imu.projected_gravity, gravity_from_base, atol=2e-3)
    assert np.allclose(s.imu.angular_velocity, s.base.angular_velocity, atol=0.05)
    assert np.allclose(np.linalg.norm(s.imu.orientation), 1.0)
    assert np.linalg.norm(s.imu.linear_acceleration) < 1.0  # free fall: an accelerometer reads ~0
    e.close()


def test_standing_height_gap_between_engines_is_small():
    """Contacts differ between engines (that is why we validate in both); standing differs by < 1 cm."""
    heights = []
    for engine in ENGINES:
        env = RobotTaskEnv("A1Walk-v0", engine=engine)
        env.reset(seed=0)
        for _ in range(100):
            env.step(np.zeros(12))
        heights.append(env.state().base.position[2])
        env.close()
    assert abs(heights[0] - heights[1]) < 0.01


@pytest.mark.parametrize("engine", ENGINES)
def test_a1walk_runs_under_dr_with_finite_observations(engine):
    n = 4 if engine == "mujoco" else 2  # mujoco: the batched rollout path
    vec = RobotVectorEnv("A1Walk-v0", n, seed=1, engine=engine, randomization="default")
    obs, info = vec.reset(seed=1)
    assert obs.shape == (n, 45) and info["privileged"].shape[0] == n
    rng = np.random.default_rng(0)
    params = [dict(p) for p in vec.core.params]
    assert len({p["trunk.mass"] for p in params}) == n  # DR differs per env
    for _ in range(40):
        obs, reward, term, trunc, info = vec.step(rng.uniform(-0.3, 0.3, (n, 12)))
        assert np.all(np.isfinite(obs)) and np.all(np.isfinite(reward)) and np.all(np.isfinite(info["privileged"]))
    vec.close()


def test_privileged_holds_what_the_actor_does_not_see():
    env = RobotTaskEnv("A1Walk-v0")
    obs, info = env.reset(seed=0)
    n_physics = len(env.robot.nominal)
    assert info["privileged"].shape == (n_physics + 3 + 1 + 4,)  # physics, base velocity, height, foot forces
    names = [f["name"] for f in env.interface.layout_dicts()]
    assert "imu.projected_gravity" in names and not any("base" in n for n in names)
    env.close()


def test_reward_terms_are_named_weighted_and_reported_per_episode():
    core = EpisodeCore("A1Walk-v0", 2, seed=0)
    core.reset(0)
    total = np.zeros(2)
    for _ in range(10):
        out = core.step(np.zeros((2, 12)))
        total += out.reward
        assert set(out.terms) == set(core.spec.reward)
    sums = core.episode_reward_terms()
    assert np.allclose(sum(sums.values()), total)
    assert np.all(sums["reward/tracking_lin_vel"] >= 0) and np.all(sums["reward/torques"] <= 0)
    core.close()


def test_vector_env_reports_reward_terms_at_episode_end():
    vec = RobotVectorEnv("A1Walk-v0", 2, seed=0, engine="pybullet")
    vec.reset(seed=0)
    vec.core.steps[:] = vec.core.spec.episode_steps - 1  # fast-forward to the time limit
    _, _, term, trunc, info = vec.step(np.zeros((2, 12)))
    assert np.all(trunc) and "reward/tracking_lin_vel" in info["final_info"]
    assert info["final_info"]["_reward/tracking_lin_vel"].all()
    vec.close()


def test_success_needs_tracking_not_just_standing():
    env = RobotTaskEnv("A1Walk-v0")
    env.reset(seed=0)
    env.core.command[0] = 0.0  # stand still: standing succeeds
    info = {}
    for _ in range(env.logic.episode_steps):
        _, _, term, trunc, info = env.step(np.zeros(12))
        if term or trunc:
            break
    assert trunc and info["success"] is True and "reward/tracking_lin_vel" in info
    env.reset(seed=0)
    env.core.command[0] = [0.8, 0.0, 0.0]  # asked to walk, it stands: no success
    env.core.steps[0] = env.logic.episode_steps - 60
    for _ in range(60):
        _, _, term, trunc, info = env.step(np.zeros(12))
    assert trunc and info["success"] is False
    env.close()


def test_a_fall_terminates():
    env = RobotTaskEnv("A1Walk-v0")
    env.reset(seed=0)
    from sim.state import BaseState

    quat = np.array([np.cos(0.75), np.sin(0.75), 0.0, 0.0])  # rolled 86 degrees
    env.engine.reset(np.array(env.robot.default_pose), np.zeros(12),
                     BaseState(np.array([0.0, 0.0, 0.3]), quat, np.zeros(3), np.zeros(3)))
    _, reward, terminated, _, info = env.step(np.zeros(12))
    assert terminated and info["success"] is False and reward < 0
    env.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_com_offset_and_base_push_change_the_physics(engine):
    """trunk.com_x moves weight between front and rear feet (the same in both engines); a push moves the base."""
    def front_share(com_x):
        e = make_engine("a1", engine, {"trunk.com_x": com_x})
        pose = np.array(e.robot.default_pose)
        e.reset(pose, np.zeros(12))
        for _ in range(50):
            e.step(pose)
        f = e.state().foot_forces
        return f[:2].sum() / f.sum(), e

    back, e1 = front_share(-0.05)
    forward, e2 = front_share(0.05)
    assert forward - back > 0.09  # measured ~0.12 in both engines
    e2.apply_base_velocity_kick(np.array([0.5, 0.0, 0.0]))
    assert e2.state().base.linear_velocity[0] > 0.45
    e1.close()
    e2.close()


def test_gymnasium_make_and_action_zero_is_the_default_pose(a1):
    env = gym.make("robot_rl/A1Walk-v0")
    assert env.action_space.shape == (12,) and env.observation_space.shape == (45,)
    iface = env.unwrapped.interface
    assert np.allclose(iface.action_to_command(np.zeros(12)), a1.default_pose)
    env.close()


def test_batched_rollout_matches_single_env():
    """The vector env's threaded rollout and the single env's engine agree on the A1 with contacts."""
    vec = EpisodeCore("A1Walk-v0", 4, seed=0)
    one = EpisodeCore("A1Walk-v0", 1, seed=0)
    assert type(vec.sim).__name__ == "MujocoRollout" and type(one.sim).__name__ == "EngineLoop"
    vec.reset(0)
    one.reset(0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        action = rng.uniform(-0.5, 0.5, 12)
        a, b = vec.step(np.tile(action, (4, 1))), one.step(action[None])
        assert np.allclose(a.obs[0], b.obs[0], atol=1e-4) and np.isclose(a.reward[0], b.reward[0], atol=1e-4)
    vec.close()
    one.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_scripted_trot_steps_forward(engine):
    """The A1 steps in both engines: an open-loop trot carries it forward without a fall (3 s)."""
    from sim.gaits import scripted_trot

    e = make_engine("a1", engine)
    e.reset(np.array(e.robot.default_pose), np.zeros(12))
    lifted = np.zeros(4, dtype=bool)
    for u in scripted_trot(e.robot, 3.0):
        e.step(u)
        lifted |= ~e.state().contacts
    s = e.state()
    assert s.base.position[0] > 0.2 and s.base.position[2] > 0.18 and s.imu.projected_gravity[2] < -0.95
    assert lifted.all()  # every foot left the floor at some point: it stepped
    e.close()


@pytest.mark.parametrize("mutate, field, expected", [
    (lambda d: d["base"].update(link="FR_hip"), "base.link", "not the root link"),
    (lambda d: d.update(feet=["FR_foot"]), "feet[0]", "not in a1.urdf"),
    (lambda d: d["default_pose"].update(FR_knee=0.1), "default_pose.FR_knee", "not a listed joint"),
    (lambda d: d["default_pose"].update(FR_lower_joint=0.5), "default_pose.FR_lower_joint", "outside the"),
    (lambda d: d["base"].pop("height"), "base.height", "missing"),
])
def test_malformed_legged_robot_yaml_names_file_and_field(tmp_path, mutate, field, expected):
    import yaml

    from sim.errors import ConfigError

    data = yaml.safe_load((load_robot("a1").yaml_path).read_text())
    mutate(data)
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_robot(path)
    msg = str(err.value)
    assert str(path) in msg and f"'{field}'" in msg and expected in msg and "\n" not in msg

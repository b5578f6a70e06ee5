"""Both engines load every robot, realize the same actuator model, and agree on the motion."""

import numpy as np
import pytest

from sim.actuators import ActionDelay, DelayLine, actuator_torques
from sim.engines import make_engine
from sim.kinematics import SerialChainFK
from sim.robot import load_robot

ENGINES = ("mujoco", "pybullet")


def rollout(engine, q0, commands):
    engine.reset(np.asarray(q0, float), np.zeros(len(q0)))
    states = []
    for u in commands:
        engine.step(np.atleast_1d(u))
        states.append(np.concatenate(engine.joint_state()))
    return np.array(states)


@pytest.mark.parametrize("robot", ["cartpole", "iiwa"])
@pytest.mark.parametrize("engine", ENGINES)
def test_every_robot_loads_in_every_engine(robot, engine):
    e = make_engine(robot, engine)
    n = len(e.robot.joints)
    e.reset(np.zeros(n), np.zeros(n))
    e.step(np.zeros(len(e.robot.actuators)))
    q, qd = e.joint_state()
    assert q.shape == (n,) and qd.shape == (n,) and np.all(np.isfinite(q))
    assert e.time == pytest.approx(e.robot.control_dt)
    e.close()


def test_cartpole_passive_fall_parity():
    """Same state, no force: pole angle within 0.01 rad between engines over 1 s (measured: ~1e-4)."""
    mj, pb = (rollout(make_engine("cartpole", e), [0.0, 0.1], np.zeros(50)) for e in ENGINES)
    assert np.max(np.abs(mj[:, 1] - pb[:, 1])) < 0.01
    assert mj[-1, 1] > 1.0  # it really fell


def test_cartpole_force_sequence_parity():
    rng = np.random.default_rng(3)
    forces = rng.uniform(-20, 20, 50)
    mj, pb = (rollout(make_engine("cartpole", e), [0.0, np.pi - 0.2], forces) for e in ENGINES)
    assert np.max(np.abs(mj[:, 0] - pb[:, 0])) < 0.01  # cart position, m
    assert np.max(np.abs(mj[:, 1] - pb[:, 1])) < 0.02  # pole angle, rad


def test_cartpole_parity_with_delay_and_params():
    params = {"pole.mass": 0.3, "hinge.damping": 0.01, "slider.gain": 0.8, "action_delay": 0.014}
    forces = np.sin(np.arange(50) * 0.3) * 15
    mj, pb = (rollout(make_engine("cartpole", e, params), [0.0, np.pi], forces) for e in ENGINES)
    assert np.max(np.abs(mj[:, :2] - pb[:, :2])) < 0.02


def test_iiwa_pd_parity():
    targets = np.tile(np.linspace(-0.3, 0.3, 7), (50, 1))
    mj, pb = (rollout(make_engine("iiwa", e), np.zeros(7), targets) for e in ENGINES)
    assert np.max(np.abs(mj[:, :7] - pb[:, :7])) < 1e-3
    assert np.allclose(mj[-1, :7], targets[-1], atol=0.06)  # PD servos reach their targets


def test_mujoco_native_actuators_realize_the_torque_law():
    """MuJoCo's gain/bias/forcerange reproduce sim.actuators.actuator_torques exactly."""
    for robot_name, command in [("cartpole", np.array([35.0])), ("iiwa", np.linspace(-1, 1, 7))]:
        e = make_engine(robot_name, "mujoco", None)
        n = len(e.robot.joints)
        e.reset(np.full(n, 0.2), np.full(n, 0.5))
        e.data.ctrl[:] = command
        import mujoco

        mujoco.mj_forward(e.model, e.data)
        q, qd = e.joint_state()
        expected = actuator_torques(e.robot, e.params, command, q, qd)
        applied = np.zeros(n)
        applied[e.robot.actuator_joint_indices()] = e.actuator_forces()
        assert np.allclose(applied, expected, atol=1e-9), robot_name
    assert abs(expected[0]) <= 300


@pytest.mark.parametrize("engine", ENGINES)
def test_params_change_the_physics_as_named(engine):
    def final(params, q0=(0.0, 0.3), commands=None):
        commands = np.zeros(25) if commands is None else commands
        return rollout(make_engine("cartpole", engine, params), q0, commands)[-1]

    nominal = final(None)
    # a heavier pole falls differently (it drags the cart more)
    assert abs(final({"pole.mass": 0.6})[0] - nominal[0]) > 1e-3
    # hinge damping slows the fall
    assert abs(final({"hinge.damping": 0.2})[3]) < abs(nominal[3])
    # lower motor gain weakens the push
    push = np.full(25, 10.0)
    strong = final(None, (0.0, np.pi), push)
    weak = final({"slider.gain": 0.5}, (0.0, np.pi), push)
    assert 0 < weak[0] < strong[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_action_delay_shifts_the_response(engine):
    push = np.full(3, 10.0)
    prompt = rollout(make_engine("cartpole", engine), [0.0, np.pi], push)
    late = rollout(make_engine("cartpole", engine, {"action_delay": 0.02}), [0.0, np.pi], push)
    assert prompt[0, 2] > 0.05 and abs(late[0, 2]) < 1e-6  # delayed by one control step
    assert late[1, 2] == pytest.approx(prompt[0, 2], rel=0.05)


def test_set_params_between_episodes_without_reload():
    e = make_engine("cartpole", "mujoco")
    model = e.model
    e.set_params({**e.params, "pole.mass": 0.5})
    assert e.model is model and e.model.body_mass[e.model.body("pole").id] == 0.5


def test_pybullet_refuses_armature():
    from sim.errors import ConfigError

    with pytest.raises(ConfigError, match="armature"):
        make_engine("cartpole", "pybullet", {"hinge.armature": 0.01})


def test_delay_line_segments():
    line = DelayLine(1, substeps=10, physics_dt=0.002, delay=0.006)
    assert [(float(c[0]), n) for c, n in line.segments(np.array([1.0]))] == [(0.0, 3), (1.0, 7)]
    assert [(float(c[0]), n) for c, n in line.segments(np.array([2.0]))] == [(1.0, 3), (2.0, 7)]
    long = DelayLine(1, substeps=10, physics_dt=0.002, delay=0.03)
    assert [(float(c[0]), n) for c, n in long.segments(np.array([1.0]))] == [(0.0, 10)]
    assert [(float(c[0]), n) for c, n in long.segments(np.array([2.0]))] == [(0.0, 5), (1.0, 5)]


def test_batched_delays_follow_each_robots_reset():
    """Per-robot delays changed at resets (as DR does): every substep gets the command issued
    floor((s - d) / S) steps ago, and with every delay back to 0 the commands pass straight through."""
    S, dt = 4, 0.005
    delay = ActionDelay(3, 1, S, dt)
    rng = np.random.default_rng(0)
    for episode in range(4):
        d = [int(k) for k in rng.integers(0, 9, 3)] if episode < 3 else [0, 0, 0]
        for i in rng.permutation(3):
            delay.set_delay(int(i), d[i] * dt)
            delay.reset(int(i))
        assert delay.any_delayed == any(d)
        issued = []
        for _ in range(5):
            commands = rng.uniform(-1, 1, (3, 1))
            issued.append(commands)
            control = np.broadcast_to(delay.control(commands), (3, S, 1))
            for i in range(3):
                for sub in range(S):
                    back = -((sub - d[i]) // S)
                    expected = issued[-1 - back][i] if back < len(issued) else 0.0
                    assert control[i, sub, 0] == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_fk_matches_engine_link_position(engine):
    robot = load_robot("iiwa")
    fk = SerialChainFK(robot.urdf, robot.joint_names, robot.end_effector)
    e = make_engine(robot, engine)
    q = np.array([0.3, -0.5, 0.2, -1.1, 0.4, 0.7, -0.2])
    e.reset(q, np.zeros(7))
    assert np.allclose(fk.position(q), e.link_position(robot.end_effector), atol=1e-6)


def _hanging_a1_sweep(engine: str, params: dict) -> np.ndarray:
    """The A1 on a gantry: 3 s of leg sweeps about the standing pose, joint positions per control step.

    With 20 ms of delay the first control step applies the delay line's zero targets, which swing
    the rear knees onto their URDF limit: limits, dry friction and the feet's mass all show.
    """
    from sim.robot import suspended

    robot = suspended(load_robot("a1"))
    e = make_engine(robot, engine, params)
    pose = np.array(robot.default_pose)
    t = np.arange(150) * robot.control_dt
    phase = np.arange(12) * 0.7
    targets = pose + 0.25 * np.sin(2 * np.pi * 1.5 * t[:, None] + phase) * np.sin(2 * np.pi * 0.4 * t[:, None])
    q = rollout(e, pose, targets)[:, :12]
    e.close()
    return q


def test_suspended_a1_parity_with_friction_delay_and_a_knee_at_its_limit():
    """Same hanging A1 in both engines: joints within 1 mrad (measured ~0.05 mrad).

    Before each engine kept every URDF link its own body (MuJoCo fused the 0.06 kg feet into the
    calves, then the calf mass parameter dropped them) and realized dry friction and limits as hard
    constraints, the calves differed by 3-6 mrad RMS and the knee went 0.1 rad past its limit.
    """
    params = {"*.gain": {"scale": 0.85}, "*.kd": {"scale": 1.3}, "*.frictionloss": 0.2, "action_delay": 0.02}
    mj, pb = (_hanging_a1_sweep(e, params) for e in ENGINES)
    knee_upper = load_robot("a1").joint("RR_lower_joint").position_limits[1]
    assert pb[:, 8].max() == pytest.approx(knee_upper, abs=0.01)  # the rear knee did reach its limit
    assert np.max(np.abs(mj - pb)) < 1e-3
    assert mj[:, 8].max() < knee_upper + 0.005


def test_mujoco_keeps_every_urdf_link_a_body_with_its_own_mass():
    """`<link>.mass` is the URDF link's mass in both engines: no fixed child fused into a parent."""
    from sim.robot import suspended

    for robot in (load_robot("a1"), suspended(load_robot("a1"))):
        m = make_engine(robot, "mujoco").model
        assert m.body("FR_lower").mass[0] == pytest.approx(robot.urdf.links["FR_lower"].mass)
        assert m.body("FR_toe").mass[0] == pytest.approx(robot.urdf.links["FR_toe"].mass) == 0.06

"""Motors outside the PD vocabulary (sim/motor_model.py) and the learned actuator network that models them
(calibration/actuator_net.py, sim/actuator_net.py): envelope, lag and backlash behave as stated; a network
fitted on a short log beats the PD law held out; the engines run it (batched too); bad files are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from seeds import test_seed

from calibration.actuator_net import fit_actuator_net, run_actuator_excitation
from robot_rl.cli import main
from sim.actuator_net import load_actuator_net
from sim.engines import make_engine
from sim.errors import ConfigError
from sim.motor_model import envelope, load_motor_model
from sim.robot import load_robot
from sim.vector import RobotVectorEnv
from tests.error_checks import assert_one_line

# The bench's motors (bench/actuator_net_motors.yaml): a slow current loop and gear play.
MOTORS = {"time_constant": 0.04, "backlash": 0.01}


@pytest.fixture(scope="module")
def iiwa():
    return load_robot("iiwa")


def _law(robot, n=1, **motor):
    law = load_motor_model(robot, motor).law(n)
    for i in range(n):
        law.set_params(i, dict(robot.nominal))
    return law


def test_torque_never_exceeds_the_speed_envelope(iiwa):
    law = _law(iiwa, 16, time_constant=0.0, backlash=0.0, no_load_speed_ratio=0.5)
    model = law.model
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.uniform(-1, 1, (16, 7))
        qd = rng.uniform(-1.2, 1.2, (16, 1)) * model.no_load_speed  # past the no-load speed too
        tau = law.torques(q + rng.uniform(-3, 3, (16, 7)), q, qd)  # errors that saturate the servo
        motoring = model.peak_torque * np.maximum(0.0, 1 - np.abs(qd) / model.no_load_speed)
        along = np.sign(qd) * tau  # torque in the direction of motion
        assert np.all(along <= motoring + 1e-9)
        assert np.all(np.abs(tau) <= model.peak_torque + 1e-9)
    # Braking (against the motion) keeps the peak; at the no-load speed nothing pushes along it.
    lo, hi = envelope(np.array([10.0]), np.array([2.0]), np.array([2.0]))
    assert hi[0] == 0.0 and lo[0] == -10.0


def test_current_lag_is_a_first_order_step_response(iiwa):
    tc = 0.02
    law = _law(iiwa, time_constant=tc, backlash=0.0)
    q, qd = np.zeros((1, 7)), np.zeros((1, 7))
    law.reset(0, q[0])
    target = np.full((1, 7), 0.01)  # small: no joint's request reaches its effort limit
    request = np.array([a.kp for a in iiwa.actuators]) * 0.01
    dt = iiwa.physics_dt
    taus = np.array([law.torques(target, q, qd)[0].copy() for _ in range(100)])
    k = np.arange(1, 101)[:, None]
    np.testing.assert_allclose(taus, request * (1 - np.exp(-k * dt / tc)), rtol=1e-9)
    assert 0.6 < taus[19, 0] / request[0] < 0.66  # one time constant: 63%


def test_backlash_is_a_dead_band_of_the_servo_angle(iiwa):
    law = _law(iiwa, time_constant=0.0, backlash=0.02)
    zero = np.zeros((1, 7))
    law.reset(0, zero[0])
    first = law.torques(zero, zero, zero)[0, 0]
    inside = [law.torques(zero, np.full((1, 7), x), zero)[0, 0] for x in (0.005, 0.0099, -0.009)]
    assert first == 0.0 and inside == [0.0, 0.0, 0.0]  # the servo sees no motion inside the play
    kp = iiwa.actuators[0].kp
    tau = law.torques(zero, np.full((1, 7), 0.03), zero)[0, 0]
    assert tau == pytest.approx(-kp * (0.03 - 0.01))  # beyond it the servo trails by half the play
    tau = law.torques(zero, np.full((1, 7), 0.025), zero)[0, 0]
    assert tau == pytest.approx(-kp * 0.02)  # coming back: inside the play again, the servo angle held


def test_motor_model_files_are_checked(iiwa, tmp_path):
    for data, parts in (({"robot": "panda"}, ("robot", "panda")), ({"lag": 1}, ("lag", "unknown key")),
                        ({"time_constant": -1}, ("time_constant", ">= 0")),
                        ({"joints": {"elbow": {"backlash": 0.1}}}, ("joints.elbow", "lbr_iiwa_joint_1"))):
        path = tmp_path / "m.yaml"
        path.write_text(json.dumps(data))
        with pytest.raises(ConfigError) as e:
            load_motor_model(iiwa, str(path))
        assert_one_line(e.value, str(path), *parts)
    with pytest.raises(ConfigError, match="not found"):
        load_motor_model(iiwa, tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="MuJoCo engine only"):
        make_engine(iiwa, "pybullet", torque_model=load_motor_model(iiwa, "default"))


def _rollout(actions, n, **kw):
    env = RobotVectorEnv("Reach-v0", n, seed=3, robot="iiwa", **kw)
    env.reset(seed=3)
    for a in actions:
        env.step(np.repeat(a[None], n, axis=0))
    state = env.core.state
    env.close()
    return np.concatenate([state.q, state.qd], axis=1)  # (n, 14): the joints (goals differ between robots)


def test_engines_with_motors_batched_equal_single_and_differ_from_pd():
    actions = np.random.default_rng(1).uniform(-0.3, 0.3, (15, 7))
    pd = _rollout(actions, 1)[0]
    one, batch = _rollout(actions, 1, motor_model=MOTORS)[0], _rollout(actions, 4, motor_model=MOTORS)
    np.testing.assert_allclose(batch, np.repeat(one[None], 4, axis=0), atol=1e-6)  # rollout path = single engine
    assert np.max(np.abs(one - pd)) > 1e-3


@pytest.fixture(scope="module")
def fitted(iiwa):
    # 12 s of excitation: on 8 s, seed offsets 0-9 gave held-out worst errors up to 9.1% (the bar: 10%) and on
    # one of the ten the closed-loop step response worse than the PD law's; on 12 s: 3.9-6.6% and 0.24-0.67x
    # the PD law's step response error (measured with ROBOT_RL_TEST_SEED_OFFSET 0-9).
    engine = make_engine(iiwa, "mujoco", torque_model=load_motor_model(iiwa, MOTORS))
    log = run_actuator_excitation(engine, iiwa, 12.0, seed=test_seed(0))
    net, report = fit_actuator_net(iiwa, [log], history=13, spacing=0.01, hidden=16, iterations=600,
                                   seed=test_seed(0))
    return log, net, report


def test_fitted_network_beats_the_pd_law_held_out(fitted):
    log, net, report = fitted
    assert log.effort is not None and log.sample_dt == pytest.approx(0.001)
    assert report["worst_pct"] <= 10.0, report
    assert report["pd_worst_pct"] > 15.0 and report["pd_mean_pct"] > 2 * report["mean_pct"], report


def test_engine_runs_the_network_batched_and_differs_from_pd(fitted, tmp_path):
    _, net, _ = fitted
    path = net.save(tmp_path / "net.json")
    actions = np.random.default_rng(2).uniform(-0.3, 0.3, (15, 7))
    pd = _rollout(actions, 1)[0]
    one, batch = _rollout(actions, 1, actuator_net=str(path))[0], _rollout(actions, 4, actuator_net=str(path))
    np.testing.assert_allclose(batch, np.repeat(one[None], 4, axis=0), atol=1e-6)
    assert np.all(np.isfinite(one)) and np.max(np.abs(one - pd)) > 1e-3


def _step_response(robot, model) -> np.ndarray:
    """Joint positions over 0.1 s after a 0.1 rad step of every target, from rest at home."""
    home = np.array(robot.reach.home, dtype=float)
    engine = make_engine(robot, "mujoco", torque_model=model)
    engine.reset(home, np.zeros(7))
    for _ in range(25):  # 0.5 s holding home: the drives settle
        engine.step(home)
    out = []
    for _ in range(5):
        engine.step(home + 0.1)
        out.append(engine.joint_state()[0])
    return np.array(out)


def test_network_moves_the_arm_like_the_motors(fitted, iiwa):
    """Closed loop, the network stands in for the motors: after a target step the arm follows the motor
    robot much more closely than robot.yaml's PD servo does (it learned the lag)."""
    _, net, _ = fitted
    motors = _step_response(iiwa, load_motor_model(iiwa, MOTORS))
    err_net = np.abs(_step_response(iiwa, net) - motors).mean()
    err_pd = np.abs(_step_response(iiwa, None) - motors).mean()
    assert err_net < 0.75 * err_pd, (err_net, err_pd)


def test_bad_network_files_are_refused(fitted, iiwa, tmp_path):
    _, net, _ = fitted
    good = net.to_json()
    cases = [
        ({**good, "robot": "panda"}, ("robot", "for 'panda', not 'iiwa'")),
        ({**good, "actuators": good["actuators"][:6]}, ("shape",)),
        ({**good, "layers": [{**good["layers"][0], "weight": np.full_like(np.array(good["layers"][0]["weight"]),
                                                                         np.nan).tolist()}, *good["layers"][1:]]},
         ("NaN",)),
        ({**good, "spacing": 0.0015}, ("spacing", "physics steps")),
        ({"format": "other"}, ("format",)),
    ]
    for data, parts in cases:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(data))  # (NaN as JSON's NaN, which Python's json reads back)
        with pytest.raises(ConfigError) as e:
            load_actuator_net(iiwa, path)
        assert_one_line(e.value, str(path), *parts)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(good))
    with pytest.raises(ConfigError, match="for 'iiwa', not 'panda'"):
        load_actuator_net(load_robot("panda"), ok)
    # A whole network of 6 actuators (every array consistent) for the 7-joint arm: the joint count is named.
    six = {**good, "actuators": good["actuators"][:6],
           **{k: good[k][:6] for k in ("input_mean", "input_std", "output_mean", "output_std")},
           "layers": [{"weight": layer["weight"][:6], "bias": layer["bias"][:6]} for layer in good["layers"]]}
    ok.write_text(json.dumps(six))
    with pytest.raises(ConfigError) as e:
        load_actuator_net(iiwa, ok)
    assert_one_line(e.value, "6 actuators", "7")
    with pytest.raises(ConfigError, match="not found"):
        load_actuator_net(iiwa, tmp_path / "none.json")


def test_cli_excite_records_efforts_and_sysid_refuses_a_log_without(tmp_path, capsys):
    csv = tmp_path / "motors.csv"
    rc = main(["excite", "--robot", "iiwa", "--engine", "mujoco", "--motor-model", "default", "--duration", "3",
               "--state-rate", "500", "--csv", str(csv)])
    assert rc == 0, capsys.readouterr().err
    header = csv.read_text().splitlines()[1]
    assert "effort.lbr_iiwa_joint_7" in header and len(csv.read_text().splitlines()) == 2 + 1501
    plain = tmp_path / "plain.csv"
    lines = csv.read_text().splitlines()  # a comment, the header (t, q, qd, effort, u), the rows
    plain.write_text("\n".join([lines[0]] + [",".join((c := line.split(","))[:15] + c[22:]) for line in lines[1:]]))
    rc = main(["sysid", "--robot", "iiwa", "--actuator-net", str(plain), "--out", str(tmp_path / "n.json")])
    err = capsys.readouterr().err
    assert rc == 1 and "no joint efforts" in err and "Traceback" not in err
    rc = main(["sim-robot", "--robot", "iiwa", "--motor-model", "default", "--episodes", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "--engine mujoco" in err and "Traceback" not in err


def test_train_config_carries_the_network():
    from robot_rl.train import RunConfig

    config = RunConfig(env_id="robot_rl/Reach-v0", algo="ppo", steps=1, robot="iiwa", actuator_net="net.json")
    assert config.task_kwargs()["actuator_net"] == "net.json"
    assert RunConfig.from_dict(config.to_yaml_dict(), "x").actuator_net == "net.json"


def test_sim_robot_with_motors_reports_their_torques():
    """`sim-robot --motor-model`: the DDS sim robot runs the motors and publishes their torques as efforts."""
    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig
    from tests.test_calibration_noise import _HoldingController

    efforts = []
    transport = _HoldingController()
    robot = SimRobot(transport, SimRobotConfig(robot="iiwa", engine="mujoco", motor_model="default", episodes=1,
                                               episode_steps=10, lockstep=True, ideal_sensors=True))
    publisher = transport.publisher

    def recording(topic, msg_type, qos=None):
        inner = publisher(topic, msg_type, qos)

        class Publisher:
            def publish(self, msg) -> None:
                if topic == "/joint_states":
                    efforts.append(list(msg.effort))
                inner.publish(msg)
        return Publisher()

    robot._state_pub = recording("/joint_states", None)
    try:
        assert robot.core.engine.law is not None
        robot.run()
    finally:
        robot.close()
    assert len(efforts) >= 10 and all(len(e) == 7 for e in efforts)
    assert np.abs(np.array(efforts)[-1, 1]) > 1.0  # joint 2 holds the arm against gravity

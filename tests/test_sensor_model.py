"""The sim robot reads its joints as a real robot does: encoder counts, jitter, a drive's noisy velocity,
a MEMS IMU; `--ideal-sensors` gives the engine's values bit for bit.

And identification on such readings: the cart-pole's gap still comes out (the demo's promise), now
with errors and 95% intervals that are not zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sensed_engine import Sensed

from robot_rl.deploy.sensor_model import (
    PRISMATIC_ENCODER,
    REVOLUTE_ENCODER,
    EncoderSpec,
    ImuSpec,
    SensorModel,
    Sensors,
    quantize,
)

CARTPOLE_JOINTS = (("slider", "prismatic"), ("hinge", "continuous"))
RES = np.array([PRISMATIC_ENCODER.resolution, REVOLUTE_ENCODER.resolution])


def on_grid(values: np.ndarray, resolution: np.ndarray | float) -> bool:
    """Every value a whole number of counts (to float rounding)."""
    counts = np.asarray(values) / resolution
    return bool(np.all(np.abs(counts - np.round(counts)) < 1e-6))


def test_defaults_are_the_stated_hardware():
    assert REVOLUTE_ENCODER.resolution == pytest.approx(2 * math.pi / 16384)  # 14 bits per revolution
    assert PRISMATIC_ENCODER.resolution == pytest.approx(1e-5)  # 10 um
    imu = ImuSpec()
    assert imu.gyro_std == pytest.approx(math.radians(0.014) * 10.0)  # 0.014 deg/s/sqrt(Hz) at 100 Hz
    assert imu.accel_std == pytest.approx(175e-6 * 9.80665 * 10.0)
    assert imu.gyro_resolution == pytest.approx(math.radians(2000) / 32768)
    with pytest.raises(ValueError, match="EncoderSpec.position_noise"):
        EncoderSpec(1e-3, -1.0, 0.0)
    with pytest.raises(ValueError, match="joint 'j' has type 'planar'"):
        SensorModel().encoder("j", "planar")


def test_positions_are_whole_counts_within_the_noise_of_the_truth():
    sensors = Sensors(SensorModel(), CARTPOLE_JOINTS, seed=3)
    rng = np.random.default_rng(0)
    truth = rng.uniform([-0.8, -20.0], [0.8, 20.0], size=(500, 2))  # a continuous joint far past a turn too
    read = np.array([sensors.read_joints(q, np.zeros(2))[0] for q in truth])
    assert on_grid(read[:, 0], RES[0]) and on_grid(read[:, 1], RES[1])
    bound = RES / 2 + 6 * np.array([PRISMATIC_ENCODER.position_noise, REVOLUTE_ENCODER.position_noise])
    assert np.all(np.abs(read - truth) <= bound)
    assert np.all(read != truth)  # not the engine's values


def test_noise_std_is_the_setting():
    n = 20_000
    q, qd = np.full((n, 2), 0.123456789), np.full((n, 2), -0.5)
    # Without counting: the Gaussian alone, position and velocity, to 3% (n = 20000: 1 sigma is 0.5%).
    plain = SensorModel(prismatic=EncoderSpec(0.0, 5e-6, 1e-3), revolute=EncoderSpec(0.0, 1e-4, 0.01))
    sensors = Sensors(plain, CARTPOLE_JOINTS, seed=1)
    reads = [sensors.read_joints(a, b) for a, b in zip(q, qd, strict=True)]
    pos, vel = np.array([r[0] for r in reads]), np.array([r[1] for r in reads])
    np.testing.assert_allclose((pos - q).std(axis=0), [5e-6, 1e-4], rtol=0.03)
    np.testing.assert_allclose((vel - qd).std(axis=0), [1e-3, 0.01], rtol=0.03)
    assert np.all(np.abs((vel - qd).mean(axis=0)) < 4 * np.array([1e-3, 0.01]) / math.sqrt(n))  # unbiased
    # With the default counts: noise and quantization error add (sigma^2 + res^2 / 12 for noise above
    # about half a count; true positions spread over many counts so the grid's phase averages out).
    sensors = Sensors(SensorModel(), CARTPOLE_JOINTS, seed=2)
    truth = np.random.default_rng(5).uniform(-0.5, 0.5, size=(n, 2))
    err = np.array([sensors.read_joints(t, np.zeros(2))[0] for t in truth]) - truth
    expected = np.sqrt(np.array([5e-6, 1e-4]) ** 2 + RES**2 / 12)
    np.testing.assert_allclose(err.std(axis=0), expected, rtol=0.05)


def test_imu_counts_saturate_and_orientation_stays_a_unit_quaternion():
    imu = ImuSpec()
    sensors = Sensors(SensorModel(), CARTPOLE_JOINTS, seed=4)
    quat = np.array([math.cos(0.2), 0.0, math.sin(0.2), 0.0])
    reads = [sensors.read_imu(quat, np.array([0.3, -0.2, 0.1]), np.array([0.5, 0.0, 9.81])) for _ in range(5000)]
    gyro, accel = np.array([r[1] for r in reads]), np.array([r[2] for r in reads])
    assert on_grid(gyro, imu.gyro_resolution) and on_grid(accel, imu.accel_resolution)
    # noise 2.4e-3 rad/s against a 1.07e-3 count: std sqrt(sigma^2 + res^2 / 12) to 5%
    np.testing.assert_allclose(gyro.std(axis=0), math.sqrt(imu.gyro_std**2 + imu.gyro_resolution**2 / 12), rtol=0.05)
    np.testing.assert_allclose(accel.std(axis=0), math.sqrt(imu.accel_std**2 + imu.accel_resolution**2 / 12),
                               rtol=0.05)
    angles = []
    for r in reads[:2000]:
        assert np.linalg.norm(r[0]) == pytest.approx(1.0)
        angles.append(2 * math.acos(min(1.0, abs(float(np.dot(r[0], quat))))))
    # the rotation angle of a 3-axis Gaussian: rms sqrt(3) * sigma
    assert math.sqrt(np.mean(np.square(angles))) == pytest.approx(math.sqrt(3) * imu.orientation_noise, rel=0.05)
    # a shock past full scale reads full scale, as the part does
    _, g, a = sensors.read_imu(quat, np.array([100.0, 0.0, 0.0]), np.array([0.0, 0.0, -400.0]))
    assert g[0] == pytest.approx(imu.gyro_range - imu.gyro_resolution) and a[2] == pytest.approx(-imu.accel_range)


def test_ideal_sensors_return_the_inputs_bit_for_bit():
    sensors = Sensors(SensorModel(ideal=True), CARTPOLE_JOINTS, seed=0)
    q, qd = np.array([0.1234567890123, 3.14159265358979]), np.array([-0.75, 1e-17])
    rq, rqd = sensors.read_joints(q, qd)
    assert rq.tobytes() == q.tobytes() and rqd.tobytes() == qd.tobytes()
    quat, w, a = np.array([1.0, 0.0, 0.0, 0.0]), np.array([1e-9, 2.0, 3.0]), np.array([0.0, 0.0, 9.81])
    assert all(x.tobytes() == y.tobytes() for x, y in zip(sensors.read_imu(quat, w, a), (quat, w, a), strict=True))


def test_readings_reproduce_from_the_seed_and_episode():
    def run(seed: int, episode: int) -> np.ndarray:
        sensors = Sensors(SensorModel(), CARTPOLE_JOINTS, seed=seed)
        sensors.reseed(episode)
        return np.array([np.concatenate(sensors.read_joints(np.array([0.1, 0.2]), np.zeros(2))) for _ in range(10)])

    np.testing.assert_array_equal(run(7, 2), run(7, 2))
    assert not np.array_equal(run(7, 2), run(7, 3)) and not np.array_equal(run(7, 2), run(8, 2))
    assert quantize(np.array([0.26, -0.26]), 0.1).tolist() == pytest.approx([0.3, -0.3])


# -- the sim robot node ------------------------------------------------------------------------------
class RecordingTransport:
    """Enough of `robot_rl.deploy.transport.Transport` for a SimRobot: records what it publishes."""

    def __init__(self) -> None:
        self.sent: dict[str, list[Any]] = {}
        self.subscribers: dict[str, Callable[[Any], None]] = {}

    def publisher(self, topic: str, msg_type: type, qos: Any = None) -> Any:
        sent = self.sent.setdefault(topic, [])
        return type("P", (), {"publish": lambda _self, msg: sent.append(msg)})()

    def subscribe(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: Any = None) -> None:
        self.subscribers[topic] = callback


def sim_robot(robot: str, ideal: bool):
    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig

    transport = RecordingTransport()
    return SimRobot(transport, SimRobotConfig(robot=robot, engine="mujoco", ideal_sensors=ideal)), transport


@pytest.mark.parametrize("ideal", [False, True])
def test_the_cartpole_sim_robot_publishes_encoder_readings(ideal: bool):
    from robot_rl.deploy.sim_robot_node import summarize

    sim, transport = sim_robot("cartpole", ideal)
    try:
        sim.env.reset(seed=0)
        published, engine = [], []
        for k in range(20):
            sim._publish(0)
            sim._publish(0)  # re-published (a controller not answering yet): the same reading
            a, b = transport.sent["/joint_states"][-2:]
            assert a.position == b.position and a.velocity == b.velocity
            published.append(a.position + a.velocity)
            engine.append(np.concatenate(sim.core.engine.joint_state()))
            sim.env.step(sim.core.interface.command_to_action(np.array([5.0 * math.sin(k)])))
            sim.sim_time_ns += int(round(sim.dt * 1e9))
        published, engine = np.array(published), np.array(engine)
        summary = summarize([], sim.config, sim.task, sim.describe_sensors())
    finally:
        sim.close()
    if ideal:
        assert published.tobytes() == engine.tobytes()
        assert summary["sensors"]["model"].startswith("ideal")
        return
    assert on_grid(published[:, 0], RES[0]) and on_grid(published[:, 1], RES[1])
    assert not np.any(published == engine)
    pos_bound = RES / 2 + 6 * np.array([5e-6, 1e-4])
    vel_bound = 6 * np.array([1e-3, 0.01])
    assert np.all(np.abs(published - engine) <= np.concatenate([pos_bound, vel_bound]))
    assert summary["sensors"]["joints"]["hinge"]["resolution"] == pytest.approx(RES[1])


def test_the_legged_sim_robot_reads_its_imu_through_the_mems_model():
    sim, transport = sim_robot("a1", ideal=False)
    try:
        sim.env.reset(seed=0)
        sim._publish(0)
        truth = sim.core.core.state.row(0)
        imu_msg, joints = transport.sent["/imu/data"][-1], transport.sent["/joint_states"][-1]
        described = sim.describe_sensors()
    finally:
        sim.close()
    spec = ImuSpec()
    gyro = np.array([imu_msg.angular_velocity.x, imu_msg.angular_velocity.y, imu_msg.angular_velocity.z])
    accel = np.array([imu_msg.linear_acceleration.x, imu_msg.linear_acceleration.y, imu_msg.linear_acceleration.z])
    assert on_grid(gyro, spec.gyro_resolution) and on_grid(accel, spec.accel_resolution)
    assert np.all(np.abs(gyro - truth.imu.angular_velocity) <= 6 * spec.gyro_std + spec.gyro_resolution)
    assert on_grid(np.array(joints.position), REVOLUTE_ENCODER.resolution)
    assert described["imu"]["gyro_std"] == pytest.approx(spec.gyro_std)


# -- identification on encoder readings ------------------------------------------------------------


def identify_demo_gap(tmp_path, ideal: bool):
    """The cart-pole demo's gap, played by PyBullet, excited for 20 s (the demo's identification run),
    read through the sensors, fitted in MuJoCo (as `robot-rl demo` does)."""
    from calibration import identify
    from calibration.excitation import run_excitation
    from robot_rl.demo.facts import demo_spec
    from sim.engines import make_engine
    from sim.params import resolve_params
    from sim.robot import load_robot

    spec = demo_spec("cartpole")  # the cart-pole's demo.yaml
    gap, fit_names = spec.reality_gap, list(spec.fit_names)
    robot = load_robot("cartpole")
    engine = make_engine(robot, "pybullet", gap)
    try:
        sensors = Sensors(SensorModel(ideal=ideal), [(j.name, j.type) for j in robot.joints], seed=0)
        log = run_excitation(Sensed(engine, sensors), robot, 20.0, seed=0).log
    finally:
        engine.close()
    result = identify(robot, log, fit_names, tmp_path / "calib", force=True)
    truth = resolve_params(robot, gap)
    rel_error = {n: abs(result.fitted[n] - truth[n]) / truth[n] for n in fit_names}
    rel_half = {n: result.half_widths[n] / truth[n] for n in fit_names}
    return result, rel_error, rel_half


def test_cartpole_sysid_on_ideal_readings_is_exact(tmp_path):
    # The engine's values: PyBullet and MuJoCo agree on this cart-pole to ~1e-5 relative, and with no
    # noise the 95% half-widths shrink to ~1e-7 relative: exactness no robot gives (issue 22).
    result, err, half = identify_demo_gap(tmp_path, ideal=True)
    assert max(err.values()) < 1e-4, err
    assert max(half.values()) < 1e-6, half


def test_cartpole_sysid_on_encoder_readings_recovers_the_gap_with_real_intervals(tmp_path):
    # Measured over 8 sensor seeds on this log: every fit within 0.014% of the truth (seed 0: 0.007%)
    # and judged adequate. Before calibration's coarse stage and delay restarts (calibration/fit.py),
    # 2 of the 8 landed in local minima (45% and 100% off) and 3 accurate ones were judged "not
    # adequate" (tests/test_calibration_noise.py). The half-widths are 4e-6 to 1.2e-4 relative:
    # 100-1000x the ideal ones, nonzero as a robot's are.
    result, err, half = identify_demo_gap(tmp_path, ideal=False)
    assert max(err.values()) < 1e-3, err  # the demo promises 5%; the measured spread is 0.014%
    assert result.adequate, result.reasons
    assert min(half.values()) > 1e-6, half
    assert all(math.isfinite(v) for v in half.values())
    assert result.noise_floor["hinge"]["velocity"] == pytest.approx(0.01, rel=0.3)  # the drive's noise, seen

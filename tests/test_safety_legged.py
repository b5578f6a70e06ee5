"""SafetyFilter on a legged robot (the A1): IMU watchdog, fall detector, damping mode, soft start.

Pure and fast: the filter has no clock and no I/O, so every case is a few calls with chosen stamps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot_rl.runtime.safety import SafetyConfig, SafetyFilter, SafetyState
from sim.robot import load_robot

LEVEL = (0.0, 0.0, -1.0)


@pytest.fixture(scope="module")
def a1():
    return load_robot("a1")


def tilted(deg: float) -> tuple[float, float, float]:
    """Projected gravity of a trunk rolled by `deg` degrees."""
    r = math.radians(deg)
    return (0.0, math.sin(r), -math.cos(r))


def active_filter(a1, q=None, **kw) -> tuple[SafetyFilter, np.ndarray]:
    f = SafetyFilter(a1, SafetyConfig.from_robot(a1, **kw))
    pose = np.array(a1.default_pose)
    q = pose if q is None else q
    assert f.activate(0.0, q) is SafetyState.ACTIVE
    return f, pose


def test_defaults_for_a_legged_robot_and_none_for_an_arm(a1) -> None:
    c = SafetyConfig.from_robot(a1)
    assert c.damping_on_fault and c.max_tilt == pytest.approx(math.radians(60)) and c.soft_start_speed == 1.0
    assert c.default_pose == tuple(a1.default_pose)
    arm = SafetyConfig.from_robot(load_robot("cartpole"))
    assert not arm.damping_on_fault and arm.max_tilt is None and arm.soft_start_speed == 0.0


def test_level_trunk_with_fresh_imu_passes_the_policy_command(a1) -> None:
    f, pose = active_filter(a1, ramp_time=0.0)
    cmd = pose + 0.05
    out = f.step(0.02, 0.02, pose, np.zeros(12), cmd, gravity=LEVEL, imu_stamp=0.02)
    assert out.state is SafetyState.ACTIVE and out.mode == "position"
    np.testing.assert_allclose(out.values, cmd)


@pytest.mark.parametrize(
    ("gravity", "imu_stamp", "words"),
    [
        (None, None, "no IMU reading"),
        ((math.nan, 0.0, -1.0), 0.02, "NaN or inf in the IMU reading"),
        (LEVEL, 0.02 - 0.2, "IMU reading is 0.2 s old (watchdog 0.1 s)"),
        # A reading stamped ahead must not keep a silent IMU "fresh" until its stamp is reached.
        (LEVEL, 0.02 + 100.0, "IMU reading is stamped 100 s in the future (watchdog 0.1 s)"),
        (tilted(75.0), 0.02, "fall: trunk tilted 75 deg from upright (limit 60 deg)"),
        ((0.0, 0.0, 0.0), 0.02, "IMU gravity direction has length 0"),
    ],
)
def test_imu_problems_fault_into_damping_mode(a1, gravity, imu_stamp, words) -> None:
    f, pose = active_filter(a1, ramp_time=0.0)
    q = pose + 0.1
    qd = np.full(12, 2.0)
    out = f.step(0.02, 0.02, q, qd, pose, gravity=gravity, imu_stamp=imu_stamp)
    assert out.state is SafetyState.FAULT and words in out.fault_reason
    # Damping mode: targets at the measured positions (zero position gain; the servo's kd damps).
    assert out.mode == "damping"
    np.testing.assert_allclose(out.values, q)
    # ... and they keep following the robot as it sinks, instead of freezing a pose.
    q2 = q - 0.2
    out2 = f.step(0.04, 0.04, q2, qd, pose, gravity=gravity, imu_stamp=imu_stamp)
    assert out2.state is SafetyState.FAULT and out2.mode == "damping"
    np.testing.assert_allclose(out2.values, q2)
    # A reset leaves damping: the inactive robot holds the last pose (the arm behaviour).
    assert f.reset() is SafetyState.INACTIVE
    out3 = f.step(0.06, 0.06, q2, qd, pose)
    assert out3.mode == "position"


def test_tilt_below_the_limit_is_no_fall(a1) -> None:
    f, pose = active_filter(a1, ramp_time=0.0)
    out = f.step(0.02, 0.02, pose, np.zeros(12), pose, gravity=tilted(55.0), imu_stamp=0.02)
    assert out.state is SafetyState.ACTIVE


def test_estop_on_a_legged_robot_is_damping_too(a1) -> None:
    f, pose = active_filter(a1, ramp_time=0.0)
    f.estop(True)
    out = f.step(0.02, 0.02, pose, np.zeros(12), pose, gravity=LEVEL, imu_stamp=0.02)
    assert out.state is SafetyState.FAULT and out.mode == "damping" and out.fault_reason == "e-stop pressed"


def test_soft_start_walks_every_joint_to_the_default_pose_then_hands_over(a1) -> None:
    pose = np.array(a1.default_pose)
    lying = pose.copy()
    lying[2::3] = -2.5  # calves folded: 1 rad from the default pose at most
    f, _ = active_filter(a1, q=lying, ramp_time=0.0, soft_start_speed=1.0)
    policy = pose + 0.3  # ignored while standing up
    outs = []
    t = 0.0
    while t < 1.2:
        t = round(t + 0.02, 10)
        standing = f.soft_starting(t)
        out = f.step(t, t, lying, np.zeros(12), policy, gravity=LEVEL, imu_stamp=t)
        assert out.state is SafetyState.ACTIVE
        outs.append((t, standing, out.values.copy()))
    # Linear at 1 rad/s for the farthest joint: halfway after 0.5 s; at the pose after 1 s.
    half = next(v for t, s, v in outs if t == 0.5)
    np.testing.assert_allclose(half, (lying + pose) / 2, atol=1e-9)
    last_standing = [v for t, s, v in outs if s][-1]
    assert np.max(np.abs(last_standing - pose)) <= 0.02 + 1e-9
    assert all(s for t, s, v in outs if t < 1.0) and not any(s for t, s, v in outs if t > 1.0)
    # Then the policy's command (no ramp configured here).
    np.testing.assert_allclose(outs[-1][2], policy)


def test_controller_runs_no_policy_during_the_soft_start(a1, tmp_path) -> None:
    """The Controller skips (and restarts) the source while the filter stands the robot up."""
    from robot_rl.runtime.controller import Controller

    class CountingSource:
        """A CommandSource that counts how often it commands and how often it is (re)started."""

        kind, needs_imu, task_input = "policy", True, "velocity"

        def __init__(self) -> None:
            self.robot = self.limits_robot = a1
            self.steps = self.resets = 0

        def start(self, now):
            self.resets += 1

        def command(self, now, q, qd, task_input, imu):
            self.steps += 1
            return np.array(a1.default_pose)

        def finished(self, now):
            return False

        def limits_summary(self):
            return "robot.yaml"

        def describe(self):
            return {}

    # no policy file needed for the wiring under test
    ctl = Controller(CountingSource(), safety_config=SafetyConfig.from_robot(a1, ramp_time=0.0))
    pose = np.array(a1.default_pose)
    start = pose.copy()
    start[2] += 0.2  # 0.2 rad away: 0.2 s of soft start
    ctl.activate(0.0, start)

    from sim.state import ImuState

    imu = ImuState(np.array([1.0, 0, 0, 0]), np.zeros(3), np.array([0, 0, 9.81]))
    for i in range(1, 21):
        ctl.step(i * 0.02, i * 0.02, pose, np.zeros(12), np.zeros(3), imu)
    assert ctl.source.steps == 11  # steps 10..20: the first 0.2 s were soft start
    assert ctl.source.resets >= 9

"""One test per rule of the SafetyFilter (robot_rl/runtime/safety.py), on the shipped robots.

cartpole: one force actuator on a limited rail (slider, +-0.8 m, 20 N, 5 m/s) and a passive hinge.
iiwa: seven PD position actuators on revolute joints with limits from its URDF.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot_rl.errors import SafetyError
from robot_rl.runtime import SafeCommand, SafetyConfig, SafetyFilter, SafetyState
from sim.robot import load_robot

DT = 0.02


@pytest.fixture(scope="module")
def cartpole():
    return load_robot("cartpole")


@pytest.fixture(scope="module")
def iiwa():
    return load_robot("iiwa")


def active(robot, q=None, ramp_time=0.0, **config) -> SafetyFilter:
    f = SafetyFilter(robot, SafetyConfig.from_robot(robot, ramp_time=ramp_time, **config))
    n = len(robot.joints)
    assert f.activate(0.0, np.zeros(n) if q is None else q) is SafetyState.ACTIVE
    return f


def step(f: SafetyFilter, t: float, q, qd, cmd) -> SafeCommand:
    return f.step(t, t, np.asarray(q, float), np.asarray(qd, float), np.asarray(cmd, float))


# ---------------------------------------------------------------------------------------- configuration


def test_config_defaults_come_from_robot_yaml(cartpole, iiwa):
    c = SafetyConfig.from_robot(cartpole)
    assert c.position_margin == pytest.approx((0.02 * 1.6, 0.0))  # 2% of the rail; the hinge is unlimited
    assert c.max_change == (20.0,)  # force: the full effort limit per step
    assert c.watchdog_timeout == pytest.approx(5 * DT)
    assert c.control_dt == pytest.approx(DT)
    i = SafetyConfig.from_robot(iiwa)
    assert i.max_change == pytest.approx(tuple(j.velocity_limit * DT for j in iiwa.joints))


def test_config_rejects_meaningless_values_naming_the_joint(cartpole):
    with pytest.raises(SafetyError, match="position_margin of joint 'slider' is 0.9.*no room"):
        SafetyConfig.from_robot(cartpole, position_margin=[0.9, 0.0])
    with pytest.raises(SafetyError, match="max_change of actuator 'slider' is -1"):
        SafetyConfig.from_robot(cartpole, max_change=-1.0)
    with pytest.raises(SafetyError, match="max_change has 2 values; expected one per actuator"):
        SafetyConfig.from_robot(cartpole, max_change=[1.0, 2.0])
    with pytest.raises(SafetyError, match="watchdog_timeout is 0"):
        SafetyConfig.from_robot(cartpole, watchdog_timeout=0.0)
    with pytest.raises(SafetyError, match="ramp_time is -1"):
        SafetyConfig.from_robot(cartpole, ramp_time=-1.0)


# ---------------------------------------------------------------------------------------- states


def test_starts_inactive_and_outputs_the_safe_action(cartpole, iiwa):
    f = SafetyFilter(cartpole)
    out = step(f, 0.0, [0.1, 0.0], [0.0, 0.0], [15.0])
    assert out.state is SafetyState.INACTIVE and out.fault_reason is None
    assert out.values.tolist() == [0.0]  # zero force, whatever the policy asks
    g = SafetyFilter(iiwa)
    q = np.linspace(-0.5, 0.5, 7)
    out = step(g, 0.0, q, np.zeros(7), np.ones(7))
    np.testing.assert_allclose(out.values, q)  # hold where the arm is
    out = step(g, 0.1, q + 0.2, np.zeros(7), np.ones(7))
    np.testing.assert_allclose(out.values, q)  # ... latched: the target does not follow a sagging arm


def test_activate_deactivate_cycle(cartpole):
    f = SafetyFilter(cartpole)
    assert f.activate(0.0, [0.0, 0.0]) is SafetyState.ACTIVE
    assert f.activate(0.1, [0.0, 0.0]) is SafetyState.ACTIVE  # idempotent
    assert f.deactivate() is SafetyState.INACTIVE
    assert step(f, 0.2, [0, 0], [0, 0], [10.0]).values.tolist() == [0.0]
    assert f.activate(0.3, [0.0, 0.0]) is SafetyState.ACTIVE


# ---------------------------------------------------------------------------------------- ramp


def test_force_ramps_from_zero(cartpole):
    f = active(cartpole, ramp_time=0.5)
    assert step(f, 0.0, [0, 0], [0, 0], [10.0]).values[0] == 0.0
    assert step(f, 0.25, [0, 0], [0, 0], [10.0]).values[0] == pytest.approx(5.0)
    assert step(f, 0.5, [0, 0], [0, 0], [10.0]).values[0] == pytest.approx(10.0)
    assert step(f, 0.7, [0, 0], [0, 0], [10.0]).values[0] == pytest.approx(10.0)


def test_position_target_starts_at_the_measured_position(iiwa):
    q0 = np.full(7, 0.3)
    f = active(iiwa, q=q0, ramp_time=1.0)
    first = step(f, 0.0, q0, np.zeros(7), np.full(7, -0.5))
    np.testing.assert_allclose(first.values, q0)
    half = step(f, 0.5, q0, np.zeros(7), np.full(7, -0.5))
    assert np.all(half.values < q0) and np.all(half.values > -0.5)


# ---------------------------------------------------------------------------------------- rate and effort


def test_max_change_per_step(cartpole):
    f = active(cartpole, max_change=3.0)
    values = [step(f, k * DT, [0, 0], [0, 0], [20.0]).values[0] for k in range(5)]
    assert values == pytest.approx([3.0, 6.0, 9.0, 12.0, 15.0])
    assert step(f, 5 * DT, [0, 0], [0, 0], [-20.0]).values[0] == pytest.approx(12.0)


def test_force_is_clipped_to_the_effort_limit(cartpole):
    f = active(cartpole, max_change=100.0)
    assert step(f, 0.0, [0, 0], [0, 0], [55.0]).values[0] == pytest.approx(20.0)
    assert step(f, DT, [0, 0], [0, 0], [-55.0]).values[0] == pytest.approx(-20.0)


def test_position_target_keeps_pd_torque_within_effort(iiwa):
    f = active(iiwa)
    a = iiwa.actuators[0]
    # Moving fast towards -q: the PD law's reach (kp * (target - q) - kd * qd within the limit) ends
    # 0.1 rad below the current position, tighter than the rate limit.
    qd = np.zeros(7)
    qd[0] = (-a.effort_limit / a.kp - 0.1) * a.kp / a.kd
    out = step(f, 0.0, np.zeros(7), qd, np.full(7, 2.0)).values
    assert out[0] == pytest.approx(-0.1)
    torque = a.gain * (a.kp * (out[0] - 0.0) - a.kd * qd[0])
    assert torque == pytest.approx(a.effort_limit)


def test_position_targets_are_rate_limited_to_the_velocity_limit(iiwa):
    f = active(iiwa)
    out = step(f, 0.0, np.zeros(7), np.zeros(7), np.full(7, 0.01)).values  # small: no limit
    np.testing.assert_allclose(out, 0.01)
    out = step(f, DT, np.zeros(7), np.zeros(7), np.full(7, 2.0)).values
    limits = np.array([j.velocity_limit * DT for j in iiwa.joints])
    effort_window = np.array([a.effort_limit / a.kp for a in iiwa.actuators])
    np.testing.assert_allclose(out, 0.01 + np.minimum(limits, effort_window - 0.01))


# ---------------------------------------------------------------------------------------- limits


def test_position_target_clipped_inside_limits_with_margin(iiwa):
    hi = iiwa.joints[0].position_limits[1]
    q = np.zeros(7)
    q[0] = hi - 0.05  # inside the margin band already
    f = active(iiwa, q=q, position_margin=0.1)
    out = step(f, 0.0, q, np.zeros(7), np.full(7, 10.0)).values
    assert out[0] == pytest.approx(hi - 0.1)


def test_force_pushing_past_a_position_limit_is_removed(cartpole):
    f = active(cartpole, position_margin=0.05)
    near_hi = [0.8 - 0.04, 0.0]
    assert step(f, 0.0, near_hi, [0, 0], [10.0]).values[0] == 0.0  # pushing further out: removed
    assert step(f, DT, near_hi, [0, 0], [-10.0]).values[0] == pytest.approx(-10.0)  # pulling back: kept
    beyond_lo = [-0.9, 0.0]
    assert step(f, 2 * DT, beyond_lo, [0, 0], [-10.0]).values[0] == 0.0
    assert step(f, 3 * DT, beyond_lo, [0, 0], [10.0]).values[0] == pytest.approx(10.0)
    assert step(f, 4 * DT, [0.7, 0.0], [0, 0], [10.0]).values[0] == pytest.approx(10.0)  # clear of the band


def test_force_pushing_faster_past_the_velocity_limit_is_removed(cartpole):
    f = active(cartpole)
    assert step(f, 0.0, [0, 0], [5.5, 0], [10.0]).values[0] == 0.0
    assert step(f, DT, [0, 0], [5.5, 0], [-10.0]).values[0] == pytest.approx(-10.0)  # braking is kept
    assert step(f, 2 * DT, [0, 0], [-5.5, 0], [-10.0]).values[0] == 0.0
    assert step(f, 3 * DT, [0, 0], [4.0, 0], [10.0]).values[0] == pytest.approx(10.0)


# ---------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("q", "qd", "cmd", "reason"),
    [
        ([0.0, math.nan], [0, 0], [1.0], "NaN in position of joint 'hinge'"),
        ([0.0, 0.0], [math.inf, 0], [1.0], "inf in velocity of joint 'slider'"),
        ([0.0, 0.0], [0, 0], [math.nan], "NaN in command of actuator 'slider'"),
        ([0.0, 0.0, 0.0], [0, 0], [1.0], "position has 3 values; robot 'cartpole' has 2 joints (slider, hinge)"),
        ([0.0, 0.0], [0, 0], [1.0, 2.0], "command has 2 values; robot 'cartpole' has 1 actuators (slider)"),
        (None, [0, 0], [1.0], "position has 0 values"),
    ],
)
def test_bad_inputs_latch_a_fault_naming_the_input(cartpole, q, qd, cmd, reason):
    f = active(cartpole)
    out = f.step(0.0, 0.0, q, qd, cmd)
    assert out.state is SafetyState.FAULT
    assert out.fault_reason.startswith(reason)
    assert out.values.tolist() == [0.0]
    assert step(f, DT, [0, 0], [0, 0], [1.0]).state is SafetyState.FAULT  # latched


def test_watchdog_names_the_age(cartpole):
    f = active(cartpole)
    out = f.step(1.0, 0.69, [0, 0], [0, 0], [1.0])
    assert out.state is SafetyState.FAULT
    assert out.fault_reason == "state is 0.31 s old (watchdog 0.1 s)"


def test_future_stamps_and_backwards_clocks_are_faults(cartpole):
    f = active(cartpole)
    out = f.step(0.0, 0.5, [0, 0], [0, 0], [1.0])
    assert out.fault_reason == "state is stamped 0.5 s in the future (watchdog 0.1 s)"
    g = active(cartpole)
    step(g, 1.0, [0, 0], [0, 0], [1.0])
    assert g.step(0.9, 0.9, [0, 0], [0, 0], [1.0]).fault_reason == "clock went backwards by 0.1 s"
    h = active(cartpole)
    assert h.step(math.nan, 0.0, [0, 0], [0, 0], [1.0]).fault_reason == "NaN in current time"


def test_nan_at_activation_is_a_fault(iiwa):
    f = SafetyFilter(iiwa)
    q = np.zeros(7)
    q[3] = math.nan
    assert f.activate(0.0, q) is SafetyState.FAULT
    assert f.fault_reason == "NaN in position of joint 'lbr_iiwa_joint_4' at activation"


def test_estop_latches_until_released_and_reset(cartpole):
    f = active(cartpole)
    assert f.estop(True) is SafetyState.FAULT
    assert f.fault_reason == "e-stop pressed"
    assert f.reset() is SafetyState.FAULT  # still pressed: reset refused
    assert f.activate(0.0, [0, 0]) is SafetyState.FAULT  # activation refused in FAULT
    assert f.estop(False) is SafetyState.FAULT  # releasing does not clear it
    assert step(f, DT, [0, 0], [0, 0], [5.0]).values.tolist() == [0.0]
    assert f.reset() is SafetyState.INACTIVE and f.fault_reason is None
    assert f.activate(0.1, [0, 0]) is SafetyState.ACTIVE


def test_estop_while_inactive_blocks_activation(cartpole):
    f = SafetyFilter(cartpole)
    f.estop(True)
    f.estop(False)
    assert f.activate(0.0, [0, 0]) is SafetyState.FAULT


def test_position_fault_holds_where_the_fault_happened(iiwa):
    f = active(iiwa, max_change=10.0)
    q = np.full(7, 0.2)
    step(f, 0.0, q, np.zeros(7), np.full(7, 0.25))
    q_fault = np.full(7, 0.3)
    out = f.step(1.0, 0.0, q_fault, np.zeros(7), np.full(7, 0.9))  # stale state -> fault
    assert out.state is SafetyState.FAULT
    np.testing.assert_allclose(out.values, q_fault)
    later = step(f, 1.1, np.full(7, 0.1), np.ones(7), np.full(7, -0.9))  # the arm moves on: target stays
    np.testing.assert_allclose(later.values, q_fault)
    assert f.reset() is SafetyState.INACTIVE
    np.testing.assert_allclose(step(f, 1.2, np.zeros(7), np.zeros(7), np.zeros(7)).values, q_fault)


def test_position_fault_with_nan_joint_holds_its_last_finite_position(iiwa):
    f = active(iiwa)
    step(f, 0.0, np.full(7, 0.2), np.zeros(7), np.full(7, 0.2))
    q = np.full(7, 0.25)
    q[2] = math.nan
    out = f.step(DT, DT, q, np.zeros(7), np.full(7, 0.2))
    assert out.fault_reason == "NaN in position of joint 'lbr_iiwa_joint_3'"
    expected = np.full(7, 0.25)
    expected[2] = 0.2
    np.testing.assert_allclose(out.values, expected)


def test_step_never_raises_on_garbage(cartpole):
    f = active(cartpole)
    out = f.step(0.0, "yesterday", ["a", "b"], None, object())  # type: ignore[arg-type]
    assert out.state is SafetyState.FAULT and np.isfinite(out.values).all()

"""One test per rule of the SafetyFilter (robot_rl/runtime/safety.py), on the shipped robots.

cartpole: one force actuator on a limited rail (slider, +-0.8 m, 20 N, 5 m/s) and a passive hinge.
iiwa: seven PD position actuators on revolute joints with limits from its URDF.
"""

from __future__ import annotations

import math
import re

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
    with pytest.raises(SafetyError, match="reading_margin of joint 'slider' is -0.1"):
        SafetyConfig.from_robot(cartpole, reading_margin=[-0.1, 0.0])
    with pytest.raises(SafetyError, match="reading_margin of joint 'hinge' is nan"):
        SafetyConfig.from_robot(cartpole, reading_margin=[0.1, math.nan])


def test_reading_margin_default_is_one_period_of_travel_or_5_percent_of_the_range(cartpole, iiwa):
    c = SafetyConfig.from_robot(cartpole)
    assert c.reading_margin == pytest.approx((5.0 * DT, 30.0 * DT))  # 0.1 m > 5% of 1.6 m; hinge unlimited
    i = SafetyConfig.from_robot(iiwa)
    assert i.reading_margin[1] == pytest.approx(0.05 * 2 * 2.09439510239)  # 0.209 rad > 10 rad/s * 20 ms


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
    f = active(cartpole, ramp_time=0.5, watchdog_timeout=1.0)  # steps 0.25 s apart: not a stall
    assert step(f, 0.0, [0, 0], [0, 0], [10.0]).values[0] == 0.0
    assert step(f, 0.25, [0, 0], [0, 0], [10.0]).values[0] == pytest.approx(5.0)
    assert step(f, 0.5, [0, 0], [0, 0], [10.0]).values[0] == pytest.approx(10.0)
    assert step(f, 0.7, [0, 0], [0, 0], [10.0]).values[0] == pytest.approx(10.0)


def test_reactivation_never_carries_a_force_across_zero_in_one_step(cartpole):
    # Found by the property test: 20 N sent, deactivated with no inactive step between (so the wire still
    # carries 20 N), re-activated, commanded -1 N: the ramp starts from zero force, but the first output
    # must not jump from +20 N past zero (it may release towards zero, or move by the rate limit).
    f = active(cartpole)
    effort = cartpole.actuators[0].effort_limit
    t = 0.0
    for _ in range(4):
        last = step(f, t, [0, 0], [0, 0], [effort]).values[0]
        t += 0.02
    assert last == pytest.approx(effort)
    f.deactivate()
    assert f.activate(t, np.zeros(2)) is SafetyState.ACTIVE
    first = step(f, t + 0.02, [0, 0], [0, 0], [-1.0]).values[0]
    assert 0.0 <= first <= effort


def test_position_target_starts_at_the_measured_position(iiwa):
    q0 = np.full(7, 0.3)
    f = active(iiwa, q=q0, ramp_time=1.0, watchdog_timeout=1.0)
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


def test_the_rate_limit_holds_per_second_of_the_callers_clock_not_per_call(iiwa):
    """States arriving ten times a period (500 Hz for a 50 Hz policy) give ten steps a period: each
    may move a target a tenth of a period's change, so a target slews at the joint's velocity limit
    per second of `now`, not ten times that."""
    f = active(iiwa, q=np.zeros(7))
    far = np.full(7, 0.8)  # within every joint's PD reach: only the rate limit holds the target back
    t, values = 0.0, [step(f, 0.0, np.zeros(7), np.zeros(7), np.zeros(7)).values]
    for _ in range(10):  # one control period (20 ms) of states at 500 Hz
        t += 0.002
        out = step(f, t, np.zeros(7), np.zeros(7), far)
        values.append(out.values)
    assert out.state is SafetyState.ACTIVE
    vmax = np.array([j.velocity_limit for j in iiwa.joints])
    travelled = np.abs(values[-1] - values[0])
    assert np.all(travelled <= vmax * 0.02 + 1e-9)  # a per-call limit would have allowed 10x (all 0.8 rad)
    assert np.all(travelled >= 0.99 * vmax * 0.02)  # ... and not slower either
    # Calls at the same instant move nothing: a burst of states is one step's worth of motion.
    again = step(f, t, np.zeros(7), np.zeros(7), far)
    np.testing.assert_array_equal(again.values, values[-1])


def test_a_stalled_caller_faults_instead_of_resuming(cartpole):
    """The caller's own clock jumped past the watchdog between two steps (the process was stopped):
    the next step, however fresh its state, is a watchdog fault, not a resumed drive."""
    f = active(cartpole)
    assert step(f, 0.02, [0, 0], [0, 0], [5.0]).state is SafetyState.ACTIVE
    out = step(f, 2.02, [0, 0], [0, 0], [5.0])  # a fresh state (stamped now), 2 s after the last step
    assert out.state is SafetyState.FAULT and out.values.tolist() == [0.0]
    assert out.fault_reason == "no control step for 2 s (watchdog 0.1 s): the controller stalled; not resuming"
    assert f.fault_kind == "watchdog"


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
    # The cart is teleported between the ends of the rail: a wide reading margin keeps rule 0 quiet.
    f = active(cartpole, q=[0.76, 0.0], position_margin=0.05, reading_margin=2.0)
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
    step(g, 0.05, [0, 0], [0, 0], [1.0])
    assert g.step(0.03, 0.03, [0, 0], [0, 0], [1.0]).fault_reason == "clock went backwards by 0.02 s"
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


def test_external_fault_is_latched_with_its_reason(cartpole):
    f = active(cartpole)
    assert f.external_fault("second publisher on /commands") is SafetyState.FAULT
    assert f.fault_kind == "external" and f.fault_reason == "second publisher on /commands"
    assert step(f, DT, [0, 0], [0, 0], [5.0]).values.tolist() == [0.0]
    assert f.reset() is SafetyState.INACTIVE and f.fault_kind is None


def test_fault_kinds_say_what_kind_of_fault_was_latched(cartpole):
    f = active(cartpole)
    f.step(1.0, 0.69, [0, 0], [0, 0], [1.0])
    assert f.fault_kind == "watchdog"
    g = active(cartpole)
    g.step(0.0, 0.0, [0.0, math.nan], [0, 0], [1.0])
    assert g.fault_kind == "input"
    h = active(cartpole)
    h.estop(True)
    assert h.fault_kind == "estop"
    k = active(cartpole)
    k.step(0.0, 0.5, [0, 0], [0, 0], [1.0])
    assert k.fault_kind == "clock"


# ---------------------------------------------------------------------------------------- rule 0: readings


def iiwa_run(f: SafetyFilter, readings, t0: float = 0.0, cmd=None) -> list[SafeCommand]:
    """Step the arm through position readings, one per period, asking for `cmd` (default: stay put)."""
    outs = []
    for k, q in enumerate(readings):
        t = t0 + k * DT
        outs.append(step(f, t, q, np.zeros(7), q if cmd is None else cmd))
    return outs


def test_one_absurd_reading_on_a_position_arm_is_a_sensor_fault_that_holds_the_trusted_position(iiwa):
    """The probe of issue 10: q = 1e6 rad on a joint of range +-2.09 once moved the target 2 rad."""
    q = np.full(7, 0.3)
    f = active(iiwa, q=q)
    before = iiwa_run(f, [q] * 3, cmd=np.full(7, 0.5))[-1].values  # the target climbs towards 0.5
    glitch = q.copy()
    glitch[1] = 1e6
    out = step(f, 3 * DT, glitch, np.zeros(7), np.full(7, 0.5))
    assert out.state is SafetyState.FAULT and f.fault_kind == "sensor"
    assert out.fault_reason.startswith("sensor fault (range): position of joint 'lbr_iiwa_joint_2' reads 1e+06 rad")
    assert "outside its range [-2.094, 2.094] by more than 0.209 rad" in out.fault_reason
    d = np.array([j.velocity_limit * DT for j in iiwa.joints])
    assert np.all(np.abs(out.values - before) <= d + 1e-12)  # the rate limit holds on the fault path too
    later = iiwa_run(f, [q] * 10, t0=4 * DT)
    for a, b in zip([out] + later, later, strict=False):
        assert np.all(np.abs(b.values - a.values) <= d + 1e-12)
    np.testing.assert_allclose(later[-1].values, q)  # hold: the last trusted reading, not the glitch
    assert f.trusted_positions[1] == pytest.approx(0.3)


def test_a_jump_faster_than_the_velocity_limit_is_a_sensor_fault(iiwa):
    q = np.zeros(7)
    f = active(iiwa, q=q)
    margin = f.config.reading_margin[0]
    allowed = 10.0 * DT + margin
    ok = q.copy()
    ok[0] = 0.99 * allowed  # just possible in one period: trusted
    assert step(f, DT, ok, np.zeros(7), ok).state is SafetyState.ACTIVE
    bad = ok.copy()
    bad[0] += 1.01 * allowed
    out = step(f, 2 * DT, bad, np.zeros(7), ok)
    assert out.state is SafetyState.FAULT and f.fault_kind == "sensor"
    assert re.fullmatch(
        r"sensor fault \(jump\): position of joint 'lbr_iiwa_joint_1' reads 0\.99\d+ rad, 0\.50\d rad from the last "
        r"trusted reading 0\.49\d+ rad, 0\.02 s earlier; at most 0\.497 rad is possible at its velocity limit 10 rad/s",
        out.fault_reason,
    ), out.fault_reason
    assert out.values[0] == pytest.approx(ok[0], abs=0.2)  # on its way to the trusted reading, rate-limited
    np.testing.assert_allclose(iiwa_run(f, [ok] * 5, t0=3 * DT)[-1].values, ok)


def test_a_longer_gap_between_stamps_allows_a_longer_move(iiwa):
    f = active(iiwa)
    q = np.zeros(7)
    q[0] = 0.8  # 10 rad/s for 0.1 s = 1 rad: possible
    assert step(f, 0.1, q, np.zeros(7), q).state is SafetyState.ACTIVE


def test_a_continuous_joint_swinging_from_max_float_to_minus_max_float_is_a_jump_not_a_crash(cartpole):
    """1e308 then -1e308 on the unlimited hinge: the difference overflows to inf (found by hypothesis)."""
    f = active(cartpole, reading_margin=2.0)
    step(f, 0.02, [0.0, 1e308], [0.0, 0.0], [0.0])
    out = step(f, 0.04, [0.0, -1e308], [0.0, 0.0], [0.0])
    assert out.state is SafetyState.FAULT
    assert out.fault_reason.startswith("sensor fault (jump): position of joint 'hinge'")


def test_frozen_then_jumping_reading_is_a_sensor_fault(iiwa):
    """A frozen encoder that catches up at once: each frozen reading is the reference for the next."""
    q = np.zeros(7)
    f = active(iiwa, q=q)
    iiwa_run(f, [q] * 10)
    jumped = q.copy()
    jumped[3] = 0.6
    out = step(f, 10 * DT, jumped, np.zeros(7), q)
    assert out.state is SafetyState.FAULT and "(jump): position of joint 'lbr_iiwa_joint_4'" in out.fault_reason


def test_spike_then_nan_holds_the_last_trusted_position(iiwa):
    q = np.full(7, -0.2)
    f = active(iiwa, q=q)
    iiwa_run(f, [q] * 3)
    spike = q.copy()
    spike[5] = 1.5
    assert step(f, 3 * DT, spike, np.zeros(7), q).state is SafetyState.FAULT
    assert f.fault_kind == "sensor"
    nan = q.copy()
    nan[5] = math.nan
    outs = iiwa_run(f, [nan] * 10, t0=4 * DT)
    assert f.fault_reason.startswith("sensor fault (jump)")  # the first fault stays latched
    np.testing.assert_allclose(outs[-1].values, q)


def test_continuous_joints_compare_modulo_two_pi(cartpole):
    f = active(cartpole, q=[0.0, math.pi - 0.05])
    assert step(f, DT, [0.0, -math.pi + 0.05], [0, 0], [0.0]).state is SafetyState.ACTIVE  # a wrapping driver
    out = step(f, 2 * DT, [0.0, -math.pi + 1.5], [0, 0], [0.0])
    assert out.state is SafetyState.FAULT and "(jump): position of joint 'hinge'" in out.fault_reason


def test_a_glitch_while_inactive_latches_and_blocks_activation_until_reset(cartpole):
    f = SafetyFilter(cartpole)
    step(f, 0.0, [0.1, 0.0], [0, 0], [0.0])
    out = step(f, DT, [5.0, 0.0], [0, 0], [0.0])
    assert out.state is SafetyState.FAULT and out.fault_reason.startswith(
        "sensor fault (range): position of joint 'slider' reads 5 m, outside its range [-0.8, 0.8]"
    )
    assert f.activate(2 * DT, [0.1, 0.0]) is SafetyState.FAULT
    assert f.reset() is SafetyState.INACTIVE
    # reset forgets the jump reference: the robot may have been moved while the sensor was checked
    assert f.activate(10.0, [0.5, 0.0]) is SafetyState.ACTIVE


def test_an_implausible_reading_at_activation_is_a_sensor_fault(iiwa):
    f = SafetyFilter(iiwa)
    step(f, 0.0, np.zeros(7), np.zeros(7), np.zeros(7))
    q = np.zeros(7)
    q[2] = 1.0
    assert f.activate(0.0, q) is SafetyState.FAULT
    assert f.fault_reason.startswith("sensor fault (jump): position of joint 'lbr_iiwa_joint_3'")
    assert f.fault_reason.endswith("at activation")


# ---------------------------------------------------------------------------------------- rate on every path


def test_rate_limit_wins_over_the_pd_reach_when_the_arm_was_pushed(iiwa):
    """The arm is pushed fast (plausibly): the PD window moves away, the target follows at the rate limit."""
    f = active(iiwa)
    d = np.array([j.velocity_limit * DT for j in iiwa.joints])
    prev = np.zeros(7)
    q = np.zeros(7)
    for k in range(1, 8):
        q = q + 0.35  # 17.5 rad/s reading... within one period of travel plus the reading margin
        out = step(f, k * DT, np.minimum(q, 1.9), np.full(7, 17.5), np.minimum(q, 1.9)).values
        assert np.all(np.abs(out - prev) <= d + 1e-12), (k, out - prev)
        prev = out


def test_deactivation_moves_the_target_to_the_trusted_position_at_the_rate_limit(iiwa):
    q = np.zeros(7)
    f = active(iiwa, q=q)
    outs = iiwa_run(f, [q] * 5, cmd=np.full(7, 0.9))
    assert np.all(outs[-1].values > 0.5)
    f.deactivate()
    held = iiwa_run(f, [q] * 8, t0=5 * DT)
    d = np.array([j.velocity_limit * DT for j in iiwa.joints])
    for a, b in zip([outs[-1]] + held, held, strict=False):
        assert np.all(np.abs(b.values - a.values) <= d + 1e-12)
    np.testing.assert_allclose(held[-1].values, q)


def test_force_is_released_at_once_even_with_a_small_rate_limit(cartpole):
    """The one documented exception: rule 4 and the safe action move a force towards zero at once."""
    f = active(cartpole, max_change=3.0)
    values = [step(f, k * DT, [0, 0], [0, 0], [20.0]).values[0] for k in range(5)]
    assert values[-1] == pytest.approx(15.0)
    assert step(f, 5 * DT, [0, 0], [5.5, 0], [20.0]).values[0] == 0.0  # too fast: force removed at once
    assert step(f, 6 * DT, [0, 0], [0, 0], [20.0]).values[0] == pytest.approx(3.0)  # ... and rate-limited again
    f.estop(True)
    assert step(f, 7 * DT, [0, 0], [0, 0], [20.0]).values[0] == 0.0


def test_forget_readings_accepts_a_move_the_caller_saw(cartpole):
    """A simulator's new episode teleports the cart: the caller says so, the filter stays active."""
    f = active(cartpole, q=[0.3, 0.0])
    f.forget_readings()
    assert step(f, DT, [-0.4, 1.0], [0, 0], [0.0]).state is SafetyState.ACTIVE
    assert step(f, 2 * DT, [0.4, 1.0], [0, 0], [0.0]).state is SafetyState.FAULT  # only the next one


def test_relocated_restarts_the_rate_limit_from_the_new_pose_but_never_while_active(iiwa):
    """A simulator's new episode: the old episode's last target (1.0) must not drag the arm that
    now sits at 0 back towards it; the first target after re-activation is the measured pose."""
    f = active(iiwa, q=np.full(7, 1.0))
    for k in range(1, 4):
        step(f, k * DT, np.full(7, 1.0), np.zeros(7), np.full(7, 0.5))
    with pytest.raises(SafetyError, match="while active"):
        f.relocated()
    assert f.reset() is SafetyState.INACTIVE
    f.relocated()
    assert f.activate(4 * DT, np.zeros(7)) is SafetyState.ACTIVE
    out = step(f, 5 * DT, np.zeros(7), np.zeros(7), np.zeros(7))
    assert out.state is SafetyState.ACTIVE
    np.testing.assert_allclose(out.values, 0.0, atol=1e-12)


def test_activation_starts_the_rate_limit_from_the_last_target_sent(iiwa):
    """Inactive, the arm holds 0 while it sags to 0.5: the first active target is within one rate
    step of the held target, not a jump to where the arm now is."""
    f = SafetyFilter(iiwa, SafetyConfig.from_robot(iiwa, ramp_time=0.0))
    d = np.array([j.velocity_limit * DT for j in iiwa.joints])
    held = [step(f, k * DT, np.full(7, 0.05 * k), np.zeros(7), np.zeros(7)).values for k in range(11)]
    np.testing.assert_allclose(held[-1], 0.0)
    assert f.activate(10 * DT, np.full(7, 0.5)) is SafetyState.ACTIVE
    out = step(f, 11 * DT, np.full(7, 0.5), np.zeros(7), np.full(7, 0.5)).values
    assert np.all(np.abs(out - held[-1]) <= d + 1e-12) and np.all(out > 0.0)

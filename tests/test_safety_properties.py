"""Property tests of the SafetyFilter: any sequence of inputs keeps every output finite and in its limits.

A hypothesis state machine feeds the filter arbitrary interleavings of control steps (plausible
readings, glitched readings, NaN/inf/huge values, wrong lengths, stale, future and backwards time
stamps, stamps running faster than the caller's clock, a caller that stalls, and on the A1 IMU
readings stale or stamped in the future), activations, deactivations, e-stop presses and releases,
and resets. After every call it checks:

* outputs are finite, one per actuator, and change by at most the rate limit per period, on every
  path (active, hold, fault, activation); and per second of the caller's clock: a call made a
  fraction of a period after the previous output may use only that fraction of the change (a
  force may always fall towards zero: the documented release);
* an ACTIVE output only ever answers fresh inputs: a state (and on the A1 an IMU reading) stamped
  within the watchdog of ``now`` either way, and a previous active step within the watchdog (a
  caller that stalled faults instead of resuming) -- whatever the stamps claimed before;
* position targets lie in [lower + margin, upper - margin]; forces within the effort limit, and
  never pushing a joint further past a position band or velocity limit;
* while ACTIVE, the output lies in the intersection of the rate, effort and limit intervals
  whenever that intersection is not empty (the rules are met together when they can be);
* in INACTIVE and FAULT: zero force, and a position target moving monotonically towards one latched
  hold position;
* a fault stays latched (state FAULT, same reason) until reset() with the e-stop released;
* the same inputs give the same outputs (a twin filter is fed the same sequence).

`test_safety_glitches.py` drives >= 10k glitch sequences per robot against an independent model of
the sensor rules and checks the hold target exactly.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from robot_rl.runtime import SafeCommand, SafetyConfig, SafetyFilter, SafetyState
from sim.robot import load_robot

ROBOTS = {name: load_robot(name) for name in ("cartpole", "iiwa", "a1")}
LEVEL = (0.0, 0.0, -1.0)
EPS = 1e-9

SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 1e12])
ordinary = st.floats(-4.0, 4.0, allow_nan=False)
anything = st.one_of(ordinary, SPECIAL, st.floats(allow_nan=True, allow_infinity=True))


def rule_constants(robot, config: SafetyConfig) -> list[dict]:
    """Each actuator's bounds, derived here from robot.yaml and the config (not read from the filter)."""
    out = []
    for a, change in zip(robot.actuators, config.max_change, strict=True):
        j = robot.joint_names.index(a.joint)
        joint, margin = robot.joints[j], config.position_margin[j]
        lo, hi = (
            (joint.position_limits[0] + margin, joint.position_limits[1] - margin)
            if joint.position_limits
            else (-math.inf, math.inf)
        )
        effort = min(a.effort_limit, joint.effort_limit) if joint.effort_limit > 0 else a.effort_limit
        force = a.type == "force"
        out.append(
            {
                "joint": j,
                "force": force,
                "lo": lo,
                "hi": hi,
                "vmax": joint.velocity_limit,
                "effort": effort / a.gain if force else effort / (a.gain * a.kp),
                "ratio": 0.0 if force else a.kd / a.kp,
                "max_change": change if force else min(change, joint.velocity_limit * config.control_dt),
            }
        )
    return out


def reading_bounds(robot, config: SafetyConfig) -> list[tuple[float, float, float]]:
    """Per joint: (lower, upper, slack) of plausible readings, from robot.yaml and the config."""
    return [
        (
            j.position_limits[0] if j.position_limits else -math.inf,
            j.position_limits[1] if j.position_limits else math.inf,
            m,
        )
        for j, m in zip(robot.joints, config.reading_margin, strict=True)
    ]


def vectors(n: int, elements=ordinary):
    return st.lists(elements, min_size=n, max_size=n)


class SafetyMachine(RuleBasedStateMachine):
    robot_name = "cartpole"

    def __init__(self):
        super().__init__()
        self.robot = ROBOTS[self.robot_name]
        self.n, self.na = len(self.robot.joints), len(self.robot.actuators)
        config = SafetyConfig.from_robot(self.robot, ramp_time=0.1)
        self.filter = SafetyFilter(self.robot, config)
        self.twin = SafetyFilter(self.robot, config)
        self.config = config
        self.acts = rule_constants(self.robot, config)
        self.bounds = reading_bounds(self.robot, config)
        self.last_output: np.ndarray | None = None  # the previous output, whatever the state
        self.direction = [0.0] * self.na  # sign of the last hold movement per actuator
        self.seen_finite = [False] * self.n
        self.now = 0.0
        self.prev_active_output: np.ndarray | None = None
        self.latched: str | None = None  # fault reason the model expects to persist
        self.held: np.ndarray | None = None  # position targets output in the current non-active stretch
        self.estop_down = False
        self.was_active = False
        self.t_out = -math.inf  # `now` of the last output, by the documented rule (rate per second of `now`)
        self.t_active_step = -math.inf  # `now` of the last ACTIVE step (or activation)
        self.legged = config.max_tilt is not None
        self.t_activated, self.max_force_asked = 0.0, 0.0
        self.held_known: list[bool] = []

    # -------------------------------------------------------------- helpers

    def both(self, method: str, *args, **kwargs):
        self.was_active = self.filter.state is SafetyState.ACTIVE
        a, b = getattr(self.filter, method)(*args, **kwargs), getattr(self.twin, method)(*args, **kwargs)
        if isinstance(a, SafeCommand):
            assert np.array_equal(a.values, b.values) and a.state == b.state and a.fault_reason == b.fault_reason
        else:
            assert a == b
        return a

    def after_operator_input(self, state: SafetyState) -> None:
        if self.latched is not None:
            assert state is SafetyState.FAULT and self.filter.fault_reason == self.latched
        elif state is SafetyState.FAULT:
            self.latched = self.filter.fault_reason
        if state is not SafetyState.ACTIVE:
            self.prev_active_output = None
        if state is SafetyState.ACTIVE and not self.was_active:
            self.t_activated, self.max_force_asked = self.now, 0.0
            self.t_active_step = self.now
        if state is SafetyState.ACTIVE or self.was_active:
            self.held = None  # leaving ACTIVE latches a new hold position

    def imu(self, data, now: float) -> dict:
        """The IMU inputs of a legged robot's step: level, stamped a little late, or (rarely) stale or
        stamped far in the future, the reading that once kept a silent IMU "fresh"."""
        if not self.legged:
            return {}
        lag = data.draw(st.one_of(st.floats(0.0, 0.05), st.sampled_from([-100.0, -0.5, 0.3, math.nan])))
        return {"gravity": LEVEL, "imu_stamp": now - lag}

    def do_step(self, now, stamp, q, qd, cmd, **imu) -> SafeCommand:
        """One step of both filters, checked."""
        was_active = self.filter.state is SafetyState.ACTIVE
        rate = self.rate_fraction(now)
        out = self.both("step", now, stamp, q, qd, cmd, **imu)
        self.check_output(out, q, qd, cmd, now, was_active, rate)
        if out.state is SafetyState.ACTIVE:
            self.check_fresh(now, stamp, imu)
            self.t_active_step = now
        return out

    def rate_fraction(self, now) -> float:
        """The documented rate rule: the time since the previous output in control periods, at most 1."""
        dt = now - self.t_out
        if not dt > 0.0:
            return 0.0
        if math.isfinite(now):
            self.t_out = now
        return min(1.0, dt / self.config.control_dt)

    def check_fresh(self, now: float, stamp: float, imu: dict) -> None:
        """ACTIVE answers only fresh inputs, whatever was stamped before, and never after a stall."""
        timeout = self.config.watchdog_timeout
        assert abs(now - stamp) <= timeout, (now, stamp)
        assert now - self.t_active_step <= timeout, (now, self.t_active_step)
        if self.legged:
            assert abs(now - imu["imu_stamp"]) <= timeout, (now, imu)

    def check_output(self, out: SafeCommand, q: list, qd: list, cmd: list, now: float, was_active: bool,
                     rate: float) -> None:
        values = out.values
        if out.state is SafetyState.ACTIVE:
            self.check_ramp(values, cmd, now)
        assert values.shape == (self.na,) and np.isfinite(values).all()
        self.check_rate(values, rate)
        assert (out.fault_reason is not None) == (out.state is SafetyState.FAULT)
        if self.latched is not None:
            assert out.state is SafetyState.FAULT and out.fault_reason == self.latched
        finite_state = len(q) == len(qd) == self.n and all(math.isfinite(v) for v in q + qd)
        if len(q) == self.n:
            for j, v in enumerate(q):
                self.seen_finite[j] |= isinstance(v, float) and math.isfinite(v)
        for k, a in enumerate(self.acts):
            v = values[k]
            assert a["lo"] - EPS <= v <= a["hi"] + EPS if not a["force"] else abs(v) <= a["effort"] + EPS
            if a["force"] and out.state is SafetyState.ACTIVE and finite_state:
                qj, qdj = q[a["joint"]], qd[a["joint"]]
                if qj >= a["hi"] or qdj >= a["vmax"]:
                    assert v <= 0.0
                if qj <= a["lo"] or qdj <= -a["vmax"]:
                    assert v >= 0.0
            if out.state is not SafetyState.ACTIVE and a["force"]:
                assert v == 0.0
        if out.state is SafetyState.ACTIVE and was_active and self.prev_active_output is not None:
            self.check_intersection(values, self.prev_active_output, q, qd, rate)
        if out.state is SafetyState.ACTIVE:
            self.prev_active_output = values.copy()
            self.held = None
        else:
            self.prev_active_output = None
            if out.mode == "damping":  # legged FAULT: targets follow the robot, no latched hold to approach
                self.held = None
            else:
                self.check_held(values)

    def check_rate(self, values: np.ndarray, rate: float) -> None:
        """Every output, in every state, is within max_change of the previous one (default config:
        for a force actuator that is the full effort range, so releasing to zero is within it too),
        and within `rate` x max_change unless it is a force falling towards zero."""
        if self.last_output is not None:
            for k, a in enumerate(self.acts):
                prev, v = self.last_output[k], values[k]
                assert abs(v - prev) <= a["max_change"] * (1 + 1e-12) + 1e-12, (k, prev, v)
                releasing = a["force"] and abs(v) <= abs(prev) and v * prev >= 0.0
                if not releasing:
                    assert abs(v - prev) <= rate * a["max_change"] * (1 + 1e-12) + 1e-12, (k, prev, v, rate)
        self.last_output = values.copy()

    def check_ramp(self, values: np.ndarray, cmd: list, now: float) -> None:
        """During the start-up ramp a force is at most ramp fraction x the largest force asked for so far."""
        self.max_force_asked = max(
            [self.max_force_asked] + [abs(cmd[k]) for k, a in enumerate(self.acts) if a["force"]]
        )
        s = min(1.0, (now - self.t_activated) / self.config.ramp_time)
        for k, a in enumerate(self.acts):
            if a["force"]:
                assert abs(values[k]) <= s * self.max_force_asked + EPS

    def check_intersection(self, values: np.ndarray, prev: np.ndarray, q: list, qd: list, rate: float) -> None:
        """Where the rate (per second of `now`), effort and limit intervals intersect, the output is
        inside all three."""
        for k, a in enumerate(self.acts):
            qj, qdj, e = q[a["joint"]], qd[a["joint"]], a["effort"]
            lo, hi = prev[k] - rate * a["max_change"], prev[k] + rate * a["max_change"]
            if a["force"]:
                e_lo, e_hi = -e, e
                l_lo = 0.0 if (qj <= a["lo"] or qdj <= -a["vmax"]) else -e
                l_hi = 0.0 if (qj >= a["hi"] or qdj >= a["vmax"]) else e
            else:
                c = qj + a["ratio"] * qdj
                e_lo, e_hi, l_lo, l_hi = c - e, c + e, a["lo"], a["hi"]
            lo, hi = max(lo, e_lo, l_lo), min(hi, e_hi, l_hi)
            if lo <= hi and all(math.isfinite(x) for x in (lo, hi)):
                tol = 1e-9 * max(1.0, abs(lo), abs(hi))
                assert lo - tol <= values[k] <= hi + tol, (k, values[k], lo, hi)

    def check_held(self, values: np.ndarray) -> None:
        """In a non-active stretch, a position target whose hold is latched moves monotonically towards
        it (a hold target that changed would make it turn back)."""
        if self.held is None:
            self.direction = [0.0] * self.na
        else:
            for k, a in enumerate(self.acts):
                if a["force"] or not self.held_known[k]:
                    continue
                change = values[k] - self.held[k]
                if change != 0.0:
                    assert self.direction[k] * change >= 0.0, (k, self.held[k], values[k])
                    self.direction[k] = math.copysign(1.0, change)
        self.held = values.copy()
        trusted = self.filter.trusted_positions  # a hold is latched exactly for joints read plausibly
        self.held_known = [bool(math.isfinite(trusted[a["joint"]])) for a in self.acts]

    # -------------------------------------------------------------- rules

    def plausible(self, data) -> list[float]:
        """Readings the sensor rules accept: within 90% of the reading margin of the filter's trusted
        readings (any time stamps), and of the range; free where nothing is trusted yet."""
        trusted = self.filter.trusted_positions
        moves = data.draw(vectors(self.n, st.floats(-0.9, 0.9)))
        q = []
        for j, (lo, hi, m) in enumerate(self.bounds):
            base = trusted[j] if math.isfinite(trusted[j]) else (0.0 if math.isinf(lo) else (lo + hi) / 2)
            v = base + moves[j] * m
            q.append(min(max(v, lo - 0.9 * m), hi + 0.9 * m))
        return q

    def ordinary_step(self, data) -> None:
        """A plausible control step: readings near the trusted ones, around and beyond the limits, any command."""
        self.now += data.draw(st.floats(0.0, 0.04))
        lag = data.draw(st.floats(0.0, 0.05))
        q = self.plausible(data)
        qd = data.draw(vectors(self.n, st.floats(-12.0, 12.0)))
        cmd = data.draw(vectors(self.na, st.floats(-40.0, 40.0)))
        self.do_step(self.now, self.now - lag, q, qd, cmd, **self.imu(data, self.now))

    @rule(steps=st.integers(1, 6), data=st.data())
    def ordinary_steps(self, steps, data):
        for _ in range(steps):
            self.ordinary_step(data)

    @precondition(lambda self: self.filter.state is SafetyState.INACTIVE)
    @rule(steps=st.integers(1, 8), data=st.data())
    def activate_and_run(self, steps, data):
        """The common case, made common: activate from a plausible state, then run."""
        q = self.plausible(data)
        for j, v in enumerate(q):
            self.seen_finite[j] |= math.isfinite(v)
        self.after_operator_input(self.both("activate", self.now, q))
        for _ in range(steps):
            self.ordinary_step(data)

    @rule(dt=anything, lag=anything, data=st.data())
    def wild_step(self, dt, lag, data):
        now = self.now + dt
        q = data.draw(st.one_of(vectors(self.n, anything), st.lists(ordinary, max_size=self.n + 2)))
        qd = data.draw(vectors(self.n, anything))
        cmd = data.draw(st.one_of(vectors(self.na, anything), st.lists(anything, max_size=self.na + 1)))
        imu = self.imu(data, now) if math.isfinite(now) or not self.legged else {"gravity": LEVEL, "imu_stamp": now}
        self.do_step(now, now - lag, q, qd, cmd, **imu)
        if math.isfinite(now):
            self.now = max(self.now, now) if abs(now) < 1e6 else self.now

    @rule(joint=st.integers(0, 6), value=st.sampled_from([1e6, -1e6, 5.0, -5.0, 1.5, math.nan]), data=st.data())
    def glitch_step(self, joint, value, data):
        """One reading of one joint spikes (or is NaN) while the others stay plausible."""
        self.now += 0.02
        q = self.plausible(data)
        j = joint % self.n
        q[j] = value if not math.isfinite(value) or abs(value) > 2 else q[j] + value
        cmd = data.draw(vectors(self.na, st.floats(-40.0, 40.0)))
        qd = [0.0] * self.n
        self.do_step(self.now, self.now, q, qd, cmd, **self.imu(data, self.now))

    @rule(steps=st.integers(2, 12), data=st.data())
    def fast_clock(self, steps, data):
        """States stamped a period apart but arriving a tenth of a period apart (a robot clock running
        ten times too fast, or a forged stream): the caller's clock decides the rate limit, and the
        stamps soon run into the future, which faults."""
        stamp = self.now
        for _ in range(steps):
            self.now += self.config.control_dt / 10
            stamp += self.config.control_dt
            q = self.plausible(data)
            cmd = data.draw(vectors(self.na, st.floats(-40.0, 40.0)))
            self.do_step(self.now, stamp, q, [0.0] * self.n, cmd, **self.imu(data, self.now))

    @rule(pause=st.floats(1.01, 30.0), data=st.data())
    def stall(self, pause, data):
        """The caller stops for longer than the watchdog (SIGSTOP), then steps with a fresh state."""
        was_active = self.filter.state is SafetyState.ACTIVE
        self.now += pause * self.config.watchdog_timeout
        q = self.plausible(data)
        out = self.do_step(self.now, self.now, q, [0.0] * self.n, [0.0] * self.na,
                           **({"gravity": LEVEL, "imu_stamp": self.now} if self.legged else {}))
        if was_active:
            assert out.state is SafetyState.FAULT and self.filter.fault_kind == "watchdog"

    @rule(data=st.data())
    def activate(self, data):
        q = data.draw(st.one_of(vectors(self.n), vectors(self.n, anything)))
        before = self.filter.state
        state = self.both("activate", self.now, q)
        if before is SafetyState.INACTIVE:  # activate() ignores q in other states
            for j, v in enumerate(q):
                self.seen_finite[j] |= math.isfinite(v)
        self.after_operator_input(state)
        if state is SafetyState.ACTIVE:
            self.prev_active_output = None

    @rule()
    def deactivate(self):
        self.after_operator_input(self.both("deactivate"))

    @rule(pressed=st.booleans())
    def estop(self, pressed):
        self.estop_down = pressed
        state = self.both("estop", pressed)
        if pressed:
            assert state is SafetyState.FAULT
        self.after_operator_input(state)

    @rule()
    def reset(self):
        state = self.both("reset")
        if self.estop_down:
            assert state is SafetyState.FAULT
        else:
            assert state is SafetyState.INACTIVE and self.filter.fault_reason is None
            self.latched = None
        self.after_operator_input(state)

    @precondition(lambda self: self.filter.state is SafetyState.FAULT)
    @rule()
    def activation_is_refused_in_fault(self):
        assert self.both("activate", self.now, [0.0] * self.n) is SafetyState.FAULT

    @invariant()
    def state_is_known(self):
        assert self.filter.state in (SafetyState.INACTIVE, SafetyState.ACTIVE, SafetyState.FAULT)
        if self.latched is not None:
            assert self.filter.state is SafetyState.FAULT


class IiwaSafetyMachine(SafetyMachine):
    robot_name = "iiwa"


class A1SafetyMachine(SafetyMachine):
    """A legged robot: IMU inputs in every step, damping mode in FAULT, soft start to the default pose."""

    robot_name = "a1"


SETTINGS = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestCartpoleSafety = SafetyMachine.TestCase
TestCartpoleSafety.settings = SETTINGS
TestIiwaSafety = IiwaSafetyMachine.TestCase
TestIiwaSafety.settings = SETTINGS
TestA1Safety = A1SafetyMachine.TestCase
TestA1Safety.settings = SETTINGS

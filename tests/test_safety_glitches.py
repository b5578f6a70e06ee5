"""Glitching sensors against the SafetyFilter: >= 10k hypothesis sequences per robot.

Each example is a short control run of an active filter on a robot moving plausibly (every joint
at a constant fraction of its velocity limit, bouncing inside its range), whose readings glitch:

* ``spike``: one reading of one joint is off by a multiple of what the joint can move in a period;
* ``spike_then_nan``: the same, followed by NaN readings of that joint;
* ``frozen_then_jump``: a joint's reading freezes for a few periods, then jumps (to where the
  joint really is, plus an offset that may be zero);
* ``spike_then_recover``: a spike, then true readings again.

Up to three glitches per run, adversarial policy commands (up to 100 times the limits), and,
after a fault, sometimes an operator reset and re-activation. The position-controlled arm (iiwa,
7 PD targets) and the force-controlled cart-pole are both run. After every period the test checks:

* 0 commands that leave the limits (target inside [lower + margin, upper - margin]; force within
  the effort limit) or change by more than the rate limit from the previous command, on any path;
* the filter faults exactly when an independent model of the sensor rules (range and jump, written
  here from robot.yaml and the config, not read from the filter) says a reading is implausible, or a
  reading is NaN, and names the joint and the rule;
* after a fault, each position target moves towards the model's *last trusted* reading of its joint
  (never a glitched one) at the rate limit: the exact value is checked every period.

The number of examples each test ran is counted, asserted >= 10 000 and printed with the wall time
(``pytest -s tests/test_safety_glitches.py``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_rl.runtime import SafetyConfig, SafetyFilter, SafetyState
from sim.robot import load_robot

EXAMPLES = int(__import__("os").environ.get("GLITCH_EXAMPLES", 10_000))
DT = 0.02
KINDS = ("spike", "spike_then_nan", "frozen_then_jump", "spike_then_recover")
TOL = 1e-9


class Model:
    """The robot, its readings, and the sensor rules of robot_rl/runtime/safety.py, restated."""

    def __init__(self, name: str) -> None:
        self.robot = robot = load_robot(name)
        self.config = config = SafetyConfig.from_robot(robot, ramp_time=0.1)
        self.n, self.na = len(robot.joints), len(robot.actuators)
        self.lower = [j.position_limits[0] if j.position_limits else -math.inf for j in robot.joints]
        self.upper = [j.position_limits[1] if j.position_limits else math.inf for j in robot.joints]
        self.vmax = [j.velocity_limit for j in robot.joints]
        self.slack = list(config.reading_margin)
        self.wraps = [j.type == "continuous" for j in robot.joints]
        self.acts = []
        for a, change in zip(robot.actuators, config.max_change, strict=True):
            j = robot.joint_names.index(a.joint)
            joint, margin = robot.joints[j], config.position_margin[j]
            force = a.type == "force"
            lo, hi = (-math.inf, math.inf)
            if joint.position_limits:
                lo, hi = self.lower[j] + margin, self.upper[j] - margin
            effort = min(a.effort_limit, joint.effort_limit) if joint.effort_limit > 0 else a.effort_limit
            self.acts.append(
                {
                    "joint": j,
                    "force": force,
                    "lo": lo,
                    "hi": hi,
                    "effort": effort / a.gain,
                    "d": change if force else min(change, joint.velocity_limit * config.control_dt),
                }
            )

    def true_positions(self, start: list[float], speed: list[float], steps: int) -> list[list[float]]:
        """Each joint at a constant fraction of its velocity limit, bouncing inside its range."""
        out = []
        for k in range(steps):
            q = []
            for j in range(self.n):
                travel = speed[j] * self.vmax[j] * k * DT
                if math.isinf(self.lower[j]):
                    q.append(math.pi * (2 * start[j] - 1) + travel)
                    continue
                span = self.upper[j] - self.lower[j]
                x = (start[j] * span + travel) % (2 * span)  # triangle wave: reflect at the limits
                q.append(self.lower[j] + (x if x <= span else 2 * span - x))
            out.append(q)
        return out

    def allowance(self, j: int) -> float:
        return self.vmax[j] * DT + self.slack[j]

    def plausible(self, j: int, v: float, stamp: float, trusted: list[float], t_ref: list[float]) -> str | None:
        """None if the reading passes rule 0, else the rule it fails ("range" or "jump")."""
        if v < self.lower[j] - self.slack[j] or v > self.upper[j] + self.slack[j]:
            return "range"
        if not math.isnan(t_ref[j]):
            delta = v - trusted[j]
            if self.wraps[j] and math.isfinite(delta):
                delta = math.remainder(delta, 2 * math.pi)
            if abs(delta) > self.vmax[j] * max(stamp - t_ref[j], 0.0) + self.slack[j]:
                return "jump"
        return None


MODELS = {name: Model(name) for name in ("iiwa", "cartpole")}


SIZES = (0.0, 1.5, 3.0, 20.0, 1e6)  # glitch sizes, in periods of travel at the velocity limit (+ margin)


def decode(model: Model, config: int, events: list[int]) -> dict:
    """A scenario from two drawn integers and a list of them, in mixed radix.

    Each example must cost well under a millisecond for 10k of them to fit the suite: hypothesis's
    own cost grows with the number of draws, so a whole glitch (kind, period, joint, size, sign,
    duration) is one integer, and the motion and commands come from a seeded generator. Shrinking
    an integer towards 0 still simplifies the scenario (fewer periods, a spike on the first joint).
    """
    c = config
    steps = 6 + c % 15
    c //= 15
    size = (0.5, 1.0, 2.0, 100.0)[c % 4]
    c //= 4
    lag = (0.0, 0.01, 0.05)[c % 3]
    c //= 3
    reset_after = (None, 1, 3)[c % 3]
    decoded = []
    for e in events:
        kind = KINDS[e % len(KINDS)]
        e //= len(KINDS)
        k = 1 + (e % 19) % (steps - 1)
        e //= 19
        joint = e % model.n
        e //= model.n
        glitch = SIZES[e % len(SIZES)]
        e //= len(SIZES)
        sign = 1.0 if e % 2 else -1.0
        e //= 2
        decoded.append((kind, k, joint, glitch, sign, 1 + e % 5))
    return {
        "steps": steps,
        "events": decoded,
        "seed": config,  # motion (start in the range, speed as a fraction of the limit) and commands
        "command_size": size,
        "lag": lag,
        "reset_after": reset_after,
    }


def scenarios(model: Model) -> st.SearchStrategy[dict]:
    return st.builds(
        lambda config, events: decode(model, config, events),
        st.integers(0, 2**32 - 1),
        st.lists(st.integers(0, 2**24 - 1), min_size=1, max_size=3),
    )


def readings_of(model: Model, sc: dict) -> list[list[float]]:
    rng = np.random.default_rng(sc["seed"])
    start, speed = rng.uniform(0.05, 0.95, model.n).tolist(), rng.uniform(-0.9, 0.9, model.n).tolist()
    true = model.true_positions(start, speed, sc["steps"])
    readings = [list(q) for q in true]
    for kind, k, j, size, sign, length in sc["events"]:
        off = sign * size * model.allowance(j)
        if kind == "frozen_then_jump":
            for i in range(k, min(k + length, sc["steps"])):
                readings[i][j] = true[k - 1][j]
            if k + length < sc["steps"]:
                readings[k + length][j] = true[k + length][j] + off
            continue
        readings[k][j] = true[k][j] + off
        if kind == "spike_then_nan":
            for i in range(k + 1, min(k + 1 + length, sc["steps"])):
                readings[i][j] = math.nan
    return readings


def commands_of(model: Model, sc: dict) -> np.ndarray:
    rng = np.random.default_rng(sc["seed"] + 1)
    u = rng.uniform(-1.0, 1.0, (sc["steps"], model.na)) * sc["command_size"]
    for k, a in enumerate(model.acts):
        if a["force"]:
            u[:, k] *= a["effort"]
        else:  # a target around the middle of the range, up to 100x past the limits
            j = a["joint"]
            u[:, k] = (model.lower[j] + model.upper[j]) / 2 + u[:, k] * (model.upper[j] - model.lower[j]) / 2
    return u


def run_scenario(model: Model, sc: dict) -> None:
    f = SafetyFilter(model.robot, model.config)
    readings, commands = readings_of(model, sc), commands_of(model, sc)
    n, acts = model.n, model.acts
    trusted, t_ref = [math.nan] * n, [math.nan] * n
    hold: list[float] | None = None
    active = True
    fault_at: int | None = None
    prev: list[float] = []

    def see(q: list[float], stamp: float) -> str | None:
        """The model's rule 0 on one reading: trusts what passes, returns the first failure."""
        problem = None
        for j, v in enumerate(q):
            if math.isnan(v):
                continue
            rule = model.plausible(j, v, stamp, trusted, t_ref)
            if rule is None:
                trusted[j], t_ref[j] = v, max(stamp, t_ref[j]) if not math.isnan(t_ref[j]) else stamp
            elif problem is None:
                problem = f"sensor fault ({rule}): position of joint '{model.robot.joint_names[j]}'"
        return problem

    q0 = readings[0]
    assert see(q0, 0.0) is None
    assert f.activate(0.0, q0) is SafetyState.ACTIVE
    prev = [0.0 if a["force"] else min(max(q0[a["joint"]], a["lo"]), a["hi"]) for a in acts]
    qd = [0.0] * n
    for k in range(1, sc["steps"]):
        now = k * DT
        stamp = now - sc["lag"]
        q = readings[k]
        if sc["reset_after"] is not None and fault_at is not None and k == fault_at + sc["reset_after"]:
            assert f.reset() is SafetyState.INACTIVE
            t_ref = [math.nan] * n  # reset forgets the jump reference
            problem = see(q, now)
            state = f.activate(now, q)
            if problem is None and not any(math.isnan(v) for v in q):
                assert state is SafetyState.ACTIVE, f.fault_reason
                active, fault_at = True, None
            else:
                assert state is SafetyState.FAULT
            continue
        problem = see(q, stamp)
        out = f.step(now, stamp, q, qd, commands[k])
        values = out.values
        if active:
            nan = next((j for j, v in enumerate(q) if math.isnan(v)), None)
            if nan is not None:
                assert out.state is SafetyState.FAULT and f.fault_kind == "input"
                assert f"NaN in position of joint '{model.robot.joint_names[nan]}'" in out.fault_reason
            elif problem is not None:
                assert out.state is SafetyState.FAULT and f.fault_kind == "sensor", (k, problem, f.fault_reason)
                assert out.fault_reason.startswith(problem), (out.fault_reason, problem)
            else:
                assert out.state is SafetyState.ACTIVE, (k, out.fault_reason)
            if out.state is SafetyState.FAULT:
                active, fault_at, hold = False, k, list(trusted)
        else:
            assert out.state is SafetyState.FAULT  # latched, whatever comes
        for i, a in enumerate(acts):
            v = values[i]
            assert math.isfinite(v)
            assert abs(v - prev[i]) <= a["d"] * (1 + 1e-12) + TOL, ("rate", k, i, prev[i], v)
            if a["force"]:
                assert abs(v) <= a["effort"] + TOL, ("effort", k, v)
                if not active:
                    assert v == 0.0
            else:
                assert a["lo"] - TOL <= v <= a["hi"] + TOL, ("limits", k, i, v)
                if not active:  # towards the model's last trusted reading, at the rate limit
                    h = min(max(hold[a["joint"]], a["lo"]), a["hi"])
                    expected = min(max(h, prev[i] - a["d"]), prev[i] + a["d"])
                    assert abs(v - expected) <= TOL, ("hold", k, i, v, expected, hold[a["joint"]])
        prev = values.tolist()


def run_property(name: str, record_property) -> None:
    model = MODELS[name]
    count = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sc=scenarios(model))
    def prop(sc: dict) -> None:
        nonlocal count
        count += 1
        run_scenario(model, sc)

    start, cpu = time.perf_counter(), time.process_time()
    prop()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    record_property("examples", count)
    record_property("wall_s", round(wall, 2))
    print(
        f"\n{name}: {count} glitch sequences, 0 rate- or limit-violating commands, "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU"
    )
    assert count >= EXAMPLES


def test_glitch_sequences_on_a_position_controlled_arm(record_property: pytest.RecordProperty) -> None:
    run_property("iiwa", record_property)


def test_glitch_sequences_on_a_force_controlled_cartpole(record_property: pytest.RecordProperty) -> None:
    run_property("cartpole", record_property)

"""The safety filter: the last code between a policy and a robot's actuators.

Everything that may reach an actuator passes through :meth:`SafetyFilter.step`. The filter is
deliberately small, deterministic and free of I/O (no clock, no logging, no ROS), so it can be
property-tested: whatever sequence of states, commands, time stamps and e-stop inputs it is fed,
its outputs are finite and inside every limit, and a fault stays latched until :meth:`reset`.

States (a lifecycle-style machine, as a ROS 2 node exposes it)::

    INACTIVE --activate(now, q)--> ACTIVE --(any fault)--> FAULT (latched)
        ^                            |                        |
        +------- deactivate() -------+                        |
        +---------------------------- reset() ----------------+   (refused while the e-stop is pressed)

What each state outputs, per actuator type:

* ACTIVE: the policy's command after the rules below.
* INACTIVE and FAULT: the *safe action*: zero force for force actuators; for position actuators,
  a target that holds the position where the robot was when it stopped being active (latched at
  that moment, so the target does not chase a robot sagging under gravity). The damping comes from
  the servo's own kd; the held target is clipped into the position limits.

Rules applied to an ACTIVE command, per actuator, in this order (later rules win, so a rule that
cannot be met together with an earlier one overrides it):

1. start-up ramp: for ``ramp_time`` seconds after activation the command is blended from the state
   at activation (zero force; the measured position) to the policy's command;
2. maximum change per step ``max_change`` from the previous output (for position actuators also
   at most ``velocity_limit * control_dt``: position targets are rate-limited to the joint's speed);
3. effort: force commands within the actuator's effort limit; position targets only as far from
   the measured state as the PD law ``gain * (kp * (target - q) - kd * qd)`` can reach within it;
4. position and velocity limits: a position target is clipped into
   ``[lower + margin, upper - margin]``; a force that pushes a joint further past ``limit - margin``
   or faster past its velocity limit is removed (the force pulling back is kept).

Because each rule clips into an interval and the last interval always contains a safe value, the
output satisfies all rules at once whenever that is possible, and otherwise the later rules.

Faults (all latched, each with a reason naming the joint or input): NaN or inf in any input, a
state older than ``watchdog_timeout`` (or stamped in the future by more than that), the clock
going backwards, inputs of the wrong length, and the e-stop.

Legged robots (a floating base with a ``default_pose`` in robot.yaml) get three more behaviours,
because holding a frozen pose is the wrong reflex for a robot standing on its own feet:

* **IMU.** Each step takes the IMU's projected gravity and its stamp. A missing or non-finite
  reading, or one older than ``watchdog_timeout``, is a fault, so the watchdog covers both sensor
  streams (a robot whose IMU went silent is as blind as one whose encoders did).
* **Fall detector.** A trunk tilted more than ``max_tilt`` from upright (from the IMU's gravity
  direction) latches a ``fall`` fault.
* **Damping mode.** In FAULT, position targets follow the measured joint positions, so the PD law
  ``kp * (target - q) - kd * qd`` leaves only the damping term: zero position gain, damping only,
  as Unitree's damping mode (the robot sinks down slowly instead of fighting to hold a pose it
  may be lying on). :attr:`SafeCommand.mode` says ``damping`` so a driver that can set gains may
  also set kp = 0.
* **Soft start.** After activation the targets first move every joint from where it is to the
  default pose at no more than ``soft_start_speed`` rad/s (linear in each joint, all arriving
  together); only then does the policy's command come in (through the ramp, from the default
  pose). :meth:`SafetyFilter.soft_starting` tells the caller not to run the policy meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum

import numpy as np

from robot_rl.errors import SafetyError
from sim.robot import RobotSpec

__all__ = ["SafeCommand", "SafetyConfig", "SafetyFilter", "SafetyState"]


class SafetyState(StrEnum):
    INACTIVE = "inactive"
    ACTIVE = "active"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class SafeCommand:
    """One control period's output: what to send to the actuators, and why.

    ``values`` has one entry per actuator, in robot.yaml actuator order, in the actuator's command
    units (force in N or N*m before the motor gain; target position in m or rad). It is always
    finite. ``fault_reason`` is set exactly when ``state`` is FAULT.
    """

    values: np.ndarray
    state: SafetyState
    fault_reason: str | None
    mode: str = "position"  # "damping": targets follow the measured positions (kp = 0, damping only)


@dataclass(frozen=True)
class SafetyConfig:
    """The filter's knobs. Build it with :meth:`from_robot`, which derives every default from robot.yaml.

    Per-joint and per-actuator fields are tuples in robot.yaml order.
    """

    position_margin: tuple[float, ...]  # per joint, m or rad inside each position limit
    max_change: tuple[float, ...]  # per actuator, command units per control step
    watchdog_timeout: float  # s: a state older than this is a fault
    ramp_time: float  # s of start-up ramp after activation (0: none)
    control_dt: float  # s per control step, for rate-limiting position targets
    # Legged robots (floating base with a default pose); None / () / 0 switch each off.
    max_tilt: float | None = None  # rad from upright: a fall
    damping_on_fault: bool = False  # FAULT outputs damping mode instead of holding a pose
    default_pose: tuple[float, ...] = ()  # per joint, the soft start's end
    soft_start_speed: float = 0.0  # rad/s per joint towards the default pose (0: no soft start)

    @classmethod
    def from_robot(
        cls,
        robot: RobotSpec,
        *,
        position_margin: float | Sequence[float] | None = None,
        max_change: float | Sequence[float] | None = None,
        watchdog_timeout: float | None = None,
        ramp_time: float = 0.5,
        max_tilt_deg: float | None = 60.0,
        soft_start_speed: float = 1.0,
    ) -> SafetyConfig:
        """Defaults: margin 2% of each joint's range; watchdog 5 control periods; max change per step
        the full effort range of a force actuator (-limit to +limit takes two steps) and the velocity
        limit times the control period for a position actuator; ramp 0.5 s. For a legged robot
        (floating base and default pose): fall at 60 deg of tilt (where A1Walk-v0 ends an episode),
        damping mode on faults, soft start to the default pose at 1 rad/s.
        """
        if position_margin is None:
            margins = tuple(
                0.02 * (j.position_limits[1] - j.position_limits[0]) if j.position_limits else 0.0 for j in robot.joints
            )
        else:
            margins = _per_item(position_margin, robot.joint_names, "position_margin", "joint")
        if max_change is None:
            changes = []
            for a in robot.actuators:
                joint = robot.joint(a.joint)
                changes.append(
                    a.effort_limit / a.gain if a.type == "force" else joint.velocity_limit * robot.control_dt
                )
            changes = tuple(changes)
        else:
            changes = _per_item(max_change, robot.actuator_names, "max_change", "actuator")
        timeout = 5.0 * robot.control_dt if watchdog_timeout is None else float(watchdog_timeout)
        legged = robot.floating and robot.default_pose is not None
        config = cls(
            margins, changes, timeout, float(ramp_time), robot.control_dt,
            max_tilt=math.radians(max_tilt_deg) if legged and max_tilt_deg is not None else None,
            damping_on_fault=legged,
            default_pose=tuple(robot.default_pose) if legged else (),
            soft_start_speed=float(soft_start_speed) if legged else 0.0,
        )
        config.validate(robot)
        return config

    def validate(self, robot: RobotSpec) -> None:
        """Refuse a configuration that would make a rule meaningless, naming the field and joint."""
        if len(self.position_margin) != len(robot.joints):
            raise SafetyError(
                f"SafetyConfig.position_margin has {len(self.position_margin)} values; robot "
                f"'{robot.name}' has {len(robot.joints)} joints ({', '.join(robot.joint_names)})"
            )
        if len(self.max_change) != len(robot.actuators):
            raise SafetyError(
                f"SafetyConfig.max_change has {len(self.max_change)} values; robot "
                f"'{robot.name}' has {len(robot.actuators)} actuators "
                f"({', '.join(robot.actuator_names)})"
            )
        for j, m in zip(robot.joints, self.position_margin, strict=True):
            if not (math.isfinite(m) and m >= 0):
                raise SafetyError(f"SafetyConfig.position_margin of joint '{j.name}' is {m}; expected >= 0")
            if j.position_limits and 2 * m >= j.position_limits[1] - j.position_limits[0]:
                raise SafetyError(
                    f"SafetyConfig.position_margin of joint '{j.name}' is {m:g}, which leaves no "
                    f"room inside its limits {list(j.position_limits)}; use a smaller margin"
                )
        for a, c in zip(robot.actuators, self.max_change, strict=True):
            if not (math.isfinite(c) and c > 0):
                raise SafetyError(
                    f"SafetyConfig.max_change of actuator '{a.name}' is {c}; expected a positive "
                    "number (command units per control step)"
                )
        for name in ("watchdog_timeout", "control_dt"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise SafetyError(f"SafetyConfig.{name} is {value}; expected a positive number of seconds")
        if not (math.isfinite(self.ramp_time) and self.ramp_time >= 0):
            raise SafetyError(f"SafetyConfig.ramp_time is {self.ramp_time}; expected >= 0 seconds")
        if self.max_tilt is not None and not (math.isfinite(self.max_tilt) and 0 < self.max_tilt <= math.pi):
            raise SafetyError(f"SafetyConfig.max_tilt is {self.max_tilt}; expected an angle in (0, pi] rad")
        if self.default_pose and len(self.default_pose) != len(robot.joints):
            raise SafetyError(
                f"SafetyConfig.default_pose has {len(self.default_pose)} values; robot '{robot.name}' has "
                f"{len(robot.joints)} joints"
            )
        if not (math.isfinite(self.soft_start_speed) and self.soft_start_speed >= 0):
            raise SafetyError(f"SafetyConfig.soft_start_speed is {self.soft_start_speed}; expected >= 0 rad/s")
        if self.soft_start_speed > 0 and not self.default_pose:
            raise SafetyError("SafetyConfig.soft_start_speed needs a default_pose (robot.yaml default_pose)")

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _per_item(value: float | Sequence[float], names: tuple[str, ...], field: str, kind: str) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        return tuple(float(value) for _ in names)
    values = tuple(float(v) for v in value)
    if len(values) != len(names):
        raise SafetyError(
            f"SafetyConfig.{field} has {len(values)} values; expected one per {kind} ({', '.join(names)})"
        )
    return values


@dataclass(frozen=True, slots=True)
class _Actuator:
    """Precomputed per-actuator constants of the rules (plain floats: the hot loop is scalar Python)."""

    name: str
    joint: int  # index into the joint vectors
    joint_name: str
    force: bool
    effort: float  # |command| bound for force; |target - (q + kd/kp qd)| bound for position
    damping_ratio: float  # kd / kp (position) or 0
    max_change: float
    lo: float  # position actuator: target bounds; force: joint's lower limit + margin (or -inf)
    hi: float
    vmax: float


class SafetyFilter:
    """Clips, rate-limits and, when needed, replaces a robot's commands; owns the fault state.

    Call once per control period from the control loop::

        out = filter.step(now, state_stamp, q, qd, command)   # -> SafeCommand, never raises
        send(out.values)

    ``now`` and ``state_stamp`` are seconds on one clock (ROS time, or sim time under use_sim_time);
    ``q`` and ``qd`` are every joint's measured position and velocity in robot.yaml joint order;
    ``command`` is the policy's physical command, one value per actuator. Operator inputs:
    :meth:`activate`, :meth:`deactivate`, :meth:`estop`, :meth:`reset`. None of them raises at run
    time; they return the state, and :attr:`fault_reason` says why a fault was latched.
    """

    def __init__(self, robot: RobotSpec, config: SafetyConfig | None = None):
        self.robot = robot
        self.config = config or SafetyConfig.from_robot(robot)
        self.config.validate(robot)
        self._n_joints = len(robot.joints)
        self._n_act = len(robot.actuators)
        acts = []
        for a, change in zip(robot.actuators, self.config.max_change, strict=True):
            j = robot.joint_names.index(a.joint)
            joint = robot.joints[j]
            margin = self.config.position_margin[j]
            lo, hi = (
                (joint.position_limits[0] + margin, joint.position_limits[1] - margin)
                if joint.position_limits
                else (-math.inf, math.inf)
            )
            effort = min(a.effort_limit, joint.effort_limit) if joint.effort_limit > 0 else a.effort_limit
            if a.type == "force":
                acts.append(
                    _Actuator(a.name, j, a.joint, True, effort / a.gain, 0.0, change, lo, hi, joint.velocity_limit)
                )
            else:
                acts.append(
                    _Actuator(
                        a.name,
                        j,
                        a.joint,
                        False,
                        effort / (a.gain * a.kp),
                        a.kd / a.kp,
                        min(change, joint.velocity_limit * self.config.control_dt),
                        lo,
                        hi,
                        joint.velocity_limit,
                    )
                )
        self._acts: tuple[_Actuator, ...] = tuple(acts)
        self._state = SafetyState.INACTIVE
        self._reason: str | None = None
        self._estop = False
        self._t_active = 0.0  # time of activation (ramp origin)
        self._t_last = -math.inf  # `now` of the last active step (clock-backwards check)
        self._start = [0.0] * self._n_act  # ramp origin per actuator: 0 force or measured position
        self._prev = [0.0] * self._n_act  # previous output (rate limit)
        self._last_q: list[float] = [math.nan] * self._n_joints  # last finite measurement per joint
        self._hold: list[float] = [math.nan] * self._n_joints  # latched hold position per joint
        self._legged = self.config.max_tilt is not None or self.config.damping_on_fault
        self._min_up = math.cos(self.config.max_tilt) if self.config.max_tilt is not None else -math.inf
        self._stand_start = self._stand_until = -math.inf  # the soft start's interval (robot time)
        self._stand_from = [0.0] * self._n_act  # soft start origin per actuator

    # ------------------------------------------------------------------ operator inputs

    @property
    def state(self) -> SafetyState:
        return self._state

    @property
    def fault_reason(self) -> str | None:
        """Why the filter is in FAULT (None otherwise), naming the joint or input at fault."""
        return self._reason

    @property
    def estop_pressed(self) -> bool:
        return self._estop

    def activate(self, now: float, q: Sequence[float] | np.ndarray) -> SafetyState:
        """INACTIVE -> ACTIVE, starting the ramp at ``now`` from the measured positions ``q``.

        A non-finite or wrongly sized ``q`` or ``now`` latches a FAULT instead. In FAULT this does
        nothing (call :meth:`reset` first); in ACTIVE it does nothing.
        """
        if self._state is not SafetyState.INACTIVE:
            return self._state
        qs = _as_floats(q)
        problem = (
            self._length_problem(qs, self._n_joints, "position", "joints")
            or _time_problem(now, "activation time")
            or self._finite_problem(qs, "position", self.robot.joint_names, "joint")
        )
        if problem:
            self._remember_q(qs)
            return self._fault(f"{problem} at activation")
        self._remember_q(qs)
        for k, a in enumerate(self._acts):
            self._start[k] = 0.0 if a.force else qs[a.joint]
            self._prev[k] = self._start[k]
        self._t_active = self._t_last = float(now)
        self._stand_until = -math.inf
        pose, speed = self.config.default_pose, self.config.soft_start_speed
        if speed > 0:
            # Soft start: every joint to the default pose, linearly, all arriving together at `speed`
            # for the farthest one; the ramp to the policy starts there, from the default pose.
            self._stand_from = list(self._start)
            distance = max((abs(pose[a.joint] - qs[a.joint]) for a in self._acts if not a.force), default=0.0)
            self._stand_start, self._stand_until = self._t_active, self._t_active + distance / speed
            for k, a in enumerate(self._acts):
                if not a.force:
                    self._start[k] = pose[a.joint]
            self._t_active = self._stand_until
        self._state = SafetyState.ACTIVE
        return self._state

    def soft_starting(self, now: float) -> bool:
        """True while an ACTIVE filter is still bringing the joints to the default pose (the policy's
        command is ignored until then; run no policy, so its first action sees the pose it trained from)."""
        return self._state is SafetyState.ACTIVE and now < self._stand_until

    def deactivate(self) -> SafetyState:
        """ACTIVE -> INACTIVE: output the safe action, holding position where the robot is now."""
        if self._state is SafetyState.ACTIVE:
            self._latch_hold()
            self._state = SafetyState.INACTIVE
        return self._state

    def estop(self, pressed: bool) -> SafetyState:
        """Feed the e-stop input. Pressing it latches a FAULT in any state; releasing it clears nothing."""
        self._estop = bool(pressed)
        if self._estop and self._state is not SafetyState.FAULT:
            self._fault("e-stop pressed")
        return self._state

    def reset(self) -> SafetyState:
        """FAULT (or ACTIVE) -> INACTIVE, unless the e-stop is still pressed (then FAULT stays latched)."""
        if self._estop:
            if self._state is not SafetyState.FAULT:
                self._fault("e-stop pressed")
            return self._state
        if self._state is SafetyState.ACTIVE:
            self._latch_hold()
        self._state = SafetyState.INACTIVE
        self._reason = None
        return self._state

    # ------------------------------------------------------------------ the control step

    def step(
        self,
        now: float,
        state_stamp: float,
        q: Sequence[float] | np.ndarray,
        qd: Sequence[float] | np.ndarray,
        command: Sequence[float] | np.ndarray,
        *,
        gravity: Sequence[float] | np.ndarray | None = None,
        imu_stamp: float | None = None,
    ) -> SafeCommand:
        """Filter one command. Never raises: any problem with the inputs latches a FAULT.

        ``gravity``: the IMU's unit gravity direction in its own frame ((0, 0, -1) level) and
        ``imu_stamp`` its time stamp (same clock as ``now``): required on a legged robot, ignored
        otherwise.
        """
        qs, qds, cmd = _as_floats(q), _as_floats(qd), _as_floats(command)
        if self._state is SafetyState.ACTIVE:
            problem = self._input_problem(now, state_stamp, qs, qds, cmd)
            if problem is None and self._legged:
                problem = self._imu_problem(now, gravity, imu_stamp)
            if problem is None:
                self._remember_q(qs)
                out = self._filter(now, qs, qds, cmd)
                if math.isfinite(sum(out)):
                    return SafeCommand(np.array(out), SafetyState.ACTIVE, None)
                problem = self._overflow_problem(out, qs, qds)
                if problem is None:  # finite values whose sum overflowed: absurd, but within the rules
                    return SafeCommand(np.array(out), SafetyState.ACTIVE, None)
            self._remember_q(qs)
            self._fault(problem)
        else:
            self._remember_q(qs)
        damping = self._state is SafetyState.FAULT and self.config.damping_on_fault
        return SafeCommand(np.array(self._safe_action()), self._state, self._reason,
                           "damping" if damping else "position")

    def _imu_problem(self, now: float, gravity, stamp: float | None) -> str | None:
        """The IMU stream's watchdog and the fall detector (legged robots)."""
        g = _as_floats(gravity) if gravity is not None else []
        if len(g) != 3 or stamp is None:
            return "no IMU reading (a legged robot needs its IMU: projected gravity and its stamp)"
        if not math.isfinite(sum(g)):
            return "NaN or inf in the IMU reading"
        age = now - float(stamp)
        if not math.isfinite(age):
            return "NaN or inf in the IMU time stamp"
        timeout = self.config.watchdog_timeout
        if age > timeout:
            return f"IMU reading is {age:.3g} s old (watchdog {timeout:g} s)"
        norm = math.sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2])
        if norm < 0.5:
            return f"IMU gravity direction has length {norm:.3g}; expected a unit vector"
        up = -g[2] / norm  # cosine of the trunk's tilt from upright
        if up < self._min_up:
            tilt, limit = math.degrees(math.acos(max(-1.0, min(1.0, up)))), math.degrees(self.config.max_tilt)
            return f"fall: trunk tilted {tilt:.0f} deg from upright (limit {limit:.0f} deg)"
        return None

    def _input_problem(self, now: float, stamp: float, q: list[float], qd: list[float], cmd: list[float]) -> str | None:
        try:  # fast path: right lengths and a finite sum (NaN and inf propagate through a sum)
            fine = (
                len(q) == len(qd) == self._n_joints
                and len(cmd) == self._n_act
                and math.isfinite(now + stamp + sum(q) + sum(qd) + sum(cmd))
            )
        except TypeError:
            fine = False
        if fine:
            return self._clock_problem(now, stamp)
        # slow path: find and name the first bad input (a finite but huge sum may land here and pass)
        problem = (
            self._length_problem(q, self._n_joints, "position", "joints")
            or self._length_problem(qd, self._n_joints, "velocity", "joints")
            or self._length_problem(cmd, self._n_act, "command", "actuators")
            or _time_problem(now, "current time")
            or _time_problem(stamp, "state time stamp")
        )
        return (
            problem
            or self._clock_problem(now, stamp)
            or self._finite_problem(q, "position", self.robot.joint_names, "joint")
            or self._finite_problem(qd, "velocity", self.robot.joint_names, "joint")
            or self._finite_problem(cmd, "command", self.robot.actuator_names, "actuator")
        )

    def _clock_problem(self, now: float, stamp: float) -> str | None:
        if now < self._t_last:
            return f"clock went backwards by {self._t_last - now:.3g} s"
        timeout = self.config.watchdog_timeout
        age = now - stamp
        if age > timeout:
            return f"state is {age:.3g} s old (watchdog {timeout:g} s)"
        if age < -timeout:
            return f"state is stamped {-age:.3g} s in the future (watchdog {timeout:g} s)"
        return None

    def _filter(self, now: float, q: list[float], qd: list[float], cmd: list[float]) -> list[float]:
        """The four rules of the module docstring, per actuator, as nested interval clips.

        Written as scalar Python with conditional expressions: for the handful of actuators of a
        robot this is several times faster than numpy's per-call overhead.
        """
        self._t_last = now
        ramp = self.config.ramp_time
        s = 1.0 if ramp <= 0 else (now - self._t_active) / ramp
        out, starts = self._prev, self._start
        standing = now < self._stand_until
        if standing:  # soft start: the fraction of the way from the activation state to the default pose
            f = (now - self._stand_start) / (self._stand_until - self._stand_start)
        for k, a in enumerate(self._acts):
            u = cmd[k]
            if standing:  # 0. soft start: towards the default pose, the policy's command ignored
                u = starts[k] if a.force else self._stand_from[k] + f * (starts[k] - self._stand_from[k])
            elif s < 1.0:  # 1. ramp from the state at activation (zero force, measured position)
                u = starts[k] + s * (u - starts[k])
            p, d = out[k], a.max_change  # 2. max change per step
            u = p - d if u < p - d else p + d if u > p + d else u
            e, qj, qdj = a.effort, q[a.joint], qd[a.joint]
            if a.force:
                u = -e if u < -e else e if u > e else u  # 3. effort
                lo = 0.0 if (qj <= a.lo or qdj <= -a.vmax) else -e  # 4. no push further out
                hi = 0.0 if (qj >= a.hi or qdj >= a.vmax) else e
            else:
                c = qj + a.damping_ratio * qdj  # 3. PD torque within the effort limit
                u = c - e if u < c - e else c + e if u > c + e else u
                lo, hi = a.lo, a.hi  # 4. target inside the limits with margin
            out[k] = lo if u < lo else hi if u > hi else u
        return out

    # ------------------------------------------------------------------ faults and the safe action

    def _fault(self, reason: str) -> SafetyState:
        if self._state is not SafetyState.FAULT:
            if self._state is SafetyState.ACTIVE:  # INACTIVE already holds: keep its target, no jump
                self._latch_hold()
            self._state = SafetyState.FAULT
            self._reason = reason
        return self._state

    def _latch_hold(self) -> None:
        """Hold where the robot was last measured (joints never measured finite are filled in later)."""
        self._hold = list(self._last_q)

    def _remember_q(self, q: list[float]) -> None:
        if len(q) != self._n_joints:
            return
        for j, v in enumerate(q):
            if math.isfinite(v):
                self._last_q[j] = v
                if self._state is not SafetyState.ACTIVE and not math.isfinite(self._hold[j]):
                    self._hold[j] = v

    def _safe_action(self) -> list[float]:
        """Zero force; hold the latched position, clipped into the limits (0 if never measured).
        In damping mode (FAULT on a legged robot) the target is the last measured position instead."""
        out = []
        damping = self._state is SafetyState.FAULT and self.config.damping_on_fault
        for a in self._acts:
            if a.force:
                out.append(0.0)
            else:
                h = self._last_q[a.joint] if damping else self._hold[a.joint]
                out.append(min(max(h if math.isfinite(h) else 0.0, a.lo), a.hi))
        self._prev = list(out)
        return out

    # ------------------------------------------------------------------ input checks

    def _overflow_problem(self, out: list[float], q: list[float], qd: list[float]) -> str | None:
        """Finite but absurd states (|q| near 1e308) can overflow the rules' arithmetic: that is a fault."""
        for a, v in zip(self._acts, out, strict=True):
            if not math.isfinite(v):
                return (
                    f"command of actuator '{a.name}' overflowed (state of joint '{a.joint_name}': "
                    f"position {q[a.joint]:g}, velocity {qd[a.joint]:g})"
                )
        return None

    def _length_problem(self, values: list[float], n: int, what: str, kind: str) -> str | None:
        if len(values) == n:
            return None
        names = self.robot.joint_names if kind == "joints" else self.robot.actuator_names
        return f"{what} has {len(values)} values; robot '{self.robot.name}' has {n} {kind} ({', '.join(names)})"

    @staticmethod
    def _finite_problem(values: list[float], what: str, names: tuple[str, ...], kind: str) -> str | None:
        for name, v in zip(names, values, strict=True):
            if not math.isfinite(v):
                return f"{'NaN' if math.isnan(v) else 'inf'} in {what} of {kind} '{name}'"
        return None


def _time_problem(t: float, what: str) -> str | None:
    try:
        ok = math.isfinite(t)
    except TypeError:
        return f"{what} is {t!r}, not a number of seconds"
    return None if ok else f"{'NaN' if math.isnan(t) else 'inf'} in {what}"


def _as_floats(values: Sequence[float] | np.ndarray) -> list[float]:
    """A plain list of Python floats: the rules run as scalar code, fastest for a handful of joints."""
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False).ravel().tolist()
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return []  # unreadable input: reported as a wrong-length fault, never raised

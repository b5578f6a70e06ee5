"""The safety filter: the last code between a policy and a robot's actuators.

Everything that may reach an actuator passes through :meth:`SafetyFilter.step`. The filter is
deliberately small, deterministic and free of I/O (no clock, no logging, no ROS), so it can be
property-tested: whatever sequence of states, commands, time stamps and e-stop inputs it is fed,
its outputs are finite and inside every limit, their change per period is bounded, and a fault
stays latched until :meth:`reset`.

States (a lifecycle-style machine, as a ROS 2 node exposes it)::

    INACTIVE --activate(now, q)--> ACTIVE --(any fault)--> FAULT (latched)
        ^                            |                        |
        +------- deactivate() -------+                        |
        +---------------------------- reset() ----------------+   (refused while the e-stop is pressed)

What each state outputs, per actuator type (the *safe action*, in INACTIVE and FAULT):

* force actuators: zero force, at once (releasing force is the safe direction, as a drive's safe
  torque off does; see the rate rule below).
* position actuators: a target that holds the *last trusted* position of the joint (latched when
  the filter stopped being active, so the target neither chases a robot sagging under gravity nor
  follows a glitched reading), clipped into the position limits with margin, and approached from
  the previous target at no more than the rate limit per period. The damping comes from the
  servo's own kd.

Readings are evidence, not truth. Every measured joint position is checked before it is used,
in every state (rule 0). A reading is a *sensor fault* when it lies outside the joint's range by
more than ``reading_margin``, or when it moved farther since the last trusted reading than the
joint's velocity limit allows in the time between the two state stamps, plus ``reading_margin``
(continuous joints compare modulo 2 pi, so a driver that wraps angles is not a fault). Only
readings that pass become *trusted*: the reference of the next jump check and the source of every
hold target. :meth:`reset` forgets the jump reference (the operator vouches for the next reading).

Rules applied to an ACTIVE command, per actuator, in this order; each clips into an interval, so a
later rule never undoes an earlier one except where this list says so:

0. readings: the range and jump checks above (a failure latches a sensor fault naming the joint,
   the value and the rule, and the safe action goes out);
1. start-up ramp: for ``ramp_time`` seconds after activation the command is blended from the state
   at activation (zero force -- also the rate limit's origin, whatever was sent before; the
   measured position) to the policy's command;
2. effort: force commands within the actuator's effort limit; position targets only as far from
   the measured state as the PD law ``gain * (kp * (target - q) - kd * qd)`` can reach within it.
   This one is best effort for position targets: when the PD reach and rules 3-4 cannot both be
   met (the robot was pushed away), rules 3-4 win and the servo's own torque limit clips the rest;
3. rate: a change of at most ``max_change`` per control period *of the caller's clock* from the
   previous *output* (for position actuators also at most ``velocity_limit * control_dt``: targets
   move no faster than the joint may). The allowance of one call is ``max_change`` times the time
   since the previous output in control periods, at most one period's: a caller stepping ten
   times a period (states arriving at 500 Hz for a 50 Hz policy) gets a tenth per call, so the
   bound holds per second of ``now``, not per call;
4. position and velocity limits: a position target is clipped into ``[lower + margin, upper -
   margin]``; a force that pushes a joint further past ``limit - margin`` or faster past its
   velocity limit is removed (the force pulling back is kept).

Why this order holds on every path: every output of a position actuator (active, hold, first
output) lies inside its limit interval, so clipping the rate-limited target into that interval
moves it towards the previous output and keeps it within the rate. The safe action is rate-limited
the same way. So the change of a position target per period never exceeds the rate limit, on any
path, and never leaves the limits. For a force actuator, rule 4 and the safe action may only move
the force *towards zero*; with the default ``max_change`` (the full effort range in one step) that
is within the rate limit too, and with a smaller one it is the single, documented exception:
force is released at once, never ramped down while the robot is in danger.

Time. ``now`` is the caller's own clock (a control node passes its monotonic clock, or sim time
under a simulator) and every stamp is on that clock (the node maps a robot's stamps onto it, see
``robot_rl.deploy.stamps``). The filter calls no clock itself: the same inputs give the same outputs.

Faults (all latched, each with a reason naming the joint or input, and a :attr:`fault_kind`):
NaN or inf in any input (``input``), a reading that fails rule 0 (``sensor``), a state older than
``watchdog_timeout`` (``watchdog``: the robot went silent), an active filter not stepped for longer
than ``watchdog_timeout`` (``watchdog``: the caller stalled -- its clock jumped -- and must not
resume driving as if nothing happened), a state stamped in the future by more than the watchdog, or
the clock going backwards (``clock``), inputs of the wrong length (``input``), the e-stop
(``estop``), and a fault the caller reports with :meth:`external_fault` (``external``, or the kind
it names).

Legged robots (a floating base with a ``default_pose`` in robot.yaml) get three more behaviours,
because holding a frozen pose is the wrong reflex for a robot standing on its own feet:

* **IMU.** Each step takes the IMU's projected gravity and its stamp. A missing or non-finite
  reading (``input``), one older than ``watchdog_timeout`` (``watchdog``), or one stamped in the
  future by more than that (``clock``: a reading stamped ahead would otherwise keep a silent IMU
  "fresh" until its stamp is reached) is a fault, so the watchdog covers both sensor streams (a
  robot whose IMU went silent is as blind as one whose encoders did).
* **Fall detector.** A trunk tilted more than ``max_tilt`` from upright (from the IMU's gravity
  direction) latches a fault of kind ``fall`` (not sticky: a simulator's new episode stands the robot up again).
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

__all__ = ["FAULT_KINDS", "SafeCommand", "SafetyConfig", "SafetyFilter", "SafetyState"]

# Why a fault was latched, coarsely: callers decide what may clear it (a simulator's new episode
# may clear an ``input`` or ``clock`` fault; ``watchdog``, ``sensor`` and ``estop`` need a reset).
FAULT_KINDS = ("input", "clock", "watchdog", "sensor", "estop", "external", "fall")
_TWO_PI = 2.0 * math.pi


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
    reading_margin: tuple[float, ...] = ()  # per joint, m or rad of slack in the sensor checks; () = default
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
        reading_margin: float | Sequence[float] | None = None,
        max_tilt_deg: float | None = 60.0,
        soft_start_speed: float = 1.0,
    ) -> SafetyConfig:
        """Defaults: margin 2% of each joint's range; watchdog 5 control periods; max change per step
        the full effort range of a force actuator (-limit to +limit takes two steps) and the velocity
        limit times the control period for a position actuator; ramp 0.5 s; reading margin one
        control period of travel at the velocity limit, or 5% of the range if that is more. For a
        legged robot (floating base and default pose): fall at 60 deg of tilt (where A1Walk-v0 ends an
        episode), damping mode on faults, soft start to the default pose at 1 rad/s.
        """
        if position_margin is None:
            margins = tuple(
                0.02 * (j.position_limits[1] - j.position_limits[0]) if j.position_limits else 0.0 for j in robot.joints
            )
        else:
            margins = _per_item(position_margin, robot.joint_names, "position_margin", "joint")
        if max_change is None:
            changes = tuple(a.effort_limit / a.gain if a.type == "force" else rate
                            for a, rate in zip(robot.actuators, robot.target_max_change(), strict=True))
        else:
            changes = _per_item(max_change, robot.actuator_names, "max_change", "actuator")
        if reading_margin is None:
            readings = tuple(default_reading_margin(j, robot.control_dt) for j in robot.joints)
        else:
            readings = _per_item(reading_margin, robot.joint_names, "reading_margin", "joint")
        timeout = 5.0 * robot.control_dt if watchdog_timeout is None else float(watchdog_timeout)
        legged = robot.floating and robot.default_pose is not None
        config = cls(
            margins, changes, timeout, float(ramp_time), robot.control_dt, readings,
            max_tilt=math.radians(max_tilt_deg) if legged and max_tilt_deg is not None else None,
            damping_on_fault=legged,
            default_pose=tuple(robot.default_pose) if legged else (),
            soft_start_speed=float(soft_start_speed) if legged else 0.0,
        )
        config.validate(robot)
        return config

    def reading_margins(self, robot: RobotSpec) -> tuple[float, ...]:
        """``reading_margin``, or its default per joint when the config was built without one."""
        if self.reading_margin:
            return self.reading_margin
        return tuple(default_reading_margin(j, self.control_dt) for j in robot.joints)

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
        if self.reading_margin and len(self.reading_margin) != len(robot.joints):
            raise SafetyError(
                f"SafetyConfig.reading_margin has {len(self.reading_margin)} values; robot "
                f"'{robot.name}' has {len(robot.joints)} joints ({', '.join(robot.joint_names)})"
            )
        for j, m in zip(robot.joints, self.position_margin, strict=True):
            if not (math.isfinite(m) and m >= 0):
                raise SafetyError(f"SafetyConfig.position_margin of joint '{j.name}' is {m}; expected >= 0")
            if j.position_limits and 2 * m >= j.position_limits[1] - j.position_limits[0]:
                raise SafetyError(
                    f"SafetyConfig.position_margin of joint '{j.name}' is {m:g}, which leaves no "
                    f"room inside its limits {list(j.position_limits)}; use a smaller margin"
                )
        for j, m in zip(robot.joints, self.reading_margin or (), strict=False):
            if not (math.isfinite(m) and m >= 0):
                raise SafetyError(
                    f"SafetyConfig.reading_margin of joint '{j.name}' is {m}; expected a finite number >= 0 "
                    "(m or rad of slack in the sensor checks)"
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


def default_reading_margin(joint, control_dt: float) -> float:
    """Slack of the sensor checks: one control period of travel at the velocity limit, or 5% of the
    joint's range if that is more (encoder noise, a joint pressed slightly past a soft limit)."""
    travel = joint.velocity_limit * control_dt
    if joint.position_limits:
        return max(travel, 0.05 * (joint.position_limits[1] - joint.position_limits[0]))
    return travel


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


@dataclass(frozen=True, slots=True)
class _Joint:
    """Per-joint constants of the sensor checks (rule 0)."""

    name: str
    unit: str
    lower: float  # range (-inf, inf for a continuous joint)
    upper: float
    slack: float  # reading margin
    vmax: float
    wraps: bool  # continuous joint: compare modulo 2 pi


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
        self._joints: tuple[_Joint, ...] = tuple(
            _Joint(
                j.name,
                "m" if j.type == "prismatic" else "rad",
                j.position_limits[0] if j.position_limits else -math.inf,
                j.position_limits[1] if j.position_limits else math.inf,
                slack,
                j.velocity_limit,
                j.type == "continuous",
            )
            for j, slack in zip(robot.joints, self.config.reading_margins(robot), strict=True)
        )
        self._state = SafetyState.INACTIVE
        self._reason: str | None = None
        self._kind: str | None = None
        self._estop = False
        self._t_active = 0.0  # time of activation (ramp origin)
        self._t_last = -math.inf  # `now` of the last active step (clock-backwards and stall checks)
        self._t_out = -math.inf  # `now` of the last output: the rate limit is per second of `now`
        self._start = [0.0] * self._n_act  # ramp origin per actuator: 0 force or measured position
        self._prev = [math.nan] * self._n_act  # previous output (rate limit); NaN: nothing sent yet
        # What a force actuator last sent when it was activated (NaN once the first active output is out):
        # the ramp starts from zero force, but the wire must not jump past zero from what it last carried.
        self._sent_at_activation = [math.nan] * self._n_act
        self._trusted: list[float] = [math.nan] * self._n_joints  # last trusted reading per joint
        self._trusted_t: list[float] = [math.nan] * self._n_joints  # its stamp; NaN: no jump reference
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
    def fault_kind(self) -> str | None:
        """One of :data:`FAULT_KINDS` while in FAULT (None otherwise): what may clear it is the caller's policy."""
        return self._kind

    @property
    def estop_pressed(self) -> bool:
        return self._estop

    @property
    def trusted_positions(self) -> np.ndarray:
        """The last trusted reading of each joint (NaN for a joint never read plausibly)."""
        return np.array(self._trusted)

    def activate(self, now: float, q: Sequence[float] | np.ndarray, stamp: float | None = None) -> SafetyState:
        """INACTIVE -> ACTIVE, starting the ramp at ``now`` from the measured positions ``q``.

        ``q`` is a reading like any other (rule 0, with ``stamp`` as its stamp, ``now`` if not given:
        a state read a little before the activation keeps its own time for the next jump check). A
        non-finite, wrongly sized or implausible ``q``, or a non-finite ``now``, latches a FAULT
        instead. In FAULT this does nothing (call :meth:`reset` first); in ACTIVE it does nothing.
        """
        if self._state is not SafetyState.INACTIVE:
            return self._state
        stamp = now if stamp is None or not stamp <= now else stamp
        qs = _as_floats(q)
        problem = (
            self._length_problem(qs, self._n_joints, "position", "joints")
            or _time_problem(now, "activation time")
            or self._finite_problem(qs, "position", self.robot.joint_names, "joint")
        )
        if problem:
            self._check_readings(now, stamp, qs)
            return self._fault(f"{problem} at activation", "input")
        sensor = self._check_readings(now, stamp, qs)
        if sensor:
            return self._fault(f"{sensor} at activation", "sensor")
        for k, a in enumerate(self._acts):
            self._start[k] = 0.0 if a.force else qs[a.joint]
            if a.force:  # the ramp starts from zero force, whatever was sent last (releasing it is safe)
                self._sent_at_activation[k] = self._prev[k]
                self._prev[k] = 0.0
            elif not math.isfinite(self._prev[k]):  # nothing sent yet: the rate limit starts here
                self._prev[k] = min(max(qs[a.joint], a.lo), a.hi)
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
        """ACTIVE -> INACTIVE: output the safe action, holding the last trusted position."""
        if self._state is SafetyState.ACTIVE:
            self._latch_hold()
            self._state = SafetyState.INACTIVE
        return self._state

    def estop(self, pressed: bool) -> SafetyState:
        """Feed the e-stop input. Pressing it latches a FAULT in any state; releasing it clears nothing."""
        self._estop = bool(pressed)
        if self._estop and self._state is not SafetyState.FAULT:
            self._fault("e-stop pressed", "estop")
        return self._state

    def external_fault(self, reason: str, kind: str = "external") -> SafetyState:
        """Latch a FAULT for a condition only the caller can see (a second publisher on the command
        topic, an input stamped ahead of the caller's clock, the caller stopping); like every fault it
        stays until :meth:`reset`. ``kind`` is one of :data:`FAULT_KINDS` (what may clear it)."""
        if kind not in FAULT_KINDS:
            raise SafetyError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        return self._fault(str(reason), kind)

    def forget_readings(self) -> None:
        """The robot was moved by something the caller can see and the filter cannot (a simulator
        starting a new episode): the next reading is checked against the joint's range only."""
        self._trusted_t = [math.nan] * self._n_joints

    def relocated(self) -> None:
        """Not active, the robot was put somewhere new by something other than this filter's commands
        (a simulator starting a new episode): forget the readings' reference and the last output.

        Why the last output too: activation continues the rate limit from the last target sent
        (rule 3), which on a real robot is where its driver still holds it; after a teleport that
        target belongs to the old episode, and rate-limiting from it would drag the arm back towards
        the old pose at full speed (seen as a sensor fault the next period). With it forgotten, the
        next activation starts from the measured position, as on a first start. Refused while
        active: an active filter's rate limit never restarts.
        """
        if self._state is SafetyState.ACTIVE:
            raise SafetyError("relocated() while active: deactivate or reset the filter first")
        self.forget_readings()
        self._prev = [math.nan] * self._n_act

    def reset(self) -> SafetyState:
        """FAULT (or ACTIVE) -> INACTIVE, unless the e-stop is still pressed (then FAULT stays latched).

        The jump check forgets its reference: the next reading is checked against the joint's range
        only (the operator vouches for where the robot is now). The hold target stays where it was.
        """
        if self._estop:
            if self._state is not SafetyState.FAULT:
                self._fault("e-stop pressed", "estop")
            return self._state
        if self._state is SafetyState.ACTIVE:
            self._latch_hold()
        self._state = SafetyState.INACTIVE
        self._reason = self._kind = None
        self.forget_readings()
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
        rate = self._rate_fraction(now)
        sensor = self._check_readings(now, state_stamp, qs)
        if self._state is SafetyState.ACTIVE:
            problem = self._input_problem(now, state_stamp, qs, qds, cmd)
            if problem is None and sensor is not None:
                problem = (sensor, "sensor")
            if problem is None and self._legged:
                problem = self._imu_problem(now, gravity, imu_stamp)
            if problem is None:
                out = self._filter(now, qs, qds, cmd, rate)
                if math.isfinite(sum(out)):
                    self._prev = out
                    return SafeCommand(np.array(out), SafetyState.ACTIVE, None)
                problem = self._overflow_problem(out, qs, qds)
                if problem is None:  # finite values whose sum overflowed: absurd, but within the rules
                    self._prev = out
                    return SafeCommand(np.array(out), SafetyState.ACTIVE, None)
            self._fault(*problem)
        elif sensor is not None:
            self._fault(sensor, "sensor")  # a glitching sensor blocks activation until reset
        damping = self._state is SafetyState.FAULT and self.config.damping_on_fault
        return SafeCommand(np.array(self._safe_action(rate)), self._state, self._reason,
                           "damping" if damping else "position")

    def _rate_fraction(self, now: float) -> float:
        """The share of one period's ``max_change`` this output may use: the time since the previous
        output in control periods, at most 1 (0 when ``now`` did not advance or is not a number).

        Why: a caller stepping faster than the control rate (states arriving at 500 Hz, stamped or not)
        would otherwise move a target ``max_change`` per call, ten times its speed limit per second.
        """
        try:
            dt = now - self._t_out
        except TypeError:
            return 0.0
        if not dt > 0.0:  # NaN, or `now` did not advance
            return 0.0
        if math.isfinite(now):
            self._t_out = now
        return min(1.0, dt / self.config.control_dt)

    def _imu_problem(self, now: float, gravity, stamp: float | None) -> tuple[str, str] | None:
        """The IMU stream's watchdog and the fall detector (legged robots): (reason, fault kind) or None."""
        g = _as_floats(gravity) if gravity is not None else []
        if len(g) != 3 or stamp is None:
            return "no IMU reading (a legged robot needs its IMU: projected gravity and its stamp)", "input"
        if not math.isfinite(sum(g)):
            return "NaN or inf in the IMU reading", "input"
        age = now - float(stamp)
        if not math.isfinite(age):
            return "NaN or inf in the IMU time stamp", "input"
        timeout = self.config.watchdog_timeout
        if age > timeout:
            return f"IMU reading is {age:.3g} s old (watchdog {timeout:g} s)", "watchdog"
        if age < -timeout:
            return f"IMU reading is stamped {-age:.3g} s in the future (watchdog {timeout:g} s)", "clock"
        norm = math.sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2])
        if norm < 0.5:
            return f"IMU gravity direction has length {norm:.3g}; expected a unit vector", "input"
        up = -g[2] / norm  # cosine of the trunk's tilt from upright
        if up < self._min_up:
            tilt, limit = math.degrees(math.acos(max(-1.0, min(1.0, up)))), math.degrees(self.config.max_tilt)
            return f"fall: trunk tilted {tilt:.0f} deg from upright (limit {limit:.0f} deg)", "fall"
        return None

    def _input_problem(
        self, now: float, stamp: float, q: list[float], qd: list[float], cmd: list[float]
    ) -> tuple[str, str] | None:
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
        if problem:
            return problem, "input"
        clock = self._clock_problem(now, stamp)
        if clock:
            return clock
        problem = (
            self._finite_problem(q, "position", self.robot.joint_names, "joint")
            or self._finite_problem(qd, "velocity", self.robot.joint_names, "joint")
            or self._finite_problem(cmd, "command", self.robot.actuator_names, "actuator")
        )
        return (problem, "input") if problem else None

    def _clock_problem(self, now: float, stamp: float) -> tuple[str, str] | None:
        if now < self._t_last:
            return f"clock went backwards by {self._t_last - now:.3g} s", "clock"
        timeout = self.config.watchdog_timeout
        age = now - stamp
        if age > timeout:
            return f"state is {age:.3g} s old (watchdog {timeout:g} s)", "watchdog"
        if age < -timeout:
            return f"state is stamped {-age:.3g} s in the future (watchdog {timeout:g} s)", "clock"
        gap = now - self._t_last
        if gap > timeout:
            return (f"no control step for {gap:.3g} s (watchdog {timeout:g} s): the controller stalled; "
                    "not resuming", "watchdog")
        return None

    def _check_readings(self, now: float, stamp: float, q: list[float]) -> str | None:
        """Rule 0: range and jump checks of each finite reading; trusts those that pass.

        The jump check compares with the last trusted reading over the time between the two state
        stamps; it (and trusting) needs a usable stamp: finite and not in the future by more than the
        watchdog (an old reading is still evidence of where the joint was).
        Returns the first problem (joint, value, rule), or None.
        """
        if len(q) != self._n_joints:
            return None
        try:
            timed = math.isfinite(now) and math.isfinite(stamp) and stamp - now <= self.config.watchdog_timeout
        except TypeError:
            timed = False
        problem = None
        trusted, times = self._trusted, self._trusted_t
        for j, v in enumerate(q):
            if not math.isfinite(v):
                continue
            jt = self._joints[j]
            if v < jt.lower - jt.slack or v > jt.upper + jt.slack:
                problem = problem or (
                    f"sensor fault (range): position of joint '{jt.name}' reads {v:.6g} {jt.unit}, outside its "
                    f"range [{jt.lower:.4g}, {jt.upper:.4g}] by more than {jt.slack:.3g} {jt.unit}"
                )
                continue
            if not timed:
                continue
            t_ref = times[j]
            if t_ref == t_ref:  # a jump reference exists (NaN after reset)
                ref = trusted[j]
                delta = v - ref
                if jt.wraps and math.isfinite(delta):
                    delta = math.remainder(delta, _TWO_PI)
                # Two finite readings can still differ by inf (1e308 then -1e308): that is a jump.
                dt = stamp - t_ref if stamp > t_ref else 0.0
                allowed = jt.vmax * dt + jt.slack
                if abs(delta) > allowed:
                    problem = problem or (
                        f"sensor fault (jump): position of joint '{jt.name}' reads {v:.6g} {jt.unit}, "
                        f"{abs(delta):.3g} {jt.unit} from the last trusted reading {ref:.6g} {jt.unit}, "
                        f"{dt:.3g} s earlier; "
                        f"at most {allowed:.3g} {jt.unit} is possible at its velocity limit {jt.vmax:g} {jt.unit}/s"
                    )
                    continue
            trusted[j] = v
            times[j] = stamp if stamp > t_ref or t_ref != t_ref else t_ref
            if self._state is not SafetyState.ACTIVE and not math.isfinite(self._hold[j]):
                self._hold[j] = v
        return problem

    def _filter(self, now: float, q: list[float], qd: list[float], cmd: list[float], rate: float) -> list[float]:
        """Rules 1-4 of the module docstring, per actuator, as nested interval clips.

        Written as scalar Python with conditional expressions: for the handful of actuators of a
        robot this is several times faster than numpy's per-call overhead.
        """
        self._t_last = now
        ramp = self.config.ramp_time
        s = 1.0 if ramp <= 0 else (now - self._t_active) / ramp
        prev, starts = self._prev, self._start
        out = [0.0] * self._n_act
        standing = now < self._stand_until
        if standing:  # soft start: the fraction of the way from the activation state to the default pose
            f = (now - self._stand_start) / (self._stand_until - self._stand_start)
        for k, a in enumerate(self._acts):
            u = cmd[k]
            if standing:  # 0. soft start: towards the default pose, the policy's command ignored
                u = starts[k] if a.force else self._stand_from[k] + f * (starts[k] - self._stand_from[k])
            elif s < 1.0:  # 1. ramp from the state at activation (zero force, measured position)
                u = starts[k] + s * (u - starts[k])
            e, qj, qdj = a.effort, q[a.joint], qd[a.joint]
            if a.force:
                u = -e if u < -e else e if u > e else u  # 2. effort
                lo = 0.0 if (qj <= a.lo or qdj <= -a.vmax) else -e  # 4. no push further out
                hi = 0.0 if (qj >= a.hi or qdj >= a.vmax) else e
            else:
                c = qj + a.damping_ratio * qdj  # 2. PD torque within the effort limit
                u = c - e if u < c - e else c + e if u > c + e else u
                lo, hi = a.lo, a.hi  # 4. target inside the limits with margin
            p, d = prev[k], a.max_change * rate  # 3. rate, from the previous output, per period of `now`
            u = p - d if u < p - d else p + d if u > p + d else u
            w = self._sent_at_activation[k]
            if w == w:  # 3b. first output after activation: from what the wire carried, or towards zero
                lo_w, hi_w = (min(0.0, w - d), w + d) if w >= 0.0 else (w - d, max(0.0, w + d))
                u = lo_w if u < lo_w else hi_w if u > hi_w else u
                self._sent_at_activation[k] = math.nan
            out[k] = lo if u < lo else hi if u > hi else u
        return out

    # ------------------------------------------------------------------ faults and the safe action

    def _fault(self, reason: str, kind: str) -> SafetyState:
        if self._state is not SafetyState.FAULT:
            if self._state is SafetyState.ACTIVE:  # INACTIVE already holds: keep its target, no jump
                self._latch_hold()
            self._state = SafetyState.FAULT
            self._reason = reason
            self._kind = kind
        return self._state

    def _latch_hold(self) -> None:
        """Hold the last trusted reading (joints never read plausibly are filled in later)."""
        self._hold = list(self._trusted)

    def _safe_action(self, rate: float) -> list[float]:
        """Zero force; for a position actuator, the latched hold position (0 if never measured)
        clipped into the limits, approached from the previous target at most at the rate limit
        (``rate``: the share of one period's change this output may use).
        In damping mode (FAULT on a legged robot) the target is the last trusted reading instead, so
        it follows the robot (kp * (target - q) = 0: damping only)."""
        out = []
        damping = self._state is SafetyState.FAULT and self.config.damping_on_fault
        for a, p in zip(self._acts, self._prev, strict=True):
            if a.force:
                out.append(0.0)
                continue
            h = self._trusted[a.joint] if damping else self._hold[a.joint]
            h = min(max(h if math.isfinite(h) else 0.0, a.lo), a.hi)
            if p == p:  # rate limit from the previous output, which lies inside [lo, hi]
                d = a.max_change * rate
                h = p - d if h < p - d else p + d if h > p + d else h
            out.append(h)
        self._prev = out
        return out

    # ------------------------------------------------------------------ input checks

    def _overflow_problem(self, out: list[float], q: list[float], qd: list[float]) -> tuple[str, str] | None:
        """Finite but absurd states (|qd| near 1e308) can overflow the rules' arithmetic: that is a fault."""
        for a, v in zip(self._acts, out, strict=True):
            if not math.isfinite(v):
                return (
                    f"command of actuator '{a.name}' overflowed (state of joint '{a.joint_name}': "
                    f"position {q[a.joint]:g}, velocity {qd[a.joint]:g})",
                    "input",
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

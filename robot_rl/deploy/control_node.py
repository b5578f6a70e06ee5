"""The control node: joint states in, safe commands out, as a ros2_control robot expects them.

One node for every command source: a policy (`robot-rl deploy`, the ROS package's policy node)
and an identification excitation (`robot-rl excite --publish`) run through this same code, so
every command of either passes the same SafetyFilter, with the same watchdogs, lifecycle,
second-publisher check and recorder. Written once against `Transport` (DDS or rclpy). All control
decisions are the runtime's `Controller` (a `CommandSource` + the SafetyFilter); this module only
wires messages to it:

* ``/joint_states`` (sensor_msgs/JointState, any joint order) -> reordered by name (`joint_map`)
  -> ``Controller.step`` -> ``std_msgs/Float64MultiArray`` on the forward command controller
  topic (default ``/forward_command_controller/commands``), one value per actuator in robot.yaml
  order. A state is stepped as soon as it arrives, at most once per control period *of the
  states' header stamps* (robot time; sim time from a simulator), so the command leaves within
  one callback of the state and a 50 Hz policy stays at 50 Hz of robot time.
* The filter's clock is robot time: a state is stepped at its own header stamp, and between
  states the node extrapolates from the last stamp with its monotonic clock. So the start-up ramp
  lasts its time in robot time (also in a simulator running faster than real time), while the
  watchdog measures what matters to the robot -- how long since a state last *reached* the
  controller, in wall time -- with no clock sync to the robot. A timer checks it between states,
  so a stream that stops gets the fault command within the watchdog time. A state stamped
  earlier than the last one stepped is dropped (until reset or a new episode); a zero stamp
  (an unstamping driver) counts as stamped on arrival.
* With a recorder (`open_recorder`: the project's one bag writer), each stepped state and each
  command is stored at robot time (a command at
  the stamp of the state it answers): a bag calibration can read directly, on sim time under a
  simulator, with no race against /clock.
* Every period without states, while not active, the safe action is re-sent, so a robot
  driver never keeps acting on an old policy command. A state repeated with the stamp of the last
  one stepped (a robot still waiting for its answer) gets the last command again.
* A source that finishes (an excitation after its duration) deactivates the filter: the safe
  action goes out and `finished` is set; a policy never finishes.
* Legged robots (a source or a filter that reads an IMU): ``/imu/data`` (sensor_msgs/Imu) gives the trunk's
  orientation and angular velocity; the latest reading goes into every step, and the safety
  filter's watchdog covers it as it covers the joint states (a silent IMU is a fault, as is a
  trunk tilted past the fall limit, which puts the robot in damping mode). ``/cmd_vel``
  (geometry_msgs/Twist, REP 103 base frame: linear.x forward, linear.y left, angular.z yaw rate)
  is the velocity command; silent for longer than ``cmd_vel_timeout`` it falls back to zero
  (stand), as a teleop that stopped publishing should.
* ``/goal_point`` (geometry_msgs/PointStamped, base frame), for policies whose task has a goal
  (the reach): the latest one is the goal every step uses. Until one arrives the policy sees a
  zero goal, and the node logs that once.
* ``/estop`` (std_msgs/Bool, true = pressed) latches a fault and sends the safe action at once.
* ``~/transition`` (std_msgs/String: ``activate`` | ``deactivate`` | ``reset``) drives the
  lifecycle; ``~/state`` (std_msgs/String, latched) reports ``unconfigured`` | ``inactive`` |
  ``active`` | ``fault``. Activation waits for a valid, fresh state and ramps in from it. A request
  that cannot be served at once expires after ``activate_timeout`` (3 s) without a valid state: an
  operator's old click never starts a robot that appears later (``--activate`` is a standing order
  of the configuration instead, and does not expire).
* Faults that need an operator's eyes -- the robot went silent past the watchdog (a crash), a
  sensor fault, the e-stop, a second publisher -- are cleared only by an explicit ``reset``, also
  under a simulator (`follow_episodes`); a new episode clears only input faults (a NaN, a bad stamp).
* Only this node may write the command topic: the number of publishers on it is watched (the
  rmw's / DDS's matched count). A second one is reported in diagnostics, blocks activation, and
  while active latches a fault.
* The policy's limits are part of its contract: the filter drives with the tighter of the card's
  and robot.yaml's limits (diagnostics ``limits`` says which); a robot.yaml wider than the card is
  refused (node unconfigured) unless ``allow_wider_limits``.
* ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): state, loop rate, latency, last fault,
  the joint at fault, and the answer to the last request; on every change and at 2 Hz.
* Episodes of a simulated robot (``header.frame_id = robot_rl/episode/<n>``, `follow_episodes`):
  a new episode re-activates the policy from the new state (clearing a fault unless the e-stop is
  pressed), as an operator would press reset and activate after moving the robot back.

A source that cannot be built (a policy that does not fit the robot) leaves the node
``unconfigured``: it publishes no command, refuses activation, and its diagnostics carry the
runtime's error.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from robot_rl.deploy.control_config import ControlNodeConfig
from robot_rl.deploy.joint_map import JointMap, MappedState, episode_of
from robot_rl.deploy.recorder import BagRecorder, control_topics
from robot_rl.deploy.ros2_msgs import (
    Bool,
    DiagnosticArray,
    DiagnosticStatus,
    Float64MultiArray,
    Header,
    Imu,
    JointState,
    KeyValue,
    PointStamped,
    String,
    Twist,
    time_from_ns,
    time_to_ns,
)
from robot_rl.deploy.transport import LATCHED_QOS, Transport
from robot_rl.errors import USER_ERRORS

log = logging.getLogger(__name__)

UNCONFIGURED = "unconfigured"
TRANSITIONS = ("activate", "deactivate", "reset")
# Faults a simulator's new episode does not clear: they need an operator's explicit reset.
STICKY_FAULTS = ("watchdog", "sensor", "estop", "external")
PUBLISHER_CHECK_S = 0.1  # s between counts of the command topic's publishers


def open_recorder(config: ControlNodeConfig, metadata: dict[str, str] | None = None) -> BagRecorder | None:
    """The node's bag (``config.record``), or None: stepped states and sent commands, whatever the source."""
    if not config.record:
        return None
    return BagRecorder(config.record, control_topics(config.state_topic, config.command_topic), metadata=metadata)


class ControlNode:
    """Wires a `Controller` (any command source behind the SafetyFilter) to a transport.

    ``make_controller`` builds the Controller; a user error it raises (a policy contract, a bad
    robot.yaml) leaves the node unconfigured instead of killing it. Thread-safe: callbacks may
    arrive on any thread.
    """

    def __init__(self, transport: Transport, config: ControlNodeConfig, make_controller: Callable[[], Any],
                 recorder: BagRecorder | None = None, kind: str = "control"):
        self.transport = transport
        self.config = config
        self.recorder = recorder
        self._lock = threading.RLock()
        self._status_lock = threading.Lock()  # one status publication at a time, in order
        self.controller: Any = None
        self.config_error: str | None = None
        self.finished = False  # the source has nothing more to command (an excitation's end)
        self._configure(make_controller)
        self.kind = self.controller.source.kind if self.controller is not None else kind  # diagnostics' name
        robot = self.controller.robot if self.controller is not None else None
        self.period = 1.0 / robot.control_hz if robot is not None else 0.02
        self.watchdog = self.controller.safety.config.watchdog_timeout if robot is not None else math.inf
        self.joint_map = JointMap(robot.joint_names if robot is not None else (), config.state_topic)

        self._want_active = config.activate
        self._activate_asked: float | None = None  # monotonic time of a pending activate request
        self._publishers = 1  # writers on the command topic, ours included
        self._publisher_note: str | None = None  # set while another publisher is seen
        self._publishers_checked = -math.inf
        self._status_due = False
        # last mapped state, its monotonic arrival time, its stamp (robot time, s)
        self._last: tuple[MappedState, float, float] | None = None
        self._last_step_stamp: int | None = None  # header stamp (ns) of the last stepped state
        self._last_publish = -math.inf  # monotonic time of the last command
        self._episode: str | None = None
        self._fault_note: str | None = None  # the node's words about the input that caused a fault
        self._input_note: str | None = None  # the latest state's problem (shown even when inactive)
        self._last_request = "none"
        self._published_state = ""
        self._commands = 0
        self._states = 0
        self._latency_ms: collections.deque[float] = collections.deque(maxlen=2000)
        self._command_times: collections.deque[float] = collections.deque(maxlen=2000)
        self._last_out: Any = None  # the last command sent (sent again to a repeated state)
        # Legged robots: the latest IMU reading (ImuState, its stamp in robot time) and velocity command.
        self._needs_imu = self.controller is not None and self.controller.needs_imu
        self._imu: tuple[Any, float] | None = None
        self._imus = 0
        task_input = self.controller.source.task_input if self.controller is not None else None
        self._needs_cmd_vel = task_input == "velocity"
        self._cmd_vel: tuple[np.ndarray, float] | None = None  # (forward, lateral, yaw rate), arrival time
        self._zero_cmd = np.zeros(3)
        self._goal: np.ndarray | None = None  # latest goal, for tasks with one
        self._needs_goal = task_input == "goal"  # a goal position (the reach)
        self._warned_no_goal = False

        self._command_pub = transport.publisher(config.command_topic, Float64MultiArray)
        # Count once here, so a transport that counts with a reader of its own creates it now, on this
        # thread, not later inside a middleware callback.
        transport.count_publishers(config.command_topic, Float64MultiArray)
        self._state_pub = transport.publisher(config.lifecycle_topic, String, LATCHED_QOS)
        self._diag_pub = transport.publisher(config.diagnostics_topic, DiagnosticArray)
        transport.subscribe(config.state_topic, JointState, self._on_state)
        transport.subscribe(config.estop_topic, Bool, self._on_estop)
        if self._needs_imu:
            transport.subscribe(config.imu_topic, Imu, self._on_imu)
        if self._needs_cmd_vel:
            transport.subscribe(config.cmd_vel_topic, Twist, self._on_cmd_vel)
        if self._needs_goal:
            transport.subscribe(config.goal_topic, PointStamped, self._on_goal)
        transport.subscribe(config.transition_topic, String, self._on_transition)
        check = min(self.period / 2, self.watchdog / 5) if math.isfinite(self.watchdog) else self.period
        transport.timer(check, self._on_timer)
        transport.timer(1.0 / config.diagnostics_hz, self._publish_status)
        self._publish_status()

    # -- configuration ---------------------------------------------------------------------
    def _configure(self, make_controller: Callable[[], Any]) -> None:
        """Build the source behind its filter; a user error leaves the node unconfigured, not dead."""
        try:
            self.controller = make_controller()
        except USER_ERRORS as exc:
            self.config_error = str(exc)
            log.error("%s stays unconfigured: %s", self.config.node_name, exc)
            return
        limits = self.controller.limits
        wider = limits is not None and limits.allowed_wider
        (log.warning if wider else log.info)("%s: limits: %s", self.config.node_name,
                                             self.controller.source.limits_summary())

    @property
    def state(self) -> str:
        return UNCONFIGURED if self.controller is None else str(self.controller.state)

    # -- callbacks ---------------------------------------------------------------------------
    def _on_state(self, msg: JointState) -> None:
        t_in = time.perf_counter()
        arrived = time.monotonic()
        with self._lock:
            self._states += 1
            if self.controller is None:
                return
            mapped = self.joint_map.map(msg)
            self._input_note = mapped.problem
            # A zero stamp means "not stamped" (some drivers): use the arrival time instead.
            stamp_ns = time_to_ns(msg.header.stamp) or int(arrived * 1e9)
            new_episode = self._episode_changed(msg)
            if not new_episode and not self._due(stamp_ns):
                repeat = self._last_out if stamp_ns == self._last_step_stamp else None
                out = None
            else:
                repeat = None
                now = stamp_ns / 1e9
                self._last = (mapped, arrived, now)
                if new_episode:
                    self._restart_for_episode(mapped, now)
                elif self._want_active and self.controller.state == "inactive" and self._ready(mapped):
                    if not self._activation_expired() and self._publisher_note is None:
                        self._activate_asked = None
                        self.controller.activate(now, mapped.q)
                self._last_step_stamp = stamp_ns
                out = self._step(mapped, now, now)
        if repeat is not None:
            # The same state again (a robot still waiting for its answer): the command last sent, again.
            self._command_pub.publish(Float64MultiArray(data=[float(v) for v in repeat.values]))
        if out is None:
            return
        self._send(out, msg, t_in, now)
        self._publish_status_if_due()

    def _on_imu(self, msg: Imu) -> None:
        """Keep the latest reading, in sim.state's conventions (quaternion w, x, y, z, normalized)."""
        from sim.state import ImuState

        o = msg.orientation
        quat = np.array([o.w, o.x, o.y, o.z], dtype=np.float64)
        norm = float(np.linalg.norm(quat))
        if norm > 0 and np.isfinite(norm):
            quat = quat / norm  # a NaN reading stays NaN: the filter faults on it
        w, a = msg.angular_velocity, msg.linear_acceleration
        imu = ImuState(quat, np.array([w.x, w.y, w.z], dtype=np.float64), np.array([a.x, a.y, a.z], dtype=np.float64))
        with self._lock:
            self._imus += 1
            stamp_ns = time_to_ns(msg.header.stamp)
            # An unstamped reading (0) is stamped on arrival, in robot time.
            self._imu = (imu, stamp_ns / 1e9 if stamp_ns else self._robot_time()[0])

    def _on_cmd_vel(self, msg: Twist) -> None:
        cmd = np.array([msg.linear.x, msg.linear.y, msg.angular.z], dtype=np.float64)
        if not np.all(np.isfinite(cmd)):
            log.warning("%s: ignored a non-finite velocity command %s on %s", self.config.node_name, cmd,
                        self.config.cmd_vel_topic)
            return
        with self._lock:
            self._cmd_vel = (cmd, time.monotonic())

    def _ready(self, mapped: MappedState) -> bool:
        """A valid joint state, and for a legged robot an IMU reading: what activation needs."""
        return mapped.problem is None and (not self._needs_imu or self._imu is not None)

    def _velocity_command(self) -> np.ndarray:
        """The latest /cmd_vel, or zero (stand) when none arrived within cmd_vel_timeout of wall time."""
        if self._cmd_vel is None or time.monotonic() - self._cmd_vel[1] > self.config.cmd_vel_timeout:
            return self._zero_cmd
        return self._cmd_vel[0]

    def _on_goal(self, msg: PointStamped) -> None:
        goal = np.array([msg.point.x, msg.point.y, msg.point.z], dtype=np.float64)
        if not np.all(np.isfinite(goal)):
            log.warning("%s: ignored a non-finite goal %s on %s", self.config.node_name, goal, self.config.goal_topic)
            return
        with self._lock:
            self._goal = goal

    def _due(self, stamp_ns: int) -> bool:
        """At most one step per control period of robot time; a stamp going back is dropped."""
        last = self._last_step_stamp
        if last is not None and stamp_ns < last:
            self._input_note = (
                f"state stamped {(last - stamp_ns) / 1e9:.3g} s before the previous one on "
                f"{self.config.state_topic}: dropped (send reset after restarting the robot)"
            )
            return False
        return last is None or stamp_ns - last >= 0.9 * self.period * 1e9

    def _robot_time(self) -> tuple[float, float]:
        """(now, stamp of the last state) in robot time: the last stamp plus wall time since it arrived."""
        if self._last is None:
            return time.monotonic(), time.monotonic()
        _, arrived, stamp = self._last
        return stamp + (time.monotonic() - arrived), stamp

    def _episode_changed(self, msg: JointState) -> bool:
        if not self.config.follow_episodes:
            return False
        episode = episode_of(msg)
        changed = episode is not None and self._episode is not None and episode != self._episode
        self._episode = episode
        return changed

    def _restart_for_episode(self, mapped: MappedState, now: float) -> None:
        """New sim episode: ramp in again from the new state, as an operator would reset and activate
        after moving the robot back -- except after a fault that needs the operator's eyes."""
        ctl = self.controller
        if ctl.state == "fault" and ctl.safety.fault_kind in STICKY_FAULTS:
            log.warning(
                "%s: new episode %s, but the %s fault stays latched until reset: %s",
                self.config.node_name,
                self._episode,
                ctl.safety.fault_kind,
                ctl.fault_reason,
            )
            return
        log.info("%s: new episode %s, re-activating from the new state", self.config.node_name, self._episode)
        if ctl.reset() != "fault":  # reset also forgets the sensor check's reference: the robot was moved
            self._fault_note = None
            # The simulator teleported the robot: the old episode's last target is no rate-limit origin.
            ctl.safety.relocated()
        if self._want_active and ctl.state == "inactive" and self._ready(mapped) and self._publisher_note is None:
            ctl.activate(now, mapped.q)

    def _step(self, mapped: MappedState, now: float, stamp: float) -> Any:
        """One filter step (caller holds the lock); remembers why a fault happened, and deactivates
        the filter once the source has finished (its safe action is what goes out then)."""
        before = self.controller.state
        imu, imu_stamp = self._imu if self._imu is not None else (None, None)
        task_input = self._velocity_command() if self._needs_cmd_vel else self._goal
        if self._needs_goal and self._goal is None and not self._warned_no_goal:
            self._warned_no_goal = True
            log.warning("%s: no goal on %s yet; the policy sees a zero goal", self.config.node_name,
                        self.config.goal_topic)
        out = self.controller.step(now, stamp, mapped.q, mapped.qd, task_input, imu, imu_stamp)
        if out.state == "active" and self.controller.finished(now):
            self._want_active = False
            self.finished = True
            self.controller.deactivate()
            log.info("%s: the %s has finished; inactive", self.config.node_name, self.controller.source.kind)
            out = self.controller.step(now, stamp, mapped.q, mapped.qd, task_input, imu, imu_stamp)
        if out.state == "fault" and before != "fault":
            self._fault_note = mapped.problem
            log.error(
                "%s: FAULT: %s%s",
                self.config.node_name,
                out.fault_reason,
                f" ({mapped.problem})" if mapped.problem else "",
            )
        return out

    def _send(self, out: Any, state_msg: JointState | None, t_in: float, robot_time: float) -> None:
        """Publish a command; record it (and the state it answers) at `robot_time`.

        The recording uses robot time -- the state's own stamp, and for a command the stamp of the
        state it answers -- so a bag of a simulated robot is on sim time without racing /clock, and
        the command and the state it was computed from share one timestamp.
        """
        cmd = Float64MultiArray(data=[float(v) for v in out.values])
        self._command_pub.publish(cmd)
        t_out = time.perf_counter()
        with self._lock:
            self._last_out = out
            self._commands += 1
            self._last_publish = time.monotonic()
            self._command_times.append(self._last_publish)
            if state_msg is not None:
                self._latency_ms.append((t_out - t_in) * 1e3)
        if self.recorder is not None:
            stamp = int(round(robot_time * 1e9))
            if state_msg is not None:
                self.recorder.record(self.config.state_topic, state_msg, stamp)
            self.recorder.record(self.config.command_topic, cmd, stamp)
        if str(out.state) != self._published_state:
            self._publish_status()

    def _on_timer(self) -> None:
        """Between states: fire the watchdog, keep the safe action flowing when states stop, expire a
        pending activate request, and watch for other publishers on the command topic."""
        fault = None
        with self._lock:
            if self.controller is None:
                return
            if self._want_active and self.controller.state == "inactive":
                self._activation_expired()
            if time.monotonic() - self._publishers_checked >= PUBLISHER_CHECK_S:
                fault = self._check_publishers()
        if fault is not None:
            self._send(fault[0], None, time.perf_counter(), fault[1])
            return
        self._publish_status_if_due()
        with self._lock:
            if self._last is None:
                return
            mapped, arrived, _ = self._last
            age = time.monotonic() - arrived
            active = self.controller.state == "active"
            stale = age > self.watchdog if active else age > 1.5 * self.period
            if not stale or time.monotonic() - self._last_publish < self.period:
                return
            now, stamp = self._robot_time()
            out = self._step(mapped, now, stamp)
        self._send(out, None, time.perf_counter(), now)

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            if self.controller is None:
                return
            pressed = bool(msg.data)
            if pressed == self.controller.safety.estop_pressed:
                return
            self.controller.estop(pressed)
            log.warning("%s: e-stop %s", self.config.node_name, "PRESSED" if pressed else "released")
            if not pressed:
                self._publish_status()
                return
            self._want_active = False
            now, stamp = self._robot_time()
            mapped = self._last[0] if self._last is not None else self._nan_state()
            out = self._step(mapped, now, stamp)
        self._send(out, None, time.perf_counter(), now)

    def _nan_state(self) -> MappedState:
        n = len(self.joint_map.joint_names)
        return MappedState(np.full(n, np.nan), np.full(n, np.nan), "no joint state received yet")

    def _on_transition(self, msg: String) -> None:
        self.request(msg.data)

    def request(self, name: str) -> str:
        """Apply a lifecycle request (activate | deactivate | reset); returns the answer.

        The transition topic calls this; the ROS 2 package also offers it as std_srvs/Trigger
        services (~/activate, ~/deactivate, ~/reset).
        """
        request = name.strip().lower()
        with self._lock:
            answer = self._transition(request)
            self._last_request = f"{request}: {answer}"
            log.info("%s: request %s", self.config.node_name, self._last_request)
        self._publish_status()
        return answer

    def _transition(self, request: str) -> str:
        """Apply one lifecycle request (caller holds the lock); returns the answer for diagnostics."""
        if request not in TRANSITIONS:
            return f"refused: unknown request; send one of {', '.join(TRANSITIONS)}"
        ctl = self.controller
        if ctl is None:
            return f"refused: node is unconfigured: {self.config_error}"
        if request == "deactivate":
            self._want_active = False
            ctl.deactivate()
            return "ok, inactive"
        if request == "reset":
            self._want_active = False
            self._last_step_stamp = None  # a restarted robot may count its stamps from zero again
            state = ctl.reset()
            if state == "fault":
                return f"refused: e-stop still pressed ({ctl.fault_reason}); release it, then reset"
            self._fault_note = None
            return "ok, inactive"
        if ctl.state == "fault":
            return f"refused: in fault ({ctl.fault_reason}); send reset first"
        if ctl.state == "active":
            return "ok, already active"
        self._check_publishers()
        if self._publisher_note is not None:
            return f"refused: {self._publisher_note}; stop it, then activate"
        self._want_active = True
        self._activate_asked = time.monotonic()
        expires = f"expires in {self.config.activate_timeout:g} s"
        if self._last is None or time.monotonic() - self._last[1] > self.watchdog:
            return f"pending: will activate when a fresh state arrives on {self.config.state_topic} ({expires})"
        mapped = self._last[0]
        if mapped.problem is not None:
            return f"pending: latest state is invalid ({mapped.problem}; {expires})"
        if not self._ready(mapped):
            return f"pending: will activate when an IMU reading arrives on {self.config.imu_topic} ({expires})"
        self._activate_asked = None
        # At the stamp of the state whose positions it starts from: the next state's stamp is never
        # earlier (an extrapolated "now" could be, which the filter takes for a clock going backwards).
        ctl.activate(self._last[2], mapped.q)
        return "ok, active (ramping in)" if ctl.state == "active" else f"refused: {ctl.fault_reason}"

    def _activation_expired(self) -> bool:
        """A pending activate request older than activate_timeout is dropped (caller holds the lock)."""
        asked = self._activate_asked
        if asked is None or time.monotonic() - asked <= self.config.activate_timeout:
            return False
        self._want_active = False
        self._activate_asked = None
        self._last_request = (
            f"activate: expired after {self.config.activate_timeout:g} s without a valid state on "
            f"{self.config.state_topic}; send activate again"
        )
        log.warning("%s: %s", self.config.node_name, self._last_request)
        self._status_due = True  # published once the caller has released the lock
        return True

    def _publish_status_if_due(self) -> None:
        if self._status_due:
            self._status_due = False
            self._publish_status()

    def _check_publishers(self) -> tuple[Any, float] | None:
        """Count the writers on the command topic (caller holds the lock). Another one is reported,
        blocks activation and, while active, latches a fault; returns the fault's command to send
        and its robot time."""
        self._publishers_checked = time.monotonic()
        count = self.transport.count_publishers(self.config.command_topic, Float64MultiArray)
        changed = count != self._publishers
        self._publishers = count
        if count <= 1:
            self._publisher_note = None
            if changed:
                log.info("%s: this node is again the only publisher on %s", self.config.node_name,
                         self.config.command_topic)
            return None
        self._publisher_note = (
            f"{count - 1} other publisher(s) on {self.config.command_topic} ({count} writers matched): "
            "only this node may command the robot"
        )
        if changed:
            log.error("%s: %s", self.config.node_name, self._publisher_note)
        if self.controller.state == "active":
            self._want_active = False
            self.controller.safety.external_fault(self._publisher_note)
            now, stamp = self._robot_time()
            out = self._step(self._last[0] if self._last is not None else self._nan_state(), now, stamp)
            return out, now
        return None

    # -- reporting ---------------------------------------------------------------------------
    def status(self) -> DiagnosticStatus:
        """The node's health as one DiagnosticStatus (what ``ros2 topic echo /diagnostics`` shows)."""
        with self._lock:
            state = self.state
            ctl = self.controller
            fault = ctl.fault_reason if ctl is not None else None
            lat = np.asarray(self._latency_ms) if self._latency_ms else np.asarray([np.nan])
            times = list(self._command_times)
            window = [t for t in times if t >= time.monotonic() - 2.0]
            rate = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 2 else 0.0
            values = {
                "state": state,
                "source": ctl.source.kind if ctl is not None else "none",
                **(ctl.source.describe() if ctl is not None else {}),
                "robot": self.config.robot,
                "control_hz": f"{1.0 / self.period:g}",
                "loop_rate_hz": f"{rate:.1f}",
                "latency_p50_ms": f"{np.percentile(lat, 50):.3f}",
                "latency_p99_ms": f"{np.percentile(lat, 99):.3f}",
                "states_received": str(self._states),
                "imu_received": str(self._imus) if self._needs_imu else "not used",
                "cmd_vel": (" ".join(f"{v:.2f}" for v in self._velocity_command()) if self._needs_cmd_vel
                            else "not used"),
                "commands_sent": str(self._commands),
                "last_fault": fault or "none",
                "fault_input": self._fault_note or "none",
                "latest_state_problem": self._input_note or "none",
                "estop": "pressed" if ctl is not None and ctl.safety.estop_pressed else "released",
                "last_request": self._last_request,
                "configuration_error": self.config_error or "none",
                "limits": ctl.source.limits_summary() if ctl is not None else "none",
                "finished": str(self.finished).lower(),
                "command_publishers": str(self._publishers),
                "other_publisher": self._publisher_note or "none",
            }
            if state == UNCONFIGURED:
                level, message = DiagnosticStatus.ERROR, f"unconfigured: {self.config_error}"
            elif state == "fault":
                note = f" ({self._fault_note})" if self._fault_note else ""
                level, message = DiagnosticStatus.ERROR, f"fault: {fault}{note}"
            elif self._publisher_note:
                level, message = DiagnosticStatus.ERROR, f"{state}; {self._publisher_note}"
            elif self._input_note:
                level, message = DiagnosticStatus.WARN, f"{state}; latest state invalid: {self._input_note}"
            else:
                level, message = DiagnosticStatus.OK, state
        return DiagnosticStatus(
            level=level,
            name=f"{self.config.node_name}: {self.kind}",
            message=message,
            hardware_id=self.config.robot,
            values=[KeyValue(k, v) for k, v in values.items()],
        )

    def _publish_status(self) -> None:
        with self._status_lock:
            status = self.status()
            header = Header(stamp=time_from_ns(self.transport.now_ns()))
            self._diag_pub.publish(DiagnosticArray(header=header, status=[status]))
            state = status.values[0].value
            if state != self._published_state:
                self._published_state = state
                self._state_pub.publish(String(state))

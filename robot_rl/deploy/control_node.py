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
  states' header stamps*, so the command leaves within one callback of the state.
* **Time is the node's own.** On a robot the filter runs on the node's monotonic clock, and every
  stamp from outside (joint states, IMU, goal) is mapped onto it and checked (`stamps.StreamClock`):
  a stamp in the future, one going backwards while the node drives on it (before that a stream that
  restarts simply starts anew), or a stream advancing faster than real time beyond the watchdog is
  a ``clock`` fault naming the topic. The watchdogs measure the real age of each
  input, whatever its last stamp said, and the rate limit is per second of node time (a stream sent
  at 500 Hz for a 50 Hz policy moves a target no faster than one at 50 Hz). A node whose own clock
  jumped past the watchdog between two of its callbacks (the process was stopped, SIGSTOP, or
  starved) faults instead of resuming. ``/cmd_vel`` (a Twist has no stamp) is aged by its arrival.
  Under a simulator (`follow_episodes`, ``--sim``) the node runs on sim time as ROS's use_sim_time
  does: the states' stamps are its clock (a lockstep simulator runs faster than real time by
  design), extrapolated by the monotonic clock between states; stamps going backwards and node
  stalls are still faults.
* With a recorder (`open_recorder`: the project's one bag writer), each stepped state and each
  command is stored at robot time (a command at the stamp of the state it answers), and before a
  state the task inputs its step used when they changed (goal, IMU, velocity command): a bag
  calibration can read directly, on sim time under a simulator, with no race against /clock.
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
* **The e-stop is durable.** ``/estop`` (std_msgs/Bool, true = pressed) is read through a
  transient-local, a reliable and a best-effort subscription (`transport.ESTOP_QOS`), so a press a
  latched writer made before this node started is delivered when they match, and every writer is
  heard. A press latches a fault and sends the safe action at once. Until the node has heard the
  e-stop's state it is *unknown*, and on a robot activation waits for a release (``false``,
  latched or published after the node started): a press whose publisher has already exited left
  nothing on the network to see, so only a fresh release proves the e-stop is up. With
  ``allow_unknown_estop``, 1 s without an e-stop message counts as released instead (a latched or
  repeating press is still heard in that second). A simulator (``--sim``) is not waited for.
* ``~/transition`` (std_msgs/String: ``activate`` | ``deactivate`` | ``reset``) drives the
  lifecycle; ``~/state`` (std_msgs/String, latched) reports ``unconfigured`` | ``inactive`` |
  ``active`` | ``fault`` | ``finalized`` (the node has stopped). Activation waits for a valid, fresh
  state and ramps in from it. A request that cannot be served at once expires after
  ``activate_timeout`` (3 s) without a valid state: an operator's old click never starts a robot
  that appears later (``--activate`` is a standing order of the configuration instead, and does
  not expire).
* **Leaving is always safe.** `stop` (called on Ctrl-C, SIGTERM, ``--duration``, an exception or a
  failed transport by every front end) latches a fault (``node stopped: <why>``) and sends the
  filter's fault action until it has settled -- zero force, hold position, damping mode on a legged
  robot -- then publishes ``finalized`` and sends nothing more. A ros2_control forward command
  controller keeps its last command, so that command must be the safe one.
* Faults that need an operator's eyes -- the robot went silent past the watchdog (a crash), the
  node stalled, a sensor fault, the e-stop, a second publisher -- are cleared only by an explicit
  ``reset``, also under a simulator (`follow_episodes`); a new episode clears only input faults (a
  NaN, a bad stamp). A reset also forgets the inputs' clocks (a restarted robot may count anew).
* Only this node may write the command topic, and only one source may feed each input (joint
  states, IMU, cmd_vel, goal): the number of publishers on each is watched (the rmw's / DDS's
  matched count). Another one is reported in diagnostics, blocks activation, and while active
  latches a fault. The e-stop and the transition topic may have any number of publishers.
* The policy's limits are part of its contract: the filter drives with the tighter of the card's
  and robot.yaml's limits (diagnostics ``limits`` says which); a robot.yaml wider than the card is
  refused (node unconfigured) unless ``allow_wider_limits``.
* ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): state, loop rate, latency, last fault,
  the joint at fault, the e-stop, and the answer to the last request; on every change and at 2 Hz.
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
    Vector3,
    time_from_ns,
    time_to_ns,
)
from robot_rl.deploy.stamps import StreamClock
from robot_rl.deploy.transport import LATCHED_QOS, Transport, subscribe_durable
from robot_rl.errors import USER_ERRORS

log = logging.getLogger(__name__)

UNCONFIGURED = "unconfigured"
FINALIZED = "finalized"  # ROS 2 lifecycle's name for a node that has shut down
TRANSITIONS = ("activate", "deactivate", "reset")
# Faults a simulator's new episode does not clear: they need an operator's explicit reset.
STICKY_FAULTS = ("watchdog", "sensor", "estop", "external")
PUBLISHER_CHECK_S = 0.1  # s between counts of the command and input topics' publishers
ESTOP_LISTEN_S = 1.0  # allow_unknown_estop: s of silence on the e-stop topic that count as released
STOP_SETTLE_S = 0.5  # s at most that `stop` keeps sending the safe action until it has settled


def open_recorder(config: ControlNodeConfig, metadata: dict[str, str] | None = None) -> BagRecorder | None:
    """The node's bag (``config.record``), or None: stepped states and sent commands, whatever the source."""
    if not config.record:
        return None
    return BagRecorder(config.record, control_topics(config.state_topic, config.command_topic), metadata=metadata)


class ControlNode:
    """Wires a `Controller` (any command source behind the SafetyFilter) to a transport.

    ``make_controller`` builds the Controller; a user error it raises (a policy contract, a bad
    robot.yaml) leaves the node unconfigured instead of killing it. Thread-safe: callbacks may
    arrive on any thread. ``clock`` (seconds, monotonic) and ``sleep`` are the node's own time;
    tests pass a fake pair.
    """

    def __init__(self, transport: Transport, config: ControlNodeConfig, make_controller: Callable[[], Any],
                 recorder: BagRecorder | None = None, kind: str = "control", *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.transport = transport
        self.config = config
        self.recorder = recorder
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.RLock()  # commands are published under it: the wire sees them in order
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
        self.sim_time = config.follow_episodes  # a simulator: its stamps are the node's clock

        self._want_active = config.activate
        self._activate_asked: float | None = None  # node time of a pending activate request
        self._publishers: dict[str, int] = {config.command_topic: 1}  # writers per watched topic, ours included
        self._publisher_note: str | None = None  # set while another publisher is seen
        self._publishers_checked = -math.inf
        self._status_due = False
        # last mapped state, its arrival (node time), its stamp (robot time, s), its stamp on the filter's clock
        self._last: tuple[MappedState, float, float, float] | None = None
        self._last_step_stamp: int | None = None  # header stamp (ns) of the last stepped state
        self._last_publish = -math.inf  # node time of the last command
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
        self._stopped: str | None = None  # why the node stopped; set: no command is sent any more
        self._alive = clock()  # node time of the latest callback: a jump past the watchdog is a stall
        # E-stop: unknown until heard; on a robot activation waits for a release (see the module doc).
        self._estop_heard = False
        self._estop_listen_until = clock() + ESTOP_LISTEN_S if config.allow_unknown_estop else math.inf
        # Legged robots: the latest IMU reading (ImuState, its stamp on the filter's clock) and velocity command.
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
        tolerance = self.watchdog if math.isfinite(self.watchdog) else 1.0
        self._clocks = {topic: StreamClock(topic, tolerance, self.sim_time)
                        for topic in (config.state_topic, config.imu_topic, config.goal_topic)}
        # The inputs only one writer may feed (a second /joint_states stream is a forgery or a mistake).
        self._inputs: list[tuple[str, type]] = [(config.state_topic, JointState)]
        self._inputs += [(config.imu_topic, Imu)] if self._needs_imu else []
        self._inputs += [(config.cmd_vel_topic, Twist)] if self._needs_cmd_vel else []
        self._inputs += [(config.goal_topic, PointStamped)] if self._needs_goal else []
        # The task inputs a step used (goal, IMU, velocity command) go into the bag with its state
        # (`_record_inputs`): without them a reach or walk run cannot be replayed as the policy saw it.
        self._input_msgs: dict[str, Any] = {}  # topic -> latest message a step may use
        self._step_cmd_vel: np.ndarray | None = None  # the velocity command the last step used
        self._recorded_inputs: dict[str, Any] = {}  # topic -> the message (cmd_vel: value) last recorded
        if recorder is not None:
            for topic, msg_type in self._inputs[1:]:
                recorder.declare(topic, msg_type)

        self._command_pub = transport.publisher(config.command_topic, Float64MultiArray)
        # Count once here, so a transport that counts with a reader of its own creates it now, on this
        # thread, not later inside a middleware callback.
        for topic, msg_type in [(config.command_topic, Float64MultiArray), *self._inputs]:
            transport.count_publishers(topic, msg_type)
        self._state_pub = transport.publisher(config.lifecycle_topic, String, LATCHED_QOS)
        self._diag_pub = transport.publisher(config.diagnostics_topic, DiagnosticArray)
        transport.subscribe(config.state_topic, JointState, self._on_state)
        subscribe_durable(transport, config.estop_topic, Bool, self._on_estop)
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
        if self._stopped is not None:
            return FINALIZED
        return UNCONFIGURED if self.controller is None else str(self.controller.state)

    # -- callbacks ---------------------------------------------------------------------------
    def _on_state(self, msg: JointState) -> None:
        t_in = time.perf_counter()
        arrived = self._clock()
        with self._lock:
            self._states += 1
            if self.controller is None or self._stopped is not None:
                return
            self._check_alive(arrived)
            ctl = self.controller
            mapped = self.joint_map.map(msg)
            self._input_note = mapped.problem
            # A zero stamp means "not stamped" (some drivers): use the arrival time instead.
            stamp_ns = time_to_ns(msg.header.stamp) or int(arrived * 1e9)
            stamp = stamp_ns / 1e9
            learning = ctl.state != "active"
            node_stamp, problem = self._clocks[self.config.state_topic].map(stamp, arrived, learning)
            if learning and self._last_step_stamp is not None and stamp_ns < self._last_step_stamp:
                self._last_step_stamp = None  # the robot restarted its clock while nothing was driven
            if problem is not None:
                self._input_note = problem
                self._input_fault(problem)
            new_episode = self._episode_changed(msg)
            if problem is not None or (not new_episode and not self._due(stamp_ns)):
                self._answer_undue(stamp_ns, t_in)
            else:
                now = stamp if self.sim_time else arrived
                self._last = (mapped, arrived, stamp, node_stamp)
                if new_episode:
                    self._restart_for_episode(mapped, now)
                elif self._want_active and ctl.state == "inactive" and self._ready(mapped, now):
                    if not self._activation_expired() and self._blocker() is None:
                        self._activate_asked = None
                        ctl.activate(now, mapped.q, node_stamp)
                self._last_step_stamp = stamp_ns
                self._send(self._step(mapped, now, node_stamp), msg, t_in, stamp)
        self._publish_status_if_due()

    def _answer_undue(self, stamp_ns: int, t_in: float) -> None:
        """A state not due for a step (caller holds the lock): the same state again gets the command
        last sent, if it is still what the filter would send; a fault latched meanwhile (by this
        reading's stamp, say) sends the safe action now."""
        last = self._last_out
        if last is None or self._last is None:
            return
        if str(last.state) != self.controller.state:
            now, stamp, robot_time = self._times()
            self._send(self._step(self._last[0], now, stamp), None, t_in, robot_time)
        elif stamp_ns == self._last_step_stamp and self._clock() - self._last_publish <= self.watchdog:
            # A robot still waiting for its answer; resent only while fresh (never after a stall).
            self._publish_command(last)

    def _on_imu(self, msg: Imu) -> None:
        """Keep the latest reading, in sim.state's conventions (quaternion w, x, y, z, normalized)."""
        from sim.state import ImuState

        arrived = self._clock()
        o = msg.orientation
        quat = np.array([o.w, o.x, o.y, o.z], dtype=np.float64)
        norm = float(np.linalg.norm(quat))
        if norm > 0 and np.isfinite(norm):
            quat = quat / norm  # a NaN reading stays NaN: the filter faults on it
        w, a = msg.angular_velocity, msg.linear_acceleration
        imu = ImuState(quat, np.array([w.x, w.y, w.z], dtype=np.float64), np.array([a.x, a.y, a.z], dtype=np.float64))
        with self._lock:
            self._imus += 1
            if self.controller is None or self._stopped is not None:
                return
            self._check_alive(arrived)
            # An unstamped reading (0) is stamped on arrival, on the filter's clock.
            stamp = time_to_ns(msg.header.stamp) / 1e9
            if stamp == 0.0 and self.sim_time:
                stamp = self._times()[0]
            node_stamp, problem = self._clocks[self.config.imu_topic].map(
                stamp, arrived, self.controller.state != "active")
            self._imu = (imu, node_stamp)
            self._input_msgs[self.config.imu_topic] = msg
            if problem is not None:
                self._input_fault(problem)
        self._publish_status_if_due()

    def _on_cmd_vel(self, msg: Twist) -> None:
        cmd = np.array([msg.linear.x, msg.linear.y, msg.angular.z], dtype=np.float64)
        if not np.all(np.isfinite(cmd)):
            log.warning("%s: ignored a non-finite velocity command %s on %s", self.config.node_name, cmd,
                        self.config.cmd_vel_topic)
            return
        with self._lock:
            t = self._clock()
            self._check_alive(t)
            self._cmd_vel = (cmd, t)  # a Twist carries no stamp: its age is its arrival's
        self._publish_status_if_due()

    def _on_goal(self, msg: PointStamped) -> None:
        goal = np.array([msg.point.x, msg.point.y, msg.point.z], dtype=np.float64)
        if not np.all(np.isfinite(goal)):
            log.warning("%s: ignored a non-finite goal %s on %s", self.config.node_name, goal, self.config.goal_topic)
            return
        with self._lock:
            if self.controller is None or self._stopped is not None:
                return
            arrived = self._clock()
            self._check_alive(arrived)
            stamp = time_to_ns(msg.header.stamp) / 1e9
            _, problem = self._clocks[self.config.goal_topic].map(stamp, arrived, self.controller.state != "active")
            if problem is not None:
                self._input_fault(problem)  # a goal from a clock running ahead is not used
            else:
                self._goal = goal
                self._input_msgs[self.config.goal_topic] = msg
        self._publish_status_if_due()

    def _ready(self, mapped: MappedState, now: float) -> bool:
        """A valid joint state, and for a legged robot a fresh IMU reading: what activation needs."""
        if mapped.problem is not None or not self._states_settled():
            return False
        return not self._needs_imu or (self._imu is not None and abs(now - self._imu[1]) <= self.watchdog)

    def _states_settled(self) -> bool:
        """States have flowed for ``settle_time`` of node time (always, under a simulator's clock)."""
        if self.sim_time:
            return True
        return self._clocks[self.config.state_topic].heard_for(self._clock()) >= self.config.settle_time - 1e-9

    def _velocity_command(self) -> np.ndarray:
        """The latest /cmd_vel, or zero (stand) when none arrived within cmd_vel_timeout of node time."""
        if self._cmd_vel is None or self._clock() - self._cmd_vel[1] > self.config.cmd_vel_timeout:
            return self._zero_cmd
        return self._cmd_vel[0]

    def _due(self, stamp_ns: int) -> bool:
        """At most one step per control period of the states' stamps."""
        last = self._last_step_stamp
        return last is None or stamp_ns - last >= 0.9 * self.period * 1e9

    def _times(self) -> tuple[float, float, float]:
        """(now and the last state's stamp on the filter's clock, robot time now) between states:
        on a robot the node's clock; under a simulator the last stamp plus node time since it arrived."""
        t = self._clock()
        if self._last is None:
            return t, t, t
        _, arrived, stamp, node_stamp = self._last
        robot_time = stamp + (t - arrived)
        return (robot_time if self.sim_time else t), node_stamp, robot_time

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
        if self._want_active and ctl.state == "inactive" and self._ready(mapped, now) and self._blocker() is None:
            ctl.activate(now, mapped.q)

    def _step(self, mapped: MappedState, now: float, stamp: float) -> Any:
        """One filter step (caller holds the lock); remembers why a fault happened, and deactivates
        the filter once the source has finished (its safe action is what goes out then)."""
        before = self.controller.state
        imu, imu_stamp = self._imu if self._imu is not None else (None, None)
        task_input = self._velocity_command() if self._needs_cmd_vel else self._goal
        self._step_cmd_vel = task_input if self._needs_cmd_vel else None
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
            self._fault_note = self._fault_note or mapped.problem
            log.error(
                "%s: FAULT: %s%s",
                self.config.node_name,
                out.fault_reason,
                f" ({mapped.problem})" if mapped.problem else "",
            )
        return out

    def _fault_now(self, reason: str, kind: str) -> None:
        """Latch a fault the node saw and send its safe action at once (caller holds the lock). Before
        any state arrived nothing is sent: a position robot's hold target is not known yet."""
        ctl = self.controller
        if ctl.state != "fault":
            self._fault_note = reason
        ctl.safety.external_fault(reason, kind)
        if kind in STICKY_FAULTS:  # a simulator's new episode may re-activate after an input fault only
            self._want_active = False
        if self._last is not None:
            now, stamp, robot_time = self._times()
            self._send(self._step(self._last[0], now, stamp), None, time.perf_counter(), robot_time)
        else:
            self._status_due = True

    def _input_fault(self, problem: str) -> None:
        """An input stamped where the node's clock says it cannot be (caller holds the lock)."""
        if self.controller.state != "fault":
            log.error("%s: FAULT: %s", self.config.node_name, problem)
            self._fault_now(problem, "clock")

    def _check_alive(self, t: float) -> None:
        """The node's own clock jumped past the watchdog since its last callback: the process was stopped
        or starved. An active node faults instead of resuming (caller holds the lock)."""
        gap = t - self._alive
        self._alive = max(self._alive, t)
        if gap > self.watchdog and self.controller is not None and self.controller.state == "active":
            reason = (f"the node did not run for {gap:.3g} s (watchdog {self.watchdog:g} s): it stalled "
                      "(stopped or starved process); not resuming")
            log.error("%s: FAULT: %s", self.config.node_name, reason)
            self._fault_now(reason, "watchdog")

    def _publish_command(self, out: Any) -> None:
        """Put a command on the wire (caller holds the lock, so commands leave in the order decided)."""
        self._command_pub.publish(Float64MultiArray(data=[float(v) for v in out.values]))

    def _send(self, out: Any, state_msg: JointState | None, t_in: float, robot_time: float) -> None:
        """Publish a command and record it (and the state it answers) at `robot_time` (caller holds the lock).

        The recording uses robot time -- the state's own stamp, and for a command the stamp of the
        state it answers -- so a bag of a simulated robot is on sim time without racing /clock, and
        the command and the state it was computed from share one timestamp.
        """
        if self._stopped is not None:
            return
        cmd = Float64MultiArray(data=[float(v) for v in out.values])
        self._command_pub.publish(cmd)
        t_out = time.perf_counter()
        self._last_out = out
        self._commands += 1
        self._last_publish = self._clock()
        self._command_times.append(self._last_publish)
        if state_msg is not None:
            self._latency_ms.append((t_out - t_in) * 1e3)
        if self.recorder is not None:
            stamp = int(round(robot_time * 1e9))
            if state_msg is not None:
                self._record_inputs(stamp)
                self.recorder.record(self.config.state_topic, state_msg, stamp)
            self.recorder.record(self.config.command_topic, cmd, stamp)
        if str(out.state) != self._published_state:
            self._status_due = True  # published by the callback once it has released the lock

    def _record_inputs(self, stamp: int) -> None:
        """Record the task inputs the step just taken used, each when it changed, at the state's stamp and
        before it (caller holds the lock): a reader taking the latest one before each state (`robot-rl bc`)
        rebuilds the observation the policy acted on, whatever order the topics arrived in."""
        for topic, msg in self._input_msgs.items():
            # A goal by its point (a simulator re-sends the same goal with every state); an IMU reading by itself.
            key = (msg.point.x, msg.point.y, msg.point.z) if isinstance(msg, PointStamped) else msg
            if self._recorded_inputs.get(topic) != key:
                self.recorder.record(topic, msg, stamp)
                self._recorded_inputs[topic] = key
        if self._step_cmd_vel is not None:  # a Twist of the value used (zero after cmd_vel_timeout)
            value = tuple(float(v) for v in self._step_cmd_vel)
            if self._recorded_inputs.get(self.config.cmd_vel_topic) != value:
                self.recorder.record(self.config.cmd_vel_topic, Twist(linear=Vector3(value[0], value[1], 0.0),
                                                                      angular=Vector3(0.0, 0.0, value[2])), stamp)
                self._recorded_inputs[self.config.cmd_vel_topic] = value

    def _on_timer(self) -> None:
        """Between states: fire the watchdog, keep the safe action flowing when states stop, expire a
        pending activate request, watch for other publishers, and notice the node's own stalls."""
        with self._lock:
            if self.controller is None or self._stopped is not None:
                return
            t = self._clock()
            if self._want_active and self.controller.state == "inactive":
                self._activation_expired()
            if t - self._publishers_checked >= PUBLISHER_CHECK_S:
                self._check_publishers()
            if self._last is not None:
                # The state's age as the filter will judge it: since its stamp on the node's clock (since
                # its arrival under a simulator, whose stamps run on their own clock).
                _, arrived, _, node_stamp = self._last
                age = t - (arrived if self.sim_time else node_stamp)
                active = self.controller.state == "active"
                stale = age > self.watchdog if active else age > 1.5 * self.period
                if stale and t - self._last_publish >= self.period:
                    now, stamp, robot_time = self._times()
                    self._send(self._step(self._last[0], now, stamp), None, time.perf_counter(), robot_time)
            self._check_alive(t)  # after the stale-state step: a silent robot is reported as such
        self._publish_status_if_due()

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            if self.controller is None or self._stopped is not None:
                return
            pressed = bool(msg.data)
            first = not self._estop_heard
            self._estop_heard = True
            if pressed != self.controller.safety.estop_pressed:
                self.controller.estop(pressed)
                log.warning("%s: e-stop %s", self.config.node_name, "PRESSED" if pressed else "released")
                if pressed:
                    self._fault_now("e-stop pressed", "estop")
            if first or not pressed:
                self._status_due = True
        self._publish_status_if_due()

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
        if self._stopped is not None:
            return f"refused: the node has stopped ({self._stopped})"
        if request == "deactivate":
            self._want_active = False
            ctl.deactivate()
            return "ok, inactive"
        if request == "reset":
            self._want_active = False
            self._last_step_stamp = None  # a restarted robot may count its stamps from zero again
            for stream in self._clocks.values():
                stream.reset()
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
        self._activate_asked = self._clock()
        expires = f"expires in {self.config.activate_timeout:g} s"
        estop = self._estop_blocker()
        if estop is not None:
            return f"pending: {estop} ({expires})"
        now, stamp, _ = self._times()
        if self._last is None or now - stamp > self.watchdog:
            return f"pending: will activate when a fresh state arrives on {self.config.state_topic} ({expires})"
        mapped = self._last[0]
        if mapped.problem is not None:
            return f"pending: latest state is invalid ({mapped.problem}; {expires})"
        if not self._states_settled():
            return (f"pending: will activate once states have flowed {self.config.settle_time:g} s on "
                    f"{self.config.state_topic} ({expires})")
        if not self._ready(mapped, now):
            return f"pending: will activate when a fresh IMU reading arrives on {self.config.imu_topic} ({expires})"
        self._activate_asked = None
        # On a robot at the node's clock now; under a simulator at the stamp of the state whose
        # positions it starts from (an extrapolated "now" could be later than the next state's stamp,
        # which the filter takes for a clock going backwards).
        ctl.activate(stamp if self.sim_time else now, mapped.q, stamp)
        return "ok, active (ramping in)" if ctl.state == "active" else f"refused: {ctl.fault_reason}"

    def _activation_expired(self) -> bool:
        """A pending activate request older than activate_timeout is dropped (caller holds the lock)."""
        asked = self._activate_asked
        if asked is None or self._clock() - asked <= self.config.activate_timeout:
            return False
        self._want_active = False
        self._activate_asked = None
        blocker = self._blocker()
        self._last_request = (
            f"activate: expired after {self.config.activate_timeout:g} s "
            + (f"({blocker})" if blocker else f"without a valid state on {self.config.state_topic}")
            + "; send activate again"
        )
        log.warning("%s: %s", self.config.node_name, self._last_request)
        self._status_due = True  # published once the caller has released the lock
        return True

    def _estop_blocker(self) -> str | None:
        """Why the e-stop's state does not allow activation yet (None: it does)."""
        if self._estop_heard or self.sim_time:
            return None
        topic = self.config.estop_topic
        if not self.config.allow_unknown_estop:
            return (f"e-stop state unknown: waiting for a release (std_msgs/Bool false on {topic}, latched or "
                    "published after this node started)")
        if self._clock() < self._estop_listen_until:
            return f"listening {ESTOP_LISTEN_S:g} s on {topic} for an e-stop pressed before this node started"
        return None

    def _blocker(self) -> str | None:
        """What keeps a standing activate order from being served now (caller holds the lock)."""
        return self._publisher_note or self._estop_blocker()

    def waiting_for(self) -> str | None:
        """Why a standing activate order is not served yet (another publisher, the e-stop's state
        unknown), or None: for front ends that report why a run never started."""
        with self._lock:
            return self._blocker() if self.controller is not None else None

    def _publish_status_if_due(self) -> None:
        if self._status_due:
            self._status_due = False
            self._publish_status()

    def _check_publishers(self) -> None:
        """Count the writers on the command topic and on every input (caller holds the lock). Another
        one is reported, blocks activation and, while active, latches a fault (its safe action sent)."""
        self._publishers_checked = self._clock()
        counts = {topic: self.transport.count_publishers(topic, msg_type)
                  for topic, msg_type in [(self.config.command_topic, Float64MultiArray), *self._inputs]}
        changed = counts != self._publishers
        self._publishers = counts
        notes = []
        for topic, count in counts.items():
            if count > 1 and topic == self.config.command_topic:
                notes.append(f"{count - 1} other publisher(s) on {topic} ({count} writers matched): only this node "
                             "may command the robot")
            elif count > 1:
                notes.append(f"{count} publishers on {topic}: only one source may feed this input (a forged "
                             "stream, or one left running)")
        if not notes:
            if self._publisher_note is not None:
                log.info("%s: one publisher per topic again", self.config.node_name)
            self._publisher_note = None
            return
        self._publisher_note = "; ".join(notes)
        if changed:
            log.error("%s: %s", self.config.node_name, self._publisher_note)
            self._status_due = True
        if self.controller.state == "active":
            self._fault_now(self._publisher_note, "external")

    # -- leaving -----------------------------------------------------------------------------
    def stop(self, reason: str, settle_s: float = STOP_SETTLE_S) -> None:
        """Leave the robot safe, whatever state the node is in, then publish ``finalized``.

        Latches a fault ``node stopped: <reason>`` and sends the filter's fault action every period
        until two in a row agree (a position target approaches its hold at the rate limit), at most
        `settle_s`: zero force, hold position, damping mode on a legged robot. A forward command
        controller keeps the last command it got, so the last one must be this. Then nothing more is
        sent. Safe to call twice, from any front end's ``finally`` (Ctrl-C, SIGTERM, --duration, an
        exception); a node that never received a state sends nothing (no hold target is known).
        """
        with self._lock:
            if self._stopped is not None:
                return
            ctl = self.controller
            if ctl is not None:
                self._want_active = False
                was = ctl.state
                ctl.safety.external_fault(f"node stopped: {reason}")
                if was != "fault":
                    self._fault_note = None
                log.info("%s: stopping (%s): sending the safe action", self.config.node_name, reason)
        if ctl is not None and self._last is not None:
            end = self._clock() + settle_s
            previous = None
            while True:
                try:
                    with self._lock:
                        now, stamp, robot_time = self._times()
                        out = self._step(self._last[0], now, stamp)
                        self._send(out, None, time.perf_counter(), robot_time)
                except Exception as exc:  # a broken transport: report it, still finish the stop
                    log.error("%s: could not send the safe action while stopping: %r", self.config.node_name, exc)
                    break
                if previous is not None and np.array_equal(out.values, previous) or self._clock() >= end:
                    break
                previous = out.values
                self._sleep(self.period)
        with self._lock:
            self._stopped = reason
        try:
            self._publish_status()
        except Exception as exc:
            log.error("%s: could not publish the final state: %r", self.config.node_name, exc)

    # -- reporting ---------------------------------------------------------------------------
    def _estop_word(self) -> str:
        ctl = self.controller
        if ctl is not None and ctl.safety.estop_pressed:
            return "pressed"
        if self._estop_heard:
            return "released"
        blocker = self._estop_blocker()
        return f"unknown ({blocker})" if blocker else "unknown (not waited for)"

    def status(self) -> DiagnosticStatus:
        """The node's health as one DiagnosticStatus (what ``ros2 topic echo /diagnostics`` shows)."""
        with self._lock:
            state = self.state
            ctl = self.controller
            fault = ctl.fault_reason if ctl is not None else None
            lat = np.asarray(self._latency_ms) if self._latency_ms else np.asarray([np.nan])
            times = list(self._command_times)
            window = [t for t in times if t >= self._clock() - 2.0]
            span = window[-1] - window[0] if len(window) > 2 else 0.0
            rate = (len(window) - 1) / span if span > 0 else 0.0  # a burst on one clock tick has no rate
            values = {
                "state": state,
                "source": ctl.source.kind if ctl is not None else "none",
                **(ctl.source.describe() if ctl is not None else {}),
                "robot": self.config.robot,
                "control_hz": f"{1.0 / self.period:g}",
                "clock": "sim time (stamps)" if self.sim_time else "node monotonic clock",
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
                "estop": self._estop_word(),
                "last_request": self._last_request,
                "configuration_error": self.config_error or "none",
                "limits": ctl.source.limits_summary() if ctl is not None else "none",
                "finished": str(self.finished).lower(),
                "command_publishers": str(self._publishers.get(self.config.command_topic, 0)),
                "input_publishers": ", ".join(f"{t} {c}" for t, c in self._publishers.items()
                                              if t != self.config.command_topic) or "not counted yet",
                "other_publisher": self._publisher_note or "none",
            }
            note = f" ({self._fault_note})" if self._fault_note and self._fault_note != fault else ""
            if state == FINALIZED:
                level, message = DiagnosticStatus.WARN, f"finalized: {self._stopped}; the safe action was sent"
            elif state == UNCONFIGURED:
                level, message = DiagnosticStatus.ERROR, f"unconfigured: {self.config_error}"
            elif state == "fault":
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

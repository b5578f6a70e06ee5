"""Play an informative excitation on a robot and record it for system identification.

Force-driven joints (the cart-pole): a random-phase multisine per actuator (0.1-3 Hz by default,
seeded), plus a holding feedback that keeps rail-mounted or limited joints inside their travel (a
centring PD and a stiff wall in the outer quarter), clipped to the effort limits of robot.yaml.

Position-servoed joints (an arm such as the iiwa): a target per joint that tours --poses
configurations, chosen so that gravity loads every link mass (D-optimal for the link masses'
gravity torques), with a per-joint multisine around each. Dwells alternate a fast and a slow
multisine (slow: 0.3x the amplitude), and the transfers between poses are slow, so the log has
low speeds, where friction dominates, and high speeds, where damping does; the delay shows as the
phase lag at the upper frequencies. Masses, dampings, frictions and the delay are identifiable
from 20 s. Targets keep 10% of each joint's half range from its limits (the SafetyFilter's margin
is 2% of the range) and move at most 0.25x the velocity limit (its rate limit is 1x).

Every excitation starts with 0.5 s at rest (a clean initial state and a noise floor for the fit's
adequacy check) and fades in over 1 s.

On a simulated robot (the default) the run is recorded as a rosbag2 folder, the same format the
ROS 2 recorder writes: /joint_states (sensor_msgs/JointState) and the command topic
(std_msgs/Float64MultiArray). `--params` sets the simulated robot's physics, e.g. a "hidden" set
to recover with `robot-rl sysid`; `--obs-noise` adds sensor noise to what is recorded and fed
back. `--csv` writes the same log as CSV (layout: calibration/README.md).

With `--publish`, the excitation drives a real (or separately simulated) robot over the deploy
transport instead: each command passes the SafetyFilter (limits, watchdog, e-stop) before it
is published, and the joint states it receives are recorded.

Examples:
  robot-rl excite --robot cartpole --duration 20 --seed 1 --record runs/excite1.bag
  robot-rl excite --robot iiwa --duration 20 --params hidden.yaml --obs-noise 0.001 --record runs/arm.bag
  robot-rl excite --robot cartpole --engine pybullet --params hidden.yaml --obs-noise 0.002 \\
      --record runs/pb.bag --csv runs/pb.csv
  robot-rl excite --robot cartpole --publish --record runs/lab.bag   # a robot on ROS 2 / DDS
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import seconds

NAME = "excite"
HELP = "play a safe multisine excitation on a simulated or real robot and record it (rosbag2/CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="cartpole", help="robot name or path to a robot.yaml (default cartpole)")
    parser.add_argument("--engine", default="mujoco", choices=("mujoco", "pybullet"), help="simulator to excite")
    parser.add_argument("--params", default=None, help="params file for the simulated robot (default: robot.yaml)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of excitation (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="picks the multisine phases and the sensor noise")
    parser.add_argument(
        "--amplitude",
        type=float,
        default=0.4,
        help="excitation amplitude: fraction of the effort limit (force actuators), or twice the "
        "multisine's fraction of the half range around each pose (position actuators) (default 0.4)",
    )
    parser.add_argument(
        "--poses",
        type=int,
        default=4,
        help="position actuators: configurations the excitation visits, at least 2 s each (default 4)",
    )
    parser.add_argument(
        "--obs-noise",
        type=float,
        default=None,
        help="std of Gaussian sensor noise added to recorded joint states (default: the params' obs_noise)",
    )
    parser.add_argument("--record", default=None, help="rosbag2 folder to create")
    parser.add_argument("--csv", default=None, help="also write the log as CSV")
    parser.add_argument(
        "--command-topic",
        default="/forward_command_controller/commands",
        help="command topic to record (and publish with --publish)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="drive a robot over the deploy transport through the SafetyFilter instead of a simulator",
    )
    parser.add_argument(
        "--transport",
        default="dds",
        choices=("dds", "rclpy", "auto"),
        help="deploy transport for --publish (default dds)",
    )
    parser.add_argument(
        "--watchdog",
        type=seconds(0.0, 1.0, min_open=True),
        default=None,
        metavar="S",
        help="--publish: fault when no joint state arrives for S seconds, at most 1 s (default: 5 control periods)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from calibration.errors import CalibrationError
    from calibration.excitation import ExcitationConfig
    from sim.robot import load_robot

    console = Console()
    robot = load_robot(args.robot)
    if args.duration <= 2.0:
        raise CalibrationError(
            f"--duration {args.duration:g} s is too short: the first 1.5 s settle and fade in; use 10-30 s"
        )
    if not 0 < args.amplitude <= 0.9:
        raise CalibrationError(f"--amplitude {args.amplitude:g} must lie in (0, 0.9]")
    if args.record is None and args.csv is None:
        raise CalibrationError("nothing would be kept: pass --record PATH (rosbag2) and/or --csv PATH")
    if args.record is not None and Path(args.record).exists():
        raise CalibrationError(f"{args.record} exists already; a bag is never overwritten: choose a new --record")
    if not 1 <= args.poses <= 12:
        raise CalibrationError(f"--poses {args.poses} must lie in [1, 12]")
    if any(a.type == "position" for a in robot.actuators) and args.duration / args.poses < 2.0:
        raise CalibrationError(
            f"--duration {args.duration:g} s for --poses {args.poses} leaves under 2 s per pose; use fewer poses"
        )
    cfg = ExcitationConfig(amplitude=args.amplitude, n_poses=args.poses)
    if args.publish:
        log = _excite_robot(robot, args, cfg, console)
        travel = effort = target_speed = None
    else:
        from calibration.excitation import run_excitation
        from calibration.rosbag_io import BagRecorder
        from sim.engines import make_engine
        from sim.params import resolve_params

        values = resolve_params(robot, args.params)
        noise = values["obs_noise"] if args.obs_noise is None else args.obs_noise
        engine = make_engine(robot, args.engine, values)
        recorder = None
        if args.record is not None:
            recorder = BagRecorder(
                args.record,
                robot.joint_names,
                args.command_topic,
                metadata={"robot": robot.name, "engine": args.engine, "seed": str(args.seed)},
            )
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"exciting {robot.name} in {args.engine}", total=1.0)
                result = run_excitation(
                    engine,
                    robot,
                    args.duration,
                    args.seed,
                    obs_noise=noise,
                    cfg=cfg,
                    recorder=recorder,
                    source=f"{args.engine} simulation",
                    progress=lambda k, n: progress.update(task, completed=k / n),
                )
        finally:
            if recorder is not None:
                recorder.close()
            engine.close()
        log, travel, effort = result.log, result.max_travel_fraction, result.max_effort_fraction
        target_speed = result.max_target_speed_fraction
    if args.csv is not None:
        from calibration.csv_io import write_csv_log

        write_csv_log(args.csv, log)
    console.print(
        f"excited {robot.name} for {log.duration:.1f} s ({len(log.t)} joint states, {len(log.command_t)} commands)"
    )
    if travel is not None:
        parts = [f"largest excursion {100 * travel:.0f}% of the half travel"]
        if any(a.type == "force" for a in robot.actuators):
            parts.append(f"largest command {100 * effort:.0f}% of the effort limit")
        if any(a.type == "position" for a in robot.actuators):
            parts.append(f"fastest target {100 * target_speed:.0f}% of the velocity limit")
        console.print("  " + ", ".join(parts))
    for path in (args.record, args.csv):
        if path is not None:
            console.print(f"  wrote {path}")
    if args.record is not None:
        console.print(f"next: robot-rl sysid --robot {robot.name} --log {args.record} --fit <names> --out calib/NAME")
    return 0


def _excite_robot(robot, args: argparse.Namespace, cfg, console):
    """--publish: run `LiveExcitation` on the deploy transport, record with the deploy recorder, read it back."""
    import tempfile
    from pathlib import Path

    from calibration.rosbag_io import read_robot_log
    from robot_rl.deploy.recorder import BagRecorder
    from robot_rl.deploy.ros2_msgs import Float64MultiArray, JointState
    from robot_rl.deploy.transport import make_transport

    bag = Path(args.record) if args.record else Path(tempfile.mkdtemp(prefix="excite_")) / "run.bag"
    recorder = BagRecorder(bag, {"/joint_states": JointState, args.command_topic: Float64MultiArray})
    transport = make_transport(args.transport, "robot_rl_excite")
    try:
        live = LiveExcitation(
            transport,
            robot,
            args.duration,
            args.seed,
            cfg,
            recorder,
            command_topic=args.command_topic,
            watchdog=args.watchdog,
        )
        console.print(
            f"waiting for /joint_states, then exciting {robot.name} for {args.duration:g} s "
            "(e-stop: std_msgs/Bool true on /estop)"
        )
        transport.spin(until=lambda: live.done, timeout_s=args.duration + START_TIMEOUT_S)
    finally:
        transport.close()
        recorder.close()
    live.raise_if_failed(bag)
    return read_robot_log(bag, robot, command_topic=args.command_topic)


START_TIMEOUT_S = 30.0  # wait this long for a first valid joint state


class LiveExcitation:
    """The excitation on a robot over a deploy `Transport`, every command through the SafetyFilter.

    Per JointState (at most one per control period of its header stamps): map joints by name,
    activate the filter on the first valid state (its ramp eases the start in), compute the
    excitation from the measured state, filter, publish, record both. It stops after `duration`
    (deactivating: the filter's safe action goes out), on a fault (stale state, NaN, limits), or
    on the e-stop (`/estop`, std_msgs/Bool true). A timer between states fires the watchdog.
    """

    def __init__(
        self,
        transport,
        robot,
        duration: float,
        seed: int,
        cfg,
        recorder=None,
        state_topic: str = "/joint_states",
        command_topic: str = "/forward_command_controller/commands",
        estop_topic: str = "/estop",
        ramp_time: float = 0.5,
        watchdog: float | None = None,
    ):
        import threading

        from calibration.excitation import Excitation
        from robot_rl.deploy.joint_map import JointMap
        from robot_rl.deploy.ros2_msgs import Bool, Float64MultiArray, JointState
        from robot_rl.runtime.safety import SafetyConfig, SafetyFilter

        self.transport = transport
        self.robot = robot
        self.duration = float(duration)
        self.excitation = Excitation(robot, duration, seed, cfg)
        self.filter = SafetyFilter(
            robot, SafetyConfig.from_robot(robot, ramp_time=ramp_time, watchdog_timeout=watchdog)
        )
        self.joint_map = JointMap(robot.joint_names, state_topic)
        self.recorder = recorder
        self.state_topic, self.command_topic = state_topic, command_topic
        self._msg_type = Float64MultiArray
        self._pub = transport.publisher(command_topic, Float64MultiArray)
        self._lock = threading.Lock()
        self.t0: float | None = None
        self.done = False
        self.error: str | None = None
        self.commands = 0
        self._last = None  # (mapped state, monotonic arrival, stamp s)
        self._last_step_ns: int | None = None
        self._last_cmd = None
        self._episode: str | None = None  # a simulated robot's episode (robot_rl/episode/<n>)
        transport.subscribe(state_topic, JointState, self._on_state)
        transport.subscribe(estop_topic, Bool, self._on_estop)
        transport.timer(robot.control_dt / 2, self._on_timer)

    def _send(self, out, stamp: float, state_msg=None) -> None:
        """Publish, and record on robot time: a state at its stamp, the command at the stamp it answers.

        One clock for both topics and no transport jitter in the log; the robot's real latency from
        state to applied command is then what `sysid` fits as action_delay, as the engines model it.
        """
        cmd = self._msg_type(data=[float(v) for v in out.values])
        self._pub.publish(cmd)
        self._last_cmd = cmd
        self.commands += 1
        if self.recorder is not None:
            stamp_ns = int(round(stamp * 1e9))
            if state_msg is not None:
                self.recorder.record(self.state_topic, state_msg, stamp_ns)
            self.recorder.record(self.command_topic, cmd, stamp_ns)

    def _finish(self, error: str | None) -> None:
        self.error = self.error or error
        self.done = True

    def _on_state(self, msg) -> None:
        import time

        from robot_rl.deploy.joint_map import episode_of
        from robot_rl.deploy.ros2_msgs import time_to_ns
        from robot_rl.runtime.safety import SafetyState

        with self._lock:
            if self.done:
                return
            mapped = self.joint_map.map(msg)
            episode = episode_of(msg)
            if episode != self._episode and self._episode is not None:
                self.filter.forget_readings()  # a simulator's reset moved the robot: not a sensor fault
            self._episode = episode
            stamp_ns = time_to_ns(msg.header.stamp)  # robot time; 0 is a simulator's first state
            period_ns = self.robot.control_dt * 1e9
            if self._last_step_ns is not None and stamp_ns - self._last_step_ns < 0.9 * period_ns:
                if stamp_ns == self._last_step_ns and self._last_cmd is not None:
                    self._pub.publish(self._last_cmd)  # the same state again: a robot still waiting for its answer
                return
            now = stamp_ns / 1e9
            if self.t0 is None:
                if mapped.problem is not None:
                    return  # wait for a complete, finite state before starting
                self.filter.activate(now, mapped.q)
                self.t0 = now
            self._last_step_ns = stamp_ns
            self._last = (mapped, time.monotonic(), now)
            t = now - self.t0
            command = self.excitation.command(t, mapped.q, mapped.qd)
            out = self.filter.step(now, now, mapped.q, mapped.qd, command)
            if out.state is SafetyState.FAULT:
                self._send(out, now, msg)
                self._finish(f"{out.fault_reason}" + (f" ({mapped.problem})" if mapped.problem else ""))
            elif t >= self.duration:
                self.filter.deactivate()
                self._send(self.filter.step(now, now, mapped.q, mapped.qd, command), now, msg)
                self._finish(None)
            else:
                self._send(out, now, msg)

    def _on_estop(self, msg) -> None:
        with self._lock:
            if msg.data and not self.done:
                self.filter.estop(True)
                if self._last is not None:
                    mapped, _, stamp = self._last
                    safe = self.filter.step(stamp, stamp, mapped.q, mapped.qd, [0.0] * len(self.robot.actuators))
                    self._send(safe, stamp)
                self._finish("e-stop pressed")

    def _on_timer(self) -> None:
        import time

        from robot_rl.runtime.safety import SafetyState

        with self._lock:
            if self.done or self._last is None:
                return
            mapped, arrived, stamp = self._last
            age = time.monotonic() - arrived
            if age <= self.filter.config.watchdog_timeout:
                return
            out = self.filter.step(stamp + age, stamp, mapped.q, mapped.qd, [0.0] * len(self.robot.actuators))
            self._send(out, stamp + age)
            if out.state is SafetyState.FAULT:
                self._finish(f"{out.fault_reason}: joint states stopped arriving on {self.state_topic}")

    def raise_if_failed(self, bag) -> None:
        """After spinning: a user error if no state came, the run stopped early, or a fault ended it."""
        from calibration.errors import CalibrationError

        if self.t0 is None:
            raise CalibrationError(
                f"no valid joint state on {self.state_topic} within {START_TIMEOUT_S:g} s; is the "
                "robot (or `robot-rl sim-robot`) running on this ROS_DOMAIN_ID?"
            )
        if self.error is not None:
            raise CalibrationError(f"excitation stopped: {self.error}; what was recorded is in {bag}")
        if not self.done:
            raise CalibrationError(
                f"joint states stopped before the end of the excitation; what was recorded is in {bag}"
            )

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
adequacy check) and fades in over 1 s. A simulated one starts its command delay line holding the
first command, as a robot holds its pose before it is told anything (the fit replays it so).

On a simulated robot (the default) the run is recorded as a rosbag2 folder, the same format the
ROS 2 recorder writes: /joint_states (sensor_msgs/JointState) and the command topic
(std_msgs/Float64MultiArray). `--params` sets the simulated robot's physics, e.g. a "hidden" set
to recover with `robot-rl sysid`; `--obs-noise` adds sensor noise to what is recorded and fed
back. `--csv` writes the same log as CSV (layout: calibration/README.md).

Nothing recorded is destroyed: an existing `--csv` file is refused unless `--force` (checked before
the excitation runs; the new file replaces it atomically when the run is done), and an existing
`--record` bag is refused always (rosbag2 never appends: choose a new folder or delete the old one).

With `--publish`, the excitation drives a real (or separately simulated) robot over the deploy
transport instead: it is the command source of the same control node `robot-rl deploy` runs a
policy in, so each command passes the SafetyFilter (limits, watchdog, e-stop, second-publisher
check) before it is published, and the node's bag writer records the states stepped and the
commands sent, with the same topics and metadata as a simulated run's bag. SIGTERM or Ctrl-C (SIGINT,
also when started in the background with `&`) stops it as it stops `robot-rl deploy`: the safe action
(zero force, hold, or damping) goes out through the filter, then the transport and the bag are closed
(readable, a partial excitation; no CSV is written) and it exits 0, saying it was stopped.

A legged robot is identified hung on a gantry (`--suspended`): the trunk fixed in the air, no
floor, each leg's joints excited about their range centres. The bag records this
(custom data robot_rl.suspended), and `robot-rl sysid` then fits the suspended robot too.

Examples:
  robot-rl excite --robot cartpole --duration 20 --seed 1 --record runs/excite1.bag
  robot-rl excite --robot iiwa --duration 20 --params hidden.yaml --obs-noise 0.001 --record runs/arm.bag
  robot-rl excite --robot a1 --suspended --engine pybullet --params gap.yaml --duration 12 --record runs/a1.bag
  robot-rl excite --robot cartpole --engine pybullet --params hidden.yaml --obs-noise 0.002 \\
      --record runs/pb.bag --csv runs/pb.csv
  robot-rl excite --robot cartpole --publish --record runs/lab.bag   # a robot on ROS 2 / DDS
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import number, seconds, seed_int
from robot_rl.commands._config_args import add_config_arguments
from robot_rl.deploy.control_config import ControlNodeConfig

NAME = "excite"
HELP = "play a safe multisine excitation on a simulated or real robot and record it (rosbag2/CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", required=True,
                        help="the robot to excite: a shipped robot's name (`robot-rl robots`) or a robot.yaml path")
    parser.add_argument("--engine", default="mujoco", choices=("mujoco", "pybullet"), help="simulator to excite")
    parser.add_argument(
        "--suspended",
        action="store_true",
        help="legged robots: trunk fixed in the air (on a gantry), legs swinging free, as real quadrupeds are "
        "identified",
    )
    parser.add_argument("--params", default=None, help="params file for the simulated robot (default: robot.yaml)")
    parser.add_argument("--duration", type=seconds(0.0, 3600.0, min_open=True), default=20.0,
                        help="seconds of excitation, at most an hour (default 20)")
    parser.add_argument("--seed", type=seed_int, default=0, help="picks the multisine phases and the sensor noise")
    parser.add_argument(
        "--amplitude",
        type=float,
        default=None,
        help="excitation amplitude: fraction of the effort limit (force actuators), or twice the "
        "multisine's fraction of the half range around each pose (position actuators) (default 0.4; "
        "0.3 and up to 8 Hz for a suspended legged robot, whose legs swing about the standing pose and must clear "
        "the trunk and each other)",
    )
    parser.add_argument(
        "--poses",
        type=int,
        default=4,
        help="position actuators: configurations the excitation visits, at least 2 s each (default 4)",
    )
    parser.add_argument(
        "--obs-noise",
        type=number(0.0, 10.0, what="a finite std"),  # sim.robot.MAX_OBS_NOISE, the params files' bound
        default=None,
        help="std of Gaussian sensor noise added to recorded joint states (default: the params' obs_noise)",
    )
    parser.add_argument(
        "--motor-model", default=None, metavar="FILE|default",
        help="simulated robot with motors the PD servo cannot express (torque-speed envelope, current lag, backlash: "
        "sim/motor_model.py; MuJoCo): plays an excitation for its drives (random held target steps on the pose "
        "tour) and records efforts at --state-rate, for `robot-rl sysid --actuator-net`",
    )
    parser.add_argument(
        "--state-rate", type=number(0.0, min_open=True), default=None, metavar="HZ",
        help="with --motor-model: joint states and efforts recorded at this rate (default: the physics rate, as a "
        "joint drive reports them; commands stay at the control rate)",
    )
    parser.add_argument("--record", default=None, help="rosbag2 folder to create")
    parser.add_argument("--csv", default=None, help="also write the log as CSV (an existing file only with --force)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --csv file (a --record bag is never overwritten)")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="drive a robot over the deploy transport through the SafetyFilter instead of a simulator; SIGTERM or "
        "Ctrl-C sends the safe action, closes the bag and exits 0",
    )
    parser.add_argument(
        "--transport",
        default="dds",
        choices=("dds", "rclpy", "auto"),
        help="deploy transport for --publish (default dds)",
    )
    # The control node's own settings, derived from its config as `robot-rl deploy`'s are (the topic is
    # also the simulated run's command topic).
    add_config_arguments(parser, ControlNodeConfig,
                         only=("command_topic", "watchdog_timeout", "follow_episodes", "allow_unknown_estop"))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from calibration.errors import CalibrationError
    from calibration.excitation import ExcitationConfig
    from sim.robot import load_robot

    console = Console()
    robot = load_robot(args.robot)
    if args.suspended:
        from sim.robot import suspended

        robot = suspended(robot)
    if args.duration <= 2.0:
        raise CalibrationError(
            f"--duration {args.duration:g} s is too short: the first 1.5 s settle and fade in; use 10-30 s"
        )
    if args.amplitude is None:
        args.amplitude = 0.3 if args.suspended else 0.4
    if not 0 < args.amplitude <= 0.9:
        raise CalibrationError(f"--amplitude {args.amplitude:g} must lie in (0, 0.9]")
    if args.record is None and args.csv is None:
        raise CalibrationError("nothing would be kept: pass --record PATH (rosbag2) and/or --csv PATH")
    if args.motor_model is None and args.state_rate is not None:
        raise CalibrationError("--state-rate applies to the drive excitation of --motor-model only")
    if args.motor_model is not None and (args.publish or args.suspended):
        raise CalibrationError("--motor-model simulates the robot's motors: not with --publish (a real robot has its "
                               "own) or --suspended")
    if args.record is not None and Path(args.record).exists():
        raise CalibrationError(f"{args.record} exists already; a bag is never overwritten: choose a new --record")
    if args.csv is not None:
        check_csv_out(Path(args.csv), args.force)
    if not 1 <= args.poses <= 12:
        raise CalibrationError(f"--poses {args.poses} must lie in [1, 12]")
    if args.motor_model is None and any(a.type == "position" for a in robot.actuators) \
            and args.duration / args.poses < 2.0:  # (the drive excitation picks its own poses)
        raise CalibrationError(
            f"--duration {args.duration:g} s for --poses {args.poses} leaves under 2 s per pose; use fewer poses"
        )
    if args.suspended:
        # Legs hanging from a gantry: light links behind stiff servos respond up to ~10 Hz, and a
        # 20 ms delay only separates from damping with content that fast; poses stay near the
        # standing pose so the legs clear the trunk and each other.
        cfg = ExcitationConfig(amplitude=args.amplitude, n_poses=args.poses, f_max=8.0, pose_spread=0.2,
                               max_speed=0.6)
    else:
        cfg = ExcitationConfig(amplitude=args.amplitude, n_poses=args.poses)
    if args.publish:
        log = _excite_robot(robot, args, cfg, console)
        if log is None:  # stopped by SIGTERM or Ctrl-C: said so, the bag is closed, nothing more to write
            return 0
        travel = effort = target_speed = None
    else:
        from calibration.excitation import run_excitation
        from calibration.rosbag_io import BagRecorder
        from sim.engines import make_engine
        from sim.params import resolve_params

        values = resolve_params(robot, args.params)
        noise = values["obs_noise"] if args.obs_noise is None else args.obs_noise
        if args.motor_model is not None:
            return _excite_motors(robot, args, values, noise, console)
        engine = make_engine(robot, args.engine, values)
        recorder = None
        if args.record is not None:
            recorder = BagRecorder(args.record, robot.joint_names, args.command_topic,
                                   metadata=_bag_metadata(robot, args, args.engine))
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
        console.print(f"next: robot-rl sysid --robot {args.robot} --log {args.record} --fit <names> --out calib/NAME")
    return 0


def _excite_motors(robot, args: argparse.Namespace, values: dict, noise: float, console) -> int:
    """--motor-model: the drive excitation (calibration/actuator_net.py), efforts recorded at --state-rate."""
    from rich.progress import Progress

    from calibration.actuator_net import run_actuator_excitation
    from calibration.errors import CalibrationError
    from calibration.rosbag_io import BagRecorder
    from sim.engines import make_engine
    from sim.motor_model import load_motor_model

    rate = args.state_rate or 1.0 / robot.physics_dt
    every = robot.physics_dt * rate
    every = int(round(1.0 / every)) if every > 0 else 0
    if every < 1 or abs(every * robot.physics_dt * rate - 1.0) > 1e-6 or robot.substeps % every:
        raise CalibrationError(f"--state-rate {rate:g} Hz: the physics rate ({1 / robot.physics_dt:g} Hz) must be a "
                               f"whole multiple of it, and it of the control rate ({robot.control_hz:g} Hz)")
    engine = make_engine(robot, args.engine, values, torque_model=load_motor_model(robot, args.motor_model))
    recorder = None
    if args.record is not None:
        recorder = BagRecorder(args.record, robot.joint_names, args.command_topic,
                               metadata={**_bag_metadata(robot, args, args.engine), "motor_model": args.motor_model})
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"exciting {robot.name}'s drives in {args.engine}", total=1.0)
            log = run_actuator_excitation(engine, robot, args.duration, args.seed, record_every=every,
                                          obs_noise=noise, recorder=recorder,
                                          progress=lambda k, n: progress.update(task, completed=k / n),
                                          source=f"{args.engine} simulation, motor model {args.motor_model}")
    finally:
        if recorder is not None:
            recorder.close()
        engine.close()
    if args.csv is not None:
        from calibration.csv_io import write_csv_log

        write_csv_log(args.csv, log)
    console.print(f"excited {robot.name}'s drives for {log.duration:.1f} s ({len(log.t)} joint states with efforts "
                  f"at {rate:g} Hz, {len(log.command_t)} commands)")
    for path in (args.record, args.csv):
        if path is not None:
            console.print(f"  wrote {path}")
    first = args.record or args.csv
    console.print(f"next: robot-rl sysid --robot {args.robot} --actuator-net {first} --out calib/actuator_net.json")
    return 0


def check_csv_out(path, force: bool) -> None:
    """Refuse a --csv that is a folder, or an existing file without ``force`` (before anything runs)."""
    from calibration.errors import OutputError

    if path.is_dir():
        raise OutputError(f"--csv {path} is a folder; give a file name such as {path / 'run.csv'}")
    if path.exists() and not force:
        raise OutputError(f"--csv {path} exists already; choose a new file, or pass --force to replace it")
    if not path.parent.is_dir():
        raise OutputError(f"--csv {path}: folder {path.parent} does not exist; create it first")


def _bag_metadata(robot, args: argparse.Namespace, engine: str) -> dict[str, str]:
    """What `robot-rl sysid` reads back from a bag's custom data, the same for both paths."""
    return {"robot": robot.name, "engine": engine, "seed": str(args.seed),
            "suspended": str(bool(args.suspended)).lower()}


def _excite_robot(robot, args: argparse.Namespace, cfg, console):
    """--publish: the excitation as the command source of the one control node (every command through
    its SafetyFilter), recorded by its bag writer, read back.

    SIGTERM and SIGINT (Ctrl-C, ``ros2 launch``; also when a shell's ``&`` left SIGINT ignored) stop it as
    they stop `robot-rl deploy`: the node sends the filter's safe action (a forward command controller
    keeps the last command), then the transport and the bag are closed. Returns None then, having said
    so: a stop asked for is not a failure (exit 0), and not the "joint states stopped" of a silent robot.
    """
    import tempfile
    from pathlib import Path

    from calibration.excitation import Excitation
    from calibration.rosbag_io import read_robot_log
    from robot_rl.deploy.control_node import open_recorder
    from robot_rl.deploy.excitation_node import excitation_node, run_over
    from robot_rl.deploy.stop_signals import handle_stop_signals
    from robot_rl.deploy.transport import make_transport

    bag = Path(args.record) if args.record else Path(tempfile.mkdtemp(prefix="excite_")) / "run.bag"
    config = ControlNodeConfig(robot=robot.name, node_name="robot_rl_excite", command_topic=args.command_topic,
                               watchdog_timeout=args.watchdog_timeout, follow_episodes=args.follow_episodes,
                               allow_unknown_estop=args.allow_unknown_estop,
                               record=str(bag))
    recorder = open_recorder(config, _bag_metadata(robot, args, f"robot over {args.transport}"))
    transport = make_transport(args.transport, config.node_name, use_sim_time=config.follow_episodes)
    signalled: dict[str, str] = {}  # the stop reason, the same words as deploy's

    def on_sigterm() -> None:  # in a signal handler: no locks, just end the spin
        signalled["reason"] = "SIGTERM"
        transport.shutdown()

    handle_stop_signals(on_sigterm)
    node = None
    try:
        node = excitation_node(transport, config, robot, Excitation(robot, args.duration, args.seed, cfg).command,
                               args.duration, recorder)
        console.print(
            f"waiting for {config.state_topic}, then exciting {robot.name} for {args.duration:g} s "
            f"(e-stop: std_msgs/Bool true on {config.estop_topic}; Ctrl-C or SIGTERM stops it safely)"
        )
        transport.spin(until=lambda: run_over(node), timeout_s=args.duration + START_TIMEOUT_S)
    except KeyboardInterrupt:
        signalled["reason"] = "Ctrl-C (SIGINT)"
    finally:
        try:  # the safe action and the final state first, however the run ended
            if node is not None:
                node.stop(signalled.get("reason") or
                          ("the excitation run ended" if node.finished else "the excitation run stopped early"))
        finally:  # and the bag closed (readable) even if a second signal cut the stop short
            try:
                transport.close()
            finally:
                recorder.close()
    if "reason" in signalled:
        commands = recorder.counts.get(config.command_topic, 0)
        started = node is not None and node.controller is not None and node.controller.source.t0 is not None
        console.print(
            f"excitation stopped by {signalled['reason']}{'' if started else ' before it started'}; "
            f"{'the safe action was sent' if commands else 'no command was sent'}; "
            f"{recorder.counts.get(config.state_topic, 0)} joint states and {commands} commands recorded in {bag} "
            f"(a partial excitation{'; no CSV written' if args.csv else ''})",
            soft_wrap=True,  # one line (a log reader greps it), the bag's path unbroken
        )
        return None
    raise_if_failed(node, bag)
    return read_robot_log(bag, robot, command_topic=args.command_topic)


START_TIMEOUT_S = 30.0  # wait this long for a first valid joint state


def raise_if_failed(node, bag) -> None:
    """After spinning: a user error if no state came, a fault ended the run, or it stopped early."""
    from calibration.errors import CalibrationError
    from robot_rl.deploy.excitation_node import run_outcome

    if node.controller is not None and node.controller.source.t0 is None:
        waiting = node.waiting_for()
        raise CalibrationError(
            f"the excitation never started within {START_TIMEOUT_S:g} s: {waiting}" if waiting else
            f"no valid joint state on {node.config.state_topic} within {START_TIMEOUT_S:g} s; is the "
            "robot (or `robot-rl sim-robot`) running on this ROS_DOMAIN_ID?"
        )
    if node.finished:
        return
    if node.controller is None or node.state == "fault":
        raise CalibrationError(f"excitation stopped: {run_outcome(node)}; what was recorded is in {bag}")
    raise CalibrationError(f"joint states stopped before the end of the excitation; what was recorded is in {bag}")

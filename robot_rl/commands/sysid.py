"""Identify simulator parameters from a robot log: fitted values, their uncertainty, files for training.

Any names of the robot's parameter vocabulary can be fitted (`robot-rl robots cartpole` lists
them): link masses, joint damping / frictionloss / armature, actuator gain and PD gains, and
action_delay. obs_noise is estimated from the post-fit residuals. Everything not fitted keeps its
robot.yaml value, or the value in --params (which is also where the fit starts).

The log's commands are replayed open loop in the simulator from the log's initial state (fitted
along for joints not held by a PD servo), the first command held before the log (a robot holds its
pose before it is told anything else), and the simulated joint positions and velocities are
matched to the measured ones by least squares (mujoco.sysid + mujoco.minimize on MuJoCo; the
same solver over PyBullet rollouts with --engine pybullet). Intervals are 95%, from the Jacobian at
the optimum, plus the noise of the initial states estimated for servoed joints.

Logs:
  rosbag2 folder   /joint_states (sensor_msgs/JointState) + the command topic
                   (std_msgs/Float64MultiArray, default /forward_command_controller/commands),
                   as `robot-rl excite --record`, `robot-rl deploy --record` or `ros2 bag record` write.
  CSV file         header `t,q.<joint>...,qd.<joint>...,u.<actuator>...` (qd and effort.<joint>
                   optional), one row per sample, commands held until the next row
                   (full layout: calibration/README.md).
Unsorted or duplicate timestamps are an error (or sorted/dropped with --repair-log); a gap in the
joint states splits the log into segments fitted separately. The report lists every such step.

How it finds a global answer: first on the log cut into 2 s windows, each replayed from its own
measured start (a long open-loop replay of a pendulum has a local minimum per cycle of phase
error), action_delay on a grid over its whole interval (position residuals; velocities sampled
once per control period make the cost a sawtooth in the delay); then every parameter is refined
on the whole log by Levenberg-Marquardt with finite differences batched into threaded
mujoco.rollout calls; a fine delay grid and restarts pick the deepest of the ripples that
Coulomb friction puts in the cost. Search bounds scale with the robot:
masses 0.2-5x nominal, friction up to 10% of the joint's effort limit (and at most what a PD
servo overcomes with 0.2 rad of error), damping up to half the effort limit at full speed.

Is the model right? The last --holdout of the log (default 25%) is not fitted; the fitted model
replays it and its residual is compared with the sensor noise floor estimated from the data
(third differences over the quietest windows, and at least count/sqrt(12) for readings in
encoder counts). The verdict goes to the top of result.json:
  "adequate": true|false, "converged": true|false, "reasons": [...], "suggestions": [...]
Not adequate: the held-out residual exceeds 2x the noise floor on some signal, a parameter is
unidentified, ends on its search bound, or is correlated with another beyond |r| 0.99. Then a
score test over the unfitted vocabulary suggests which names would most reduce the residual.
Exit status: 0 adequate; 3 converged but not adequate (0 with --accept-inadequate); 4 did not
converge (a parameter on its bound, the iteration limit, or no improvement): never a params file.

Writes into --out (a folder that already holds a sysid's files is refused unless --force; a fit
that fails never replaces an earlier params.yaml / randomization.yaml: with --force over a
calibration, a failed fit's result.json and report go to --out/failed_fit/ and the calibration, its
result.json and report stay as they were):
  params.yaml          fitted values (absolute), for `robot-rl train --params` (only for an
                       adequate fit, or with --accept-inadequate; never for one that did not converge)
  randomization.yaml   DR ranges centred on the fit, widths from the intervals (other ranges and
                       initial_state/push from the robot's default config), for `--randomization`
                       (written with params.yaml)
  result.json          verdict first, then everything below, machine-readable
  report.html/.png     measured vs simulated, before and after the fit (offline, no CDN)

A legged robot's log from `robot-rl excite --suspended` (trunk fixed on a gantry) is fitted on the
suspended robot: the bag says so (custom data robot_rl.suspended), or pass --suspended for a CSV.

--model mlp learns a dynamics model instead (calibration/learned_dynamics.py): an MLP from the state,
command and --history to the next joint state, trained on the log's first part, its 1 s open-loop error
on the held-out rest reported next to the physics' (a fit of --fit on the same part, else --params or
nominal); writes --out/dynamics.pt (for `--controller mpc --dynamics-model`) and --out/result.json.

Examples:
  robot-rl sysid --robot a1 --log runs/a1.bag --fit "*.gain,*.kd,*.frictionloss,action_delay" --out calib/a1
  robot-rl sysid --robot cartpole --log runs/excite1.bag \\
      --fit pole.mass,hinge.damping,slider.frictionloss,slider.gain,action_delay --out calib/lab1
  robot-rl excite --robot iiwa --duration 20 --record runs/arm.bag
  robot-rl sysid --robot iiwa --log runs/arm.bag --out calib/arm --fit \\
      lbr_iiwa_link_3.mass,lbr_iiwa_link_5.mass,lbr_iiwa_link_7.mass,lbr_iiwa_joint_2.damping,\\
lbr_iiwa_joint_4.damping,lbr_iiwa_joint_3.frictionloss,lbr_iiwa_joint_5.frictionloss,\\
lbr_iiwa_joint_7.frictionloss,action_delay
  robot-rl sysid --robot cartpole --log run.csv --fit slider.gain,action_delay,obs_noise --out calib/quick
  robot-rl sysid --model mlp --robot cartpole --log runs/excite1.bag --fit slider.gain,action_delay --out calib/mlp
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import integer, positive_int, seed_int

NAME = "sysid"
HELP = "fit simulator parameters (masses, friction, gains, delay) to a robot log, with confidence intervals"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", required=True,
                        help="the robot the log is of: a shipped robot's name (`robot-rl robots`) or a robot.yaml path")
    parser.add_argument("--log", default=None, help="rosbag2 folder, or .csv file (required unless --actuator-net)")
    parser.add_argument(
        "--actuator-net", nargs="+", default=None, metavar="LOG",
        help="fit a learned actuator model instead (Hwangbo et al. 2019): one small MLP per actuator from the "
        "history of position error and velocity (--history past samples, 10 ms apart) to the logged effort, on these "
        "logs (rosbag2 or CSV with efforts, e.g. `robot-rl excite --motor-model default`); --out is then the "
        "network's JSON file, for `robot-rl train --actuator-net` (calibration/actuator_net.py)",
    )
    parser.add_argument(
        "--fit", default=None, help="comma-separated parameter names or glob patterns to fit, e.g. "
        "pole.mass,slider.gain,action_delay or '*.damping,action_delay' (a pattern matching nothing is an error); "
        "required with --model physics; with --model mlp: the physics fit the MLP is compared with"
    )
    parser.add_argument("--out", required=True, help="folder for params.yaml, randomization.yaml, result.json, report")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the files of an earlier sysid in --out (only a fit that succeeds replaces its params.yaml)",
    )
    parser.add_argument(
        "--engine",
        default="mujoco",
        choices=("mujoco", "pybullet"),
        help="simulator to fit (default mujoco; pybullet is slower, for what MuJoCo cannot express)",
    )
    parser.add_argument(
        "--params", default=None, help="params file: start values, and values of every parameter not fitted"
    )
    parser.add_argument(
        "--base-randomization",
        default="default",
        help="DR config whose other ranges and initial_state/push the written randomization.yaml "
        "keeps: a name in the robot's folder, a path, or 'none' (default: default)",
    )
    parser.add_argument(
        "--command-topic",
        default=None,
        help="command topic in the bag (default: /forward_command_controller/commands, or the "
        "only Float64MultiArray topic)",
    )
    parser.add_argument(
        "--repair-log",
        action="store_true",
        help="sort unsorted timestamps and drop duplicates instead of stopping (stated in the report)",
    )
    parser.add_argument("--max-iters", type=positive_int, default=50, help="solver iterations per pass (default 50)")
    parser.add_argument("--video", action="store_true",
                        help="also film the log beside the nominal and the fitted simulator: replay.mp4, shown in "
                        "report.html (robot-rl replay)")
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.25,
        help="fraction of the log (its end) kept out of the fit to validate it (default 0.25; 0: none)",
    )
    parser.add_argument(
        "--accept-inadequate",
        action="store_true",
        help="exit 0 and write params.yaml even when the fit is not adequate (never when it did not converge)",
    )
    parser.add_argument(
        "--skip",
        type=float,
        default=None,
        metavar="S",
        help="seconds of joint states at the log's start left out of the fit, every command still replayed "
        "(default 0; 1 for a suspended legged robot, whose servos catch the hanging legs first)",
    )
    parser.add_argument(
        "--model", choices=("physics", "mlp"), default="physics",
        help="physics (default): fit the simulator's parameters; mlp: train a learned dynamics model (an MLP "
        "predicting the next joint state, calibration/learned_dynamics.py) on the log, write DIR/dynamics.pt, and "
        "report its 1 s open-loop error on the held-out part next to the physics' (--fit, --params or nominal)",
    )
    parser.add_argument("--train-log", action="append", default=None, metavar="LOG",
                        help="--model mlp: another log of the robot to learn from (repeatable), e.g. runs of the "
                        "controller that will plan with the model (all of it trains; the comparison stays on "
                        "--log's held-out part)")
    parser.add_argument("--history", type=integer(0), default=None,
                        help="learned models: past samples each sees (--model mlp: (state, command) pairs besides "
                        "the current one, default 2)")
    parser.add_argument("--train-steps", type=positive_int, default=1500,
                        help="--model mlp: Adam steps of training (default 1500)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="learned models (--model mlp, --actuator-net): seed of the network's initial weights "
                        "and minibatches (default 0); a fit worth keeping holds on other seeds too")
    parser.add_argument(
        "--suspended",
        action="store_true",
        help="legged robots: the log was taken hung on a gantry (trunk fixed); automatic for a bag from "
        "`robot-rl excite --suspended`",
    )


EXIT_INADEQUATE = 3
EXIT_NOT_CONVERGED = 4


def run(args: argparse.Namespace) -> int:
    import math
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from calibration.identification import identify
    from calibration.outputs import check_sysid_out

    if args.actuator_net:
        from calibration.actuator_net import run_cli

        return run_cli(args)
    if not args.log:
        from calibration.errors import FitError

        raise FitError("--log is required: the robot log to fit (rosbag2 folder or CSV)")
    if args.model == "mlp":
        from robot_rl.commands._sysid_mlp import run_mlp

        return run_mlp(args, _robot_for_log(args))
    if not args.fit:
        from calibration.errors import FitError

        raise FitError("--fit is required: the parameter names to fit, e.g. --fit pole.mass,slider.gain,action_delay "
                       "(`robot-rl robots <robot>` lists them); or --model mlp for a learned dynamics model")
    check_sysid_out(args.out, args.force)  # before loading anything: the answer does not depend on the fit
    console = Console()
    base = None if args.base_randomization.lower() == "none" else args.base_randomization
    robot = _robot_for_log(args)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task(f"fitting {args.fit} on {args.engine}", total=None)
        result = identify(
            robot,
            args.log,
            args.fit,
            args.out,
            engine=args.engine,
            params=args.params,
            base_randomization=base,
            max_iters=args.max_iters,
            command_topic=args.command_topic,
            repair=args.repair_log,
            holdout=args.holdout,
            accept_inadequate=args.accept_inadequate,
            skip=(1.0 if robot.gantry is not None else 0.0) if args.skip is None else args.skip,
            force=args.force,
            progress=lambda k: progress.update(task, description=f"fitting {args.fit} on {args.engine}: iteration {k}"),
        )
    table = Table(
        title=f"{result.robot}: {result.log_duration:.1f} s of log, {result.engine}, "
        f"{result.iterations} iterations, {result.wall_s:.1f} s"
    )
    for col in ("parameter", "robot.yaml", "fitted", "95% interval", "DR range"):
        table.add_column(col)
    for n in result.fit_names:
        lo, hi = result.intervals[n]
        dr = result.dr_ranges[n]
        interval = "not identifiable" if not math.isfinite(result.half_widths[n]) else f"[{lo:.4g}, {hi:.4g}]"
        style = None if result.identified[n] else "red"
        table.add_row(
            n,
            f"{result.nominal[n]:.4g}",
            f"{result.fitted[n]:.4g}",
            interval,
            f"[{dr[0]:.4g}, {dr[1]:.4g}]",
            style=style,
        )
    console.print(table)
    for j in result.joint_names:
        b, a = result.residuals_before[j], result.residuals_after[j]
        console.print(
            f"  {j}: residual RMS position {b['position']:.3g} -> {a['position']:.3g}, "
            f"velocity {b['velocity']:.3g} -> {a['velocity']:.3g}"
        )
    for j in result.joint_names:
        if j in result.residuals_validation:
            v, f = result.residuals_validation[j], result.noise_floor[j]
            console.print(
                f"  {j}: held-out RMS position {v['position']:.3g} (noise {f['position']:.3g}), "
                f"velocity {v['velocity']:.3g} (noise {f['velocity']:.3g})"
            )
    for note in result.notes:
        console.print(f"  note: {note}")
    if getattr(args, "video", False):
        from robot_rl.commands.replay import sysid_replay

        result.paths["video"] = sysid_replay(result, Path(args.log), args.robot, args.command_topic)
    for key, path in result.paths.items():
        console.print(f"  {key}: {path}")
    if result.adequate:
        console.print("[green]adequate[/green]: the model explains held-out data down to the noise floor")
        return 0
    for reason in result.reasons:
        console.print(f"  [red]not adequate[/red]: {reason}")
    if result.suggestions:
        console.print("  the score test suggests fitting also: " + ", ".join(
            f"{e['name']} (-{100 * e['predicted_reduction']:.0f}% residual)" for e in result.suggestions))
    kept = "" if result.paths["result"].parent == Path(args.out) else f"; the earlier calibration in {args.out} is kept"
    if not result.converged:
        console.print(f"[red]did not converge[/red]: no params.yaml written{kept} (exit {EXIT_NOT_CONVERGED})")
        return EXIT_NOT_CONVERGED
    if args.accept_inadequate:
        console.print("[yellow]not adequate, accepted (--accept-inadequate)[/yellow]: params.yaml written")
        return 0
    console.print(f"[red]not adequate[/red]: no params.yaml written{kept} (exit {EXIT_INADEQUATE}); fix the model or "
                  "the log, or pass --accept-inadequate")
    return EXIT_INADEQUATE


def _robot_for_log(args: argparse.Namespace):
    """The robot as the log saw it: suspended (trunk fixed) when asked, or when the bag says so."""
    from pathlib import Path

    from sim.robot import load_robot, suspended

    robot = load_robot(args.robot)
    if robot.base is None:
        return robot
    if args.suspended or _bag_says_suspended(Path(args.log)):
        return suspended(robot)
    return robot


def _bag_says_suspended(path) -> bool:
    """True when `path` is a rosbag2 folder whose metadata carries robot_rl.suspended: true."""
    from sim.errors import ConfigError
    from sim.validation import load_yaml_file

    meta = path / "metadata.yaml"
    if not meta.is_file():
        return False
    try:
        info = load_yaml_file(meta, "rosbag2 metadata") or {}
    except ConfigError:
        return False  # the log reader reports a broken bag, naming it
    if not isinstance(info, dict):
        return False
    custom = (info.get("rosbag2_bagfile_information") or {}).get("custom_data") or {}
    return str(custom.get("robot_rl.suspended", "")).lower() == "true"

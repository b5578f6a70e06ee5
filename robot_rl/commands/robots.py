"""List the robots shipped in sim/robots/, describe one, or make a robot folder from a URDF.

Examples:
  robot-rl robots                 # table of robots
  robot-rl robots cartpole        # joints, limits, actuators and the parameter vocabulary
  robot-rl robots a1              # + floating base, IMU, feet, floor, default pose and its tasks
  robot-rl robots path/to/robot.yaml   # validate your own description
  robot-rl robots import path/to/robot.urdf --out robots/myarm   # a robot folder from its URDF

robots import URDF --out DIR writes DIR/robot.yaml, DIR/randomization/default.yaml and
DIR/robustness.yaml, commented, from what the URDF says and what can be computed from it:
  joints      every moving joint in tree order; gripper joints (named like a finger/gripper/
              jaw, their <mimic> partners, what hangs below them) are held still, not listed;
              limits from the URDF, a conservative placeholder marked CHECK where it has none
  kind        legged if two or more chains of joints leave the root and end below it (legs),
              else a fixed-base arm (--kind to say otherwise)
  arm         end effector at the end of the longest chain (a link named like tcp/ee/tool/
              flange/hand there if any); integrator implicit if its light distal links need it
  legged      feet = the lowest link of each leg; a crouched default pose; the base height above
              the feet; an IMU link if one is named so, else the base
  gains       PD gains from each joint's effective inertia (MuJoCo's mass matrix of the URDF's
              links): arms at a 10 Hz servo bandwidth, legs from the weight they carry; kp is
              capped so that kp * 0.5 rad <= the effort limit; the rule is written in the file
  gaps        randomization/default.yaml and robustness.yaml cover the reality gap of the kind:
              arm: link masses +-40% and a 0.5 kg tool, damping x3, friction 1 N*m, 30 ms;
              legged: trunk +30%, floor friction x0.5, motors -15%, kd +30%, 25 ms, noise
Then both engines run the same 2 s of small sines about the default pose (a legged robot hung on
its gantry) and the per-joint gap is printed: the sim2sim check (--no-check to skip it). A legged
robot also stands 2 s on the floor in each engine: does it carry its weight?
An existing robot.yaml, randomization/default.yaml or robustness.yaml in DIR is refused unless
--force. What next:
  1. edit DIR/robot.yaml where it says CHECK (and the gains, if you know your servos)
  2. robot-rl robots DIR                          # validate it
  3. robot-rl train --task Reach --robot DIR      # an arm (a legged robot: --task Walk)
"""

from __future__ import annotations

import argparse

NAME = "robots"
HELP = "list robots, show one robot's joints, actuators and parameter names, or import a URDF (robots import)"
IMPORT = "import"
# Gap above which the engines are said to disagree on a fixed-base (or hung) robot: they agree to
# ~1e-8 rad on the iiwa and ~5e-5 rad on the hung A1 (tests/test_sim_engines.py), so 1 mrad is a
# real difference in how the two engines see the robot, not integration noise.
AGREE_RAD = 1e-3
SINK = 0.25  # a legged robot that sinks more than this fraction of its height standing: say so


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("robot", nargs="?", help="robot name or path to a robot.yaml to describe and validate; "
                        "or `import` followed by a URDF")
    parser.add_argument("urdf", nargs="?", metavar="URDF", help="(robots import) the URDF to import")
    parser.add_argument("--out", help="(robots import) folder to write robot.yaml and its files into")
    parser.add_argument("--force", action="store_true", help="(robots import) replace the files an earlier "
                        "import wrote in --out")
    parser.add_argument("--kind", choices=("arm", "legged"), help="(robots import) say what the robot is instead "
                        "of detecting it")
    parser.add_argument("--name", help="(robots import) the robot's name (default: the --out folder's name)")
    parser.add_argument("--no-check", action="store_true", help="(robots import) skip the sim2sim check")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sim.randomization import available_configs
    from sim.robot import available_robots, load_robot
    from sim.tasks.registry import task_spec, tasks_for

    console = Console()
    if args.robot == IMPORT:
        return run_import(args, console)
    given = [flag for flag, value in (("URDF", args.urdf), ("--out", args.out), ("--force", args.force),
                                      ("--kind", args.kind), ("--name", args.name), ("--no-check", args.no_check))
             if value]
    if given:
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"{', '.join(given)}: only for `robot-rl robots import URDF --out DIR`")
    if args.robot is None:
        console.print(robots_table([load_robot(name) for name in available_robots()], available_configs))
        return 0
    r = load_robot(args.robot)
    console.print(f"[bold]{r.name}[/bold]: {r.description}\n  {r.yaml_path}\n  URDF {r.urdf_path}")
    console.print(f"  control {r.control_hz:g} Hz, physics {r.physics_dt * 1000:g} ms ({r.substeps} substeps), "
                  f"contacts {'on' if r.contacts else 'off'}")
    if r.base is not None:
        b = r.base
        console.print(f"  floating base: link {b.link}, initial height {b.height:g} m; IMU on {b.imu_link}; "
                      f"feet {', '.join(b.feet) or 'none'}; floor friction {b.floor_friction:g}")
    for task in tasks_for(r):  # its aliases, then the tasks by kind it fits (Reach for an arm, Walk if legged)
        t = task_spec(task)
        console.print(f"  task {t.env_id}{'' if t.robot else f' --robot {args.robot}'}: {t.success}")
    joints = Table(title="joints (command/state order)")
    cols = ("joint", "type", "position limits", "velocity limit", "effort limit")
    for col in cols + (("default pose (action 0)",) if r.default_pose is not None else ()):
        joints.add_column(col)
    for k, j in enumerate(r.joints):
        lim = "unlimited" if j.position_limits is None else f"[{j.position_limits[0]:g}, {j.position_limits[1]:g}]"
        row = [j.name, j.type, lim, f"{j.velocity_limit:g}", f"{j.effort_limit:g}"]
        if r.default_pose is not None:
            row.append(f"{r.default_pose[k]:g}")
        joints.add_row(*row)
    console.print(joints)
    acts = Table(title="actuators")
    for col in ("actuator", "joint", "type", "gain", "kp", "kd", "effort limit"):
        acts.add_column(col)
    for a in r.actuators:
        acts.add_row(a.name, a.joint, a.type, f"{a.gain:g}", f"{a.kp:g}", f"{a.kd:g}", f"{a.effort_limit:g}")
    console.print(acts)
    console.print("parameter vocabulary (nominal values):")
    for name, value in r.nominal.items():
        console.print(f"  {name} = {value:g}")
    return 0


def robots_table(robots: list, configs) -> object:
    """The robot list as a rich table; the description sits under the name so that it keeps the
    table's full width and stays readable in an 80-column terminal."""
    from rich.table import Table

    table = Table(title="robots (sim/robots/)")
    table.add_column("name / description", ratio=1, overflow="fold")
    for col in ("joints", "actuators", "control", "DR configs"):
        table.add_column(col, no_wrap=True)
    from sim.tasks.registry import tasks_for

    for r in robots:
        kinds = sorted({a.type for a in r.actuators})
        tasks = ", ".join(tasks_for(r)) or "none"
        base = "floating base" if r.floating else "fixed base"
        table.add_row(
            f"[bold]{r.name}[/bold] ({base}; tasks: {tasks})\n{r.description}",
            str(len(r.joints)),
            f"{len(r.actuators)} ({', '.join(kinds)})",
            f"{r.control_hz:g} Hz / {r.physics_dt * 1000:g} ms",
            ", ".join(configs(r)),
        )
    return table


def run_import(args: argparse.Namespace, console) -> int:
    """`robots import URDF --out DIR`: plan, write (validated), then the sim2sim check."""
    import os
    from pathlib import Path

    from rich.table import Table

    from robot_rl.errors import RobotRLError
    from sim.robot import load_robot
    from sim.robot_files import check_out, unresolved_package, write_robot_folder
    from sim.robot_import import SAG_CHECK_RAD, plan_robot
    from sim.sim2sim import check_robot, standing

    if args.urdf is None or args.out is None:
        raise RobotRLError("usage: robot-rl robots import URDF --out DIR (see `robot-rl robots --help`)")
    out = Path(args.out).expanduser()
    check_out(out, args.force)  # before reading anything: the answer does not depend on the URDF
    name = args.name or out.resolve().name
    plan = plan_robot(args.urdf, name, kind=args.kind)
    written, problem = write_robot_folder(plan, out, force=args.force)
    console.print(f"[bold]{plan.name}[/bold]: {plan.kind} ({plan.kind_reason})")
    if plan.kind == "arm":
        console.print(f"  end effector {plan.end_effector}; integrator {plan.integrator}, physics "
                      f"{plan.physics_dt * 1000:g} ms")
    else:
        console.print(f"  base {plan.base_link}, height {plan.height:.3f} m; IMU on {plan.imu_link}; feet "
                      f"{', '.join(plan.feet)}; physics {plan.physics_dt * 1000:g} ms")
    if plan.held:
        console.print("  held (not listed): " + ", ".join(f"{n} ({why})" for n, why in plan.held.items()))
    table = Table(title=f"joints and suggested servos (kp * {SAG_CHECK_RAD:g} rad <= effort limit)")
    for col in ("joint", "limits", "I_eff", "kp", "kd", "bandwidth", f"kp*{SAG_CHECK_RAD:g} / effort", "check"):
        table.add_column(col)
    for jp in plan.joints:
        lim = "unlimited" if jp.limits is None else f"[{jp.limits[0]:.3g}, {jp.limits[1]:.3g}]"
        sag = jp.kp * SAG_CHECK_RAD
        ok = "ok" if sag <= jp.effort * (1 + 1e-9) else "[red]over[/red]"
        table.add_row(jp.name, lim, f"{jp.inertia:.3g}", f"{jp.kp:.4g}", f"{jp.kd:.3g}",
                      f"{jp.bandwidth_hz:.2g} Hz" + (" (capped)" if jp.capped else ""),
                      f"{sag:.3g} / {jp.effort:g} {ok}", "; ".join(jp.checks) or "")
    console.print(table)
    for note in plan.notes:
        console.print(f"  {note}")
    console.print("wrote " + ", ".join(str(p) for p in written))
    if problem is not None:  # robot.yaml loads once the user says where the meshes' package is
        hint = " (its packages: line is there, commented out)" if unresolved_package(problem) else ""
        raise RobotRLError(f"{out / 'robot.yaml'} is written but does not load yet: {problem}{hint}")
    if args.no_check:
        console.print(f"next: edit {out / 'robot.yaml'} (CHECK marks), then `robot-rl robots {out}`")
        return 0
    try:
        robot = load_robot(out / "robot.yaml")
        gap = check_robot(robot)
        stand = standing(robot) if robot.floating else None
    except Exception as exc:  # an engine that cannot build the robot (a mesh format it cannot read, ...)
        if os.environ.get("ROBOT_RL_DEBUG", "") not in ("", "0"):
            raise
        raise RobotRLError(f"{out / 'robot.yaml'} is written, but the sim2sim check could not run it: "
                           f"{type(exc).__name__}: {exc} (ROBOT_RL_DEBUG=1 for the traceback)") from None
    check = Table(title=f"sim2sim check: MuJoCo vs PyBullet, {gap['seconds']:g} s of small sines about the default "
                  "pose" + (", hung on the gantry" if gap["suspended"] else ""))
    for col in ("joint", "RMS position gap", "max position gap", "max velocity gap"):
        check.add_column(col)
    for n in gap["rms_position_gap"]:
        check.add_row(n, f"{gap['rms_position_gap'][n]:.3g}", f"{gap['max_abs_position_gap'][n]:.3g}",
                      f"{gap['max_abs_velocity_gap'][n]:.3g}")
    console.print(check)
    if gap["worst_max"] < AGREE_RAD:
        console.print(f"sim2sim: the engines agree (worst RMS gap {gap['worst_rms']:.2g} on {gap['worst_joint']}, "
                      f"max {gap['worst_max']:.2g}, below {AGREE_RAD:g})")
    else:
        console.print(f"[yellow]sim2sim: the engines differ: worst RMS gap {gap['worst_rms']:.2g} on "
                      f"{gap['worst_joint']}, max {gap['worst_max']:.2g} (>= {AGREE_RAD:g}); look at that joint's "
                      "limits, friction and the links below it before trusting a transfer between them[/yellow]")
    if stand is not None:
        h0, heights = stand["start_height_m"], [stand[e]["mean_height_last_1s_m"] for e in ("mujoco", "pybullet")]
        line = (f"standing {stand['seconds']:g} s in the default pose, set down at {h0:.3g} m: MuJoCo "
                f"{heights[0]:.3g} m, PyBullet {heights[1]:.3g} m over the last second (gap "
                f"{stand['height_gap_m'] * 1000:.0f} mm: the engines' contact models differ)")
        if min(heights) < (1 - SINK) * h0:
            line = (f"[yellow]{line}; it sinks more than {SINK:.0%}: the legs are soft for the robot's weight "
                    "(raise kp) or the default pose does not carry it[/yellow]")
        console.print(line)
    console.print(f"next: edit {out / 'robot.yaml'} (CHECK marks), `robot-rl robots {out}` to validate, then "
                  f"`robot-rl train --task {'Reach' if plan.kind == 'arm' else 'Walk'} --robot {out}`")
    return 0

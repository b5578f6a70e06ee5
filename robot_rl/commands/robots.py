"""List the robots shipped in sim/robots/, or describe one.

Examples:
  robot-rl robots                 # table of robots
  robot-rl robots cartpole        # joints, limits, actuators and the parameter vocabulary
  robot-rl robots a1              # + floating base, IMU, feet, floor, default pose and its tasks
  robot-rl robots path/to/robot.yaml   # validate your own description
"""

from __future__ import annotations

import argparse

NAME = "robots"
HELP = "list robots, or show one robot's joints, actuators and parameter names"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("robot", nargs="?", help="robot name or path to a robot.yaml to describe and validate")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sim.randomization import available_configs
    from sim.robot import available_robots, load_robot
    from sim.tasks.registry import TASK_SPECS

    console = Console()
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
    tasks = [t for t in TASK_SPECS if t.robot == r.name]
    for t in tasks:
        console.print(f"  task {t.env_id}: {t.success}")
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
    from sim.tasks.registry import TASK_SPECS

    for r in robots:
        kinds = sorted({a.type for a in r.actuators})
        tasks = ", ".join(t.id for t in TASK_SPECS if t.robot == r.name) or "none"
        base = "floating base" if r.floating else "fixed base"
        table.add_row(
            f"[bold]{r.name}[/bold] ({base}; tasks: {tasks})\n{r.description}",
            str(len(r.joints)),
            f"{len(r.actuators)} ({', '.join(kinds)})",
            f"{r.control_hz:g} Hz / {r.physics_dt * 1000:g} ms",
            ", ".join(configs(r)),
        )
    return table

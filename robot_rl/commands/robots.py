"""List the robots shipped in sim/robots/, or describe one.

Examples:
  robot-rl robots                 # table of robots
  robot-rl robots cartpole        # joints, limits, actuators and the parameter vocabulary
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

    console = Console()
    if args.robot is None:
        console.print(robots_table([load_robot(name) for name in available_robots()], available_configs))
        return 0
    r = load_robot(args.robot)
    console.print(f"[bold]{r.name}[/bold]: {r.description}\n  {r.yaml_path}\n  URDF {r.urdf_path}")
    joints = Table(title="joints (command/state order)")
    for col in ("joint", "type", "position limits", "velocity limit", "effort limit"):
        joints.add_column(col)
    for j in r.joints:
        lim = "unlimited" if j.position_limits is None else f"[{j.position_limits[0]:g}, {j.position_limits[1]:g}]"
        joints.add_row(j.name, j.type, lim, f"{j.velocity_limit:g}", f"{j.effort_limit:g}")
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
    for r in robots:
        kinds = sorted({a.type for a in r.actuators})
        table.add_row(
            f"[bold]{r.name}[/bold]\n{r.description}",
            str(len(r.joints)),
            f"{len(r.actuators)} ({', '.join(kinds)})",
            f"{r.control_hz:g} Hz / {r.physics_dt * 1000:g} ms",
            ", ".join(configs(r)),
        )
    return table

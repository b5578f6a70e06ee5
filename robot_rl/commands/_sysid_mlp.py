"""`robot-rl sysid --model mlp`: a learned dynamics model from the log, judged against the physics fit.

Not a command module (the leading underscore keeps it out of `robot-rl`'s command list): `sysid`
dispatches here, so its own module stays the physics fit's. The work is
`calibration.learned_dynamics.learn_dynamics`; this prints its table.
"""

from __future__ import annotations

import argparse

from sim.robot import RobotSpec


def run_mlp(args: argparse.Namespace, robot: RobotSpec) -> int:
    """Train, compare, save (DIR/dynamics.pt, DIR/result.json); print the held-out 1 s open-loop errors."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from calibration.learned_dynamics import DynamicsSettings, learn_dynamics

    console = Console()
    settings = DynamicsSettings(history=2 if args.history is None else args.history, steps=args.train_steps,
                                seed=args.seed)  # `sysid --seed`; result.json's settings.seed
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("training the dynamics model" + (f" (and fitting {args.fit})" if args.fit else ""),
                                 total=None)
        result = learn_dynamics(
            robot, args.log, args.out, more_logs=args.train_log or (), settings=settings, fit_names=args.fit,
            params=args.params,
            holdout=args.holdout, skip=(1.0 if robot.gantry is not None else 0.0) if args.skip is None else args.skip,
            command_topic=args.command_topic, repair=args.repair_log, force=args.force, max_iters=args.max_iters,
            progress=lambda k, n: progress.update(task, description=f"training the dynamics model: step {k}/{n}"),
        )
    ol = result["open_loop"]
    table = Table(title=f"{result['robot']}: {ol['window_s']:g} s open-loop RMS error on {ol['windows']} held-out "
                  f"window(s) ({ol['held_out_s']:.1f} s held out)")
    for col in ("joint", "mlp position", "physics position", "mlp / physics", "hold (no model)"):
        table.add_column(col)
    for j in result["joint_names"]:
        table.add_row(j, f"{ol['mlp'][j]['position']:.4g}", f"{ol['physics'][j]['position']:.4g}",
                      f"{ol['ratio_mlp_to_physics'][j]:.2f}x", f"{ol['hold'][j]['position']:.4g}")
    console.print(table)
    console.print(f"  physics: {result['physics']}")
    tr = result["training"]
    console.print(f"  mlp: history {result['settings']['history']}, step {result['settings']['dt'] * 1e3:g} ms, "
                  f"{tr['samples']} training samples, {tr['train_s']:.1f} s of training")
    for note in result["notes"]:
        console.print(f"  note: {note}")
    for key, path in result["paths"].items():
        console.print(f"  {key}: {path}")
    return 0

"""Train many runs on Ray: seeds x a grid of settings, each trial a normal run folder.

Examples:
  robot-rl sweep --task CartpoleBalance-v0 --steps 60000 --seeds 0,1,2 --grid learning_rate=1e-3,3e-4 --out runs/lr
  robot-rl sweep --task CartpoleSwingup-v0 --seeds 0-4 --grid randomize=none,default --out runs/dr
  robot-rl sweep --task CartpoleSwingup-v0 --seeds 0,1 --grid params=nominal.yaml,calibrated.yaml --out runs/cal
  robot-rl sweep --env-id Pendulum-v1 --algo sac --steps 20000 --seeds 0,1 --address 10.0.0.1:6379 --out runs/p
  robot-rl sweep --task Reach --robot panda --seeds 0,1 --grid learning_rate=1e-3,3e-4 --out runs/panda-lr

Every combination of --grid values at every seed is a trial trained in DIR/<config>-s<seed>/, the
folder `robot-rl train` writes (resume it, evaluate it, export it). --grid takes any --set key and
params, randomize or engine. Trials are Ray tasks declaring --cpus-per-trial CPUs, on an embedded
local Ray sized to this machine or on the cluster at --address. A failed trial is reported and the
others go on; Ctrl-C stops the running trials after they save a checkpoint; running the same
command again skips finished trials and resumes the rest. DIR/sweep.json lists every trial
(config, seed, run_dir, mean_return, success_rate, wall_s, status); DIR/sweep.png plots the curves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import non_negative_int, number, positive_int

NAME = "sweep"
HELP = "train seeds x a grid of settings as Ray work, each a normal run folder; sweep.json, table, plot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_argument_group("what to train")
    from robot_rl.envs import OUR_TASKS

    which.add_argument("--task", help=f"one of our tasks: {', '.join(OUR_TASKS)} ('-v0' may be left out)")
    which.add_argument("--robot", default=None, metavar="NAME|ROBOT_YAML",
                       help="the robot of a task by kind (Reach, Walk, ...): a shipped robot's name or a "
                       "robot.yaml path")
    which.add_argument("--env-id", help="any Gymnasium env id with Box spaces, e.g. Pendulum-v1")
    which.add_argument("--algo", default=None, help="algorithm (default: the task's preset's, else ppo)")
    which.add_argument("--engine", choices=["mujoco", "pybullet"], default=None, help="physics engine (our tasks)")
    which.add_argument("--randomize", default=None, metavar="CFG", help="domain randomization (our tasks)")
    which.add_argument("--params", default=None, metavar="FILE", help="physics params file (our tasks)")
    grid = parser.add_argument_group("the sweep")
    grid.add_argument("--seeds", default="0,1,2",
                      help="seeds of every configuration: 0,1,2 or 0-4, at most 1000 (default 0,1,2)")
    grid.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values to sweep (repeatable, combined as a grid): any --set key, or params/randomize/engine",
    )
    grid.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a setting every trial shares (repeatable)"
    )
    grid.add_argument("--preset", default=None,
                      help="named algorithm settings (see `robot-rl train --help`); without it a task trains with its "
                      "own preset, as `robot-rl train` does (Reach: reach; Walk, A1Walk: legged); none: the "
                      "algorithm's defaults")
    grid.add_argument("--steps", type=positive_int, default=None,
                      help="env steps per trial (default: the preset's measured length, else the algorithm's)")
    grid.add_argument("--eval-every", type=non_negative_int, default=None,
                      help="env steps between evaluations (0: never)")
    grid.add_argument("--eval-episodes", type=positive_int, default=None, help="episodes of each evaluation")
    grid.add_argument("--out", type=Path, required=True, help="sweep folder: one run folder per trial, sweep.json")
    where = parser.add_argument_group("where (Ray)")
    where.add_argument(
        "--address", default=None, help="Ray cluster: HEAD_IP:6379, auto, ray://HEAD_IP:10001 (default: a local Ray)"
    )
    where.add_argument("--cpus-per-trial", type=number(0.0, min_open=True), default=1.0,
                       help="CPUs each trial declares, > 0 (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _base_config(args: argparse.Namespace):
    from robot_rl.algos import ALGORITHMS
    from robot_rl.commands.train import set_values
    from robot_rl.envs import is_our_task, task_robot
    from robot_rl.train import RunConfig, RunConfigError, command_line, resolve_task
    from robot_rl.training.presets import PRESETS, own_settings_note, resolve_preset

    env_id = resolve_task(args.task, args.env_id)
    if args.algo is not None and args.algo not in ALGORITHMS:
        raise RunConfigError(f"--algo {args.algo}: unknown; choose one of {sorted(ALGORITHMS)}")
    ours = is_our_task(env_id)
    preset, task_default = resolve_preset(args.preset, env_id if ours else None, args.algo)  # as `train` does
    algo = args.algo or (PRESETS[preset].algo if preset in PRESETS else "ppo")
    preset_steps = PRESETS[preset].steps if preset in PRESETS else None
    if not ours and (args.engine or args.randomize or args.params or getattr(args, "robot", None)):
        raise RunConfigError("--engine/--randomize/--params/--robot apply to our tasks (--task), not to --env-id "
                             "envs")
    if args.steps is not None and args.steps < 1:
        raise RunConfigError(f"--steps must be >= 1, got {args.steps}")
    if args.cpus_per_trial <= 0:
        raise RunConfigError(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial:g}")
    overrides = set_values(args.set)
    randomize = (args.randomize or "default") if ours else None
    config = RunConfig(
        env_id=env_id,
        algo=algo,
        steps=args.steps or preset_steps or ALGORITHMS[algo].default_steps,
        engine=(args.engine or "mujoco") if ours else None,
        robot=task_robot(env_id, getattr(args, "robot", None)) if ours else None,
        randomize=None if randomize == "none" else randomize,
        params=args.params,
        algo_config=overrides,
        preset=preset,
        command=command_line(),
    )
    if task_default:
        import sys

        print(own_settings_note(env_id, preset, algo), file=sys.stderr, flush=True)
    for name in ("eval_every", "eval_episodes"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    return config


def run(args: argparse.Namespace) -> int:
    from robot_rl.distributed.cluster import ray_session
    from robot_rl.distributed.sweep import (
        parse_grid,
        parse_seeds,
        plan_trials,
        plot_sweep,
        run_sweep,
        summary_table,
        write_sweep_json,
    )
    from robot_rl.envs import is_our_task
    from robot_rl.train import RunConfigError

    base = _base_config(args)
    grid = parse_grid(args.grid)
    if not is_our_task(base.env_id) and set(grid) & {"params", "randomize", "engine"}:
        raise RunConfigError("--grid params/randomize/engine apply to our tasks (--task), not to --env-id envs")
    trials = plan_trials(base, grid, parse_seeds(args.seeds), args.out)
    print(f"sweep: {len(trials)} trials ({len(trials) // len(parse_seeds(args.seeds))} configs) in {args.out}")
    interrupted = False
    with ray_session(args.address):
        try:
            run_sweep(trials, args.out, args.cpus_per_trial, progress=not args.no_progress)
        except KeyboardInterrupt:
            interrupted = True
    write_sweep_json(args.out, trials)
    print(summary_table(trials))
    plot = plot_sweep(trials, args.out)
    print(f"results: {args.out / 'sweep.json'}" + (f", curves: {plot}" if plot else ""))
    if interrupted:
        print(f"interrupted; run the same command again to resume the unfinished trials in {args.out}")
        return 130
    failed = [t for t in trials if t.status != "finished"]
    return 1 if failed else 0

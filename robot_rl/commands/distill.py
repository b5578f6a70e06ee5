"""Distill a privileged teacher run into a deployable student (DAgger under the teacher's DR).

Examples:
  robot-rl train --task CartpoleSwingup-v0 --privileged-obs --out runs/teacher
  robot-rl distill --teacher runs/teacher --out runs/student
  robot-rl distill --teacher runs/teacher --out runs/student-h4 --history 4 --steps 400000
  robot-rl export runs/student --out policies/cartpole_student

The student sees only the task's observation (with --history K, its last K observations), is
trained on states its own actions reach (DAgger) and labelled by the teacher, which saw the
sampled physics. summary.json compares both on the same evaluation episodes under the same
domain randomization. Settings are the fields of robot_rl.algos.distill.DistillConfig (--set).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import seed_int

NAME = "distill"
HELP = "distill a privileged teacher run into a deployable student (DAgger, optional observation history)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", type=Path, required=True, metavar="RUN", help="the teacher's run directory")
    parser.add_argument("--out", type=Path, required=True, metavar="RUN2", help="the student's run directory")
    parser.add_argument("--steps", type=int, default=200_000, help="env steps collected (default: 200k)")
    parser.add_argument("--history", type=int, default=None, help="observations the student sees (default: 1)")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="DistillConfig setting")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from robot_rl.algos.distill import DistillConfig
    from robot_rl.distill import DistillError, distill
    from robot_rl.train import command_line
    from robot_rl.training.setting_ranges import check_memory, check_settings
    from sim.validation import did_you_mean, load_yaml_text

    if args.steps < 1 or args.eval_episodes < 1:
        raise DistillError("--steps and --eval-episodes must be at least 1")
    known = {f.name for f in dataclasses.fields(DistillConfig)}
    values = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in known:
            raise DistillError(f"--set expects KEY=VALUE with KEY one of {sorted(known)}, got '{item}'"
                               + did_you_mean(key.strip(), sorted(known)))
        values[key.strip()] = load_yaml_text(value, f"--set {item}")
    if args.history is not None:
        values["history"] = args.history
    check_settings("distill", values)  # ranges and sizes before anything is allocated
    if "hidden" in values:
        values["hidden"] = tuple(int(w) for w in values["hidden"])
    config = DistillConfig(**values)
    check_memory("distill", config)
    summary = distill(
        args.teacher,
        args.out,
        args.steps,
        config,
        seed=args.seed,
        eval_episodes=args.eval_episodes,
        command=command_line(),
        progress=not args.no_progress,
    )
    s, t = summary["final_eval"], summary["teacher_eval"]
    print(
        f"student return {s['mean_return']:.1f} +- {s['std_return']:.1f}, teacher {t['mean_return']:.1f} +- "
        f"{t['std_return']:.1f} (ratio {summary['student_to_teacher_return']:.3f}) after {summary['global_step']} "
        f"steps in {summary['elapsed_s']:.0f} s; run dir: {args.out}"
    )
    return 0

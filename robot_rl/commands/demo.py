"""Run the main job on embedded defaults and print what happened.

Current stage: one randomized episode of every task in every engine (MuJoCo and PyBullet),
with a random-but-smooth policy, reporting return, success and the sampled physics.
"""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "run the whole loop on embedded defaults (make demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed for randomization and the policy")
    parser.add_argument("--quick", action="store_true", help="shorter version (same steps, fewer episodes)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from sim import TASKS
    from sim.tasks.env import RobotTaskEnv

    console = Console()
    table = Table(title="one randomized episode per task and engine (smooth random actions)")
    for col in ("task", "engine", "steps", "return", "success", "sampled physics (vs nominal)"):
        table.add_column(col)
    for task in TASKS:
        for engine in ("mujoco", "pybullet"):
            env = RobotTaskEnv(task, engine=engine, randomization="default")
            rng = np.random.default_rng(args.seed)
            env.reset(seed=args.seed)
            action = np.zeros(env.action_space.shape)
            total, steps, info = 0.0, 0, {}
            while True:
                action = np.clip(0.9 * action + 0.3 * rng.normal(size=action.shape), -1, 1)
                _, reward, term, trunc, info = env.step(action)
                total += reward
                steps += 1
                if term or trunc:
                    break
            changed = [f"{k}={v:.3g}" for k, v in env.params.items() if v != env.robot.nominal[k]][:4]
            table.add_row(task, engine, str(steps), f"{total:.1f}", str(info.get("success")), ", ".join(changed))
            env.close()
    console.print(table)
    return 0

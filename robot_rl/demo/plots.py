"""The demo's figures: the training curve and the recorded deployment (the kind draws its own where a
joint plot would hide what matters: the cart-pole's pole angle, robot_rl.demo.pole)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from robot_rl.demo.spec import DemoSpec


def plot_training(run_dir: Path, path: Path, title: str) -> Path | None:
    """Episode return and success rate over env steps, from the run's metrics.csv; None if it has none."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    pts = [(float(r["step"]), float(r["episode/return"]), float(r.get("episode/success_rate") or "nan"))
           for r in rows if r.get("episode/return")]
    if not pts:
        return None
    steps, returns, success = map(np.array, zip(*pts, strict=True))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, returns, color="tab:blue", label="episode return")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(steps, success, color="tab:green", label="success rate")
    ax2.set_ylabel("success rate", color="tab:green")
    ax2.set_ylim(-0.05, 1.05)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_deployment(bag: Path, path: Path, spec: DemoSpec) -> Path:
    """The recorded deployment: each joint's position and the commands sent to it (a cart-pole: its
    pole angle, cart and force, robot_rl.demo.pole)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calibration.load import load_log
    from robot_rl.demo import pole
    from sim.robot import load_robot

    robot = load_robot(spec.robot)
    log = load_log(bag, robot)
    if spec.kind.kind == "pole":
        fig, axes = pole.plot_deployment(log, robot)
    else:
        fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        for j, name in enumerate(robot.joint_names):
            axes[0].plot(log.t, log.q[:, j], lw=0.8, label=name.rsplit("_", 1)[-1])
            axes[1].step(log.command_t, log.command[:, j], where="post", lw=0.8)
        axes[0].set_ylabel("joint position [rad]")
        axes[0].legend(loc="upper right", fontsize=7, ncol=4, title="joint")
        axes[1].set_ylabel("command [rad or N*m]")
    axes[-1].set_xlabel("robot time [s]")
    for b in log.breaks:
        for ax in axes:
            ax.axvline(b, color="grey", lw=0.5)
    axes[0].set_title("deployment: policy node -> PyBullet sim robot with a reality gap, over DDS")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

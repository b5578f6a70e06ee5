"""The command-line flags of a model-based controller, shared by `robot-rl deploy` and `robot-rl eval`.

Imports argparse helpers only: `robot-rl --help` must not import MuJoCo.
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import integer, seconds

__all__ = ["add_controller_arguments", "mpc_overrides"]

MAX_SAMPLES = 4096  # rollouts per period: beyond this one period's states alone need gigabytes


def add_controller_arguments(parser: argparse.ArgumentParser, with_task: bool) -> None:
    """--controller, --model-params, --mpc-samples, --dynamics-model, --mpc-horizon (and --task where the command
    has none)."""
    group = parser.add_argument_group("model-based controller (instead of a policy)")
    group.add_argument("--controller", choices=("lqr", "mpc"), default=None,
                       help="an LQR or a sampling MPC on the robot's MuJoCo model instead of a policy; "
                       "needs --task (robot_rl.control: which task each drives)")
    if with_task:
        group.add_argument("--task", default=None,
                           help="--controller: the task it does (CartpoleBalance-v0, CartpoleSwingup-v0, IiwaReach-v0, "
                           "or a task by kind on --robot)")
    group.add_argument("--model-params", default=None, metavar="FILE",
                       help="--controller: the params file its model plans with (a sysid's calib/params.yaml); "
                       "default: the robot's nominal values")
    group.add_argument("--mpc-samples", type=integer(2, MAX_SAMPLES), default=None, metavar="K",
                       help="--controller mpc: rollouts per control period, 2-4096 (default: the task's setting)")
    group.add_argument("--dynamics-model", default=None, metavar="FILE",
                       help="--controller mpc on a cart-pole task: plan with a learned dynamics model (the "
                       "dynamics.pt of `robot-rl sysid --model mlp`) instead of MuJoCo; the LQR keeps the MuJoCo model")
    group.add_argument("--mpc-horizon", type=seconds(0.0, 10.0, min_open=True), default=None, metavar="S",
                       help="--controller mpc: seconds planned ahead, up to 10 (default: the task's setting)")


def mpc_overrides(args: argparse.Namespace) -> dict[str, float | int | str | None]:
    """The MpcSettings fields the flags set (None: the task's setting), and the learned model's file."""
    return {"samples": getattr(args, "mpc_samples", None), "horizon": getattr(args, "mpc_horizon", None),
            "dynamics_model": getattr(args, "dynamics_model", None)}

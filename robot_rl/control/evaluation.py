"""`robot-rl eval --controller lqr|mpc`: a model-based controller on the same episodes as a policy.

The episode loop is eval's own (`robot_rl.training.evaluation.evaluate`: episode i reset with seed+i,
success from the task), so a controller's figures compare episode for episode with a policy's under
the same --engine, --params (the plant: a hidden gap) and --randomize. What differs is only what the
controller reads: not the observation vector but what the observation is built from and what the
control node would hand it, the robot's joint state as its sensors report it (the episode's
`obs_noise` included) and the task's goal. Its command (robot.yaml units) goes to the env as the
action that scales to it, clipped to [-1, 1] as any action is.

``--model-params`` is the model the controller plans with (nominal without it), independent of
``--params``, the plant it runs on: evaluate a calibrated model on the robot it was fitted to.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from robot_rl.errors import PolicyContractError, RobotRLError

__all__ = ["controller_policy", "run_controller_eval"]


def controller_policy(controller: Any, env: Any, where: str):
    """eval's ``policy_fn(obs)`` for `controller` on `env` (one of our task envs): each call reads the
    env's sensed joint state and goal, resets the controller at an episode's first step, and returns
    the action of the controller's command. A NaN command is a one-line error naming the step."""
    core = env.unwrapped.core
    interface = core.interface
    has_goal = interface.command_size > 0 and core.command.shape[1] == 3 and core.robot.base is None
    calls = 0

    def act(obs: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        state = core.sensed_state()
        q, qd = np.asarray(state.q[0], dtype=float), np.asarray(state.qd[0], dtype=float)
        if int(core.steps[0]) == 0:
            controller.reset(q)
        goal = core.command[0].copy() if has_goal else None
        u = np.asarray(controller.command(q, qd, goal), dtype=float)
        if not np.all(np.isfinite(u)):
            raise PolicyContractError(f"{where}: the controller commanded {u} (NaN or inf) at evaluation step {calls}")
        return interface.command_to_action(u)

    return act


def run_controller_eval(args: argparse.Namespace) -> int:
    """The body of `robot-rl eval --controller`: build, evaluate, print (one JSON object with --json)."""
    from robot_rl.control.cli_args import mpc_overrides
    from robot_rl.control.factory import FAMILIES, build_controller, check_supported
    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.training.evaluation import evaluate

    if args.task is None:
        raise RobotRLError(f"--controller {args.controller} needs --task (one of {', '.join(FAMILIES)} or an "
                           "alias of them)")
    if getattr(args, "video", None) is not None:
        raise RobotRLError("--video films policies only; drop it with --controller")
    env_id = resolve_env_id(args.task)
    task = env_id.split("/", 1)[-1]
    check_supported(args.controller, task)  # before any model is built
    robot = _robot(task, getattr(args, "robot", None))
    engine = args.engine or "mujoco"
    randomize = None if args.randomize in (None, "none") else args.randomize
    mpc = mpc_overrides(args)
    controller = build_controller(args.controller, task, robot, args.model_params, mpc)
    kwargs: dict[str, Any] = {"engine": engine, "randomization": randomize}
    if args.params is not None:
        kwargs["params"] = args.params
    if getattr(args, "robot", None) is not None:
        kwargs["robot"] = robot
    env = make_env(env_id, **kwargs)
    where = f"--controller {args.controller}"
    try:
        result = evaluate(controller_policy(controller, env, where), lambda: env, args.episodes, args.seed,
                          per_episode=True)
    finally:
        close = getattr(getattr(controller, "mpc", controller), "close", None)
        if close is not None:
            close()
    timing = controller.timing_summary()
    result.update({"controller": args.controller, "description": controller.describe(),
                   "model_params": args.model_params or "nominal", "env_id": env_id, "robot": robot.name,
                   "engine": engine, "randomize": randomize, "params": args.params, "seed": args.seed, **timing})
    if args.json:
        print(json.dumps(result))
    else:
        success = result["success_rate"]
        mpc_p99 = f", MPC periods p99 {timing['mpc_compute_p99_ms']:.1f} ms" if "mpc_compute_p99_ms" in timing else ""
        print(f"{env_id} ({engine}), {args.controller} on the {result['model_params']} model: return "
              f"{result['mean_return']:.2f} +- {result['std_return']:.2f} over {result['episodes']} episodes"
              + (f", success {success:.2f}" if success is not None else "")
              + f"; compute per period p50 {timing['compute_p50_ms']:.2f} ms, p99 {timing['compute_p99_ms']:.2f} ms "
              f"(period {timing['control_period_ms']:g} ms){mpc_p99}", file=sys.stdout)
    return 0


def _robot(task: str, robot: str | None):
    """The task's robot: --robot, else its alias's."""
    try:
        from sim.tasks.registry import resolve_robot
    except ImportError:  # the registry before tasks by kind: every task had its robot
        from sim.observations import TASK_ROBOTS
        from sim.robot import load_robot

        return load_robot(robot or TASK_ROBOTS[task])
    return resolve_robot(task, robot)

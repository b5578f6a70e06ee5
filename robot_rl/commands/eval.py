"""Evaluate a policy for N episodes, optionally under other physics: a run directory or a policy folder.

RUN_DIR is either a training run (`robot-rl train --out`; the torch actor of a checkpoint) or an
exported policy folder (policy.onnx + policy.json, e.g. policies/cartpole_swingup; the ONNX file
through onnxruntime, exactly what a robot would run, after its SHA-256 and shapes are checked).
Task, engine, randomization and params default to the run's config.yaml or the card's training
section; override them to test a policy out of its training distribution, e.g. a MuJoCo-trained
policy in PyBullet (sim-to-sim) or under identified params:

  robot-rl eval runs/swingup --episodes 20 --json
  robot-rl eval runs/swingup --engine pybullet --randomize none --json
  robot-rl eval runs/swingup --params calib/params.yaml --checkpoint last
  robot-rl eval policies/cartpole_swingup --engine pybullet --params gap.yaml --episodes 20 --json

A policy folder's card is checked against the robot of the task it is evaluated on, as `robot-rl
deploy` checks it (robot, joint order, actuators, control rate, observation layout, action scaling),
and a run's actor against the task's observation and action sizes: a policy evaluated on another
robot is a one-line error, not a traceback or a meaningless number.

Episode i is reset with seed S+i, so two evaluations with the same seed see the same episodes.
Success is the env's info["success"] at the end of each episode (when the env reports one).
--json prints one JSON object: mean_return, std_return, min_return, max_return, mean_length,
success_rate, episodes, returns, per_episode, plus what was evaluated. per_episode holds one
{"return", "length", "success", "end"} per episode; "end" says why it ended: "terminated" (the task
ended it: a fall, the cart at its rail's end), "time_limit" (it ran the task's full length) or
"truncated" (cut short by the env, e.g. a legged robot at the terrain's edge).

A model-based controller (LQR, sampling MPC on the MuJoCo model) is evaluated on the same episodes
with --controller instead of RUN_DIR; --model-params is the model it plans with, --params the plant:

  robot-rl eval --controller mpc --task CartpoleSwingup-v0 --engine pybullet --params gap.yaml \
      --model-params calib/params.yaml --episodes 20 --json

A run directory is evaluated from its best checkpoint (checkpoints/best.pt, the state with the best
periodic evaluation during training) when it has one, else from last.pt; --checkpoint best|last (or a
file such as step_000100000.pt) chooses, and the command says which it used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import positive_int, seed_int
from robot_rl.commands._terrain_arg import add_terrain_argument

NAME = "eval"
HELP = "evaluate a run or an exported policy folder for N episodes (optionally other engine/params/DR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR|POLICY_DIR", nargs="?", default=None,
                        help="run directory written by `robot-rl train`, or a policy folder with policy.json "
                        "(or --controller instead)")
    parser.add_argument("--task", default=None, help="task to evaluate on (default: the run's)")
    parser.add_argument("--robot", default=None, metavar="NAME|ROBOT_YAML",
                        help="robot of a task by kind (Reach, Walk, ...): a shipped robot's name or a robot.yaml "
                        "path (default: the run's, or the card's)")
    parser.add_argument("--env-id", default=None, help="Gymnasium env id to evaluate on (default: the run's)")
    parser.add_argument("--engine", choices=["mujoco", "pybullet"], default=None, help="default: the run's")
    parser.add_argument("--randomize", default=None, metavar="CFG", help="config name, YAML path or 'none'")
    parser.add_argument("--params", default=None, metavar="FILE", help="physics params file")
    parser.add_argument("--motor-model", default=None, metavar="FILE|default",
                        help="evaluate on a robot whose motors the PD servo cannot express (torque-speed envelope, "
                        "current lag, backlash: sim/motor_model.py; MuJoCo), as `robot-rl sim-robot --motor-model`")
    add_terrain_argument(parser, "; default: the run's (a curriculum's run on its terrain as named)")
    parser.add_argument("--episodes", type=positive_int, default=10, help="episodes, >= 1 (default 10)")
    parser.add_argument("--seed", type=seed_int, default=0, help="episode i uses seed+i, >= 0 (default 0)")
    parser.add_argument(
        "--checkpoint",
        default=None,
        metavar="best|last|FILE",
        help="which checkpoint of a run: best (the best periodic evaluation during training), last (the final "
        "state) or a file in checkpoints/ (step_000100000.pt); default: best when the run has one, else last",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")
    parser.add_argument("--video", type=Path, default=None, metavar="FILE.mp4|FILE.gif",
                        help="also film the first --video-episodes episodes (same seeds) with an overlay")
    parser.add_argument("--video-episodes", type=positive_int, default=3, metavar="N",
                        help="episodes filmed by --video (default 3, at most --episodes)")
    parser.add_argument("--force", action="store_true", help="replace an existing --video file")
    from robot_rl.control.cli_args import add_controller_arguments

    add_controller_arguments(parser, with_task=False)


def _evaluated_object(args: argparse.Namespace):
    """(policy_fn, defaults, description) for a run directory or a policy folder."""
    from robot_rl.runtime.card import CARD_FILE

    if (args.run_dir / CARD_FILE).is_file():
        from robot_rl.runtime import load_policy_folder

        policy = load_policy_folder(args.run_dir)
        training = policy.card.get("training", {}) or {}
        defaults = {"env_id": policy.card["task"], "engine": training.get("engine"),
                    "randomize": training.get("randomize"), "params": training.get("params"),
                    "robot": training.get("robot") or policy.card["robot"]["name"],
                    "terrain": training.get("terrain") or (training.get("run_config") or {}).get("terrain"),
                    "card": policy.card, "sizes": (policy.obs_size, policy.act_size)}
        return policy, defaults, {"policy_dir": str(args.run_dir), "policy": "onnx"}

    if not args.run_dir.is_dir():
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"{args.run_dir}: not a run directory (config.yaml) or a policy folder (policy.json)")
    import torch

    from robot_rl.train import load_policy, read_run_config

    torch.set_num_threads(1)
    config = read_run_config(args.run_dir)
    actor, meta = load_policy(args.run_dir, args.checkpoint)
    if int(meta.get("history", 1)) > 1:
        from robot_rl.errors import RobotRLError

        raise RobotRLError(
            f"{args.run_dir}: the student reads {meta['history']} stacked observations; its summary.json holds "
            "its evaluation (eval takes history-1 students)"
        )

    @torch.inference_mode()
    def policy_fn(obs):
        return actor(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))[0].numpy()

    defaults = {"env_id": config.env_id, "engine": config.engine, "randomize": config.randomize,
                "params": config.params, "robot": config.robot, "card": None, "terrain": config.terrain,
                "sizes": (meta.get("obs_dim"), meta.get("act_dim"))}
    import sys

    # Say which checkpoint (best or last) is evaluated; on stderr with --json, whose stdout is one JSON object.
    print(checkpoint_note(meta), file=sys.stderr if args.json else sys.stdout, flush=True)
    described = {"run_dir": str(args.run_dir), "checkpoint": meta["checkpoint"], "global_step": meta["global_step"],
                 "checkpoint_kind": meta["checkpoint_kind"]}
    return policy_fn, defaults, described


def checkpoint_note(meta: dict) -> str:
    """One line saying which checkpoint of a run is used and why (shared by eval and export)."""
    kind, step = meta["checkpoint_kind"], meta["global_step"]
    if kind == "best":
        chosen = meta.get("checkpoint_eval_return")
        why = f", periodic eval return {chosen:.1f}" if chosen is not None else ""
        return f"checkpoint: best ({meta['checkpoint']}, step {step}{why}); --checkpoint last for the final state"
    if kind == "last":
        return f"checkpoint: last ({meta['checkpoint']}, step {step})"
    return f"checkpoint: {meta['checkpoint']} (step {step})"


def run(args: argparse.Namespace) -> int:
    import json

    from robot_rl.envs import is_our_task, make_env, resolve_env_id, task_kwargs_for
    from robot_rl.training.evaluation import evaluate

    if args.episodes < 1:
        raise SystemExit("robot-rl eval: --episodes must be at least 1")
    if (args.run_dir is None) == (getattr(args, "controller", None) is None):
        from robot_rl.errors import RobotRLError

        raise RobotRLError("give RUN_DIR|POLICY_DIR or --controller lqr|mpc (with --task), not both"
                           if args.run_dir is not None
                           else "give what to evaluate: RUN_DIR|POLICY_DIR, or --controller lqr|mpc with --task")
    if args.controller is not None:
        from robot_rl.control.evaluation import run_controller_eval

        return run_controller_eval(args)
    if getattr(args, "video", None) is not None:
        from robot_rl.video import check_video_path

        check_video_path(args.video, args.force, "--video")  # before minutes of evaluation
    policy_fn, defaults, described = _evaluated_object(args)
    env_id = resolve_env_id(args.task or args.env_id or defaults["env_id"])
    engine = args.engine or defaults["engine"] or "mujoco"
    if args.randomize is not None:
        randomize = None if args.randomize == "none" else args.randomize
    else:
        randomize = defaults["randomize"]
    params = args.params if args.params is not None else defaults["params"]
    robot = eval_robot(env_id, getattr(args, "robot", None), defaults["robot"])
    kwargs = task_kwargs_for(env_id, engine, randomize, params, robot)
    terrain = with_terrain(kwargs, args.terrain, defaults)
    if getattr(args, "motor_model", None) is not None and kwargs:
        kwargs["motor_model"] = args.motor_model

    if defaults["card"] is not None:  # before any env is built: the card names the robot it needs
        check_card_for_task(defaults["card"], env_id, str(args.run_dir), robot)
    elif is_our_task(env_id) and is_our_task(defaults["env_id"]):
        check_same_robot(defaults["env_id"], env_id, str(args.run_dir), defaults["robot"], robot)
    env = make_env(env_id, **kwargs)
    try:
        check_sizes(env, *defaults["sizes"], env_id, str(args.run_dir))
    except Exception:
        env.close()
        raise
    result = evaluate(finite_actions(policy_fn, str(args.run_dir)), lambda: env, args.episodes, args.seed,
                      per_episode=True)
    result.update(described)
    result.update(
        {
            "env_id": env_id,
            "robot": robot if is_our_task(env_id) else None,
            "engine": engine if is_our_task(env_id) else None,
            "randomize": randomize if is_our_task(env_id) else None,
            "params": params if is_our_task(env_id) else None,
            "terrain": terrain if is_our_task(env_id) else None,
            "motor_model": getattr(args, "motor_model", None) if is_our_task(env_id) else None,
            "seed": args.seed,
        }
    )
    if getattr(args, "video", None) is not None:
        import sys

        from robot_rl.video import film_policy

        filmed = min(args.episodes, args.video_episodes)
        film_policy(finite_actions(policy_fn, str(args.run_dir)), env_id, kwargs, args.video, filmed, args.seed)
        result["video"] = str(args.video)
        print(f"video: {args.video} ({filmed} episode(s))", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result))
    else:
        success = result["success_rate"]
        print(
            f"{env_id} ({result['engine'] or 'gymnasium'}): return {result['mean_return']:.2f} +- "
            f"{result['std_return']:.2f} over {result['episodes']} episodes"
            + (f", success {success:.2f}" if success is not None else "")
        )
    return 0


def with_terrain(kwargs: dict, asked: str | None, defaults: dict) -> str | None:
    """The ground to run on (`--terrain`, else the run's or card's), put into our task's `kwargs`; returned
    for the summary. eval and render share it so a policy is filmed on the ground it is evaluated on."""
    terrain = asked if asked is not None else defaults.get("terrain")
    if terrain is not None and kwargs:  # gymnasium's own envs (empty kwargs) have no ground to choose
        kwargs["terrain"] = terrain
    return terrain


def eval_robot(env_id: str, given: str | None, trained: str | None) -> str | None:
    """The robot to evaluate on: --robot, else for a task by kind the run's (or card's) robot, else None
    (an alias's own robot)."""
    from robot_rl.envs import is_our_task
    from sim.tasks.registry import default_robot

    if given is not None or not is_our_task(env_id):
        return given
    return trained if default_robot(env_id) is None else None


def check_card_for_task(card: dict, env_id: str, where: str, robot: str | None = None) -> None:
    """A policy folder against the task it is evaluated on: deploy's check of the card against the task's
    robot (robot, joint order, actuators, rate, observation layout, action scaling), then, for another
    task of that robot, the same observation layout and action size. `robot`: the robot of a task by
    kind (a name or a robot.yaml path); an alias's own robot if None."""
    from robot_rl.envs import is_our_task
    from robot_rl.errors import PolicyContractError
    from robot_rl.runtime.card import check_card_against_robot
    from sim.observations import task_interface
    from sim.tasks.registry import ALL_TASKS, resolve_robot

    task = env_id.split("/", 1)[-1]
    if not is_our_task(env_id) or task not in ALL_TASKS:
        raise PolicyContractError(
            f"{where}: a policy folder runs on our robot tasks ({', '.join(ALL_TASKS)}), whose observation "
            f"function its card describes; '{env_id}' is not one (evaluate the training run instead)"
        )
    robot = resolve_robot(task, robot)
    interface = check_card_against_robot(card, robot, where)  # the very check `robot-rl deploy` makes
    trained = str(card["task"]).removeprefix("robot_rl/")
    if task != trained:
        other = task_interface(task, robot)
        if other.layout_dicts() != interface.layout_dicts() or other.action_size != interface.action_size:
            names = [f["name"] for f in other.layout_dicts()]
            raise PolicyContractError(
                f"{where}: the policy was trained on task '{trained}'; task '{task}' observes {names} "
                f"({other.obs_size} values, {other.action_size} actions), the policy "
                f"{[f['name'] for f in interface.layout_dicts()]} ({interface.obs_size}, {interface.action_size}); "
                f"evaluate it on '{trained}' or a task with its observation"
            )


def check_same_robot(trained_id: str, env_id: str, where: str, trained_robot: str | None = None,
                     robot: str | None = None) -> None:
    """A run trained on one robot is not evaluated on another robot (robots: names or robot.yaml paths;
    None: the task's alias's own)."""
    from robot_rl.errors import RobotRLError

    trained, task = trained_id.split("/", 1)[-1], env_id.split("/", 1)[-1]
    robots = _robot_name(trained, trained_robot), _robot_name(task, robot)
    if None not in robots and robots[0] != robots[1]:
        raise RobotRLError(
            f"{where}: the run was trained on task '{trained}' of robot '{robots[0]}'; task '{task}' drives robot "
            f"'{robots[1]}' (evaluate it on a task of robot '{robots[0]}')"
        )


def _robot_name(task: str, robot: str | None) -> str | None:
    """The name of `robot` (as given: a name or a robot.yaml path), else of `task`'s alias's robot; None if
    unknown (another gymnasium id, or a task by kind without a robot)."""
    from sim.robot import load_robot
    from sim.tasks.registry import ALL_TASKS, default_robot

    if task not in ALL_TASKS:
        return None
    if robot is None:
        return default_robot(task)
    return load_robot(robot).name


def check_sizes(env, obs_size: int | None, act_size: int | None, env_id: str, where: str) -> None:
    """The policy's input and output sizes against the env's spaces: the last net before a shape error
    deep in numpy or onnxruntime."""
    import gymnasium as gym
    import numpy as np

    from robot_rl.errors import RobotRLError

    env_obs = int(np.prod(env.observation_space.shape)) if env.observation_space.shape else None
    box = isinstance(env.action_space, gym.spaces.Box)
    env_act = int(np.prod(env.action_space.shape)) if box else None
    bad_obs = obs_size is not None and env_obs is not None and int(obs_size) != env_obs
    bad_act = box and act_size is not None and int(act_size) != env_act
    if bad_obs or bad_act:
        raise RobotRLError(
            f"{where}: the policy maps {obs_size} observations to {act_size} actions, but {env_id} has "
            f"{env_obs} observations and {env_act} actions; evaluate it on the task it was trained on"
        )


def finite_actions(policy_fn, where: str):
    """`policy_fn`, but a NaN or infinite action is a one-line error naming the policy and the step.

    Why: the env would refuse the action with a traceback deep in the simulator (or, with another env,
    integrate NaN physics and report a meaningless return); a policy that outputs NaN is broken, and
    that is the finding to report.
    """
    import numpy as np

    from robot_rl.errors import PolicyContractError

    calls = 0

    def checked(obs):
        nonlocal calls
        calls += 1
        action = policy_fn(obs)
        values = np.asarray(action, dtype=float)
        if not np.all(np.isfinite(values)):
            if np.all(np.isfinite(np.asarray(obs, dtype=float))):
                why = "for a finite observation; the policy is broken (diverged training, a bad export): evaluate "
                why += "another checkpoint or re-export it"
            else:
                why = "for an observation holding NaN or inf: the simulation diverged before the policy did"
            raise PolicyContractError(f"{where}: the policy output {np.array2string(values.ravel(), precision=3)} "
                                      f"(NaN or inf) at evaluation step {calls} {why}")
        return action

    return checked

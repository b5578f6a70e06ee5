"""Train a policy with PPO, SAC, TD3, DDPG, A2C/REINFORCE, TRPO or DQN, on our tasks or any Gymnasium env.

Examples:
  robot-rl train --task CartpoleSwingup-v0 --algo ppo --randomize default --steps 1000000 --out runs/swingup
  robot-rl train --task Reach --robot panda --out runs/panda-reach      a task by kind, on any robot of its kind
  robot-rl train --task Walk --robot path/to/robot.yaml --preset legged --out runs/walk
  robot-rl train --env-id Pendulum-v1 --algo sac --steps 20000 --out runs/pendulum
  robot-rl train --env-id CartPole-v1 --algo dqn --steps 50000 --out runs/cartpole-dqn
  robot-rl train --task CartpoleSwingup-v0 --privileged-obs --out runs/teacher   (then: robot-rl distill)
  robot-rl train --task CartpoleBalance-v0 --algo ppo --set num_envs=32 --set hidden=[128,128] --out runs/b
  robot-rl train --env-id Hopper-v5 --preset locomotion --steps 1000000 --out runs/hopper
  robot-rl train --resume runs/swingup                 continue after Ctrl-C (or --steps N to extend)
  robot-rl train --task Reach --robot panda --time-budget 10m --out runs/p   stop after 10 min of training
  robot-rl train --task CartpoleBalance-v0 --workers 2 --out runs/b2        2 Ray rollout workers
  robot-rl train --task CartpoleSwingup-v0 --workers 8 --address 10.0.0.1:6379 --out runs/s8   on a cluster

The run directory gets config.yaml (incl. this command line), metrics.csv, TensorBoard events in
tb/ (`tensorboard --logdir runs`), checkpoints/ (last.pt to resume, best.pt, step_*.pt) and
summary.json. best.pt is the state with the best periodic evaluation (about ten a run, the last
iteration included; --eval-every), which `robot-rl eval` and `export` use by default.
Ctrl-C or SIGTERM saves a checkpoint before stopping. Algorithm settings are the
fields of the algorithm's config (robot_rl/algos/<algo>.py, e.g. PPOConfig), set with --set KEY=VALUE;
a --preset fills several at once (robot_rl/training/presets.py), --set still overrides them. Without
--preset a task trains with its own preset (Reach: reach; Walk and A1Walk: legged; IiwaReach and the
cart-pole ids: the algorithm's defaults, as their shipped cards trained), --preset none with the
algorithm's defaults.

--workers K collects with K Ray actors of num_envs envs each (PPO, A2C, TRPO: synchronous, like one
process with K * num_envs envs; SAC: transitions streamed into the learner's replay buffer). Without
--address an embedded local Ray sized to this machine runs them; --address reaches a cluster
started with `ray start` (README, "More CPUs than one machine"). config.yaml records the layout.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from robot_rl.commands._args import non_negative_int, num_envs_int, positive_int, seed_int
from robot_rl.commands._terrain_arg import add_terrain_argument
from robot_rl.training.presets import PRESETS, describe_presets, own_settings_note, resolve_preset
from robot_rl.training.run_guards import PARAMS_VS_RANDOMIZATION

# Names and one-line summaries, kept here so `robot-rl train --help` does not import torch.
ALGORITHM_NAMES = {
    "ppo": "PPO (on-policy; robot tasks)",
    "sac": "SAC (off-policy, sample-efficient)",
    "td3": "TD3 (off-policy, deterministic actor)",
    "ddpg": "DDPG (TD3 without its tricks)",
    "a2c": "A2C; REINFORCE with --set use_critic=false",
    "trpo": "TRPO (natural gradient, KL trust region)",
    "dqn": "DQN (Discrete actions, e.g. CartPole-v1)",
}

NAME = "train"
HELP = "train a policy (PPO, SAC, TD3, DDPG, A2C, TRPO, DQN) on our tasks or any Gymnasium env, with resume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_argument_group("what to train")
    from robot_rl.envs import OUR_TASKS

    which.add_argument("--task", help=f"one of our tasks: {', '.join(OUR_TASKS)} ('-v0' may be left out)")
    which.add_argument(
        "--robot", default=None, metavar="NAME|ROBOT_YAML",
        help="the robot of a task by kind (Reach, Walk, PoleBalance, PoleSwingup): a shipped robot's name or a "
        "robot.yaml path; the older ids (aliases, sim.tasks.registry.ALIASES) name their own",
    )
    which.add_argument("--env-id", help="any Gymnasium env id with Box spaces, e.g. Pendulum-v1, Hopper-v5")
    which.add_argument(
        "--algo",
        choices=list(ALGORITHM_NAMES),
        default=None,
        help="algorithm (default: ppo): " + "; ".join(f"{k}: {v}" for k, v in ALGORITHM_NAMES.items()),
    )
    which.add_argument("--engine", choices=["mujoco", "pybullet"], default=None, help="physics engine (our tasks)")
    which.add_argument(
        "--randomize",
        default=None,
        metavar="CFG",
        help="domain randomization: a config name of the robot (e.g. 'default'), a YAML path, or 'none' "
        "(default for our tasks: default)",
    )
    which.add_argument(
        "--params", default=None, metavar="FILE", help="physics params file (our tasks). " + PARAMS_VS_RANDOMIZATION
    )
    which.add_argument(
        "--actuator-net", default=None, metavar="FILE",
        help="a learned actuator model (`robot-rl sysid --actuator-net`): MuJoCo computes each joint's torque by it "
        "every physics step instead of robot.yaml's PD servo, on the batched path too (our tasks, position servos)",
    )
    add_terrain_argument(which, "; periodic evaluations run on the terrain as named (its last row)")
    run = parser.add_argument_group("how long and where")
    run.add_argument(
        "--steps", type=positive_int, default=None,
        help="total env steps, >= 1 (default: the task's preset's, else ppo 1M, sac 100k; none with --time-budget)"
    )
    run.add_argument(
        "--time-budget", type=time_budget, default=None, metavar="DURATION",
        help="wall-clock training time after which the run ends, evaluated and checkpointed as at --steps: 90s, "
        "10m, 1h, 1h30m or plain seconds; with --steps, whichever comes first; the run's total, like --steps (on "
        "--resume, the time already trained counts; give a larger one to extend). Schedules such as PPO's "
        "learning-rate annealing follow the budget; the final evaluation comes after it",
    )
    run.add_argument("--seed", type=seed_int, default=None, help="random seed, 0 to 2**32-1 (default: 0)")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory, new or empty (default: runs/<task>-<algo>-s<seed>); a folder holding other files "
        "is refused unless --force, one holding a run is continued only with --resume",
    )
    run.add_argument("--force", action="store_true", help="write the run into a non-empty --out folder")
    run.add_argument(
        "--resume", type=Path, default=None, metavar="RUN_DIR", help="continue this run (in place: no --out)"
    )
    run.add_argument(
        "--eval-every",
        type=non_negative_int,
        default=None,
        help="env steps between evaluations, which choose checkpoints/best.pt (0: never; default: a tenth of "
        "--steps, at least 5000, at most 50000)",
    )
    run.add_argument("--eval-episodes", type=positive_int, default=None)
    run.add_argument(
        "--video-every", type=non_negative_int, default=None, metavar="N",
        help="film a short evaluation clip at every N-th evaluation: runs/<run>/videos/*.mp4 and TensorBoard's "
        "image tab (eval/video); 0 (default): never",
    )
    run.add_argument(
        "--checkpoint-every", type=non_negative_int, default=None, help="env steps between snapshots (0: never)"
    )
    run.add_argument(
        "--num-envs", type=num_envs_int, default=None,
        help="parallel envs, 1 to 65536 (shortcut for --set num_envs=N)",
    )
    run.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="start a new PPO run from this checkpoint's networks (fine-tuning: new DR, physics or learning "
        "rate; the network settings must match)",
    )
    run.add_argument(
        "--reward", default=None, metavar="FILE",
        help="train on a learned reward (`robot-rl irl` writes RUN/reward.pt) instead of the task's; "
        "evaluations still report the task's return",
    )
    run.add_argument("--asymmetric", action="store_true", help="critic sees the privileged simulator state")
    run.add_argument(
        "--privileged-obs",
        action="store_true",
        help="the actor sees the privileged simulator state too: a teacher for `robot-rl distill`, not deployable",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="algorithm setting, YAML value (repeatable): --set learning_rate=1e-3 --set hidden=[128,128]",
    )
    run.add_argument(
        "--preset",
        default=None,
        help="named algorithm settings for a family of tasks, under any --set: " + describe_presets(),
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    dist = parser.add_argument_group("more CPUs (Ray)")
    dist.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="K",
        help="K Ray rollout workers, each with num_envs envs and one CPU (default 0: collect in this process; "
        "on --resume, changes a run's K)",
    )
    dist.add_argument(
        "--address",
        default=None,
        help="Ray cluster for the workers: HEAD_IP:6379, auto, or ray://HEAD_IP:10001 (default: a local Ray)",
    )


def parse_duration(text: str) -> float:
    """Seconds from a duration as people write one: ``90s``, ``10m``, ``1h``, ``1h30m``, ``2.5m`` or
    plain seconds (``600``); ValueError, saying what is expected, for anything else or a zero.
    Here, not in robot_rl.train, so that parsing the command line imports no torch."""
    import re

    given, number = text.strip().lower(), r"(\d+(?:\.\d*)?|\.\d+)"
    plain = re.fullmatch(number, given)
    parts = plain or re.fullmatch(rf"(?:{number}h)?(?:{number}m)?(?:{number}s)?", given)
    if not given or parts is None:
        raise ValueError(f"expected a duration such as 90s, 10m, 1h, 1h30m or plain seconds (600), got {text!r}")
    groups = (None, None, parts.group(1)) if plain else parts.groups()
    hours, minutes, seconds = (float(g) if g else 0.0 for g in groups)
    total = 3600 * hours + 60 * minutes + seconds
    if not math.isfinite(total) or total <= 0:
        raise ValueError(f"expected a duration > 0 (90s, 10m, 1h), got {text!r}")
    return total


def time_budget(text: str) -> float:
    """argparse type of ``--time-budget``: argparse names the flag in the error."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def set_values(items: list[str]) -> dict:
    """``--set KEY=VALUE`` items to {key: value}, each value read as YAML (1e-3 is a number);
    shared by `train` and `sweep`. The values' ranges are checked where the run's settings are built."""
    from robot_rl.train import RunConfigError
    from sim.validation import load_yaml_text

    out = {}
    for item in items:
        if "=" not in item:
            raise RunConfigError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        out[key.strip()] = load_yaml_text(value, f"--set {item}")
    return out


def _overrides(args: argparse.Namespace) -> dict:
    out = set_values(args.set)
    if args.num_envs is not None:
        out["num_envs"] = args.num_envs
    if args.asymmetric:
        out["asymmetric"] = True
    return out


def run(args: argparse.Namespace) -> int:
    import signal

    from robot_rl.envs import is_our_task, task_robot
    from robot_rl.train import RunConfig, RunConfigError, command_line, read_run_config, resolve_task, train
    from robot_rl.training.run_guards import check_out_dir
    from sim.tasks.registry import default_robot

    if args.workers is not None and args.workers < 0:
        raise RunConfigError(f"--workers must be >= 0 (0: collect in this process), got {args.workers}")
    if args.reward is not None and args.workers:
        raise RunConfigError("--reward trains in this process; drop --workers (Ray rollout workers use the task's "
                             "reward)")
    if args.address is not None and not args.workers and args.resume is None:
        raise RunConfigError("--address is where --workers run; add --workers K (K >= 1) or drop --address")
    if args.resume is not None:
        given = (
            ("--task", args.task), ("--env-id", args.env_id), ("--robot", args.robot), ("--algo", args.algo),
            ("--engine", args.engine),
            ("--randomize", args.randomize), ("--params", args.params), ("--seed", args.seed),
            ("--actuator-net", args.actuator_net), ("--terrain", args.terrain),
            ("--out", args.out), ("--preset", args.preset), ("--num-envs", args.num_envs),
            ("--init-from", args.init_from), ("--reward", args.reward),
        )  # fmt: skip
        conflicting = [flag for flag, value in given if value is not None]
        conflicting += [flag for flag, on in (("--set", args.set), ("--asymmetric", args.asymmetric),
                                              ("--force", args.force)) if on]
        if conflicting:
            raise RunConfigError(
                f"--resume continues {args.resume} in place with its saved config.yaml; drop "
                f"{', '.join(conflicting)} (only --steps, --time-budget, --eval-every, --eval-episodes and "
                "--checkpoint-every may change)"
            )
        config = read_run_config(args.resume)
        if args.workers is not None:
            config.workers = args.workers  # the learner's state does not depend on the worker count
        if args.address is not None and not config.workers:
            raise RunConfigError(f"--address: {args.resume} collects in one process; add --workers K to use Ray")
        if args.steps is not None:
            config.steps = args.steps
        if args.time_budget is not None:
            config.time_budget_s = args.time_budget
        for name in ("eval_every", "eval_episodes", "checkpoint_every", "video_every"):
            if getattr(args, name, None) is not None:
                setattr(config, name, getattr(args, name))
        config.command = command_line()
        run_dir = args.resume
    else:
        env_id = resolve_task(args.task, args.env_id)
        ours = is_our_task(env_id)
        preset, task_default = _preset(args, env_id if ours else None)
        algo = args.algo or (PRESETS[preset].algo if preset in PRESETS else "ppo")
        if not ours and (args.engine or args.randomize or args.params or args.robot or args.actuator_net
                         or args.terrain):
            raise RunConfigError("--engine/--randomize/--params/--robot/--terrain apply to our tasks (--task), not "
                                 "to --env-id envs")
        randomize = (args.randomize or "default") if ours else None
        seed = 0 if args.seed is None else args.seed
        config = RunConfig(
            env_id=env_id,
            algo=algo,
            steps=_default_steps(args, algo, preset),
            seed=seed,
            engine=(args.engine or "mujoco") if ours else None,
            robot=task_robot(env_id, args.robot) if ours else None,
            randomize=None if randomize == "none" else randomize,
            params=args.params,
            actuator_net=None if args.actuator_net is None else str(args.actuator_net),
            terrain=args.terrain,
            algo_config=_overrides(args),
            preset=preset,
            command=command_line(),
            init_from=None if args.init_from is None else str(args.init_from),
            privileged_obs=args.privileged_obs,
            workers=args.workers or 0,
            time_budget_s=args.time_budget,
            reward=None if args.reward is None else str(args.reward),
        )
        for name in ("eval_every", "eval_episodes", "checkpoint_every", "video_every"):
            if getattr(args, name, None) is not None:
                setattr(config, name, getattr(args, name))
        if args.eval_every is None:  # about ten evaluations a run: they choose checkpoints/best.pt
            from robot_rl.training.evaluation import default_eval_every

            config.eval_every = default_eval_every(config.steps)
        short = env_id.split("/")[-1]
        if config.robot is not None and default_robot(env_id) is None:  # Reach-v0-panda-ppo-s0: a task by kind
            short += "-" + (Path(config.robot).parent.name if config.robot.endswith((".yaml", ".yml"))
                            else Path(config.robot).name)
        run_dir = args.out or Path("runs") / f"{short}-{algo}-s{seed}"
        check_out_dir(run_dir, args.force)
        if task_default:
            import sys

            print(own_settings_note(env_id, preset, algo), file=sys.stderr, flush=True)
    _warn_params_overlap(config)

    if config.workers:
        from robot_rl.distributed.cluster import ray_session

        with ray_session(args.address):
            result = train(config, run_dir, resume=args.resume is not None, progress=not args.no_progress)
    else:
        result = train(config, run_dir, resume=args.resume is not None, progress=not args.no_progress)
    if result.status == "interrupted":
        print(f"stopped at step {result.global_step}; continue with: robot-rl train --resume {run_dir}")
        return 128 + int(result.stop_signal or signal.SIGINT)
    ev = result.final_eval or {}
    success = ev.get("success_rate")
    budget = "" if config.time_budget_s is None else f" (time budget {config.time_budget_s:.0f} s)"
    print(
        f"finished {result.global_step} steps in {result.elapsed_s:.0f} s{budget}; eval return "
        f"{ev.get('mean_return', float('nan')):.1f} +- {ev.get('std_return', float('nan')):.1f}"
        + (f", success {success:.2f}" if success is not None else "")
        + f"; run dir: {run_dir}"
    )
    return 0


def _preset(args: argparse.Namespace, task: str | None) -> tuple[str | None, bool]:
    """(the run's preset, whether it is the task's own): robot_rl.training.presets.resolve_preset, shared
    with `robot-rl sweep`."""
    return resolve_preset(args.preset, task, args.algo)


def _default_steps(args: argparse.Namespace, algo: str, preset: str | None) -> int:
    """--steps, else no step limit under --time-budget, else the preset's measured length, else the
    algorithm's default length."""
    from robot_rl.train import NO_STEP_LIMIT

    if args.steps is not None:
        return args.steps
    if args.time_budget is not None:
        return NO_STEP_LIMIT
    if preset in PRESETS and PRESETS[preset].steps is not None:
        return PRESETS[preset].steps
    return 1_000_000 if algo in ("ppo", "a2c", "trpo") else 100_000


def _warn_params_overlap(config) -> None:
    """Print which --params values the randomization config overrides (see PARAMS_VS_RANDOMIZATION)."""
    import sys

    from robot_rl.envs import is_our_task
    from robot_rl.training.run_guards import params_randomization_overlap
    from sim.tasks.registry import default_robot

    if not is_our_task(config.env_id):
        return
    robot = config.robot or default_robot(config.env_id)
    if robot is None:
        return
    warning = params_randomization_overlap(robot, config.params, config.randomize)
    if warning:
        print(warning, file=sys.stderr, flush=True)

"""Film a run or an exported policy folder: episodes rendered with an overlay, as MP4 or GIF.

The overlay shows the episode, the time, the return so far, success at the end, and for a legged
robot the commanded and measured velocity; the scene shows the goal or the velocity command (green:
commanded, red: measured). Episode i is reset with seed S+i, the episodes `robot-rl eval --seed S`
evaluates. MuJoCo renders offscreen through EGL (MUJOCO_GL=egl, set automatically without a
display); --engine pybullet renders with PyBullet's TinyRenderer (no OpenGL).

  robot-rl render policies/a1_walk --out a1.mp4
  robot-rl render runs/swingup --out swingup.gif --episodes 2 --seconds 4
  robot-rl render policies/iiwa_reach --out iiwa.mp4 --engine pybullet --params calib/params.yaml
  robot-rl render policies/a1_walk --out stairs.gif --terrain stairs:step_height=0.08 --seconds 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import positive_int, seed_int
from robot_rl.commands._terrain_arg import add_terrain_argument

NAME = "render"
HELP = "film a run or a policy folder as an MP4 or GIF (overlay: return, success, commanded vs measured velocity)"


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR|POLICY_DIR",
                        help="run directory written by `robot-rl train`, or a policy folder with policy.json")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.mp4|FILE.gif", help="video to write")
    parser.add_argument("--task", default=None, help="task to film (default: the run's)")
    parser.add_argument("--env-id", default=None, help="Gymnasium env id (default: the run's)")
    parser.add_argument("--engine", choices=["mujoco", "pybullet"], default=None, help="default: the run's")
    parser.add_argument("--randomize", default=None, metavar="CFG", help="config name, YAML path or 'none'")
    parser.add_argument("--params", default=None, metavar="FILE", help="physics params file")
    add_terrain_argument(parser, "; default: the run's (a curriculum's run on its terrain as named)")
    parser.add_argument("--episodes", type=positive_int, default=1, help="episodes, >= 1 (default 1)")
    parser.add_argument("--seed", type=seed_int, default=0, help="episode i uses seed+i (default 0)")
    parser.add_argument("--seconds", type=_positive_float, default=None,
                        help="film at most this much simulated time of each episode (default: whole episodes)")
    parser.add_argument("--fps", type=_positive_float, default=30.0, help="frames per simulated second (default 30)")
    parser.add_argument("--size", default="640x480", metavar="WxH", help="frame size (default 640x480)")
    parser.add_argument("--shadows", action="store_true", help="shadows and reflections (~3x slower frames)")
    parser.add_argument("--checkpoint", default=None, metavar="best|last|FILE", help="which checkpoint of a run")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")


def _size(text: str) -> tuple[int, int]:
    from robot_rl.errors import RobotRLError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RobotRLError(f"--size '{text}': expected WIDTHxHEIGHT, e.g. 640x480") from None
    if not (16 <= w <= 1920 and 16 <= h <= 1080) or w % 2 or h % 2:
        raise RobotRLError(f"--size '{text}': even width 16..1920 and even height 16..1080 (H.264 needs even sizes)")
    return w, h


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from robot_rl.commands.eval import (
        _evaluated_object,
        check_card_for_task,
        check_same_robot,
        eval_robot,
        finite_actions,
        with_terrain,
    )
    from robot_rl.envs import is_our_task, resolve_env_id, task_kwargs_for
    from robot_rl.video import check_video_path, film_policy

    check_video_path(args.out, args.force)
    width, height = _size(args.size)
    json_out, args.json = args.json, True  # eval's loader prints its checkpoint note on stderr then
    policy_fn, defaults, described = _evaluated_object(args)
    env_id = resolve_env_id(args.task or args.env_id or defaults["env_id"])
    engine = args.engine or defaults["engine"] or "mujoco"
    randomize = defaults["randomize"] if args.randomize is None else (None if args.randomize == "none"
                                                                       else args.randomize)
    params = args.params if args.params is not None else defaults["params"]
    # The robot the policy was trained on (a task by kind, Reach-v0, needs it; an alias names its own).
    robot = eval_robot(env_id, None, defaults["robot"])
    if defaults["card"] is not None:
        check_card_for_task(defaults["card"], env_id, str(args.run_dir), robot)
    elif is_our_task(env_id) and is_our_task(defaults["env_id"]):
        check_same_robot(defaults["env_id"], env_id, str(args.run_dir))
    kwargs = task_kwargs_for(env_id, engine, randomize, params, robot)
    terrain = with_terrain(kwargs, args.terrain, defaults)
    rec = film_policy(finite_actions(policy_fn, str(args.run_dir)), env_id, kwargs, args.out, args.episodes,
                      args.seed, args.fps, args.seconds, width, height, args.shadows)
    result = {"video": str(args.out), "frames": len(rec.frames), "fps": rec.fps, "env_id": env_id,
              "engine": engine if is_our_task(env_id) else None, "terrain": terrain if is_our_task(env_id) else None,
              "bytes": args.out.stat().st_size,
              "episodes": [{"episode": e.episode, "seed": e.seed, "return": round(e.ret, 3), "length": e.length,
                            "success": e.success} for e in rec.episodes], **described}
    if json_out:
        print(json.dumps(result))
    else:
        print(f"{args.out}: {len(rec.frames)} frames at {rec.fps:g} fps, {len(rec.episodes)} episode(s), "
              f"returns {', '.join(f'{e.ret:.1f}' for e in rec.episodes)}", file=sys.stdout)
    return 0

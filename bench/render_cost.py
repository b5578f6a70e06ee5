"""What filming an A1 episode costs on top of simulating it (issue 24's target: <= 25% at 30 fps, 640x480).

One JSON line. The same episode (the shipped policies/a1_walk policy through onnxruntime, seed 0)
is run twice: without rendering (sim_wall_s: policy + env steps) and filmed at --fps frames per
simulated second (render_s: env.render() + the text overlay; encode_s: H.264 MP4 through imageio-ffmpeg).

  ratio_render_to_sim_wall   render_s / sim_wall_s: the issue's "on top of the simulation time"
  ratio_render_to_sim_time   render_s / simulated seconds: whether filming keeps up with real time
  ms_per_frame               render_s / frames; gl_ms_per_frame without the overlay
  renderer                   the OpenGL renderer string: llvmpipe (software, CPU) or a GPU
Both with shadows/reflections off (the default) and on (--shadows, what README GIFs use).

Usage: python bench/render_cost.py [--seconds 5] [--fps 30] [--out bench/results/render_cost.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _policy():
    from robot_rl.runtime import load_policy_folder

    policy = load_policy_folder(Path(__file__).resolve().parents[1] / "policies" / "a1_walk")
    return policy


def _gl_renderer() -> str:
    try:
        from OpenGL import GL

        return GL.glGetString(GL.GL_RENDERER).decode()
    except Exception as exc:  # noqa: BLE001 - a label only
        return f"unknown ({type(exc).__name__})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="simulated seconds of the episode (<= 20)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=None, help="append the JSON line to this file too")
    args = parser.parse_args()

    from robot_rl.envs import make_env
    from robot_rl.video import record_episodes, write_video

    act = _policy()
    env = make_env("A1Walk-v0", render_mode="rgb_array")
    steps = int(round(args.seconds * env.unwrapped.robot.control_hz))
    # Simulation alone (warm: one untimed pass first).
    for _warm_then_timed in range(2):
        obs, _ = env.reset(seed=0)
        t0 = time.perf_counter()
        for _ in range(steps):
            obs, _, term, trunc, _ = env.step(act(obs))
            if term or trunc:
                break
        sim_wall = time.perf_counter() - t0
    result: dict = {"bench": "render_cost", "task": "A1Walk-v0", "size": "640x480", "fps": args.fps,
                    "simulated_s": args.seconds, "sim_wall_s": round(sim_wall, 4), "machine": platform.node(),
                    "cpus": os.cpu_count(), "mujoco_gl": os.environ.get("MUJOCO_GL")}
    for shadows in (False, True):
        env.unwrapped.set_render_options(640, 480, shadows)
        env.reset(seed=0)
        env.render()  # the renderer's creation (GL context, model upload) is a one-off, not per frame
        if not shadows:
            result["renderer"] = _gl_renderer()
        rec = record_episodes(env, act, 1, seed=0, fps=args.fps, max_seconds=args.seconds)
        frames = len(rec.frames)
        t0 = time.perf_counter()
        for _ in range(20):
            env.render()
        gl_ms = (time.perf_counter() - t0) / 20 * 1e3
        key = "shadows" if shadows else "plain"
        result[key] = {"frames": frames, "render_s": round(rec.render_s, 3),
                       "ms_per_frame": round(rec.render_s / frames * 1e3, 2), "gl_ms_per_frame": round(gl_ms, 2),
                       "ratio_render_to_sim_wall": round(rec.render_s / sim_wall, 2),
                       "ratio_render_to_sim_time": round(rec.render_s / args.seconds, 3)}
        if not shadows:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                path = write_video(Path(tmp) / "a1.mp4", rec.frames, args.fps)
                result[key]["encode_s"] = round(time.perf_counter() - t0, 3)
                result[key]["mp4_bytes"] = path.stat().st_size
    env.close()
    result["target_met"] = result["plain"]["ratio_render_to_sim_wall"] <= 0.25
    line = json.dumps(result)
    print(line)
    if args.out is not None:
        with args.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

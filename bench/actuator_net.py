"""A learned actuator model on the iiwa: identify the motors, train with them, deploy to them. One JSON line.

The "real" robot is the iiwa with motors the PD vocabulary cannot express (bench/actuator_net_motors.yaml:
a 40 ms current lag, 0.01 rad of backlash, the torque-speed envelope; sim/motor_model.py). Steps, each
through the command a user runs:

1. `robot-rl excite --motor-model ...`: 20 s of the drive excitation on that robot, joint states and
   efforts at 1 kHz;
2. `robot-rl sysid --actuator-net LOG --history 12`: one MLP per actuator from 13 samples 10 ms apart
   (120 ms, three of the lag's time constants) of position error and velocity to torque; its held-out
   error (% of each actuator's effort range), and the PD law's on the same samples;
3. `robot-rl train --task IiwaReach-v0 --init-from policies/iiwa_reach/checkpoint.pt` twice, with the
   shipped policy's own settings (its card's command), the same seed and steps: continued on robot.yaml's
   PD servo (the control: as much more training), and with `--actuator-net` (the engines run the network
   every physics step). Fine-tuning, not training from scratch: on this shared 2-core machine the
   network's per-physics-step torques make a step ~3x dearer, and a from-scratch run did not fit the time;
4. the shipped policy and both continued ones (last checkpoints) evaluated on the motor robot on
   episodes never used for training or checkpoint selection (seeds 100000 + i): success, final
   end-effector distance, and the tracking error (mean distance to the goal over each episode's second
   half); and on the PD robot.

Usage: python bench/actuator_net.py [--steps 120000] [--episodes 50] [--work runs/bench_actuator_net]
Appends to bench/results/actuator_net.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MOTORS = ROOT / "bench" / "actuator_net_motors.yaml"
CLI = [sys.executable, "-m", "robot_rl.cli"]


def sh(args: list[str]) -> float:
    """Run a robot-rl command, echoing it; its wall time."""
    print("$ robot-rl " + " ".join(args), file=sys.stderr, flush=True)
    start = time.perf_counter()
    subprocess.run([*CLI, *args], check=True, cwd=ROOT)
    return time.perf_counter() - start


def evaluate(run_dir: Path, motor_model: str | None, episodes: int, seed: int) -> dict:
    """Success, final distance and tracking error of a run's last policy (or a policy folder's) on the iiwa reach."""
    import torch

    from robot_rl.train import load_policy
    from sim.tasks.env import RobotTaskEnv

    torch.set_num_threads(1)
    if (run_dir / "policy.onnx").is_file():
        from robot_rl.runtime import load_policy_folder

        onnx = load_policy_folder(run_dir)

        def actor(obs: torch.Tensor) -> torch.Tensor:
            return torch.as_tensor(onnx(obs.numpy()))
    else:
        actor, _ = load_policy(run_dir, "last")
    env = RobotTaskEnv("IiwaReach-v0", engine="mujoco", motor_model=motor_model)
    success, final, tracking = [], [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        dist, done, info = [], False, {}
        while not done:
            with torch.inference_mode():
                action = actor(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            dist.append(float(env.core.logic.goal_distance(env.core.state.q, env.core.command)[0]))
        success.append(bool(info.get("success", False)))
        final.append(dist[-1])
        tracking.append(float(np.mean(dist[len(dist) // 2:])))
    env.close()
    return {"success": float(np.mean(success)), "final_distance_m": round(float(np.mean(final)), 5),
            "tracking_error_m": round(float(np.mean(tracking)), 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_actuator_net")
    parser.add_argument("--keep-fit", action="store_true",
                        help="reuse --work's motors.bag and actuator_net.json from an earlier run (steps 1-2)")
    args = parser.parse_args()
    work = args.work
    bag, net = work / "motors.bag", work / "actuator_net.json"
    kept = args.keep_fit and net.is_file() and bag.is_dir()
    if kept:
        for name in ("pd", "net"):
            shutil.rmtree(work / name, ignore_errors=True)
        t_excite = t_fit = None
    else:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        t_excite = sh(["excite", "--robot", "iiwa", "--engine", "mujoco", "--motor-model", str(MOTORS),
                       "--duration", "20", "--seed", str(args.seed), "--record", str(bag)])
        t_fit = sh(["sysid", "--robot", "iiwa", "--actuator-net", str(bag), "--history", "12", "--out", str(net)])
    fit = json.loads(net.read_text())["fit"]
    runs, train_s = {"pd": work / "pd", "actuator_net": work / "net"}, {}
    shipped = ROOT / "policies" / "iiwa_reach"
    # The shipped policy's own settings (its card's training command), continued from its checkpoint.
    common = ["train", "--task", "IiwaReach-v0", "--algo", "ppo", "--steps", str(args.steps), "--seed", str(args.seed),
              "--num-envs", "32", "--set", "num_steps=64", "--set", "update_epochs=5", "--set", "learning_rate=1e-4",
              "--set", "hidden=[128,128]", "--set", "init_log_std=-1.0", "--init-from", str(shipped / "checkpoint.pt"),
              "--eval-every", str(10 * args.steps), "--eval-episodes", "5", "--no-progress"]
    train_s["pd"] = sh([*common, "--out", str(runs["pd"])])
    train_s["actuator_net"] = sh([*common, "--actuator-net", str(net), "--out", str(runs["actuator_net"])])
    runs = {"shipped": shipped, **runs}
    train_s["shipped"] = 0.0
    seed = 100_000  # episodes no training, evaluation or checkpoint choice saw
    results = {name: {"motor_robot": evaluate(d, str(MOTORS), args.episodes, seed),
                      "pd_robot": evaluate(d, None, args.episodes, seed), "train_s": round(train_s[name], 1)}
               for name, d in runs.items()}
    pd_m, net_m = results["pd"]["motor_robot"], results["actuator_net"]["motor_robot"]
    line = {
        "bench": "actuator_net", "robot": "iiwa", "task": "IiwaReach-v0", "motors": str(MOTORS.relative_to(ROOT)),
        "steps": args.steps, "seed": args.seed, "episodes": args.episodes, "eval_seed": seed,
        "excite_s": None if t_excite is None else round(t_excite, 1),
        "fit_s": None if t_fit is None else round(t_fit, 1), "fit_wall_s": fit.get("wall_s"),
        "fit_heldout_worst_pct": round(fit["worst_pct"], 2), "fit_heldout_mean_pct": round(fit["mean_pct"], 2),
        "pd_law_heldout_worst_pct": round(fit["pd_worst_pct"], 2),
        "pd_law_heldout_mean_pct": round(fit["pd_mean_pct"], 2),
        "policies": results,
        "baseline": "pd: the shipped policy continued on the PD servo as long as actuator_net was on the network",
        "success_gain": round(net_m["success"] - pd_m["success"], 3),
        "tracking_error_reduction": round(1.0 - net_m["tracking_error_m"] / max(pd_m["tracking_error_m"], 1e-9), 3),
        "target": "success +0.1 or tracking error -20% on the motor robot; held-out torque error <= 10%",
    }
    out = ROOT / "bench" / "results" / "actuator_net.jsonl"
    with out.open("a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps(line))


if __name__ == "__main__":
    main()

"""Vector-env step cost on terrains vs flat ground (issue 27's target: <= 1.5x), one JSON line per terrain.

The A1 doing Walk-v0 in the batched MuJoCo vector env (N envs, DR on, random actions about the
standing pose, so robots step, stumble and reset as in training), on flat ground and on each terrain
(default: `rough`, +-4 cm bumps, and `mixed`, the training terrain; sim/terrain.py): the heightfield
contacts, the start placement at each reset and the critic's height scan (info["privileged"]) included.
`--actor walk` drives the robots with the shipped flat-ground A1 walk policy (policies/a1_walk, its
ONNX actor on the env's observations) instead: robots that trot, feet landing and lifting, as in
training; the policy's inference is timed on both sides alike.

How it is measured, and why: every env lives in one process and they take turns in short windows
(flat, terrain 1, terrain 2, flat, ...), so the load of a shared machine hits all of them alike; the
cost of a step is the process's CPU time per step (time.process_time), not the wall clock, because on
a loaded machine the wall clock also counts the time the scheduler gave to other processes. The ratio
is taken per round (terrain / the same round's flat) and reported as the median with its range; the
wall-clock ratio is reported next to it. `--nthread 1` (default) runs each rollout on one thread, so
the CPU time is the work itself, not a pool's waiting.

Where the time goes: the mean contacts, constraint rows and Newton iterations of a physics step
(sampled from the rollout's MjData after each control step: the last robot's last substep), flat vs
terrain. On MuJoCo's heightfield a foot near a cell edge also touches the neighbouring triangle's
prism, with a normal tilted toward the edge (docs/terrain.md): more rows and twice the iterations.

Usage: python bench/terrain_cost.py [--terrain rough --terrain mixed] [--actor random|walk] [--num-envs 64]
       [--seconds 60]
Appends to bench/results/terrain_cost.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from sim.terrain import Terrain, parse_terrain
from sim.vector import RobotVectorEnv

RESULTS = Path(__file__).parent / "results" / "terrain_cost.jsonl"


class Side:
    """One vector env, stepped with random actions about the standing pose, timed window by window."""

    def __init__(self, env: RobotVectorEnv, n: int, seed: int, policy=None):
        self.env, self.n, self.policy = env, n, policy
        self.rng = np.random.default_rng(seed)
        self.obs, _ = env.reset(seed=seed)
        self.data = env.core.sim.datas[0]  # the rollout's MjData: after a step, its last robot's last substep
        self.cpu: list[float] = []  # CPU s per step, per window
        self.wall: list[float] = []
        self.ncon = self.nefc = self.iters = 0.0
        self.samples = 0

    def window(self, seconds: float) -> None:
        """Step for about `seconds` of CPU time; record CPU and wall time per step and the contact figures."""
        env, d, steps = self.env, self.data, 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while time.process_time() - cpu0 < seconds or steps < 3:
            action = self.rng.uniform(-0.3, 0.3, (self.n, 12)) if self.policy is None else self.policy(self.obs)
            self.obs = env.step(action)[0]
            steps += 1
            self.ncon += d.ncon
            self.nefc += d.nefc
            self.iters += int(d.solver_niter[0])
            self.samples += 1
        self.cpu.append((time.process_time() - cpu0) / steps)
        self.wall.append((time.perf_counter() - wall0) / steps)

    def contacts(self) -> dict[str, float]:
        s = max(self.samples, 1)
        return {"contacts": round(self.ncon / s, 2), "constraint_rows": round(self.nefc / s, 1),
                "newton_iterations": round(self.iters / s, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terrain", action="append", help="a terrain (repeatable); default: rough and mixed")
    parser.add_argument("--actor", choices=["random", "walk"], default="random",
                        help="random actions about the standing pose, or the shipped A1 walk policy")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--nthread", type=int, default=1, help="rollout threads (1: CPU time is the work itself)")
    parser.add_argument("--seconds", type=float, default=60.0, help="total CPU time measured, all sides")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    n = args.num_envs
    configs = [parse_terrain(t) for t in (args.terrain or ["rough", "mixed"])]
    generate_s = []
    for config in configs:
        t0 = time.perf_counter()
        Terrain(config)
        generate_s.append(time.perf_counter() - t0)
    common = {"seed": 0, "robot": "a1", "randomization": "default", "nthread": args.nthread}
    policy = None
    if args.actor == "walk":
        from robot_rl.runtime import load_policy_folder

        policy = load_policy_folder(Path(__file__).parents[1] / "policies" / "a1_walk")
    t0 = time.perf_counter()
    flat = Side(RobotVectorEnv("Walk-v0", n, **common), n, 0, policy)
    flat_build_s = time.perf_counter() - t0
    sides, build_s = [], []
    for config in configs:
        t0 = time.perf_counter()
        sides.append(Side(RobotVectorEnv("Walk-v0", n, terrain=config, **common), n, 0, policy))
        build_s.append(time.perf_counter() - t0)
    window = args.seconds / ((1 + len(sides)) * args.rounds)
    for _ in range(args.rounds):
        for side in [flat, *sides]:
            side.window(window)
    for config, side, gen, build in zip(configs, sides, generate_s, build_s, strict=True):
        ratios = np.array(side.cpu) / np.array(flat.cpu)  # cost ratio: terrain step / flat step, per round
        wall = np.array(side.wall) / np.array(flat.wall)
        out = {
            "bench": "terrain_cost", "robot": "a1", "task": "Walk-v0", "num_envs": n, "randomization": "default",
            "terrain": config.describe(), "cores": os.cpu_count(), "nthread": args.nthread, "rounds": args.rounds,
            "actor": "random actions" if policy is None else "policies/a1_walk",
            "measure": "process CPU time per step, interleaved rounds",
            "flat_steps_per_cpu_s": round(n / float(np.median(flat.cpu))),
            "terrain_steps_per_cpu_s": round(n / float(np.median(side.cpu))),
            "cost_ratio_terrain_to_flat": round(float(np.median(ratios)), 3),
            "cost_ratio_range": [round(float(ratios.min()), 3), round(float(ratios.max()), 3)],
            "wall_ratio_median": round(float(np.median(wall)), 3),
            "wall_ratio_range": [round(float(wall.min()), 3), round(float(wall.max()), 3)],
            "target_cost_ratio": 1.5,
            "physics_step_flat": flat.contacts(), "physics_step_terrain": side.contacts(),
            "terrain_generate_s": round(gen, 3),
            "env_build_s": {"flat": round(flat_build_s, 2), "terrain": round(build, 2)},
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
        }
        line = json.dumps(out)
        print(line)
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(line + "\n")
    for side in [flat, *sides]:
        side.env.close()


if __name__ == "__main__":
    main()

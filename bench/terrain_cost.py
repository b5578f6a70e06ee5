"""Vector-env step cost on a terrain vs flat ground (issue 27's target: <= 1.5x), as one JSON line.

The A1 doing Walk-v0 in the batched MuJoCo vector env (N envs, DR on, random actions about the
standing pose, so robots step, stumble and reset as in training), on flat ground and on a terrain
(default: `rough`, +-4 cm bumps, sim/terrain.py): the heightfield contacts, the start placement at
each reset and the critic's height scan (info["privileged"]) included. Measured in alternating short
windows in one run (the median of the per-round ratios, with its range), so the load of a shared
machine hits both sides alike. Also the seconds to generate the terrain and build the env.

Usage: python bench/terrain_cost.py [--terrain rough] [--num-envs 64] [--seconds 12]
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


def stepper(env: RobotVectorEnv, n: int, seed: int):
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)

    def step() -> None:
        env.step(rng.uniform(-0.3, 0.3, (n, 12)))

    return step


def timed(fn, seconds: float) -> float:
    """Calls per second of `fn` over about `seconds`."""
    fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terrain", default="rough")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=12.0, help="total measuring time, both sides")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    n = args.num_envs
    config = parse_terrain(args.terrain)
    t0 = time.perf_counter()
    Terrain(config)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    flat = RobotVectorEnv("Walk-v0", n, seed=0, robot="a1", randomization="default")
    flat_build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rough = RobotVectorEnv("Walk-v0", n, seed=0, robot="a1", randomization="default", terrain=config)
    terrain_build_s = time.perf_counter() - t0
    step_flat, step_terrain = stepper(flat, n, 0), stepper(rough, n, 0)
    window = args.seconds / (2 * args.rounds)
    ratios, flat_rates, terrain_rates = [], [], []
    for _ in range(args.rounds):
        f = timed(step_flat, window)
        t = timed(step_terrain, window)
        flat_rates.append(f)
        terrain_rates.append(t)
        ratios.append(f / t)  # cost ratio: time per terrain step / time per flat step
    flat.close()
    rough.close()
    out = {
        "bench": "terrain_cost", "robot": "a1", "task": "Walk-v0", "num_envs": n, "randomization": "default",
        "terrain": config.describe(), "cores": os.cpu_count(),
        "flat_steps_per_s": round(float(np.median(flat_rates)) * n),
        "terrain_steps_per_s": round(float(np.median(terrain_rates)) * n),
        "cost_ratio_terrain_to_flat": round(float(np.median(ratios)), 3),
        "cost_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "target_cost_ratio": 1.5,
        "terrain_generate_s": round(generate_s, 3),
        "env_build_s": {"flat": round(flat_build_s, 2), "terrain": round(terrain_build_s, 2)},
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    line = json.dumps(out)
    print(line)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()

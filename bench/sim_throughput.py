"""Simulation throughput on the cart-pole, as one JSON line.

Figures, all in one run on the same model (cartpole robot.yaml: 2 ms physics, 10 substeps/step):
  raw_mj_step_per_s          plain Python loop of mujoco.mj_step (one physics step per call)
  rollout_physics_per_s      mujoco.rollout, N=64, all cores, one control step (10 substeps) per call:
                             the ceiling our vector env is measured against
  env_single_steps_per_s     our Gymnasium env, N=1 (DR off / on)
  vec{N}_steps_per_s         our vector env (DR off / on), N=16 and 64
  ratio_vec64_dr_to_rollout  vectorized env physics steps/s (N=64, DR on) / rollout_physics_per_s
                             (target >= 0.5)
  ratio_vec64_dr_to_raw      vectorized env physics steps/s / raw_mj_step_per_s
  syncvec64_steps_per_s      gymnasium SyncVectorEnv over 64 of our single envs, for comparison
Usage: python bench/sim_throughput.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import gymnasium as gym
import mujoco
import mujoco.rollout
import numpy as np

import sim  # noqa: F401  (registers the envs)
from sim.engines.mujoco import build_spec
from sim.robot import load_robot
from sim.vector import RobotVectorEnv


def timed(fn, seconds: float) -> float:
    """Calls of fn per second over about `seconds`."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    args = parser.parse_args()
    robot = load_robot("cartpole")
    S = robot.substeps
    model = build_spec(robot).compile()
    data = mujoco.MjData(model)
    data.qpos[1] = 0.1

    def raw():
        for _ in range(100):
            mujoco.mj_step(model, data)

    raw_rate = 100 * timed(raw, args.seconds)

    n = 64
    nthread = os.cpu_count() or 1
    runner = mujoco.rollout.Rollout(nthread=nthread)
    models = [model] * n
    datas = [mujoco.MjData(model) for _ in range(nthread)]
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state0 = np.zeros((n, mujoco.mj_stateSize(model, spec)))
    for i in range(n):
        mujoco.mj_getState(model, data, state0[i], spec)
    control = np.random.default_rng(0).uniform(-20, 20, (n, S, 1))
    out = np.zeros((n, S, state0.shape[1]))

    def roll():
        runner.rollout(models, datas, state0, control, skip_checks=True, nstep=S, state=out, chunk_size=n // nthread)

    rollout_rate = n * S * timed(roll, args.seconds)
    runner.close()

    result = {"bench": "sim_throughput", "robot": "cartpole", "physics_dt": robot.physics_dt, "substeps": S,
              "cores": os.cpu_count(), "raw_mj_step_per_s": round(raw_rate),
              "rollout_physics_per_s": round(rollout_rate)}

    for dr in (None, "default"):
        tag = "dr" if dr else "nodr"
        env = gym.make("robot_rl/CartpoleSwingup-v0", randomization=dr).unwrapped
        env.reset(seed=0)
        act = np.zeros(1, np.float32)

        def single_step(env=env, act=act):
            _, _, term, trunc, _ = env.step(act)
            if term or trunc:
                env.reset()

        result[f"env_single_{tag}_steps_per_s"] = round(timed(single_step, args.seconds))
        for n in (16, 64):
            vec = RobotVectorEnv("CartpoleSwingup-v0", n, seed=0, randomization=dr)
            vec.reset(seed=0)
            acts = np.random.default_rng(0).uniform(-1, 1, (n, 1))
            rate = n * timed(lambda vec=vec, acts=acts: vec.step(acts), args.seconds)
            result[f"vec{n}_{tag}_steps_per_s"] = round(rate)
            vec.close()

    sync = gym.vector.SyncVectorEnv([lambda: gym.make("robot_rl/CartpoleSwingup-v0", randomization="default")] * 64)
    sync.reset(seed=0)
    acts = np.zeros((64, 1), np.float32)
    result["syncvec64_dr_steps_per_s"] = round(64 * timed(lambda: sync.step(acts), args.seconds))
    sync.close()
    vec_physics = result["vec64_dr_steps_per_s"] * S
    result["vec64_dr_physics_per_s"] = vec_physics
    result["ratio_vec64_dr_to_rollout"] = round(vec_physics / rollout_rate, 3)
    result["ratio_vec64_dr_to_raw"] = round(vec_physics / raw_rate, 3)
    result["speedup_vec64_vs_syncvec64"] = round(result["vec64_dr_steps_per_s"] / result["syncvec64_dr_steps_per_s"], 2)
    result["target_ratio_to_rollout"] = 0.5
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Simulation throughput of the A1 and the cart-pole, as JSON lines (one per robot) in one run.

The three targets (issue 12), each a ratio measured in the same run, so machine load cancels:
Each ratio is the median over alternating short windows of the two sides (`paired_ratio`), with its
min-max range, so a load change on the shared machine hits both.
  a1: ratio_vec32_dr_to_raw        A1 vector env, N=32, DR on, physics steps/s / a bare single-thread
                                   mj_step loop on the same A1 model standing on the floor, holding
                                   the same kind of command (>= 0.8)
  cartpole: ratio_single_to_gym_pendulum
                                   our single cart-pole env's steps/s / gymnasium's
                                   InvertedPendulum-v5 env steps/s, both made with gymnasium.make (>= 1.0)
  cartpole: ratio_vec64_dr_to_rollout
                                   vector env physics steps/s (N=64, DR on) / mujoco.rollout's (>= 0.5)

Cart-pole figures, all on the same model (cartpole robot.yaml: 5 ms physics, 4 substeps/step):
  raw_mj_step_per_s          plain Python loop of mujoco.mj_step (one physics step per call)
  rollout_physics_per_s      mujoco.rollout, N=64, all cores, one control step (4 substeps) per call:
                             the ceiling our vector env is measured against
  env_single_steps_per_s     our Gymnasium env, N=1 (DR off / on)
  vec{N}_steps_per_s         our vector env (DR off / on), N=16 and 64
  ratio_vec64_dr_to_rollout  vectorized env physics steps/s (N=64, DR on) / rollout_physics_per_s
                             (target >= 0.5)
  ratio_vec64_dr_to_raw      vectorized env physics steps/s / raw_mj_step_per_s
  syncvec64_steps_per_s      gymnasium SyncVectorEnv over 64 of our single envs, for comparison
A1 figures (a1 robot.yaml: 5 ms physics, 4 substeps/step, 8 floor contacts standing):
  raw_mj_step_per_s, vec{N}_{dr,nodr}_steps_per_s and _physics_per_s, env_single_steps_per_s (MuJoCo),
  env_single_pybullet_steps_per_s.
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
from sim.engines.mujoco import build_spec, default_base
from sim.robot import load_robot
from sim.vector import RobotVectorEnv

TARGETS = {"a1_ratio_vec32_dr_to_raw": 0.8, "cartpole_ratio_single_to_gym_pendulum": 1.0,
           "cartpole_ratio_vec64_dr_to_rollout": 0.5}


def timed(fn, seconds: float) -> float:
    """Calls of fn per second over about `seconds`."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def paired_ratio(num, num_per_call: float, den, den_per_call: float, seconds: float, rounds: int = 6) -> dict:
    """Ratio of two rates measured in alternating short windows; the median of the per-round ratios.

    The machine is shared: load drifts over seconds, so two figures measured one after the other
    can differ by 2x for nothing. Alternating windows expose both sides to the same load.
    """
    ratios, a, b = [], [], []
    for _ in range(rounds):
        ra = num_per_call * timed(num, seconds / rounds)
        rb = den_per_call * timed(den, seconds / rounds)
        a.append(ra)
        b.append(rb)
        ratios.append(ra / rb)
    return {"ratio": round(float(np.median(ratios)), 3), "num_per_s": round(float(np.median(a))),
            "den_per_s": round(float(np.median(b))), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3)}


def a1_figures(seconds: float) -> dict:
    """The A1: bare mj_step on its model (standing, PD holding the default pose) vs our envs."""
    robot = load_robot("a1")
    S = robot.substeps
    model = build_spec(robot).compile()
    data = mujoco.MjData(model)
    base = default_base(robot)
    data.qpos[:3], data.qpos[3:7] = base.position, base.orientation
    for k, j in enumerate(robot.joints):
        data.qpos[model.jnt_qposadr[model.joint(j.name).id]] = robot.default_pose[k]
    # The same commands as the vector env below (a fixed random offset from the default pose per
    # robot; the bare loop holds robot 0's), so both sides simulate the same kind of motion.
    acts = np.random.default_rng(0).uniform(-0.2, 0.2, (32, 12))
    data.ctrl[:] = np.array(robot.default_pose) + 0.5 * acts[0]
    for _ in range(400):  # settle onto the floor: the contacts a standing robot has
        mujoco.mj_step(model, data)

    def raw():
        for _ in range(100):
            mujoco.mj_step(model, data)

    raw_rate = 100 * timed(raw, seconds)
    out = {"bench": "sim_throughput", "robot": "a1", "physics_dt": robot.physics_dt, "substeps": S,
           "cores": os.cpu_count(), "contacts_standing": int(data.ncon), "raw_mj_step_per_s": round(raw_rate)}
    for dr in (None, "default"):
        tag = "dr" if dr else "nodr"
        n = 32
        vec = RobotVectorEnv("A1Walk-v0", n, seed=0, randomization=dr)
        vec.reset(seed=0)
        rate = n * timed(lambda vec=vec, acts=acts: vec.step(acts), seconds)
        out[f"vec{n}_{tag}_steps_per_s"] = round(rate)
        out[f"vec{n}_{tag}_physics_per_s"] = round(rate * S)
        vec.close()
    for engine in ("mujoco", "pybullet"):
        env = gym.make("robot_rl/A1Walk-v0", engine=engine, randomization="default")
        env.reset(seed=0)
        act = np.zeros(12, np.float32)

        def single_step(env=env, act=act):
            _, _, term, trunc, _ = env.step(act)
            if term or trunc:
                env.reset()

        key = "env_single_steps_per_s" if engine == "mujoco" else "env_single_pybullet_steps_per_s"
        out[key] = round(timed(single_step, seconds))
        env.close()
    vec = RobotVectorEnv("A1Walk-v0", 32, seed=0, randomization="default")
    vec.reset(seed=0)
    pair = paired_ratio(lambda: vec.step(acts), 32 * S, raw, 100, 2 * seconds)
    vec.close()
    out["ratio_vec32_dr_to_raw"] = pair["ratio"]  # median over alternating windows (see paired_ratio)
    out["ratio_vec32_dr_to_raw_range"] = [pair["ratio_min"], pair["ratio_max"]]
    out["target_ratio_vec32_dr_to_raw"] = TARGETS["a1_ratio_vec32_dr_to_raw"]
    return out


def gym_pendulum_rate(seconds: float) -> float:
    """gymnasium's InvertedPendulum-v5 env steps/s (gymnasium.make, its default wrappers, zero action)."""
    env = gym.make("InvertedPendulum-v5")
    env.reset(seed=0)
    act = np.zeros(1, np.float32)

    def step():
        _, _, term, trunc, _ = env.step(act)
        if term or trunc:
            env.reset()

    rate = timed(step, seconds)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    parser.add_argument("--robot", choices=["all", "a1", "cartpole"], default="all")
    args = parser.parse_args()
    if args.robot in ("all", "a1"):
        print(json.dumps(a1_figures(args.seconds)), flush=True)
    if args.robot in ("all", "cartpole"):
        print(json.dumps(cartpole_figures(args.seconds)), flush=True)


def cartpole_figures(seconds: float) -> dict:
    """The cart-pole: bare mj_step, mujoco.rollout, gymnasium's InvertedPendulum-v5 vs our envs."""
    args = argparse.Namespace(seconds=seconds)
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

    result = {"bench": "sim_throughput", "robot": "cartpole", "physics_dt": robot.physics_dt, "substeps": S,
              "cores": os.cpu_count(), "raw_mj_step_per_s": round(raw_rate),
              "rollout_physics_per_s": round(rollout_rate)}

    result["gym_inverted_pendulum_v5_steps_per_s"] = round(gym_pendulum_rate(args.seconds))
    for dr in (None, "default"):
        tag = "dr" if dr else "nodr"
        env = gym.make("robot_rl/CartpoleSwingup-v0", randomization=dr)
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
    vec = RobotVectorEnv("CartpoleSwingup-v0", 64, seed=0, randomization="default")
    vec.reset(seed=0)
    acts64 = np.random.default_rng(0).uniform(-1, 1, (64, 1))
    pair = paired_ratio(lambda: vec.step(acts64), 64 * S, roll, 64 * S, 2 * args.seconds)
    vec.close()
    runner.close()
    result["ratio_vec64_dr_to_rollout"] = pair["ratio"]  # median over alternating windows
    result["ratio_vec64_dr_to_rollout_range"] = [pair["ratio_min"], pair["ratio_max"]]
    result["ratio_vec64_dr_to_raw"] = round(vec_physics / raw_rate, 3)
    result["speedup_vec64_vs_syncvec64"] = round(result["vec64_dr_steps_per_s"] / result["syncvec64_dr_steps_per_s"], 2)
    result["target_ratio_to_rollout"] = TARGETS["cartpole_ratio_vec64_dr_to_rollout"]
    ours = gym.make("robot_rl/CartpoleSwingup-v0")
    ours.reset(seed=0)
    theirs = gym.make("InvertedPendulum-v5")
    theirs.reset(seed=0)
    zero = np.zeros(1, np.float32)

    def step_env(env):
        _, _, term, trunc, _ = env.step(zero)
        if term or trunc:
            env.reset()

    pair = paired_ratio(lambda: step_env(ours), 1, lambda: step_env(theirs), 1, 2 * args.seconds)
    result["ratio_single_to_gym_pendulum"] = pair["ratio"]  # median over alternating windows
    result["ratio_single_to_gym_pendulum_range"] = [pair["ratio_min"], pair["ratio_max"]]
    result["ratio_single_dr_to_gym_pendulum"] = round(result["env_single_dr_steps_per_s"]
                                                      / result["gym_inverted_pendulum_v5_steps_per_s"], 3)
    result["target_ratio_single_to_gym_pendulum"] = TARGETS["cartpole_ratio_single_to_gym_pendulum"]
    return result


if __name__ == "__main__":
    main()

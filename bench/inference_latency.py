"""Latency of one deploy control step, batch 1: the ONNX runtime against the torch actor in eager mode.

A control step is what the robot's control loop pays between "joint state arrived" and "command
out": build the observation (sim.observations, the simulator's own function), run the policy,
scale the action to a physical command, and pass it through the SafetyFilter. Both paths share the
observation and the filter; only the policy differs:

  runtime       robot_rl.runtime.Controller.step: onnxruntime, 1 thread, IOBinding on preallocated buffers
  torch_eager   the same step with the torch actor (torch.inference_mode, 1 thread) in place of ONNX

Each task's actor is the trainer's default PPO network (random weights: latency does not depend
on them), exported with robot_rl.export.export_actor. Prints one JSON line per task, plus the
median of each component. Targets (CartpoleSwingup-v0, the shipped swing-up): runtime p50 <= 25 us,
p99 <= 60 us, torch eager >= 2x slower at p50. The machine is shared: expect 10-20% run to run.

  python bench/inference_latency.py [--steps 20000] [--tasks CartpoleSwingup-v0 IiwaReach-v0]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

TARGETS = {"runtime_p50_us": 25.0, "runtime_p99_us": 60.0, "torch_over_runtime_p50": 2.0}


def percentiles(samples_ns: np.ndarray) -> dict[str, float]:
    us = samples_ns / 1000.0
    return {"p50": round(float(np.percentile(us, 50)), 2), "p99": round(float(np.percentile(us, 99)), 2)}


def time_calls(fn, args_list: list[tuple], warmup: int = 500) -> np.ndarray:
    """Call fn(*args) for each args; the first `warmup` calls are not timed (args may carry a clock)."""
    for a in args_list[:warmup]:
        fn(*a)
    timed = args_list[warmup:]
    out = np.empty(len(timed), dtype=np.int64)
    clock = time.perf_counter_ns
    for i, a in enumerate(timed):
        t0 = clock()
        fn(*a)
        out[i] = clock() - t0
    return out


def bench_task(task: str, steps: int, folder: Path) -> dict:
    import torch

    from robot_rl.algos.modules import GaussianActorCritic
    from robot_rl.algos.ppo import PPOConfig
    from robot_rl.export import export_actor
    from robot_rl.runtime import Controller, SafetyFilter, SafetyState
    from sim.observations import task_interface

    interface = task_interface(task)
    cfg = PPOConfig()
    torch.manual_seed(0)
    model = GaussianActorCritic(interface.obs_size, interface.action_size, tuple(cfg.hidden), cfg.activation, True, 0.0)
    actor = model.deterministic().eval()
    export_actor(actor, {"task": task}, folder, parity_samples=100)

    ctl = Controller(folder)
    robot = ctl.robot
    n = len(robot.joints)
    steps += 500  # warm-up steps, not timed
    rng = np.random.default_rng(0)
    lo = np.array([j.position_limits[0] if j.position_limits else -np.pi for j in robot.joints])
    hi = np.array([j.position_limits[1] if j.position_limits else np.pi for j in robot.joints])
    qs = rng.uniform(0.5 * lo, 0.5 * hi, (steps, n))
    qds = rng.uniform(-0.5, 0.5, (steps, n))
    goal = np.array([0.5, 0.0, 0.5]) if interface.command_size else None
    dt = 1e-3  # fake clock: 1 ms per step keeps the watchdog happy whatever the real speed
    times = np.arange(steps) * dt + 1.0

    # --- the runtime step
    ctl.activate(times[0] - dt, qs[0])
    runtime_args = [(times[i], times[i], qs[i], qds[i], goal) for i in range(steps)]
    runtime_ns = time_calls(ctl.step, runtime_args)
    assert ctl.state is SafetyState.ACTIVE, ctl.fault_reason

    # --- the same step with the torch actor
    safety = SafetyFilter(robot)
    safety.activate(times[0] - dt, qs[0])
    last_action = np.zeros(interface.action_size)
    no_command = np.zeros(interface.command_size)

    def torch_step(now, stamp, q, qd, command):
        obs = interface.build(q, qd, last_action, no_command if command is None else command)
        with torch.inference_mode():
            action = actor(torch.from_numpy(obs).unsqueeze(0))[0].numpy()
        last_action[:] = action
        return safety.step(now, stamp, q, qd, interface.action_to_command(last_action))

    torch_ns = time_calls(torch_step, runtime_args)
    assert safety.state is SafetyState.ACTIVE, safety.fault_reason

    # --- components (median only: where the runtime step's time goes)
    runner = ctl.runner
    obs = runner.observation(qs[0], qds[0], goal)
    filt = SafetyFilter(robot)
    filt.activate(0.0, qs[0])
    cmd = runner.step(qs[0], qds[0], goal)
    k = min(steps, 5000)
    components = {
        "observation": time_calls(lambda q, qd: runner.observation(q, qd, goal), [(qs[i], qds[i]) for i in range(k)]),
        "onnx_act1": time_calls(runner.policy.act1, [(obs,)] * k),
        "torch_eager_forward": time_calls(lambda o: _torch_forward(actor, o), [(obs,)] * k),
        "safety_filter": time_calls(
            filt.step, [(times[i] - 0.5, times[i] - 0.5, qs[i], qds[i], cmd) for i in range(k)]
        ),
    }
    runtime = percentiles(runtime_ns)
    torch_eager = percentiles(torch_ns)
    ratio = round(torch_eager["p50"] / runtime["p50"], 2)
    return {
        "bench": "inference_latency",
        "task": task,
        "robot": robot.name,
        "network": f"{interface.obs_size}-{'-'.join(map(str, cfg.hidden))}-{interface.action_size} {cfg.activation}",
        "steps": len(runtime_ns),
        "runtime_step_us": runtime,
        "torch_eager_step_us": torch_eager,
        "torch_over_runtime_p50": ratio,
        "components_p50_us": {name: percentiles(ns)["p50"] for name, ns in components.items()},
        "meets_targets": bool(
            runtime["p50"] <= TARGETS["runtime_p50_us"]
            and runtime["p99"] <= TARGETS["runtime_p99_us"]
            and ratio >= TARGETS["torch_over_runtime_p50"]
        ),
        "targets": TARGETS,
        "machine": platform.processor() or platform.machine(),
    }


def _torch_forward(actor, obs):
    import torch

    with torch.inference_mode():
        return actor(torch.from_numpy(obs).unsqueeze(0))[0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--tasks", nargs="+", default=["CartpoleSwingup-v0", "IiwaReach-v0"])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            print(json.dumps(bench_task(task, args.steps, Path(tmp) / task)), flush=True)


if __name__ == "__main__":
    main()

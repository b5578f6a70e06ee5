"""Training speed of PPO on the A1 and the iiwa against the physics ceiling, as JSON lines (issue 23, item 1).

What it measures, per robot, on the run's own settings (`robot-rl train --task T` without --preset: A1Walk-v0
with the `legged` preset, Reach-v0 on the iiwa with the `reach` preset; DR "default", 1 torch thread, MuJoCo's
batched step on up to 2 threads, exactly as `robot-rl train` builds them):

  ceiling_env_steps_per_s     the physics ceiling: the same N MjModels (DR and all) stepped by the same threaded
                              `mujoco.rollout` call (all substeps of a control step in one call, both cores), with
                              no policy and no task logic. The states and commands are those recorded during a
                              policy rollout and replayed, so the robots make the contacts they make in training
                              (a robot left without a policy falls over and lies still: a cheaper, wrong ceiling)
  collection_env_steps_per_s  `algo.collect()` alone: the policy acting (stochastic, batched), task logic, DR resets
  update_env_steps_per_s      `algo.update()` alone on a stored batch: batch size / seconds of one PPO update
  training_env_steps_per_s    `algo.iterate()`: collection then update, as `robot-rl train` runs them
  overlap_bound_env_steps_per_s  batch / max(collection, update): what overlapping the two could reach at best
                              if they did not share the cores. Measured (issue 23, item 2): PPO collecting batch
                              k+1 in a thread with the weights before the update of batch k ran 0.99x, 1.04x and
                              0.99x of serial training on the iiwa (A1: 1.08x) at load 10-13: the physics already
                              keeps both cores busy ~70% of the time, so it was left out
  ratio_*_to_ceiling          each rate / the ceiling, the median over rounds (each round measures every phase
                              once, back to back, so the load of the moment hits all of them)
  profile_fraction            the training phase split by timers: physics (the rollout call), env_logic (task,
                              observation, DR resets: the env step minus physics), policy_inference (actor and
                              critic forward passes during collection), update (the PPO update incl. GAE),
                              other (collector bookkeeping, noise, storage writes)
  loadavg_start/_end          os.getloadavg() around the robot's measurement: this machine is shared, so compare
                              the ratios of one run, not absolute rates across runs

Usage:
  python bench/train_speed.py                        both robots, ~1-2 min, appends to bench/results/train_speed.jsonl
  python bench/train_speed.py --robots iiwa --seconds 3 --rounds 5
  python bench/train_speed.py --robots a1 --set num_envs=96     any PPO setting over the preset's
  python bench/train_speed.py --cprofile 25          also print cProfile's top 25 functions of the training phase
  python bench/train_speed.py --out -                print only, write nothing
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from robot_rl.envs import resolve_env_id, task_robot  # noqa: E402
from robot_rl.train import RunConfig, build_algo  # noqa: E402
from robot_rl.training.cpu import cpu_training_settings  # noqa: E402
from robot_rl.training.presets import task_preset  # noqa: E402

DEFAULT_OUT = REPO / "bench" / "results" / "train_speed.jsonl"
# robot key -> (task, --robot); the preset is the task's own (robot_rl.training.presets.TASK_PRESETS)
ROBOTS = {"a1": ("A1Walk-v0", None), "iiwa": ("Reach-v0", "iiwa")}


def build(robot_key: str, overrides: dict, seed: int = 0):
    """The PPO algorithm `robot-rl train --task T [--robot R]` builds, with `overrides` over its preset."""
    task, robot = ROBOTS[robot_key]
    env_id = resolve_env_id(task)
    preset = task_preset(env_id, "ppo")
    config = RunConfig(env_id=env_id, algo="ppo", steps=10**9, seed=seed, robot=task_robot(env_id, robot),
                       randomize="default", preset=preset, algo_config=dict(overrides))
    return build_algo(config, env_seed=seed), preset, env_id


class Timers:
    """Seconds spent in the wrapped calls; `inside` names the outer phase so nested calls are not counted twice."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.phase: str | None = None

    def wrap(self, fn: Callable, name: str, only_in: str | None = None) -> Callable:
        def timed(*args, **kwargs):
            if only_in is not None and self.phase != only_in:
                return fn(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        return timed

    def wrap_phase(self, fn: Callable, name: str) -> Callable:
        def timed(*args, **kwargs):
            self.phase, t0 = name, time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.phase = None
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        return timed


@contextmanager
def instrumented(algo, timers: Timers):
    """Timers on the physics call, the env step, the networks' forward passes, collect and update (instance
    attributes shadowing the methods, removed afterwards)."""
    sim, env, model = algo.collector.env.core.sim, algo.collector.env, algo.model
    patches = [(sim, "step", timers.wrap(sim.step, "physics")),
               (env, "step", timers.wrap(env.step, "env")),
               (model, "actor_mean", timers.wrap(model.actor_mean, "inference", only_in="collect")),
               (model, "value", timers.wrap(model.value, "inference", only_in="collect")),
               (algo, "collect", timers.wrap_phase(algo.collect, "collect")),
               (algo, "update", timers.wrap_phase(algo.update, "update"))]
    for obj, name, fn in patches:
        object.__setattr__(obj, name, fn)
    try:
        yield
    finally:
        for obj, name, _ in patches:
            object.__delattr__(obj, name)


def record_physics(algo) -> list[tuple[np.ndarray, np.ndarray]]:
    """(state before, control) of every batched physics call of one policy rollout: the ceiling replays them."""
    sim = algo.collector.env.core.sim
    calls: list[tuple[np.ndarray, np.ndarray]] = []
    step = sim.step

    def recording(control):
        calls.append((sim.state_now.copy(), np.array(control, dtype=np.float64)))
        return step(control)

    object.__setattr__(sim, "step", recording)
    try:
        algo.collect()
    finally:
        object.__delattr__(sim, "step")
    return calls


def ceiling_stepper(algo, calls) -> tuple[Callable[[], None], int, np.ndarray]:
    """One replayed control step of the whole batch, the same `mujoco.rollout` call the env makes; the number
    of robots; the (N, substeps, nstate) buffer the states land in."""
    import mujoco

    sim = algo.collector.env.core.sim
    S = sim.robot.substeps
    prepared = [(s, np.ascontiguousarray(np.broadcast_to(c, (c.shape[0], S, c.shape[2])))) for s, c in calls]
    out = np.zeros_like(sim.out)
    sens = np.zeros_like(sim.sens_out) if sim.floating else None
    k = [0]

    def step() -> None:
        state0, control = prepared[k[0] % len(prepared)]
        k[0] += 1
        sim.runner.rollout(sim.models, sim.datas, state0, control, control_spec=mujoco.mjtState.mjSTATE_CTRL,
                           skip_checks=True, nstep=S, state=out, sensordata=sens, chunk_size=sim.chunk)

    return step, len(sim.models), out


def rate(fn: Callable[[], None], per_call: int, seconds: float) -> tuple[float, float]:
    """(per_call units per second, seconds per call) over whole calls for about `seconds` (at least one)."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return per_call * n / elapsed, elapsed / n


def measure(robot_key: str, seconds: float, rounds: int, overrides: dict, top: int) -> dict:
    load_start = os.getloadavg()
    algo, preset, env_id = build(robot_key, overrides)
    batch = algo.batch_size
    cfg = algo.cfg
    timers = Timers()
    ceiling_samples, collect_samples, update_samples, train_samples = [], [], [], []
    with cpu_training_settings():  # as the training loop runs (denormals flushed, gc frozen)
        algo.iterate()  # warm up: first batch, the networks' first passes, the normalizers
        ceiling, n_envs, _ = ceiling_stepper(algo, record_physics(algo))
        ceiling()
        for _ in range(rounds):
            ceiling_samples.append(rate(ceiling, n_envs, seconds))
            collect_samples.append(rate(algo.collect, batch, seconds))
            update_samples.append(rate(algo.update, batch, seconds))
            with instrumented(algo, timers):
                t0 = time.perf_counter()
                train_samples.append(rate(algo.iterate, batch, seconds))
                timers.seconds["total"] = timers.seconds.get("total", 0.0) + time.perf_counter() - t0
        profile_text = None
        if top > 0:
            prof = cProfile.Profile()
            prof.runcall(rate, algo.iterate, batch, seconds)
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
            profile_text = buf.getvalue()
    algo.close()

    def med(samples, i=0):
        return float(np.median([s[i] for s in samples]))

    ceil = [s[0] for s in ceiling_samples]
    out = {"bench": "train_speed", "robot": robot_key, "task": env_id.split("/")[-1], "preset": preset,
           "overrides": overrides, "num_envs": cfg.num_envs, "num_steps": cfg.num_steps, "batch": batch,
           "update_epochs": cfg.update_epochs, "num_minibatches": cfg.num_minibatches, "hidden": list(cfg.hidden),
           "physics_threads": len(algo.collector.env.core.sim.datas), "torch_threads": torch.get_num_threads(),
           "cores": os.cpu_count(), "rounds": rounds, "window_s": seconds,
           "ceiling_env_steps_per_s": round(med(ceiling_samples))}
    for name, samples in (("collection", collect_samples), ("update", update_samples), ("training", train_samples)):
        out[f"{name}_env_steps_per_s"] = round(med(samples))
        out[f"{name}_seconds_per_batch"] = round(med(samples, 1), 4)
    out["overlap_bound_env_steps_per_s"] = round(batch / max(out["collection_seconds_per_batch"],
                                                             out["update_seconds_per_batch"]))
    for name, samples in (("collection", collect_samples), ("training", train_samples),
                          ("overlap_bound", None)):
        if samples is None:
            pairs = zip(collect_samples, update_samples, ceil, strict=True)
            ratios = [batch / max(c[1], u[1]) / k for c, u, k in pairs]
        else:
            ratios = [s[0] / k for s, k in zip(samples, ceil, strict=True)]
        out[f"ratio_{name}_to_ceiling"] = round(float(np.median(ratios)), 3)
        out[f"ratio_{name}_to_ceiling_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    sec = timers.seconds
    total = sec["total"]
    parts = {"physics": sec.get("physics", 0.0), "env_logic": sec.get("env", 0.0) - sec.get("physics", 0.0),
             "policy_inference": sec.get("inference", 0.0), "update": sec.get("update", 0.0)}
    parts["other"] = total - sum(parts.values())
    out["profile_fraction"] = {k: round(v / total, 3) for k, v in parts.items()}
    out["profile_seconds"] = round(total, 2)
    out["loadavg_start"] = [round(x, 2) for x in load_start]
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if profile_text is not None:
        print(f"--- cProfile, {robot_key}, training phase, top {top} by own time ---\n{profile_text}", file=sys.stderr)
    return out


def parse_sets(items: list[str]) -> dict:
    from robot_rl.commands.train import set_values

    return set_values(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--robots", default="a1,iiwa", help=f"comma-separated, of {', '.join(ROBOTS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="seconds per phase per round, whole iterations (default 3: ~1-2 min for both robots)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four phases; medians are reported")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a PPO setting over the task's preset (as `robot-rl train --set`), repeatable")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also profile one training window with cProfile and print its top N functions")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON-lines file to append to; '-': print only")
    args = parser.parse_args(argv)
    robots = [r.strip() for r in args.robots.split(",") if r.strip()]
    unknown = [r for r in robots if r not in ROBOTS]
    if unknown or not robots:
        parser.error(f"--robots: unknown {unknown}; choose from {', '.join(ROBOTS)}")
    if args.seconds <= 0 or args.rounds < 1:
        parser.error("--seconds must be > 0 and --rounds >= 1")
    torch.set_num_threads(1)  # as robot-rl train (RunConfig.torch_threads)
    overrides = parse_sets(args.set)
    for robot in robots:
        line = json.dumps(measure(robot, args.seconds, args.rounds, overrides, args.cprofile))
        print(line, flush=True)
        if args.out != "-":
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

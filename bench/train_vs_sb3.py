"""Training speed and sample efficiency: our PPO/SAC against Stable-Baselines3, same machine and envs.

Every trial runs in a fresh subprocess, one at a time (1 torch thread each), so timings are
not polluted by the other trials and peak memory is per trial. Time budgets (``max_seconds``) count
the trial's CPU seconds, and every result has CPU seconds next to wall-clock: on a shared machine
the neighbours' load inflates wall-clock, not CPU time. A trial trains until its episode
returns cross a threshold (mean of the last WINDOW finished training episodes, identical rule for
both libraries) or its step/time budget runs out, then evaluates the deterministic policy on
separate seeded episodes (evaluation time is not training time).

Sections (quick mode in parentheses):
  ppo_swingup     CartpoleSwingup-v0, default DR, MuJoCo: wall-clock and env steps to the threshold,
                  ours vs SB3 PPO (each with its own default hyperparameters), plus our success rate
  sac_pendulum    Pendulum-v1, SB3's SAC settings for both (batch 256, UTD 1, learning_starts 100,
                  tau 0.005, auto entropy from alpha 1): steps and time to -200, training steps/s;
                  ours with its default networks (128x128, lr 1e-3; sac_pendulum) and with SB3's
                  (256x256, lr 3e-4; sac_pendulum_256x256, the everything-equal comparison).
                  Full mode runs 5 seeds here: the median of 3 is too noisy for "no worse".
  sac_swingup     CartpoleSwingup-v0: full mode: steps and time to the threshold; quick: steps/s only
  ppo_inverted_pendulum / ppo_hopper (full only): deterministic eval return and training return at
                  equal env steps (ours with `--preset locomotion` on Hopper, SB3 with its defaults)
  ppo_swingup_vs_rsl_rl: our PPO CLI defaults vs rsl_rl's PPO (rsl-rl-lib) on our vector env through its
                  VecEnv (time-outs passed for bootstrapping), with rsl_rl's defaults and with our sizes;
                  the peer's figures sit under the "sb3" key of each comparison
  td3_pendulum, ddpg_pendulum, dqn_cartpole, a2c_inverted_pendulum, trpo_inverted_pendulum: steps and
                  wall-clock to the threshold, SB3 (TRPO: sb3-contrib) with RL Zoo's settings for the
                  task where the Zoo has them (FAMILY below), ours with its CLI defaults

Prints one JSON object (also written to --out): per-trial results, medians, the ratios and
which of the issue's targets were met. SB3 is a bench-only dependency.

    .venv/bin/python bench/train_vs_sb3.py --quick          # < 10 minutes
    .venv/bin/python bench/train_vs_sb3.py                  # full: seeds 0-4
    .venv/bin/python bench/train_vs_sb3.py --only td3_pendulum ddpg_pendulum --jsonl bench/results/train_vs_sb3.jsonl

Every comparison reports the median AND the worst case over its seeds (``median_*`` / ``worst_*``,
``seeds_reaching_threshold``): a median of 5 hides the seed a user happens to draw. ``--jsonl``
appends one line per comparison (algorithm, task, seeds, both sides' median, worst and per-seed
figures) to a file, so partial runs accumulate.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

WINDOW = 20  # finished training episodes averaged for the threshold rule
_BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SWINGUP = "robot_rl/CartpoleSwingup-v0"
SWINGUP_KW = {"engine": "mujoco", "randomization": "default"}
SWINGUP_THRESHOLD = 180.0  # of at most 250; our runs show success >= 0.9 from about here
PENDULUM_THRESHOLD = -200.0
SAC_SHARED = {  # SB3's SAC defaults that both run: same data, same updates-to-data ratio, same batches
    "batch_size": 256,
    "learning_starts": 100,
    "utd": 1.0,
    "num_envs": 1,
    "gamma": 0.99,
    "tau": 0.005,
    "init_alpha": 1.0,
    "buffer_size": 1_000_000,
}
SAC_SB3_NETWORKS = {"hidden": [256, 256], "actor_lr": 3e-4, "critic_lr": 3e-4, "alpha_lr": 3e-4}
# RL Zoo (rl-baselines3-zoo hyperparams/*.yml) for TD3/DDPG on Pendulum-v1 and DQN on CartPole-v1.
ZOO_PENDULUM_TD3 = {
    "gamma": 0.98,
    "buffer_size": 200_000,
    "learning_starts": 10_000,
    "action_noise_std": 0.1,
    "learning_rate": 1e-3,
    "policy_kwargs": {"net_arch": [400, 300]},
}
ZOO_CARTPOLE_DQN = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}
FAMILY: dict[str, dict[str, Any]] = {
    "td3_pendulum": {
        "algo": "td3", "env_id": "Pendulum-v1", "threshold": -200.0, "window": 10, "max_steps": 20_000,
        "max_seconds": 600, "ours": {"gamma": 0.98}, "sb3": ZOO_PENDULUM_TD3, "sb3_source": "RL Zoo Pendulum-v1",
    },
    "ddpg_pendulum": {
        "algo": "ddpg", "env_id": "Pendulum-v1", "threshold": -200.0, "window": 10, "max_steps": 20_000,
        "max_seconds": 600, "ours": {"gamma": 0.98}, "sb3": ZOO_PENDULUM_TD3, "sb3_source": "RL Zoo Pendulum-v1",
    },
    "dqn_cartpole": {
        "algo": "dqn", "env_id": "CartPole-v1", "threshold": 475.0, "window": 20, "max_steps": 50_000,
        "max_seconds": 600, "ours": {}, "sb3": ZOO_CARTPOLE_DQN, "sb3_source": "RL Zoo CartPole-v1",
    },
    "a2c_inverted_pendulum": {
        "algo": "a2c", "env_id": "InvertedPendulum-v5", "threshold": 950.0, "window": 20, "max_steps": 300_000,
        "max_seconds": 600, "ours": {}, "sb3": {}, "sb3_source": "SB3 defaults",
    },
    "trpo_inverted_pendulum": {
        "algo": "trpo", "env_id": "InvertedPendulum-v5", "threshold": 950.0, "window": 20, "max_steps": 300_000,
        "max_seconds": 600, "ours": {}, "sb3": {}, "sb3_source": "sb3-contrib defaults",
    },
}


# ---------------------------------------------------------------------------------------------
# trials (run in a child process)
# ---------------------------------------------------------------------------------------------


class _Curve:
    """Time-stamped training episodes and the first time their rolling mean crossed a threshold."""

    def __init__(self, threshold: float | None, window: int = WINDOW):
        self.threshold = threshold
        self.window = window
        self.returns: list[float] = []
        self.hit: tuple[int, float, float] | None = None
        self.start()

    def start(self) -> None:
        # CPU time next to wall-clock: on a shared machine the process's own CPU seconds are what a
        # loaded neighbour does not inflate (torch runs 1 thread; MuJoCo's rollout pool counts too).
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def cpu_seconds(self) -> float:
        """CPU seconds since start: time budgets count these, so a loaded machine does not cut a trial short."""
        return time.process_time() - self.c0

    def add(self, ret: float, step: int) -> None:
        self.returns.append(ret)
        if self.hit is None and self.threshold is not None and len(self.returns) >= self.window:
            if sum(self.returns[-self.window :]) / self.window >= self.threshold:
                self.hit = (step, time.perf_counter() - self.t0, time.process_time() - self.c0)

    def result(self) -> dict[str, Any]:
        last = self.returns[-self.window :]
        return {
            "steps_to_threshold": self.hit[0] if self.hit else None,
            "seconds_to_threshold": round(self.hit[1], 2) if self.hit else None,
            "cpu_seconds_to_threshold": round(self.hit[2], 2) if self.hit else None,
            "final_train_return": round(sum(last) / len(last), 2) if last else None,
            "episodes": len(self.returns),
        }


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _finish(out: dict, spec: dict, policy_fn, env_factory) -> dict:
    """Both libraries' trials end alike: deterministic evaluation (same seeds) and peak memory."""
    from robot_rl.training.evaluation import evaluate

    if spec.get("eval_episodes"):
        res = evaluate(policy_fn, env_factory, spec["eval_episodes"], seed=10_000 + spec["seed"])
        out["eval_return"] = round(res["mean_return"], 2)
        out["eval_success_rate"] = res["success_rate"]
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


def trial_ours(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from robot_rl.algos import ALGORITHMS
    from robot_rl.envs import make_env, make_vec_env
    from robot_rl.train import algo_config
    from robot_rl.training.cpu import cpu_training_settings

    torch.set_num_threads(1)

    cfg = algo_config(spec["algo"], spec.get("overrides", {}))
    env = make_vec_env(spec["env_id"], cfg.num_envs, seed=spec["seed"], **spec.get("task_kwargs", {}))
    algo = ALGORITHMS[spec["algo"]].cls(env, cfg, total_steps=spec["max_steps"], seed=spec["seed"])
    curve = _Curve(spec.get("threshold"), spec.get("window", WINDOW))
    algo.collector.stats.on_episode = lambda ret, _length: curve.add(ret, algo.global_step)
    with cpu_training_settings():  # as `robot-rl train` runs its loop
        curve.start()
        start = curve.t0
        while algo.global_step < spec["max_steps"] and curve.cpu_seconds() < spec["max_seconds"]:
            algo.iterate()
            if spec.get("stop_at_threshold") and curve.hit is not None:
                break
    train_s = time.perf_counter() - start
    env.close()
    out = {"lib": "ours", "seed": spec["seed"], "steps": algo.global_step, "train_seconds": round(train_s, 2)}
    out["steps_per_second"] = round(algo.global_step / train_s, 1)
    out.update(curve.result())
    kwargs = spec.get("task_kwargs", {})
    return _finish(out, spec, lambda o: algo.act(o[None])[0], lambda: make_env(spec["env_id"], **kwargs))


def trial_sb3(spec: dict[str, Any]) -> dict[str, Any]:
    import gymnasium as gym
    import numpy as np
    import torch

    torch.set_num_threads(1)
    import stable_baselines3 as sb3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor


    if spec["env_id"].startswith("robot_rl/"):
        import sim  # noqa: F401  (registers our tasks)
    kwargs = spec.get("task_kwargs", {})
    env = Monitor(gym.make(spec["env_id"], **kwargs))
    curve = _Curve(spec.get("threshold"), spec.get("window", WINDOW))

    class Budget(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    curve.add(float(info["episode"]["r"]), self.num_timesteps)
            if spec.get("stop_at_threshold") and curve.hit is not None:
                return False
            return curve.cpu_seconds() < spec["max_seconds"]

    import sb3_contrib

    algo_cls = {
        "ppo": sb3.PPO,
        "sac": sb3.SAC,
        "td3": sb3.TD3,
        "ddpg": sb3.DDPG,
        "a2c": sb3.A2C,
        "dqn": sb3.DQN,
        "trpo": sb3_contrib.TRPO,  # TRPO lives in sb3-contrib
    }[spec["algo"]]
    sb3_kwargs = dict(spec.get("sb3_kwargs", {}))
    if "action_noise_std" in sb3_kwargs:  # RL Zoo's "noise_type: normal" for TD3/DDPG
        from stable_baselines3.common.noise import NormalActionNoise

        dim = env.action_space.shape[0]
        std = sb3_kwargs.pop("action_noise_std")
        sb3_kwargs["action_noise"] = NormalActionNoise(np.zeros(dim), std * np.ones(dim))
    model = algo_cls("MlpPolicy", env, seed=spec["seed"], device="cpu", verbose=0, **sb3_kwargs)
    curve.start()
    start = curve.t0
    model.learn(total_timesteps=spec["max_steps"], callback=Budget())
    train_s = time.perf_counter() - start
    steps = int(model.num_timesteps)
    out = {"lib": "sb3", "seed": spec["seed"], "steps": steps, "train_seconds": round(train_s, 2)}
    out["steps_per_second"] = round(steps / train_s, 1)
    out.update(curve.result())
    return _finish(out, spec, lambda o: np.asarray(model.predict(o, deterministic=True)[0]),
                   lambda: gym.make(spec["env_id"], **kwargs))


def trial_rsl_rl(spec: dict[str, Any]) -> dict[str, Any]:
    """rsl_rl's PPO (``rsl-rl-lib``: legged_gym's and Isaac Lab's) on our vector env via its VecEnv
    (bench/rsl_rl_adapter.py, shared with bench/a1_vs_rsl_rl.py).

    Time-outs go to rsl_rl as ``extras["time_outs"]`` so it bootstraps through them. ``spec["rsl"]``
    holds the network and algorithm settings (``rsl_rl_adapter.runner_config``); the rest are rsl_rl's defaults.
    """
    import torch

    from robot_rl.envs import make_vec_env

    if _BENCH_DIR not in sys.path:  # the shared adapter (bench/rsl_rl_adapter.py) sits next to this file
        sys.path.append(_BENCH_DIR)
    from rsl_rl_adapter import RslVecEnv, make_runner

    torch.set_num_threads(1)
    rsl = spec["rsl"]
    venv = make_vec_env(spec["env_id"], rsl["num_envs"], seed=spec["seed"], **spec.get("task_kwargs", {}))
    curve = _Curve(spec.get("threshold"), spec.get("window", WINDOW))
    env = RslVecEnv(venv, spec["seed"], on_episode=curve.add)
    runner = make_runner(env, rsl)
    curve.start()
    start = curve.t0
    while env.steps < spec["max_steps"] and curve.cpu_seconds() < spec["max_seconds"]:
        runner.learn(1)
        if spec.get("stop_at_threshold") and curve.hit is not None:
            break
    train_s = time.perf_counter() - start
    venv.close()
    out = {"lib": "rsl_rl", "seed": spec["seed"], "steps": env.steps, "train_seconds": round(train_s, 2)}
    out["steps_per_second"] = round(env.steps / train_s, 1)
    out.update(curve.result())
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return out


# ---------------------------------------------------------------------------------------------
# orchestration (parent process)
# ---------------------------------------------------------------------------------------------


def _run(fn, spec: dict[str, Any]) -> dict[str, Any]:
    """One trial in a fresh spawned interpreter; the parent only waits."""
    label = f"{fn.__name__[6:]} {spec['algo']} {spec['env_id']} seed {spec['seed']}"
    print(f"[bench] {label} ...", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        out = pool.submit(fn, spec).result()
    print(f"[bench] {label}: {json.dumps(out)}", file=sys.stderr, flush=True)
    return out


def _median(trials: list[dict[str, Any]], key: str) -> float | None:
    values = [t[key] for t in trials if t.get(key) is not None]
    if len(values) < len(trials) or not values:
        return None  # some trial never reached it: no honest median
    return round(statistics.median(values), 2)


# Worst case over seeds, per key: for times and steps to the threshold the largest (None, i.e.
# "never within the budget", when any seed missed it), for returns and speed the smallest.
_WORST_IS_MAX = ("seconds_to_threshold", "cpu_seconds_to_threshold", "steps_to_threshold")


def _worst(trials: list[dict[str, Any]], key: str) -> float | None:
    values = [t.get(key) for t in trials]
    if not values or any(v is None for v in values):
        return None
    return round(max(values) if key in _WORST_IS_MAX else min(values), 2)


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 2) if num is not None and den else None


def _compare(ours: list[dict], sb3: list[dict]) -> dict[str, Any]:
    summary: dict[str, Any] = {"ours": ours, "sb3": sb3}
    keys = ("seconds_to_threshold", "cpu_seconds_to_threshold", "steps_to_threshold", "steps_per_second")
    for key in (*keys, "eval_return", "final_train_return"):
        summary[f"median_{key}"] = {"ours": _median(ours, key), "sb3": _median(sb3, key)}
        summary[f"worst_{key}"] = {"ours": _worst(ours, key), "sb3": _worst(sb3, key)}
    summary["seeds_reaching_threshold"] = {
        lib: f"{sum(t.get('steps_to_threshold') is not None for t in trials)}/{len(trials)}"
        for lib, trials in (("ours", ours), ("sb3", sb3))
    }
    summary["time_to_threshold_ratio_sb3_over_ours"] = _ratio(
        summary["median_seconds_to_threshold"]["sb3"], summary["median_seconds_to_threshold"]["ours"]
    )
    summary["cpu_time_to_threshold_ratio_sb3_over_ours"] = _ratio(
        summary["median_cpu_seconds_to_threshold"]["sb3"], summary["median_cpu_seconds_to_threshold"]["ours"]
    )
    summary["steps_to_threshold_ratio_sb3_over_ours"] = _ratio(
        summary["median_steps_to_threshold"]["sb3"], summary["median_steps_to_threshold"]["ours"]
    )
    summary["steps_per_second_ratio_ours_over_sb3"] = _ratio(
        summary["median_steps_per_second"]["ours"], summary["median_steps_per_second"]["sb3"]
    )
    return summary


_PER_SEED = ("steps_to_threshold", "cpu_seconds_to_threshold", "eval_return", "final_train_return",
             "steps_per_second")


def _summary_lines(sections: dict[str, Any], report: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per comparison: both sides' median, worst case and per-seed figures."""
    lines = []
    for name, sec in sections.items():
        comparisons = [(name, "sb3", sec)] if "ours" in sec else []
        comparisons += [(f"{name}/{k}", "rsl_rl", sec[k]) for k in ("rsl_rl_defaults", "rsl_rl_our_sizes") if k in sec]
        for label, peer, comp in comparisons:
            line: dict[str, Any] = {
                "bench": "train_vs_sb3", "section": label, "mode": report["mode"], "seeds": report["seeds"],
                "threshold": sec.get("threshold"), "peer_lib": peer,
                "load_avg_at_end": report["machine"]["load_avg_at_end"],
            }
            for side, key in (("ours", "ours"), ("peer", "sb3")):
                line[side] = {
                    "seeds_reaching_threshold": comp["seeds_reaching_threshold"][key],
                    "median": {k[7:]: v[key] for k, v in comp.items() if k.startswith("median_")},
                    "worst": {k[6:]: v[key] for k, v in comp.items() if k.startswith("worst_")},
                    "per_seed": [{"seed": t["seed"], **{k: t.get(k) for k in _PER_SEED}} for t in comp[key]],
                }
            lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, small budgets, under 10 minutes")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--out", default=None, help="also write the JSON to this file")
    parser.add_argument("--jsonl", default=None, help="append one JSON line per comparison (median, worst) here")
    parser.add_argument("--only", nargs="+", default=None, help="run only these sections")
    args = parser.parse_args(argv)
    # Settings only (the trials run in their own processes): our configs and presets, as resolved.
    from robot_rl.train import algo_config
    from robot_rl.training.presets import preset_settings

    quick = args.quick
    seeds = args.seeds or ([0] if quick else [0, 1, 2, 3, 4])
    t_start = time.perf_counter()
    sections: dict[str, Any] = {}

    def wanted(name: str) -> bool:
        return args.only is None or name in args.only

    if wanted("ppo_swingup"):
        base = {
            "algo": "ppo",
            "env_id": SWINGUP,
            "task_kwargs": SWINGUP_KW,
            "threshold": SWINGUP_THRESHOLD,
            "stop_at_threshold": True,
            "eval_episodes": 20,
        }
        ours = [
            _run(trial_ours, {**base, "seed": s, "max_steps": 1_000_000, "max_seconds": 120 if quick else 900})
            for s in seeds
        ]
        sb3 = [
            _run(trial_sb3, {**base, "seed": s, "max_steps": 3_000_000, "max_seconds": 150 if quick else 1800})
            for s in seeds
        ]
        sections["ppo_swingup"] = {"threshold": SWINGUP_THRESHOLD, **_compare(ours, sb3)}

    if wanted("ppo_swingup_vs_rsl_rl"):
        # Our CLI defaults against rsl_rl's PPO with its defaults (24 steps per env, 256x256x256 ELU,
        # 5 epochs, adaptive-KL rate, entropy 0.01) and with our env/network sizes, on our vector env.
        ppo = algo_config("ppo", {})
        ours_sizes = {"num_envs": ppo.num_envs, "num_steps": ppo.num_steps, "hidden": list(ppo.hidden),
                      "activation": ppo.activation, "algorithm": {"num_learning_epochs": ppo.update_epochs,
                                                                  "num_mini_batches": ppo.num_minibatches}}
        base = {"algo": "ppo", "env_id": SWINGUP, "task_kwargs": SWINGUP_KW, "threshold": SWINGUP_THRESHOLD,
                "stop_at_threshold": True, "max_steps": 1_000_000, "max_seconds": 200 if quick else 900}
        ours = [_run(trial_ours, {**base, "seed": s, "eval_episodes": 0}) for s in seeds]
        rsl_defaults = [_run(trial_rsl_rl, {**base, "seed": s, "rsl": {"num_envs": ppo.num_envs}}) for s in seeds]
        rsl_ours = [_run(trial_rsl_rl, {**base, "seed": s, "rsl": ours_sizes}) for s in seeds]
        sections["ppo_swingup_vs_rsl_rl"] = {
            "threshold": SWINGUP_THRESHOLD,
            "rsl_rl_defaults": _compare(ours, rsl_defaults),
            "rsl_rl_our_sizes": {"settings": ours_sizes, **_compare(ours, rsl_ours)},
        }

    if wanted("sac_pendulum"):
        base = {
            "algo": "sac",
            "env_id": "Pendulum-v1",
            "threshold": PENDULUM_THRESHOLD,
            "window": 10,  # 200-step episodes: 20 of them would be 4000 steps of lag
            "stop_at_threshold": True,
            "eval_episodes": 10,
            "max_steps": 10_000 if quick else 20_000,
            "max_seconds": 90 if quick else 400,
        }
        sac_seeds = seeds if quick or args.seeds else [0, 1, 2, 3, 4]
        sb3 = [_run(trial_sb3, {**base, "seed": s}) for s in sac_seeds]
        # Ours with its default networks, and with SB3's: the everything-equal row.
        for name, networks in (("sac_pendulum", {}), ("sac_pendulum_256x256", SAC_SB3_NETWORKS)):
            overrides = {**SAC_SHARED, "steps_per_iteration": 100, **networks}
            ours = [_run(trial_ours, {**base, "seed": s, "overrides": overrides}) for s in sac_seeds]
            ours_cfg = algo_config("sac", overrides)
            sections[name] = {
                "threshold": PENDULUM_THRESHOLD,
                "utd": 1,
                "ours_networks": {"hidden": list(ours_cfg.hidden), "lr": ours_cfg.critic_lr},
                "sb3_networks": {"hidden": SAC_SB3_NETWORKS["hidden"], "lr": SAC_SB3_NETWORKS["critic_lr"]},
                **_compare(ours, sb3),
            }

    if wanted("sac_swingup"):
        base = {
            "algo": "sac",
            "env_id": SWINGUP,
            "task_kwargs": SWINGUP_KW,
            "threshold": SWINGUP_THRESHOLD,
            "eval_episodes": 0 if quick else 20,
            "stop_at_threshold": not quick,
        }
        budget = {"max_steps": 1_500, "max_seconds": 60} if quick else {"max_steps": 200_000, "max_seconds": 1800}
        ours = [
            _run(trial_ours, {**base, **budget, "seed": s, "overrides": {**SAC_SHARED, "steps_per_iteration": 100}})
            for s in seeds
        ]
        sb3 = [_run(trial_sb3, {**base, **budget, "seed": s}) for s in seeds]
        sections["sac_swingup"] = {"threshold": SWINGUP_THRESHOLD, "utd": 1, **_compare(ours, sb3)}

    # The rest of the family, each on its held-out classic task: SB3 (sb3-contrib for TRPO) with RL Zoo's
    # settings for that task where the Zoo has them, else its defaults; ours with its CLI defaults plus
    # the task's discount where the Zoo sets one. Steps and wall-clock to the threshold, stop there.
    for name, family in FAMILY.items():
        if not wanted(name):
            continue
        base = {
            "algo": family["algo"],
            "env_id": family["env_id"],
            "threshold": family["threshold"],
            "window": family["window"],
            "stop_at_threshold": True,
            "eval_episodes": 10,
            "max_steps": family["max_steps"],
            "max_seconds": family["max_seconds"] // (3 if quick else 1),
        }
        ours = [_run(trial_ours, {**base, "seed": s, "overrides": family["ours"]}) for s in seeds]
        sb3 = [_run(trial_sb3, {**base, "seed": s, "sb3_kwargs": family["sb3"]}) for s in seeds]
        sections[name] = {
            "threshold": family["threshold"],
            "window": family["window"],
            "budget_steps": family["max_steps"],
            "sb3_settings": family["sb3_source"],
            "ours_overrides": family["ours"],
            **_compare(ours, sb3),
        }

    # (section, env, steps, our preset): SB3 runs its defaults, which are the PPO paper's MuJoCo settings.
    equal_steps = [("ppo_inverted_pendulum", "InvertedPendulum-v5", 50_000 if quick else 200_000, None)]
    if not quick:
        equal_steps.append(("ppo_hopper", "Hopper-v5", 300_000, "locomotion"))
    for name, env_id, steps, preset in equal_steps:
        if not wanted(name):
            continue
        base = {"algo": "ppo", "env_id": env_id, "max_steps": steps, "max_seconds": 10_000, "eval_episodes": 10}
        overrides = preset_settings(preset, "ppo")
        ours = [_run(trial_ours, {**base, "seed": s, "overrides": overrides}) for s in seeds]
        sb3 = [_run(trial_sb3, {**base, "seed": s}) for s in seeds]
        sec = {"env_steps": steps, "ours_preset": preset, **_compare(ours, sb3)}
        medians = {k: sec[f"median_{k}"] for k in ("eval_return", "final_train_return")}
        sec["ours_no_worse"] = {
            k: None if v["ours"] is None or v["sb3"] is None else v["ours"] >= v["sb3"] for k, v in medians.items()
        }
        sections[name] = sec

    flat = [sec for sec in sections.values() if "ours" in sec]
    flat += [sec[k] for sec in sections.values() for k in ("rsl_rl_defaults", "rsl_rl_our_sizes") if k in sec]
    all_trials = [t for sec in flat for t in sec["ours"] + sec["sb3"]]
    ours_trials = [t for sec in flat for t in sec["ours"]]
    targets: dict[str, Any] = {}
    if "ppo_swingup" in sections:
        sec = sections["ppo_swingup"]
        ratio = sec["time_to_threshold_ratio_sb3_over_ours"]
        sb3_never = all(t["seconds_to_threshold"] is None for t in sec["sb3"])
        ours_s = sec["median_seconds_to_threshold"]["ours"]
        sb3_budget = min(t["train_seconds"] for t in sec["sb3"])
        # If SB3 never reached the threshold, its time is at least its budget: a lower bound on the ratio.
        targets["ppo_at_most_half_sb3_wall_clock"] = (ratio is not None and ratio >= 2.0) or (
            sb3_never and ours_s is not None and sb3_budget >= 2 * ours_s
        )
        targets["ppo_swingup_success_rate"] = min((t.get("eval_success_rate") or 0.0) for t in sec["ours"])
        targets["ppo_swingup_solved_within_15_min"] = bool(
            ours_s is not None and ours_s <= 900 and targets["ppo_swingup_success_rate"] >= 0.9
        )
    if "sac_pendulum" in sections:
        targets["sac_steps_per_second_ratio_equal_architecture"] = sections["sac_pendulum_256x256"][
            "steps_per_second_ratio_ours_over_sb3"
        ]
        sec = sections["sac_pendulum"]
        targets["sac_steps_per_second_ratio"] = sec["steps_per_second_ratio_ours_over_sb3"]
        targets["sac_at_least_3x_sb3_steps_per_second"] = bool((sec["steps_per_second_ratio_ours_over_sb3"] or 0) >= 3)
        steps_ratio = sec["steps_to_threshold_ratio_sb3_over_ours"]
        targets["sac_steps_to_threshold_ratio_sb3_over_ours"] = steps_ratio
        targets["sac_sample_efficiency_no_worse"] = None if steps_ratio is None else steps_ratio >= 1.0
    if "ppo_swingup_vs_rsl_rl" in sections:
        for key in ("rsl_rl_defaults", "rsl_rl_our_sizes"):
            sec = sections["ppo_swingup_vs_rsl_rl"][key]
            cpu = sec["median_cpu_seconds_to_threshold"]
            ours_c, peer_c = cpu["ours"], cpu["sb3"]
            targets[f"ppo_cli_defaults_beat_{key}"] = ours_c is not None and (peer_c is None or ours_c < peer_c)
    for name in FAMILY:
        if name in sections:
            sec = sections[name]
            ours_s = sec["median_seconds_to_threshold"]["ours"]
            sb3_s = sec["median_seconds_to_threshold"]["sb3"]
            targets[f"{name}_solved_every_seed"] = all(t["steps_to_threshold"] is not None for t in sec["ours"])
            # SB3 never reaching the threshold counts as slower (its time is at least its budget).
            targets[f"{name}_wall_clock_no_slower_than_sb3"] = ours_s is not None and (sb3_s is None or ours_s <= sb3_s)
            ours_c = sec["median_cpu_seconds_to_threshold"]["ours"]
            sb3_c = sec["median_cpu_seconds_to_threshold"]["sb3"]
            targets[f"{name}_cpu_time_no_slower_than_sb3"] = ours_c is not None and (sb3_c is None or ours_c <= sb3_c)
    for name in ("ppo_inverted_pendulum", "ppo_hopper"):
        if name in sections:
            targets[f"{name}_no_worse_than_sb3"] = sections[name]["ours_no_worse"]
    targets["peak_rss_mb_ours"] = max(t["peak_rss_mb"] for t in ours_trials) if ours_trials else None
    targets["peak_memory_under_2gb"] = bool(
        targets["peak_rss_mb_ours"] is not None and targets["peak_rss_mb_ours"] <= 2048
    )

    report = {
        "bench": "train_vs_sb3",
        "mode": "quick" if quick else "full",
        "seeds": seeds,
        "threshold_rule": f"mean return of the last {WINDOW} finished training episodes (Pendulum: 10)",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_at_end": os.getloadavg(),
        },
        "sections": sections,
        "targets": targets,
        "trials": len(all_trials),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
    }
    text = json.dumps(report)
    if args.jsonl:
        with open(args.jsonl, "a", encoding="utf-8") as f:
            for line in _summary_lines(sections, report):
                f.write(json.dumps(line) + "\n")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

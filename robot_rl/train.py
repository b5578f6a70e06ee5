"""Training runner: one loop that owns logging, evaluation, checkpoints, resume and stopping.

The runner drives any algorithm of ``robot_rl.algos.ALGORITHMS`` through the ``Algorithm``
protocol (``robot_rl/algos/base.py``): ``iterate()``, ``state_dict``/``load_state_dict``, ``act``,
``actor_from_state``. It never asks which algorithm it runs; the algorithm owns its state.

A run directory describes itself::

    runs/NAME/
      config.yaml            everything needed to repeat the run, incl. the exact command line
      metrics.csv            one row per iteration (losses, episode stats, fps, eval results)
      tb/                    the same metrics as TensorBoard events
      checkpoints/last.pt    the resume point (full training state; off-policy: with the replay buffer)
      checkpoints/best.pt    the state with the best periodic evaluation so far (the last iteration is
                             evaluated too); `robot-rl eval`/`export` use it by default, as SB3's
                             EvalCallback keeps its best model: a run that collapses late keeps its peak
      checkpoints/step_*.pt  periodic snapshots (without replay buffer)
      summary.json           final evaluation and timing, written when the run ends

Checkpoints hold state dicts only (``torch.load(..., weights_only=True)`` reads them) and are
written atomically. A NaN/inf in a loss or a parameter stops the run with a TrainingDivergedError
and leaves the last good checkpoint untouched. SIGINT/SIGTERM finish the current iteration, save
``last.pt`` and stop; ``robot-rl train --resume runs/NAME`` continues from it with the same step
counter, optimizer, normalizer and RNG state (the envs restart their episodes).

A run ends at ``steps`` env steps or, with ``time_budget_s`` (``robot-rl train --time-budget 10m``),
when its training time (iterations and periodic evaluations, every session of a resumed run
together, like the step count) reaches the budget, whichever comes first: the iteration under way
finishes, then the final evaluation and checkpoint follow as at the step limit. Under a budget the
step-based schedules (PPO's learning-rate annealing, DQN's exploration) follow the elapsed fraction
of the budget instead of the steps, so a run annealed to its end whatever its speed on a shared machine.

``load_policy(run_dir)`` is the hand-off to export: it returns the deterministic actor as a plain
``nn.Module`` with the observation normalization inside.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import shlex
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

from robot_rl.algos import ALGORITHMS, Algorithm
from robot_rl.envs import (
    hold_action,
    is_our_task,
    make_env,
    make_vec_env,
    mirror_maps,
    resolve_env_id,
    task_kwargs_for,
)
from robot_rl.errors import CheckpointError, RobotRLError
from robot_rl.training.algo_settings import RunConfigError, algo_config
from robot_rl.training.checkpoint import first_non_finite, load_checkpoint, save_checkpoint
from robot_rl.training.cpu import cpu_training_settings
from robot_rl.training.evaluation import evaluate
from robot_rl.training.logger import METRICS_FILE, MetricsLogger, read_metrics
from robot_rl.training.mujoco_log import mujoco_log_in
from robot_rl.training.presets import preset_settings
from robot_rl.training.run_guards import check_run_numbers, remove_stale_temp_files
from sim.validation import load_yaml_file

CONFIG_FILE = "config.yaml"
LAST, BEST = "last.pt", "best.pt"
# `steps` of a run bounded by its time budget alone (`--time-budget` without `--steps`).
NO_STEP_LIMIT = 10**12


class TrainingDivergedError(RobotRLError):
    """A loss or a parameter became NaN or inf; the run stopped and kept its last good checkpoint."""


@dataclass
class RunConfig:
    """Everything that defines a training run; saved as ``config.yaml`` in the run directory."""

    env_id: str
    algo: str
    steps: int
    seed: int = 0
    engine: str | None = "mujoco"
    # Our tasks: the robot, a shipped robot's name or a robot.yaml path (None: an alias's own, e.g. the
    # iiwa for IiwaReach-v0; a task by kind such as Reach-v0 needs one).
    robot: str | None = None
    randomize: str | None = None
    params: str | None = None
    eval_every: int = 50_000
    eval_episodes: int = 10
    checkpoint_every: int = 100_000
    algo_config: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None  # named settings (robot_rl.training.presets) under the algo_config overrides
    command: str = ""
    torch_threads: int = 1
    init_from: str | None = None  # checkpoint whose networks start this run (fine-tuning), PPO
    # The actor sees the simulator's privileged state after the observation: a distillation
    # teacher (robot-rl distill), not a deployable policy.
    privileged_obs: bool = False
    workers: int = 0  # Ray rollout workers of num_envs envs each (robot_rl.distributed); 0: this process
    video_every: int = 0  # film a short clip at every N-th periodic evaluation (robot_rl.video); 0: never
    # Wall-clock seconds of training after which the run ends (evaluated and checkpointed), whichever of
    # this and `steps` comes first; None: steps alone. The run's total, across resumes, as `steps` is.
    time_budget_s: float | None = None
    # Our tasks: a `robot-rl sysid --actuator-net` file; the engines compute joint torques by it every
    # physics step instead of the PD servo (sim/actuator_net.py). None: robot.yaml's PD servos.
    actuator_net: str | None = None
    # Our legged tasks: the ground (sim/terrain.py: "rough", "stairs:step_height=0.08", a YAML file; its
    # `curriculum=true` moves the training robots between rows). None: the plane.
    terrain: str | None = None
    # A learned reward (`robot-rl irl` writes RUN/reward.pt; robot_rl.imitation.reward): the learner is
    # trained on it instead of the task's reward; evaluations still report the task's true return.
    reward: str | None = None

    def task_kwargs(self) -> dict[str, Any]:
        kwargs = task_kwargs_for(self.env_id, self.engine, self.randomize, self.params, self.robot)
        if self.actuator_net is not None and kwargs:
            kwargs["actuator_net"] = self.actuator_net
        if self.terrain is not None and kwargs:
            kwargs["terrain"] = self.terrain
        return kwargs

    def algo_settings(self) -> dict[str, Any]:
        """The preset's settings (if any) with this run's explicit overrides on top."""
        return {**preset_settings(self.preset, self.algo), **self.algo_config}

    def to_yaml_dict(self) -> dict[str, Any]:
        data = plain_data(dataclasses.asdict(self))
        data["task"] = self.env_id.split("/", 1)[1] if is_our_task(self.env_id) else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        for key in ("env_id", "algo", "steps"):
            if key not in known:
                raise RunConfigError(f"{source}: field '{key}' is missing")
        return cls(**known)


def plain_data(obj: Any) -> Any:
    """Tuples to lists (YAML's safe dumper only knows plain types)."""
    if isinstance(obj, dict):
        return {k: plain_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain_data(v) for v in obj]
    return obj


def build_algo(config: RunConfig, env_seed: int) -> Algorithm:
    """Vector env + algorithm for a run (``env_seed`` differs from the run seed after a resume)."""
    if config.workers:  # rollout workers on Ray; the learner is the same algorithm
        from robot_rl.distributed.rollout import build_distributed

        algo = build_distributed(config, env_seed)
        needs_hold = getattr(algo.cfg, "init_action", "zero") == "hold"
        needs_symmetry = getattr(algo, "uses_symmetry", False)
        if needs_hold or needs_symmetry:
            # the learner has no env: ask one of its own for the task's start pose and mirror maps
            probe = make_vec_env(config.env_id, 1, seed=env_seed, privileged_obs=config.privileged_obs,
                                 **config.task_kwargs())
            try:
                if needs_hold:
                    algo.start_actions_at(hold_action(probe))
                if needs_symmetry:
                    algo.set_mirror(*mirror_maps(probe))
            finally:
                probe.close()
        return algo
    cfg = algo_config(config.algo, config.algo_settings())
    spec = ALGORITHMS[config.algo]
    env = make_vec_env(
        config.env_id, cfg.num_envs, seed=env_seed, privileged_obs=config.privileged_obs, **config.task_kwargs()
    )
    discrete = isinstance(env.single_action_space, gym.spaces.Discrete)
    if discrete != (spec.action_space == "discrete"):
        env.close()
        kind = "Discrete" if discrete else "continuous (Box)"
        fits = sorted(n for n, s in ALGORITHMS.items() if s.action_space == ("discrete" if discrete else "box"))
        raise RunConfigError(f"{config.env_id} has {kind} actions, which {config.algo} does not train; use {fits}")
    if config.reward is not None:
        env = _with_learned_reward(env, config)
    return spec.cls(env, cfg, total_steps=config.steps, seed=config.seed)


def _with_learned_reward(env: gym.vector.VectorEnv, config: RunConfig) -> gym.vector.VectorEnv:
    """The env with the reward of `config.reward` (a `robot-rl irl` reward file) instead of the task's."""
    from robot_rl.imitation.reward import LearnedRewardVecEnv, load_reward
    from sim.tasks.registry import resolve_robot

    task = config.env_id.split("/", 1)[-1]
    robot = resolve_robot(task, config.robot).name if is_our_task(config.env_id) else None
    try:
        net, _ = load_reward(config.reward, task, robot, int(env.single_observation_space.shape[0]))
    except Exception:
        env.close()
        raise
    return LearnedRewardVecEnv(env, net)


def _load_into(algo: Algorithm, payload: dict[str, Any], path: Path) -> None:
    if payload["model_meta"] != algo.model_meta():
        raise CheckpointError(
            f"{path}: checkpoint model {payload['model_meta']} does not match this run's {algo.model_meta()}"
        )
    try:
        algo.load_state_dict(payload["state"])
    except (KeyError, RuntimeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: state does not fit this run's model: {first_line}") from exc


def init_weights(algo: Algorithm, path: Path) -> None:
    """Start a new run from a checkpoint's networks (fine-tuning): PPO's actor-critic, observation
    normalizer and return scale, not its optimizer, RNG or step count. The network settings of the
    run must be the checkpoint's (`model_meta`); anything else (learning rate, DR, physics) may differ.
    """
    from robot_rl.algos.ppo import PPO

    if not isinstance(algo, PPO):
        raise RunConfigError("--init-from supports PPO runs only")
    payload = load_checkpoint(path, expected_algo="ppo")
    if payload["model_meta"] != algo.model_meta():
        raise CheckpointError(
            f"{path}: checkpoint model {payload['model_meta']} does not match this run's {algo.model_meta()}; "
            "use the checkpoint's network settings (its config.yaml) with --init-from"
        )
    algo.load_networks(payload["state"])


@dataclass
class TrainResult:
    status: str  # "finished" | "interrupted"
    stop_signal: int | None  # the signal that interrupted the run, if any
    global_step: int
    elapsed_s: float
    final_eval: dict[str, Any] | None
    run_dir: Path


class _StopFlag:
    """SIGINT/SIGTERM request a clean stop after the current iteration; a second SIGINT aborts now."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers, plain KeyboardInterrupt applies
                pass
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        print(
            f"\n{signal.Signals(signum).name}: finishing this iteration and saving a checkpoint "
            "(press Ctrl-C again to abort without saving)",
            file=sys.stderr,
        )

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    def __init__(self, config: RunConfig, run_dir: Path, resume: bool = False, progress: bool = True):
        self.config = config
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.progress = progress
        torch.set_num_threads(max(1, config.torch_threads))
        self.runner_state: dict[str, Any] = {"elapsed_s": 0.0, "best_return": None}
        if resume:
            path = self.ckpt_dir / LAST
            payload = load_checkpoint(path, expected_algo=config.algo)
            start = int(payload["global_step"])
            # New env seed on resume, so the envs do not replay the episodes of the first session.
            self.algo = build_algo(config, env_seed=config.seed + start)
            _load_into(self.algo, payload, path)
            self.runner_state.update(payload.get("runner", {}))
            read_metrics(self.run_dir / METRICS_FILE, start)  # a damaged metrics.csv: refused before any write
            self.last_good: Path | None = path
        else:
            if (self.ckpt_dir / LAST).exists():
                raise RunConfigError(
                    f"{self.run_dir} already holds a run; continue it with --resume {self.run_dir} "
                    "or choose another --out"
                )
            self.algo = build_algo(config, env_seed=config.seed)
            if config.init_from:
                init_weights(self.algo, Path(config.init_from))
            self.last_good = None
        self.resumed_from = self.algo.global_step if resume else None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.run_dir)  # of writes a SIGKILL or power cut interrupted
        self._write_config(resume)

    # ------------------------------------------------------------------ files
    def _write_config(self, resume: bool) -> None:
        path = self.run_dir / CONFIG_FILE
        data = self.config.to_yaml_dict()
        data["algo_config"] = plain_data(dataclasses.asdict(algo_config(self.config.algo, self.config.algo_settings())))
        previous = load_yaml_file(path, "run config") if (resume and path.exists()) else {}
        previous = previous if isinstance(previous, dict) else {}
        data["created"] = previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        data["command"] = previous.get("command", self.config.command)
        data["resumes"] = list(previous.get("resumes", []))
        if resume:
            data["resumes"].append({"command": self.config.command, "at_step": self.algo.global_step})
        data["versions"] = {
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "gymnasium": __import__("gymnasium").__version__,
        }
        data["git_commit"] = previous.get("git_commit", _git_commit())
        data["model"] = self.algo.model_meta()
        cluster = getattr(self.algo.collector, "cluster", None)  # rollout workers: where they ran
        if cluster is not None:
            data["cluster"] = cluster
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
        tmp.replace(path)

    def _payload(self, include_replay: bool) -> dict[str, Any]:
        state = self.algo.state_dict(include_replay=include_replay)
        return {
            "algo": self.config.algo,
            "global_step": self.algo.global_step,
            "model_meta": self.algo.model_meta(),
            "algo_config": plain_data(dataclasses.asdict(self.algo.cfg)),
            "runner": dict(self.runner_state),
            "state": state,
        }

    def save(self, name: str, include_replay: bool = True) -> Path:
        path = self.ckpt_dir / name
        save_checkpoint(path, self._payload(include_replay))
        if name == LAST:
            self.last_good = path
        return path

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int, seed: int) -> dict[str, Any]:
        algo = self.algo
        env_id, kwargs, priv = self.config.env_id, self.config.task_kwargs(), self.config.privileged_obs
        return evaluate(
            lambda obs: algo.act(obs[None])[0], lambda: make_env(env_id, priv, **kwargs), episodes, seed
        )

    def _check_finite(self, metrics: dict[str, float]) -> None:
        # Losses and parameters only: a diagnostic such as explained variance may be NaN legitimately.
        bad = [k for k, v in metrics.items() if k.startswith("loss/") and not math.isfinite(v)]
        where = bad[0] if bad else None
        if where is None:
            where = first_non_finite(self.algo.state_dict(include_replay=False))
        if where is not None:
            kept = (
                f"the last good checkpoint is {self.last_good}; resume from it with --resume {self.run_dir} "
                if self.last_good is not None
                else "no checkpoint had been written yet; "
            )
            raise TrainingDivergedError(
                f"training diverged at step {self.algo.global_step}: '{where}' is NaN or inf. {kept}"
                "and lower the learning rate or check the env's rewards/observations for NaN"
            )

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainResult:
        cfg, algo = self.config, self.algo
        logger = MetricsLogger(self.run_dir, resume_step=self.resumed_from)
        bar = self._progress_bar()
        start_time = time.perf_counter()
        elapsed_before = float(self.runner_state["elapsed_s"])
        next_eval = _next_multiple(algo.global_step, cfg.eval_every)
        next_ckpt = _next_multiple(algo.global_step, cfg.checkpoint_every)
        status = "finished"
        final_eval = None
        stop_signal = None
        budget = cfg.time_budget_s
        time_up = budget is not None and elapsed_before >= budget
        try:
            with _StopFlag() as stop, cpu_training_settings():
                while algo.global_step < cfg.steps and not time_up:
                    if budget is not None:
                        self._schedule_by_time(elapsed_before + time.perf_counter() - start_time, budget)
                    step_before, t0 = algo.global_step, time.perf_counter()
                    metrics = algo.iterate()
                    self._check_finite(metrics)
                    now = time.perf_counter()
                    metrics["time/fps"] = (algo.global_step - step_before) / max(now - t0, 1e-9)
                    metrics["time/elapsed_s"] = elapsed_before + now - start_time
                    self.runner_state["elapsed_s"] = metrics["time/elapsed_s"]
                    time_up = budget is not None and metrics["time/elapsed_s"] >= budget
                    # Once a run has a best.pt, its last iteration is evaluated too, so the final state competes
                    # for it (80k steps with eval_every 50k: at 50k and at 80k); a run too short for any
                    # periodic evaluation keeps only last.pt and its final evaluation.
                    last_iteration = (algo.global_step >= cfg.steps or time_up) and \
                        self.runner_state["best_return"] is not None
                    if cfg.eval_every > 0 and (algo.global_step >= next_eval or last_iteration):
                        next_eval = _next_multiple(algo.global_step, cfg.eval_every)
                        metrics.update(self._periodic_eval())
                        self._evals_done = getattr(self, "_evals_done", 0) + 1
                        if cfg.video_every > 0 and self._evals_done % cfg.video_every == 0:
                            from robot_rl.video import log_training_video

                            log_training_video(self.run_dir, algo.global_step, lambda obs: algo.act(obs[None])[0],
                                               cfg.env_id, cfg.task_kwargs(), logger.tb, cfg.privileged_obs)
                    if budget is not None:  # a periodic evaluation counts: the budget is the run's wall clock
                        left = budget - elapsed_before - (time.perf_counter() - start_time)
                        metrics["time/left_s"], time_up = max(left, 0.0), left <= 0
                    logger.log(algo.global_step, metrics)
                    self._update_bar(bar, algo.global_step - step_before, metrics)
                    if cfg.checkpoint_every > 0 and algo.global_step >= next_ckpt:
                        next_ckpt = _next_multiple(algo.global_step, cfg.checkpoint_every)
                        self.save(f"step_{algo.global_step:09d}.pt", include_replay=False)
                        self.save(LAST)
                    if stop.signal is not None:
                        status, stop_signal = "interrupted", stop.signal
                        break
                self.save(LAST)
                if status == "finished":
                    final_eval = self.evaluate(cfg.eval_episodes, seed=cfg.seed + 1_000_000)
                    final = {f"final_eval/{k}": v for k, v in _scalars(final_eval).items()}
                    logger.log(algo.global_step, final, csv_row=False)  # the CSV's is in summary.json
        finally:
            if bar is not None:
                bar.close()
            logger.close()
            algo.close()
        elapsed = elapsed_before + time.perf_counter() - start_time
        result = TrainResult(status, stop_signal, algo.global_step, elapsed, final_eval, self.run_dir)
        summary = {"status": status, "global_step": algo.global_step, "elapsed_s": elapsed, "final_eval": final_eval}
        if budget is not None:
            summary["time_budget_s"] = budget
            summary["stopped_by"] = "time_budget" if time_up and status == "finished" else \
                ("steps" if status == "finished" else "signal")
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        return result

    def _schedule_by_time(self, elapsed: float, budget: float) -> None:
        """Under a time budget, point the algorithm's step-based schedules at the budget's end.

        Why: PPO anneals its learning rate (DQN its exploration) over ``total_steps``; a budgeted run
        does not know its step count ahead, so the runner sets ``total_steps`` to the steps the run would
        reach at its present pace, ``global_step / (elapsed / budget)``. Every schedule ``f(step /
        total_steps)`` then follows the elapsed fraction of the budget (capped by ``steps``).
        """
        algo = self.algo
        if not hasattr(algo, "total_steps"):
            return
        fraction = elapsed / budget
        if algo.global_step > 0 and fraction > 0:
            algo.total_steps = int(min(self.config.steps, max(algo.global_step / min(fraction, 1.0), 1)))
        else:
            algo.total_steps = self.config.steps

    def _periodic_eval(self) -> dict[str, float]:
        # Eval episodes use seeds disjoint from training's env seeds.
        res = self.evaluate(self.config.eval_episodes, seed=self.config.seed + 10_000)
        best = self.runner_state["best_return"]
        # A tie goes to the later state, which has more training behind it: a DQN run that holds the
        # time limit (500) from 24k to 80k steps keeps its 80k state, not the first one to touch 500.
        if best is None or res["mean_return"] >= best:
            self.runner_state["best_return"] = res["mean_return"]
            self.save(BEST, include_replay=False)
        return {f"eval/{k}": v for k, v in _scalars(res).items()}

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm import tqdm

        budget = self.config.time_budget_s
        if budget is not None:  # the bar counts seconds of the budget: tqdm's "remaining" is the time left
            return tqdm(
                total=budget,
                initial=min(float(self.runner_state["elapsed_s"]), budget),
                unit="s",
                dynamic_ncols=True,
                mininterval=0.5 if sys.stderr.isatty() else 10.0,
                desc=f"{self.config.algo} {self.config.env_id}",
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s, {remaining} left{postfix}",
            )
        return tqdm(
            total=self.config.steps,
            initial=self.algo.global_step,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            mininterval=0.5 if sys.stderr.isatty() else 10.0,
            desc=f"{self.config.algo} {self.config.env_id}",
        )

    def _update_bar(self, bar, steps: int, metrics: dict[str, float]) -> None:
        if bar is None:
            return
        post = {"fps": f"{metrics['time/fps']:.0f}"}
        if self.config.time_budget_s is not None:
            post = {"step": f"{self.algo.global_step:,}", **post}
        if "episode/return" in metrics:
            post["return"] = f"{metrics['episode/return']:.1f}"
        if "episode/success_rate" in metrics:
            post["success"] = f"{metrics['episode/success_rate']:.2f}"
        if "eval/mean_return" in metrics:
            post["eval"] = f"{metrics['eval/mean_return']:.1f}"
        bar.set_postfix(post, refresh=False)
        if self.config.time_budget_s is not None:
            bar.update(min(metrics["time/elapsed_s"], self.config.time_budget_s) - bar.n)
        else:
            bar.update(steps)


def _git_commit() -> str | None:
    """The repository's HEAD commit (with "-dirty" if files changed), or None outside a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every if every > 0 else sys.maxsize


def _scalars(res: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in res.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def train(config: RunConfig, run_dir: Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train (or continue) a run in ``run_dir``; see the module docstring for what it writes.

    MuJoCo's warnings (MUJOCO_LOG.TXT) go to ``run_dir``, not the working directory. A run with
    ``config.workers`` uses the Ray session the caller opened (``--address``), else an embedded
    local Ray for its duration.
    """
    with mujoco_log_in(run_dir):
        if config.workers:
            from robot_rl.distributed.cluster import ray_session

            with ray_session(flag="--workers"):
                return Trainer(config, run_dir, resume=resume, progress=progress).run()
        return Trainer(config, run_dir, resume=resume, progress=progress).run()


def read_run_config(run_dir: Path) -> RunConfig:
    """The RunConfig saved in ``run_dir/config.yaml``."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunConfigError(f"{run_dir} is not a run directory: {CONFIG_FILE} is missing (train one first)")
    data = load_yaml_file(path, "run config")
    if not isinstance(data, dict):
        raise RunConfigError(f"{path}: expected a mapping of run settings")
    config = RunConfig.from_dict(data, str(path))
    check_run_numbers(config, str(path))  # a hand-edited steps: 0 would otherwise end the run at once
    budget = config.time_budget_s
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float)
                               or not math.isfinite(budget) or budget <= 0):
        raise RunConfigError(f"{path}: 'time_budget_s' is {budget!r}; expected seconds > 0 or null "
                             "(--time-budget 10m)")
    return config



def command_line() -> str:
    """The exact command that started this process, as a copy-pasteable shell string."""
    prog = Path(sys.argv[0]).name if sys.argv else "robot-rl"
    return shlex.join([prog, *sys.argv[1:]])


CHECKPOINT_CHOICES = ("best", "last")


def resolve_checkpoint(run_dir: str | Path, choice: str | None = None) -> tuple[Path, str]:
    """Which checkpoint file of a run ``eval``/``export`` use, and its kind ("best", "last" or "file").

    ``choice``: None picks ``best.pt`` when the run has one (it was evaluated periodically), else
    ``last.pt``: a run that collapsed late (DQN on CartPole: 500 at 64k steps, 206 at 80k on one seed
    of ten) should not hand over its collapsed final state by default, as SB3's
    EvalCallback keeps its ``best_model``. "best"/"last" ask for one explicitly; any other value is a
    file name in ``checkpoints/`` (``step_000100000.pt``, ``best.pt``) or a path.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    if choice is None:
        return (ckpt_dir / BEST, "best") if (ckpt_dir / BEST).is_file() else (ckpt_dir / LAST, "last")
    if choice in CHECKPOINT_CHOICES:
        path = ckpt_dir / (BEST if choice == "best" else LAST)
        if choice == "best" and not path.is_file() and (ckpt_dir / LAST).is_file():
            raise CheckpointError(
                f"{path}: this run has no best checkpoint (it was never evaluated during training: --eval-every 0, "
                "or it stopped before its first evaluation); use --checkpoint last"
            )
        return path, choice
    in_run = ckpt_dir / choice
    path = in_run if in_run.is_file() or not Path(choice).is_file() else Path(choice)
    kind = {BEST: "best", LAST: "last"}.get(path.name, "file") if path.parent == ckpt_dir else "file"
    return path, kind


def load_policy(run_dir: str | Path, checkpoint: str | None = LAST) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load a run's deterministic policy for export or evaluation.

    Returns ``(actor, meta)``. ``actor(obs_raw: Tensor[B, obs_dim]) -> Tensor[B, act_dim]`` is the
    deterministic action in [-1, 1]; observation normalization is inside the module (buffers
    ``normalizer.mean``/``normalizer.var``, no Python-side state), followed by a plain MLP
    (``net``: Linear + Tanh/ELU/ReLU) and a final clamp or tanh (the algorithm's squashing;
    DQN's is the greedy action index of its Q network instead). It is in eval mode
    and on the CPU.

    ``meta`` holds: ``task`` (short name or None), ``env_id``, ``robot`` (as given, or None), ``engine``, ``randomize``,
    ``params``, ``algo``, ``seed``, ``command`` (the exact training command line), ``obs_dim``,
    ``act_dim``, ``hidden``, ``activation``, ``normalize_obs``, ``squash``, ``global_step``,
    ``git_commit`` (at training time, or None), ``run_dir``, ``checkpoint`` (path) and ``config``
    (the whole config.yaml).

    ``checkpoint`` is "best", "last", a file name in ``run_dir/checkpoints/`` ("last.pt", "best.pt",
    "step_000100000.pt") or a path; None picks best.pt when the run has one, else last.pt
    (``resolve_checkpoint``). ``meta`` then also holds ``checkpoint_kind`` ("best", "last" or "file")
    and ``checkpoint_eval_return`` (the periodic evaluation's mean return that made a best checkpoint
    the best, else None). Raises CheckpointError if the file is missing or corrupt.
    """
    run_dir = Path(run_dir)
    path, kind = resolve_checkpoint(run_dir, checkpoint)
    payload = load_checkpoint(path)
    model_meta = payload["model_meta"]
    actor = _actor_from_state(payload["algo"], model_meta, payload["state"], path)
    config_path = run_dir / CONFIG_FILE
    config = load_yaml_file(config_path, "run config") if config_path.is_file() else {}
    config = config if isinstance(config, dict) else {}
    meta = {
        "task": config.get("task"),
        "env_id": config.get("env_id"),
        "robot": config.get("robot"),
        "engine": config.get("engine"),
        "randomize": config.get("randomize"),
        "params": config.get("params"),
        "algo": payload["algo"],
        "seed": config.get("seed"),
        "command": config.get("command"),
        **model_meta,
        "global_step": int(payload["global_step"]),
        "git_commit": config.get("git_commit"),
        "run_dir": str(run_dir),
        "checkpoint": str(path),
        "checkpoint_kind": kind,
        # best.pt is written right after the evaluation that set the runner's best_return
        "checkpoint_eval_return": (payload.get("runner") or {}).get("best_return") if kind == "best" else None,
        "config": config,
    }
    return actor, meta


def _actor_from_state(algo: str, meta: dict[str, Any], state: dict[str, Any], path: Path) -> torch.nn.Module:
    from robot_rl.algos.distill import Distillation

    builders = {name: spec.cls.actor_from_state for name, spec in ALGORITHMS.items()}
    builders["distill"] = Distillation.actor_from_state  # students of `robot-rl distill`
    builders["bc"] = Distillation.actor_from_state  # clones of `robot-rl bc` (the same network)
    if algo not in builders:
        raise CheckpointError(f"{path}: unknown algorithm '{algo}' in checkpoint; known: {sorted(builders)}")
    try:
        actor = builders[algo](meta, state)
    except (KeyError, RuntimeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: checkpoint does not describe a loadable actor: {first_line}") from exc
    return actor.eval().requires_grad_(False)


def resolve_task(task: str | None, env_id: str | None) -> str:
    """``--task`` (our tasks) or ``--env-id`` (any Gymnasium id) to the registered id."""
    if (task is None) == (env_id is None):
        raise RunConfigError("give exactly one of --task (our tasks) or --env-id (any Gymnasium env id)")
    return resolve_env_id(task if task is not None else env_id)

"""``robot-rl distill``: a deployable student from a privileged teacher run, in a run directory of its own.

The teacher is any run of ``robot-rl train`` with a continuous actor, usually one trained with
``--privileged-obs`` (its actor saw the sampled physics). The student (``robot_rl.algos.distill``)
sees only the task's observation and learns by DAgger under the teacher run's domain
randomization. The output directory looks like a training run (config.yaml, metrics.csv, tb/,
checkpoints/last.pt, summary.json), so ``robot-rl eval`` and ``robot-rl export`` take it as they
take any run; summary.json compares student and teacher on the same evaluation episodes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from robot_rl.algos.distill import Distillation, DistillConfig, ObservationHistory
from robot_rl.envs import make_env, make_vec_env
from robot_rl.errors import RobotRLError
from robot_rl.train import CONFIG_FILE, LAST, _git_commit, load_policy, plain_data, read_run_config
from robot_rl.training.checkpoint import save_checkpoint
from robot_rl.training.cpu import cpu_training_settings
from robot_rl.training.evaluation import evaluate
from robot_rl.training.logger import MetricsLogger


class DistillError(RobotRLError):
    """The teacher run cannot be distilled, or the output directory is taken."""


def distill(
    teacher_run: Path,
    out: Path,
    steps: int,
    config: DistillConfig | None = None,
    seed: int = 0,
    eval_episodes: int = 10,
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Distill ``teacher_run`` into a student in ``out``; returns the summary (also summary.json)."""
    cfg = config or DistillConfig()
    teacher_run, out = Path(teacher_run), Path(out)
    run_cfg = read_run_config(teacher_run)
    teacher, meta = load_policy(teacher_run)
    if meta.get("action_space") == "discrete":
        raise DistillError(f"{teacher_run}: a {meta['algo']} teacher acts discretely; distill needs a continuous actor")
    if (out / "checkpoints" / LAST).exists():
        raise DistillError(f"{out} already holds a run; choose another --out")
    kwargs = run_cfg.task_kwargs()
    student_obs_dim = int(make_env(run_cfg.env_id, **kwargs).observation_space.shape[0])
    teacher_dim = int(meta["obs_dim"])
    if teacher_dim < student_obs_dim or (teacher_dim != student_obs_dim and not run_cfg.privileged_obs):
        raise DistillError(f"{teacher_run}: teacher input size {teacher_dim} does not start with the observation")
    torch.set_num_threads(1)
    env = make_vec_env(run_cfg.env_id, cfg.num_envs, seed=seed, privileged_obs=run_cfg.privileged_obs, **kwargs)
    algo = Distillation(env, teacher, student_obs_dim, cfg, seed=seed)

    out.mkdir(parents=True, exist_ok=True)
    record = {
        "env_id": run_cfg.env_id,
        "task": run_cfg.to_yaml_dict()["task"],
        "robot": run_cfg.robot,  # the teacher's robot (a task by kind's; None: an alias's own)
        "algo": "distill",
        "steps": steps,
        "seed": seed,
        "engine": run_cfg.engine,
        "randomize": run_cfg.randomize,
        "params": run_cfg.params,
        "teacher_run": str(teacher_run),
        "teacher_privileged_obs": run_cfg.privileged_obs,
        "algo_config": plain_data(dataclasses.asdict(cfg)),
        "command": command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": _git_commit(),
        "model": algo.model_meta(),
    }
    (out / CONFIG_FILE).write_text(yaml.safe_dump(record, sort_keys=False))
    logger = MetricsLogger(out)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", unit_scale=True, dynamic_ncols=True, desc=f"distill {run_cfg.env_id}")
    start = time.perf_counter()
    try:
        with cpu_training_settings():
            while algo.global_step < steps:
                before = algo.global_step
                metrics = algo.iterate()
                metrics["time/elapsed_s"] = time.perf_counter() - start
                logger.log(algo.global_step, metrics)
                if bar is not None:
                    loss, beta = metrics["loss/imitation"], metrics["train/beta"]
                    bar.set_postfix({"loss": f"{loss:.4f}", "beta": f"{beta:.2f}"})
                    bar.update(algo.global_step - before)
        payload = {
            "algo": "distill",
            "global_step": algo.global_step,
            "model_meta": algo.model_meta(),
            "algo_config": plain_data(dataclasses.asdict(cfg)),
            "runner": {"elapsed_s": time.perf_counter() - start},
            "state": algo.state_dict(),
        }
        save_checkpoint(out / "checkpoints" / LAST, payload)
    finally:
        if bar is not None:
            bar.close()
        logger.close()
        algo.close()
    elapsed = time.perf_counter() - start

    # Teacher and student on the same seeded episodes under the same domain randomization.
    eval_seed = seed + 1_000_000
    teacher_env = lambda: make_env(run_cfg.env_id, run_cfg.privileged_obs, **kwargs)  # noqa: E731
    student_env = lambda: ObservationHistory(make_env(run_cfg.env_id, **kwargs), cfg.history)  # noqa: E731
    with torch.inference_mode():
        teacher_eval = evaluate(lambda o: teacher(torch.from_numpy(o)[None])[0].numpy(), teacher_env, eval_episodes,
                                eval_seed)
        student_eval = evaluate(lambda o: algo.act(o[None])[0], student_env, eval_episodes, eval_seed)
    ratio = student_eval["mean_return"] / teacher_eval["mean_return"] if teacher_eval["mean_return"] else None
    summary = {
        "status": "finished",
        "global_step": algo.global_step,
        "elapsed_s": elapsed,
        "final_eval": student_eval,
        "teacher_eval": teacher_eval,
        "student_to_teacher_return": ratio,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

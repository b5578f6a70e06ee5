"""Named algorithm settings for families of tasks: ``robot-rl train --preset NAME``.

Our defaults (``PPOConfig``, ``SACConfig``) are tuned for what this stack trains: robot tasks with
many parallel simulated envs, where wall-clock time to a working policy is what counts (PPO: 16 envs
x 64 steps, 4 large minibatches, lr 1e-3 annealed; PPOConfig has the measurement that kept them).
Gymnasium's MuJoCo locomotion benchmarks want the other trade: long rollouts and many small
minibatch steps per sample, i.e. the PPO paper's MuJoCo settings (also Stable-Baselines3's
defaults). Measured on Hopper-v5 at 300k env steps, seeds 0/1/2, deterministic evaluation over 10 episodes:

* our defaults: 1199 / 452 / 816 (too few gradient steps per sample; two seeds stall);
* ``--preset locomotion``: 3238 / 3564 / 1668, at 2.9k env steps/s
  (Stable-Baselines3 PPO with its defaults: 2855 / 3070 / 2823, at 1.5k env steps/s;
  ``bench/train_vs_sb3.py``, section ppo_hopper).

A preset only fills algorithm settings (and, if it has one, the run length it was measured with, for a
run given neither ``--steps`` nor ``--time-budget``); ``--set KEY=VALUE`` still overrides any of them,
and the run's config.yaml records the preset's name and the resolved settings.

A task carries its own fast settings: `TASK_PRESETS` names the preset that ``robot-rl train --task T``
uses when no ``--preset`` is given (and ``--algo`` is the preset's or not given); ``--preset none`` trains
with the algorithm's plain defaults instead. The table is keyed by task id: an alias (IiwaReach-v0) is
not its task by kind (Reach-v0), so the commands on the shipped policies' cards train as they did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robot_rl.errors import RobotRLError


class PresetError(RobotRLError):
    """An unknown preset, or one made for another algorithm."""


@dataclass(frozen=True)
class Preset:
    algo: str
    summary: str
    settings: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None  # the run length it was measured with: --steps when neither it nor --time-budget is given


PRESETS: dict[str, Preset] = {
    "locomotion": Preset(
        algo="ppo",
        summary="PPO for Gymnasium MuJoCo locomotion (Hopper, Walker2d, HalfCheetah, Ant): 8 envs x 256 "
        "steps, 32 minibatches, 10 epochs, 64x64, lr 3e-4 constant",
        settings={
            "num_envs": 8,
            "num_steps": 256,
            "num_minibatches": 32,
            "update_epochs": 10,
            "hidden": (64, 64),
            "learning_rate": 3e-4,
            "anneal_lr": False,
        },
    ),
    # Quadruped velocity tracking (A1Walk-v0), legged_gym / rsl_rl's recipe scaled to 2 CPU cores:
    # rsl_rl trains with 4096 GPU envs x 24 steps; here 192 envs x 32 steps (a 6k-sample batch in
    # 4 minibatches). Kept from rsl_rl: ELU 256-128-64, 5 epochs of 4 minibatches, entropy 0.005,
    # grad-norm 1, asymmetric critic on the privileged state (base velocity, height, foot forces,
    # sampled physics); initial std 0.5 (0.25 rad of target noise with the task's 0.5 rad action
    # scale, legged_gym's 1.0 x 0.25). Measured on this machine (seed 0, two runs side by side,
    # evaluation success under DR over 20 episodes, bench/results/a1_walk_training.json):
    # * 192 envs: 0.6 at 3M steps, 0.8 at 6M, 0.95 at 7M steps (31 min);
    # * 96 envs: 0.55 at 2M, 0.75 at 5M, 0.8 at 6M, then 0.75 / 0.5 (noisier, smaller batches);
    # * 48 envs: the episode return fell back after 1M steps (falls rose).
    # Not kept: rsl_rl's adaptive-KL learning rate. On few-hundred-sample minibatches one Adam step
    # moves the actor by KL ~0.015 even at lr 1e-5, so the schedule pinned the rate at its 1e-5
    # floor (measured: the previous 48-env preset stood still after 8M steps). A constant 3e-4 keeps
    # the KL at ~0.02 per update.
    "legged": Preset(
        algo="ppo",
        summary="PPO for legged velocity tracking (Walk-v0): 192 envs x 32 steps, 5 epochs x 4 minibatches, "
        "ELU 256-128-64, lr 3e-4, asymmetric critic",
        settings={
            "num_envs": 192,
            "num_steps": 32,
            "num_minibatches": 4,
            "update_epochs": 5,
            "learning_rate": 3e-4,
            "anneal_lr": False,
            "ent_coef": 0.005,
            "max_grad_norm": 1.0,
            "hidden": (256, 128, 64),
            "activation": "elu",
            "init_log_std": -0.7,
            "asymmetric": True,
        },
    ),
    # Reach for any fixed-base arm (Reach-v0), from scratch under the arm gap-class DR, behind the
    # SafetyFilter's rate limit. What made it fast, each measured on one seed on the shared 2-core machine
    # (deterministic evaluation under DR, 20 episodes; every run in docs/training.md, "Reach from scratch"):
    # * init_action "hold" (PPOConfig): the iiwa at 3 min went from 0.05 success to 0.85; action 0 is the
    #   middle of the joint ranges, the arm straight up, and PPO spent ~400k steps unlearning it;
    # * gamma 0.95 (0.99): 0.95 success after 92 s instead of 164 s (0.9 after 82 s instead of 139 s);
    #   the reward is dense and a reach takes well under a second;
    # * init_log_std -2.5 (std 0.08, about 0.2 rad of target noise): -2 was a little slower; -3.5 (tried
    #   before "hold") explored too little to get the arm down from straight up in 3 min;
    # * 64 envs x 32 steps, 5 epochs x 4 minibatches, 64x64: 10 epochs x 8 minibatches at 128x128 was
    #   slower per second for the same progress per sample; 16-step rollouts no faster;
    # * smoothness_coef 100 (PPOConfig, CAPS): without it the Panda's policy chattered on every joint by
    #   the full rate limit each period (0.8-1.0 of it); with it 0.05-0.2, as fast to 1.0 success and a
    #   higher return (118 vs 97 at 2M steps): the smoother policy is also the more precise one.
    # SAC (its defaults: 128x128, 1 env, one update per step) ran ~100 env steps/s here: 19k steps in 3 min,
    # no success; its updates, not the physics, are the cost.
    "reach": Preset(
        algo="ppo",
        summary="PPO for arm reach (Reach-v0): 64 envs x 32 steps, 5 epochs x 4 minibatches, gamma 0.95, "
        "the actor starting at the action that holds the arm at home, initial std 0.08, temporal "
        "smoothness 100",
        settings={
            "num_envs": 64,
            "num_steps": 32,
            "update_epochs": 5,
            "gamma": 0.95,
            "init_log_std": -2.5,
            "init_action": "hold",
            "smoothness_coef": 100.0,
        },
        steps=2_000_000,
    ),
}


# A task's own settings (`robot-rl train --task T` without --preset): task id -> preset name.
TASK_PRESETS: dict[str, str] = {
    "Reach-v0": "reach",
    "Walk-v0": "legged",
}
# Tasks whose aliases (sim/tasks/registry.py ALIASES) train with the task's preset too: the legged alias's
# shipped card was trained with --preset legged, so nothing changes for it; the arm alias's card predates
# the reach preset and records every setting it used, so its alias keeps the algorithm's plain defaults.
ALIASES_USE_PRESET = frozenset({"Walk-v0"})
NO_PRESET = "none"  # --preset none: the algorithm's plain defaults, not the task's preset


def task_preset(task: str, algo: str | None) -> str | None:
    """The preset `robot-rl train --task <task>` uses without --preset: the task's own (TASK_PRESETS), if
    ``algo`` (--algo, None when not given) is its algorithm or not given; else None."""
    from robot_rl.envs import resolve_env_id
    from sim.tasks.registry import task_spec

    try:
        spec = task_spec(resolve_env_id(task))  # a short name (Reach) too
    except ValueError:  # not one of ours (a gymnasium id): no preset
        return None
    generic = spec.alias_of or spec.id
    name = TASK_PRESETS.get(generic) if spec.alias_of is None or generic in ALIASES_USE_PRESET else None
    if name is None or (algo is not None and algo != PRESETS[name].algo):
        return None
    return name


def resolve_preset(given: str | None, task: str | None, algo: str | None) -> tuple[str | None, bool]:
    """(the run's preset, whether it is the task's own): ``given`` (--preset), else the task's (TASK_PRESETS)
    when ``algo`` (--algo, None when not given) is its algorithm or not given; ``--preset none``: no preset.
    ``task``: our task's id, None for any other env. One rule for `robot-rl train` and `robot-rl sweep`, so a
    sweep's trials train as `train` would."""
    if given == NO_PRESET:
        return None, False
    if given is not None or task is None:
        return given, False
    name = task_preset(task, algo)
    return name, name is not None


def own_settings_note(task: str, preset: str, algo: str) -> str:
    """What a run without --preset prints when it takes its task's own preset."""
    return (f"{task.split('/')[-1]} trains with its own settings, preset '{preset}' ({PRESETS[preset].summary}); "
            f"--set overrides any, --preset {NO_PRESET} trains with {algo}'s defaults")


def preset_settings(name: str | None, algo: str) -> dict[str, Any]:
    """The settings of preset ``name`` (empty for None); it must be made for ``algo``."""
    if name is None:
        return {}
    if name not in PRESETS:
        raise PresetError(f"unknown preset '{name}'; choose one of: {describe_presets()}")
    preset = PRESETS[name]
    if preset.algo != algo:
        raise PresetError(f"preset '{name}' is for --algo {preset.algo}, not {algo}")
    return dict(preset.settings)


def describe_presets() -> str:
    tasks = ", ".join(f"{task}: {name}" for task, name in TASK_PRESETS.items())
    return ("; ".join(f"{name} ({p.summary})" for name, p in PRESETS.items())
            + f". Without --preset a task trains with its own ({tasks}); --preset {NO_PRESET}: the algorithm's "
            "defaults")

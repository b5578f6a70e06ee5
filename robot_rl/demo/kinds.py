"""The per-kind table: what the demo does for each kind of robot, whatever the robot.

A robot's kind is the task by kind it fits (sim.tasks.registry): a cart-pole fits `PoleSwingup-v0`,
a fixed-base arm `Reach-v0`, a legged robot `Walk-v0`. Everything here is the kind's: which task,
which loop (`fixed`: train or take a policy, deploy, excite over DDS, identify, compare, fine-tune;
`legged`: take a policy, deploy, identify on a gantry, compare), training settings, durations.
What belongs to one robot (its reality gap, what to fit, its shipped policy) comes from its folder
and from policies/ (robot_rl.demo.facts), never from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from robot_rl.errors import RobotRLError

if TYPE_CHECKING:
    from sim.robot import RobotSpec


@dataclass(frozen=True)
class KindSettings:
    """One row of the table: the demo's settings for every robot of one kind."""

    kind: str  # "pole", "arm", "legged"
    task: str  # the task by kind the demo runs (sim.tasks.registry.GENERIC_TASKS)
    loop: str  # "fixed" (robot_rl.demo.fixed) or "legged" (robot_rl.demo.legged)
    what: str  # the kind in words, for messages
    train_settings: dict[str, Any] = field(default_factory=dict)  # PPO settings of step 1 (fixed loop)
    train_steps: int = 0  # 0: the demo does not train this kind (it takes a trained policy)
    # Named settings under train_settings (robot_rl.training.presets; None: PPO's defaults), and the wall-clock
    # training budget (s; `robot-rl train --time-budget`) that ends the run before train_steps unless --steps
    # is given (None: train_steps alone).
    preset: str | None = None
    train_time_budget_s: float | None = None
    eval_every: int = 0
    export_eval_episodes: int = 0  # per condition when exporting in the demo (0: skip, the robot scores it)
    excite_duration: float = 20.0  # s of the identification run
    finetune_steps: int | None = None  # fine-tune on the calibrated simulator (None: no such step)
    quick_finetune_steps: int | None = None
    finetune_learning_rate: float = 1e-4  # lower than training: keep what transfers, adapt the rest
    # The identification run's sim robot ignores the task's time limit (`sim-robot --continuous`): a
    # reset empties the sim robot's command path, which the fit, replaying the log's commands in flight
    # across it, cannot know (a real robot has no such resets), and the reach resets the arm home every
    # 2 s, which would cut a 20 s pose tour into 2 s pieces.
    continuous_identification: bool = True
    default_episodes: int = 6  # per deployment
    fit: tuple[str, ...] = ()  # what the identification fits (names or globs); (): the gap's own parameters
    skip: float = 0.0  # s at the identification log's start not fitted (legged: servos catching the legs)
    motor_target: float = 0.10  # relative error asked of motor gains and delay (legged report)
    compare_in_sims: bool = True  # deploy in the training and the calibrated simulator too
    train_hint: str = ""  # legged: why the demo does not train


KINDS: dict[str, KindSettings] = {
    "pole": KindSettings(
        kind="pole", task="PoleSwingup-v0", loop="fixed", what="a cart-pole",
        # PPO settings that solve the swing-up under DR in about 300k steps (~1 min on 2 cores).
        train_settings={"num_envs": 64, "num_steps": 64, "num_minibatches": 4, "update_epochs": 5,
                        "hidden": [128, 128], "learning_rate": 0.001},
        train_steps=600_000, eval_every=200_000, export_eval_episodes=5,
    ),
    "arm": KindSettings(
        kind="arm", task="Reach-v0", loop="fixed", what="a fixed-base arm",
        # Reach from scratch with the task's own preset (`reach`, robot_rl/training/presets.py) for 3 minutes
        # of training: the iiwa reached eval success 0.95 under the gap-class DR after 61-94 s (seeds 0-2,
        # ~0.9-1M steps in 3 min, docs/training.md "Reach from scratch"), the Panda after 31-57 s. The old
        # settings (32 envs x 64 steps, 128x128, 5M steps: 10-13 min here) evaluated at 0.45-0.65.
        # The 2M-step cap is the preset's measured length (the budget ends the run first here).
        preset="reach", train_time_budget_s=180.0,
        train_steps=2_000_000, eval_every=100_000, export_eval_episodes=0,
        finetune_steps=500_000, quick_finetune_steps=100_000,
    ),
    "legged": KindSettings(
        kind="legged", task="Walk-v0", loop="legged", what="a legged robot",
        excite_duration=12.0, skip=1.0, default_episodes=3,
        # The motors, identified with the robot hung on a gantry (robot_rl.demo.legged).
        fit=("*.gain", "*.kd", "*.frictionloss", "action_delay"),
        train_hint="training a legged robot to walk takes about an hour on this machine (README, 'Walking'), "
                   "more than a demo",
    ),
}


def kind_of(robot: RobotSpec) -> KindSettings:
    """The row for `robot`: the first kind whose task fits it (the registry's own check)."""
    from sim.tasks.registry import task_spec

    for settings in KINDS.values():
        if task_spec(settings.task).why_not(robot) is None:
            return settings
    kinds = "; ".join(f"{k.what} ({k.task})" for k in KINDS.values())
    raise RobotRLError(f"robot '{robot.name}' ({robot.yaml_path}) is of no kind the demo knows: {kinds}; "
                       f"`robot-rl robots {robot.yaml_path}` says which tasks it fits")

"""What the demo does for one robot (`DemoSpec`): the robot's facts and its kind's settings.

robot_rl.demo.facts finds them from the robot itself, never from its name; this module only holds
them (and says what is missing when a run needs a policy the robot has none of).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robot_rl.demo import config
from robot_rl.demo.kinds import KindSettings
from robot_rl.errors import RobotRLError


@dataclass(frozen=True)
class DemoSpec:
    """The demo on one robot: the robot's facts and its kind's settings."""

    robot: str  # what the steps pass as --robot: a shipped robot's name or a robot.yaml path
    name: str  # the robot's name (robot.yaml `name`)
    task: str  # the id trained and deployed (an alias naming this robot, else the task by kind)
    reality_gap: dict[str, Any]  # the sim robot's true physics: a params mapping (absolute or {scale: s})
    fit_names: tuple[str, ...]  # what the identification fits (names or globs)
    gap_source: str  # where the gap comes from: the robot's demo.yaml, or the kind's rule
    policy: Path | None  # the shipped policy folder (None: none under policies/)
    kind: KindSettings

    @property
    def short_task(self) -> str:
        """The task as `robot-rl train --task` takes it for any robot of the kind: `Reach`, `Walk`."""
        return self.kind.task.removesuffix("-v0")

    def train_command(self) -> str:
        """How a user trains and exports this robot's policy (a missing policy's error says it)."""
        run = f"runs/{self.name}_{self.short_task.lower()}"
        preset = " --preset legged" if self.kind.loop == "legged" else ""
        return (f"robot-rl train --task {self.short_task} --robot {self.robot}{preset} --out {run}, then "
                f"robot-rl export {run} --out policies/{self.name}_{self.short_task.lower()}")

    def robot_flag(self) -> str:
        """` --robot R` where the task needs one (a task by kind), '' for an alias's own robot."""
        return "" if self.task != self.kind.task else f" --robot {self.robot}"


def missing_policy(spec: DemoSpec, trains: bool) -> RobotRLError:
    """The one-line error for a run that needs a trained policy and finds none: what is missing, what to do."""
    root = config.POLICIES_DIR
    where = f"{root.name}/" if root == config.REPO_ROOT / "policies" else str(root)
    otherwise = "or run without --quick (the demo trains one), or pass --policy FOLDER" if trains \
        else "or pass --policy FOLDER"
    return RobotRLError(f"no shipped policy for {spec.name} under {where} (a policy.json for robot '{spec.name}' and "
                        f"task {spec.kind.task}); train one first: {spec.train_command()}; {otherwise}")

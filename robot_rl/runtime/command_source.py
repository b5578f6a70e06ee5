"""Command sources: what runs behind the SafetyFilter, a policy or an excitation.

Why a protocol: the control loop (state in, filter, command out, record) is the same whether the
raw command comes from an ONNX policy or from a precomputed excitation schedule; only "what would
you command now?" differs. `robot_rl.runtime.Controller` puts any source behind the one
SafetyFilter and the control node (`robot_rl.deploy.control_node`) wires that Controller to a
transport, so limits, watchdogs, soft start, damping mode and the recorder apply to every source.

A source never sees the wire and never enforces limits: it proposes, the filter disposes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from robot_rl.runtime.runner import PolicyRunner
from sim.robot import RobotSpec
from sim.state import ImuState

__all__ = ["CommandSource", "ExcitationSource", "PolicySource", "TASK_INPUTS"]

# What a source reads besides the joint states: a velocity command (/cmd_vel, legged robots),
# a goal position (/goal_point, the reach), or nothing.
TASK_INPUTS = ("velocity", "goal", None)


@runtime_checkable
class CommandSource(Protocol):
    """One control period's raw command for a robot, in robot.yaml actuator order and units.

    ``robot``: the robot driven (joint and actuator order). ``limits_robot``: the robot whose
    limits the SafetyFilter must enforce (a policy's card may be tighter than robot.yaml).
    ``needs_imu``: the source reads the IMU. ``task_input``: one of `TASK_INPUTS`. ``kind``: a word
    for diagnostics (``policy``, ``excitation``).
    """

    kind: str
    robot: RobotSpec
    limits_robot: RobotSpec
    needs_imu: bool
    task_input: str | None

    def start(self, now: float) -> None:
        """The filter (re)starts the source: at activation and while a soft start holds it back."""
        ...

    def command(self, now: float, q: np.ndarray, qd: np.ndarray, task_input: np.ndarray | None,
                imu: ImuState | None) -> np.ndarray:
        """The raw command now; may raise ValueError/IndexError/TypeError on a malformed state."""
        ...

    def finished(self, now: float) -> bool:
        """True once the source has nothing more to command (an excitation's end); a policy never is."""
        ...

    def limits_summary(self) -> str:
        """One line for diagnostics: which limits the filter drives with, and why."""
        ...

    def describe(self) -> dict[str, str]:
        """Diagnostics key/values naming the source (the policy folder, the excitation's length)."""
        ...


class PolicySource:
    """An exported policy (`PolicyRunner`): the observation from the measured state, the IMU for
    legged robots, and the task's command (/cmd_vel velocity or /goal_point goal)."""

    kind = "policy"

    def __init__(self, runner: PolicyRunner, folder: str | Path | None = None):
        self.runner = runner
        self.folder = str(folder) if folder is not None else ""
        self.robot = runner.robot
        self.limits = runner.limits
        self.limits_robot = runner.limits.robot
        interface = runner.interface
        self.needs_imu = bool(interface.needs_imu)
        # A legged robot's 3-vector command is its /cmd_vel; another task's 3-vector is a goal position.
        if self.needs_imu:
            self.task_input: str | None = "velocity"
        elif interface.command_size == 3:
            self.task_input = "goal"
        else:
            self.task_input = None

    @classmethod
    def load(cls, folder: str | Path, robot: RobotSpec | str | Path | None = None, threads: int = 1,
             allow_wider_limits: bool = False) -> PolicySource:
        """Load and check a policy folder against the robot (contract errors are user errors)."""
        return cls(PolicyRunner(folder, robot=robot, threads=threads, allow_wider_limits=allow_wider_limits), folder)

    def start(self, now: float) -> None:
        self.runner.reset()  # last action = 0, as at the start of a training episode

    def command(self, now: float, q: np.ndarray, qd: np.ndarray, task_input: np.ndarray | None,
                imu: ImuState | None) -> np.ndarray:
        return self.runner.step(q, qd, task_input, imu)

    def finished(self, now: float) -> bool:
        return False

    def limits_summary(self) -> str:
        return self.limits.summary()

    def describe(self) -> dict[str, str]:
        return {"policy": self.folder, "task": self.runner.task}


class ExcitationSource:
    """A precomputed excitation schedule played from the moment the filter starts the source.

    ``schedule(t, q, qd)`` is the command ``t`` seconds after the start (`calibration.excitation.
    Excitation.command`: a target tour plus multisine for position actuators; a multisine with a
    centring feedback on the measured state for force actuators). After ``duration`` seconds the
    source is finished and the node deactivates the filter (its safe action goes out).

    The schedule's clock starts when the filter first lets it command (after a soft start, if any)
    and then runs on for the whole experiment: a re-activation (a simulator's new episode, which the
    identification treats as a new segment anyway) continues it rather than starting it over, so a
    run lasts ``duration`` however often the robot is reset.
    """

    kind = "excitation"
    needs_imu = False
    task_input = None

    def __init__(self, robot: RobotSpec, schedule: Callable[[float, np.ndarray, np.ndarray], Any],
                 duration: float, description: str = "multisine"):
        if not (math.isfinite(duration) and duration > 0):
            raise ValueError(f"excitation duration {duration!r}; expected a positive number of seconds")
        self.robot = robot
        self.limits_robot = robot
        self.schedule = schedule
        self.duration = float(duration)
        self.description = description
        self.t0: float | None = None
        self._commanded = False

    def start(self, now: float) -> None:
        if not self._commanded:
            self.t0 = now

    def elapsed(self, now: float) -> float:
        return 0.0 if self.t0 is None else now - self.t0

    def command(self, now: float, q: np.ndarray, qd: np.ndarray, task_input: np.ndarray | None,
                imu: ImuState | None) -> np.ndarray:
        self._commanded = True
        return np.asarray(self.schedule(self.elapsed(now), q, qd), dtype=np.float64)

    def finished(self, now: float) -> bool:
        return self.t0 is not None and self.elapsed(now) >= self.duration

    def limits_summary(self) -> str:
        return "robot.yaml"

    def describe(self) -> dict[str, str]:
        return {"excitation": f"{self.description}, {self.duration:g} s"}

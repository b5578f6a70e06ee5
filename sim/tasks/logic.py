"""Task logic as batched numpy functions of joint state: initial state, reward, termination, success.

Written for a batch of N robots at once so the single env (N=1) and the vector env (sim/vector.py)
run exactly the same code.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.observations import TaskInterface
from sim.robot import RobotSpec


class TaskLogic(Protocol):
    task_id: str
    robot_name: str
    episode_steps: int

    def __init__(self, robot: RobotSpec, interface: TaskInterface) -> None: ...

    def initial_state(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q, qd, command) for n fresh episodes."""

    def reward(self, q: np.ndarray, qd: np.ndarray, action: np.ndarray, command: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """(reward[n], terminated[n]) after a step."""

    def success_init(self, n: int) -> np.ndarray:
        """Per-episode success tracker (bool[n]); updated every step, read at episode end."""

    def success_update(self, ok: np.ndarray, q: np.ndarray, command: np.ndarray, step: np.ndarray,
                       terminated: np.ndarray, ee: np.ndarray | None) -> None: ...

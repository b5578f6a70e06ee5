"""Task logic as batched numpy functions of RobotState: initial state, reward terms, termination, success.

Written for a batch of N robots at once so the single env (N=1) and the vector env run exactly
the same code through one episode core (sim/core.py). A reward is named terms; the task's
TaskSpec (sim/tasks/spec.py, bound to the robot) gives their weights, so a term can be reweighted or logged
without touching the code that computes it (MuJoCo Playground's and legged_gym's convention).

A task may compute one robot (N=1) with Python floats, where ufuncs on 1-element arrays would cost
more than the formulas (sim/tasks/pole.py): a reward term may then be a float and `terminated` a
bool; the episode core takes either (`EpisodeCore.step_one`) and hands `success_update` back what
`terminated` returned.
"""

from __future__ import annotations

import numpy as np

from sim.robot import RobotSpec
from sim.state import RobotState
from sim.tasks.interface import TaskInterface
from sim.tasks.spec import TaskSpec


class TaskLogic:
    """Base class: the defaults a stateless task with a boolean success tracker needs."""

    def __init__(self, robot: RobotSpec, interface: TaskInterface, spec: TaskSpec):
        self.robot = robot
        self.interface = interface
        self.spec = spec
        self.episode_steps = spec.episode_steps
        self.task_id = spec.id

    def bind(self, n: int) -> None:
        """Allocate per-robot memory for a batch of n (tasks with memory, e.g. feet air time)."""

    def reset_envs(self, idx: np.ndarray) -> None:
        """Episodes of robots `idx` start over: clear their memory."""

    def initial_state(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q, qd, command) for n fresh episodes (a floating base starts at rest at its robot.yaml height)."""
        raise NotImplementedError

    def reward_terms(self, state: RobotState, action: np.ndarray, last_action: np.ndarray,
                     command: np.ndarray) -> dict[str, np.ndarray]:
        """Unweighted reward terms after a step, each (n,): names as in the TaskSpec's `reward`."""
        raise NotImplementedError

    def terminated(self, state: RobotState) -> np.ndarray:
        return np.zeros(len(state.q), dtype=bool)

    def privileged(self, state: RobotState) -> np.ndarray | None:
        """Per-step simulator truth for the critic (beyond the sampled physics), (n, k), or None."""
        return None

    def success_init(self, n: int) -> np.ndarray:
        """Per-episode success tracker (rows per robot); updated every step, read at episode end."""
        return np.ones(n, dtype=bool)

    def success_update(self, ok: np.ndarray, state: RobotState, command: np.ndarray, step: np.ndarray,
                       terminated: np.ndarray) -> None:
        ok &= ~terminated

    def success_of(self, tracker: np.ndarray) -> np.ndarray:
        return tracker.astype(bool)

"""PolicyRunner: a checked policy folder driving one robot, one control step at a time.

    runner = PolicyRunner("policies/cartpole_swingup", robot="cartpole")
    runner.reset()                              # at activation: last action = 0, as at an episode start
    command = runner.step(q, qd, goal)          # physical command per actuator (N, N*m, m or rad)

The observation comes from ``sim.observations.task_interface(task, robot).build`` — the very function
the simulator's tasks use — and the command from its ``action_to_command``. The runner checks the
policy's card against the robot before it runs anything (see ``robot_rl.runtime.card``). It does
not enforce limits: put a :class:`robot_rl.runtime.SafetyFilter` after it (or use
:class:`robot_rl.runtime.Controller`, which does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import PolicyContractError
from robot_rl.runtime.card import check_card_against_robot
from robot_rl.runtime.limits_contract import LimitsContract, compare_limits, with_card_limits
from robot_rl.runtime.onnx_policy import OnnxPolicy, load_policy_folder
from sim.observations import TaskInterface
from sim.robot import RobotSpec, load_robot
from sim.state import ImuState

__all__ = ["PolicyRunner"]


class PolicyRunner:
    """Runs an exported policy on a robot, refusing a policy whose contract does not match it.

    ``robot``: a RobotSpec, a robot name or a path to a robot.yaml; default: the robot the card names.
    Attributes: ``card`` (the model card), ``robot``, ``interface`` (the task's TaskInterface),
    ``policy`` (the OnnxPolicy), ``last_action`` (the previous action in [-1, 1]), ``limits`` (the
    limits contract: the robot with the tighter of the card's and robot.yaml's limits, which the
    SafetyFilter must enforce; see ``robot_rl.runtime.limits_contract``).

    The action mapping is the card's own (derived from the limits the policy was trained under), so
    a robot with tighter limits keeps the policy's meaning of each action; a robot.yaml wider than
    the card is refused unless ``allow_wider_limits``.
    """

    def __init__(
        self,
        policy_dir: str | Path,
        robot: RobotSpec | str | Path | None = None,
        threads: int = 1,
        allow_wider_limits: bool = False,
    ):
        self.policy: OnnxPolicy = load_policy_folder(policy_dir, threads=threads)
        self.card: dict[str, Any] = self.policy.card or {}
        self.task: str = str(self.card["task"]).removeprefix("robot_rl/")
        if robot is None:
            robot = self.card["robot"].get("name", "")
        self.robot: RobotSpec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
        self.interface: TaskInterface = check_card_against_robot(
            self.card, with_card_limits(self.card, self.robot), str(policy_dir)
        )
        self.limits: LimitsContract = compare_limits(
            self.card, self.robot, str(policy_dir), allow_wider=allow_wider_limits
        )
        if self.policy.obs_size != self.interface.obs_size or self.policy.act_size != self.interface.action_size:
            raise PolicyContractError(
                f"{policy_dir}: the ONNX model maps {self.policy.obs_size} -> {self.policy.act_size} values, but "
                f"task '{self.task}' on robot '{self.robot.name}' has {self.interface.obs_size} observations and "
                f"{self.interface.action_size} actions"
            )
        self.last_action = np.zeros(self.interface.action_size)
        self._no_command = np.zeros(self.interface.command_size)

    def reset(self) -> None:
        """Start of an episode / activation: the previous action is zero, as in training."""
        self.last_action[:] = 0.0

    def observation(self, q: np.ndarray, qd: np.ndarray, command: np.ndarray | None = None,
                    imu: ImuState | None = None) -> np.ndarray:
        """The float32 observation the policy sees now (does not advance the runner).

        ``imu``: the IMU reading, for tasks that observe it (legged robots; see sim.state.ImuState).
        """
        return self.interface.build(q, qd, self.last_action, self._no_command if command is None else command,
                                    imu=imu)

    def step(self, q: np.ndarray, qd: np.ndarray, command: np.ndarray | None = None,
             imu: ImuState | None = None) -> np.ndarray:
        """Measured joint positions and velocities (robot.yaml joint order) and the task command/goal
        (None for tasks without one) -> physical command per actuator, float64.

        The policy's own action is kept as ``last_action`` for the next observation.
        """
        action = self.policy.act1(self.observation(q, qd, command, imu))
        self.last_action[:] = action
        return self.interface.action_to_command(self.last_action)

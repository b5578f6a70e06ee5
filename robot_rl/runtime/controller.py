"""Controller: a PolicyRunner behind a SafetyFilter, one call per control period.

This is everything a deploy node does between "state arrived" and "command out", so the ROS node
stays a thin shell of callbacks::

    ctl = Controller("policies/iiwa_reach", robot="iiwa")
    ctl.activate(now, q)                                     # operator: start (ramps in)
    out = ctl.step(now, state_stamp, q, qd, goal)           # every period -> SafeCommand
    publish(out.values); report(out.state, out.fault_reason)
    ctl.estop(True) / ctl.deactivate() / ctl.reset()         # operator inputs, passed to the filter

The policy runs only while the filter is ACTIVE; otherwise the filter's safe action goes out.
The filter enforces the tighter of the card's and the robot's limits (``ctl.limits.summary()``
says which were used); a robot.yaml wider than the card is refused unless ``allow_wider_limits``.
The observation's "last action" is the policy's own previous action, exactly as in training
(where nothing sat between policy and actuators); the runner is reset at each activation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.runtime.limits_contract import LimitsContract
from robot_rl.runtime.runner import PolicyRunner
from robot_rl.runtime.safety import SafeCommand, SafetyConfig, SafetyFilter, SafetyState
from sim.robot import RobotSpec
from sim.state import ImuState

__all__ = ["Controller"]


class Controller:
    """``runner`` (the checked policy) and ``safety`` (its filter, on the limits contract's robot).

    ``safety_config``: the filter's configuration; by default ``SafetyConfig.from_robot`` of the
    contract's robot with ``safety_options`` (e.g. ``watchdog_timeout``, ``ramp_time``), so its
    defaults (margins, rate limits) derive from the limits actually driven with.
    """

    def __init__(
        self,
        policy_dir: str | Path,
        robot: RobotSpec | str | Path | None = None,
        safety_config: SafetyConfig | None = None,
        threads: int = 1,
        *,
        allow_wider_limits: bool = False,
        safety_options: dict[str, Any] | None = None,
    ):
        self.runner = PolicyRunner(policy_dir, robot=robot, threads=threads, allow_wider_limits=allow_wider_limits)
        self.robot = self.runner.robot
        self.limits: LimitsContract = self.runner.limits
        if safety_config is None:
            safety_config = SafetyConfig.from_robot(self.limits.robot, **(safety_options or {}))
        self.safety = SafetyFilter(self.limits.robot, safety_config)
        self._idle = np.zeros(len(self.robot.actuators))

    @property
    def state(self) -> SafetyState:
        return self.safety.state

    @property
    def fault_reason(self) -> str | None:
        return self.safety.fault_reason

    def activate(self, now: float, q: np.ndarray) -> SafetyState:
        """Start the policy from the measured positions ``q`` (the filter ramps it in)."""
        if self.safety.state is SafetyState.INACTIVE:
            self.runner.reset()
        return self.safety.activate(now, q)

    def deactivate(self) -> SafetyState:
        return self.safety.deactivate()

    def estop(self, pressed: bool) -> SafetyState:
        return self.safety.estop(pressed)

    def reset(self) -> SafetyState:
        return self.safety.reset()

    def step(
        self, now: float, state_stamp: float, q: np.ndarray, qd: np.ndarray, goal: np.ndarray | None = None,
        imu: ImuState | None = None,
    ) -> SafeCommand:
        """One control period: observation, policy, safety. Never raises on bad robot data (NaN,
        stale or missing state latch a fault instead). ``imu``: for tasks that observe one (legged)."""
        command = self._idle
        if self.safety.state is SafetyState.ACTIVE:
            try:
                command = self.runner.step(q, qd, goal, imu)
            except (ValueError, IndexError, TypeError):
                # Malformed state (wrong length, not numbers): the filter names the problem and faults.
                command = self._idle
        return self.safety.step(now, state_stamp, q, qd, command)

"""Controller: a command source behind a SafetyFilter, one call per control period.

This is everything a control node does between "state arrived" and "command out", for any
`CommandSource` (a policy, an excitation), so the node stays a thin shell of callbacks::

    ctl = Controller("policies/iiwa_reach", robot="iiwa")   # a policy folder -> PolicySource
    ctl = Controller(ExcitationSource(robot, schedule, 20.0))  # or any CommandSource
    ctl.activate(now, q)                                     # operator: start (ramps in)
    out = ctl.step(now, state_stamp, q, qd, goal)           # every period -> SafeCommand
    publish(out.values); report(out.state, out.fault_reason)
    ctl.estop(True) / ctl.deactivate() / ctl.reset()         # operator inputs, passed to the filter

The source runs only while the filter is ACTIVE (and past its soft start); otherwise the filter's
safe action goes out. The filter enforces the source's limits robot: for a policy the tighter of
the card's and the robot's limits (``ctl.limits.summary()`` says which were used); a robot.yaml
wider than the card is refused unless ``allow_wider_limits``. A policy's observation "last action"
is its own previous action, exactly as in training (where nothing sat between policy and
actuators); the source is restarted at each activation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.runtime.command_source import CommandSource, PolicySource
from robot_rl.runtime.limits_contract import LimitsContract
from robot_rl.runtime.runner import PolicyRunner
from robot_rl.runtime.safety import SafeCommand, SafetyConfig, SafetyFilter, SafetyState
from sim.robot import RobotSpec
from sim.state import ImuState

__all__ = ["Controller"]


class Controller:
    """``source`` (a `CommandSource`) and ``safety`` (its filter, on the source's limits robot).

    ``source``: a CommandSource, or a policy folder (then ``robot``, ``threads`` and
    ``allow_wider_limits`` load it as a `PolicySource`; ``runner`` and ``limits`` are its runner and
    limits contract, None for other sources).
    ``safety_config``: the filter's configuration; by default ``SafetyConfig.from_robot`` of the
    source's limits robot with ``safety_options`` (e.g. ``watchdog_timeout``, ``ramp_time``), so its
    defaults (margins, rate limits) derive from the limits actually driven with.
    """

    def __init__(
        self,
        source: CommandSource | str | Path,
        robot: RobotSpec | str | Path | None = None,
        safety_config: SafetyConfig | None = None,
        threads: int = 1,
        *,
        allow_wider_limits: bool = False,
        safety_options: dict[str, Any] | None = None,
    ):
        if isinstance(source, (str, Path)):
            source = PolicySource.load(source, robot, threads=threads, allow_wider_limits=allow_wider_limits)
        self.source: CommandSource = source
        self.robot: RobotSpec = source.robot
        self.runner: PolicyRunner | None = getattr(source, "runner", None)
        self.limits: LimitsContract | None = getattr(source, "limits", None)
        if safety_config is None:
            safety_config = SafetyConfig.from_robot(source.limits_robot, **(safety_options or {}))
        self.safety = SafetyFilter(source.limits_robot, safety_config)
        self._idle = np.zeros(len(self.robot.actuators))

    @property
    def state(self) -> SafetyState:
        return self.safety.state

    @property
    def fault_reason(self) -> str | None:
        return self.safety.fault_reason

    @property
    def needs_imu(self) -> bool:
        """The source reads the IMU, or the filter does (fall detector, IMU watchdog of a legged robot)."""
        return bool(self.source.needs_imu) or self.safety.config.max_tilt is not None

    def activate(self, now: float, q: np.ndarray, stamp: float | None = None) -> SafetyState:
        """Start the source from the measured positions ``q`` (stamped ``stamp``, default ``now``;
        the filter ramps it in)."""
        if self.safety.state is SafetyState.INACTIVE:
            self.source.start(now)
        return self.safety.activate(now, q, stamp)

    def deactivate(self) -> SafetyState:
        return self.safety.deactivate()

    def estop(self, pressed: bool) -> SafetyState:
        return self.safety.estop(pressed)

    def reset(self) -> SafetyState:
        return self.safety.reset()

    def finished(self, now: float) -> bool:
        """The source has nothing more to command (an excitation's end; a policy never finishes)."""
        return self.source.finished(now)

    def step(
        self, now: float, state_stamp: float, q: np.ndarray, qd: np.ndarray, task_input: np.ndarray | None = None,
        imu: ImuState | None = None, imu_stamp: float | None = None,
    ) -> SafeCommand:
        """One control period: source, then safety. Never raises on bad robot data (NaN, stale or
        missing state latch a fault instead). ``task_input``: the policy's goal or velocity command
        (None for sources without one). ``imu``: for sources or filters that read one (legged), with
        ``imu_stamp`` its time stamp on the clock of ``now`` (default: ``state_stamp``); the filter's
        watchdog and fall detector read it too.

        During the filter's soft start (legged robots, after activation) the source does not run and
        is restarted when it ends, so a policy's first action sees the default pose and a zero last
        action, as at the start of a training episode.
        """
        command = self._idle
        gravity = None
        if imu is not None:
            try:
                gravity = imu.projected_gravity
            except (ValueError, IndexError, TypeError):
                gravity = None  # malformed IMU: the filter reports a missing reading
        if imu is not None and imu_stamp is None:
            imu_stamp = state_stamp
        failure = None
        if self.safety.state is SafetyState.ACTIVE:
            if self.safety.soft_starting(now):
                self.source.start(now)
            else:
                try:
                    command = self.source.command(now, q, qd, task_input, imu)
                except (ValueError, IndexError, TypeError) as exc:
                    # Malformed state (wrong length, not numbers): the filter names the problem and faults.
                    command, failure = self._idle, exc
        out = self.safety.step(now, state_stamp, q, qd, command, gravity=gravity, imu_stamp=imu_stamp)
        if failure is not None and out.state is SafetyState.ACTIVE:
            # The state was fine, so the source itself failed: never drive on silently with idle commands.
            self.safety.external_fault(f"the {self.source.kind} failed: {failure!r}")
            out = self.safety.step(now, state_stamp, q, qd, self._idle, gravity=gravity, imu_stamp=imu_stamp)
        return out

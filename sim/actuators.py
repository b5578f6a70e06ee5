"""The actuator model shared by both engines: delay line and torque law.

MuJoCo realizes the torque law natively (gain/bias parameters, force range); PyBullet calls
`actuator_torques` at every substep. Both use `DelayLine`, so `action_delay` means the same thing
in both: a command issued at the start of a control step takes effect `action_delay` seconds later,
quantized to physics substeps.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.robot import RobotSpec


class DelayLine:
    """Turns one command per control step into (command, n_substeps) segments after a delay."""

    def __init__(self, n_actuators: int, substeps: int, physics_dt: float, delay: float = 0.0):
        self.substeps = substeps
        self.physics_dt = physics_dt
        self.n = n_actuators
        self.set_delay(delay)
        self.reset()

    def set_delay(self, delay: float) -> None:
        self.delay_steps = max(0, int(round(delay / self.physics_dt)))

    def reset(self, initial: np.ndarray | None = None) -> None:
        self._now = 0  # substep counter
        self._active = np.zeros(self.n) if initial is None else np.array(initial, dtype=float)
        self._pending: deque[tuple[int, np.ndarray]] = deque()

    def segments(self, command: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """Commands to apply over the next control step, as runs of substeps."""
        self._pending.append((self._now + self.delay_steps, np.array(command, dtype=float)))
        out: list[tuple[np.ndarray, int]] = []
        t, end = self._now, self._now + self.substeps
        while t < end:
            while self._pending and self._pending[0][0] <= t:
                self._active = self._pending.popleft()[1]
            nxt = self._pending[0][0] if self._pending else end
            run = min(nxt, end) - t
            out.append((self._active, run))
            t += run
        self._now = end
        return out


def actuator_torques(robot: RobotSpec, params: dict[str, float], command: np.ndarray,
                     q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """Joint torques from the actuators (robot.yaml joint order), the law MuJoCo realizes natively."""
    tau = np.zeros(len(robot.joints))
    for i, (act, j) in enumerate(zip(robot.actuators, robot.actuator_joint_indices(), strict=True)):
        gain = params[f"{act.name}.gain"]
        if act.type == "force":
            f = gain * command[i]
        else:
            f = gain * (params[f"{act.name}.kp"] * (command[i] - q[j]) - params[f"{act.name}.kd"] * qd[j])
        tau[j] += np.clip(f, -act.effort_limit, act.effort_limit)
    return tau

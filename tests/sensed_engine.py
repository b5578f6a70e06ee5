"""An engine read through the sim robot's sensor model, for identification tests on realistic readings.

Why shared: the sensor-model tests and the calibration-under-noise tests must feed the fit exactly what
`robot-rl sim-robot` publishes (encoder counts, drive velocity noise), not two versions of it.
"""

from __future__ import annotations

from typing import Any


class Sensed:
    """An engine whose joint state is read through `Sensors`, as the sim robot publishes it."""

    def __init__(self, engine: Any, sensors: Any) -> None:
        self.engine, self.sensors = engine, sensors

    def joint_state(self):
        return self.sensors.read_joints(*self.engine.joint_state())

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

"""System identification: robot logs in, fitted simulator parameters with uncertainty out.

    from calibration import identify, load_log, BagRecorder
    result = identify("cartpole", "run.bag", "pole.mass,slider.gain,action_delay", "calib/lab1")

Submodules are imported on first use, so a deploy machine can use the bag writer
(`calibration.rosbag_io`) without importing MuJoCo.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "identify": "calibration.identification",
    "SysidResult": "calibration.identification",
    "load_log": "calibration.load",
    "RobotLog": "calibration.log",
    "BagRecorder": "calibration.rosbag_io",
    "read_robot_log": "calibration.rosbag_io",
    "write_robot_log": "calibration.rosbag_io",
    "read_csv_log": "calibration.csv_io",
    "write_csv_log": "calibration.csv_io",
    "LogError": "calibration.errors",
    "FitError": "calibration.errors",
    "CalibrationError": "calibration.errors",
    "run_excitation": "calibration.excitation",
    "Excitation": "calibration.excitation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'calibration' has no attribute '{name}'")

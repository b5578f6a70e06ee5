"""`load_log`: open any supported robot log by what it is (CSV file or rosbag2 recording)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from calibration.csv_io import read_csv_log
from calibration.log import RobotLog
from calibration.rosbag_io import read_robot_log

if TYPE_CHECKING:
    from sim.robot import RobotSpec


def load_log(path: str | Path, robot: RobotSpec, command_topic: str | None = None,
             joint_state_topic: str | None = None, time_source: str = "bag", repair: bool = False) -> RobotLog:
    """A `.csv` file is read as CSV; a rosbag2 folder (or its `.mcap`/`.db3` file) as a bag."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return read_csv_log(p, robot, repair=repair)
    if p.is_file() and p.suffix in (".mcap", ".db3"):
        p = p.parent
    return read_robot_log(p, robot, command_topic=command_topic, joint_state_topic=joint_state_topic,
                          time_source=time_source, repair=repair)

"""CSV logs: one row per sample, for robots logged without ROS (layout in calibration/README.md).

    # optional comment lines start with '#'
    t,q.slider,q.hinge,qd.slider,qd.hinge,u.slider
    0.00,0.0,3.14159,0.0,0.0,0.0
    0.02,0.0001,3.14160,0.004,0.001,1.25

- `t`: seconds (any origin), strictly increasing;
- `q.<joint>` for every joint of the robot (robot.yaml names), in m or rad;
- `qd.<joint>` (optional, all or none): m/s or rad/s; derived from `q` when absent;
- `effort.<joint>` (optional): measured force/torque, kept for the report;
- `u.<actuator>` for every actuator: the command sent at time `t` (after reading that row's state),
  held until the next row, in the actuator's physical unit (N, N*m, or target m/rad).

Column order is free; unknown columns are an error (a typo would otherwise drop data silently).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from calibration.errors import LogError
from calibration.log import RobotLog, make_log

if TYPE_CHECKING:
    from sim.robot import RobotSpec


def read_csv_log(path: str | Path, robot: RobotSpec, repair: bool = False) -> RobotLog:
    """Read a CSV log (module docstring layout) into a validated `RobotLog`."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise LogError(source, "not found", "give a CSV file with columns t, q.<joint>, u.<actuator>")
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(line for line in f if not line.lstrip().startswith("#")) if r]
    if not rows:
        raise LogError(source, "empty", "write a header row t,q.<joint>,...,u.<actuator> and one row per sample")
    header = [h.strip() for h in rows[0]]
    joints, acts = list(robot.joint_names), list(robot.actuator_names)
    known = {"t"} | {f"{p}.{j}" for p in ("q", "qd", "effort") for j in joints} | {f"u.{a}" for a in acts}
    unknown = [h for h in header if h not in known]
    if unknown:
        raise LogError(source, f"unknown column(s) {', '.join(unknown)} for robot '{robot.name}'",
                       f"valid columns: {', '.join(sorted(known))}")
    if len(set(header)) != len(header):
        raise LogError(source, "a column name repeats in the header", "name each column once")
    required = ["t"] + [f"q.{j}" for j in joints] + [f"u.{a}" for a in acts]
    missing = [h for h in required if h not in header]
    if missing:
        raise LogError(source, f"missing column(s) {', '.join(missing)}",
                       "a log needs t, q.<joint> for every joint and u.<actuator> for every actuator")
    body = rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise LogError(source, f"row {i + 2} has {len(r)} values, the header has {len(header)} columns",
                           "every row needs one value per column")
    try:
        data = np.array([[float(x) for x in r] for r in body], dtype=float).reshape(len(body), len(header))
    except ValueError as exc:
        raise LogError(source, f"a value is not a number ({exc})", "write plain decimal numbers") from None
    col = {h: i for i, h in enumerate(header)}

    def cols(prefix: str, names: list[str]) -> np.ndarray | None:
        present = [f"{prefix}.{n}" in col for n in names]
        if not any(present):
            return None
        if not all(present):
            absent = [f"{prefix}.{n}" for n, p in zip(names, present, strict=True) if not p]
            raise LogError(source, f"column(s) {', '.join(absent)} missing while other {prefix}.* columns exist",
                           f"give {prefix}.<joint> for every joint, or for none")
        return data[:, [col[f"{prefix}.{n}"] for n in names]]

    t = data[:, col["t"]]
    return make_log(
        joint_names=joints, actuator_names=acts, t=t, q=cols("q", joints), qd=cols("qd", joints),
        command_t=t, command=cols("u", acts), effort=cols("effort", joints), source=source, repair=repair,
    )


def write_csv_log(path: str | Path, log: RobotLog) -> Path:
    """Write a `RobotLog` as CSV; commands are sampled (ZOH) at the joint-state times.

    The file is written next to `path` under a temp name and renamed over it when complete, so a
    crash or a full disk never leaves a truncated log under the real name (nor destroys an old one).
    """
    path = Path(path)
    header = ["t"] + [f"q.{j}" for j in log.joint_names] + [f"qd.{j}" for j in log.joint_names]
    parts = [log.t[:, None], log.q, log.qd]
    if log.effort is not None:
        header += [f"effort.{j}" for j in log.joint_names]
        parts.append(log.effort)
    header += [f"u.{a}" for a in log.actuator_names]
    parts.append(log.command_at(log.t))
    table = np.hstack(parts)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", newline="") as f:
            f.write(f"# robot-rl log: {len(log.t)} samples, {log.duration:.3f} s\n")
            w = csv.writer(f)
            w.writerow(header)
            for row in table:
                w.writerow([repr(float(x)) for x in row])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


"""Sim-to-sim gap: the same initial state and command sequence in MuJoCo and PyBullet, per robot, as JSON.

For each robot: max and RMS difference of joint positions (and velocities) over a run of
open-loop commands, nominal parameters. cartpole: 1 s passive fall from 0.1 rad, then 2 s of a
multisine force from hanging; iiwa: 2 s of PD targets stepping through a sine sweep.
Usage: python bench/sim2sim_gap.py
"""

from __future__ import annotations

import json

import numpy as np

from sim.engines import make_engine
from sim.robot import available_robots, load_robot


def scenario(robot) -> list[tuple[np.ndarray, np.ndarray]]:
    """(initial q, commands[T, n_act]) pairs for a robot."""
    t = np.arange(int(2 * robot.control_hz)) / robot.control_hz
    n_act = len(robot.actuators)
    if robot.name == "cartpole":
        passive = (np.array([0.0, 0.1]), np.zeros((int(robot.control_hz), 1)))
        force = 12 * (np.sin(2 * np.pi * 0.7 * t) + 0.5 * np.sin(2 * np.pi * 2.3 * t))
        return [passive, (np.array([0.0, np.pi]), force[:, None])]
    q0 = np.zeros(len(robot.joints))
    targets = 0.4 * np.sin(2 * np.pi * 0.5 * t)[:, None] * np.linspace(1, 0.4, n_act)[None]
    return [(q0, targets)]


def gap(robot_name: str) -> dict:
    robot = load_robot(robot_name)
    out: dict = {"robot": robot_name}
    pos_err, vel_err = [], []
    for q0, commands in scenario(robot):
        traj = {}
        for name in ("mujoco", "pybullet"):
            e = make_engine(robot, name)
            e.reset(q0, np.zeros_like(q0))
            states = []
            for u in commands:
                e.step(u)
                states.append(np.concatenate(e.joint_state()))
            traj[name] = np.array(states)
            e.close()
        diff = traj["mujoco"] - traj["pybullet"]
        n = len(robot.joints)
        pos_err.append(diff[:, :n])
        vel_err.append(diff[:, n:])
    pos, vel = np.concatenate(pos_err), np.concatenate(vel_err)
    out["max_abs_position_gap"] = dict(zip(robot.joint_names, np.abs(pos).max(0).round(6).tolist(), strict=True))
    out["rms_position_gap"] = dict(zip(robot.joint_names, np.sqrt((pos**2).mean(0)).round(6).tolist(), strict=True))
    out["max_abs_velocity_gap"] = dict(zip(robot.joint_names, np.abs(vel).max(0).round(6).tolist(), strict=True))
    return out


def main() -> None:
    print(json.dumps({"bench": "sim2sim_gap", "robots": [gap(name) for name in available_robots()]}))


if __name__ == "__main__":
    main()

"""Sim-to-sim gap: the same initial state and command sequence in MuJoCo and PyBullet, per robot, as JSON.

For each robot and scenario: max and RMS difference of joint positions (and max of velocities)
over a run of open-loop commands, nominal parameters. cartpole: 1 s passive fall from 0.1 rad
(the parity test's case), and 2 s of a multisine force on the hanging pole, gentle enough that the
pole stays below horizontal and the cart away from the rail stops (a swinging-up pole is chaotic:
any tiny difference grows, which says nothing about the engines); iiwa: 2 s of PD targets along a sine sweep.
Usage: python bench/sim2sim_gap.py
"""

from __future__ import annotations

import json

import numpy as np

from sim.engines import make_engine
from sim.robot import available_robots, load_robot


def scenarios(robot) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (initial q, commands[T, n_act])."""
    t = np.arange(int(2 * robot.control_hz)) / robot.control_hz
    n_act = len(robot.actuators)
    if robot.name == "cartpole":
        # cosines: zero-mean cart velocity, so the cart swings about the centre instead of drifting into
        # the rail stop (where the engines' joint-limit models differ: that is not what this measures)
        force = 4 * (np.cos(2 * np.pi * 0.7 * t) + 0.5 * np.cos(2 * np.pi * 2.3 * t))
        return {
            "passive_fall_1s": (np.array([0.0, 0.1]), np.zeros((int(robot.control_hz), 1))),
            "multisine_hanging_2s": (np.array([0.0, np.pi]), force[:, None]),
        }
    q0 = np.zeros(len(robot.joints))
    targets = 0.4 * np.sin(2 * np.pi * 0.5 * t)[:, None] * np.linspace(1, 0.4, n_act)[None]
    return {"pd_sine_sweep_2s": (q0, targets)}


def gap(robot_name: str) -> dict:
    robot = load_robot(robot_name)
    out: dict = {"robot": robot_name, "scenarios": {}}
    for name, (q0, commands) in scenarios(robot).items():
        traj = {}
        for engine in ("mujoco", "pybullet"):
            e = make_engine(robot, engine)
            e.reset(q0, np.zeros_like(q0))
            states = []
            for u in commands:
                e.step(u)
                states.append(np.concatenate(e.joint_state()))
            traj[engine] = np.array(states)
            e.close()
        diff = traj["mujoco"] - traj["pybullet"]
        n = len(robot.joints)
        pos, vel = diff[:, :n], diff[:, n:]

        def per_joint(values: np.ndarray) -> dict:
            return dict(zip(robot.joint_names, values.round(7).tolist(), strict=True))

        out["scenarios"][name] = {
            "seconds": len(commands) / robot.control_hz,
            "max_abs_position_gap": per_joint(np.abs(pos).max(0)),
            "rms_position_gap": per_joint(np.sqrt((pos**2).mean(0))),
            "max_abs_velocity_gap": per_joint(np.abs(vel).max(0)),
        }
    return out


def main() -> None:
    print(json.dumps({"bench": "sim2sim_gap", "robots": [gap(name) for name in available_robots()]}))


if __name__ == "__main__":
    main()

"""Sim-to-sim gap: the same initial state and command sequence in MuJoCo and PyBullet, per robot, as JSON.

For each robot and scenario: max and RMS difference of joint positions (and max of velocities)
over a run of open-loop commands, nominal parameters. cartpole: 1 s passive fall from 0.1 rad
(the parity test's case), and 2 s of a multisine force on the hanging pole, gentle enough that the
pole stays below horizontal and the cart away from the rail stops (a swinging-up pole is chaotic:
any tiny difference grows, which says nothing about the engines); iiwa: 2 s of PD targets along a sine sweep.

a1 (floating base, floor contacts: the engines' contact models genuinely differ, and that
difference is the point of validating in the second engine, so it is measured, not hidden):
  standing_2s        action 0 (the default pose) from the robot.yaml height: trunk height at the end
                     and averaged over the last second, in each engine, and the gap
  standing_2s_rough_terrain   the same on the rough terrain (+-4 cm bumps, sim/terrain.py), started over
                     the ground as an evaluation episode is (tests/test_terrain.py holds the gap to 5 mm)
  scripted_trot_4s   an open-loop trot (diagonal legs in phase, 2 Hz, thigh/calf sines about the
                     default pose): each engine's base drift (x, y, yaw) and height, and the gaps
  scripted_trot_4s_rough_terrain   the same trot on the rough terrain
Usage: python bench/sim2sim_gap.py
"""

from __future__ import annotations

import json

import numpy as np

from sim.engines import make_engine
from sim.gaits import scripted_trot
from sim.robot import available_robots, load_robot
from sim.sim2sim import joint_gap, standing
from sim.terrain import make_terrain, parse_terrain
from sim.terrain_curriculum import TerrainPlacement


def _yaw(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def legged_gap(robot_name: str) -> dict:
    robot = load_robot(robot_name)
    out: dict = {"robot": robot_name, "contacts": True, "scenarios": {}}
    stand = {k: v for k, v in standing(robot, 2.0).items() if k in ("mujoco", "pybullet", "height_gap_m")}
    # The same on the +-4 cm rough terrain (sim/terrain.py), the same heightfield in both engines.
    rough = {k: v for k, v in standing(robot, 2.0, "rough").items()
             if k in ("mujoco", "pybullet", "height_gap_m", "start_height_m")}
    out["scenarios"]["standing_2s"] = stand
    out["scenarios"]["standing_2s_rough_terrain"] = rough
    out["scenarios"]["scripted_trot_4s"] = trot_gap(robot)
    out["scenarios"]["scripted_trot_4s_rough_terrain"] = trot_gap(robot, "rough")
    return out


def trot_gap(robot, terrain: str | None = None) -> dict:
    """The open-loop trot in both engines (on `terrain`, started as an evaluation episode is): drifts, gaps."""
    pose = np.array(robot.default_pose)
    ground, start_base = None, None
    if terrain is not None:
        ground = make_terrain(parse_terrain(terrain))
        start_base = TerrainPlacement(ground, robot, 1, 4.0).start_base(0, np.random.default_rng(0))
    trot: dict = {}
    for engine in ("mujoco", "pybullet"):
        e = make_engine(robot, engine, terrain=ground)
        e.reset(pose, np.zeros(len(pose)), start_base)
        start = e.state().base
        for u in scripted_trot(robot, 4.0):
            e.step(u)
        end = e.state().base
        floor = 0.0 if ground is None else float(ground.height_at(end.position[:2]))
        fell = bool(end.position[2] - floor < 0.15)
        trot[engine] = {"drift_x_m": round(float(end.position[0] - start.position[0]), 4),
                        "drift_y_m": round(float(end.position[1] - start.position[1]), 4),
                        "yaw_rad": round(_yaw(end.orientation) - _yaw(start.orientation), 4),
                        "final_height_m": round(float(end.position[2]), 4), "fell": fell}
        e.close()
    mj, pb_ = trot["mujoco"], trot["pybullet"]
    gap_xy = np.hypot(mj["drift_x_m"] - pb_["drift_x_m"], mj["drift_y_m"] - pb_["drift_y_m"])
    trot["drift_gap_m"] = round(float(gap_xy), 4)
    trot["yaw_gap_rad"] = round(abs(mj["yaw_rad"] - pb_["yaw_rad"]), 4)
    return trot


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
        out["scenarios"][name] = joint_gap(robot, q0, commands)  # the measure `robots import` prints too
    return out


def main() -> None:
    robots = []
    for name in available_robots():
        robots.append(legged_gap(name) if load_robot(name).floating else gap(name))
    print(json.dumps({"bench": "sim2sim_gap", "robots": robots}))


if __name__ == "__main__":
    main()

"""The sim-to-sim check: the same initial state and commands in MuJoCo and PyBullet, joint by joint.

Why a module: the benchmark (`bench/sim2sim_gap.py`), `robot-rl robots import` (which runs it on
every robot it writes) and the tests measure the engines' agreement the same way, so a figure in
one means what it means in the others. A fixed-base robot without contacts agrees to ~1e-8 rad; a
legged robot is measured hung on its gantry (`sim.robot.suspended`), where the floor's contact
models, which genuinely differ, play no part (the benchmark measures those separately).
"""

from __future__ import annotations

import numpy as np

from sim.engines import ENGINES, make_engine
from sim.params import ParamsLike
from sim.robot import RobotSpec


def rollout(robot: RobotSpec, engine: str, q0: np.ndarray, commands: np.ndarray,
            params: ParamsLike = None) -> np.ndarray:
    """Joint positions and velocities [T, 2n] after each control step of `commands` [T, n_actuators]."""
    e = make_engine(robot, engine, params)
    try:
        e.reset(np.asarray(q0, float), np.zeros(len(robot.joints)))
        states = []
        for u in np.asarray(commands, float):
            e.step(np.atleast_1d(u))
            states.append(np.concatenate(e.joint_state()))
        return np.array(states)
    finally:
        e.close()


def joint_gap(robot: RobotSpec, q0: np.ndarray, commands: np.ndarray, params: ParamsLike = None) -> dict:
    """Per joint, how far the two engines' runs of the same commands are apart.

    Returns {"seconds", "max_abs_position_gap", "rms_position_gap", "max_abs_velocity_gap"}, each gap
    a mapping joint name -> value (rad or m, per s for velocities) to three significant figures: the
    fixed-base engines agree to ~1e-8, which fixed decimals would print as an exact 0.
    """
    traj = {engine: rollout(robot, engine, q0, commands, params) for engine in ENGINES}
    diff = traj["mujoco"] - traj["pybullet"]
    n = len(robot.joints)
    pos, vel = diff[:, :n], diff[:, n:]

    def per_joint(values: np.ndarray) -> dict[str, float]:
        return dict(zip(robot.joint_names, [float(f"{v:.3g}") for v in values.tolist()], strict=True))

    return {
        "seconds": len(commands) / robot.control_hz,
        "max_abs_position_gap": per_joint(np.abs(pos).max(0)),
        "rms_position_gap": per_joint(np.sqrt((pos**2).mean(0))),
        "max_abs_velocity_gap": per_joint(np.abs(vel).max(0)),
    }


def sine_excitation(robot: RobotSpec, center: np.ndarray, seconds: float = 2.0, amplitude: float = 0.2,
                    frequency_hz: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(q0, targets[T, n]): small sines about `center`, one phase per joint, inside the joint limits.

    Each joint's centre is moved off its limits by the amplitude where its range allows, so no run
    rests on a limit stop (where the engines' limit models differ, which is not what this measures).
    Position actuators only: a force actuator's command is not a joint position.
    """
    if any(a.type != "position" for a in robot.actuators):
        raise ValueError(f"robot '{robot.name}': sine_excitation drives position servos only")
    idx = robot.actuator_joint_indices()
    q0 = np.asarray(center, float).copy()
    amp = np.full(len(robot.joints), float(amplitude))
    for k, j in enumerate(robot.joints):
        if j.position_limits is None:
            continue
        lo, hi = j.position_limits
        amp[k] = min(amp[k], 0.25 * (hi - lo))
        q0[k] = float(np.clip(q0[k], lo + amp[k], hi - amp[k]))
    t = np.arange(int(round(seconds * robot.control_hz))) / robot.control_hz
    phase = 0.7 * np.arange(len(robot.joints))
    # sin(0) = 0: the run starts at rest on its first target; the slow envelope keeps the start gentle
    envelope = np.sin(np.pi * t / max(seconds, 1e-9))[:, None]
    q = q0 + amp * envelope * np.sin(2 * np.pi * frequency_hz * t[:, None] + phase)
    return q0, q[:, idx]


def check_robot(robot: RobotSpec, seconds: float = 2.0) -> dict:
    """The sim2sim check of a robot folder: both engines on the same small sines about the default
    pose (a legged robot hung on its gantry). `joint_gap`'s figures, plus whether it hung and the
    worst joint (RMS) and the largest gap of any joint."""
    from sim.robot import suspended

    hung = robot.floating
    if hung:
        robot = suspended(robot)
    center = np.array(robot.default_pose) if robot.default_pose is not None else np.zeros(len(robot.joints))
    q0, targets = sine_excitation(robot, center, seconds)
    gap = joint_gap(robot, q0, targets)
    rms = gap["rms_position_gap"]
    worst = max(rms, key=rms.get)
    return {**gap, "suspended": hung, "worst_joint": worst, "worst_rms": rms[worst],
            "worst_max": max(gap["max_abs_position_gap"].values())}


def standing(robot: RobotSpec, seconds: float = 2.0, terrain=None, seed: int = 0) -> dict:
    """A floating robot set down at its robot.yaml height in its default pose, commanded to hold it.

    Per engine the trunk height at the end and averaged over the last second (m), and their gap:
    whether the gains carry the robot's weight (a soft robot sinks, or pitches over its legs), and
    how far the engines' contact models differ on it (they genuinely do: it is measured, not hidden).
    `terrain` (sim/terrain.py: "rough", "stairs:step_height=0.08", ...): both engines build the same
    heightfield and the robot starts where an evaluation episode would (its last row, `seed`'s offset from
    the tile's centre), its base height above the highest ground under its feet; heights stay world z.
    """
    if robot.default_pose is None or robot.base is None:
        raise ValueError(f"robot '{robot.name}': standing needs a floating base and a default_pose")
    pose = np.array(robot.default_pose)
    steps = int(round(seconds * robot.control_hz))
    ground, start = None, None
    if terrain is not None:
        from sim.terrain import make_terrain, parse_terrain
        from sim.terrain_curriculum import TerrainPlacement

        config = parse_terrain(terrain)
        if config is not None:
            ground = make_terrain(config.without_curriculum())
            start = TerrainPlacement(ground, robot, 1, seconds).start_base(0, np.random.default_rng(seed))
    out: dict = {"seconds": steps / robot.control_hz,
                 "start_height_m": robot.base.height if start is None else round(float(start.position[2]), 4)}
    if ground is not None:
        out["terrain"] = ground.config.describe()
    for engine in ENGINES:
        e = make_engine(robot, engine, terrain=ground)
        try:
            e.reset(pose, np.zeros(len(pose)), start)
            heights = []
            for _ in range(steps):
                e.step(pose)
                heights.append(e.state().base.position[2])
        finally:
            e.close()
        last = heights[-max(1, int(round(robot.control_hz))):]
        out[engine] = {"final_height_m": round(float(heights[-1]), 4),
                       "mean_height_last_1s_m": round(float(np.mean(last)), 4)}
    out["height_gap_m"] = round(abs(out["mujoco"]["mean_height_last_1s_m"]
                                    - out["pybullet"]["mean_height_last_1s_m"]), 4)
    return out

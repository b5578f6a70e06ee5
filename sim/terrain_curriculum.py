"""Where each robot of a batch stands on a terrain: its tile, its start, its level (legged_gym's curriculum).

Why its own module: the episode core (sim/core.py) places robots and the critic reads the ground, but
neither should know how a curriculum decides. The rule is legged_gym's: at a robot's reset, one that
walked farther than half a tile in its last episode goes one row (level) up, one that walked less than
half the distance its command asked for (|command| * episode length / 2) goes one row down; one that
passes the last row lands on a random row, so the hardest terrain never empties the easier ones. A
robot starts near its tile's centre, its base `robot.yaml base.height` above the highest ground under
its footprint, so no foot starts inside a bump or a step.

An episode ends as a time-out (truncated, not terminated) when the base comes within EDGE_BUFFER of the
field's edge, where the ground ends (Isaac Lab's `terrain_out_of_bounds`; legged_gym's 25 m borders
would cost megabytes per MuJoCo model copy here).

Without a curriculum (evaluation, robustness cases, sim-robot) every robot starts on the last row, the
terrain as named, on a column drawn at random each episode (in `mixed` a column is a kind of terrain, so
an evaluation sees every kind). With one, columns are fixed per robot (robot i on column i mod cols), so
every kind keeps its share of the training robots.

The critic's height scan (`scan`) samples the ground around where each foot stands in the default pose,
in the base's heading: SCAN_OFFSETS around each foot, as (base height above the point - standing height),
clipped to +-1 m. The actor never sees it: a real robot does not report its ground.

Numpy only.
"""

from __future__ import annotations

import numpy as np

from sim.kinematics import SerialChainFK
from sim.robot import RobotSpec
from sim.state import BaseState
from sim.terrain import Terrain

START_JITTER = 0.25  # m: a start's random offset from its tile's centre, each axis
EDGE_BUFFER = 0.5  # m: an episode ends (time-out) when the base comes this close to the field's edge
SCAN_OFFSETS = np.array([[0.0, 0.0], [0.1, 0.0], [-0.1, 0.0], [0.0, 0.1], [0.0, -0.1]])  # m, base frame, per foot


def nominal_feet(robot: RobotSpec) -> np.ndarray:
    """Each foot's (x, y) in the base frame in the default pose, (feet, 2)."""
    pose = np.array(robot.default_pose, float)
    return np.array([SerialChainFK(robot.urdf, robot.joint_names, foot).position(pose)[:2]
                     for foot in robot.base.feet])


class TerrainPlacement:
    """Per-robot terrain level (row), column and episode start, for N robots on one terrain."""

    def __init__(self, terrain: Terrain, robot: RobotSpec, n: int, episode_s: float):
        self.terrain, self.robot = terrain, robot
        self.curriculum = terrain.config.curriculum
        self.height_scan = bool(terrain.config["height_scan"])  # whether the critic reads `scan`
        self.episode_s = float(episode_s)
        top = terrain.rows - 1
        self.levels = np.zeros(n, dtype=np.int64) if self.curriculum else np.full(n, top, dtype=np.int64)
        self.cols = np.arange(n) % terrain.cols
        self.start = np.zeros((n, 2))  # xy where each robot's current episode began
        self.started = np.zeros(n, dtype=bool)  # whether a robot has had an episode the curriculum may judge
        self.footprint = float(np.abs(nominal_feet(robot)).max()) + 0.05  # m: half the feet's span, plus a foot
        scan = nominal_feet(robot)[:, None, :] + SCAN_OFFSETS[None]
        self.scan_points = scan.reshape(-1, 2)  # base frame

    @property
    def scan_size(self) -> int:
        return len(self.scan_points)

    def update_level(self, i: int, base_xy: np.ndarray, command: np.ndarray, rng: np.random.Generator,
                     elapsed_s: float | None = None) -> None:
        """Robot i's episode ended at `base_xy` with velocity command `command` (vx, vy, ...) after `elapsed_s`
        (None: a whole episode): move its level.

        Why `elapsed_s`: an episode cut short at the field's edge (`out_of_bounds`) had less time than a whole
        episode to cover what its command asked for; judged on the whole episode, a robot walking backwards
        perfectly from an easy row near the edge was sent down. A fall is still judged on the whole episode."""
        if not (self.curriculum and self.started[i]):
            return
        position = np.asarray(base_xy, float)
        distance = float(np.linalg.norm(position[:2] - self.start[i]))
        asked_s = self.episode_s
        if elapsed_s is not None and self.out_of_bounds(position[None, :2])[0]:
            asked_s = min(float(elapsed_s), self.episode_s)
        up = distance > self.terrain.tile_size / 2
        down = not up and distance < float(np.linalg.norm(command[:2])) * asked_s * 0.5
        level = int(self.levels[i]) + int(up) - int(down)
        if level >= self.terrain.rows:
            level = int(rng.integers(0, self.terrain.rows))
        self.levels[i] = max(level, 0)

    def start_base(self, i: int, rng: np.random.Generator) -> BaseState:
        """Robot i's start for a new episode on its tile: level, at rest, over the ground. Without a curriculum the
        tile's column is drawn anew each episode, so an evaluation's episodes see every kind of a `mixed` terrain."""
        if not self.curriculum:
            self.cols[i] = rng.integers(self.terrain.cols)
        xy = self.terrain.tile_center(self.levels[i], self.cols[i]) + rng.uniform(-START_JITTER, START_JITTER, 2)
        ground = float(self.terrain.max_height_near(xy, self.footprint))
        self.start[i] = xy
        self.started[i] = True
        return BaseState(np.array([xy[0], xy[1], ground + self.robot.base.height]), np.array([1.0, 0.0, 0.0, 0.0]),
                         np.zeros(3), np.zeros(3))

    def out_of_bounds(self, position: np.ndarray) -> np.ndarray:
        """(n,) whether each base is within EDGE_BUFFER of the field's edge, where the ground ends: the episode
        ends there as a time-out (Isaac Lab's `terrain_out_of_bounds`), before a robot walks off into nothing."""
        limit = self.terrain.half_extent - EDGE_BUFFER
        return (np.abs(position[:, 0]) > limit[0]) | (np.abs(position[:, 1]) > limit[1])

    def scan(self, position: np.ndarray, orientation: np.ndarray) -> np.ndarray:
        """The critic's height scan, (n, scan_size): base height above the ground at each scan point, minus the
        standing height, clipped to +-1 m (see the module docstring)."""
        w, x, y, z = (orientation[:, k] for k in range(4))
        yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        px, py = self.scan_points[:, 0][None], self.scan_points[:, 1][None]
        world = np.stack([position[:, :1] + c * px - s * py, position[:, 1:2] + s * px + c * py], axis=-1)
        ground = self.terrain.height_at(world)
        return np.clip(position[:, 2:3] - ground - self.robot.base.height, -1.0, 1.0).astype(np.float32)


__all__ = ["SCAN_OFFSETS", "START_JITTER", "TerrainPlacement", "nominal_feet"]

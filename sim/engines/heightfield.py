"""A `sim.terrain.Terrain` as each engine's ground: a MuJoCo `hfield` geom, a PyBullet heightfield body.

Why here: the engines must put the same height under the same (x, y), and both triangulate a grid
cell the same way, so copying one array into each (in its own layout) is all it takes; the test
(tests/test_terrain.py) ray-casts both at the same points. The geom keeps the floor's name and role
(`floor.friction`, foot and base contact sensing), so nothing else in the engines changes.
"""

from __future__ import annotations

import numpy as np

from sim.terrain import Terrain

HFIELD = "terrain"
BASE_DEPTH = 0.5  # m of solid ground under the lowest point (MuJoCo's hfield base; contacts need no more)


def mujoco_floor(spec, floor, terrain: Terrain) -> None:
    """Turn the floor geom `floor` of MjSpec `spec` into the terrain's heightfield.

    MuJoCo's hfield: row-major data, rows along y, heights normalized to [0, 1] times size[2] above
    the geom's z; it spans +-size[0] in x and +-size[1] in y.
    """
    import mujoco

    h = terrain.heights
    lo, hi = float(h.min()), float(h.max())
    span = max(hi - lo, 1e-6)
    field = spec.add_hfield()
    field.name = HFIELD
    field.ncol, field.nrow = h.shape  # columns along x, rows along y
    field.size = [float(terrain.half_extent[0]), float(terrain.half_extent[1]), span, BASE_DEPTH]
    field.userdata = ((h.T - lo) / span).ravel().tolist()
    floor.type = mujoco.mjtGeom.mjGEOM_HFIELD
    floor.hfieldname = HFIELD
    floor.pos = [0.0, 0.0, lo]


def pybullet_floor(client: int, terrain: Terrain) -> int:
    """The terrain as a static PyBullet body (returned), heights in metres.

    Bullet splits a grid cell along the other diagonal than MuJoCo (from (i+1, j) to (i, j+1); measured:
    up to 4 mm apart on +-4 cm rough ground, 1 cm at a stair's edge). A quarter turn about z maps one
    diagonal onto the other, so the body is yawed by 90 degrees and the data laid out for that frame:
    local x' = world y, local y' = -world x. Bullet centres a heightfield on the middle of its height
    range, so the body sits at that height; `numHeightfieldRows` counts samples along local x', the
    data is row-major along y'.
    """
    import pybullet as pb

    h = terrain.heights
    nx, ny = h.shape
    # local H'[i', j'] = h[nx - 1 - j', i'], stored as data[j' * ny + i']: that is h[::-1, :] row-major.
    shape = pb.createCollisionShape(pb.GEOM_HEIGHTFIELD, meshScale=[terrain.resolution, terrain.resolution, 1.0],
                                    heightfieldData=np.ascontiguousarray(h[::-1, :]).ravel().tolist(),
                                    numHeightfieldRows=ny, numHeightfieldColumns=nx, physicsClientId=client)
    mid = (float(h.min()) + float(h.max())) / 2
    s = float(np.sqrt(0.5))
    return pb.createMultiBody(0, shape, basePosition=[0.0, 0.0, mid], baseOrientation=[0.0, 0.0, s, s],
                              physicsClientId=client)


__all__ = ["HFIELD", "mujoco_floor", "pybullet_floor"]

"""Terrain (sim/terrain.py): named configs and overrides, heights from a seed, the same ground in both
engines, spawn height, the curriculum (sim/terrain_curriculum.py) and Walk on a terrain."""

from __future__ import annotations

import mujoco
import numpy as np
import pybullet as pb
import pytest

from sim.core import EpisodeCore
from sim.engines.heightfield import mujoco_floor, pybullet_floor
from sim.errors import ConfigError
from sim.terrain import KINDS, Terrain, parse_terrain
from sim.terrain_curriculum import TerrainPlacement

SMALL = "tile_size=2,rows=3,cols=2,border=0.5"  # a field of a few hundred thousand samples at most: milliseconds


def test_named_configs_and_overrides():
    assert parse_terrain(None) is None and parse_terrain("flat") is None and parse_terrain({"kind": "flat"}) is None
    for kind in KINDS[1:]:
        assert parse_terrain(kind).kind == kind
    cfg = parse_terrain("stairs:step_height=0.08,step_width=0.3,direction=down")
    assert (cfg["step_height"], cfg["step_width"], cfg["direction"]) == (0.08, 0.3, "down")
    assert cfg["rows"] == 5 and cfg.curriculum is False  # the layout's defaults fill the rest
    assert parse_terrain(cfg.describe()) == cfg  # the one-line form reads back (config.yaml, cards)
    assert parse_terrain({"kind": "rough", "amplitude": 0.02})["amplitude"] == 0.02
    assert parse_terrain("stairs:step_height=8e-2")["step_height"] == 0.08  # the project's YAML numbers
    assert parse_terrain("mixed:curriculum=true,step_height=0.1").curriculum


def test_yaml_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("kind: boxes\nheight: 0.05\ncount: 5\n")
    cfg = parse_terrain(str(path))
    assert cfg.kind == "boxes" and cfg["height"] == 0.05 and cfg["count"] == 5
    path.write_text("kind: boxes\nheigth: 0.05\n")
    with pytest.raises(ConfigError, match=r"heigth.*did you mean 'height'"):
        parse_terrain(str(path))
    with pytest.raises(ConfigError, match="no such terrain file"):
        parse_terrain(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(("text", "names"), [
    ("lava", "'kind'.*got 'lava'"),
    ("stairs:step_hieght=0.1", "step_hieght.*did you mean 'step_height'"),
    ("rough:amplitude=-0.1", "'amplitude'.*got -0.1"),
    ("rough:amplitude=abc", "'amplitude'.*got 'abc'"),
    ("stairs:direction=sideways", "'direction'.*up or down"),
    ("slopes:rows=2.5", "'rows'.*integer"),
    ("rough:curriculum=maybe", "'curriculum'.*true or false"),
    ("rough:amplitude", "expected key=value"),
    ("rough:resolution=0.005,tile_size=50", "'resolution'.*samples"),
])
def test_errors_name_the_bad_key_or_value(text, names):
    with pytest.raises(ConfigError, match=names):
        parse_terrain(text)


def test_heights_are_a_function_of_config_and_seed():
    a = Terrain(parse_terrain(f"rough:{SMALL},seed=3")).heights
    assert np.array_equal(a, Terrain(parse_terrain(f"rough:{SMALL},seed=3")).heights)
    assert not np.array_equal(a, Terrain(parse_terrain(f"rough:{SMALL},seed=4")).heights)
    assert np.abs(a).max() <= 0.04 + 1e-12 and np.abs(a).max() > 0.03


@pytest.mark.parametrize("kind", ["rough", "slopes", "stairs", "boxes"])
def test_rows_increase_in_difficulty(kind):
    t = Terrain(parse_terrain(f"{kind}:{SMALL}"))
    n, b = t.tile_cells, t.border_cells
    spread = [np.ptp(t.heights[b + r * n + 1:b + (r + 1) * n, b + 1:b + n]) for r in range(t.rows)]  # tile interiors
    assert spread[0] < spread[1] < spread[2], spread


def test_stairs_have_the_named_step():
    t = Terrain(parse_terrain("stairs:step_height=0.08,step_width=0.3,rows=1,cols=1,tile_size=4,border=0"))
    levels = np.unique(np.round(t.heights, 9))
    assert np.allclose(np.diff(levels), 0.08)  # the last row is the terrain as named
    assert t.height_at(np.array([0.0, 0.0])) == 0.0  # "up": the start platform is the lowest point


def _rays_mujoco(t: Terrain, xy: np.ndarray) -> np.ndarray:
    spec = mujoco.MjSpec()
    mujoco_floor(spec, spec.worldbody.add_geom(), t)
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    gid = np.zeros(1, np.int32)
    return np.array([10.0 - mujoco.mj_ray(m, d, np.array([x, y, 10.0]), np.array([0.0, 0.0, -1.0]), None, 1, -1, gid)
                     for x, y in xy])


def _rays_pybullet(t: Terrain, xy: np.ndarray) -> np.ndarray:
    c = pb.connect(pb.DIRECT)
    try:
        pybullet_floor(c, t)
        hits = pb.rayTestBatch([[x, y, 10.0] for x, y in xy], [[x, y, -10.0] for x, y in xy], physicsClientId=c)
        assert all(h[0] >= 0 for h in hits), "a ray missed the PyBullet heightfield"
        return np.array([h[3][2] for h in hits])
    finally:
        pb.disconnect(c)


@pytest.mark.parametrize("text", [f"rough:{SMALL}", f"stairs:{SMALL}", f"slopes:direction=down,{SMALL}",
                                  f"boxes:{SMALL}", "mixed:tile_size=1.55,rows=2,cols=6,border=0.3"])
def test_both_engines_put_the_same_ground_under_the_same_point(text):
    """Ray-cast MuJoCo's hfield and PyBullet's heightfield at random points (cells split along either diagonal,
    odd and even sample counts): both agree with each other and with `Terrain.height_at` to float32 precision."""
    t = Terrain(parse_terrain(text))
    xy = np.random.default_rng(0).uniform(-0.98 * t.half_extent, 0.98 * t.half_extent, (300, 2))
    ref = t.height_at(xy)
    assert np.ptp(ref) > 0.03
    mj, bullet = _rays_mujoco(t, xy), _rays_pybullet(t, xy)
    np.testing.assert_allclose(mj, ref, atol=1e-6)
    np.testing.assert_allclose(bullet, ref, atol=1e-6)


def test_height_lookups_read_the_samples_and_the_highest_one_near_a_point():
    """`height_at` is exact at the samples and linear along a cell's diagonal; `max_height_near` is the highest
    sample in the +-radius square, the field's edge included (a brute-force reference over every sample)."""
    t = Terrain(parse_terrain(f"boxes:{SMALL}"))
    nx, ny = t.heights.shape
    ix, iy = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="ij")
    corner = np.stack([ix, iy], -1) * t.resolution - t.half_extent
    np.testing.assert_allclose(t.height_at(corner), t.heights[:-1, :-1], atol=1e-12)
    mid = t.height_at(corner + 0.5 * t.resolution)
    np.testing.assert_allclose(mid, (t.heights[:-1, :-1] + t.heights[1:, 1:]) / 2, atol=1e-12)
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    sample_xy = np.stack([gx, gy], -1) * t.resolution - t.half_extent
    xy = np.random.default_rng(1).uniform(-1.1 * t.half_extent, 1.1 * t.half_extent, (200, 2))
    for radius in (0.05, 0.33):
        ref = [t.heights[_in_square(sample_xy, p, radius, t.resolution)].max() for p in xy]
        np.testing.assert_array_equal(t.max_height_near(xy, radius), ref)
    assert t.max_height_near(xy[0], 0.33).shape == ()


def _in_square(sample_xy: np.ndarray, p: np.ndarray, radius: float, res: float) -> np.ndarray:
    """Samples whose cell index lies in [floor((p - r)/res), ceil((p + r)/res)], clipped to the field: the cells
    a foot within +-radius of p can touch."""
    g = (sample_xy - sample_xy[0, 0]) / res
    lo = np.floor((p - radius - sample_xy[0, 0]) / res)
    hi = np.ceil((p + radius - sample_xy[0, 0]) / res)
    n = np.array(sample_xy.shape[:2]) - 1
    lo, hi = np.clip(lo, 0, n), np.clip(hi, 0, n)
    return np.all((np.round(g) >= lo) & (np.round(g) <= hi), axis=-1)


def test_a_dropped_sphere_rests_at_the_same_height_in_both_engines():
    """2 cm balls dropped onto stair treads, the start platform and a step's top come to rest one radius above
    `Terrain.height_at` in MuJoCo and in PyBullet (to the contact models' millimetre of give)."""
    t = Terrain(parse_terrain("stairs:step_height=0.08,step_width=0.3,rows=1,cols=1,tile_size=4,border=0.5"))
    xy = np.array([[0.0, 0.0], [0.65, 0.1], [-0.1, -0.95], [1.25, 1.25], [-1.55, 0.3]])  # mid-tread points
    ground = t.height_at(xy)
    assert len(np.unique(np.round(ground, 6))) >= 4
    radius, dt, steps = 0.02, 0.002, 500
    spec = mujoco.MjSpec()
    spec.option.timestep = dt
    mujoco_floor(spec, spec.worldbody.add_geom(), t)
    for k, (x, y) in enumerate(xy):
        body = spec.worldbody.add_body(pos=[x, y, ground[k] + 0.05])
        body.add_freejoint()
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[radius, 0, 0], mass=0.05)
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_step(m, d, nstep=steps)
    mj_z = d.xpos[1:, 2].copy()
    c = pb.connect(pb.DIRECT)
    try:
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setTimeStep(dt, physicsClientId=c)
        pybullet_floor(c, t)
        shape = pb.createCollisionShape(pb.GEOM_SPHERE, radius=radius, physicsClientId=c)
        balls = [pb.createMultiBody(0.05, shape, basePosition=[x, y, ground[k] + 0.05], physicsClientId=c)
                 for k, (x, y) in enumerate(xy)]
        for _ in range(steps):
            pb.stepSimulation(physicsClientId=c)
        pb_z = np.array([pb.getBasePositionAndOrientation(b, physicsClientId=c)[0][2] for b in balls])
    finally:
        pb.disconnect(c)
    np.testing.assert_allclose(mj_z, ground + radius, atol=0.002)
    np.testing.assert_allclose(pb_z, ground + radius, atol=0.002)


def test_walk_on_terrain_starts_over_the_ground_and_keeps_the_actor_observation():
    """The A1 starts its base height above the highest ground under its feet; the actor's observation is the
    flat one's size, the critic gets the height scan on top."""
    flat = EpisodeCore("Walk-v0", 1, robot="a1", seed=0)
    core = EpisodeCore("Walk-v0", 2, robot="a1", seed=0,
                       terrain="slopes:direction=down,tile_size=4,platform=2,rows=2,cols=2,border=0.5")
    obs, priv = core.reset()
    obs_flat, priv_flat = flat.reset()
    assert obs.shape[1] == obs_flat.shape[1]
    assert priv.shape[1] == priv_flat.shape[1] + core.ground.scan_size
    pos = core.state.base.position
    ground = core.terrain.max_height_near(pos[:, :2], core.ground.footprint)
    assert np.all(ground > 0.1)  # the top of a "down" pyramid
    np.testing.assert_allclose(pos[:, 2], ground + core.robot.base.height, atol=1e-9)
    np.testing.assert_allclose(priv[:, -core.ground.scan_size:], 0.0, atol=0.02)  # on the flat top at the start
    flat.close()
    core.close()


def test_flat_is_the_plane_bit_for_bit():
    runs = []
    for terrain in (None, "flat"):
        core = EpisodeCore("Walk-v0", 4, robot="a1", seed=1, randomization="default", terrain=terrain)
        core.reset()
        out = [core.step(np.full((4, 12), 0.3 * np.sin(k))).obs for k in range(10)]
        runs.append(np.array(out))
        core.close()
    assert np.array_equal(runs[0], runs[1])


def test_terrain_needs_a_floating_robot():
    with pytest.raises(ConfigError, match="no floating base"):
        EpisodeCore("Reach-v0", 1, robot="iiwa", terrain="rough")


def test_curriculum_moves_levels_legged_gym_style():
    from sim.robot import load_robot

    t = Terrain(parse_terrain(f"rough:curriculum=true,{SMALL}"))
    place = TerrainPlacement(t, load_robot("a1"), 4, episode_s=20.0)
    rng = np.random.default_rng(0)
    assert list(place.levels) == [0, 0, 0, 0]  # a curriculum starts everyone on the easiest row
    for i in range(4):
        place.start_base(i, rng)
    start = place.start.copy()
    command = np.array([0.5, 0.0, 0.0])  # asks for 10 m in 20 s: less than 5 m walked is a step down
    place.update_level(0, start[0] + [1.5, 0.0], command, rng)  # > half a tile (1 m): up
    place.update_level(1, start[1] + [0.5, 0.0], command, rng)  # < 5 m: down (clipped at 0)
    place.update_level(2, start[2] + [0.5, 0.0], np.zeros(3), rng)  # standing still was asked: stays
    assert list(place.levels[:3]) == [1, 0, 0]
    place.levels[3] = t.rows - 1
    place.update_level(3, start[3] + [3.0, 0.0], command, rng)  # past the last row: a random row
    assert 0 <= place.levels[3] < t.rows
    # An episode cut short at the field's edge is judged on the time it had; a fall on the whole episode.
    edge = TerrainPlacement(t, load_robot("a1"), 2, episode_s=20.0)
    back = np.array([-0.6, 0.0, 0.0])  # asks for 12 m in 20 s, 1.2 m in the 2 s before the edge
    for i in range(2):
        edge.start_base(i, rng)
        edge.levels[i] = 1
        edge.start[i] = [-t.half_extent[0] + 1.2, 0.0]
    edge.update_level(0, np.array([-t.half_extent[0] + 0.4, 0.0, 0.3]), back, rng, elapsed_s=2.0)
    edge.update_level(1, np.array([-t.half_extent[0] + 0.8, 0.0, 0.3]), back, rng, elapsed_s=2.0)  # fell
    assert list(edge.levels) == [1, 0]
    fixed = TerrainPlacement(Terrain(parse_terrain(f"rough:{SMALL}")), load_robot("a1"), 2, 20.0)
    assert list(fixed.levels) == [t.rows - 1] * 2  # no curriculum: the terrain as named, the last row
    fixed.start_base(0, rng)
    fixed.update_level(0, fixed.start[0] + [3.0, 0.0], command, rng)
    assert fixed.levels[0] == t.rows - 1


def test_vector_env_reports_levels_and_moves_them():
    from sim.vector import RobotVectorEnv

    env = RobotVectorEnv("Walk-v0", 4, seed=0, robot="a1", terrain=f"rough:curriculum=true,{SMALL}")
    env.reset(seed=0)
    core = env.core
    core.steps[:] = core.spec.episode_steps - 1  # end every episode on the next step
    core.command[:] = [1.0, 0.0, 0.0]  # asked for 10 m; standing still walked ~0: down, clipped at 0
    core.ground.levels[:] = [0, 1, 2, 2]
    _, _, _, truncated, info = env.step(np.zeros((4, 12)))
    assert truncated.all()
    assert list(info["final_info"]["terrain/level"]) == [0, 1, 2, 2]  # the rows the ended episodes were on
    assert info["final_info"]["_terrain/level"].all()
    assert list(core.ground.levels) == [0, 0, 1, 1]  # and the next ones'
    x = core.state.base.position[:, 0]  # each robot started on its new row
    np.testing.assert_allclose(x, core.terrain.tile_center(core.ground.levels, 0)[:, 0], atol=0.3)
    env.close()


def test_sim2sim_the_a1_stands_on_rough_ground_alike_in_both_engines():
    """Zero action on the +-4 cm rough terrain: MuJoCo and PyBullet hold the trunk at the same height to 5 mm
    (measured 1.5-2.2 mm over four starts, as on flat ground: 2.2 mm), standing, above the bumps."""
    from sim.robot import load_robot
    from sim.sim2sim import standing
    from sim.terrain import make_terrain

    a1 = load_robot("a1")
    out = standing(a1, 2.0, "rough", seed=1)
    assert out["terrain"].startswith("rough:amplitude=0.04")
    assert out["height_gap_m"] <= 0.005, out
    start = out["start_height_m"] - a1.base.height  # the highest ground under the feet at the start
    assert start > 0.01  # a bump: the ground was not the plane's
    ground = make_terrain(parse_terrain("rough"))
    for engine in ("mujoco", "pybullet"):
        assert 0.2 < out[engine]["mean_height_last_1s_m"] - float(ground.heights.min()) < 0.34  # standing


def test_the_single_env_evaluates_on_the_terrain_as_named():
    """A curriculum is the vector env's (training); the single env (evaluation) starts on the last row."""
    import gymnasium as gym

    import sim  # noqa: F401  (registers the envs)

    env = gym.make("robot_rl/Walk-v0", robot="a1", terrain=f"stairs:curriculum=true,{SMALL}")
    env.reset(seed=0)
    core = env.unwrapped.core
    assert not core.ground.curriculum and core.ground.levels[0] == core.terrain.rows - 1
    env.close()


def test_height_scan_off_keeps_the_flat_critic_input():
    """`height_scan=false`: the critic's input is the flat ground's size (a run may start --init-from a flat one)."""
    flat = EpisodeCore("Walk-v0", 1, robot="a1", seed=0)
    core = EpisodeCore("Walk-v0", 1, robot="a1", seed=0, terrain=f"rough:height_scan=false,{SMALL}")
    assert core.reset()[1].shape == flat.reset()[1].shape
    flat.close()
    core.close()


def test_an_episode_ends_as_a_time_out_at_the_edge_of_the_field():
    from sim.engines.mujoco_batch import MujocoRollout
    from sim.terrain_curriculum import EDGE_BUFFER

    core = EpisodeCore("Walk-v0", 4, robot="a1", seed=0, terrain=f"rough:{SMALL}")
    core.reset()
    assert isinstance(core.sim, MujocoRollout)
    edge = core.terrain.half_extent[0] - EDGE_BUFFER
    core.sim.state_now[1, core.sim.base_qpos_idx[0]] = edge + 0.05  # robot 1 carried to the edge
    out = core.step(np.zeros((4, 12)))
    assert list(out.truncated) == [False, True, False, False] and not out.terminated.any()
    core.close()


def test_tile_centers_are_the_start_platforms():
    """Every tile's centre is its platform (stairs up: the lowest ground, down: the highest), also where the
    tile size is not a whole number of cells (1.55 m at 0.1 m: built as 1.6 m)."""
    for direction, pick in (("up", np.min), ("down", np.max)):
        t = Terrain(parse_terrain(f"stairs:direction={direction},tile_size=1.55,platform=0.2,rows=3,cols=2,border=0.5"))
        rows, cols = np.meshgrid(np.arange(t.rows), np.arange(t.cols), indexing="ij")
        centers = t.tile_center(rows.ravel(), cols.ravel())
        n, b = t.tile_cells, t.border_cells
        for (r, c), h in zip(zip(rows.ravel(), cols.ravel(), strict=True), t.height_at(centers), strict=True):
            tile = t.heights[b + r * n + 1:b + (r + 1) * n, b + c * n + 1:b + (c + 1) * n]
            assert h == pick(tile), (direction, r, c)

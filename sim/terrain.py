"""Terrain: one height array from a seed and a config, the same heights in both engines.

Why one module with one job: MuJoCo (an `hfield`) and PyBullet (a `GEOM_HEIGHTFIELD`) must put the
same ground under the same (x, y), and the curriculum, the spawn height and the critic's height scan
must read that ground too. So the heights are made once, here, as a numpy array; the engines only
copy it (sim/engines/heightfield.py) and everything else queries `Terrain.height_at`.

The ground is a grid of square tiles (legged_gym's terrain generator): `rows` rows of increasing
difficulty along x, `cols` columns along y, a flat border around them. Row r has difficulty
(r + 1) / rows: its amplitude, slope angle, step or obstacle height are the config's values times
that, so the last row is the terrain as named (`rough` = +-4 cm bumps there). A curriculum
(sim/terrain_curriculum.py) moves each robot between rows; without one robots start on the last row.

Named configs (`NAMED`, each parameter overridable):

* ``flat``: no heightfield at all, the engines' plane, exactly as without a terrain (None here).
* ``rough``: random bumps, uniform in +-`amplitude` m on a grid of `wavelength` m, bilinear between.
* ``slopes``: a pyramid of `angle` degrees around a flat platform at each tile's centre;
  `direction` up (the robot starts in a pit and climbs) or down.
* ``stairs``: pyramid stairs of `step_height` m rise and `step_width` m tread, `direction` up or down.
* ``boxes``: `count` discrete obstacles per tile, `size` m wide, +-`height` m (legged_gym's
  discrete obstacles), off a flat platform at the centre.
* ``mixed``: every kind at once, one kind per column (rough, slopes up, slopes down, stairs up,
  stairs down, boxes; 6 columns unless `cols` says otherwise, repeated past 6), rows of increasing
  difficulty; takes every kind's parameters.

Every config also takes the layout keys (`tile_size`, `resolution`, `rows`, `cols`, `border`,
`platform`), `seed` (the heights are a function of config and seed), `curriculum` (true: robots
move between rows, sim/terrain_curriculum.py) and `height_scan` (default true: the asymmetric critic's
privileged input ends with a height scan around the feet; false keeps it the flat ground's size, so a
run can start `--init-from` a flat run's checkpoint). Written as ``stairs:step_height=0.08,step_width=0.3``,
a YAML file (``kind: stairs`` plus keys) or a mapping; a bad key or value is one ConfigError naming it.

Numpy and PyYAML only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ConfigError
from sim.validation import check_keys, check_number, did_you_mean, load_yaml_mapping, load_yaml_text

KINDS = ("flat", "rough", "slopes", "stairs", "boxes", "mixed")
# Parameters of each kind (the values of the hardest row) and their defaults: the held-out
# terrain is random rough +-4 cm, 15-degree slopes and 8 cm stairs.
KIND_PARAMS: dict[str, dict[str, Any]] = {
    "flat": {},
    "rough": {"amplitude": 0.04, "wavelength": 0.4},
    "slopes": {"angle": 15.0, "direction": "up"},
    "stairs": {"step_height": 0.08, "step_width": 0.3, "direction": "up"},
    "boxes": {"height": 0.08, "size": 0.4, "count": 20},
}
KIND_PARAMS["mixed"] = {k: v for kind in ("rough", "slopes", "stairs", "boxes") for k, v in KIND_PARAMS[kind].items()
                        if k != "direction"}
# The grid (m), the seed and the curriculum switch: keys of every kind.
LAYOUT: dict[str, Any] = {"tile_size": 4.0, "resolution": 0.1, "rows": 5, "cols": 4, "border": 2.0,
                          "platform": 1.0, "seed": 0, "curriculum": False, "height_scan": True}
MIXED_COLUMNS = (("rough", None), ("slopes", "up"), ("slopes", "down"), ("stairs", "up"), ("stairs", "down"),
                 ("boxes", None))
MAX_CELLS = 4_000_000  # samples of one field (16 MB of float32 per MuJoCo model copy): a typo, not a terrain
# Per-key checks: (minimum, maximum, integer, unit); `direction` and `curriculum` are checked on their own.
_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "amplitude": (0.0, 1.0, False, "m"), "wavelength": (0.01, 10.0, False, "m"), "angle": (0.0, 45.0, False, "deg"),
    "step_height": (0.0, 0.5, False, "m"), "step_width": (0.05, 5.0, False, "m"), "height": (0.0, 1.0, False, "m"),
    "size": (0.05, 5.0, False, "m"), "count": (0, 1000, True, "per tile"), "tile_size": (0.5, 50.0, False, "m"),
    "resolution": (0.005, 1.0, False, "m"), "rows": (1, 100, True, ""), "cols": (1, 100, True, ""),
    "border": (0.0, 100.0, False, "m"), "platform": (0.0, 50.0, False, "m"), "seed": (0, 2**32 - 1, True, ""),
}

@dataclass(frozen=True)
class TerrainConfig:
    """A named kind and its parameters, layout included (every key resolved; see the module docstring)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="terrain", compare=False)  # where it came from, for error messages

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    @property
    def curriculum(self) -> bool:
        return bool(self.params["curriculum"])

    def describe(self) -> str:
        """The config as the one-line form `parse_terrain` reads back (for config.yaml, cards and logs)."""
        return self.kind + ":" + ",".join(f"{k}={_text(v)}" for k, v in sorted(self.params.items()))

    def without_curriculum(self) -> TerrainConfig:
        return TerrainConfig(self.kind, {**self.params, "curriculum": False}, self.source)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value) if isinstance(value, float) \
        else str(value)


def parse_terrain(terrain: Any) -> TerrainConfig | None:
    """A TerrainConfig from a name (`rough`), a name with overrides (`stairs:step_height=0.08`), a YAML file,
    a mapping with `kind`, or a TerrainConfig; None for flat ground (None, "flat", or "none").

    Flat is None, not a field of zeros: the engines then build their plane exactly as without a terrain,
    so flat stays bit-identical to what it always was.
    """
    if terrain is None or isinstance(terrain, TerrainConfig):
        return None if isinstance(terrain, TerrainConfig) and terrain.kind == "flat" else terrain
    if isinstance(terrain, Mapping):
        return _from_mapping(dict(terrain), "terrain")
    text = str(terrain).strip()
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        if not Path(text).is_file():
            raise ConfigError(text, "", "no such terrain file; give a terrain name "
                              f"({', '.join(KINDS)}), NAME:key=value,... or an existing YAML file")
        return _from_mapping(load_yaml_mapping(text, "terrain"), text)
    name, _, rest = text.partition(":")
    data: dict[str, Any] = {"kind": name.strip()}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"terrain '{text}'", item, "expected key=value (e.g. stairs:step_height=0.08)")
        # The project's YAML loader: 8e-2 is a number, as in every file (PyYAML's own reads it as a string).
        data[key.strip()] = load_yaml_text(value.strip(), f"terrain '{text}'") if value.strip() else ""
    return _from_mapping(data, f"terrain '{text}'")


def _from_mapping(data: dict[str, Any], source: str) -> TerrainConfig | None:
    kind = data.pop("kind", None)
    if kind in (None, "none") and not data:
        return None
    if kind not in KINDS:
        raise ConfigError(source, "kind", f"got {kind!r}; expected one of {', '.join(KINDS)}"
                          f"{did_you_mean(kind, KINDS)}")
    if kind == "flat" and not data:
        return None
    valid = {**KIND_PARAMS[kind], **LAYOUT}
    if kind == "mixed":
        valid["cols"] = len(MIXED_COLUMNS)  # one column per kind, unless told otherwise
    check_keys(data, valid, source, what=f"{kind} terrain key")
    params = {**valid, **data}
    for key, value in data.items():
        if key == "direction":
            if value not in ("up", "down"):
                raise ConfigError(source, key, f"got {value!r}; expected up or down")
        elif key in ("curriculum", "height_scan"):
            if not isinstance(value, bool):
                raise ConfigError(source, key, f"got {value!r}; expected true or false")
        else:
            lo, hi, integer, unit = _RANGES[key]
            number = check_number(value, source, key, minimum=lo, maximum=hi, integer=integer, unit=unit)
            params[key] = int(number) if integer else number
    if kind == "flat":
        return None  # layout keys alone change nothing on a plane
    nx, ny = _samples(params)
    if nx * ny > MAX_CELLS:
        raise ConfigError(source, "resolution", f"{nx} x {ny} samples is more than {MAX_CELLS}; use fewer or "
                          "smaller tiles or a coarser resolution")
    return TerrainConfig(kind, params, source)


def _samples(p: Mapping[str, Any]) -> tuple[int, int]:
    """(samples along x, along y) of the whole field, border included."""
    res = p["resolution"]
    tile = int(round(p["tile_size"] / res))
    border = int(round(p["border"] / res))
    return p["rows"] * tile + 2 * border + 1, p["cols"] * tile + 2 * border + 1


class Terrain:
    """The heights of a TerrainConfig: `heights[ix, iy]` (m) on a grid of `resolution` m centred on the origin.

    Tile (row, col) has its centre at `tile_center(row, col)`; rows run along x, columns along y.
    """

    def __init__(self, config: TerrainConfig):
        self.config = config
        p = config.params
        self.resolution = float(p["resolution"])
        self.rows, self.cols = int(p["rows"]), int(p["cols"])
        self.tile_cells = int(round(float(p["tile_size"]) / self.resolution))
        self.tile_size = self.tile_cells * self.resolution  # as built: whole cells (1.55 m at 0.1 m is 1.6 m)
        self.border_cells = int(round(p["border"] / self.resolution))
        nx, ny = _samples(p)
        self.heights = np.zeros((nx, ny))
        rng = np.random.default_rng(int(p["seed"]))
        for r in range(self.rows):
            for c in range(self.cols):
                kind, direction = _tile_kind(config.kind, c, p.get("direction", "up"))
                x0 = self.border_cells + r * self.tile_cells
                y0 = self.border_cells + c * self.tile_cells
                tile = _tile(kind, direction, (r + 1) / self.rows, p, self.tile_cells + 1, self.resolution, rng)
                self.heights[x0:x0 + self.tile_cells + 1, y0:y0 + self.tile_cells + 1] = tile
        self.half_extent = np.array([(nx - 1) / 2, (ny - 1) / 2]) * self.resolution  # the field spans +-this

    @property
    def difficulty(self) -> np.ndarray:
        """Each row's difficulty, (rows,): (r + 1) / rows."""
        return (np.arange(self.rows) + 1.0) / self.rows

    def tile_center(self, row: np.ndarray | int, col: np.ndarray | int) -> np.ndarray:
        """World (x, y) of the centre of tile (row, col), (..., 2)."""
        start = self.border_cells * self.resolution - self.half_extent
        x = start[0] + (np.asarray(row, float) + 0.5) * self.tile_size
        y = start[1] + (np.asarray(col, float) + 0.5) * self.tile_size
        return np.stack(np.broadcast_arrays(x, y), axis=-1)

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Ground height (m) under world points `xy` (..., 2), on the triangles both engines build.

        Each grid cell is two triangles split along the diagonal from (ix, iy) to (ix+1, iy+1), as MuJoCo's
        hfield and Bullet's heightfield both triangulate it (tests/test_terrain.py ray-casts both); points
        off the field read the nearest edge.
        """
        xy = np.asarray(xy, float)
        g = (xy + self.half_extent) / self.resolution
        nx, ny = self.heights.shape
        gx = np.clip(g[..., 0], 0.0, nx - 1.000001)
        gy = np.clip(g[..., 1], 0.0, ny - 1.000001)
        ix, iy = np.floor(gx).astype(np.intp), np.floor(gy).astype(np.intp)
        fx, fy = gx - ix, gy - iy
        # One formula for both triangles, three gathers from the flat array (the critic's scan runs this at
        # every step): below the diagonal (fx >= fy) the middle corner is (10) and (u, v) = (fx, fy), above
        # it (01) and (fy, fx); h00 + u (hm - h00) + v (h11 - hm) is then each triangle's plane, term for term.
        lower = fx >= fy
        h, k = self.heights.ravel(), ix * ny + iy  # a view: heights is C-contiguous
        h00, h11 = h.take(k), h.take(k + ny + 1)
        hm = h.take(np.where(lower, k + ny, k + 1))
        u, v = np.where(lower, fx, fy), np.where(lower, fy, fx)
        return h00 + u * (hm - h00) + v * (h11 - hm)

    def max_height_near(self, xy: np.ndarray, radius: float) -> np.ndarray:
        """The highest sample within a square of +-radius around each point (..., 2): where feet can rest."""
        xy = np.asarray(xy, float)
        out = np.empty(xy.shape[:-1])
        flat_out = out.reshape(-1)
        nx, ny = self.heights.shape
        ex, ey, res = float(self.half_extent[0]), float(self.half_extent[1]), self.resolution
        # Python floats per point (it runs at every robot's reset, usually for one point): small numpy arrays
        # cost ~10x more here than the arithmetic.
        for k, (x, y) in enumerate(xy.reshape(-1, 2).tolist()):
            x0 = min(max(math.floor((x - radius + ex) / res), 0), nx - 1)
            x1 = min(max(math.ceil((x + radius + ex) / res), 0), nx - 1)
            y0 = min(max(math.floor((y - radius + ey) / res), 0), ny - 1)
            y1 = min(max(math.ceil((y + radius + ey) / res), 0), ny - 1)
            flat_out[k] = self.heights[x0:x1 + 1, y0:y1 + 1].max()
        return out


def _tile_kind(kind: str, col: int, direction: str) -> tuple[str, str]:
    if kind == "mixed":
        k, d = MIXED_COLUMNS[col % len(MIXED_COLUMNS)]
        return k, d or "up"
    return kind, direction


def _tile(kind: str, direction: str, difficulty: float, p: Mapping[str, Any], n: int, res: float,
          rng: np.random.Generator) -> np.ndarray:
    """One tile's heights, (n, n) samples `res` m apart, at `difficulty` in (0, 1]."""
    coords = (np.arange(n) - (n - 1) / 2) * res
    x, y = np.meshgrid(coords, coords, indexing="ij")
    half = (n - 1) / 2 * res
    platform = min(float(p["platform"]) / 2, half)
    # Distance from the platform's edge in the max-norm: pyramids are square, as legged_gym's.
    ring = np.maximum(np.maximum(np.abs(x), np.abs(y)) - platform, 0.0)
    # up: the robot starts low, on the platform, and climbs outwards; down: it starts on top
    if kind == "rough":
        amp, wave = p["amplitude"] * difficulty, float(p["wavelength"])
        m = max(2, int(math.ceil(2 * half / wave)) + 1)
        coarse = rng.uniform(-amp, amp, (m, m))
        grid = np.linspace(-half, half, m)
        return _bilinear(coarse, grid, x, y)
    if kind == "slopes":
        h = math.tan(math.radians(p["angle"] * difficulty)) * ring
        return h if direction == "up" else h.max() - h
    if kind == "stairs":
        step = np.floor(ring / float(p["step_width"])) + (ring > 0)
        h = step * p["step_height"] * difficulty
        return h if direction == "up" else h.max() - h
    if kind == "boxes":
        h = np.zeros((n, n))
        height, size = p["height"] * difficulty, float(p["size"])
        for _ in range(int(p["count"])):
            w, d = rng.uniform(size / 2, size, 2)
            cx, cy = rng.uniform(-half, half, 2)
            box = (np.abs(x - cx) <= w / 2) & (np.abs(y - cy) <= d / 2)
            h[box] = rng.choice([-height, -height / 2, height / 2, height])
        h[np.maximum(np.abs(x), np.abs(y)) <= platform] = 0.0
        return h
    raise ValueError(f"unknown terrain kind '{kind}'")  # parse_terrain refuses it first


def _bilinear(coarse: np.ndarray, grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`coarse` (m, m) on `grid` (both axes) sampled at points (x, y) bilinearly."""
    step = grid[1] - grid[0]
    gx, gy = (x - grid[0]) / step, (y - grid[0]) / step
    ix = np.clip(np.floor(gx).astype(int), 0, len(grid) - 2)
    iy = np.clip(np.floor(gy).astype(int), 0, len(grid) - 2)
    fx, fy = np.clip(gx - ix, 0, 1), np.clip(gy - iy, 0, 1)
    return ((1 - fx) * (1 - fy) * coarse[ix, iy] + fx * (1 - fy) * coarse[ix + 1, iy]
            + (1 - fx) * fy * coarse[ix, iy + 1] + fx * fy * coarse[ix + 1, iy + 1])


_CACHE: dict[str, Terrain] = {}


def make_terrain(config: TerrainConfig) -> Terrain:
    """The Terrain of `config`, built once per process per config (a vector env's engines share it)."""
    key = config.describe()
    if key not in _CACHE:
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = Terrain(config)
    return _CACHE[key]


__all__ = ["KINDS", "KIND_PARAMS", "LAYOUT", "Terrain", "TerrainConfig", "make_terrain", "parse_terrain"]

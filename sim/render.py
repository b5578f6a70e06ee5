"""Offscreen rendering of a simulated robot: MuJoCo's renderer, or PyBullet's TinyRenderer.

Why a module of its own: rendering needs OpenGL (MuJoCo) or costs milliseconds a frame, and the
physics, the vector env and the deploy runtime must never pay for it or depend on it. The env
(`sim.tasks.env.RobotTaskEnv`, ``render_mode="rgb_array"``) builds a `SceneRenderer` on its first
`render()`; the video, eval, replay and training commands use the same classes.

* MuJoCo (`MujocoView`): a *visual copy* of the robot's model (the engine's `build_spec` plus a
  checkered floor, a sky and lights: nothing the physics model carries) is posed from the engine's
  qpos each frame, so rendering never touches the simulated model. Markers (the reach goal, the
  commanded and measured velocity) are geoms added to the scene after `update_scene`; ghosts (a
  second trajectory, e.g. the simulator's open-loop prediction beside a robot log) are the same
  model posed by another MjData and added with `mjv_addGeoms`, made translucent.
* PyBullet (`PybulletView`): ``getCameraImage`` with ``ER_TINY_RENDERER`` (pure CPU, no OpenGL) on
  the engine's own client; markers are visual-only bodies (no collision shape, no mass: they do not
  touch the physics).

Cameras look at the model's centre (fixed-base robots) or follow the floating base (a smoothed
look-at point at a fixed height, fixed world azimuth: the ground visibly moves under a walker).
MuJoCo needs an offscreen OpenGL: `MUJOCO_GL=egl` (set by `sim/__init__.py` when no display is
present and libEGL is found) works headless; without one, `RenderUnavailableError` says what to install.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from sim.errors import SimError
from sim.robot import RobotSpec

WIDTH, HEIGHT = 640, 480
GHOST_RGBA = ((0.2, 0.9, 1.0, 0.4), (1.0, 0.25, 0.85, 0.4))  # nominal model (cyan), calibrated (magenta)
COMMAND_RGBA = (0.1, 0.8, 0.2, 0.9)  # what was asked: goal, commanded velocity
MEASURED_RGBA = (0.9, 0.2, 0.2, 0.9)  # what the robot did: measured velocity


class RenderUnavailableError(SimError):
    """No offscreen OpenGL context could be made for MuJoCo (one line: what to set and install)."""


def gl_hint() -> str:
    """What to do when MuJoCo has no offscreen OpenGL, naming the backend MuJoCo actually chose (it reads
    MUJOCO_GL once, when `mujoco` is first imported)."""
    try:
        from mujoco.rendering.classic import gl_context

        backend = gl_context.GLContext.__module__.removeprefix("mujoco.").split(".")[0]
    except Exception:  # noqa: BLE001 - a hint must not fail
        backend = "unknown"
    env = os.environ.get("MUJOCO_GL", "") or "unset"
    return (f"MuJoCo cannot render offscreen (OpenGL backend '{backend}', MUJOCO_GL={env} when mujoco was "
            "imported): set MUJOCO_GL=egl before starting Python and install EGL (Debian/Ubuntu: apt install "
            "libegl1 libgl1; an NVIDIA driver brings its own), or MUJOCO_GL=osmesa with libosmesa6 and PyOpenGL; "
            "or render with --engine pybullet (TinyRenderer, no OpenGL)")


@dataclass(frozen=True)
class Marker:
    """Something drawn into the scene that is not the robot: a sphere at `a`, or an arrow from `a` to `b`."""

    kind: str  # "sphere" | "arrow"
    a: np.ndarray
    b: np.ndarray | None = None
    rgba: tuple[float, float, float, float] = COMMAND_RGBA
    size: float = 0.02  # sphere radius, arrow shaft radius (m)


# -- what to draw for a task: markers from the task's command and the robot's state ---------------
def yaw_of(quat_wxyz: np.ndarray) -> float:
    w, x, y, z = (float(v) for v in quat_wxyz)
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def task_markers(logic, robot: RobotSpec, command: np.ndarray, state) -> list[Marker]:
    """The goal or velocity command of one robot as scene markers (none for a task without one).

    Why by capability, not by task name: a reach task (a logic with `goal_distance`) has a 3-D goal
    as its command; a floating-base task with a 3-value command (forward, lateral, yaw rate, base
    frame) is velocity tracking. The commanded planar velocity is a green arrow from above the base,
    the measured one red, both in the world at the base's heading.
    """
    command = np.asarray(command, dtype=float).ravel()
    if hasattr(logic, "goal_distance") and command.size == 3:
        return [Marker("sphere", command.copy(), size=0.03)]
    if robot.base is not None and command.size == 3 and state is not None and state.base is not None:
        base = state.base
        pos = np.asarray(base.position, dtype=float).reshape(-1)[:3]
        yaw = yaw_of(np.asarray(base.orientation).reshape(-1)[:4])
        c, s = np.cos(yaw), np.sin(yaw)
        start = pos + np.array([0.0, 0.0, 0.18])
        cmd_world = np.array([c * command[0] - s * command[1], s * command[0] + c * command[1], 0.0])
        v = np.asarray(base.linear_velocity, dtype=float).reshape(-1)[:3].copy()
        v[2] = 0.0
        markers = [Marker("sphere", start, rgba=(0.9, 0.9, 0.9, 0.9), size=0.015)]
        if np.linalg.norm(cmd_world) > 1e-3:  # 1 m/s is a 0.6 m arrow
            markers.append(Marker("arrow", start, start + 0.6 * cmd_world, COMMAND_RGBA, 0.02))
        if np.linalg.norm(v) > 1e-3:
            markers.append(Marker("arrow", start, start + 0.6 * v, MEASURED_RGBA, 0.013))
        return markers
    return []


class FollowCamera:
    """Where the camera looks: the model's centre, or a floating base followed with a little lag.

    The look-at point moves a fraction `smoothing` of the way to the base each frame (a walker's trunk
    bobs at the step frequency; a camera that copies it shakes the whole picture), at a fixed height.
    """

    def __init__(self, center: np.ndarray, distance: float, azimuth: float, elevation: float,
                 follow: bool, smoothing: float = 0.3):
        self.center = np.asarray(center, dtype=float).copy()
        self.distance, self.azimuth, self.elevation = distance, azimuth, elevation
        self.follow, self.smoothing = follow, smoothing
        self.lookat = self.center.copy()
        self._fresh = True

    def reset(self) -> None:
        self._fresh = True

    def update(self, base_position: np.ndarray | None) -> np.ndarray:
        if self.follow and base_position is not None:
            target = np.array([base_position[0], base_position[1], self.center[2]])
            self.lookat = target if self._fresh else self.lookat + self.smoothing * (target - self.lookat)
            self._fresh = False
        return self.lookat


def camera_for(robot: RobotSpec, extent: float, center: np.ndarray) -> FollowCamera:
    """A camera framing the robot: a 3/4 view from its front right (+x, -y), 20 degrees above."""
    if robot.base is not None:
        # Framed by the standing height (the joints' full swings would put a walker far away).
        return FollowCamera(np.array([0.0, 0.0, 0.6 * robot.base.height]), 4.7 * robot.base.height, 135.0, -20.0,
                            follow=True)
    return FollowCamera(center, 1.5 * extent, 135.0, -20.0, follow=False)


# -- MuJoCo -------------------------------------------------------------------------------------
def visual_spec(robot: RobotSpec, terrain=None):
    """The robot's MjSpec (the physics one, on `terrain` if it has one: sim/terrain.py) dressed for a camera:
    floor, sky, lights, offscreen size.

    Only world-fixed, non-colliding things are added, so qpos has the physics model's layout and
    the engine's qpos poses this model as it is.
    """
    import mujoco

    from sim.engines.mujoco import FLOOR, build_spec

    spec = build_spec(robot, terrain)
    spec.compiler.discardvisual = False  # else the compiler drops the textures and materials added below
    sky = spec.add_texture()
    sky.name, sky.type, sky.builtin = "sky", mujoco.mjtTexture.mjTEXTURE_SKYBOX, mujoco.mjtBuiltin.mjBUILTIN_GRADIENT
    sky.rgb1, sky.rgb2, sky.width, sky.height = [0.35, 0.5, 0.7], [0.05, 0.05, 0.1], 256, 1536
    grid = spec.add_texture()
    grid.name, grid.type, grid.builtin = "grid", mujoco.mjtTexture.mjTEXTURE_2D, mujoco.mjtBuiltin.mjBUILTIN_CHECKER
    grid.rgb1, grid.rgb2, grid.width, grid.height = [0.25, 0.3, 0.35], [0.18, 0.22, 0.26], 300, 300
    grid.mark, grid.markrgb = mujoco.mjtMark.mjMARK_EDGE, [0.5, 0.55, 0.6]
    mat = spec.add_material()
    mat.name = "grid"
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "grid"
    mat.texrepeat, mat.texuniform, mat.reflectance = [1.0, 1.0], True, 0.0  # a mirror floor doubles the robot
    floor = next((g for g in spec.geoms if g.name == FLOOR), None)
    if floor is None:  # a fixed-base robot: a floor to stand on for the eye only (no contact)
        floor = spec.worldbody.add_geom()
        floor.type = mujoco.mjtGeom.mjGEOM_PLANE
        floor.contype = floor.conaffinity = 0
        floor.size = [0.0, 0.0, 0.05]
        floor.pos = [0.0, 0.0, floor_height(robot)]
    if terrain is None:
        floor.size = [0.0, 0.0, 0.05]
    floor.material = "grid"
    light = spec.worldbody.add_light()
    light.pos, light.dir, light.castshadow = [0.0, 0.0, 4.0], [0.0, 0.0, -1.0], True
    light.diffuse = [0.7, 0.7, 0.7]
    if robot.base is not None:
        light.mode = mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM
        light.targetbody = robot.base.link
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.5, 0.5, 0.5]
    spec.visual.global_.offwidth, spec.visual.global_.offheight = 1920, 1080
    spec.visual.quality.offsamples = 0  # no multisampling: ~2x cheaper frames on a software renderer
    spec.visual.quality.shadowsize = 2048
    return spec


def _geom_bounds(model) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of the box around every non-plane geom (their bounding spheres) at qpos0 and
    with each joint alone at the ends of its range: a cart that runs along its rail stays in view, and
    a hanging pole stays above the floor."""
    import mujoco

    data = mujoco.MjData(model)
    plane, slide, hinge = (int(mujoco.mjtGeom.mjGEOM_PLANE), int(mujoco.mjtJoint.mjJNT_SLIDE),
                           int(mujoco.mjtJoint.mjJNT_HINGE))  # int: numpy ints do not compare equal to the enums
    keep = [i for i in range(model.ngeom) if int(model.geom_type[i]) != plane]
    if not keep:
        return np.zeros(3), np.zeros(3)
    poses = [model.qpos0.copy()]
    for j in range(model.njnt):  # each joint alone at the ends of its range (a hinge without one: a full turn)
        kind = int(model.jnt_type[j])
        if kind not in (slide, hinge):
            continue
        if model.jnt_limited[j]:
            values = list(model.jnt_range[j])
        else:
            values = [] if kind == slide else [np.pi / 2, np.pi, -np.pi / 2]
        for value in values:
            q = model.qpos0.copy()
            q[model.jnt_qposadr[j]] = value
            poses.append(q)
    lows, highs = [], []
    r = model.geom_rbound[keep][:, None]
    for q in poses:
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        lows.append((data.geom_xpos[keep] - r).min(axis=0))
        highs.append((data.geom_xpos[keep] + r).max(axis=0))
    return np.min(lows, axis=0), np.max(highs, axis=0)


_CAMERAS: dict[str, tuple[np.ndarray, float, float]] = {}


def robot_camera(robot: RobotSpec) -> FollowCamera:
    """The robot's camera, the same in both engines (framed from its MuJoCo model's geoms): a video of
    one engine and of the other show the robot at the same place and size."""
    key = str(robot.yaml_path)
    if key not in _CAMERAS:
        from sim.engines.mujoco import build_spec

        low, high = _geom_bounds(build_spec(robot).compile())
        floor = 0.0 if robot.base is not None else float(min(0.0, low[2] - 0.02))
        _CAMERAS[key] = ((low + high) / 2, float(np.linalg.norm(high - low)) / 2, floor)
    center, extent, _ = _CAMERAS[key]
    return camera_for(robot, extent, center)


def floor_height(robot: RobotSpec) -> float:
    """z of the (visual) floor: 0, or just under a fixed-base robot that reaches below its base."""
    robot_camera(robot)
    return _CAMERAS[str(robot.yaml_path)][2]


class MujocoView:
    """Renders MuJoCo states (qpos vectors of the robot's model) with markers and translucent ghosts."""

    def __init__(self, robot: RobotSpec, width: int = WIDTH, height: int = HEIGHT, ghosts: int = 0,
                 shadows: bool = False, terrain=None):
        """`shadows`: ~3x the cost of a frame on a software renderer (llvmpipe, A1 at 640x480: ~60-80 ms
        against ~22 ms); worth it for a README's GIF, where the feet's contact with the floor shows.
        `terrain`: the engine's (sim.terrain.Terrain), drawn as its ground; None: the plane."""
        import mujoco

        self.mj, self.robot = mujoco, robot
        self.model = visual_spec(robot, terrain).compile()
        self.data = mujoco.MjData(self.model)
        self.ghost_data = [mujoco.MjData(self.model) for _ in range(ghosts)]
        try:
            self.renderer = mujoco.Renderer(self.model, height, width)
        except Exception as exc:  # FatalError, ImportError, AttributeError, RuntimeError: no usable GL
            raise RenderUnavailableError(f"{gl_hint()} ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") \
                from exc
        flags = self.renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = shadows
        self.options = mujoco.MjvOption()
        self.perturb = mujoco.MjvPerturb()
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.view = robot_camera(robot)
        self._base_qpos = None
        if robot.base is not None:
            free = self.model.body(robot.base.link).jntadr[0]
            self._base_qpos = int(self.model.jnt_qposadr[free])

    def reset_camera(self) -> None:
        self.view.reset()

    def _pose(self, data, qpos: np.ndarray) -> None:
        data.qpos[:] = qpos
        self.mj.mj_kinematics(self.model, data)  # positions and orientations are all a picture needs
        self.mj.mj_camlight(self.model, data)

    def render(self, qpos: np.ndarray, markers: list[Marker] = (), ghosts: list[np.ndarray] = (),
               ghost_rgba: tuple = GHOST_RGBA) -> np.ndarray:
        """An (H, W, 3) uint8 picture of the robot at `qpos` (and `ghosts`, translucent)."""
        mj = self.mj
        self._pose(self.data, qpos)
        base = None if self._base_qpos is None else qpos[self._base_qpos:self._base_qpos + 3]
        cam = self.camera
        cam.lookat[:] = self.view.update(base)
        cam.distance, cam.azimuth, cam.elevation = self.view.distance, self.view.azimuth, self.view.elevation
        self.renderer.update_scene(self.data, cam, self.options)
        scene = self.renderer.scene
        for k, ghost in enumerate(ghosts):
            gdata = self.ghost_data[k]
            self._pose(gdata, ghost)
            first = scene.ngeom
            mj.mjv_addGeoms(self.model, gdata, self.options, self.perturb, mj.mjtCatBit.mjCAT_DYNAMIC, scene)
            rgba = ghost_rgba[k % len(ghost_rgba)]
            for g in range(first, scene.ngeom):
                scene.geoms[g].rgba[:] = rgba
                scene.geoms[g].matid = -1  # a material's texture would hide the tint
                scene.geoms[g].reflectance = 0.0
        for m in markers:
            _add_marker(mj, scene, m)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()


def _add_marker(mj, scene, marker: Marker) -> None:
    if scene.ngeom >= scene.maxgeom:
        return
    geom = scene.geoms[scene.ngeom]
    rgba = np.asarray(marker.rgba, dtype=np.float32)
    if marker.kind == "sphere":
        mj.mjv_initGeom(geom, mj.mjtGeom.mjGEOM_SPHERE, np.full(3, marker.size), np.asarray(marker.a, float),
                        np.eye(3).ravel(), rgba)
    else:
        mj.mjv_initGeom(geom, mj.mjtGeom.mjGEOM_ARROW, np.zeros(3), np.zeros(3), np.eye(3).ravel(), rgba)
        mj.mjv_connector(geom, mj.mjtGeom.mjGEOM_ARROW, marker.size, np.asarray(marker.a, float),
                         np.asarray(marker.b, float))
    geom.category = mj.mjtCatBit.mjCAT_DECOR
    scene.ngeom += 1


# -- PyBullet -----------------------------------------------------------------------------------
class PybulletView:
    """Renders a PyBullet engine's current state with TinyRenderer (CPU, no OpenGL)."""

    def __init__(self, engine, width: int = WIDTH, height: int = HEIGHT, shadows: bool = False):
        import pybullet as pb

        self.pb, self.engine, self.width, self.height, self.shadows = pb, engine, width, height, shadows
        robot = engine.robot
        self.view = robot_camera(robot)
        self._floor = -1
        if robot.base is None:  # a floor for the eye (the fixed-base robots' physics has none): no collision shape
            shape = pb.createVisualShape(pb.GEOM_BOX, halfExtents=[4.0, 4.0, 0.001], rgbaColor=[0.55, 0.6, 0.65, 1],
                                         physicsClientId=engine.client)
            self._floor = pb.createMultiBody(0.0, -1, shape, [0, 0, floor_height(robot) - 0.001],
                                             physicsClientId=engine.client)
        self._markers: list[int] = []
        self._shapes: dict[tuple, int] = {}
        self.projection = pb.computeProjectionMatrixFOV(45.0, width / height, 0.05, 50.0)

    def reset_camera(self) -> None:
        self.view.reset()

    def _marker_body(self, k: int, marker: Marker) -> None:
        """Marker k as a visual-only body (created once per shape, then moved): collision shape -1, mass 0."""
        pb, c = self.pb, self.engine.client
        length = 0.0 if marker.b is None else float(np.linalg.norm(np.subtract(marker.b, marker.a)))
        key = (marker.kind, marker.rgba, marker.size, round(length, 2))
        if marker.kind == "sphere":
            pos, orn = list(marker.a), [0, 0, 0, 1]
        else:  # a cylinder from a to b (TinyRenderer draws no arrow heads)
            d = np.subtract(marker.b, marker.a)
            pos = list(np.asarray(marker.a) + d / 2)
            orn = _quat_z_to(d / max(length, 1e-9))
        while len(self._markers) <= k:
            self._markers.append(-1)
        if self._markers[k] >= 0 and self._shapes.get(k) != key:
            pb.removeBody(self._markers[k], physicsClientId=c)
            self._markers[k] = -1
        if self._markers[k] < 0:
            if marker.kind == "sphere":
                shape = pb.createVisualShape(pb.GEOM_SPHERE, radius=marker.size, rgbaColor=marker.rgba,
                                             physicsClientId=c)
            else:
                shape = pb.createVisualShape(pb.GEOM_CYLINDER, radius=marker.size, length=max(length, 1e-3),
                                             rgbaColor=marker.rgba, physicsClientId=c)
            self._markers[k] = pb.createMultiBody(0.0, -1, shape, pos, orn, physicsClientId=c)
            self._shapes[k] = key
        else:
            pb.resetBasePositionAndOrientation(self._markers[k], pos, orn, physicsClientId=c)

    def render(self, markers: list[Marker] = ()) -> np.ndarray:
        pb, engine = self.pb, self.engine
        c = engine.client
        for k, m in enumerate(markers):
            self._marker_body(k, m)
        for k in range(len(markers), len(self._markers)):  # markers of an earlier frame, unused now
            if self._markers[k] >= 0:
                pb.resetBasePositionAndOrientation(self._markers[k], [0, 0, -100], [0, 0, 0, 1], physicsClientId=c)
        base = None
        if engine.robot.base is not None:
            base = np.asarray(pb.getBasePositionAndOrientation(engine.body, physicsClientId=c)[0])
        lookat = self.view.update(base)
        # PyBullet's yaw is MuJoCo's azimuth - 90 degrees (tests/test_render.py checks both put the goal at one pixel).
        view = pb.computeViewMatrixFromYawPitchRoll(list(lookat), self.view.distance, self.view.azimuth - 90.0,
                                                    self.view.elevation, 0.0, 2, physicsClientId=c)
        _, _, rgba, _, _ = pb.getCameraImage(self.width, self.height, view, self.projection,
                                             renderer=pb.ER_TINY_RENDERER, shadow=int(self.shadows),
                                             lightDirection=[1.0, 1.0, 2.0], physicsClientId=c)
        return np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3].copy()

    def close(self) -> None:
        pb, c = self.pb, self.engine.client
        if pb.isConnected(c):
            for body in [*self._markers, self._floor]:
                if body >= 0:
                    pb.removeBody(body, physicsClientId=c)
        self._markers, self._floor = [], -1


def _quat_z_to(direction: np.ndarray) -> list[float]:
    """Quaternion (x, y, z, w) turning +z onto the unit vector `direction`."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, direction)
    s, c = float(np.linalg.norm(axis)), float(np.dot(z, direction))
    if s < 1e-9:
        return [0.0, 0.0, 0.0, 1.0] if c > 0 else [1.0, 0.0, 0.0, 0.0]
    angle = np.arctan2(s, c)
    axis = axis / s * np.sin(angle / 2)
    return [float(axis[0]), float(axis[1]), float(axis[2]), float(np.cos(angle / 2))]


# -- an env's frame --------------------------------------------------------------------------------
class SceneRenderer:
    """Renders one `RobotTaskEnv` (its engine, command and state): what ``env.render()`` returns."""

    def __init__(self, env, width: int = WIDTH, height: int = HEIGHT, shadows: bool = False):
        self.env = env
        engine = env.engine
        if engine.name == "mujoco":
            self.view: MujocoView | PybulletView = MujocoView(env.robot, width, height, shadows=shadows,
                                                              terrain=env.core.terrain)
        else:
            self.view = PybulletView(engine, width, height, shadows=shadows)

    def reset(self) -> None:
        self.view.reset_camera()

    def render(self) -> np.ndarray:
        env = self.env
        state = env.core.state.row(0) if env.core.state is not None else None
        markers = task_markers(env.logic, env.robot, env.core.command[0], state)
        if isinstance(self.view, MujocoView):
            return self.view.render(env.engine.data.qpos, markers)
        return self.view.render(markers)

    def close(self) -> None:
        self.view.close()


__all__ = ["GHOST_RGBA", "Marker", "MujocoView", "PybulletView", "RenderUnavailableError", "SceneRenderer",
           "gl_hint", "task_markers", "visual_spec"]

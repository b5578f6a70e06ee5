"""Robot descriptions: `sim/robots/<name>/robot.yaml` (+ its URDF) as one typed `RobotSpec`.

Every layer reads the robot from here: the engines build their models from it, tasks scale
actions with it, the runtime's SafetyFilter takes its limits from it, calibration names its
parameters after it. Imports only the standard library, numpy-free, and yaml, so a deploy
machine without a simulator can load it.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.packages import PackageResolver, resolve_mesh_files
from sim.robot_tasks import ReachSettings, WalkSettings, parse_reach, parse_walk
from sim.urdf import Urdf, engine_urdf_text, read_urdf
from sim.validation import (
    base60_hint,
    check_interval,
    check_keys,
    check_number,
    did_you_mean,
    joint_pose,
    load_yaml_file,
)

ROBOTS_DIR = Path(__file__).resolve().parent / "robots"
JOINT_TYPES = ("prismatic", "revolute", "continuous")
# Units of (position, velocity, effort) by joint type, for the messages of out-of-range values.
_UNITS = {"prismatic": ("m", "m/s", "N"), "revolute": ("rad", "rad/s", "N*m"), "continuous": ("rad", "rad/s", "N*m")}
ACTUATOR_TYPES = ("force", "position")
# The keys each mapping of robot.yaml may hold: any other is refused, naming the nearest of these
# (a typo such as `velocity_limt:` must not leave the URDF's limit in force unseen).
TOP_KEYS = ("name", "description", "urdf", "control_hz", "physics_dt", "integrator", "contacts", "end_effector",
            "joints", "actuators", "nominal", "base", "imu", "feet", "floor", "default_pose", "packages", "held",
            "reach", "walk")
JOINT_KEYS = ("name", "type", "position_limits", "velocity_limit", "effort_limit")
ACTUATOR_KEYS = ("name", "joint", "type", "gain", "kp", "kd", "effort_limit")
# Rates a simulator and a control loop can run at: a control step of more than MAX_SUBSTEPS physics
# steps (or a physics_dt under MIN_PHYSICS_DT) is a unit slip, and would allocate per-substep buffers
# of that size for every env.
MAX_CONTROL_HZ = 10_000.0
MIN_PHYSICS_DT, MAX_PHYSICS_DT = 1e-5, 0.1
MAX_SUBSTEPS = 1000


@dataclass(frozen=True)
class JointSpec:
    """One actuated or passive joint, with the limits the safety layer enforces."""

    name: str
    type: str
    position_limits: tuple[float, float] | None  # None: unlimited (continuous)
    velocity_limit: float
    effort_limit: float


@dataclass(frozen=True)
class ActuatorSpec:
    """How a command becomes a joint force, identically in every engine.

    force:    tau = clip(gain * u, +-effort_limit)
    position: tau = clip(gain * (kp * (u - q) - kd * qdot), +-effort_limit)
    `gain`, `kp` and `kd` here are the nominal values; the parameter vocabulary can change them.
    """

    name: str
    joint: str
    type: str
    gain: float
    kp: float
    kd: float
    effort_limit: float


@dataclass(frozen=True)
class RobotSpec:
    name: str
    description: str
    root: Path  # folder holding robot.yaml
    yaml_path: Path
    urdf_path: Path
    control_hz: float
    physics_dt: float
    contacts: bool
    joints: tuple[JointSpec, ...]
    actuators: tuple[ActuatorSpec, ...]
    nominal: dict[str, float]  # every parameter of the vocabulary -> nominal value
    end_effector: str | None = None
    urdf: Urdf = field(repr=False, default=None)  # type: ignore[assignment]
    base: BaseSpec | None = None  # None: the URDF root is fixed to the world
    default_pose: tuple[float, ...] | None = None  # joint positions an action of 0 means (legged robots)
    gantry: BaseSpec | None = None  # set by `suspended()`: the floating base this robot has when free
    # How both engines integrate velocity-proportional forces (joint damping, the PD servos' kd):
    # "euler" explicitly (the default), "implicit" at the end-of-step velocity (see INTEGRATORS).
    integrator: str = "euler"
    # robot.yaml `reach:` / `walk:` (sim/robot_tasks.py): what this robot overrides of the tasks written for
    # its kind (sim/tasks/reach.py, sim/tasks/walk.py); None: the task derives everything from the robot.
    reach: ReachSettings | None = None
    walk: WalkSettings | None = None
    # URDF joints robot.yaml does not list (grippers, mimic joints) -> the position both engines hold
    # them fixed at (robot.yaml `held:`, else 0 within the joint's limits): see sim.urdf.engine_urdf_text.
    held: dict[str, float] = field(default_factory=dict)
    # Each mesh `filename` of the URDF as written (`package://...`, relative) -> its absolute file
    # (sim.packages, with robot.yaml's `packages:` map): the engines load the URDF with these.
    mesh_files: dict[str, Path] = field(default_factory=dict, repr=False)

    def engine_urdf_text(self) -> str:
        """The URDF text both engines build the robot from (absolute mesh paths, held joints fixed)."""
        return engine_urdf_text(self.urdf, self.mesh_files, self.held)

    @property
    def floating(self) -> bool:
        """True for a free-flying base (legged robots): pose and twist become state."""
        return self.base is not None

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def actuator_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actuators)

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return int(round(1.0 / (self.control_hz * self.physics_dt)))

    @property
    def control_dt(self) -> float:
        return self.substeps * self.physics_dt

    def joint(self, name: str) -> JointSpec:
        for j in self.joints:
            if j.name == name:
                return j
        raise KeyError(f"robot '{self.name}' has no joint '{name}'; joints: {', '.join(self.joint_names)}")

    def target_max_change(self) -> tuple[float, ...]:
        """Per actuator, the most a position target may move in one control period: the joint's
        velocity limit times the period (inf for a force actuator). The SafetyFilter's rate rule on
        the robot and the training env's `rate_limited_targets` both read this one definition, so a
        policy trained behind the limit meets the same limit deployed."""
        return tuple(self.joint(a.joint).velocity_limit * self.control_dt if a.type == "position" else math.inf
                     for a in self.actuators)

    def actuator_joint_indices(self) -> list[int]:
        """Index into `joints` of each actuator's joint, in actuator order."""
        return [self.joint_names.index(a.joint) for a in self.actuators]

    @property
    def moving_links(self) -> tuple[str, ...]:
        """Links whose mass is a parameter: the floating base link (if any), then children of the joints."""
        children = tuple(self.urdf.joints[j.name].child for j in self.joints)
        return ((self.base.link,) + children) if self.base is not None else children


@dataclass(frozen=True)
class BaseSpec:
    """A floating base and what is attached to it (robot.yaml `base:`, `imu:`, `feet:`, `floor:`).

    The floor is part of a floating robot's world: both engines add a plane whose friction is the
    parameter `floor.friction` (the robot's own geoms do not set it, so the name means one thing).
    """

    link: str  # the URDF root link, e.g. trunk
    height: float  # initial base height above the floor, m (standing in the default pose)
    imu_link: str  # link the IMU is mounted on (a fixed child of the base, or the base itself)
    feet: tuple[str, ...]  # links whose floor contact is reported (foot_forces), e.g. FR_toe
    floor_friction: float  # nominal sliding friction of floor contacts


def available_robots() -> list[str]:
    """Names of the robots shipped in sim/robots/."""
    return sorted(p.parent.name for p in ROBOTS_DIR.glob("*/robot.yaml"))


def resolve_robot_yaml(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "robot.yaml"
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(str(path), "", "robot description not found")
        return path
    candidate = ROBOTS_DIR / str(name_or_path) / "robot.yaml"
    if not candidate.is_file():
        raise ConfigError(
            str(name_or_path), "", f"unknown robot; available robots: {', '.join(available_robots())} "
            "(or give a path to a robot.yaml)"
        )
    return candidate


def _require(data: dict, key: str, kind: type | tuple, source: str, expected: str, prefix: str = "") -> Any:
    if key not in data:
        raise ConfigError(source, prefix + key, f"missing; expected {expected}")
    value = data[key]
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else ()):
        raise ConfigError(source, prefix + key, f"got {value!r}; expected {expected}")
    if not isinstance(value, kind):
        raise ConfigError(source, prefix + key, f"got {value!r}; expected {expected}{base60_hint(value)}")
    return value


def _positive(value: Any, source: str, field_name: str, allow_zero: bool = False, unit: str = "") -> float:
    """A finite number > 0 (>= 0 with ``allow_zero``): NaN and inf are refused, so no limit is silently off."""
    return check_number(value, source, field_name, minimum=0.0, min_open=not allow_zero, unit=unit)


def _urdf_path(data: dict, yaml_path: Path) -> Path:
    source = str(yaml_path)
    ref = data.get("urdf")
    if isinstance(ref, str):
        return (yaml_path.parent / ref).resolve()
    if isinstance(ref, dict):
        check_keys(ref, ("package", "path"), source, "urdf.")
        package = _require(ref, "package", str, source, "an installed python package name", "urdf.")
        rel = _require(ref, "path", str, source, "a path inside that package", "urdf.")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(source, "urdf.package", f"python package '{package}' is not installed")
        return Path(list(spec.submodule_search_locations)[0]) / rel
    raise ConfigError(source, "urdf", f"got {ref!r}; expected a file name next to robot.yaml or "
                      "{package: NAME, path: REL_PATH}")


# robot.yaml `integrator`, realized identically by both engines (semi-implicit Euler for the rest):
#   euler:    damping and the servos' kd act on the velocity at the start of the substep. Stable while
#             (kd + damping) * physics_dt / I < 2 for every joint's effective inertia I.
#   implicit: they act on the velocity at the end of the substep, (M + dt D) qacc = f with
#             D = diag(damping + gain * kd): MuJoCo's `implicitfast`, PyBullet through the mass matrix
#             (sim/engines/pybullet.py). Unconditionally stable for any light link or heavy damping.
INTEGRATORS = ("euler", "implicit")


def load_robot(name_or_path: str | Path) -> RobotSpec:
    """Load a robot by name (`cartpole`) or path to its robot.yaml / folder, validating every field."""
    yaml_path = resolve_robot_yaml(name_or_path)
    source = str(yaml_path)
    data = load_yaml_file(yaml_path, "robot description")
    if not isinstance(data, dict):
        raise ConfigError(source, "", "expected a mapping of fields (name, urdf, joints, actuators, ...)")
    check_keys(data, TOP_KEYS, source)
    name = _require(data, "name", str, source, "the robot's name, a string")
    urdf_path = _urdf_path(data, yaml_path)
    urdf = read_urdf(urdf_path)
    resolver = PackageResolver(urdf_path, _packages(data, yaml_path))
    mesh_files = resolve_mesh_files(urdf.meshes, resolver, str(urdf_path), urdf.collision_meshes)
    control_hz = check_number(_require(data, "control_hz", (int, float), source, "a rate in Hz, e.g. 50"),
                              source, "control_hz", minimum=0.0, min_open=True, maximum=MAX_CONTROL_HZ, unit="Hz")
    physics_dt = check_number(
        _require(data, "physics_dt", (int, float), source, "a timestep in seconds, e.g. 0.002"), source, "physics_dt",
        minimum=MIN_PHYSICS_DT, maximum=MAX_PHYSICS_DT, unit="s",
    )
    ratio = 1.0 / (control_hz * physics_dt)
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        raise ConfigError(source, "physics_dt", f"1/control_hz = {1 / control_hz:g} s is not a whole number "
                          f"of physics steps of {physics_dt:g} s; choose physics_dt dividing the control period")
    if round(ratio) > MAX_SUBSTEPS:
        raise ConfigError(source, "physics_dt", f"{round(ratio)} physics steps of {physics_dt:g} s per control "
                          f"period of {1 / control_hz:g} s; at most {MAX_SUBSTEPS} (raise physics_dt or control_hz)")

    joints_data = _require(data, "joints", list, source, "a list of {name, type, ...} in command order")
    if not joints_data:
        raise ConfigError(source, "joints", "empty; expected at least one joint")
    joints: list[JointSpec] = []
    for i, jd in enumerate(joints_data):
        prefix = f"joints[{i}]."
        if not isinstance(jd, dict):
            raise ConfigError(source, f"joints[{i}]", f"got {jd!r}; expected a mapping with name and type")
        check_keys(jd, JOINT_KEYS, source, prefix)
        jname = _require(jd, "name", str, source, "a joint name from the URDF", prefix)
        if jname not in urdf.joints:
            raise ConfigError(source, prefix + "name", f"joint '{jname}' is not in {urdf_path.name}; its joints: "
                              f"{', '.join(n for n, j in urdf.joints.items() if j.type != 'fixed')}")
        uj = urdf.joints[jname]
        jtype = jd.get("type", uj.type)
        if jtype not in JOINT_TYPES:
            raise ConfigError(source, prefix + "type", f"got {jtype!r}; expected one of {', '.join(JOINT_TYPES)}")
        limits = jd.get("position_limits")
        if limits is None and jtype != "continuous" and uj.lower is not None and uj.upper is not None:
            limits = [uj.lower, uj.upper]
        if limits is not None:
            limits = check_interval(limits, source, prefix + "position_limits", strict=True,
                                    unit=_UNITS[jtype][0])
        vel = jd.get("velocity_limit", uj.velocity)
        if vel is None:
            raise ConfigError(source, prefix + "velocity_limit", "missing here and in the URDF; expected a "
                              "positive number (m/s or rad/s)")
        eff = jd.get("effort_limit", uj.effort)
        if eff is None:
            raise ConfigError(source, prefix + "effort_limit", "missing here and in the URDF; expected N or N*m")
        joints.append(JointSpec(jname, jtype, limits,
                                _positive(vel, source, prefix + "velocity_limit", unit=_UNITS[jtype][1]),
                                _positive(eff, source, prefix + "effort_limit", allow_zero=True,
                                          unit=_UNITS[jtype][2])))
    names = [j.name for j in joints]
    if len(set(names)) != len(names):
        raise ConfigError(source, "joints", f"joint names repeat: {names}")

    acts_data = _require(data, "actuators", list, source, "a list of {name, joint, type, ...}")
    actuators: list[ActuatorSpec] = []
    for i, ad in enumerate(acts_data):
        prefix = f"actuators[{i}]."
        if not isinstance(ad, dict):
            raise ConfigError(source, f"actuators[{i}]", f"got {ad!r}; expected a mapping")
        check_keys(ad, ACTUATOR_KEYS, source, prefix)
        aname = _require(ad, "name", str, source, "an actuator name", prefix)
        ajoint = _require(ad, "joint", str, source, f"one of the joints: {', '.join(names)}", prefix)
        if ajoint not in names:
            raise ConfigError(source, prefix + "joint", f"'{ajoint}' is not a listed joint; expected one of "
                              f"{', '.join(names)}")
        driver = next((k for k, a in enumerate(actuators) if a.joint == ajoint), None)
        if driver is not None:  # two torques on one joint: the safety limits hold per actuator, not per joint
            raise ConfigError(source, prefix + "joint", f"joint '{ajoint}' is already driven by actuators[{driver}] "
                              f"('{actuators[driver].name}'); one actuator per joint")
        atype = _require(ad, "type", str, source, f"one of {', '.join(ACTUATOR_TYPES)}", prefix)
        if atype not in ACTUATOR_TYPES:
            raise ConfigError(source, prefix + "type", f"got {atype!r}; expected one of {', '.join(ACTUATOR_TYPES)}")
        joint_spec = joints[names.index(ajoint)]
        effort = ad.get("effort_limit", joint_spec.effort_limit)
        effort = _positive(effort, source, prefix + "effort_limit", unit=_UNITS[joint_spec.type][2])
        kp = kd = 0.0
        if atype == "position":
            kp = _positive(_require(ad, "kp", (int, float), source, "a stiffness, N*m/rad", prefix), source,
                           prefix + "kp")
            kd = _positive(ad.get("kd", 0.0), source, prefix + "kd", allow_zero=True)
        elif "kp" in ad or "kd" in ad:
            raise ConfigError(source, prefix + "kp", "kp/kd only apply to type: position actuators")
        gain = _positive(ad.get("gain", 1.0), source, prefix + "gain")
        actuators.append(ActuatorSpec(aname, ajoint, atype, gain, kp, kd, effort))
    if len({a.name for a in actuators}) != len(actuators):
        raise ConfigError(source, "actuators", "actuator names repeat")

    contacts = data.get("contacts", False)
    if not isinstance(contacts, bool):
        raise ConfigError(source, "contacts", f"got {contacts!r}; expected true or false")
    integrator = data.get("integrator", "euler")
    if integrator not in INTEGRATORS:
        raise ConfigError(source, "integrator", f"got {integrator!r}; expected one of {', '.join(INTEGRATORS)}")
    ee = data.get("end_effector")
    if ee is not None and ee not in urdf.links:
        raise ConfigError(source, "end_effector", f"link '{ee}' is not in {urdf_path.name}")

    base, default_pose = _floating_base(data, urdf, urdf_path, joints, source)
    held = _held_joints(data, urdf, urdf_path, names, source)
    _check_moving_masses(urdf, urdf_path, names, base)
    spec = RobotSpec(
        name=name, description=str(data.get("description", "")), root=yaml_path.parent, yaml_path=yaml_path,
        urdf_path=urdf_path, control_hz=control_hz, physics_dt=physics_dt, contacts=contacts,
        joints=tuple(joints), actuators=tuple(actuators), nominal={}, end_effector=ee, urdf=urdf,
        base=base, default_pose=default_pose, integrator=integrator, held=held, mesh_files=mesh_files,
        reach=parse_reach(data, joints, base is not None, source), walk=parse_walk(data, base is not None, source),
    )
    nominal = _nominal_from_urdf(spec)
    overrides = data.get("nominal", {}) or {}
    if not isinstance(overrides, dict):
        raise ConfigError(source, "nominal", "expected a mapping of parameter name -> value")
    check_keys(overrides, nominal, source, "nominal.", what="parameter")
    for key, value in overrides.items():
        nominal[key] = check_parameter(key, value, source, f"nominal.{key}")
    for key, value in nominal.items():  # the URDF's values (masses, damping, friction) obey the same ranges
        if key not in overrides:
            check_parameter(key, value, str(urdf_path), f"{key} (from the URDF)")
    spec.nominal.update(nominal)
    return spec


def _packages(data: dict, yaml_path: Path) -> dict[str, Path]:
    """robot.yaml `packages:` (ROS package name -> folder, relative to robot.yaml), folders checked."""
    source = str(yaml_path)
    packages = data.get("packages") or {}
    if not isinstance(packages, dict):
        raise ConfigError(source, "packages", f"got {packages!r}; expected a mapping ROS package name -> folder "
                          "(relative to robot.yaml), e.g. {franka_description: ../franka_description}")
    folders: dict[str, Path] = {}
    for pkg, folder in packages.items():
        if not isinstance(folder, str):
            raise ConfigError(source, f"packages.{pkg}", f"got {folder!r}; expected a folder (relative to robot.yaml)")
        path = (yaml_path.parent / folder).resolve()
        if not path.is_dir():
            raise ConfigError(source, f"packages.{pkg}", f"folder {path} not found (relative to robot.yaml)")
        folders[str(pkg)] = path
    return folders


MOVABLE_URDF_TYPES = ("revolute", "continuous", "prismatic")


def _held_joints(data: dict, urdf: Urdf, urdf_path: Path, listed: list[str], source: str) -> dict[str, float]:
    """Every movable URDF joint robot.yaml does not list -> where both engines hold it (robot.yaml `held:`).

    A gripper or a mimic joint the policy does not command must not swing freely (each engine would
    let it drift its own way): it is held fixed, at its `held:` position or else at 0 within its limits.
    """
    held_data = data.get("held") or {}
    if not isinstance(held_data, dict):
        raise ConfigError(source, "held", f"got {held_data!r}; expected a mapping joint name -> position (rad or m)")
    movable = [n for n, j in urdf.joints.items() if j.type in MOVABLE_URDF_TYPES]
    unlisted = [n for n in movable if n not in listed]
    for key in held_data:
        if key in listed:
            raise ConfigError(source, f"held.{key}", "is listed in joints: (a listed joint moves); remove it from "
                              "one of the two")
        if key not in unlisted:
            raise ConfigError(source, f"held.{key}", f"not a movable joint of {urdf_path.name} outside joints:"
                              f"{did_you_mean(key, unlisted)} (expected one of {', '.join(unlisted) or 'none'})")
    for name, j in urdf.joints.items():
        if j.type not in MOVABLE_URDF_TYPES + ("fixed",) and name not in listed:
            raise ConfigError(str(urdf_path), f"joint[{name}]", f"type '{j.type}' cannot be held fixed; "
                              f"supported joint types: {', '.join(MOVABLE_URDF_TYPES)}, fixed")
    held: dict[str, float] = {}
    for name in unlisted:
        j = urdf.joints[name]
        if j.mimic is not None and j.mimic in listed:
            raise ConfigError(source, "joints", f"URDF joint '{name}' mimics listed joint '{j.mimic}' but is not "
                              "listed: it would be held fixed while its leader moves; list it too (with its own "
                              f"actuator) or leave '{j.mimic}' out as well (both held)")
        limits = (j.lower, j.upper) if j.type != "continuous" and j.lower is not None and j.upper is not None else None
        if name in held_data:
            unit = "m" if j.type == "prismatic" else "rad"
            value = check_number(held_data[name], source, f"held.{name}", unit=unit)
            if limits is not None and not limits[0] <= value <= limits[1]:
                raise ConfigError(source, f"held.{name}", f"{value:g} {unit} is outside the joint's URDF limits "
                                  f"[{limits[0]:g}, {limits[1]:g}]")
        else:
            value = min(max(0.0, limits[0]), limits[1]) if limits is not None else 0.0
        held[name] = float(value)
    return held


def _check_moving_masses(urdf: Urdf, urdf_path: Path, listed: list[str], base: BaseSpec | None) -> None:
    """A link that moves (child of a listed joint, or the floating base) must have mass: one line naming it.

    A massless moving link has no inertia to accelerate: MuJoCo refuses to compile it and PyBullet
    makes it static or moves it arbitrarily. Massless links on fixed joints (the Panda's
    `panda_link8`, a grasp frame) ride on their parent and are fine.
    """
    moving = [(urdf.joints[n].child, f"joint '{n}' is listed in robot.yaml") for n in listed]
    if base is not None:
        moving.insert(0, (base.link, "it is the floating base"))
    for link, why in moving:
        if urdf.links[link].mass <= 0.0:
            raise ConfigError(str(urdf_path), f"link[{link}]", f"link '{link}' moves ({why}) but has no mass "
                              "(no <inertial> or mass 0): give it an <inertial> with its mass and inertia, or leave "
                              "its joint out of robot.yaml's joints: to hold it fixed")


def _nominal_from_urdf(spec: RobotSpec) -> dict[str, float]:
    """Every name of the parameter vocabulary for this robot, with its URDF / robot.yaml value."""
    nominal: dict[str, float] = {}
    for link in spec.moving_links:
        nominal[f"{link}.mass"] = spec.urdf.links[link].mass
    for j in spec.joints:
        uj = spec.urdf.joints[j.name]
        nominal[f"{j.name}.damping"] = uj.damping
        nominal[f"{j.name}.frictionloss"] = uj.friction
        nominal[f"{j.name}.armature"] = 0.0
    for a in spec.actuators:
        nominal[f"{a.name}.gain"] = a.gain
        if a.type == "position":
            nominal[f"{a.name}.kp"] = a.kp
            nominal[f"{a.name}.kd"] = a.kd
    if spec.base is not None:
        for axis in "xyz":  # centre-of-mass offset of the base from the URDF's, m (signed)
            nominal[f"{spec.base.link}.com_{axis}"] = 0.0
        nominal["floor.friction"] = spec.base.floor_friction
    nominal["action_delay"] = 0.0
    nominal["obs_noise"] = 0.0
    return nominal


SIGNED_SUFFIXES = (".com_x", ".com_y", ".com_z")


def suspended(robot: RobotSpec) -> RobotSpec:
    """The robot hung on a gantry: its trunk fixed in the air, no floor, the legs free to swing.

    This is how legged robots are identified in practice: with the trunk held, each joint's motion
    depends only on its own motor and leg (gain, PD gains, friction, delay), not on contacts and
    the whole-body dynamics, so the motor parameters are identifiable from a short excitation.
    Both engines load a robot without a `base` with its URDF root fixed to the world. The
    parameter vocabulary stays the robot's (so params files and DR configs apply unchanged);
    trunk and floor parameters simply have no effect while suspended.
    """
    from dataclasses import replace

    if robot.base is None:
        raise ConfigError(str(robot.yaml_path), "base", f"robot '{robot.name}' has a fixed base already; "
                          "only a floating-base robot can be suspended")
    return replace(robot, base=None, gantry=robot.base)


def unsuspended(robot: RobotSpec) -> RobotSpec:
    """The free robot of a `suspended()` one (itself otherwise): what DR configs and training describe."""
    from dataclasses import replace

    return robot if robot.gantry is None else replace(robot, base=robot.gantry, gantry=None)


def is_signed_parameter(name: str) -> bool:
    """Offsets (centre of mass) may be negative; every other parameter is a physical magnitude >= 0."""
    return name.endswith(SIGNED_SUFFIXES)


# The physical range of each kind of parameter, wherever a value comes from (robot.yaml's nominal,
# a params file, a DR range): beyond it a value is a typo or a unit slip (ms written as s), and some
# would allocate without bound (an `action_delay` of 1e6 s is a 2e8-substep command history per env).
MAX_ACTION_DELAY_S = 1.0  # 50 control periods at 50 Hz; calibration searches up to 0.1 s
MAX_OBS_NOISE = 10.0  # std in the joint's units (rad, m, per s): more hides the state entirely
MAX_COM_OFFSET_M = 1.0  # a base's centre of mass moved by more than a metre is another robot
MAX_FRICTION_COEFFICIENT = 10.0  # floor.friction; rubber on concrete is ~1
MAX_SCALE = 100.0  # `{scale: s}` in params files, `scale_uniform` bounds in DR files


def parameter_range(name: str) -> tuple[float, float, bool, str]:
    """(minimum, maximum, minimum excluded, unit) of a parameter name of the vocabulary."""
    if name == "action_delay":
        return 0.0, MAX_ACTION_DELAY_S, False, "s"
    if name == "obs_noise":
        return 0.0, MAX_OBS_NOISE, False, "std, rad or m (per s for velocities)"
    if is_signed_parameter(name):
        return -MAX_COM_OFFSET_M, MAX_COM_OFFSET_M, False, "m"
    if name == "floor.friction":
        return 0.0, MAX_FRICTION_COEFFICIENT, False, "friction coefficient"
    if name.endswith(".mass"):
        return 0.0, math.inf, True, "kg"
    return 0.0, math.inf, False, ""


def check_parameter(name: str, value: object, source: str, field_name: str) -> float:
    """`value` as a float inside the physical range of parameter `name`, else a one-line `ConfigError`."""
    lo, hi, lo_open, unit = parameter_range(name)
    return check_number(value, source, field_name, minimum=lo, min_open=lo_open,
                        maximum=None if math.isinf(hi) else hi, unit=unit)


def _floating_base(data: dict, urdf: Urdf, urdf_path: Path, joints: list[JointSpec], source: str
                   ) -> tuple[BaseSpec | None, tuple[float, ...] | None]:
    """The optional `base:`, `imu:`, `feet:`, `floor:` and `default_pose:` fields of a legged robot."""
    pose = data.get("default_pose")
    default_pose = None
    if pose is not None:
        default_pose = joint_pose(pose, joints, source, "default_pose")
    base = data.get("base")
    if base is None:
        for key in ("imu", "feet", "floor"):
            if key in data:
                raise ConfigError(source, key, "only a floating-base robot (a 'base:' section) has one")
        return None, default_pose
    if not isinstance(base, dict):
        raise ConfigError(source, "base", "expected {link: ROOT_LINK, height: METRES}")
    check_keys(base, ("link", "height"), source, "base.")
    link = _require(base, "link", str, source, "the URDF root link, e.g. trunk", "base.")
    children = {j.child for j in urdf.joints.values()}
    if link not in urdf.links or link in children:
        roots = [n for n in urdf.links if n not in children]
        raise ConfigError(source, "base.link", f"'{link}' is not the root link of {urdf_path.name} "
                          f"(root: {', '.join(roots)})")
    height = check_number(_require(base, "height", (int, float), source, "initial base height in m", "base."),
                          source, "base.height", minimum=0.0, min_open=True, maximum=10.0, unit="m")
    imu = data.get("imu") or {"link": link}
    if not isinstance(imu, dict):
        raise ConfigError(source, "imu", "expected {link: LINK_THE_IMU_IS_MOUNTED_ON}")
    check_keys(imu, ("link",), source, "imu.")
    imu_link = _require(imu, "link", str, source, "the link the IMU is mounted on", "imu.")
    if imu_link not in urdf.links:
        raise ConfigError(source, "imu.link", f"link '{imu_link}' is not in {urdf_path.name}")
    feet = data.get("feet") or []
    if not isinstance(feet, list) or not all(isinstance(f, str) for f in feet):
        raise ConfigError(source, "feet", f"got {feet!r}; expected a list of link names")
    for i, foot in enumerate(feet):
        if foot not in urdf.links:
            raise ConfigError(source, f"feet[{i}]", f"link '{foot}' is not in {urdf_path.name}")
    floor = data.get("floor") or {}
    if not isinstance(floor, dict):
        raise ConfigError(source, "floor", "expected {friction: MU}")
    check_keys(floor, ("friction",), source, "floor.")
    friction = check_number(floor.get("friction", 1.0), source, "floor.friction", minimum=0.0, min_open=True,
                            maximum=MAX_FRICTION_COEFFICIENT, unit="friction coefficient")
    return BaseSpec(link, height, imu_link, tuple(feet), friction), default_pose

"""Minimal URDF reader: the facts the rest of the stack needs (joints, limits, masses, dynamics).

Only the standard library is used, so the deploy runtime can read limits from a robot's URDF
without a simulator installed.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import ConfigError


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    type: str
    parent: str
    child: str
    origin_xyz: tuple[float, float, float]
    origin_rpy: tuple[float, float, float]
    axis: tuple[float, float, float]
    lower: float | None
    upper: float | None
    effort: float | None
    velocity: float | None
    damping: float
    friction: float
    mimic: str | None = None  # the joint this one mimics (<mimic joint="...">), if any


@dataclass(frozen=True)
class UrdfLink:
    name: str
    mass: float
    inertia_diag: tuple[float, float, float]


@dataclass(frozen=True)
class Urdf:
    path: Path
    name: str
    links: dict[str, UrdfLink] = field(default_factory=dict)
    joints: dict[str, UrdfJoint] = field(default_factory=dict)
    # (link, filename) of every <mesh> (visual and collision), in file order: what sim.packages resolves.
    meshes: tuple[tuple[str, str], ...] = ()
    collision_meshes: tuple[tuple[str, str], ...] = ()  # the same, of <collision> elements only


def _floats(text: str | None, n: int, default: tuple[float, ...], source: str, what: str) -> tuple:
    if text is None:
        return default
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError:
        raise ConfigError(source, what, f"expected {n} numbers, got {text!r}") from None
    if len(values) != n:
        raise ConfigError(source, what, f"expected {n} numbers, got {text!r}")
    return values


def _opt_float(el: ET.Element | None, attr: str) -> float | None:
    if el is None or el.get(attr) is None:
        return None
    return float(el.get(attr))


def read_urdf(path: Path) -> Urdf:
    """Parse a URDF file; errors name the file and the element at fault."""
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "", "URDF file not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ConfigError(source, "", f"not valid XML: {exc}") from None
    if root.tag != "robot":
        raise ConfigError(source, "", f"root element is <{root.tag}>, expected <robot>")
    links: dict[str, UrdfLink] = {}
    meshes: list[tuple[str, str]] = []
    collision_meshes: list[tuple[str, str]] = []
    for el in root.findall("link"):
        name = el.get("name", "")
        inertial = el.find("inertial")
        mass, diag = 0.0, (0.0, 0.0, 0.0)
        if inertial is not None:
            m = inertial.find("mass")
            mass = float(m.get("value", 0.0)) if m is not None else 0.0
            i = inertial.find("inertia")
            if i is not None:
                diag = tuple(float(i.get(k, 0.0)) for k in ("ixx", "iyy", "izz"))
        links[name] = UrdfLink(name=name, mass=mass, inertia_diag=diag)
        meshes.extend((name, m.get("filename", "")) for m in el.iter("mesh"))
        collision_meshes.extend((name, m.get("filename", "")) for c in el.findall("collision") for m in c.iter("mesh"))
    joints: dict[str, UrdfJoint] = {}
    for el in root.findall("joint"):
        name = el.get("name", "")
        where = f"joint[{name}]"
        origin = el.find("origin")
        axis = el.find("axis")
        limit = el.find("limit")
        dyn = el.find("dynamics")
        jtype = el.get("type", "")
        lower = _opt_float(limit, "lower")
        upper = _opt_float(limit, "upper")
        if jtype == "continuous":
            lower = upper = None
        joints[name] = UrdfJoint(
            name=name,
            type=jtype,
            parent=el.find("parent").get("link") if el.find("parent") is not None else "",
            child=el.find("child").get("link") if el.find("child") is not None else "",
            origin_xyz=_floats(origin.get("xyz") if origin is not None else None, 3, (0.0,) * 3,
                               source, f"{where}.origin.xyz"),
            origin_rpy=_floats(origin.get("rpy") if origin is not None else None, 3, (0.0,) * 3,
                               source, f"{where}.origin.rpy"),
            axis=_floats(axis.get("xyz") if axis is not None else None, 3, (1.0, 0.0, 0.0),
                         source, f"{where}.axis.xyz"),
            lower=lower,
            upper=upper,
            effort=_opt_float(limit, "effort"),
            velocity=_opt_float(limit, "velocity"),
            damping=_opt_float(dyn, "damping") or 0.0,
            friction=_opt_float(dyn, "friction") or 0.0,
            mimic=el.find("mimic").get("joint") if el.find("mimic") is not None else None,
        )
    return Urdf(path=path, name=root.get("name", ""), links=links, joints=joints, meshes=tuple(meshes),
                collision_meshes=tuple(collision_meshes))


def engine_urdf_text(urdf: Urdf, mesh_files: Mapping[str, Path], held: Mapping[str, float]) -> str:
    """The URDF as both engines load it: mesh paths absolute, held joints fixed, no <mimic>.

    `mesh_files`: each mesh `filename` as written -> its file (sim.packages), so `package://` URIs and
    relative names load wherever the text is (MuJoCo parses it from a string, PyBullet from a copy).
    `held`: joints robot.yaml does not list (grippers, mimic joints) -> the position they are held at.
    A held joint becomes a fixed joint at that position (its origin moved along or turned about its
    axis): its links stay bodies with their own masses in both engines, it has no degree of freedom
    left to drift under gravity or the arm's motion, and the robot's degrees of freedom are exactly
    robot.yaml's joints, which the implicit integrator's mass matrix needs. <mimic> is dropped from
    every joint: MuJoCo turns it into an equality constraint and PyBullet ignores it, so a robot would
    move differently in the two engines (sim.robot refuses a held joint that mimics a moving one).
    A link without <inertial> gets an explicit massless one: PyBullet gives such a link 1 kg and a unit
    inertia, MuJoCo nothing (or its geoms' volume at water density), so a frame link (a tool or
    sensor frame on a fixed joint) would weigh a kilogram in one engine only.
    """
    root = ET.parse(urdf.path).getroot()
    for link in root.findall("link"):
        if link.find("inertial") is None:
            inertial = ET.SubElement(link, "inertial")
            ET.SubElement(inertial, "mass", value="0")
            ET.SubElement(inertial, "inertia", ixx="0", ixy="0", ixz="0", iyy="0", iyz="0", izz="0")
    for mesh in root.iter("mesh"):
        name = mesh.get("filename")
        if name in mesh_files:
            mesh.set("filename", Path(mesh_files[name]).as_posix())
    for el in root.findall("joint"):
        for mimic in el.findall("mimic"):
            el.remove(mimic)
        name = el.get("name", "")
        if name in held:
            _fix_joint(el, urdf.joints[name], held[name])
    return ET.tostring(root, encoding="unicode")


def _fix_joint(el: ET.Element, joint: UrdfJoint, position: float) -> None:
    """Make joint element `el` fixed at `position` (m or rad along/about its axis)."""
    el.set("type", "fixed")
    if position == 0.0:
        return
    norm = math.sqrt(sum(a * a for a in joint.axis)) or 1.0
    axis = tuple(a / norm for a in joint.axis)
    rot = _rpy_matrix(joint.origin_rpy)
    xyz, rpy = list(joint.origin_xyz), joint.origin_rpy
    if joint.type == "prismatic":  # the child moves along the axis, given in the joint frame
        xyz = [xyz[i] + sum(rot[i][k] * axis[k] * position for k in range(3)) for i in range(3)]
    else:  # revolute, continuous: the child frame turned about the axis
        rpy = _matrix_rpy(_matmul(rot, _axis_angle_matrix(axis, position)))
    origin = el.find("origin")
    if origin is None:
        origin = ET.SubElement(el, "origin")
    origin.set("xyz", " ".join(repr(float(v)) for v in xyz))
    origin.set("rpy", " ".join(repr(float(v)) for v in rpy))


def _rpy_matrix(rpy: tuple[float, float, float]) -> list[list[float]]:
    """URDF's fixed-axis roll, pitch, yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp, cy, sy = (math.cos(rpy[0]), math.sin(rpy[0]), math.cos(rpy[1]), math.sin(rpy[1]),
                              math.cos(rpy[2]), math.sin(rpy[2]))
    return [[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr]]


def _matrix_rpy(m: list[list[float]]) -> tuple[float, float, float]:
    pitch = math.atan2(-m[2][0], math.hypot(m[2][1], m[2][2]))
    if math.hypot(m[2][1], m[2][2]) < 1e-12:  # gimbal lock: roll and yaw share one axis, put it all in yaw
        return 0.0, pitch, math.atan2(-m[0][1], m[1][1])
    return math.atan2(m[2][1], m[2][2]), pitch, math.atan2(m[1][0], m[0][0])


def _axis_angle_matrix(axis: tuple[float, ...], angle: float) -> list[list[float]]:
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    t = 1.0 - c
    return [[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c]]


def _matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]

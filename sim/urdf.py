"""Minimal URDF reader: the facts the rest of the stack needs (joints, limits, masses, dynamics).

Only the standard library is used, so the deploy runtime can read limits from a robot's URDF
without a simulator installed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
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
        )
    return Urdf(path=path, name=root.get("name", ""), links=links, joints=joints)

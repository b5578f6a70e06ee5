"""A URDF as robots ship it -> a robot folder (robot.yaml, randomization/default.yaml, robustness.yaml).

`robot-rl robots import URDF --out DIR` runs this. The point is that nobody writes a robot.yaml from
scratch: what can be read or computed from the URDF is, each guess says how it was made, and what
the URDF cannot say is marked `# CHECK:` for the user to edit.

What is detected, and how (`plan_robot`):
- **Joints**: every moving joint (revolute, continuous, prismatic) in tree order (depth first, the
  URDF's own order among siblings). Gripper joints are *held*, not listed: a joint or child link
  named like a finger/gripper/jaw, its mimic partners, and every joint below one of those.
- **Kind**: legged when at least two chains of two or more joints leave the root and end below it
  (legs); a fixed-base arm otherwise. `kind=` overrides (a dual arm hanging down looks legged).
- **Legged**: feet = the lowest leaf link of each leg; the default pose is the URDF's zero pose if
  that is already a crouch (legs bent, within the joint limits), else a crouch solved here (each
  foot under its leg's first joint, at `CROUCH` of the leg's reach); base height = the root above
  the lowest foot's contact sphere in that pose; IMU = a link fixed to the base named like an IMU,
  else the base.
- **Arm**: end effector = the end of the longest chain of joints: a link fixed to its last link
  named like a TCP / ee / tool / flange / hand if there is one, else that last link.
- **Inertia and gains**: each joint's effective inertia is the diagonal of the joint-space mass
  matrix (MuJoCo's `mj_fullM` of the URDF's links; the meshes are not needed for it). Gains follow
  a stated rule per kind (`ARM_BANDWIDTH_HZ`, `LEG_SAG_RAD`; see `_arm_gains`, `_leg_gains`), and
  `kp * SAG_CHECK_RAD <= effort limit` always holds: a larger kp is capped there.
- **Integration**: arms whose light distal links the explicit step cannot integrate under the arm gap
  class (masses -40%, damping x3) get `integrator: implicit`; legged robots get a physics step short
  enough for their servos (`_integration`).

The files are written by `sim.robot_files`; numpy and mujoco only here (no engine of ours is built); `sim.sim2sim`
runs the engines afterwards.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import ConfigError
from sim.urdf import Urdf, UrdfJoint, read_urdf

MOVABLE = ("revolute", "continuous", "prismatic")
CONTROL_HZ = 50.0  # the iiwa's and the A1's policy rate
ARM_PHYSICS_DT = 0.001  # as the iiwa: 20 substeps per control step
LEGGED_PHYSICS_DT = 0.005  # as the A1: 4 substeps; shortened when the servos need it (_integration)
ARM_BANDWIDTH_HZ = 10.0  # the arm servos' closed-loop natural frequency, before the effort cap
DAMPING_RATIO = 0.7  # zeta of every suggested servo: well damped, little overshoot
SAG_CHECK_RAD = 0.5  # kp * 0.5 rad <= effort limit: the servo stays linear over a 0.5 rad error
LEG_SAG_RAD = 0.1  # a leg's kp: its most loaded joint gives way 0.1 rad under the robot's weight
CROUCH = 0.75  # a computed default pose puts each foot at 75% of its leg's reach below the hip
POSE_SAMPLES = 64  # poses within the joint limits over which an arm's joint inertia is averaged
G = 9.81
# The gap classes of issue 22: what randomization/default.yaml covers (with margin) and robustness.yaml tests.
ARM_GAP = {"mass": 0.4, "tool_kg": 0.5, "damping": 3.0, "friction": 1.0, "delay": 0.03}
LEGGED_GAP = {"trunk": 0.3, "com": 0.02, "floor": 0.5, "motor": 0.85, "kd": 1.3, "delay": 0.025, "noise": 0.01}

HELD_NAME = re.compile(r"finger|grip|jaw|claw|knuckle", re.IGNORECASE)
# End-effector names, most specific first: a tool centre point beats a flange beats a hand.
EE_NAMES = (r"tcp", r"(^|_)(ee|eef)($|_)|end_?effector", r"tool", r"flange", r"hand")
IMU_NAME = re.compile(r"imu", re.IGNORECASE)


@dataclass
class JointPlan:
    """One listed joint: its limits (from the URDF, or a marked default) and its suggested servo."""

    name: str
    type: str
    limits: tuple[float, float] | None  # None: continuous
    velocity: float
    effort: float
    inertia: float  # effective inertia about the joint, kg m^2 (kg for prismatic)
    min_inertia: float = 0.0  # the least over the poses looked at (the explicit step's worst case)
    kp: float = 0.0
    kd: float = 0.0
    bandwidth_hz: float = 0.0  # sqrt(kp / inertia) / 2 pi
    capped: bool = False  # kp was lowered to effort / SAG_CHECK_RAD
    urdf_limits: bool = True  # position limits written out (placeholder) rather than read from the URDF
    checks: list[str] = field(default_factory=list)  # what the user must look at, one phrase each
    damping: float = 0.0  # from the URDF


@dataclass
class RobotPlan:
    """Everything `robots import` decided about a URDF, before any file is written."""

    name: str
    urdf_path: Path
    urdf_name: str
    kind: str  # "arm" or "legged"
    kind_reason: str
    joints: list[JointPlan]
    held: dict[str, str]  # joint -> why it is held
    physics_dt: float
    integrator: str
    stability: float  # worst (kd + damping) * dt / I under the gap class; the explicit step needs < 2
    gain_rule: str
    inertia_rule: str
    held_positions: dict[str, float] = field(default_factory=dict)  # joint -> where (0 within its limits)
    end_effector: str | None = None
    tool_link: str | None = None  # the moving link a tool is mounted on (arms): its mass gets the tool
    moving_links: list[str] = field(default_factory=list)  # links whose mass is a parameter
    base_link: str | None = None
    imu_link: str | None = None
    feet: list[str] = field(default_factory=list)
    height: float = 0.0
    default_pose: dict[str, float] = field(default_factory=dict)
    pose_rule: str = ""
    total_mass: float = 0.0
    link_masses: dict[str, float] = field(default_factory=dict)  # from the URDF
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ the URDF


class UrdfTree:
    """The URDF's kinematic tree: children in document order, the root, and what hangs below a joint."""

    def __init__(self, urdf: Urdf):
        self.urdf = urdf
        source = str(urdf.path)
        self.children: dict[str, list[UrdfJoint]] = {name: [] for name in urdf.links}
        self.by_child: dict[str, UrdfJoint] = {}
        for j in urdf.joints.values():
            for end in (j.parent, j.child):
                if end not in urdf.links:
                    raise ConfigError(source, f"joint[{j.name}]", f"names link '{end}', which the URDF does not define")
            if j.child in self.by_child:
                raise ConfigError(source, f"joint[{j.name}]", f"link '{j.child}' is the child of two joints "
                                  f"('{self.by_child[j.child].name}' too): a URDF is a tree")
            self.by_child[j.child] = j
            self.children[j.parent].append(j)
        roots = [name for name in urdf.links if name not in self.by_child]
        if len(roots) != 1:
            found = ", ".join(roots) or "a cycle"
            raise ConfigError(source, "", f"expected one root link, found {len(roots)} ({found}): every link but "
                              "the root must be the child of one joint")
        self.root = roots[0]

    def joints_in_order(self, link: str | None = None) -> list[UrdfJoint]:
        """Joints below `link` (default: the root), depth first, siblings in the URDF's order."""
        out: list[UrdfJoint] = []
        stack = list(reversed(self.children[link or self.root]))
        while stack:
            j = stack.pop()
            out.append(j)
            stack.extend(reversed(self.children[j.child]))
        return out

    def links_below(self, link: str) -> list[str]:
        """`link` and every link under it."""
        return [link] + [j.child for j in self.joints_in_order(link)]

    def fixed_group(self, link: str) -> list[str]:
        """`link` and the links rigidly attached under it (through fixed joints only), in tree order."""
        return [link] + [j.child for j in self.joints_in_order(link)
                         if all(p.type == "fixed" for p in self.path(j.child)[len(self.path(link)):])]

    def path(self, link: str) -> list[UrdfJoint]:
        """The joints from the root down to `link`."""
        out = []
        while link in self.by_child:
            out.append(self.by_child[link])
            link = self.by_child[link].parent
        return out[::-1]


def _mimic_joints(root: ET.Element) -> dict[str, str]:
    """joint -> the joint it mimics."""
    return {el.get("name", ""): el.find("mimic").get("joint", "?") for el in root.findall("joint")
            if el.find("mimic") is not None}


def _sphere_collisions(root: ET.Element) -> dict[str, tuple[np.ndarray, float]]:
    """link -> (centre in the link frame, radius) of its first collision sphere."""
    out = {}
    for link in root.findall("link"):
        for col in link.findall("collision"):
            sphere = col.find("geometry/sphere")
            if sphere is None:
                continue
            origin = col.find("origin")
            try:
                xyz = np.array([float(v) for v in (origin.get("xyz", "0 0 0") if origin is not None
                                                   else "0 0 0").split()])
                out[link.get("name", "")] = (xyz.reshape(3), float(sphere.get("radius", 0.0)))
            except ValueError:
                continue  # malformed: the height is then measured to the link frame (and says so)
            break
    return out


def read_urdf_file(path: Path) -> tuple[Urdf, ET.Element]:
    """The URDF read twice: our reader (limits, masses) and its XML (mimic tags, collisions)."""
    source = str(path)
    if path.suffix == ".xacro" or path.name.endswith(".urdf.xacro"):
        raise ConfigError(source, "", "a xacro file, not a URDF: expand it first (`xacro FILE > robot.urdf`, "
                          "from ROS's xacro package) and import that")
    if path.is_dir():
        raise ConfigError(source, "", "a folder; give the URDF file (e.g. urdf/robot.urdf)")
    try:
        urdf = read_urdf(path)
    except ValueError as exc:  # a number attribute that is not one (float('abc'))
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(source, "", f"not a valid URDF: {exc}") from None
    return urdf, ET.parse(path).getroot()


# ------------------------------------------------------------------------------------ MuJoCo analysis


class Analysis:
    """The URDF's links and joints in MuJoCo, without geometry: kinematics and the mass matrix.

    Why without geometry: inertia and kinematics need only `<inertial>` and `<joint>`, and a URDF as
    ROS packages ship it names its meshes `package://...`, which this model then never has to find.
    The root link is fixed to the world at the origin (MuJoCo merges it into the world body).
    """

    def __init__(self, root: ET.Element, source: str):
        import mujoco

        self.mujoco = mujoco
        xml = ET.fromstring(ET.tostring(root))  # a copy: the caller's tree stays whole
        for link in xml.findall("link"):
            for tag in ("visual", "collision"):
                for el in link.findall(tag):
                    link.remove(el)
        for el in [el for el in xml if el.tag not in ("link", "joint", "material")]:
            xml.remove(el)  # transmission, gazebo, ros2_control: nothing MuJoCo needs
        for joint in xml.findall("joint"):
            for el in joint.findall("mimic"):
                joint.remove(el)  # held joints are read as free ones: the mass matrix is the same
        self.problem: str | None = None  # why MuJoCo refuses the URDF's own inertia, if it does
        text = ET.tostring(xml, encoding="unicode")
        try:
            self.model = self._compile(text, balance=False)
        except ValueError as exc:  # mujoco's compiler message
            message = " ".join(str(exc).split())
            if "balanceinertia" not in message:
                raise ConfigError(source, "", f"MuJoCo cannot build its links and joints: {message}") from None
            # A link inertia that breaks the triangle inequality: PyBullet takes it, MuJoCo does not.
            # The analysis goes on with MuJoCo's balanced inertia; the user is told to fix the URDF.
            self.problem = message
            self.model = self._compile(text, balance=True)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.body_names = {m.body(i).name for i in range(m.nbody)}

    def _compile(self, text: str, balance: bool):
        spec = self.mujoco.MjSpec.from_string(text)
        spec.compiler.fusestatic = False
        spec.compiler.balanceinertia = balance
        return spec.compile()

    def qpos_index(self, joint: str) -> int:
        return int(self.model.joint(joint).qposadr[0])

    def dof_index(self, joint: str) -> int:
        return int(self.model.joint(joint).dofadr[0])

    def set_pose(self, q: dict[str, float]) -> None:
        self.data.qpos[:] = 0.0
        for name, value in q.items():
            self.data.qpos[self.qpos_index(name)] = value
        self.mujoco.mj_forward(self.model, self.data)

    def link_position(self, link: str) -> np.ndarray:
        if link not in self.body_names:  # the root, merged into the world at the origin
            return np.zeros(3)
        return self.data.body(link).xpos.copy()

    def link_rotation(self, link: str) -> np.ndarray:
        if link not in self.body_names:
            return np.eye(3)
        return self.data.body(link).xmat.reshape(3, 3).copy()

    def mass_diagonal(self) -> np.ndarray:
        m = self.model
        full = np.zeros((m.nv, m.nv))
        self.mujoco.mj_fullM(m, self.data, full)
        return np.diag(full).copy()

    def position_jacobian(self, link: str) -> np.ndarray:
        jacp = np.zeros((3, self.model.nv))
        self.mujoco.mj_jacBody(self.model, self.data, jacp, None, self.model.body(link).id)
        return jacp

    def joint_anchor(self, joint: str) -> np.ndarray:
        return self.data.xanchor[self.model.joint(joint).id].copy()

    def joint_axis(self, joint: str) -> np.ndarray:
        return self.data.xaxis[self.model.joint(joint).id].copy()

    def subtree(self, link: str) -> tuple[float, np.ndarray]:
        """(mass, centre of mass) of `link` and everything below it."""
        b = self.model.body(link).id
        return float(self.model.body_subtreemass[b]), self.data.subtree_com[b].copy()


# --------------------------------------------------------------------------------------------- plan


def plan_robot(urdf_path: str | Path, name: str, kind: str | None = None) -> RobotPlan:
    """Read a URDF and decide everything a robot folder needs (see the module docstring)."""
    path = Path(urdf_path).expanduser()
    source = str(path)
    if not path.exists():
        raise ConfigError(source, "", "URDF file not found")
    urdf, xml = read_urdf_file(path)
    tree = UrdfTree(urdf)
    for j in urdf.joints.values():
        if j.type not in (*MOVABLE, "fixed"):
            floating = " (a floating base is robot.yaml's base:, not a URDF joint: remove the joint to the world)"
            raise ConfigError(source, f"joint[{j.name}]", f"type '{j.type}': expected revolute, continuous, prismatic "
                              f"or fixed{floating if j.type == 'floating' else ''}")
    held = _held_joints(tree, _mimic_joints(xml))
    ordered = [j for j in tree.joints_in_order() if j.type in MOVABLE]
    listed = [j for j in ordered if j.name not in held]
    if not listed:
        what = f"; held as gripper joints: {', '.join(held)}" if held else ""
        raise ConfigError(source, "", f"no movable joints (revolute, continuous or prismatic) to drive{what}")
    for j in listed:
        link = urdf.links[j.child]
        if link.mass <= 0:
            raise ConfigError(source, f"link[{j.child}]", f"moves (joint '{j.name}', {j.type}) but has no mass: give "
                              "it an <inertial> with its mass and inertia (a massless frame belongs on a fixed joint)")
    an = Analysis(xml, source)
    plan = RobotPlan(name=name, urdf_path=path.resolve(), urdf_name=urdf.name, kind="arm", kind_reason="",
                     joints=[], held=held, physics_dt=ARM_PHYSICS_DT, integrator="euler", stability=0.0,
                     gain_rule="", inertia_rule="")
    plan.held_positions = _zero_pose([urdf.joints[n] for n in held])
    plan.link_masses = {lk.name: lk.mass for lk in urdf.links.values()}
    plan.total_mass = sum(plan.link_masses.values())
    legs = _legs(tree, an, listed, held)
    if kind is None:
        if len(legs) >= 2:
            plan.kind = "legged"
            plan.kind_reason = (f"{len(legs)} chains of 2 or more joints leave the root '{tree.root}' and end below "
                                "it (legs)")
        else:
            plan.kind_reason = f"the root '{tree.root}' does not stand on legs: a fixed-base arm"
    elif kind == "legged":
        if len(legs) < 2:
            raise ConfigError(source, "", f"--kind legged, but fewer than two chains of 2 or more joints leave the "
                              f"root '{tree.root}' and end below it ({len(legs)} found): no legs to stand on")
        plan.kind, plan.kind_reason = "legged", "--kind legged"
    elif kind == "arm":
        plan.kind_reason = "--kind arm"
    else:
        raise ValueError(f"kind must be 'arm', 'legged' or None, got {kind!r}")
    plan.joints = [_joint_limits(j, plan.kind) for j in listed]
    if plan.kind == "legged":
        _plan_legged(plan, tree, an, legs, xml)
    else:
        _plan_arm(plan, tree, an, listed)
    stance = _stance_torques(plan, an)
    _default_efforts(plan, tree, an, stance)
    if plan.kind == "legged":
        _leg_gains(plan, stance)
    else:
        _arm_gains(plan)
    _integration(plan)
    _placeholders(plan, urdf)
    if an.problem is not None:
        plan.notes.append(f"CHECK: MuJoCo refuses the URDF's inertia ({an.problem}); PyBullet takes it, so the "
                          "engines cannot run this robot alike until the URDF's <inertia> is fixed (the gains here "
                          "use MuJoCo's balanced inertia)")
    return plan


def _placeholders(plan: RobotPlan, urdf: Urdf) -> None:
    """CHECK notes for values a URDF author left at one number everywhere (pybullet_data's Panda gives
    every link the inertia 0.1 kg m^2; its iiwa every joint 300 N*m): the gains follow them."""
    efforts = {jp.effort for jp in plan.joints if not any(c.startswith("effort") for c in jp.checks)}
    if len(plan.joints) > 3 and len(efforts) == 1:
        plan.notes.append(f"CHECK: every joint has the same effort limit ({efforts.pop():g}) in the URDF, often a "
                          "placeholder: take the motors' datasheet (kp's cap follows it)")
    moving = [lk for lk in plan.moving_links if lk != plan.base_link]
    inertias = {urdf.links[lk].inertia_diag for lk in moving}
    if len(moving) > 3 and len(inertias) == 1:
        plan.notes.append(f"CHECK: every moving link has the same inertia {list(inertias.pop())} kg m^2 in the URDF, "
                          "often a placeholder: I_eff and the gains follow it")


def _held_joints(tree: UrdfTree, mimic: dict[str, str]) -> dict[str, str]:
    """Gripper joints, what hangs below them and their mimic partners: held still, not listed.

    A mimic joint goes with its leader (both held or both listed): a held follower of a moving
    leader would stay put while the leader moves, which `load_robot` refuses.
    """
    movable = [j for j in tree.joints_in_order() if j.type in MOVABLE]
    held = {j.name: "a gripper joint (named like one)" for j in movable
            if HELD_NAME.search(j.name) or HELD_NAME.search(j.child)}
    changed = True
    while changed:
        changed = False
        for follower, leader in mimic.items():
            if leader in held and follower not in held:
                held[follower], changed = f"mimics '{leader}'", True
            elif follower in held and leader not in held and leader in tree.urdf.joints:
                held[leader], changed = f"'{follower}' mimics it", True
        for j in movable:
            above = next((p.name for p in tree.path(j.parent) if p.name in held), None)
            if j.name not in held and above is not None:
                held[j.name], changed = f"below the held joint '{above}'", True
    return {j.name: held[j.name] for j in movable if j.name in held}  # tree order


def _zero_pose(plan_joints: list[UrdfJoint]) -> dict[str, float]:
    """Every listed joint at 0, moved inside its limits where 0 is not (the A1's knees: [-2.7, -0.92])."""
    q = {}
    for j in plan_joints:
        value = 0.0
        if j.type != "continuous" and j.lower is not None and j.upper is not None and j.lower < j.upper:
            value = float(np.clip(0.0, j.lower, j.upper))
        q[j.name] = value
    return q


def _sample_poses(joints: list[UrdfJoint], n: int, seed: int = 0) -> list[dict[str, float]]:
    """n poses drawn uniformly within the joint limits (continuous and unlimited joints: +-pi)."""
    rng = np.random.default_rng(seed)
    poses = []
    for _ in range(n):
        q = {}
        for j in joints:
            lo, hi = (j.lower, j.upper) if (j.type != "continuous" and j.lower is not None and j.upper is not None
                                            and j.lower < j.upper) else (-math.pi, math.pi)
            q[j.name] = float(rng.uniform(lo, hi))
        poses.append(q)
    return poses


def _legs(tree: UrdfTree, an: Analysis, listed: list[UrdfJoint], held: dict[str, str]) -> list[tuple[list[str], str]]:
    """(joints, foot) of each leg: a chain of >= 2 listed joints from the root whose lowest leaf link
    lies below the root in the zero pose (joints moved inside their limits), at least half as deep as
    the deepest one (an arm or a head on a legged robot is not a leg; one-joint wheels are not either)."""
    names = {j.name for j in listed}
    an.set_pose(_zero_pose(listed))
    group = set(tree.fixed_group(tree.root))
    branches = [j for j in tree.joints_in_order() if j.parent in group and j.name in names]  # in tree order
    found = []
    for b in branches:
        below = [b] + tree.joints_in_order(b.child)
        joints = [j.name for j in below if j.name in names]
        leaves = [lk for lk in tree.links_below(b.child)
                  if not any(c.name not in held for c in tree.children[lk]) and tree.path(lk)[-1].name not in held]
        if len(joints) < 2 or not leaves:
            continue
        foot = min(leaves, key=lambda lk: an.link_position(lk)[2])
        found.append((joints, foot, an.link_position(foot)[2]))
    if not found:
        return []
    deepest = min(z for _, _, z in found)
    return [(joints, foot) for joints, foot, z in found if z < -1e-3 and z <= 0.5 * deepest]


def _joint_limits(j: UrdfJoint, kind: str) -> JointPlan:
    """A listed joint's limits from the URDF; what it lacks gets a conservative value and a CHECK."""
    checks = []
    limits = None
    urdf_limits = True
    if j.type != "continuous":
        if j.lower is not None and j.upper is not None and j.lower < j.upper:
            limits = (j.lower, j.upper)
        else:
            limits = (-math.pi, math.pi) if j.type == "revolute" else (-0.1, 0.1)
            urdf_limits = False
            got = "none" if j.lower is None or j.upper is None else f"[{j.lower:g}, {j.upper:g}]"
            checks.append(f"position limits: the URDF gives {got}; [{limits[0]:.4g}, {limits[1]:.4g}] is a placeholder")
    velocity = j.velocity if j.velocity is not None and j.velocity > 0 else None
    if velocity is None:
        velocity = 0.2 if j.type == "prismatic" else (10.0 if kind == "legged" else 2.0)
        checks.append(f"velocity limit: none in the URDF; {velocity:g} {'m/s' if j.type == 'prismatic' else 'rad/s'} "
                      "is a slow placeholder")
    effort = j.effort if j.effort is not None and j.effort > 0 else 0.0  # 0: filled by _default_efforts
    return JointPlan(name=j.name, type=j.type, limits=limits, velocity=float(velocity), effort=float(effort),
                     inertia=0.0, urdf_limits=urdf_limits, checks=checks, damping=j.damping)


def _plan_arm(plan: RobotPlan, tree: UrdfTree, an: Analysis, listed: list[UrdfJoint]) -> None:
    """End effector, and each joint's inertia averaged over poses within the limits."""
    names = {j.name for j in listed}
    depth = {j.name: sum(1 for p in tree.path(j.child) if p.name in names) for j in listed}
    last = max(listed, key=lambda j: depth[j.name])  # first in tree order among the deepest
    ends = tree.fixed_group(last.child)
    chosen = None
    for pattern in EE_NAMES:
        hits = [lk for lk in ends if re.search(pattern, lk, re.IGNORECASE)]
        if hits:
            chosen = hits[0]
            break
    plan.end_effector = chosen or last.child
    plan.tool_link = last.child
    plan.moving_links = [j.child for j in listed]
    how = f"named like an end effector, fixed to '{last.child}'" if chosen and chosen != last.child else \
        "the last link of the chain"
    plan.notes.append(f"end effector '{plan.end_effector}': {how}, at the end of the longest chain "
                      f"({depth[last.name]} joints, ending in '{last.name}')")
    poses = _sample_poses(listed, POSE_SAMPLES)
    dofs = [an.dof_index(j.name) for j in listed]
    diag = []
    for q in poses:
        an.set_pose(q)
        diag.append(an.mass_diagonal()[dofs])
    diag = np.array(diag)
    for jp, mean, low in zip(plan.joints, diag.mean(0), diag.min(0), strict=True):
        jp.inertia, jp.min_inertia = float(mean), float(low)
    plan.inertia_rule = (f"the diagonal of the joint-space mass matrix (MuJoCo mj_fullM of the URDF's links), "
                         f"averaged over {POSE_SAMPLES} poses drawn uniformly within the joint limits (seed 0): "
                         "the zero pose alone (an arm straight up) understates the shoulder's inertia several times")


def _plan_legged(plan: RobotPlan, tree: UrdfTree, an: Analysis, legs: list[tuple[list[str], str]],
                 xml: ET.Element) -> None:
    """Base, IMU, feet, the default pose (a crouch) and the standing height."""
    plan.base_link = tree.root
    if plan.link_masses[tree.root] <= 0:
        carried = [lk for lk in tree.fixed_group(tree.root) if plan.link_masses[lk] > 0]
        raise ConfigError(str(plan.urdf_path), f"link[{tree.root}]", "the root link is the floating base, and it has "
                          "no mass" + (f" (it carries {', '.join(carried)} on fixed joints)" if carried else "")
                          + ": remove the massless root from the URDF so that the link with the trunk's mass is the "
                          "root")
    plan.feet = [foot for _, foot in legs]
    plan.moving_links = [tree.root] + [tree.urdf.joints[jp.name].child for jp in plan.joints]
    rigid = tree.fixed_group(tree.root)
    imus = [lk for lk in rigid if IMU_NAME.search(lk)]
    plan.imu_link = imus[0] if imus else tree.root
    plan.notes.append(f"IMU on '{plan.imu_link}'" + (" (named like one, fixed to the base)" if imus else
                                                     " (no link fixed to the base is named like an IMU: the base)"))
    urdf_joints = [tree.urdf.joints[jp.name] for jp in plan.joints]
    spheres = _sphere_collisions(xml)
    pose, rule = _crouch(an, tree, urdf_joints, legs)
    plan.default_pose, plan.pose_rule = pose, rule
    an.set_pose(pose)
    bottoms = []
    for foot in plan.feet:
        p = an.link_position(foot)
        if foot in spheres:
            centre, radius = spheres[foot]
            p = p + an.link_rotation(foot) @ centre - np.array([0.0, 0.0, radius])
        bottoms.append(p[2])
    if not all(foot in spheres for foot in plan.feet):
        plan.notes.append("CHECK: not every foot has a collision sphere; the height is measured to the foot links' "
                          "frames")
    plan.height = float(-min(bottoms))
    if plan.height <= 0:
        raise ConfigError(str(plan.urdf_path), "", f"the feet ({', '.join(plan.feet)}) are not below the root "
                          f"'{tree.root}' in the default pose: not a legged robot? (--kind arm)")
    dofs = [an.dof_index(jp.name) for jp in plan.joints]
    for jp, inertia in zip(plan.joints, an.mass_diagonal()[dofs], strict=True):
        jp.inertia = jp.min_inertia = float(inertia)
    plan.inertia_rule = ("the diagonal of the joint-space mass matrix (MuJoCo mj_fullM of the URDF's links) in the "
                         "default pose with the base held: a swinging leg")


def _crouch(an: Analysis, tree: UrdfTree, joints: list[UrdfJoint], legs: list[tuple[list[str], str]]
            ) -> tuple[dict[str, float], str]:
    """The default pose: the URDF's zero pose if its legs are bent already, else a solved crouch.

    Each leg's reach is the deepest its foot gets below the leg's first joint over poses within the
    limits; the crouch puts every foot at `CROUCH` of that, under the leg's first joint fore and aft
    (as wide as the zero pose sets it), by damped least squares from the zero pose moved inside the
    limits (so the knees bend the way their limits allow, or, for unlimited knees, the way the
    URDF's zero pose bends them). Why under the hip: the Laikago's zero pose puts its feet 16 cm
    behind the hips; crouched there, the weight loaded the thighs through that lever and the robot
    pitched over and sank to half its height in both engines.
    """
    start = _zero_pose(joints)
    limits = {j.name: (j.lower, j.upper) for j in joints
              if j.type != "continuous" and j.lower is not None and j.upper is not None and j.lower < j.upper}
    zero_inside = all(lo <= 0.0 <= hi for lo, hi in limits.values())
    an.set_pose({j.name: 0.0 for j in joints})
    anchors = {foot: an.joint_anchor(leg[0]) for leg, foot in legs}
    zero_feet = {foot: an.link_position(foot) for _, foot in legs}
    # Reach: the best of 256 poses within the limits, then gradient steps lowering the foot from there.
    reach = {foot: anchors[foot][2] - zero_feet[foot][2] for _, foot in legs}
    deepest = {foot: {n: 0.0 for n in leg} for leg, foot in legs}
    for q in _sample_poses(joints, 256, seed=1):
        an.set_pose(q)
        for leg, foot in legs:
            drop = anchors[foot][2] - an.link_position(foot)[2]
            if drop > reach[foot]:
                reach[foot], deepest[foot] = drop, {n: q[n] for n in leg}
    for leg, foot in legs:
        q = deepest[foot]
        dofs = [an.dof_index(n) for n in leg]
        for _ in range(100):
            an.set_pose(q)
            down = an.position_jacobian(foot)[2, dofs]
            for n, dq in zip(leg, down, strict=True):
                q[n] = q[n] - float(np.clip(2.0 * dq, -0.1, 0.1))
                if n in limits:
                    q[n] = float(np.clip(q[n], *limits[n]))
        an.set_pose(q)
        reach[foot] = max(reach[foot], anchors[foot][2] - an.link_position(foot)[2])
    zero_drop = min((anchors[f][2] - zero_feet[f][2]) / reach[f] for _, f in legs)
    under = all(abs(zero_feet[f][0] - anchors[f][0]) < 0.2 * reach[f] for _, f in legs)
    if zero_inside and under and 0.5 <= zero_drop <= 0.9:
        return ({j.name: 0.0 for j in joints},
                f"the URDF's zero pose: its legs are bent already (feet at {zero_drop:.0%} of their reach, "
                "under the hips)")
    q = dict(start)
    worst = 0.0
    for leg, foot in legs:
        # under the hip fore and aft (the weight then loads the knees, not a lever at the hip), as wide
        # as the URDF's zero pose sets the feet
        target = np.array([anchors[foot][0], zero_feet[foot][1], anchors[foot][2] - CROUCH * reach[foot]])
        dofs = [an.dof_index(n) for n in leg]
        for _ in range(200):
            an.set_pose(q)
            err = target - an.link_position(foot)
            if np.linalg.norm(err) < 1e-5:
                break
            jac = an.position_jacobian(foot)[:, dofs]
            step = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(3), err)
            for n, dq in zip(leg, step, strict=True):
                q[n] += float(np.clip(dq, -0.2, 0.2))
                if n in limits:
                    q[n] = float(np.clip(q[n], *limits[n]))
        an.set_pose(q)
        worst = max(worst, float(np.linalg.norm(target - an.link_position(foot))))
    rule = (f"a crouch: each foot under its leg's first joint (at the zero pose's width), at {CROUCH:.0%} of the "
            "leg's reach below it")
    if worst > 0.005:
        rule += f" (CHECK: a foot is {worst * 1000:.0f} mm from its target: the joint limits stop it)"
    return {n: round(v, 3) + 0.0 for n, v in q.items()}, rule


def _stance_torques(plan: RobotPlan, an: Analysis) -> np.ndarray:
    """Per listed joint, the torque that holds its foot's share of the weight in the default pose
    (tau = J^T f, f = m g / n_feet upward at each foot); zeros for an arm."""
    torque = np.zeros(len(plan.joints))
    if plan.kind != "legged":
        return torque
    an.set_pose(plan.default_pose)
    load = np.array([0.0, 0.0, plan.total_mass * G / len(plan.feet)])
    dofs = [an.dof_index(jp.name) for jp in plan.joints]
    for foot in plan.feet:
        torque = np.maximum(torque, np.abs(an.position_jacobian(foot).T @ load)[dofs])
    return torque


def _default_efforts(plan: RobotPlan, tree: UrdfTree, an: Analysis, stance: np.ndarray) -> None:
    """An effort limit for joints whose URDF gives none: twice the torque that holds what hangs below
    the joint at its longest lever (over poses within the limits), for a leg at least what the legs'
    kp needs over a 0.5 rad error, at least 1 N*m (or N)."""
    missing = [jp for jp in plan.joints if jp.effort <= 0]
    if not missing:
        return
    need = {jp.name: float(stance.max()) / LEG_SAG_RAD * SAG_CHECK_RAD for jp in plan.joints}
    joints = [tree.urdf.joints[jp.name] for jp in plan.joints]
    hold = dict.fromkeys((jp.name for jp in missing), 0.0)
    for q in [_zero_pose(joints)] + _sample_poses(joints, 32, seed=2):
        an.set_pose(q)
        for jp in missing:
            mass, com = an.subtree(tree.urdf.joints[jp.name].child)
            if jp.type == "prismatic":
                hold[jp.name] = max(hold[jp.name], mass * G)
                continue
            r = com - an.joint_anchor(jp.name)
            axis = an.joint_axis(jp.name)
            hold[jp.name] = max(hold[jp.name], mass * G * float(np.linalg.norm(r - (r @ axis) * axis)))
    for jp in missing:
        jp.effort = _round_up(max(1.0, 2.0 * hold[jp.name], need[jp.name]))
        unit = "N" if jp.type == "prismatic" else "N*m"
        why = "the legs' kp over 0.5 rad" if need[jp.name] > 2.0 * hold[jp.name] else \
            "twice the torque that holds what hangs below the joint"
        jp.checks.append(f"effort limit: none in the URDF; {jp.effort:g} {unit} ({why}) is a placeholder: set the "
                         "motor's peak torque")


def _round_up(x: float, digits: int = 3) -> float:
    """x rounded up to `digits` significant figures (a placeholder limit never below what it must hold)."""
    scale = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return float(f"{math.ceil(x / scale - 1e-9) * scale:.{digits}g}")


def _cap(jp: JointPlan, kp: float) -> float:
    """kp, lowered to effort / SAG_CHECK_RAD where the effort limit cannot back it over a 0.5 rad error."""
    limit = jp.effort / SAG_CHECK_RAD
    jp.capped = kp > limit
    return min(kp, limit)


def _arm_gains(plan: RobotPlan) -> None:
    """kp = I wn^2, kd = 2 zeta I wn at wn = 2 pi ARM_BANDWIDTH_HZ; where kp exceeds the effort cap,
    kp is the cap and kd keeps the damping ratio at the lower frequency the cap leaves."""
    wn = 2 * math.pi * ARM_BANDWIDTH_HZ
    for jp in plan.joints:
        jp.kp = _cap(jp, jp.inertia * wn**2)
        w = math.sqrt(jp.kp / jp.inertia)
        jp.kd = 2 * DAMPING_RATIO * jp.inertia * w
        jp.bandwidth_hz = w / (2 * math.pi)
    plan.gain_rule = (f"kp = I * wn^2, kd = 2 * zeta * I * wn with wn = 2 pi * {ARM_BANDWIDTH_HZ:g} Hz (the servo "
                      f"bandwidth), zeta = {DAMPING_RATIO:g}, I the joint's effective inertia; kp at most "
                      f"effort / {SAG_CHECK_RAD:g} rad (the servo stays linear over a {SAG_CHECK_RAD:g} rad error), "
                      "kd then at the lower bandwidth that leaves")


def _leg_gains(plan: RobotPlan, stance: np.ndarray) -> None:
    """One kp for every leg joint, from the weight the legs carry; kd per joint from its inertia.

    Why not the arms' bandwidth rule: a leg's stiffness is set by the load it stands under, not by
    its swing inertia. At a 4 Hz swing bandwidth the A1's calves (0.007 kg m^2) would get kp 4.6
    N*m/rad and the robot would fold at the knees. Here each foot carries m g / n_feet in the
    default pose; the joint torques that holds, tau = J^T f, are read off each foot's Jacobian,
    and kp = max |tau| / LEG_SAG_RAD: the most loaded joint gives way LEG_SAG_RAD (linearly; the
    levers grow as the legs fold, so the robot sinks more). Softer legs let a quadruped pitch over
    its own legs: at half this kp (20) the imported A1 sank from 0.32 to 0.24 m, nose up 12 degrees,
    in both engines; at this one (40) it stands. kd = 2 zeta sqrt(kp I): damping ratio zeta for the
    swinging leg.
    """
    torque = stance
    worst = int(np.argmax(torque))
    kp = float(torque[worst]) / LEG_SAG_RAD
    for jp in plan.joints:
        jp.kp = _cap(jp, kp)
        jp.kd = 2 * DAMPING_RATIO * math.sqrt(jp.kp * jp.inertia)
        jp.bandwidth_hz = math.sqrt(jp.kp / jp.inertia) / (2 * math.pi)
    plan.gain_rule = (f"kp = max |tau| / {LEG_SAG_RAD:g} rad for every joint, tau = J^T f the torques that hold "
                      f"each foot's share of the weight f = m g / {len(plan.feet)} = "
                      f"{plan.total_mass * G / len(plan.feet):.3g} N in the default pose (the most loaded: "
                      f"{plan.joints[worst].name}, {torque[worst]:.3g} N*m): it gives way {LEG_SAG_RAD:g} rad "
                      f"(kp at most effort / {SAG_CHECK_RAD:g} rad); kd = 2 * zeta * sqrt(kp * I), zeta = "
                      f"{DAMPING_RATIO:g}, I the swinging leg's inertia about the joint")


def _integration(plan: RobotPlan) -> None:
    """The explicit step is stable while (kd + damping) dt / I < 2 for every joint; under the gap
    class (arm: links -40%, damping x3; legged: kd +30%) this wants it below 1, a margin of two.
    Arms past it get `integrator: implicit` (as the iiwa); legged robots, which the implicit step
    does not support (floating base), a shorter physics step."""

    def worst(dt: float) -> float:
        ratios = []
        for jp in plan.joints:
            if plan.kind == "arm":
                inertia = (1 - ARM_GAP["mass"]) * jp.min_inertia
                ratios.append((jp.kd + ARM_GAP["damping"] * jp.damping) * dt / inertia)
            else:
                ratios.append((LEGGED_GAP["kd"] * jp.kd + jp.damping) * dt / jp.inertia)
        return max(ratios)

    if plan.kind == "arm":
        plan.physics_dt = ARM_PHYSICS_DT
        plan.stability = worst(plan.physics_dt)
        plan.integrator = "implicit" if plan.stability > 1.0 else "euler"
        return
    for dt in (LEGGED_PHYSICS_DT, 0.004, 0.002, 0.001, 0.0005):
        plan.physics_dt = dt
        plan.stability = worst(dt)
        if plan.stability <= 1.0:
            break

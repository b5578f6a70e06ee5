"""Robots from their URDF as ROS packages ship them (issue 22, item 1).

`package://` meshes resolved (robot.yaml `packages:`, the URDF's folder tree, ROS_PACKAGE_PATH,
AMENT_PREFIX_PATH, a Python package), mesh collisions (STL, OBJ), continuous joints, unlisted joints
(grippers, mimic joints) held fixed in both engines and with the implicit integrator, massless
moving links refused by name, and robot folders that live anywhere. Real cases: the Franka Panda and
the Laikago from pybullet_data; a small ROS package tree written here.
"""

from __future__ import annotations

import importlib
import struct
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pybullet as pb
import pybullet_data
import pytest
from error_checks import assert_one_line

import sim.tasks  # noqa: F401 (registers the robot_rl/ envs)
from sim.engines import make_engine
from sim.errors import ConfigError
from sim.packages import PackageResolver
from sim.robot import load_robot, suspended

ENGINES = ("mujoco", "pybullet")
PYBULLET_DATA = Path(pybullet_data.getDataPath())
PANDA_ARM = [f"panda_joint{i}" for i in range(1, 8)]
PANDA_KP = (300, 300, 200, 200, 60, 60, 25)
PANDA_KD = (20, 20, 10, 10, 3, 2.5, 0.6)
PANDA_HOME = np.array([0.0, -0.5, 0.0, -2.0, 0.0, 1.6, 0.8])


# -- files a test writes ----------------------------------------------------------------------------
_CUBE_V = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
_CUBE_F = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1), (2, 3, 7), (2, 7, 6), (0, 2, 6),
           (0, 6, 4), (1, 5, 7), (1, 7, 3)]


def write_box_stl(path: Path, half: tuple[float, float, float]) -> None:
    """A closed box mesh, binary STL, centred on its origin."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\0" * 80 + struct.pack("<I", len(_CUBE_F)))
        for face in _CUBE_F:
            f.write(struct.pack("<3f", 0, 0, 0))
            for i in face:
                f.write(struct.pack("<3f", *(s * h for s, h in zip(_CUBE_V[i], half, strict=True))))
            f.write(b"\0\0")


def write_box_obj(path: Path, half: tuple[float, float, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"v {x * half[0]} {y * half[1]} {z * half[2]}" for x, y, z in _CUBE_V]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in _CUBE_F]
    path.write_text("\n".join(lines) + "\n")


def _inertial(mass: float, i: float = 1e-3) -> str:
    return (f'<inertial><mass value="{mass}"/><inertia ixx="{i}" iyy="{i}" izz="{i}" ixy="0" ixz="0" iyz="0"/>'
            "</inertial>")


def robot_urdf(body_mesh: str = "package://mypkg/meshes/box.stl", arm_inertial: bool = True) -> str:
    """A small robot as a ROS package names it: a body (mesh), an arm on a revolute joint (OBJ mesh) with a
    massless tip on a fixed joint, a wheel on a continuous joint, a finger on a prismatic joint."""
    return f"""<?xml version="1.0"?>
<robot name="myrobot">
  <link name="body">{_inertial(1.0, 2e-3)}
    <visual><geometry><mesh filename="{body_mesh}"/></geometry></visual>
    <collision><geometry><mesh filename="{body_mesh}"/></geometry></collision></link>
  <link name="arm">{_inertial(0.2) if arm_inertial else ""}
    <collision><origin xyz="0 0 0.1"/><geometry><mesh filename="package://mypkg/meshes/rod.obj"/></geometry>
    </collision></link>
  <joint name="hinge" type="revolute"><parent link="body"/><child link="arm"/>
    <origin xyz="0 0 0.05" rpy="0.2 -0.3 0.4"/><axis xyz="0 1 0"/>
    <limit lower="-2" upper="2" effort="20" velocity="5"/></joint>
  <link name="tip"/>
  <joint name="tip_joint" type="fixed"><parent link="arm"/><child link="tip"/><origin xyz="0.03 0.01 0.2"/></joint>
  <link name="wheel">{_inertial(0.1, 1e-4)}
    <collision><geometry><sphere radius="0.02"/></geometry></collision></link>
  <joint name="spin" type="continuous"><parent link="body"/><child link="wheel"/>
    <origin xyz="0.08 0 0"/><axis xyz="1 0 0"/><limit effort="5" velocity="50"/></joint>
  <link name="finger">{_inertial(0.05, 1e-5)}
    <collision><geometry><box size="0.01 0.01 0.02"/></geometry></collision></link>
  <joint name="slide" type="prismatic"><parent link="body"/><child link="finger"/>
    <origin xyz="-0.08 0 0" rpy="0 0 0.7"/><axis xyz="0 1 0"/>
    <limit lower="0" upper="0.04" effort="10" velocity="0.2"/></joint>
</robot>
"""


def ros_package(root: Path, name: str = "mypkg", folder: str | None = None, **urdf_args) -> Path:
    """A ROS package tree: package.xml, meshes/box.stl, meshes/box.obj, meshes/rod.obj, urdf/robot.urdf."""
    pkg = root / (folder or name)
    pkg.mkdir(parents=True)
    (pkg / "package.xml").write_text(f'<?xml version="1.0"?>\n<package format="3"><name>{name}</name>'
                                     "<version>0.1.0</version></package>\n")
    write_box_stl(pkg / "meshes" / "box.stl", (0.05, 0.05, 0.05))
    write_box_obj(pkg / "meshes" / "box.obj", (0.05, 0.05, 0.05))
    write_box_obj(pkg / "meshes" / "rod.obj", (0.01, 0.01, 0.1))
    (pkg / "urdf").mkdir()
    (pkg / "urdf" / "robot.urdf").write_text(robot_urdf(**urdf_args))
    return pkg


def robot_yaml(folder: Path, urdf: str, extra: str = "", joints: tuple[str, ...] = ("hinge", "spin")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["name: myrobot", f"urdf: {urdf}", "control_hz: 50", "physics_dt: 0.002", "joints:"]
    lines += [f"  - {{name: {j}}}" for j in joints]
    lines += ["actuators:"]
    lines += [f"  - {{name: {j}, joint: {j}, type: position, kp: 5.0, kd: 0.2}}" for j in joints]
    path = folder / "robot.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def panda_yaml(folder: Path, integrator: str = "implicit", extra: str = "") -> Path:
    """The Panda from pybullet_data as a user writes it: 7 arm joints, fingers unlisted (held)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["name: panda", "urdf: {package: pybullet_data, path: franka_panda/panda.urdf}", "control_hz: 50",
             "physics_dt: 0.001", f"integrator: {integrator}", "contacts: false", "end_effector: panda_hand",
             "joints:"]
    lines += [f"  - {{name: {j}}}" for j in PANDA_ARM]
    lines += ["actuators:"]
    lines += [f"  - {{name: {j}, joint: {j}, type: position, kp: {kp}, kd: {kd}}}"
              for j, kp, kd in zip(PANDA_ARM, PANDA_KP, PANDA_KD, strict=True)]
    path = folder / "robot.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def rollout(engine, q0, commands) -> np.ndarray:
    engine.reset(np.asarray(q0, float), np.zeros(len(q0)))
    out = []
    for u in commands:
        engine.step(np.asarray(u, float))
        out.append(np.concatenate(engine.joint_state()))
    return np.array(out)


# -- resolution -------------------------------------------------------------------------------------
def test_package_found_in_the_urdfs_folder_tree_and_by_package_xml_name(tmp_path):
    """Walking up from the URDF: the package's folder (named so, or whose package.xml says so); a
    package:// naming a folder beside the URDF (pybullet_data's `package://meshes/...`)."""
    pkg = ros_package(tmp_path / "ws" / "src")
    urdf = pkg / "urdf" / "robot.urdf"
    assert PackageResolver(urdf).resolve("package://mypkg/meshes/box.stl") == pkg / "meshes" / "box.stl"
    renamed = ros_package(tmp_path / "ws2" / "src", folder="mypkg-git")  # folder name != package name
    assert (PackageResolver(renamed / "urdf" / "robot.urdf").resolve("package://mypkg/meshes/rod.obj")
            == renamed / "meshes" / "rod.obj")
    panda = PYBULLET_DATA / "franka_panda" / "panda.urdf"
    assert (PackageResolver(panda).resolve("package://meshes/collision/link0.obj")
            == (panda.parent / "meshes" / "collision" / "link0.obj").resolve())
    sibling = tmp_path / "ws" / "src" / "other" / "urdf"  # a sibling package of a workspace's src/
    sibling.mkdir(parents=True)
    assert (PackageResolver(sibling / "x.urdf").resolve("package://mypkg/meshes/box.stl")
            == pkg / "meshes" / "box.stl")


def test_resolution_order_packages_map_tree_ros_package_path_python(tmp_path, monkeypatch):
    """The first place holding the file wins: robot.yaml packages:, the tree, ROS_PACKAGE_PATH, Python."""
    for var in ("ROS_PACKAGE_PATH", "AMENT_PREFIX_PATH"):
        monkeypatch.delenv(var, raising=False)
    tree = ros_package(tmp_path / "ws" / "src")
    mapped = ros_package(tmp_path / "vendor", folder="mypkg_copy")
    ros = ros_package(tmp_path / "ros" / "src" / "repo")  # two levels below the ROS_PACKAGE_PATH entry
    box = "package://mypkg/meshes/box.stl"
    urdf = tree / "urdf" / "robot.urdf"
    assert PackageResolver(urdf, {"mypkg": mapped}).resolve(box) == mapped / "meshes" / "box.stl"
    monkeypatch.setenv("ROS_PACKAGE_PATH", str(tmp_path / "ros"))
    assert PackageResolver(urdf).resolve(box) == tree / "meshes" / "box.stl"  # the tree before the env
    elsewhere = tmp_path / "robots" / "r" / "robot.urdf"  # a URDF outside any package
    elsewhere.parent.mkdir(parents=True)
    assert PackageResolver(elsewhere).resolve(box) == ros / "meshes" / "box.stl"
    monkeypatch.setenv("ROS_PACKAGE_PATH", "")
    prefix = tmp_path / "install"
    ament = ros_package(prefix / "share")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert PackageResolver(elsewhere).resolve(box) == ament / "meshes" / "box.stl"
    monkeypatch.setenv("AMENT_PREFIX_PATH", "")
    site = tmp_path / "site"
    write_box_stl(site / "pymeshpkg" / "meshes" / "box.stl", (0.05, 0.05, 0.05))
    (site / "pymeshpkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert (PackageResolver(elsewhere).resolve("package://pymeshpkg/meshes/box.stl")
            == site / "pymeshpkg" / "meshes" / "box.stl")
    assert "pymeshpkg" not in sys.modules  # found, not imported


def test_unresolvable_package_uri_is_one_line_naming_urdf_link_uri_and_what_to_add(tmp_path, monkeypatch):
    monkeypatch.delenv("ROS_PACKAGE_PATH", raising=False)
    pkg = ros_package(tmp_path / "ws" / "src", name="otherpkg")  # the URDF names mypkg: nowhere to be found
    path = robot_yaml(tmp_path / "robot", str(pkg / "urdf" / "robot.urdf"))
    with pytest.raises(ConfigError) as err:
        load_robot(path)
    assert_one_line(err.value, "robot.urdf", "link[body]", "package://mypkg/meshes/box.stl", "ROS_PACKAGE_PATH",
                    "packages: {mypkg: FOLDER}", "looked in")
    robot_yaml(tmp_path / "robot", str(pkg / "urdf" / "robot.urdf"), extra="packages: {mypkg: ../nowhere}\n")
    with pytest.raises(ConfigError) as err:
        load_robot(path)
    assert_one_line(err.value, "packages.mypkg", "not found")
    # mapped to the package's folder, the same robot loads
    robot_yaml(tmp_path / "robot", str(pkg / "urdf" / "robot.urdf"), extra=f"packages: {{mypkg: {pkg}}}\n")
    assert load_robot(path).mesh_files["package://mypkg/meshes/box.stl"] == pkg / "meshes" / "box.stl"


def test_a_collision_mesh_neither_engine_reads_is_refused_in_one_line(tmp_path):
    pkg = ros_package(tmp_path / "ws" / "src", body_mesh="package://mypkg/meshes/body.dae")
    (pkg / "meshes" / "body.dae").write_text("<COLLADA/>")
    with pytest.raises(ConfigError) as err:
        load_robot(robot_yaml(tmp_path / "r", str(pkg / "urdf" / "robot.urdf")))
    assert_one_line(err.value, "link[body] collision mesh", "package://mypkg/meshes/body.dae", "STL or OBJ")


# -- a self-made ROS package robot ------------------------------------------------------------------
def test_ros_package_robot_outside_the_tree_builds_and_agrees_in_both_engines(tmp_path):
    """Meshes by package:// (STL body, OBJ arm), a continuous joint, an unlisted prismatic joint held, a
    massless link on a fixed joint; the robot folder beside no package, found through `packages:`."""
    pkg = ros_package(tmp_path / "ws" / "src")
    path = robot_yaml(tmp_path / "elsewhere" / "myrobot", "../../ws/src/mypkg/urdf/robot.urdf",
                      extra="packages: {mypkg: ../../ws/src/mypkg}\nheld: {slide: 0.03}\n")
    robot = load_robot(path)
    assert robot.held == {"slide": 0.03} and robot.joint("spin").type == "continuous"
    assert robot.joint("spin").position_limits is None
    import mujoco  # noqa: PLC0415 (after `import sim`, which picks MuJoCo's GL backend before MuJoCo loads)

    model = make_engine(robot, "mujoco").model
    assert model.nv == 2 and model.nmesh >= 2  # the held slide has no degree of freedom
    box = model.geom(model.body("body").geomadr[0])
    assert box.type[0] == mujoco.mjtGeom.mjGEOM_MESH
    assert np.allclose(model.geom_aabb[box.id][3:], 0.05, atol=1e-6)  # the STL's box, at its scale
    p = make_engine(robot, "pybullet")
    shapes = pb.getCollisionShapeData(p.body, p.link_ids["arm"], physicsClientId=p.client)
    assert shapes[0][2] == pb.GEOM_MESH and pkg.name in shapes[0][4].decode()
    t = np.arange(50) * robot.control_dt
    commands = np.stack([np.sin(2 * np.pi * t), 8.0 * t], axis=1)  # the wheel's target winds past 2 pi
    mj, pyb = (rollout(make_engine(robot, e), [0.0, 0.0], commands) for e in ENGINES)
    assert mj[-1, 1] > 2 * np.pi and pyb[-1, 1] > 2 * np.pi  # continuous: no limit stops it
    assert np.max(np.abs(mj - pyb)) < 1e-6  # measured ~1e-13


@pytest.mark.parametrize("engine", ENGINES)
def test_held_revolute_joint_is_fixed_where_the_listed_joint_would_be(tmp_path, engine):
    """Holding rewrites the joint as fixed at its position: the frames below it are where the free joint
    at that position puts them (origin rpy composed with the turn about the axis)."""
    pkg = ros_package(tmp_path / "ws" / "src")
    urdf = str(pkg / "urdf" / "robot.urdf")
    free = make_engine(load_robot(robot_yaml(tmp_path / "free", urdf, joints=("hinge",))), engine)
    free.reset(np.array([0.7]), np.zeros(1))
    held = make_engine(load_robot(robot_yaml(tmp_path / "held", urdf, extra="held: {hinge: 0.7}\n",
                                             joints=("spin",))), engine)
    held.reset(np.zeros(1), np.zeros(1))
    for link in ("tip", "finger"):
        assert np.allclose(held.link_position(link), free.link_position(link), atol=1e-6), link


@pytest.mark.parametrize("mesh", ["box.stl", "box.obj"])
def test_mesh_collisions_stand_on_the_floor_in_both_engines(tmp_path, mesh):
    """A floating robot whose body collides through a mesh (STL or OBJ) comes to rest on it: 5 cm up."""
    ros_package(tmp_path / "ws" / "src", body_mesh=f"package://mypkg/meshes/{mesh}")
    path = robot_yaml(tmp_path / "r", "../ws/src/mypkg/urdf/robot.urdf",
                      extra="contacts: true\nbase: {link: body, height: 0.1}\n")
    robot = load_robot(path)
    for engine in ENGINES:
        e = make_engine(robot, engine)
        rollout(e, [0.0, 0.0], np.zeros((25, 2)))  # 0.5 s: the 5 cm drop and settling
        z = e.state().base.position[2]
        assert z == pytest.approx(0.05, abs=3e-3), (engine, z)  # the mesh's half height, not 0 or the AABB


# -- the Franka Panda (package://meshes, fingers held, panda_link8 massless on a fixed joint) --------
@pytest.mark.parametrize("integrator", ["euler", "implicit"])
def test_panda_moves_with_its_fingers_held_in_both_engines(tmp_path, integrator):
    """1 s of arm motion: the fingers stay where `held:` puts them (4 cm apart), and both engines agree on
    the arm to 1e-6 rad (measured ~1e-14: no contacts, friction or limits reached)."""
    robot = load_robot(panda_yaml(tmp_path / "panda", integrator,
                                  "held: {panda_finger_joint1: 0.02, panda_finger_joint2: 0.02}\n"))
    assert robot.held == {"panda_finger_joint1": 0.02, "panda_finger_joint2": 0.02}
    assert robot.joint("panda_joint1").effort_limit == 87 and robot.joint("panda_joint7").velocity_limit == 2.61
    t = np.arange(50) * robot.control_dt
    targets = PANDA_HOME + 0.4 * np.sin(2 * np.pi * 0.8 * t[:, None] + np.arange(7))
    runs = {}
    for engine in ENGINES:
        e = make_engine(robot, engine)
        e.reset(PANDA_HOME, np.zeros(7))
        gap0 = np.linalg.norm(e.link_position("panda_leftfinger") - e.link_position("panda_rightfinger"))
        hand0 = np.linalg.norm(e.link_position("panda_leftfinger") - e.link_position("panda_hand"))
        runs[engine] = rollout(e, PANDA_HOME, targets)
        gap1 = np.linalg.norm(e.link_position("panda_leftfinger") - e.link_position("panda_rightfinger"))
        hand1 = np.linalg.norm(e.link_position("panda_leftfinger") - e.link_position("panda_hand"))
        assert gap0 == pytest.approx(0.04, abs=1e-6) and gap1 == pytest.approx(0.04, abs=1e-6), engine
        assert hand1 == pytest.approx(hand0, abs=1e-6), engine
        e.close()
    assert np.max(np.abs(runs["mujoco"][-1, :7] - PANDA_HOME)) > 0.2  # the arm did move
    assert np.max(np.abs(runs["mujoco"] - runs["pybullet"])) < 1e-6


def test_panda_fingers_held_at_zero_by_default_and_dofs_are_the_listed_joints(tmp_path):
    robot = load_robot(panda_yaml(tmp_path / "panda"))
    assert robot.held == {"panda_finger_joint1": 0.0, "panda_finger_joint2": 0.0}
    m = make_engine(robot, "mujoco")
    assert m.model.nv == 7 and m.model.neq == 0  # no finger dofs, no mimic equality
    p = make_engine(robot, "pybullet")
    movable = [i for i in range(pb.getNumJoints(p.body, physicsClientId=p.client))
               if pb.getJointInfo(p.body, i, physicsClientId=p.client)[2] != pb.JOINT_FIXED]
    assert len(movable) == 7
    assert p.link_ids["panda_link8"] >= 0  # a massless link on a fixed joint loads


def test_held_map_is_validated(tmp_path):
    folder = tmp_path / "panda"
    cases = [("held: {panda_joint1: 0.1}\n", "held.panda_joint1", "listed in joints"),
             ("held: {panda_finger_joint3: 0.0}\n", "held.panda_finger_joint3", "panda_finger_joint1"),
             ("held: {panda_finger_joint1: 0.5}\n", "held.panda_finger_joint1", "outside the joint's URDF limits"),
             ("held: [panda_finger_joint1]\n", "held", "mapping")]
    for extra, field, words in cases:
        with pytest.raises(ConfigError) as err:
            load_robot(panda_yaml(folder, extra=extra))
        assert_one_line(err.value, field, words)


def test_a_held_joint_mimicking_a_moving_one_is_refused(tmp_path):
    path = panda_yaml(tmp_path / "panda")
    text = path.read_text().replace("  - {name: panda_joint7}\n", "  - {name: panda_joint7}\n"
                                    "  - {name: panda_finger_joint1}\n")
    path.write_text(text + "  - {name: finger, joint: panda_finger_joint1, type: position, kp: 100.0, kd: 5}\n")
    with pytest.raises(ConfigError) as err:
        load_robot(path)
    assert_one_line(err.value, "panda_finger_joint2", "mimics listed joint 'panda_finger_joint1'")


def test_a_moving_link_without_mass_is_refused_by_name(tmp_path):
    pkg = ros_package(tmp_path / "ws" / "src", arm_inertial=False)
    with pytest.raises(ConfigError) as err:
        load_robot(robot_yaml(tmp_path / "r", str(pkg / "urdf" / "robot.urdf")))
    assert_one_line(err.value, "link[arm]", "joint 'hinge' is listed", "no mass")
    # the same link held (its joint not listed) rides on its parent: fine
    assert load_robot(robot_yaml(tmp_path / "r", str(pkg / "urdf" / "robot.urdf"), joints=("spin",))).held["hinge"] == 0


# -- continuous joints and a floating base: the Laikago (plain relative .obj/.stl meshes) -----------
def laikago_yaml(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"hip_motor_2_chassis_joint": 0.0, "upper_leg_2_hip_motor_joint": 0.67,
             "lower_leg_2_upper_leg_joint": -1.25}
    names = [f"{leg}_{p}" for leg in ("FR", "FL", "RR", "RL") for p in parts]
    lines = ["name: laikago", "urdf: {package: pybullet_data, path: laikago/laikago_toes_zup.urdf}", "control_hz: 50",
             "physics_dt: 0.005", "contacts: true", "base: {link: chassis, height: 0.52}",
             "feet: [toeFR, toeFL, toeRR, toeRL]", "default_pose:"]
    lines += [f"  {n}: {parts[n[3:]]}" for n in names] + ["joints:"] + [f"  - {{name: {n}}}" for n in names]
    lines += ["actuators:"] + [f"  - {{name: {n}, joint: {n}, type: position, kp: 60.0, kd: 2.0, effort_limit: 40}}"
                               for n in names]
    path = folder / "robot.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_laikago_continuous_joints_turn_past_pi_in_both_engines(tmp_path):
    """Its joints are all continuous: unlimited in both engines (on the gantry, a knee wound by 4 rad)."""
    robot = load_robot(laikago_yaml(tmp_path / "laikago"))
    assert {j.type for j in robot.joints} == {"continuous"} and all(j.position_limits is None for j in robot.joints)
    hung = suspended(robot)
    pose = np.array(robot.default_pose)
    target = pose.copy()
    target[2] += 4.0
    finals = []
    for engine in ENGINES:
        e = make_engine(hung, engine)
        if engine == "mujoco":
            assert not e.model.jnt_limited.any()
        q = rollout(e, pose, np.tile(target, (50, 1)))[-1, :12]
        assert q[2] == pytest.approx(target[2], abs=0.05), engine
        finals.append(q)
    assert np.max(np.abs(finals[0] - finals[1])) < 1e-6  # measured ~4e-14
    free = make_engine(robot, "pybullet")  # the floating robot with its mesh collisions steps too
    rollout(free, pose, np.tile(pose, (5, 1)))
    assert np.all(np.isfinite(free.state().base.position))


# -- a robot folder anywhere -----------------------------------------------------------------------
def test_gymnasium_make_takes_a_robot_yaml_path(tmp_path):
    """A robot folder outside sim/robots/ runs a task by its path: a copy of the iiwa's robot.yaml (its URDF
    from the pybullet_data package) on the IiwaReach-v0 alias, which must keep taking robot=."""
    folder = tmp_path / "somewhere" / "my_iiwa"
    folder.mkdir(parents=True)
    shipped = load_robot("iiwa").yaml_path
    (folder / "robot.yaml").write_text(shipped.read_text())
    env = gym.make("robot_rl/IiwaReach-v0", robot=str(folder / "robot.yaml"))
    try:
        assert env.unwrapped.robot.root == folder
        obs, _ = env.reset(seed=0)
        obs, reward, *_ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(obs)) and np.isfinite(reward)
    finally:
        env.close()

"""`robot-rl robots import URDF --out DIR`: a URDF as robots ship it becomes a robot folder that loads,
builds in both engines and agrees between them (issue 22, deliverable 2).

The robots are pybullet_data's: the iiwa and the A1 (which the project ships, so what the import
detects can be held against the hand-written folders), the Panda (package:// meshes, a gripper) and
the Laikago (other joint names, continuous joints, mesh collisions). Small URDFs written here cover
what those do not: missing limits, mimic joints, a relative URDF path, refusals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet_data
import pytest
from error_checks import one_error_line, snapshot

from robot_rl.cli import main
from sim.params import load_yaml_mapping, resolve_params
from sim.randomization import load_randomization
from sim.robot import load_robot
from sim.robot_files import urdf_reference, write_robot_folder
from sim.robot_import import SAG_CHECK_RAD, plan_robot
from sim.sim2sim import check_robot, standing
from sim.validation import load_yaml_file

DATA = Path(pybullet_data.getDataPath())
IIWA, A1, PANDA, LAIKAGO = (DATA / p for p in ("kuka_iiwa/model.urdf", "a1/a1.urdf", "franka_panda/panda.urdf",
                                                "laikago/laikago_toes_zup.urdf"))
IIWA_JOINTS = tuple(f"lbr_iiwa_joint_{i}" for i in range(1, 8))


def assert_gains_sane(plan) -> None:
    for jp in plan.joints:
        assert jp.kp > 0 and jp.kd > 0 and jp.inertia > 0, jp
        assert jp.kp * SAG_CHECK_RAD <= jp.effort * (1 + 1e-9), jp  # the servo stays linear over 0.5 rad


def assert_folder_loads(out: Path):
    """robot.yaml loads; the randomization and every robustness case resolve against it."""
    robot = load_robot(out)
    load_randomization(robot, "default")
    cases = load_yaml_mapping(out / "robustness.yaml", "robustness")["cases"]
    assert len(cases) >= 6
    for case in cases.values():
        resolve_params(robot, case)
    return robot


# ---------------------------------------------------------------------------------------------- arms


def test_iiwa_is_a_fixed_base_arm_with_seven_joints_ending_in_link_7():
    plan = plan_robot(IIWA, "iiwa_imported")
    assert plan.kind == "arm" and plan.base_link is None and not plan.held
    assert tuple(jp.name for jp in plan.joints) == IIWA_JOINTS
    assert plan.end_effector == "lbr_iiwa_link_7"
    assert_gains_sane(plan)
    inertia = [jp.inertia for jp in plan.joints]
    assert inertia[1] > 100 * inertia[6]  # the shoulder moves the arm, the flange joint a 0.3 kg link
    # 1 ms and link 7 at -40% with the URDF's damping 0.5 x3: the explicit step's bound is passed, as the
    # shipped iiwa's robot.yaml explains; the import reaches the same decision
    assert plan.integrator == "implicit" and plan.stability > 1.0
    assert load_robot("iiwa").integrator == "implicit"


def test_iiwa_import_command_writes_a_folder_that_validates_and_both_engines_agree_on(tmp_path, capsys):
    out = tmp_path / "my_iiwa"
    assert main(["robots", "import", str(IIWA), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sim2sim: the engines agree" in printed
    assert "robot-rl train --task Reach --robot" in printed  # what to do next
    robot = assert_folder_loads(out)
    assert robot.name == "my_iiwa" and robot.joint_names == IIWA_JOINTS and not robot.floating
    assert robot.end_effector == "lbr_iiwa_link_7"
    # the URDF lies in an installed python package: named by package, so the folder survives a new venv
    assert load_yaml_file(out / "robot.yaml")["urdf"] == {"package": "pybullet_data", "path": "kuka_iiwa/model.urdf"}
    assert main(["robots", str(out)]) == 0  # `robot-rl robots DIR` validates it


def test_panda_fingers_are_held_and_the_hand_is_the_end_effector(tmp_path):
    plan = plan_robot(PANDA, "panda")
    assert tuple(jp.name for jp in plan.joints) == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert set(plan.held) == {"panda_finger_joint1", "panda_finger_joint2"}
    assert plan.end_effector == "panda_hand"  # the hand at the end of link8, not a finger
    assert_gains_sane(plan)
    assert any("same inertia" in note for note in plan.notes)  # pybullet_data's Panda: 0.1 kg m^2 for every link
    written, problem = write_robot_folder(plan, tmp_path / "panda")
    assert problem is None and len(written) == 3  # its package:// meshes resolve from the URDF's folder
    robot = assert_folder_loads(tmp_path / "panda")
    assert robot.held == {"panda_finger_joint1": 0.0, "panda_finger_joint2": 0.0}
    gap = check_robot(robot)
    assert 0.0 < gap["worst_max"] < 1e-3  # two engines (not one twice), agreeing within a milliradian


# ---------------------------------------------------------------------------------------------- legged


def test_a1_is_legged_with_its_toes_as_feet_and_a_plausible_height(tmp_path):
    plan = plan_robot(A1, "a1_imported")
    assert plan.kind == "legged" and plan.base_link == "trunk" and plan.imu_link == "imu_link"
    assert plan.feet == ["FR_toe", "FL_toe", "RR_toe", "RL_toe"]
    shipped = load_robot("a1")
    assert tuple(jp.name for jp in plan.joints) == shipped.joint_names
    assert plan.height == pytest.approx(shipped.base.height, rel=0.3)
    assert all(plan.default_pose[f"{leg}_lower_joint"] < -0.9 for leg in ("FR", "FL", "RR", "RL"))  # knees bent
    assert_gains_sane(plan)
    write_robot_folder(plan, tmp_path / "a1")
    robot = assert_folder_loads(tmp_path / "a1")
    assert robot.floating and robot.base.feet == ("FR_toe", "FL_toe", "RR_toe", "RL_toe")
    gap = check_robot(robot)  # hung on its gantry: no floor contact in the comparison
    assert gap["suspended"] and gap["worst_max"] < 1e-3
    stand = standing(robot, 1.0)  # the suggested gains carry the robot's weight in both engines
    for engine in ("mujoco", "pybullet"):
        assert stand[engine]["mean_height_last_1s_m"] > 0.85 * robot.base.height, stand


def test_laikago_other_names_continuous_joints_and_mesh_collisions(tmp_path):
    plan = plan_robot(LAIKAGO, "laikago")
    assert plan.kind == "legged" and plan.base_link == "chassis" and plan.imu_link == "chassis"
    assert plan.feet == ["toeFR", "toeFL", "toeRR", "toeRL"]
    assert all(jp.type == "continuous" and jp.limits is None for jp in plan.joints)
    assert any("same effort limit (100)" in note for note in plan.notes)
    write_robot_folder(plan, tmp_path / "laikago")
    robot = assert_folder_loads(tmp_path / "laikago")
    assert len(robot.joints) == 12 and robot.base.link == "chassis"


# ------------------------------------------------------------------------------------- small URDFs

LINK = '<link name="{n}"><inertial><mass value="{m}"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" ' \
       'iyz="0"/></inertial></link>'


def joint(name, kind, parent, child, extra="", xyz="0 0 0.2"):
    return (f'<joint name="{name}" type="{kind}"><parent link="{parent}"/><child link="{child}"/>'
            f'<origin xyz="{xyz}"/><axis xyz="0 1 0"/>{extra}</joint>')


FINGER_LIMIT = '<limit lower="0" upper="0.04" effort="5" velocity="0.1"/>'


def small_arm(extra: str = "", tip_mass: float = 0.5) -> str:
    """base -> shoulder (limits only) -> elbow (continuous) -> forearm -fixed- tool0; a jaw and a
    follower that mimics it (named like neither a finger nor a gripper)."""
    links = "".join(LINK.format(n=n, m=m) for n, m in (("base", 2.0), ("upper", 1.0), ("forearm", tip_mass),
                                                        ("tool0", 0.1), ("jaw", 0.05), ("pad", 0.05)))
    return (f'<robot name="small">{links}'
            + joint("shoulder", "revolute", "base", "upper", '<limit lower="-2" upper="2"/>')
            + joint("elbow", "continuous", "upper", "forearm")
            + joint("flange", "fixed", "forearm", "tool0")
            + joint("jaw_joint", "prismatic", "tool0", "jaw", FINGER_LIMIT)
            + joint("pad_joint", "prismatic", "tool0", "pad", FINGER_LIMIT + '<mimic joint="jaw_joint"/>')
            + extra + "</robot>")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_missing_limits_get_marked_placeholders_and_the_gripper_is_held(tmp_path):
    urdf = write(tmp_path / "desc" / "urdf" / "small.urdf", small_arm())
    out = tmp_path / "robots" / "small"
    plan = plan_robot(urdf, "small")
    assert [jp.name for jp in plan.joints] == ["shoulder", "elbow"]
    assert plan.held == {"jaw_joint": "a gripper joint (named like one)", "pad_joint": "mimics 'jaw_joint'"}
    assert plan.end_effector == "tool0"  # named like a tool, fixed to the chain's last link
    shoulder, elbow = plan.joints
    assert shoulder.limits == (-2.0, 2.0) and elbow.limits is None
    assert shoulder.velocity == 2.0 and shoulder.effort >= 1.0  # slow placeholder; twice the holding torque
    assert {c.split(":")[0] for c in shoulder.checks} == {"velocity limit", "effort limit"}
    assert_gains_sane(plan)
    write_robot_folder(plan, out)
    text = (out / "robot.yaml").read_text()
    assert text.count("CHECK:") >= 2 and "velocity_limit: 2.0" in text
    robot = assert_folder_loads(out)
    assert robot.joint("shoulder").velocity_limit == 2.0 and robot.held == {"jaw_joint": 0.0, "pad_joint": 0.0}
    # near the URDF: a relative path, so the description and the robot folder move together
    assert load_yaml_file(out / "robot.yaml")["urdf"] == "../../desc/urdf/small.urdf"
    assert robot.urdf_path == urdf.resolve()


def small_quadruped() -> str:
    """A 6 kg trunk on four two-joint legs (hip and knee pitch, the knee limited to bend one way),
    spherical feet, and no effort or velocity limits anywhere."""
    parts = ['<robot name="quad">', LINK.format(n="body", m=6.0)]
    sphere = '<collision><geometry><sphere radius="0.02"/></geometry></collision>'
    for leg, (x, y) in {"fl": (0.2, 0.1), "fr": (0.2, -0.1), "hl": (-0.2, 0.1), "hr": (-0.2, -0.1)}.items():
        parts += [LINK.format(n=f"{leg}_thigh", m=0.5), LINK.format(n=f"{leg}_shank", m=0.3),
                  LINK.format(n=f"{leg}_foot", m=0.05).replace("</link>", sphere + "</link>"),
                  joint(f"{leg}_hip", "revolute", "body", f"{leg}_thigh", '<limit lower="-1.5" upper="1.5"/>',
                        xyz=f"{x} {y} 0"),
                  joint(f"{leg}_knee", "revolute", f"{leg}_thigh", f"{leg}_shank", '<limit lower="0.2" upper="2.6"/>',
                        xyz="0 0 -0.2"),
                  joint(f"{leg}_ankle", "fixed", f"{leg}_shank", f"{leg}_foot", xyz="0 0 -0.2")]
    return "".join(parts) + "</robot>"


def test_a_legged_robot_without_limits_gets_efforts_that_carry_its_weight(tmp_path):
    plan = plan_robot(write(tmp_path / "quad.urdf", small_quadruped()), "quad")
    assert plan.kind == "legged" and plan.base_link == "body" and plan.imu_link == "body"
    assert plan.feet == ["fl_foot", "fr_foot", "hl_foot", "hr_foot"]
    assert all(plan.default_pose[f"{leg}_knee"] > 0.3 for leg in ("fl", "fr", "hl", "hr"))  # bent, within limits
    assert all(any(c.startswith("effort") for c in jp.checks) for jp in plan.joints)
    assert not any(jp.capped for jp in plan.joints)  # the placeholder effort backs the legs' kp
    assert_gains_sane(plan)
    write_robot_folder(plan, tmp_path / "quad")
    robot = assert_folder_loads(tmp_path / "quad")
    stand = standing(robot, 1.0)
    for engine in ("mujoco", "pybullet"):
        assert stand[engine]["mean_height_last_1s_m"] > 0.85 * robot.base.height, stand


def test_a_mimic_leader_goes_with_its_held_follower(tmp_path):
    """A held follower of a moving leader would stay put while the leader moves: both are held."""
    text = small_arm().replace('name="jaw_joint"', 'name="drive"').replace('joint="jaw_joint"', 'joint="drive"')
    text = text.replace('name="pad_joint"', 'name="finger_joint"').replace('"jaw"', '"carriage"')
    plan = plan_robot(write(tmp_path / "m.urdf", text), "m")
    assert plan.held == {"drive": "'finger_joint' mimics it", "finger_joint": "a gripper joint (named like one)"}


def test_urdf_reference_far_away_is_absolute(tmp_path):
    urdf = write(tmp_path / "desc" / "small.urdf", small_arm())
    far = tmp_path / "a" / "b" / "c" / "robot"
    assert urdf_reference(urdf, far).strip() == urdf.resolve().as_posix()
    assert urdf_reference(urdf, tmp_path / "robot").strip().startswith("../desc/small.urdf")


def test_unresolved_package_meshes_still_write_the_folder_naming_the_package(tmp_path, capsys):
    mesh = ('<visual><geometry><mesh filename="package://acme_description/meshes/base.stl"/></geometry></visual>')
    urdf = write(tmp_path / "acme.urdf", small_arm().replace('<link name="base">', f'<link name="base">{mesh}'))
    out = tmp_path / "acme"
    assert main(["robots", "import", str(urdf), "--out", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err, "robots")
    assert "acme_description" in line and "packages" in line
    assert "#   acme_description: path/to/acme_description" in (out / "robot.yaml").read_text()


# ---------------------------------------------------------------------------------------------- refusals


def test_an_existing_folder_is_not_overwritten_without_force(tmp_path, capsys):
    urdf = write(tmp_path / "small.urdf", small_arm())
    out = tmp_path / "small"
    assert main(["robots", "import", str(urdf), "--out", str(out), "--no-check"]) == 0
    (out / "robot.yaml").write_text((out / "robot.yaml").read_text() + "# my edit\n")
    capsys.readouterr()
    before = snapshot(out)
    assert main(["robots", "import", str(urdf), "--out", str(out), "--no-check"]) == 1
    line = one_error_line(capsys.readouterr().err, "robots")
    assert "robot.yaml" in line and "--force" in line
    assert snapshot(out) == before
    assert main(["robots", "import", str(urdf), "--out", str(out), "--no-check", "--force"]) == 0
    assert "# my edit" not in (out / "robot.yaml").read_text()


@pytest.mark.parametrize("case", ["missing", "not_xml", "xacro", "no_joints", "massless", "out_is_file", "no_legs",
                                  "describe_with_out", "no_out"])
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    out = tmp_path / "out"
    urdf = tmp_path / "robot.urdf"
    expected = {"missing": "URDF file not found", "not_xml": "not valid XML", "xacro": "xacro",
                "no_joints": "no movable joints", "massless": "link[forearm]", "out_is_file": "is a file",
                "no_legs": "no legs", "describe_with_out": "only for `robot-rl robots import", "no_out": "usage"}[case]
    argv = ["robots", "import", str(urdf), "--out", str(out)]
    if case == "not_xml":
        write(urdf, "<robot><link name='a'>")
    elif case == "xacro":
        urdf = write(tmp_path / "robot.urdf.xacro", small_arm())
        argv[2] = str(urdf)
    elif case == "no_joints":
        write(urdf, '<robot name="r">' + LINK.format(n="a", m=1) + LINK.format(n="b", m=1)
              + joint("j", "fixed", "a", "b") + "</robot>")
    elif case == "massless":
        write(urdf, small_arm(tip_mass=0.0))
    elif case == "out_is_file":
        write(urdf, small_arm())
        out.write_text("not a folder")
    elif case == "no_legs":
        write(urdf, small_arm())
        argv += ["--kind", "legged"]
    elif case == "describe_with_out":
        argv = ["robots", "cartpole", "--out", str(out)]
    elif case == "no_out":
        write(urdf, small_arm())
        argv = argv[:3]
    assert main(argv) == 1
    assert expected in one_error_line(capsys.readouterr().err, "robots")
    assert not out.is_dir()


def test_sine_excitation_stays_inside_the_limits_and_starts_at_rest():
    from sim.sim2sim import sine_excitation

    robot = load_robot("iiwa")
    q0, targets = sine_excitation(robot, np.full(7, 2.05))  # a centre near joint 2's and 4's limits (+-2.09)
    assert np.allclose(targets[0], q0)
    for k, j in enumerate(robot.joints):
        lo, hi = j.position_limits
        assert lo <= targets[:, k].min() and targets[:, k].max() <= hi
        assert np.ptp(targets[:, k]) > 0.1  # every joint moves

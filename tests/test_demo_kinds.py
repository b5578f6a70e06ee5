"""`robot-rl demo --robot R` for any robot: the loop of R's kind, R's facts from its folder and policies/.

What differs per robot (its reality gap, what the identification fits, its shipped policy, its task id)
comes from the robot (sim/robots/<robot>/demo.yaml, else its kind's rule applied to its structure) and
from the policy cards, never from a robot's name in code (tests/test_tasks_by_kind.py scans for that).
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from rich.console import Console

from robot_rl.demo import DemoConfig, config
from robot_rl.demo import run as run_demo
from robot_rl.demo.facts import default_robot, demo_spec
from sim.params import resolve_params
from sim.robot import ROBOTS_DIR, load_robot

# The A1's gap before the demos were one package (robot_rl/legged_loop.py's A1): the legged kind's rule must
# give the same robot, or the A1 demo's figures change.
A1_GAP = {"trunk.mass": {"scale": 1.25}, "floor.friction": 0.5, "*.gain": {"scale": 0.85}, "*.kd": {"scale": 1.3},
          "*.frictionloss": 0.2, "action_delay": 0.02, "obs_noise": 0.01}


def test_each_robot_gets_the_loop_of_its_kind():
    assert default_robot() == "cartpole"  # the alias table's robot for the swing-up, not a name in the demo
    cartpole, iiwa, a1, panda, laikago = (demo_spec(r) for r in ("cartpole", "iiwa", "a1", "panda", "laikago"))
    assert [s.kind.kind for s in (cartpole, iiwa, a1, panda, laikago)] == ["pole", "arm", "legged", "arm", "legged"]
    # Shipped policies' ids stay the aliases; a robot without one runs the task by kind.
    assert (cartpole.task, iiwa.task, a1.task) == ("CartpoleSwingup-v0", "IiwaReach-v0", "A1Walk-v0")
    assert (panda.task, laikago.task) == ("Reach-v0", "Walk-v0")
    assert cartpole.policy.name == "cartpole_swingup" and iiwa.policy.name == "iiwa_reach"
    # Hand-picked gaps live in the robot's folder ...
    assert cartpole.gap_source.endswith("cartpole/demo.yaml") and iiwa.gap_source.endswith("iiwa/demo.yaml")
    assert cartpole.fit_names == ("pole.mass", "hinge.damping", "slider.frictionloss", "slider.gain", "action_delay")
    assert len(iiwa.fit_names) == 9
    # ... the others follow their kind's rule: the A1 as before, the Laikago the same class on its own trunk.
    robot = load_robot("a1")
    assert resolve_params(robot, a1.reality_gap) == resolve_params(robot, A1_GAP)
    assert "chassis.mass" in laikago.reality_gap and laikago.fit_names == a1.fit_names
    # An arm's derived gap: masses, a 0.5 kg tool on the last link, damping, friction, latency; nine parameters.
    assert panda.reality_gap["panda_link7.mass"] == pytest.approx(load_robot("panda").nominal["panda_link7.mass"] + 0.5)
    assert {n.split(".")[-1] for n in panda.fit_names} == {"mass", "damping", "frictionloss", "action_delay"}
    assert len(panda.fit_names) == 9 and set(panda.fit_names) == set(panda.reality_gap)


@pytest.mark.parametrize(
    ("robot", "says"),
    [("panda", ["robot-rl train --task Reach --robot panda", "or run without --quick"]),
     ("laikago", ["robot-rl train --task Walk --robot laikago --preset legged", "or pass --policy FOLDER"])],
)
def test_no_shipped_policy_says_what_is_missing(robot, says, tmp_path, monkeypatch, capsys):
    from robot_rl.cli import main

    monkeypatch.setattr(config, "POLICIES_DIR", tmp_path / "policies")  # a checkout with no policies yet
    (tmp_path / "policies").mkdir()
    # --quick needs the shipped policy; a legged robot needs one without --quick too (the demo trains no walk)
    for extra in (["--quick"], []) if robot == "laikago" else (["--quick"],):
        assert main(["demo", "--robot", robot, *extra, "--out", str(tmp_path / "out"), "--no-progress"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"no shipped policy for {robot} under" in err, err
        assert all(s in err for s in says), err
        assert not (tmp_path / "out").exists()


def test_a_bad_demo_yaml_is_named(tmp_path):
    from robot_rl.errors import ConfigError

    folder = tmp_path / "mypole"
    shutil.copytree(ROBOTS_DIR / "cartpole", folder)
    (folder / "demo.yaml").write_text("reality_gap: {pole.mas: 0.3}\n")
    with pytest.raises(ConfigError, match=r"mypole/demo.yaml: field 'reality_gap.pole.mas'.*did you mean"):
        demo_spec(str(folder / "robot.yaml"))
    (folder / "demo.yaml").write_text("reality_gap: {pole.mass: 0.3}\nfit: [pole.mass, '*.kp']\n")
    with pytest.raises(ConfigError, match=r"demo.yaml: field '\*.kp': pattern matches no parameter"):
        demo_spec(str(folder / "robot.yaml"))
    (folder / "demo.yaml").unlink()  # no demo.yaml: the cart-pole kind's own rule, on this robot's joints
    spec = demo_spec(str(folder / "robot.yaml"))
    assert spec.robot == str((folder / "robot.yaml").resolve()) and spec.task == "PoleSwingup-v0"
    assert spec.policy is not None and spec.policy.name == "cartpole_swingup"  # its card names the robot 'cartpole'
    assert "hinge.damping" in spec.reality_gap and spec.gap_source.startswith("derived for a cart-pole")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_panda_demo_deploys_the_shipped_policy_over_dds(tmp_path):
    """`robot-rl demo --robot panda --quick`, reduced: the shipped policies/panda_reach, two episodes through
    the policy node over DDS on the PyBullet Panda with the arm kind's gap (links 3/5 +30%, a 0.5 kg tool on
    link 7, damping, friction, 20 ms), an 8 s identification run (excite's 4 poses, 2 s each) fitting two of
    the gap's parameters, no fine-tuning (the shipped folder has no checkpoint.pt: said, and skipped).
    The full demo measured here: success 1.00 over 6 episodes on the gap robot, final error 0.1 cm, 40 s."""
    panda = demo_spec("panda")
    assert panda.policy == config.POLICIES_DIR / "panda_reach"
    reduced = replace(panda, fit_names=("panda_link7.mass", "action_delay"),
                      kind=replace(panda.kind, excite_duration=8.0))
    out = tmp_path / "demo"
    summary = run_demo(DemoConfig(out=out, robot="panda", quick=True, robot_episodes=2, progress=False),
                       Console(quiet=True), reduced)
    assert summary["robot"] == "panda" and summary["task"] == "Reach-v0"
    on_robot = summary["returns"]["robot_pybullet_gap_over_dds"]
    assert on_robot["episodes"] == 2
    # The policy transfers: both goals reached on the gap robot, through the node and its SafetyFilter.
    assert on_robot["success_rate"] == 1.0, on_robot
    assert on_robot["max_final_goal_distance"] < 0.02, on_robot
    assert set(summary["parameters"]) == {"panda_link7.mass", "action_delay"}
    assert summary["parameters"]["action_delay"]["true"] == pytest.approx(0.02)
    assert "checkpoint.pt" in summary["finetune"]["skipped"] and "policy_calibrated" not in summary
    assert "--task Reach-v0 --robot panda" in summary["next_training"]
    for name in ("deployment.png", "robot_params.yaml", "calib/params.yaml", "robot_bag/metadata.yaml",
                 "sysid_bag/metadata.yaml", "summary.json"):
        assert (out / name).is_file(), name


def test_default_robots_and_tasks_come_from_the_alias_table():
    """No command of robot_rl/ has a robot of its own as a default: the sim robot's robot comes from an alias
    --task, its task from the robot's kind, the echo's robot from its policy's card."""
    from robot_rl.deploy.echo import card_robot
    from robot_rl.deploy.reference_controller import default_robot as reference_robot
    from robot_rl.deploy.sim_robot_node import SimRobotConfig, default_task, robot_of
    from robot_rl.errors import ConfigError

    assert robot_of(SimRobotConfig(task="robot_rl/IiwaReach-v0")) == "iiwa"
    assert robot_of(SimRobotConfig(robot="panda", task="Reach-v0")) == "panda"
    with pytest.raises(ConfigError, match="names none: pass --robot"):
        robot_of(SimRobotConfig(task="Reach-v0"))
    with pytest.raises(ConfigError, match="no robot given: pass --robot"):
        robot_of(SimRobotConfig())
    tasks = {r: default_task(load_robot(r)) for r in ("cartpole", "iiwa", "a1", "panda", "laikago")}
    assert tasks == {"cartpole": "CartpoleSwingup-v0", "iiwa": "IiwaReach-v0", "a1": "A1Walk-v0",
                     "panda": "Reach-v0", "laikago": "Walk-v0"}
    assert card_robot(str(config.POLICIES_DIR / "a1_walk")) == "a1" and reference_robot() == "cartpole"

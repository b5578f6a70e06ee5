"""Identifying the A1's motors hung on a gantry: `robot-rl excite --suspended`, then `robot-rl sysid`.

The log comes from PyBullet with a known gap (motors 15% weaker, damping +30%, 0.2 N*m of dry
friction in every joint, 20 ms of command delay) and is fitted in MuJoCo with the issue's
`*.gain,*.kd,*.frictionloss,action_delay`: the identification must see through the engine change too.
"""

from __future__ import annotations

import json

import pytest
import yaml

from robot_rl.cli import main
from sim.robot import load_robot, suspended, unsuspended

pytestmark = pytest.mark.timeout(240)

GAP = {"*.gain": {"scale": 0.85}, "*.kd": {"scale": 1.3}, "*.frictionloss": 0.2, "action_delay": 0.02}


def test_suspended_robot_has_a_fixed_trunk_and_the_free_robots_vocabulary() -> None:
    a1 = load_robot("a1")
    hung = suspended(a1)
    assert hung.base is None and not hung.floating and hung.gantry == a1.base
    assert hung.nominal == a1.nominal and hung.default_pose == a1.default_pose
    assert unsuspended(hung).base == a1.base
    with pytest.raises(Exception, match="fixed base already"):
        suspended(load_robot("cartpole"))


def test_a1_motor_gains_and_delay_from_a_suspended_pybullet_log(tmp_path, capsys) -> None:
    gap = tmp_path / "gap.yaml"
    gap.write_text(yaml.safe_dump(GAP))
    bag = tmp_path / "a1.bag"
    rc = main(["excite", "--robot", "a1", "--suspended", "--engine", "pybullet", "--params", str(gap),
               "--duration", "8", "--record", str(bag)])
    assert rc == 0
    assert "robot_rl.suspended: 'true'" in (bag / "metadata.yaml").read_text()
    out = tmp_path / "calib"
    # The bag says it was suspended: sysid fits the robot on its gantry without being told.
    rc = main(["sysid", "--robot", "a1", "--log", str(bag), "--fit", "*.gain,*.kd,*.frictionloss,action_delay",
               "--out", str(out), "--accept-inadequate"])
    assert rc == 0, capsys.readouterr().out[-3000:]
    fitted = json.loads((out / "result.json").read_text())["fitted"]
    a1 = load_robot("a1")
    assert len(fitted) == 3 * len(a1.actuators) + 1
    for act in a1.actuators:  # the target: motor gains and delay within 10% (measured: 0.1%)
        assert fitted[f"{act.name}.gain"] == pytest.approx(0.85, rel=0.10), act.name
        assert fitted[f"{act.name}.kd"] == pytest.approx(0.65, rel=0.10), act.name
        assert fitted[f"{act.joint}.frictionloss"] == pytest.approx(0.2, rel=0.10), act.joint
    assert fitted["action_delay"] == pytest.approx(0.02, rel=0.10)
    # The DR config written for training is the walking robot's (push.base_velocity and all).
    dr = yaml.safe_load((out / "randomization.yaml").read_text())
    assert "base_velocity" in dr["push"]

"""`--terrain` in robot-rl train / eval / sim-robot and a robustness case naming a terrain (sim/terrain.py)."""

from __future__ import annotations

import json

import pytest
import yaml

from robot_rl.cli import main

SMALL = "tile_size=2,rows=3,cols=2,border=0.5"
TINY = ["--set", "num_envs=4", "--set", "num_steps=8", "--set", "num_minibatches=1", "--set", "update_epochs=1",
        "--set", "hidden=[8]", "--eval-every", "0", "--eval-episodes", "1", "--no-progress"]  # fmt: skip


def test_train_and_eval_on_a_terrain(tmp_path, capsys):
    """The run records its terrain; eval defaults to it (as named: the single env drops the curriculum) and
    takes another; the asymmetric critic trains on the height scan, the actor's observation is flat's."""
    run = tmp_path / "run"
    terrain = f"rough:curriculum=true,{SMALL}"
    assert main(["train", "--task", "Walk", "--robot", "a1", "--terrain", terrain, "--asymmetric", "--steps", "32",
                 *TINY, "--out", str(run)]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["terrain"] == terrain
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "1", "--json", "--checkpoint", "last"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["terrain"] == terrain
    assert main(["eval", str(run), "--episodes", "1", "--json", "--checkpoint", "last", "--terrain", "flat"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["terrain"] == "flat"


@pytest.mark.parametrize("command", [["train", "--task", "Walk", "--robot", "a1"], ["eval", "x"],
                                     ["sim-robot", "--robot", "a1"]])
def test_a_bad_terrain_is_refused_at_the_command_line(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--terrain", "stairs:step_hieght=0.1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--terrain" in err and "step_hieght" in err and "did you mean 'step_height'" in err


def test_robustness_case_names_a_terrain():
    from robot_rl.commands.export import _case_terrain
    from sim.errors import ConfigError
    from sim.params import load_yaml_mapping
    from sim.robot import load_robot

    cases = load_yaml_mapping(load_robot("a1").root / "robustness.yaml", "robustness")["cases"]
    assert _case_terrain(cases["rough_terrain_4cm"], "a1") == ({}, "rough")
    params, terrain = _case_terrain({"terrain": "stairs:step_height=0.06", "trunk.mass": {"scale": 1.2}}, "c")
    assert params == {"trunk.mass": {"scale": 1.2}} and terrain == "stairs:step_height=0.06"
    assert _case_terrain(cases["latency_20ms"], "a1") == (cases["latency_20ms"], None)
    # The rough-terrain issue's held-out ground: another seed than training's, and the gap class on it.
    assert _case_terrain(cases["held_out_stairs_8cm"], "a1") == ({}, "stairs:seed=1")
    params, terrain = _case_terrain(cases["all_at_once_on_rough_4cm"], "a1")
    assert terrain == "rough:seed=1" and params == {k: v for k, v in cases["all_at_once"].items()}
    with pytest.raises(ConfigError, match=r"case 'bumps'.*'terrain'.*amplitude"):
        _case_terrain({"terrain": "rough:amplitude=-1"}, "robustness.yaml: case 'bumps'")


def test_export_evaluates_on_the_run_terrain():
    """The card's evaluation on the run's terrain, as named, in both engines (a standing policy: no falls)."""
    import numpy as np

    from robot_rl.commands.export import evaluate_on_terrain

    out = evaluate_on_terrain(lambda obs: np.zeros(12), "A1Walk-v0", 1, 0, f"rough:curriculum=true,{SMALL}")
    assert out["terrain"] == f"rough:curriculum=true,{SMALL}" and "curriculum=false" in out["resolved"]
    for engine in ("mujoco", "pybullet"):
        assert out["results"][engine]["mean_length"] == 1000  # stood the whole 20 s on the bumps


def test_the_sim_robot_stands_on_its_terrain():
    """sim-robot's config reaches the env: the simulated A1 starts over the rough ground, on its last row."""
    from test_control_node import FakeTransport

    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig

    sim = SimRobot(FakeTransport(), SimRobotConfig(robot="a1", engine="pybullet", terrain=f"rough:{SMALL}"))
    try:
        sim.env.reset(seed=0)
        core = sim.env.unwrapped.core
        assert core.ground is not None and core.ground.levels[0] == core.terrain.rows - 1
        pos = core.state.base.position[0]
        ground = core.terrain.max_height_near(pos[:2], core.ground.footprint)
        assert abs(pos[2] - ground - core.robot.base.height) < 1e-9
    finally:
        sim.close()

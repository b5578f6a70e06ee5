"""Every key is known, every number physical, every size allocatable (issue 20, deliverable 6).

* an unknown key anywhere in robot.yaml, a params file, a DR file or a policy card is an error
  naming the nearest valid key (a typo must not leave a limit unapplied);
* two actuators on one joint are refused;
* delays, noise, scales and rates have physical ranges;
* sizes that cannot be allocated (layer widths, num_envs, buffers, sweep seeds) are refused
  before anything is allocated; seeds stay in range;
* YAML 1.1's base-60 numbers (`1:30` = 90), deep nesting and unconstructable values are
  one-line errors, never a silent other number or a traceback.

All fast: no training, no simulator beyond loading a robot description.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from error_checks import assert_one_line, policy_with_card

from robot_rl.cli import main
from robot_rl.errors import PolicyContractError
from robot_rl.runtime.card import read_card
from robot_rl.training.setting_ranges import SettingRangeError, check_memory, memory_estimate
from sim.errors import ConfigError
from sim.randomization import load_randomization
from sim.robot import load_robot
from sim.validation import MAX_NESTING, load_yaml_text

REPO = Path(__file__).resolve().parents[1]
ROBOTS = REPO / "sim" / "robots"
SHIPPED_CARD = REPO / "policies" / "cartpole_swingup"


def variant(tmp_path: Path, robot: str, old: str, new: str) -> Path:
    """A copy of a shipped robot.yaml with one text replacement (its URDF still found)."""
    source = ROBOTS / robot / "robot.yaml"
    text = source.read_text()
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1).replace("urdf: robot.urdf", f"urdf: {source.parent / 'robot.urdf'}")
    path = tmp_path / "robot.yaml"
    path.write_text(text)
    return path


def cli_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"robot-rl {command}: error:"), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------------- robot.yaml keys

ROBOT_TYPOS = [
    ("cartpole", "velocity_limit: 5.0 ", "velocity_limt: 1.0 ", "joints[0].velocity_limt", "velocity_limit"),
    ("cartpole", "    effort_limit: 20.0\nnominal", "    efort_limit: 5\nnominal", "actuators[0].efort_limit",
     "effort_limit"),
    ("cartpole", "control_hz: 50 ", "control_hz: 50\ncontol_hz: 60 ", "contol_hz", "control_hz"),
    ("cartpole", "  action_delay: 0.0 ", "  action_dealy: 0.0 ", "nominal.action_dealy", "action_delay"),
    ("iiwa", "  package: pybullet_data", "  packge: pybullet_data", "urdf.packge", "package"),
    ("iiwa", "kp: 300.0, kd: 20}", "kp: 300.0, kd: 20, gian: 2}", "actuators[0].gian", "gain"),
    ("a1", "  friction: 1.0", "  frictoin: 1.0", "floor.frictoin", "friction"),
    ("a1", "  height: 0.30", "  heigth: 0.30", "base.heigth", "height"),
    ("a1", "  FR_hip_joint: -0.1", "  FR_hip_jiont: -0.1", "default_pose.FR_hip_jiont", "FR_hip_joint"),
]  # fmt: skip


@pytest.mark.parametrize(("robot", "old", "new", "field", "nearest"), ROBOT_TYPOS)
def test_an_unknown_robot_yaml_key_names_the_nearest_valid_one(tmp_path, robot, old, new, field, nearest):
    path = variant(tmp_path, robot, old, new)
    with pytest.raises(ConfigError) as exc:
        load_robot(path)
    assert_one_line(exc.value, str(path), f"field '{field}'", f"did you mean '{nearest}'?")


def test_a_velocity_limit_typo_is_a_cli_error_not_the_urdf_limit(tmp_path, capsys):
    """The issue's probe: `velocity_limt: 1.0` used to leave the URDF's 5 m/s in force, silently."""
    path = variant(tmp_path, "cartpole", "velocity_limit: 5.0 ", "velocity_limt: 1.0 ")
    assert main(["robots", str(path)]) == 1
    assert "did you mean 'velocity_limit'" in cli_error(capsys, "robots")


def test_two_actuators_on_one_joint_are_refused(tmp_path):
    path = variant(tmp_path, "iiwa", "- {name: lbr_iiwa_joint_2, joint: lbr_iiwa_joint_2",
                   "- {name: lbr_iiwa_joint_2, joint: lbr_iiwa_joint_1")
    with pytest.raises(ConfigError) as exc:
        load_robot(path)
    assert_one_line(exc.value, "field 'actuators[1].joint'", "'lbr_iiwa_joint_1' is already driven by actuators[0]",
             "one actuator per joint")


@pytest.mark.parametrize(
    ("robot", "old", "new", "field", "expected"),
    [("cartpole", "action_delay: 0.0 ", "action_delay: 1e6 ", "nominal.action_delay", "<= 1 (s)"),
     ("cartpole", "obs_noise: 0.0 ", "obs_noise: 100 ", "nominal.obs_noise", "<= 10"),
     ("cartpole", "physics_dt: 0.005", "physics_dt: 1e-9", "physics_dt", ">= 1e-05"),
     ("cartpole", "control_hz: 50 ", "control_hz: 1e6 ", "control_hz", "<= 10000 (Hz)"),
     ("cartpole", "control_hz: 50 ", "control_hz: 0.1 ", "physics_dt", "at most 1000"),
     ("a1", "  friction: 1.0", "  friction: 1e3", "floor.friction", "<= 10"),
     ("a1", "  height: 0.30", "  height: 1e4", "base.height", "<= 10 (m)")],
)  # fmt: skip
def test_robot_yaml_numbers_have_physical_ranges(tmp_path, robot, old, new, field, expected):
    path = variant(tmp_path, robot, old, new)
    with pytest.raises(ConfigError) as exc:
        load_robot(path)
    assert_one_line(exc.value, f"field '{field}'", expected)


# ------------------------------------------------------------------------------------------- params files


# ------------------------------------------------------------------------------------------- DR files


def test_shipped_robots_params_and_dr_files_pass():
    for name in ("cartpole", "iiwa", "a1"):
        robot = load_robot(name)
        assert load_randomization(robot, "default").parameters


# ------------------------------------------------------------------------------------------- policy cards


def card_with(tmp_path: Path, edit) -> Path:
    return policy_with_card(SHIPPED_CARD, tmp_path / "policy", edit)


@pytest.mark.parametrize(
    ("edit", "field", "nearest"),
    [(lambda c: c["robot"]["joints"][0].update(velocity_limt=1.0), "robot.joints[0].velocity_limt", "velocity_limit"),
     (lambda c: c["normalization"].update(clp=5.0), "normalization.clp", "clip"),
     (lambda c: c.update(onxx={}), "onxx", "onnx"),
     (lambda c: c["robot"]["actuators"][0].update(efort_limit=5), "robot.actuators[0].efort_limit", "effort_limit")],
)  # fmt: skip
def test_an_unknown_card_field_names_the_nearest_one(tmp_path, edit, field, nearest):
    folder = card_with(tmp_path, edit)
    with pytest.raises(PolicyContractError) as exc:
        read_card(folder)
    assert_one_line(exc.value, str(folder / "policy.json"), f"field '{field}' is unknown", f"did you mean '{nearest}'?")


def test_the_cards_provenance_records_stay_open(tmp_path):
    """training, evaluation and export are records for people: whatever a loop recorded there is kept."""
    folder = card_with(tmp_path, lambda c: (c["training"].update(cluster="lab"), c["evaluation"].update(gap={}),
                                            c["export"].update(host="x")))
    read_card(folder)


# ------------------------------------------------------------------------------------------- YAML and JSON parsing


def test_yaml_base60_is_a_string_and_leading_zeros_are_decimal():
    data = load_yaml_text("a: 1:30\nb: 1:30.5\nc: 017\nd: 0o17\ne: 0x1F\nf: 1_000\ng: -2.5e-3\n")
    assert data == {"a": "1:30", "b": "1:30.5", "c": 17, "d": 15, "e": 31, "f": 1000, "g": -0.0025}


def test_a_base60_number_in_a_number_field_is_refused_with_a_hint(tmp_path):
    path = variant(tmp_path, "cartpole", "control_hz: 50 ", "control_hz: 1:30 ")
    with pytest.raises(ConfigError) as exc:
        load_robot(path)
    assert_one_line(exc.value, "field 'control_hz'", "got '1:30'", "base-60")


@pytest.mark.parametrize(
    "text",
    ["name: " + "[" * 50_000 + "]" * 50_000, "a: " + "{b: " * 5000 + "1" + "}" * 5000,
     "- " * (MAX_NESTING + 5) + "1"],
)  # fmt: skip
def test_deeply_nested_yaml_is_assert_one_line(text):
    with pytest.raises(ConfigError) as exc:
        load_yaml_text(text, "deep.yaml")
    assert_one_line(exc.value, "deep.yaml", f"nested more than {MAX_NESTING} levels deep")


def test_an_unconstructable_yaml_value_is_assert_one_line():
    with pytest.raises(ConfigError) as exc:
        load_yaml_text("date: 2001-13-45\n", "x.yaml")
    assert_one_line(exc.value, "x.yaml", "month must be in 1..12")


def test_a_deep_robot_yaml_and_a_deep_card_are_one_line_cli_errors(tmp_path, capsys):
    deep = tmp_path / "robot.yaml"
    deep.write_text("name: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert main(["robots", str(deep)]) == 1
    assert "nested more than" in cli_error(capsys, "robots")
    folder = tmp_path / "policy"
    shutil.copytree(SHIPPED_CARD, folder)
    (folder / "policy.json").write_text('{"a": ' * 50_000 + "1" + "}" * 50_000)
    assert main(["eval", str(folder), "--episodes", "1"]) == 1
    assert "nested too deeply" in cli_error(capsys, "eval")


# ------------------------------------------------------------------------------------------- sizes and seeds


@pytest.mark.parametrize(
    ("flags", "code", "expected"),
    [(["--num-envs", "100000000"], 2, "argument --num-envs: expected an integer >= 1 and <= 65536"),
     (["--set", "num_envs=100000000"], 1, "'num_envs' is 100000000"),
     (["--seed", "1e23"], 2, "argument --seed: expected an integer >= 0 and <= 4294967295"),
     (["--seed", "-1"], 2, "argument --seed"),
     (["--set", "hidden=[1e8,1e8]"], 1, "<= 65536"),
     (["--set", "hidden=[65536,65536,65536]"], 1, "of memory"),
     (["--set", "num_steps=1e10"], 1, "of memory")],
)  # fmt: skip
def test_train_refuses_sizes_and_seeds_before_allocating(tmp_path, capsys, flags, code, expected):
    out = tmp_path / "run"
    assert exit_code(["train", "--task", "CartpoleBalance-v0", "--steps", "64", *flags, "--out", str(out)]) == code
    assert expected in cli_error(capsys, "train")
    assert not out.exists()


def exit_code(argv: list[str]) -> int:
    """`robot-rl ARGV`'s exit status: a usage error (2) exits through argparse, the rest return it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


@dataclass
class _Cfg:
    hidden: tuple = (64, 64)
    num_envs: int = 16
    num_steps: int = 64
    num_minibatches: int = 4


@dataclass
class _SacCfg:
    hidden: tuple = (128, 128)
    num_envs: int = 1
    buffer_size: int = 1_000_000
    batch_size: int = 256
    n_critics: int = 2


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("buffer_size=1e13", "lower buffer_size"), ("hidden=[1e8]", "<= 65536"), ("hiden=[8]", "did you mean 'hidden'")],
)  # fmt: skip
def test_distill_settings_are_checked_before_the_teacher_is_loaded(tmp_path, capsys, setting, expected):
    out = tmp_path / "student"
    assert main(["distill", "--teacher", str(tmp_path / "no_teacher"), "--out", str(out), "--set", setting]) == 1
    assert expected in cli_error(capsys, "distill")
    assert not out.exists()


def test_the_memory_estimate_counts_networks_rollouts_and_replay():
    assert sum(memory_estimate("ppo", _Cfg()).values()) < 2**20  # the defaults: well under a MiB
    check_memory("ppo", _Cfg(), available=2**30)
    check_memory("sac", _SacCfg(), available=2**30)  # 1M transitions x 5 floats: 20 MB
    with pytest.raises(SettingRangeError) as exc:
        check_memory("sac", _SacCfg(buffer_size=10**11), available=2**30)
    assert_one_line(exc.value, "replay", "lower buffer_size")
    with pytest.raises(SettingRangeError) as exc:
        check_memory("ppo", _Cfg(hidden=(20_000, 20_000)), available=2**30)
    assert_one_line(exc.value, "networks", "400,080,001 weights per network", "lower hidden")


def test_a_hand_edited_seed_out_of_range_is_refused():
    from robot_rl.training.run_guards import check_run_numbers

    @dataclass
    class Config:
        steps: int = 10
        eval_episodes: int = 1
        eval_every: int = 0
        checkpoint_every: int = 0
        seed: float = 1e23

    with pytest.raises(Exception) as exc:
        check_run_numbers(Config(), "config.yaml")
    assert_one_line(exc.value, "config.yaml", "'seed' is 1e+23", "<= 4294967295")


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [("0-100000000", "too many seeds or too large"), ("0,99999999999999999999999", "too large"),
     ("5-1", "distinct integers"), ("0,0", "distinct integers"), ("4294967296", "from 0 to 4294967295")],
)  # fmt: skip
def test_sweep_seeds_are_bounded_before_any_list_is_built(tmp_path, capsys, seeds, expected):
    start = time.perf_counter()
    assert main(["sweep", "--task", "CartpoleBalance-v0", "--seeds", seeds, "--out", str(tmp_path / "s")]) == 1
    assert expected in cli_error(capsys, "sweep")
    assert time.perf_counter() - start < 60 and not (tmp_path / "s").exists()


def test_sweep_refuses_more_trials_than_it_can_run(tmp_path, capsys):
    grid = "learning_rate=" + ",".join(f"{k}e-4" for k in range(1, 12))
    assert main(["sweep", "--task", "CartpoleBalance-v0", "--seeds", "0-999", "--grid", grid,
                 "--out", str(tmp_path / "s")]) == 1  # fmt: skip
    assert "11,000 trials, more than 10,000" in cli_error(capsys, "sweep")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--obs-noise", "-1"], "--obs-noise"), (["--duration", "nan"], "--duration"),
     (["--duration", "1e9"], "--duration"), (["--seed", "1e23"], "--seed")],
)  # fmt: skip
def test_excite_flags_have_physical_ranges(capsys, flags, expected):
    assert exit_code(["excite", "--robot", "cartpole", *flags]) == 2
    assert f"argument {expected}" in cli_error(capsys, "excite")


# ------------------------------------------------------------------------------------------- robot-rl policies


def test_policies_lists_the_good_cards_and_marks_each_bad_one(tmp_path, capsys):
    good = tmp_path / "good"
    shutil.copytree(SHIPPED_CARD, good)
    bad = {
        "deep": lambda f: (f / "policy.json").write_text("[" * 50_000 + "]" * 50_000),
        "cases_list": lambda f: _edit_card(f, lambda c: c["evaluation"].update(robustness={"cases": [1, 2]})),
        "typo": lambda f: _edit_card(f, lambda c: c["robot"].update(contol_hz=50)),
        "not_utf8": lambda f: (f / "policy.json").write_bytes(b"\xff\xfe{"),
        "onnx_dir": lambda f: ((f / "policy.onnx").unlink(), (f / "policy.onnx").mkdir()),
    }
    for name, spoil in bad.items():
        shutil.copytree(SHIPPED_CARD, tmp_path / name)
        spoil(tmp_path / name)
    assert main(["policies", str(tmp_path), "--json"]) == 0
    rows = {Path(r["folder"]).name: r for r in map(json.loads, capsys.readouterr().out.strip().splitlines())}
    assert set(rows) == {"good", *bad}
    assert "error" not in rows["good"] and rows["good"]["file"] == "ok"
    for name in bad:
        assert "error" in rows[name] and "\n" not in rows[name]["error"], (name, rows[name])
    assert "did you mean 'control_hz'" in rows["typo"]["error"]
    assert main(["policies", str(tmp_path)]) == 0  # the tables too: the good one listed, the rest marked
    out = capsys.readouterr().out
    assert "cartpole" in out and out.count("error") >= len(bad)


def _edit_card(folder: Path, edit) -> None:
    card = json.loads((folder / "policy.json").read_text())
    edit(card)
    (folder / "policy.json").write_text(json.dumps(card))

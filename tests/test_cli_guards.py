"""The CLI fails loudly and loses nothing.

Each probe is what a user could type: it must end with a non-zero exit and one error line naming
the flag or file (no traceback), and must not create, change or delete anything. The `robot-rl`
subprocess tests run the real entry point; the others call `robot_rl.cli.main` in-process (the
same code, without paying for a new interpreter per case).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from error_checks import one_error_line, snapshot

from robot_rl.cli import main
from robot_rl.deploy import procs
from robot_rl.errors import RobotRLError
from robot_rl.training.logger import MetricsLogger
from robot_rl.training.mujoco_log import LOG_FILE, mujoco_log_in
from robot_rl.training.run_guards import params_randomization_overlap, remove_stale_temp_files
from sim.params import resolve_params
from sim.randomization import load_randomization
from sim.robot import load_robot

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "num_envs=2", "--set", "num_steps=16", "--set", "num_minibatches=2", "--set", "update_epochs=1",
        "--set", "hidden=[8]", "--eval-every", "0", "--eval-episodes", "1", "--no-progress"]  # fmt: skip


def robot_rl(*args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None):
    """`python -m robot_rl.cli ARGS` in `cwd`, importing this checkout; returns the CompletedProcess."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run(
        [sys.executable, "-m", "robot_rl.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip




# ------------------------------------------------------------------------------------------- train: flags


def test_steps_zero_is_refused_by_the_real_entry_point(tmp_path):
    result = robot_rl("train", "--task", "CartpoleBalance-v0", "--steps", "0", cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result.stderr, "train")
    assert "--steps" in line and "integer >= 1" in line and "'0'" in line
    assert list(tmp_path.iterdir()) == []  # no runs/ folder, nothing trained


@pytest.mark.parametrize(
    ("flags", "names"),
    [(["--steps", "-5"], "--steps"), (["--steps", "1.5"], "--steps"), (["--steps", "many"], "--steps"),
     (["--seed", "-1"], "--seed"), (["--num-envs", "0"], "--num-envs"), (["--eval-episodes", "0"], "--eval-episodes"),
     (["--eval-every", "-1"], "--eval-every"), (["--checkpoint-every", "-100"], "--checkpoint-every")],
)  # fmt: skip
def test_count_flags_must_be_in_range(tmp_path, capsys, flags, names):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--task", "CartpoleBalance-v0", *flags, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    assert names in one_error_line(capsys.readouterr().err, "train")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("learning_rate=-1e-3", "'learning_rate' is -0.001; expected a finite number > 0"),
     ("learning_rate=.nan", "'learning_rate' is nan"), ("learning_rate=.inf", "'learning_rate' is inf"),
     ("learning_rate=0", "'learning_rate' is 0.0"),
     ("gamma=1.5", "'gamma' is 1.5; expected a finite number >= 0 and <= 1"),
     ("gae_lambda=-0.1", "'gae_lambda'"), ("clip_coef=0", "'clip_coef'"), ("num_minibatches=0", "'num_minibatches'"),
     ("num_envs=0", "'num_envs'"), ("ent_coef=-0.01", "'ent_coef'"), ("max_grad_norm=-1", "'max_grad_norm'"),
     ("target_kl=0", "'target_kl'"), ("hidden=[]", "'hidden'"), ("hidden=[64,0]", "'hidden'"),
     ("activation=sigmoid", "'activation'"), ("num_minibatches=10000", "more than the batch")],
)  # fmt: skip
def test_set_values_are_range_checked(tmp_path, capsys, setting, expected):
    out = tmp_path / "run"
    assert main(["train", "--task", "CartpoleBalance-v0", "--set", setting, "--out", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err, "train")
    assert expected in line and "--set" in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("actor_lr=0", "'actor_lr'"), ("tau=1.5", "'tau'"), ("utd=0", "'utd'"), ("init_alpha=-1", "'init_alpha'"),
     ("batch_size=512", "larger than buffer_size"), ("learning_starts=-1", "'learning_starts'")],
)  # fmt: skip
def test_sac_set_values_are_range_checked(tmp_path, capsys, setting, expected):
    extra = ["--set", "buffer_size=256"] if "batch_size" in setting else []
    argv = ["train", "--env-id", "Pendulum-v1", "--algo", "sac", "--set", setting, *extra, "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    assert expected in one_error_line(capsys.readouterr().err, "train")


def test_set_accepts_exponent_numbers():
    import argparse

    from robot_rl.commands.train import _overrides

    args = argparse.Namespace(set=["learning_rate=1e-3", "clip_coef=2.0e-1", "ent_coef=1E-2"], num_envs=None,
                              asymmetric=False)  # fmt: skip
    assert _overrides(args) == {"learning_rate": 1e-3, "clip_coef": 0.2, "ent_coef": 0.01}


# ------------------------------------------------------------------------------------------- train: folders


def test_out_at_a_non_empty_folder_that_is_not_a_run_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    before = snapshot(out)
    argv = ["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--out", str(out)]
    assert main(argv) == 1
    line = one_error_line(capsys.readouterr().err, "train")
    assert "--out" in line and "not empty" in line and "thesis.tex" in line and "--force" in line
    assert snapshot(out) == before
    assert main([*argv, "--force"]) == 0
    assert (out / "thesis.tex").read_text() == "years of work" and (out / "checkpoints" / "last.pt").is_file()


def test_out_at_an_existing_run_and_resume_with_out_are_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--out", str(run)]) == 0
    capsys.readouterr()
    before = snapshot(run)
    assert main(["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--out", str(run), "--force"]) == 1
    assert "already holds a run; continue it with --resume" in one_error_line(capsys.readouterr().err, "train")
    other = tmp_path / "other"
    assert main(["train", "--resume", str(run), "--out", str(other)]) == 1
    line = one_error_line(capsys.readouterr().err, "train")
    assert "--resume" in line and "drop --out" in line
    for flags in (["--seed", "3"], ["--params", "p.yaml"], ["--randomize", "none"], ["--engine", "pybullet"]):
        assert main(["train", "--resume", str(run), *flags]) == 1
        assert f"drop {flags[0]}" in one_error_line(capsys.readouterr().err, "train")
    assert snapshot(run) == before and not other.exists()
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("steps: 32", "steps: 0"))  # a hand edit
    assert main(["train", "--resume", str(run)]) == 1
    line = one_error_line(capsys.readouterr().err, "train")
    assert str(config) in line and "'steps' is 0; expected an integer >= 1" in line


def test_an_unwritable_out_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--out", str(blocker / "run")]) == 1
    assert "file.txt" in one_error_line(capsys.readouterr().err, "train")
    assert blocker.read_text() == "x"


# ------------------------------------------------------------------------------------------- interrupted writes


SLOW_SAVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from robot_rl.training.checkpoint import save_checkpoint

    class Stall:  # pickling it never finishes: the write is caught mid-file, like a SIGKILL mid-save
        def __reduce__(self):
            print("writing", flush=True)
            time.sleep(600)
            return (int, ())

    save_checkpoint(Path(sys.argv[1]), {"algo": "ppo", "blob": [b"x" * 65536] * 8, "stall": Stall()})
    """
)


def test_an_interrupted_checkpoint_write_leaves_no_temp_file_after_the_next_start(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--out", str(run)]) == 0
    last = run / "checkpoints" / "last.pt"
    good = last.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(last)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        temps = [p for p in last.parent.iterdir() if p.name.startswith(".last.pt.tmp-")]
        assert len(temps) == 1  # the real temp file of an unfinished write
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert temps[0].exists() and last.read_bytes() == good  # the kill left the temp and the good file
    assert main(["train", "--resume", str(run), "--steps", "64", "--no-progress"]) == 0
    assert not temps[0].exists()
    assert [p.name for p in (run / "checkpoints").iterdir() if ".tmp" in p.name] == []


def test_a_temp_file_of_a_live_writer_is_kept(tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    mine = ckpt / f".last.pt.tmp-{os.getppid()}"  # the parent process is alive
    dead = ckpt / ".last.pt.tmp-4194304999"  # beyond any pid
    for p in (mine, dead, tmp_path / "config.yaml.tmp"):
        p.write_bytes(b"partial")
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead.name, "config.yaml.tmp"]) and mine.exists()


def test_metrics_csv_is_appended_or_replaced_never_rewritten_in_place(tmp_path):
    """A reader holding the old file (or a crash mid-write) always sees a complete CSV."""
    logger = MetricsLogger(tmp_path, tensorboard=False)
    path = tmp_path / "metrics.csv"
    logger.log(8, {"loss/pi": 1.0})
    inode, before = path.stat().st_ino, path.read_text()
    logger.log(16, {"loss/pi": 0.5})  # same header: appended to the same file
    assert path.stat().st_ino == inode and path.read_text().startswith(before)
    os.link(path, tmp_path / "held.csv")  # what a reader (or the disk after a crash) holds
    held = (tmp_path / "held.csv").read_text()
    logger.log(24, {"loss/pi": 0.25, "eval/mean_return": 3.0})  # wider header: a new file replaces it
    assert path.stat().st_ino != inode
    assert (tmp_path / "held.csv").read_text() == held  # the old file was not truncated or rewritten
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["8", "16", "24"] and rows[-1]["eval/mean_return"] == "3.0"
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    logger.close()


# ------------------------------------------------------------------------------------------- MuJoCo's log


UNSTABLE = "<mujoco><worldbody><body><joint type='slide'/><geom size='.1' mass='1'/></body></worldbody></mujoco>"


def test_mujoco_warnings_go_to_the_run_folder_not_the_working_directory(tmp_path, monkeypatch):
    import mujoco

    cwd, run = tmp_path / "cwd", tmp_path / "run"
    cwd.mkdir()
    run.mkdir()
    monkeypatch.chdir(cwd)
    model = mujoco.MjModel.from_xml_string(UNSTABLE)
    data = mujoco.MjData(model)
    with mujoco_log_in(run) as log:
        data.qvel[0] = np.nan
        mujoco.mj_step(model, data)
    assert log == run.resolve() / LOG_FILE
    assert "Nan, Inf or huge value in QVEL" in log.read_text()
    assert not (cwd / LOG_FILE).exists()
    assert mujoco.MjLogConfig.get().logfile == "MUJOCO_LOG.TXT"  # restored after the block


def test_train_points_the_mujoco_log_at_its_run(tmp_path, monkeypatch):
    """Near-zero masses make MuJoCo warn (singular inertia, huge accelerations) during training: the
    warnings land in the run folder."""
    monkeypatch.chdir(tmp_path)
    params = tmp_path / "unstable.yaml"
    params.write_text("cart.mass: 1.0e-30\npole.mass: 1.0e-30\n")
    run = tmp_path / "run"
    argv = ["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--randomize", "none",
            "--params", str(params), "--out", str(run)]  # fmt: skip
    main(argv)  # finishes or diverges: either way MuJoCo has warned
    assert (run / LOG_FILE).is_file() and "Check model" in (run / LOG_FILE).read_text()
    assert not (tmp_path / LOG_FILE).exists()


# ------------------------------------------------------------------------------------------- --params vs DR


def test_params_sampled_by_the_randomization_get_a_warning_naming_them(tmp_path, capsys):
    params = tmp_path / "calibrated.yaml"
    params.write_text("pole.mass: 0.25\nslider.frictionloss: 0.1\nhinge.armature: 0.001\n")
    warning = params_randomization_overlap("cartpole", str(params), "default")
    assert "slider.frictionloss (the range replaces the --params value)" in warning
    assert "pole.mass (the --params value is scaled by the range)" in warning
    assert "hinge.armature" not in warning  # not sampled by the default config: stays fixed
    assert params_randomization_overlap("cartpole", str(params), None) is None
    # What the warning says is what sampling does.
    robot = load_robot("cartpole")
    dr = load_randomization(robot, "default")
    base = resolve_params(robot, params)
    rng = np.random.default_rng(0)
    draws = [dr.sample_params(rng, base) for _ in range(200)]
    assert all(0.0 <= d["slider.frictionloss"] <= 0.3 for d in draws)  # the DR's absolute range
    assert any(d["slider.frictionloss"] > 0.1 for d in draws)
    assert all(0.25 * 0.8 <= d["pole.mass"] <= 0.25 * 1.2 for d in draws)  # scaled around --params
    assert all(d["hinge.armature"] == 0.001 for d in draws)
    # The CLI prints it before training, on one line.
    argv = ["train", "--task", "CartpoleBalance-v0", "--steps", "32", *TINY, "--params", str(params),
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning: --params")]
    assert len(lines) == 1 and "slider.frictionloss" in lines[0] and "pole.mass" in lines[0]


def test_help_says_which_wins(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "a uniform or log_uniform range replaces it" in text and "scale_uniform range multiplies" in text


# ------------------------------------------------------------------------------------------- export


def test_export_over_an_existing_policy_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "policy"
    out.mkdir()
    for name in ("policy.json", "policy.onnx"):
        (out / name).write_bytes((REPO / "policies" / "cartpole_swingup" / name).read_bytes())
    before = snapshot(out)
    assert main(["export", str(tmp_path / "any_run"), "--out", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err, "export")
    assert "already holds a policy" in line and "--force" in line
    assert snapshot(out) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    assert main(["export", str(tmp_path / "any_run"), "--out", str(other)]) == 1
    assert "not empty" in one_error_line(capsys.readouterr().err, "export")
    # --force passes this check (and then fails on the missing run, having written nothing)
    assert main(["export", str(tmp_path / "any_run"), "--out", str(out), "--force"]) == 1
    assert "already holds" not in capsys.readouterr().err and snapshot(out) == before


# ------------------------------------------------------------------------------------------- deploy


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "45", "soon"])
def test_deploy_watchdog_out_of_bounds_is_a_usage_error(tmp_path, capsys, value):
    policy = str(REPO / "policies" / "cartpole_swingup")
    with pytest.raises(SystemExit) as exit_:
        main(["deploy", "--policy", policy, "--robot", "cartpole", "--watchdog", value])
    assert exit_.value.code == 2
    assert "--watchdog" in one_error_line(capsys.readouterr().err, "deploy")


def test_deploy_watchdog_past_a_robots_limit_needs_a_simulator(capsys):
    """A robot may run at most 1 s without a state; a lockstep simulator (--sim) may stall up to 30 s."""
    from robot_rl.deploy.control_config import PolicyNodeConfig

    policy = str(REPO / "policies" / "cartpole_swingup")
    assert main(["deploy", "--policy", policy, "--robot", "cartpole", "--watchdog", "5"]) == 1
    line = one_error_line(capsys.readouterr().err, "deploy")
    assert "--watchdog" in line and "--sim" in line and "1 s" in line
    assert PolicyNodeConfig(robot="cartpole", policy=policy, watchdog_timeout=5.0, follow_episodes=True)
    with pytest.raises(RobotRLError, match="follow_episodes"):
        PolicyNodeConfig(robot="cartpole", policy=policy, watchdog_timeout=1.5)


def test_deploy_watchdog_shorter_than_two_periods_is_refused(capsys):
    policy = str(REPO / "policies" / "cartpole_swingup")
    assert main(["deploy", "--policy", policy, "--robot", "cartpole", "--watchdog", "0.03"]) == 1
    line = one_error_line(capsys.readouterr().err, "deploy")
    assert "shorter than 2 control periods" in line and "0.04" in line


def test_deploy_exits_non_zero_on_a_configuration_error(tmp_path):
    """A NaN limit in robot.yaml: the node must not start; a supervisor sees exit code 1."""
    text = (REPO / "sim/robots/cartpole/robot.yaml").read_text()
    text = text.replace("velocity_limit: 5.0 ", "velocity_limit: .nan ")
    text = text.replace("urdf: robot.urdf", f"urdf: {REPO / 'sim/robots/cartpole/robot.urdf'}")
    robot_yaml = tmp_path / "robot.yaml"
    robot_yaml.write_text(text)
    env = procs.dds_env(procs.pick_domain_id())
    start = time.monotonic()
    result = robot_rl("deploy", "--policy", str(REPO / "policies/cartpole_swingup"), "--robot", str(robot_yaml),
                      "--transport", "dds", "--activate", cwd=tmp_path, env=env, timeout=90)  # fmt: skip
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr, "deploy")
    assert "joints[0].velocity_limit" in line and str(robot_yaml) in line
    assert time.monotonic() - start < 90


# ------------------------------------------------------------------------------------------- tables at 80 columns


def _render(renderables) -> list[str]:
    import io

    from rich.console import Console

    console = Console(width=80, file=io.StringIO(), record=True)
    for r in renderables if isinstance(renderables, list) else [renderables]:
        console.print(r)
    return console.export_text().splitlines()


def test_policies_table_is_readable_in_80_columns():
    from robot_rl.commands.policies import describe, find_policy_folders, policy_tables

    rows = [describe(f) for f in find_policy_folders(REPO / "policies")]
    lines = _render(policy_tables(rows, Path("policies")))
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "…" not in text  # no cell cut off
    for row in rows:
        assert row["name"] in text and row["task"] in text and f"{row['steps']:,}" in text
        assert f"{row['eval']['mujoco']:.1f}" in text and f"{row['eval']['mujoco_dr_safety_filter']:.1f}" in text


def test_robots_table_is_readable_in_80_columns():
    from robot_rl.commands.robots import robots_table
    from sim.randomization import available_configs
    from sim.robot import available_robots

    robots = [load_robot(n) for n in available_robots()]
    lines = _render(robots_table(robots, available_configs))
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "…" not in text
    words = " ".join(" ".join(line.strip("│┃ ").split("│")[0].split()) for line in lines)
    for r in robots:
        assert r.name in text and " ".join(r.description.split()) in words

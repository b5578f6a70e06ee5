"""Nothing saved is destroyed, and what a user hands the CLI fails in one line (issue 20, deliverable 5).

Every output path (sysid, excite --csv/--record, record, export, demo) refuses existing files
without --force; a failed fit writes nothing over an earlier calibration; interrupted writes leave
no temp files that pile up; and each hostile input below ends with one `robot-rl <cmd>: error:`
line, a non-zero exit and every file as it was. `robot_rl.cli.main` runs in-process (the real
entry point's code, without a new interpreter per case).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from error_checks import one_error_line, snapshot

from robot_rl.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "num_envs=2", "--set", "num_steps=16", "--set", "num_minibatches=2", "--set", "update_epochs=1",
        "--set", "hidden=[8]", "--eval-every", "0", "--eval-episodes", "1", "--no-progress"]  # fmt: skip
DEAD_PID = 4194304999  # beyond any pid




# ------------------------------------------------------------------------------------------- logs to fit


@pytest.fixture(scope="module")
def cartpole_log():
    """8 s of a cart-pole excitation in MuJoCo whose motor is 15% weak (what a fit of slider.gain finds)."""
    from calibration.excitation import run_excitation
    from sim.engines import make_engine
    from sim.robot import load_robot

    robot = load_robot("cartpole")
    engine = make_engine(robot, "mujoco", {"slider.gain": 0.85, "obs_noise": 0.001})
    try:
        return run_excitation(engine, robot, 8.0, seed=3, obs_noise=0.001).log
    finally:
        engine.close()


@pytest.fixture(scope="module")
def cartpole_csv(cartpole_log, tmp_path_factory) -> Path:
    from calibration.csv_io import write_csv_log

    return write_csv_log(tmp_path_factory.mktemp("logs") / "run.csv", cartpole_log)


def sysid(log: Path, out: Path, *extra: str, fit: str = "slider.gain") -> int:
    return main(["sysid", "--robot", "cartpole", "--log", str(log), "--fit", fit, "--out", str(out), *extra])


# ------------------------------------------------------------------------------------------- sysid --out


def test_sysid_never_replaces_a_calibration_by_accident_nor_by_a_failed_fit(cartpole_csv, tmp_path, capsys):
    out = tmp_path / "calib"
    out.mkdir()
    earlier = {"params.yaml": "slider.gain: 0.9\n", "randomization.yaml": "parameters: {}\n",
               "result.json": '{"adequate": true}\n', "report.html": "<html>earlier</html>", "report.png": "png"}
    for name, text in earlier.items():
        (out / name).write_text(text)
    before = snapshot(out)

    # without --force: refused before the log is even read, naming the files and the flag
    assert sysid(cartpole_csv, out) == 1
    line = one_error_line(capsys.readouterr().err, "sysid")
    assert "already holds a calibration" in line and "params.yaml" in line and "--force" in line
    assert snapshot(out) == before

    # --force, but the fit fails (exit 4): the calibration, its result.json and report are untouched;
    # the failed fit's own result and report go to failed_fit/
    assert sysid(cartpole_csv, out, "--force", "--max-iters", "1", "--holdout", "0") == 4
    printed = capsys.readouterr().out
    assert "earlier calibration" in printed and "kept" in printed
    assert {k: v for k, v in snapshot(out).items() if not k.startswith("failed_fit/")} == before
    failed = json.loads((out / "failed_fit" / "result.json").read_text())
    assert failed["converged"] is False and "params" not in failed["paths"]
    assert not (out / "failed_fit" / "params.yaml").exists()

    # --force and a fit that succeeds: now (and only now) the calibration is replaced
    assert sysid(cartpole_csv, out, "--force", "--holdout", "0") == 0
    fitted = yaml.safe_load((out / "params.yaml").read_text())
    assert fitted["slider.gain"] == pytest.approx(0.85, rel=0.02)
    assert json.loads((out / "result.json").read_text())["paths"]["params"] == str(out / "params.yaml")
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_a_failed_first_fit_writes_its_report_in_place(cartpole_csv, tmp_path, capsys):
    out = tmp_path / "new"
    assert sysid(cartpole_csv, out, "--max-iters", "1", "--holdout", "0") == 4
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.png", "result.json"]
    assert "kept" not in capsys.readouterr().out


def test_a_fit_that_raises_leaves_the_folder_as_it_was(cartpole_csv, tmp_path, monkeypatch):
    from calibration import identification
    from calibration.identification import identify

    def broken(*args, **kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(identification, "_fit", broken)
    new = tmp_path / "new"
    with pytest.raises(RuntimeError):
        identify("cartpole", cartpole_csv, ["slider.gain"], new)
    assert not new.exists()  # created for the run, removed again
    used = tmp_path / "used"
    used.mkdir()
    (used / "params.yaml").write_text("slider.gain: 0.9\n")
    with pytest.raises(RuntimeError):
        identify("cartpole", cartpole_csv, ["slider.gain"], used, force=True)
    assert snapshot(used) == {"params.yaml": b"slider.gain: 0.9\n"} and len(list(used.iterdir())) == 1


def test_a_killed_fits_temp_folder_is_removed_by_the_next_one(tmp_path):
    from calibration.outputs import Staging, remove_stale_staging

    dead = tmp_path / f".sysid-tmp-{DEAD_PID}-abc"
    live = tmp_path / f".sysid-tmp-{os.getppid()}-abc"  # the parent process is alive
    for folder in (dead, live):
        folder.mkdir()
        (folder / "result.json").write_text("{}")
    assert remove_stale_staging(tmp_path) == [dead] and live.exists()
    staging = Staging(tmp_path)
    assert staging.dir.parent == tmp_path and staging.dir.name.startswith(f".sysid-tmp-{os.getpid()}-")
    staging.discard()
    assert not staging.dir.exists()


def test_sysid_out_that_is_a_file_is_one_line(cartpole_csv, tmp_path, capsys):
    blocker = tmp_path / "calib"
    blocker.write_text("x")
    assert sysid(cartpole_csv, blocker) == 1
    assert "is a file" in one_error_line(capsys.readouterr().err, "sysid") and blocker.read_text() == "x"


# ------------------------------------------------------------------------------------------- sysid: hostile logs


def test_timestamps_in_the_wrong_unit_are_one_line(cartpole_csv, tmp_path, capsys):
    """x1e12 timestamps asked the simulator for 6 PiB; nanoseconds in a CSV are 1e9 too large."""
    header, *rows = [ln for ln in cartpole_csv.read_text().splitlines() if not ln.startswith("#")]
    for scale in (1e12, 1e9):
        scaled = tmp_path / f"x{scale:g}.csv"
        scaled.write_text("\n".join([header] + [",".join([repr(float(r.split(",", 1)[0]) * scale),
                                                           r.split(",", 1)[1]]) for r in rows]) + "\n")
        assert sysid(scaled, tmp_path / "out") == 1
        line = one_error_line(capsys.readouterr().err, "sysid")
        assert scaled.name in line and "apart" in line and "seconds" in line
    assert not (tmp_path / "out").exists()


def test_a_bag_of_another_robot_is_refused_naming_both(cartpole_log, tmp_path, capsys):
    from calibration.rosbag_io import write_robot_log

    bag = write_robot_log(tmp_path / "run.bag", cartpole_log, metadata={"robot": "iiwa"})
    assert sysid(bag, tmp_path / "out") == 1
    line = one_error_line(capsys.readouterr().err, "sysid")
    assert "'iiwa'" in line and "'cartpole'" in line and "--robot iiwa" in line
    assert not (tmp_path / "out").exists()
    same = write_robot_log(tmp_path / "ok.bag", cartpole_log, metadata={"robot": "cartpole"})
    from calibration.load import load_log
    from sim.robot import load_robot

    assert load_log(same, load_robot("cartpole")).duration == pytest.approx(cartpole_log.duration)


# ------------------------------------------------------------------------------------------- excite, record


def test_excite_refuses_an_existing_csv_unless_forced(tmp_path, capsys):
    csv_path = tmp_path / "run.csv"
    csv_path.write_text("my lab's log\n")
    argv = ["excite", "--robot", "cartpole", "--duration", "3", "--csv", str(csv_path)]
    assert main([*argv, "--record", str(tmp_path / "run.bag")]) == 1
    line = one_error_line(capsys.readouterr().err, "excite")
    assert "run.csv exists already" in line and "--force" in line
    assert csv_path.read_text() == "my lab's log\n" and not (tmp_path / "run.bag").exists()
    assert main([*argv, "--force"]) == 0
    assert csv_path.read_text().startswith("# robot-rl log:")
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]  # no temp file left


def test_excite_refuses_an_existing_bag_even_with_force(tmp_path, capsys):
    bag = tmp_path / "run.bag"
    bag.mkdir()
    (bag / "metadata.yaml").write_text("x")
    assert main(["excite", "--robot", "cartpole", "--duration", "3", "--record", str(bag), "--force"]) == 1
    assert "never overwritten" in one_error_line(capsys.readouterr().err, "excite")
    assert snapshot(bag) == {"metadata.yaml": b"x"}


def test_excite_obs_noise_must_be_a_valid_std(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["excite", "--duration", "3", "--obs-noise", "-1", "--csv", str(tmp_path / "a.csv")])
    assert exit_.value.code != 0
    err = capsys.readouterr().err
    assert "--obs-noise" in err and ">= 0" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("duration", ["-1", "0", "nan", "inf"])
def test_record_duration_must_be_positive_seconds(tmp_path, capsys, duration):
    assert main(["record", "--out", str(tmp_path / "x.bag"), "--duration", duration]) == 1
    line = one_error_line(capsys.readouterr().err, "record")
    assert "--duration" in line and "(0, " in line
    assert list(tmp_path.iterdir()) == []


def test_the_recorder_module_checks_its_flags_too(tmp_path, capsys):
    # `python -m robot_rl.deploy.recorder` (the ROS package's way in) shares the checks of `robot-rl record`.
    from robot_rl.deploy.recorder import main as recorder_main

    with pytest.raises(SystemExit) as exit_:
        recorder_main(["--out", str(tmp_path / "x.bag"), "--duration", "-1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--duration -1 s is out of range" in err, err
    assert list(tmp_path.iterdir()) == []


def test_record_refuses_an_existing_bag(tmp_path, capsys):
    bag = tmp_path / "x.bag"
    bag.mkdir()
    assert main(["record", "--out", str(bag), "--duration", "1"]) == 1
    assert "never overwritten" in one_error_line(capsys.readouterr().err, "record")
    assert list(bag.iterdir()) == []


# ------------------------------------------------------------------------------------------- demo


def test_demo_refuses_a_used_out_unless_forced(tmp_path, capsys):
    (tmp_path / "summary.json").write_text("{}")
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 1
    line = one_error_line(capsys.readouterr().err, "demo")
    assert "summary.json" in line and "--force" in line
    assert snapshot(tmp_path) == {"summary.json": b"{}"}


# ------------------------------------------------------------------------------------------- export


def test_export_opset_out_of_range_is_one_line_and_writes_nothing(tmp_path, capsys):
    from robot_rl.export import opset_range

    low, high = opset_range()
    for opset in (999, low - 1):
        assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "p"), "--opset", str(opset)]) == 1
        line = one_error_line(capsys.readouterr().err, "export")
        assert f"--opset {opset} is not supported" in line and f"{low}-{high}" in line
    assert list(tmp_path.iterdir()) == []


def _actor(obs_size: int, act_size: int):
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(obs_size, 8), torch.nn.Tanh(), torch.nn.Linear(8, act_size),
                               torch.nn.Tanh())


def test_an_opset_the_exporter_cannot_write_is_an_error_and_killed_exports_leave_no_temp_files(
    tmp_path, monkeypatch, capfd
):
    """What `--opset 999` did: a traceback on stderr, exit 0 and an opset-18 file. Now the file's opset is
    checked. And the temp files of exports killed earlier in the folder are removed (a live export's kept)."""
    from robot_rl import export
    from robot_rl.commands.export import check_export_out
    from robot_rl.errors import PolicyContractError

    out = tmp_path / "p"
    out.mkdir()
    stale = [out / f".policy.onnx.tmp-{DEAD_PID}", out / f".policy.json.tmp-{DEAD_PID}", out / ".policy.k2x_9q.onnx"]
    live = out / f".policy.onnx.tmp-{os.getppid()}"  # another export, still running
    fresh_legacy = out / ".policy.zz81ab.onnx"  # the old unnamed kind, minutes old: may be in use
    for path in [*stale, live, fresh_legacy]:
        path.write_bytes(b"partial")
    old = os.path.getmtime(stale[2]) - 7200
    os.utime(stale[2], (old, old))
    check_export_out(out, force=False)  # temp files alone do not make a folder "not empty"

    monkeypatch.setattr(export, "MIN_OPSET", 7)  # let an opset the exporter cannot convert to through
    with pytest.raises(PolicyContractError, match="could not write ONNX opset 7 for this actor"):
        export.export_actor(_actor(6, 1), {"task": "CartpoleSwingup-v0"}, out, opset=7, parity_samples=10)
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, fresh_legacy.name])
    assert "Traceback" not in capfd.readouterr().err


# ------------------------------------------------------------------------------------------- eval


def test_eval_of_a_policy_that_outputs_nan_is_one_line(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder = tmp_path / "nan_policy"
    shutil.copytree(REPO / "policies" / "cartpole_swingup", folder)
    card = json.loads((folder / "policy.json").read_text())
    n_in, n_out = card["observation"]["size"], card["action"]["size"]
    weights = numpy_helper.from_array(np.full((n_in, n_out), np.nan, np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["obs", "w"], ["action"])], "nan",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", n_out])], [weights],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", card["onnx"]["opset"])])
    model.ir_version = 10
    data = model.SerializeToString()
    onnx.checker.check_model(model)
    (folder / "policy.onnx").write_bytes(data)
    card["onnx"]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "policy.json").write_text(json.dumps(card))
    assert main(["eval", str(folder), "--episodes", "1"]) == 1
    line = one_error_line(capsys.readouterr().err, "eval")
    assert "nan_policy" in line and "NaN" in line and "step 1" in line


# ------------------------------------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--task", "CartpoleBalance-v0", "--steps", "64", *TINY, "--out", str(run)]) == 0
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def test_resume_from_a_nan_checkpoint_is_refused_naming_it(tiny_run, tmp_path, capsys):
    import torch

    run = _copy(tiny_run, tmp_path)
    last = run / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    payload["state"]["model"]["log_std"].fill_(float("nan"))
    torch.save(payload, last)
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--steps", "128", "--no-progress"]) == 1
    line = one_error_line(capsys.readouterr().err, "train")
    assert str(last) in line and "log_std" in line and "NaN" in line
    assert snapshot(run) == before


GARBAGE = [b"\x89PNG\r\n\x1a\n\x00\x00", b"hello,world\n1,2\n", b"step,loss\n32,0.5\nxx,yy\n32,1\n"]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_resume_with_a_garbage_metrics_csv_is_refused_before_any_write(tiny_run, tmp_path, capsys, garbage):
    run = _copy(tiny_run, tmp_path)
    (run / "metrics.csv").write_bytes(garbage)
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--steps", "128", "--no-progress"]) == 1
    line = one_error_line(capsys.readouterr().err, "train")
    assert "metrics.csv" in line and "move it aside" in line
    assert snapshot(run) == before


def test_a_torn_last_metrics_row_is_dropped_on_resume_with_a_warning(tiny_run, tmp_path, capsys):
    run = _copy(tiny_run, tmp_path)
    path = run / "metrics.csv"
    text = path.read_text()
    whole = text.splitlines(keepends=True)
    path.write_text(text[: len(text) - len(whole[-1]) // 2 - 1])  # a kill in the middle of the last append
    assert main(["train", "--resume", str(run), "--steps", "96", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "dropped its last row" in err and "metrics.csv" in err
    lines = path.read_text().splitlines()
    steps = [int(ln.split(",", 1)[0]) for ln in lines[1:]]
    assert steps == sorted(steps) and steps[-1] == 96
    assert all(len(ln.split(",")) == len(lines[0].split(",")) for ln in lines)

"""Log IO and log checks: bag and CSV round trips, and every bad log gets a clear error or a stated repair."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from calibration.csv_io import read_csv_log, write_csv_log
from calibration.errors import LogError
from calibration.load import load_log
from calibration.log import make_log, split_at_gaps
from calibration.rosbag_io import BagRecorder, read_robot_log, write_robot_log
from sim.robot import load_robot

ROBOT = load_robot("cartpole")
JOINTS = ROBOT.joint_names


def sample_log(n: int = 200, dt: float = 0.02, seed: int = 0, noise: float = 1e-3):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    q = np.stack([0.3 * np.sin(t), np.pi + 0.2 * np.cos(2 * t)], axis=1) + rng.normal(0, noise, (n, 2))
    qd = np.stack([0.3 * np.cos(t), -0.4 * np.sin(2 * t)], axis=1)
    u = rng.uniform(-5, 5, (n, 1))
    return make_log(joint_names=JOINTS, actuator_names=ROBOT.actuator_names, t=t, q=q, qd=qd, command_t=t,
                    command=u, source="sample")


def write_bag(path: Path, t_js, names_per_msg, pos, vel, t_cmd, cmds, command_topic=None):
    """A bag with arbitrary (possibly broken) messages, through the project's BagRecorder."""
    kwargs = {} if command_topic is None else {"command_topic": command_topic}
    with BagRecorder(path, JOINTS, **kwargs) as rec:
        for k, tj in enumerate(t_js):
            rec.write_joint_state(int(tj * 1e9), names_per_msg[k], pos[k], vel[k])
        for tc, c in zip(t_cmd, cmds, strict=True):
            rec.write_command(int(tc * 1e9), c)


def test_bag_round_trip_reorders_joints_and_ignores_extra_ones(tmp_path):
    log = sample_log()
    names = [["hinge", "slider", "wheel"]] * len(log.t)  # other order, one joint the robot lacks
    pos = [[p[1], p[0], 7.0] for p in log.q]
    vel = [[v[1], v[0], 0.0] for v in log.qd]
    write_bag(tmp_path / "run.bag", log.t + 3.0, names, pos, vel, log.command_t + 3.0, log.command)
    back = read_robot_log(tmp_path / "run.bag", ROBOT)
    np.testing.assert_allclose(back.t, log.t, atol=1e-9)
    np.testing.assert_allclose(back.q, log.q)
    np.testing.assert_allclose(back.qd, log.qd)
    np.testing.assert_allclose(back.command, log.command)
    assert back.notes == []


def test_write_robot_log_and_csv_round_trip(tmp_path):
    log = sample_log()
    write_robot_log(tmp_path / "a", log)
    from_bag = load_log(tmp_path / "a", ROBOT)
    write_csv_log(tmp_path / "a.csv", from_bag)
    from_csv = load_log(tmp_path / "a.csv", ROBOT)
    for other in (from_bag, from_csv):
        np.testing.assert_allclose(other.q, log.q)
        np.testing.assert_allclose(other.qd, log.qd)
        np.testing.assert_allclose(other.command_at(other.t), log.command)


def test_bag_from_the_deploy_recorder_reads_back(tmp_path):
    """The ROS 2 recorder (wire bytes) and calibration read one format."""
    from robot_rl.deploy.recorder import BagRecorder as WireRecorder
    from robot_rl.deploy.ros2_msgs import Float64MultiArray, Header, JointState, time_from_ns

    topics = {"/joint_states": JointState, "/forward_command_controller/commands": Float64MultiArray}
    log = sample_log(50)
    with WireRecorder(tmp_path / "wire", topics) as rec:
        for k, tt in enumerate(log.t):
            t_ns = int(round(tt * 1e9))
            rec.record("/joint_states", JointState(header=Header(stamp=time_from_ns(t_ns)), name=list(JOINTS),
                                                   position=list(log.q[k]), velocity=list(log.qd[k]), effort=[]),
                       t_ns)
            rec.record("/forward_command_controller/commands", Float64MultiArray(data=list(log.command[k])), t_ns)
    back = read_robot_log(tmp_path / "wire", ROBOT)
    np.testing.assert_allclose(back.q, log.q)
    np.testing.assert_allclose(back.command, log.command)


def _times_with(kind: str) -> np.ndarray:
    t = np.arange(100) * 0.02
    if kind == "unsorted":
        t[[40, 41]] = t[[41, 40]]
    elif kind == "duplicate":
        t[41] = t[40]
    return t


@pytest.mark.parametrize("kind,message", [("unsorted", "not sorted: sample #41"),
                                          ("duplicate", "samples #40 and #41 have the same timestamp")])
def test_bad_timestamps_are_errors_naming_the_sample_or_stated_repairs(tmp_path, kind, message):
    t = _times_with(kind)
    rows = "".join(f"{tt:.6f},{np.sin(tt):.6f},{np.cos(tt):.6f},0.5\n" for tt in t)
    path = tmp_path / "bad.csv"
    path.write_text("t,q.slider,q.hinge,u.slider\n" + rows)
    with pytest.raises(LogError, match=message) as err:
        read_csv_log(path, ROBOT)
    assert "--repair-log" in str(err.value) and str(path) in str(err.value)
    repaired = read_csv_log(path, ROBOT, repair=True)
    assert np.all(np.diff(repaired.t) > 0)
    assert len(repaired.t) == (100 if kind == "unsorted" else 99)
    assert any("repaired timestamps" in n for n in repaired.notes)


def test_duplicate_stamps_in_a_bag_are_errors(tmp_path):
    t = _times_with("duplicate")
    q = np.stack([np.sin(t), np.cos(t)], axis=1)
    write_bag(tmp_path / "bad", t, [list(JOINTS)] * len(t), q, q, np.arange(100) * 0.02, np.zeros((100, 1)))
    with pytest.raises(LogError, match="joint state samples #40 and #41 have the same timestamp"):
        read_robot_log(tmp_path / "bad", ROBOT)


def test_missing_joint_names_joint_topic_and_message(tmp_path):
    t = np.arange(20) * 0.02
    names = [list(JOINTS)] * 20
    names[7] = ["slider"]
    pos = [[0.0, 3.0]] * 20
    pos[7] = [0.0]
    write_bag(tmp_path / "b", t, names, pos, [[]] * 20, t, np.zeros((20, 1)))
    with pytest.raises(LogError, match=r"/joint_states message #7 .* lacks joint\(s\) hinge"):
        read_robot_log(tmp_path / "b", ROBOT)


def test_mismatched_lengths_are_named(tmp_path):
    t = np.arange(20) * 0.02
    pos = [[0.0, 3.0]] * 20
    vel = [[0.0, 0.0]] * 20
    vel[3] = [0.0]
    write_bag(tmp_path / "b", t, [list(JOINTS)] * 20, pos, vel, t, np.zeros((20, 1)))
    with pytest.raises(LogError, match="message #3: 2 names but 1 velocities"):
        read_robot_log(tmp_path / "b", ROBOT)
    write_bag(tmp_path / "c", t, [list(JOINTS)] * 20, pos, [[0.0, 0.0]] * 20, t, np.zeros((20, 2)))
    with pytest.raises(LogError, match=r"commands.*message #0 .* has 2 value\(s\); robot 'cartpole' has 1"):
        read_robot_log(tmp_path / "c", ROBOT)


def test_command_topic_choice(tmp_path):
    t = np.arange(20) * 0.02
    write_bag(tmp_path / "b", t, [list(JOINTS)] * 20, [[0.0, 3.0]] * 20, [[0.0, 0.0]] * 20, t, np.zeros((20, 1)),
              command_topic="/effort_controller/commands")
    assert read_robot_log(tmp_path / "b", ROBOT).command.shape == (20, 1)  # the only Float64MultiArray topic
    with pytest.raises(LogError, match="no topic '/cmd'.*/effort_controller/commands"):
        read_robot_log(tmp_path / "b", ROBOT, command_topic="/cmd")


def test_velocities_missing_everywhere_are_derived_and_noted(tmp_path):
    log = sample_log(noise=0.0)
    write_bag(tmp_path / "b", log.t, [list(JOINTS)] * len(log.t), log.q, [[]] * len(log.t), log.t, log.command)
    back = read_robot_log(tmp_path / "b", ROBOT)
    assert any("derived from positions" in n for n in back.notes)
    np.testing.assert_allclose(back.qd[1:-1], log.qd[1:-1], atol=1e-3)


def test_csv_errors_name_the_column_or_row(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("t,q.slider,u.slider\n0,0,0\n")
    with pytest.raises(LogError, match="missing column.*q.hinge"):
        read_csv_log(p, ROBOT)
    p.write_text("t,q.slider,q.hinge,u.slider,q.pole\n0,0,0,0,0\n")
    with pytest.raises(LogError, match="unknown column.*q.pole"):
        read_csv_log(p, ROBOT)
    p.write_text("t,q.slider,q.hinge,u.slider\n0,0,0,0\n0.02,0,0\n")
    with pytest.raises(LogError, match="row 3 has 3 values"):
        read_csv_log(p, ROBOT)


def test_gaps_split_the_log_and_are_noted():
    log = sample_log(300)
    keep = (log.t < 2.0) | (log.t > 2.5)
    gappy = make_log(joint_names=JOINTS, actuator_names=ROBOT.actuator_names, t=log.t[keep], q=log.q[keep],
                     qd=log.qd[keep], command_t=log.command_t, command=log.command)
    segments, notes = split_at_gaps(gappy)
    assert len(segments) == 2
    assert segments[0].t[-1] < 2.0 <= 2.5 < segments[1].t[0]
    assert any(re.search(r"gap of 0\.5\d+ s .*split there", n) for n in notes)
    short = make_log(joint_names=JOINTS, actuator_names=ROBOT.actuator_names, t=log.t[(log.t < 0.5) | (log.t > 5.5)],
                     q=log.q[(log.t < 0.5) | (log.t > 5.5)], qd=None, command_t=log.command_t, command=log.command)
    with pytest.raises(LogError, match="no stretch of at least 1 s"):
        split_at_gaps(short)


def test_nan_values_are_named():
    t = np.arange(10) * 0.02
    q = np.zeros((10, 2))
    q[4, 1] = np.nan
    with pytest.raises(LogError, match="joint positions is not finite at sample #4, column 1"):
        make_log(joint_names=JOINTS, actuator_names=ROBOT.actuator_names, t=t, q=q, qd=q, command_t=t,
                 command=np.zeros((10, 1)))


def test_a_simulated_robot_reset_splits_the_log(tmp_path):
    log = sample_log(200)
    with BagRecorder(tmp_path / "eps", JOINTS) as rec:
        for k, tt in enumerate(log.t):
            episode = 0 if tt < 2.0 else 1
            rec.write_joint_state(int(tt * 1e9), None, log.q[k], log.qd[k], frame_id=f"robot_rl/episode/{episode}")
            rec.write_command(int(tt * 1e9), log.command[k])
    back = read_robot_log(tmp_path / "eps", ROBOT)
    segments, notes = split_at_gaps(back)
    assert len(segments) == 2 and segments[1].t[0] == pytest.approx(2.0)
    assert any("reset (new episode) at t=2.000 s" in n for n in notes)

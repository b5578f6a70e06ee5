"""Every long-running DDS process stops on SIGINT, even when its parent started it with SIGINT ignored.

A shell's background job (``robot-rl sim-robot &``) inherits SIGINT *ignored*, and Python keeps that; yet
Ctrl-C and ``ros2 launch`` stop processes with SIGINT. `robot-rl deploy` is checked in test_deploy_e2e.py
(the safe action on the wire); here the simulator, the recorder and the echo, each in its own process on a
private DDS domain, started as such a background job, must exit on one SIGINT with their normal cleanup:
the simulator stops publishing, the recorder leaves a closed bag that `rosbags` reads.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from robot_rl.deploy import procs
from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.dds_transport import DdsTransport
from tests.signal_helpers import sigint_ignored, wait_for

pytestmark = [pytest.mark.timeout(120)]

EXIT_S = 15.0  # a process must be gone this soon after SIGINT (a second idle, more on a loaded machine)


def interrupt(proc: subprocess.Popen, log: Path) -> int:
    """SIGINT, and the exit code it left with; fails if the process is still running after EXIT_S."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(EXIT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {EXIT_S:g} s after SIGINT:\n{log.read_text()[-2000:]}") from None


def test_sim_robot_record_and_echo_stop_on_sigint_inherited_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rosbags.highlevel import AnyReader

    env = procs.dds_env(procs.pick_domain_id())
    monkeypatch.setenv("ROS_DOMAIN_ID", env["ROS_DOMAIN_ID"])
    monkeypatch.setenv("CYCLONEDDS_URI", env["CYCLONEDDS_URI"])
    bag = tmp_path / "bag"
    logs = {name: tmp_path / f"{name}.log" for name in ("sim", "record", "echo")}
    with sigint_ignored():
        running = {
            "record": procs.spawn(["-m", "robot_rl.cli", "record", "--out", str(bag)], env, logs["record"]),
            "sim": procs.spawn(["-m", "robot_rl.cli", "sim-robot", "--robot", "cartpole", "--engine", "pybullet",
                                "--transport", "dds", "--no-wait"], env, logs["sim"]),
            "echo": procs.spawn(["-m", "robot_rl.deploy.echo"], env, logs["echo"]),
        }
    states: list[float] = []  # arrival times of the simulator's joint states
    try:
        with DdsTransport("sigint_watcher") as watcher:
            watcher.subscribe("/joint_states", m.JointState, lambda _: states.append(time.monotonic()))
            wait_for(lambda: "recording" in logs["record"].read_text(), 60, "the recorder", logs["record"])
            wait_for(lambda: "ready" in logs["echo"].read_text(), 60, "the echo", logs["echo"])
            wait_for(lambda: len(states) > 0, 60, "the simulator's joint states", logs["sim"])
            recording_since = time.monotonic()  # the recorder subscribed; give discovery a second to match
            wait_for(lambda: sum(t > recording_since + 1.0 for t in states) >= 10, 30,
                     "more joint states", logs["sim"])

            assert interrupt(running.pop("sim"), logs["sim"]) == 0, logs["sim"].read_text()[-2000:]
            time.sleep(0.2)  # deliveries already in flight
            after_exit = len(states)
            time.sleep(0.5)
            assert len(states) == after_exit, "the simulator published after it exited"
            assert interrupt(running.pop("record"), logs["record"]) == 0, logs["record"].read_text()[-2000:]
            assert interrupt(running.pop("echo"), logs["echo"]) == 0, logs["echo"].read_text()[-2000:]
    finally:
        for proc in running.values():
            procs.stop(proc)
    assert "Traceback" not in logs["sim"].read_text() + logs["record"].read_text() + logs["echo"].read_text()

    # The recorder's cleanup ran: it closed the bag (metadata written) and reported what it holds.
    counted = re.search(r"/joint_states: (\d+)", logs["record"].read_text())
    assert counted is not None, logs["record"].read_text()
    with AnyReader([bag]) as reader:
        recorded = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()
                    if c.topic == "/joint_states"]
    assert len(recorded) == int(counted.group(1)) > 0
    assert all(list(msg.name) == ["slider", "hinge"] for msg in recorded)

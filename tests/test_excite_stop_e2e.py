"""`robot-rl excite --publish` stopped by SIGTERM or SIGINT leaves the robot with the safe action.

A ros2_control forward command controller keeps the last command it got: an excitation killed mid-run
would leave the cart pushed by its last multisine force. Real processes on a private DDS domain: the
simulated cart-pole (`robot-rl sim-robot`, PyBullet) and `excite --publish` against it, both started
as a shell's background job (SIGINT inherited ignored, as `ros2 launch` and Ctrl-C still use SIGINT).
This process listens on the command topic as the robot's controller does. Once excitation commands
flow, one signal must end excite promptly with exit 0 and a message that says it was stopped (not that
joint states went missing), the last command on the wire must be the filter's safe action (zero
force), the node must say 'finalized', and the bag must be closed and readable, ending on that command.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from calibration.rosbag_io import read_robot_log
from robot_rl.deploy import procs
from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.dds_transport import DdsTransport
from robot_rl.deploy.transport import LATCHED_QOS
from sim.robot import load_robot
from tests.signal_helpers import sigint_ignored, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

COMMAND_TOPIC = "/forward_command_controller/commands"
NODE = "robot_rl_excite"
EXIT_S = 15.0  # gone this soon after the signal (the stop settles in 0.5 s; more on a loaded machine)
PUSHING_N = 1.0  # a command this large is the multisine at work, not the rest or the safe action


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_excite_publish_stopped_by_a_signal_leaves_the_safe_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    env = procs.dds_env(procs.pick_domain_id())
    monkeypatch.setenv("ROS_DOMAIN_ID", env["ROS_DOMAIN_ID"])
    monkeypatch.setenv("CYCLONEDDS_URI", env["CYCLONEDDS_URI"])
    bag = tmp_path / "excite.bag"
    logs = {name: tmp_path / f"{name}.log" for name in ("sim", "excite")}
    commands: list[list[float]] = []  # what the robot's forward command controller received, in order
    states: list[str] = []
    diagnostics: list[str] = []
    with DdsTransport("excite_stop_watcher") as watcher:
        watcher.subscribe(COMMAND_TOPIC, m.Float64MultiArray, lambda c: commands.append(list(c.data)))
        watcher.subscribe(f"/{NODE}/state", m.String, lambda s: states.append(s.data), LATCHED_QOS)
        watcher.subscribe("/diagnostics", m.DiagnosticArray,
                          lambda d: diagnostics.extend(s.message for s in d.status if s.name.startswith(NODE)))
        with sigint_ignored():
            sim = procs.spawn(["-m", "robot_rl.cli", "sim-robot", "--robot", "cartpole", "--engine", "pybullet",
                               "--transport", "dds", "--continuous"], env, logs["sim"])
            excite = procs.spawn(["-m", "robot_rl.cli", "excite", "--robot", "cartpole", "--publish", "--sim",
                                  "--transport", "dds", "--duration", "120", "--record", str(bag)], env,
                                 logs["excite"])
        try:
            wait_for(lambda: any(abs(c[0]) > PUSHING_N for c in commands[-5:]), 120,
                     "the excitation pushing the cart", logs["excite"])
            excite.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
            try:
                code = excite.wait(EXIT_S)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"excite still running {EXIT_S:g} s after {how}:\n"
                                     f"{logs['excite'].read_text()[-2000:]}") from None
            time.sleep(0.5)  # deliveries already in flight
            received = list(commands)
        finally:
            procs.stop(excite)
            procs.stop(sim)
    out = logs["excite"].read_text()
    reason = {"SIGTERM": "SIGTERM", "SIGINT": "Ctrl-C (SIGINT)"}[how]
    assert code == 0, out[-2000:]
    assert f"excitation stopped by {reason}; the safe action was sent" in out, out[-2000:]
    assert "joint states stopped" not in out and "error" not in out.lower() and "Traceback" not in out, out[-2000:]

    # On the wire: the excitation pushed, and the last command the controller keeps is zero force.
    assert received[-1] == [0.0], received[-5:]
    assert max(abs(c[0]) for c in received) <= 20.0  # the slider's effort limit, the filter's clip
    assert states[-1] == "finalized", states[-3:]
    assert f"finalized: {reason}; the safe action was sent" in diagnostics, diagnostics[-3:]

    # The bag was closed (rosbags reads it) and holds what excite said, ending on the safe action.
    counted = re.search(r"(\d+) joint states and (\d+) commands recorded in", out)
    assert counted is not None, out[-2000:]
    store = get_typestore(Stores.ROS2_JAZZY)
    with Reader(bag) as reader:  # a rosbag2 folder (AnyReader would take a `.bag` name for ROS 1)
        recorded = [(c.topic, store.deserialize_cdr(raw, c.msgtype)) for c, _, raw in reader.messages()]
    bag_commands = [list(msg.data) for topic, msg in recorded if topic == COMMAND_TOPIC]
    assert sum(topic == "/joint_states" for topic, _ in recorded) == int(counted.group(1)) > 0
    assert len(bag_commands) == int(counted.group(2)) > 0
    assert bag_commands[-1] == [0.0] and any(abs(c[0]) > PUSHING_N for c in bag_commands)
    # And `robot-rl sysid` reads it as a robot log (a partial run is still a run to fit).
    log = read_robot_log(bag, load_robot("cartpole"), command_topic=COMMAND_TOPIC)
    assert log.command[-1, 0] == 0.0 and len(log.command_t) == len(bag_commands)

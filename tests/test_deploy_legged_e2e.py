"""The A1 over real DDS between processes: the policy node with an IMU, /cmd_vel, falls and damping.

The node runs as `robot-rl deploy` in its own process with the shipped policy (policies/a1_walk).
Either this test process plays the robot (JointState + Imu at 50 Hz, and the operator's /cmd_vel),
or `robot-rl sim-robot --robot a1 --engine pybullet` does, in a third process.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from robot_rl.deploy import procs
from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.dds_transport import DdsTransport
from robot_rl.deploy.transport import LATCHED_QOS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

POLICY = Path(__file__).resolve().parents[1] / "policies" / "a1_walk"
PERIOD = 0.02


@pytest.fixture(scope="module")
def a1():
    from sim.robot import load_robot

    return load_robot("a1")


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = procs.dds_env(procs.pick_domain_id())
    monkeypatch.setenv("ROS_DOMAIN_ID", env["ROS_DOMAIN_ID"])
    monkeypatch.setenv("CYCLONEDDS_URI", env["CYCLONEDDS_URI"])
    return env


def start_node(env: dict[str, str], log: Path, *extra: str):
    args = ["-m", "robot_rl.cli", "deploy", "--policy", str(POLICY), "--robot", "a1", "--transport", "dds", *extra]
    return procs.spawn(args, env, log)


def quat_rolled(deg: float) -> m.Quaternion:
    """ROS (x, y, z, w) quaternion of a trunk rolled by `deg` degrees about its forward axis."""
    h = math.radians(deg) / 2
    return m.Quaternion(math.sin(h), 0.0, 0.0, math.cos(h))


class A1Player:
    """This process as the A1: JointState + Imu at 50 Hz; records the node's commands and diagnostics."""

    def __init__(self, transport: DdsTransport, robot) -> None:
        self.names = list(robot.joint_names)
        self.position = (np.array(robot.default_pose) + 0.05).tolist()
        self.roll_deg = 0.0
        self.imu_on = True
        self.imu_ahead_once: float | None = None  # s: stamp the next IMU reading this far ahead, then go silent
        self.twist: m.Twist | None = None  # the operator's /cmd_vel, sent every period while set
        self.streaming = False
        self.commands: list[tuple[float, list[float]]] = []
        self.diagnostics: list[m.DiagnosticStatus] = []
        self.states: list[str] = []
        self._lock = threading.Lock()
        self._js = transport.publisher("/joint_states", m.JointState)
        self._imu = transport.publisher("/imu/data", m.Imu)
        self.cmd_vel = transport.publisher("/cmd_vel", m.Twist)
        self.transition = transport.publisher("/policy_node/transition", m.String)
        # The robot's e-stop reports "released", latched: on a robot the node activates only once it heard that.
        self.estop_state = transport.publisher("/estop", m.Bool, LATCHED_QOS)
        self.estop_state.publish(m.Bool(False))
        transport.subscribe("/forward_command_controller/commands", m.Float64MultiArray, self._on_command)
        transport.subscribe("/diagnostics", m.DiagnosticArray, self._on_diag)
        transport.subscribe("/policy_node/state", m.String, lambda s: self.states.append(s.data), LATCHED_QOS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_command(self, msg: m.Float64MultiArray) -> None:
        with self._lock:
            self.commands.append((time.monotonic(), list(msg.data)))

    def _on_diag(self, msg: m.DiagnosticArray) -> None:
        self.diagnostics += [s for s in msg.status if s.name.startswith("policy_node")]

    def _run(self) -> None:
        tick, i = time.monotonic(), 0
        while not self._stop.is_set():
            if self.streaming:
                stamp = m.time_from_ns(10**12 + i * int(PERIOD * 1e9))
                if self.twist is not None:
                    self.cmd_vel.publish(self.twist)
                if self.imu_ahead_once is not None:
                    stamp_ahead = m.time_from_ns(10**12 + i * int(PERIOD * 1e9) + int(self.imu_ahead_once * 1e9))
                    self._imu.publish(m.Imu(header=m.Header(stamp=stamp_ahead, frame_id="imu_link"),
                                            orientation=quat_rolled(0.0),
                                            linear_acceleration=m.Vector3(0.0, 0.0, 9.81)))
                    self.imu_ahead_once, self.imu_on = None, False
                elif self.imu_on:
                    self._imu.publish(m.Imu(header=m.Header(stamp=stamp, frame_id="imu_link"),
                                            orientation=quat_rolled(self.roll_deg),
                                            linear_acceleration=m.Vector3(0.0, 0.0, 9.81)))
                self._js.publish(m.JointState(header=m.Header(stamp=stamp), name=self.names,
                                              position=list(self.position), velocity=[0.0] * len(self.names)))
                i += 1
            tick += PERIOD
            self._stop.wait(max(0.0, tick - time.monotonic()))

    def commands_since(self, t: float) -> list[list[float]]:
        with self._lock:
            return [c for when, c in self.commands if when >= t]

    def value(self, key: str) -> str | None:
        """The latest diagnostic value under `key`."""
        for status in reversed(self.diagnostics):
            for kv in status.values:
                if kv.key == key:
                    return kv.value
        return None

    def wait_for(self, what: Callable[[], bool], timeout: float, message: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if what():
                return
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout} s waiting for {message}; node states {self.states}, "
                             f"last diagnostic: {self.diagnostics[-1].message if self.diagnostics else None}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


@pytest.fixture
def player(domain, a1):
    with DdsTransport("test_a1") as transport:
        p = A1Player(transport, a1)
        try:
            yield p
        finally:
            p.close()


def test_fall_faults_into_damping_and_a_silent_imu_faults(player: A1Player, domain, a1, tmp_path: Path) -> None:
    # A 0.5 s watchdog: this machine may be loaded; the test is about which stream went silent.
    node = start_node(domain, tmp_path / "node.log", "--activate", "--watchdog", "0.5")
    try:
        player.twist = m.Twist(linear=m.Vector3(0.4, 0.0, 0.0))
        player.streaming = True
        player.wait_for(lambda: player.states[-1:] == ["active"], 30, "the node to activate on JointState + Imu")
        player.wait_for(lambda: player.value("imu_received") not in (None, "0"), 5, "IMU readings counted")

        # The operator's Twist reaches the policy; silent for longer than 0.5 s it falls back to zero.
        player.wait_for(lambda: (player.value("cmd_vel") or "").startswith("0.40"), 5, "the /cmd_vel command")
        player.twist = None
        player.wait_for(lambda: player.value("cmd_vel") == "0.00 0.00 0.00", 5, "the command to time out")

        # A fall: the trunk rolls past 60 degrees -> fault, and damping mode: targets = measured positions.
        player.roll_deg = 80.0
        player.wait_for(lambda: player.states[-1:] == ["fault"], 5, "a fall fault")
        player.wait_for(lambda: "fall: trunk tilted 80 deg" in (player.value("last_fault") or ""), 5, "the reason")
        t = time.monotonic()
        player.wait_for(lambda: len(player.commands_since(t)) >= 5, 5, "commands in damping mode")
        for c in player.commands_since(t):
            np.testing.assert_allclose(c, player.position, atol=1e-9)
        # The robot sinks: the damping targets follow it (a frozen hold would fight it).
        player.position = (np.array(player.position) - 0.1).tolist()
        t = time.monotonic()
        player.wait_for(lambda: len(player.commands_since(t + 0.1)) >= 3, 5, "more damping commands")
        np.testing.assert_allclose(player.commands_since(t + 0.1)[-1], player.position, atol=1e-9)

        # Upright again, reset and activate: then the IMU goes silent while joint states continue.
        player.roll_deg = 0.0
        player.transition.publish(m.String("reset"))
        player.wait_for(lambda: player.states[-1:] == ["inactive"], 5, "reset")
        player.transition.publish(m.String("activate"))
        player.wait_for(lambda: player.states[-1:] == ["active"], 5, "re-activation")
        player.imu_on = False
        player.wait_for(lambda: player.states[-1:] == ["fault"], 5, "the IMU watchdog")
        assert "IMU reading is" in player.value("last_fault")

        # One IMU reading stamped 100 s ahead, then silence: once that kept the IMU "fresh" and the policy
        # driving; now the reading itself faults, and only damping commands follow.
        player.imu_on = True
        player.transition.publish(m.String("reset"))
        player.wait_for(lambda: player.states[-1:] == ["inactive"], 5, "reset")
        player.transition.publish(m.String("activate"))
        player.wait_for(lambda: player.states[-1:] == ["active"], 5, "re-activation")
        time.sleep(0.3)
        player.imu_ahead_once = 100.0
        player.wait_for(lambda: player.states[-1:] == ["fault"], 5, "the IMU stamped in the future")
        assert "/imu/data: stamped 100 s ahead of the node's clock" in player.value("last_fault")
        t = time.monotonic()
        time.sleep(1.0)
        after = player.commands_since(t)
        assert len(after) >= 20 and all(np.allclose(c, player.position, atol=1e-9) for c in after)

        # SIGTERM: the node leaves the robot in damping mode (targets at the measured positions), finalized.
        node.terminate()
        assert node.wait(20) == 0
        time.sleep(0.5)
        assert player.states[-1] == "finalized"
        np.testing.assert_allclose(player.commands[-1][1], player.position, atol=1e-9)
        with player._lock:
            values = [v for _, c in player.commands for v in c]
        assert values and all(math.isfinite(v) for v in values)
    finally:
        procs.stop(node)


def test_shipped_policy_stands_and_walks_5_s_on_pybullet_through_the_node(domain, tmp_path: Path) -> None:
    """The whole chain: sim robot (PyBullet, JointState + Imu + /cmd_vel) <-> policy node, over DDS.

    5 s (250 control steps) of the first evaluation episode; the episode must not end early (a fall
    ends it), and the node must not fault while the robot runs.
    """
    node = start_node(domain, tmp_path / "node.log", "--activate", "--sim", "--watchdog", "1.0")
    try:
        sim = subprocess.run(
            [sys.executable, "-m", "robot_rl.cli", "sim-robot", "--robot", "a1", "--engine", "pybullet",
             "--transport", "dds", "--lockstep", "--episodes", "1", "--episode-steps", "250", "--json"],
            env=domain, capture_output=True, text=True, timeout=150,
        )
    finally:
        procs.stop(node)
    assert sim.returncode == 0, sim.stderr[-2000:]
    summary = json.loads(sim.stdout.strip().splitlines()[-1])
    assert summary["episodes"] == 1 and summary["mean_length"] == 250, summary
    # No fault while the robot ran (once sim-robot exits, its silence trips the watchdog: that one is fine).
    faults = [line for line in (tmp_path / "node.log").read_text().splitlines()
              if "FAULT" in line and "s old (watchdog" not in line]
    assert not faults, faults


def _sim_robot_run(domain: dict[str, str], tmp: Path, *extra: str) -> tuple[dict, list[m.JointState]]:
    """One 100-step episode of the shipped policy on `sim-robot --robot a1 --engine mujoco` (lockstep, ideal
    sensors: the run is deterministic), through the node over DDS; the summary and the node's recorded states."""
    from robot_rl.deploy.recorder import read_bag

    tmp.mkdir()
    node = start_node(domain, tmp / "node.log", "--activate", "--sim", "--watchdog", "1.0",
                      "--record", str(tmp / "bag"))
    try:
        sim = subprocess.run(
            [sys.executable, "-m", "robot_rl.cli", "sim-robot", "--robot", "a1", "--engine", "mujoco",
             "--transport", "dds", "--lockstep", "--ideal-sensors", "--episodes", "1", "--episode-steps", "100",
             "--json", *extra],
            env=domain, capture_output=True, text=True, timeout=120,
        )
    finally:
        procs.stop(node)
    assert sim.returncode == 0, sim.stderr[-2000:]
    states = [msg for topic, _, msg in read_bag(tmp / "bag", ["/joint_states"])]
    return json.loads(sim.stdout.strip().splitlines()[-1]), states


def test_motor_model_runs_on_the_sim_robot_side_through_the_node(domain, a1, tmp_path: Path) -> None:
    """`sim-robot --motor-model` as the robot of a deployment: the policy node drives an A1 whose motors lag, have
    play and a torque-speed envelope, over DDS. The robot reports its motors' torques (within the envelope),
    and the same lockstep episode with the PD servos (deterministic: 0.0 rad apart run to run, measured) moves
    the joints differently (measured: 0.16 rad apart at most): a motor model the sim robot dropped would not.
    """
    from sim.motor_model import load_motor_model

    summary, states = _sim_robot_run(domain, tmp_path / "motors", "--motor-model", "default")
    _, pd_states = _sim_robot_run(domain, tmp_path / "pd")
    assert summary["motor_model"] == "default" and summary["mean_length"] == 100, summary
    assert len(states) >= 100 and len(pd_states) == len(states)
    assert all(len(s.effort) == len(a1.actuators) for s in states)  # the drives' torques, as ros2_control reports
    assert not any(s.effort for s in pd_states)  # the PD servo robot reports none
    effort, qd = np.array([s.effort for s in states]), np.array([s.velocity for s in states])
    motors = load_motor_model(a1, "default")
    assert np.all(np.isfinite(effort)) and np.all(np.abs(effort) <= motors.peak_torque + 1e-9)
    # In the direction of motion at most the envelope's torque (at the reported speed, one 5 ms physics step
    # after the torque's: 5% of the peak allowed for the change of speed within it).
    motoring = motors.peak_torque * np.maximum(0.0, 1.0 - np.abs(qd) / motors.no_load_speed)
    assert np.all(np.sign(qd) * effort <= motoring + 0.05 * motors.peak_torque)
    q, pd_q = np.array([s.position for s in states]), np.array([s.position for s in pd_states])
    assert np.abs(q - pd_q).max() > 0.02, np.abs(q - pd_q).max()

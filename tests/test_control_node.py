"""One control node for every command source: a policy and an excitation share the SafetyFilter,
the lifecycle, the recorder and the configuration.

These fail if the unification breaks: an excitation that could reach the wire around the filter,
a second bag writer with other topics, CLI flags or ROS parameters that drift from the config.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_clock import FakeClock

from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.control_config import ControlNodeConfig, PolicyNodeConfig
from robot_rl.deploy.control_node import ControlNode, open_recorder
from robot_rl.deploy.excitation_node import excitation_node, run_outcome
from robot_rl.deploy.policy_node import PolicyNode
from robot_rl.runtime import Controller, ExcitationSource, PolicySource
from sim.robot import load_robot

COMMANDS = "/forward_command_controller/commands"
REPO = Path(__file__).resolve().parents[1]
CARTPOLE_POLICY = REPO / "policies" / "cartpole_swingup"


class FakeTransport:
    """Records publications; `deliver` calls a subscriber; timers run when a test says so."""

    node_name = "control_node"

    def __init__(self) -> None:
        self.sent: dict[str, list[Any]] = {}
        self.subscribers: dict[str, Callable[[Any], None]] = {}
        self.timers: list[Callable[[], None]] = []
        self.publishers = 1
        self.clock = FakeClock()

    def publisher(self, topic: str, msg_type: type, qos: Any = None) -> Any:
        sent = self.sent.setdefault(topic, [])
        return type("P", (), {"publish": lambda _self, msg: sent.append(msg), "subscription_count": lambda _s: 1})()

    def subscribe(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: Any = None) -> None:
        self.subscribers[topic] = callback

    def timer(self, period_s: float, callback: Callable[[], None]) -> None:
        self.timers.append(callback)

    def count_publishers(self, topic: str, msg_type: type) -> int:
        return self.publishers

    def now_ns(self) -> int:
        return time.time_ns()

    def commands(self) -> np.ndarray:
        return np.array([list(c.data) for c in self.sent.get(COMMANDS, [])])


def joint_state(robot, k: int, q) -> m.JointState:
    stamp = m.time_from_ns(10**12 + int(round(k * robot.control_dt * 1e9)))
    return m.JointState(header=m.Header(stamp=stamp), name=list(robot.joint_names), position=[float(v) for v in q],
                        velocity=[0.0] * len(q))


def drive(transport: FakeTransport, robot, q, steps: int, start: int = 0) -> None:
    """States k = start.. at the control rate; the node's clock reaches each stamp as it arrives."""
    for k in range(start, start + steps):
        transport.clock.t = max(transport.clock.t, 100.0 + k * robot.control_dt)
        transport.subscribers["/joint_states"](joint_state(robot, k, q))


def excite(transport: FakeTransport, config: ControlNodeConfig, robot, schedule, duration: float,
           recorder=None) -> ControlNode:
    """An excitation node on the fake transport and clock, its e-stop heard released (on a robot the
    node starts only after that). No settle before activation (the policy node's tests cover it)."""
    config = dataclasses.replace(config, settle_time=0.0)
    node = excitation_node(transport, config, robot, schedule, duration, recorder,
                           clock=transport.clock, sleep=transport.clock.sleep)
    transport.subscribers["/estop"](m.Bool(False))
    return node


def centre(robot) -> np.ndarray:
    return np.array([0.5 * sum(j.position_limits) if j.position_limits else 0.0 for j in robot.joints])


# -- every source goes through the one SafetyFilter ----------------------------------------------------


def test_an_excitation_target_outside_the_limits_is_clipped_by_the_filter() -> None:
    """An excitation asking for a target 1 rad past joint 1's upper limit (and NaN-free elsewhere)
    never gets it onto the wire: the node's filter clips and rate-limits it like a policy's."""
    robot = load_robot("iiwa")
    q0 = centre(robot)
    wild = q0.copy()
    wild[0] = robot.joints[0].position_limits[1] + 1.0
    transport = FakeTransport()
    node = excite(transport, ControlNodeConfig(robot="iiwa", ramp_time=0.0), robot, lambda t, q, qd: wild, 10.0)
    q = q0.copy()
    for k in range(200):  # a stiff arm: each joint reaches its last target within a period
        drive(transport, robot, q, 1, start=k)
        q = transport.commands()[-1]
    sent = transport.commands()
    assert node.state == "active" and len(sent) == 200
    lo, hi = robot.joints[0].position_limits
    margin = node.controller.safety.config.position_margin[0]
    assert sent[:, 0].max() <= hi - margin + 1e-12 and sent[:, 0].min() >= lo + margin - 1e-12
    assert sent[-1, 0] == pytest.approx(hi - margin)  # clipped at the limit, not at the excitation's wish
    step_limit = robot.joints[0].velocity_limit * robot.control_dt
    assert np.abs(np.diff(sent[:, 0])).max() <= step_limit + 1e-9  # and rate-limited on the way


def test_an_excitation_force_beyond_the_effort_limit_is_clipped_and_a_nan_faults() -> None:
    robot = load_robot("cartpole")
    transport = FakeTransport()
    wish = {"u": 1e4}
    node = excite(transport, ControlNodeConfig(robot="cartpole", ramp_time=0.0), robot,
                  lambda t, q, qd: [wish["u"]], 10.0)
    q0 = np.array([0.0, math.pi])
    drive(transport, robot, q0, 10)
    assert np.abs(transport.commands()).max() == pytest.approx(robot.actuators[0].effort_limit)
    wish["u"] = float("nan")
    drive(transport, robot, q0, 1, start=10)
    assert node.state == "fault" and "excitation" in node.status().name
    assert transport.commands()[-1, 0] == 0.0  # the safe action (zero force), not the NaN
    assert np.all(np.isfinite(transport.commands()))


def test_a_source_that_raises_on_a_valid_state_faults_instead_of_idling() -> None:
    robot = load_robot("cartpole")

    def broken(t, q, qd):
        raise TypeError("a bug in the schedule")

    ctl = Controller(ExcitationSource(robot, broken, 5.0))
    ctl.activate(1.0, np.array([0.0, math.pi]))
    out = ctl.step(1.02, 1.02, np.array([0.0, math.pi]), np.zeros(2))
    assert out.state == "fault" and "excitation failed" in out.fault_reason and "a bug" in out.fault_reason
    assert ctl.safety.fault_kind == "external"  # needs an operator's reset


def test_an_excitation_ends_with_the_safe_action_and_a_finished_node() -> None:
    robot = load_robot("cartpole")
    transport = FakeTransport()
    node = excite(transport, ControlNodeConfig(robot="cartpole", ramp_time=0.0), robot, lambda t, q, qd: [3.0], 0.5)
    drive(transport, robot, [0.0, math.pi], 40)
    sent = transport.commands()
    assert node.finished and node.state == "inactive" and run_outcome(node) is None
    first_safe = int(np.argmax(sent[:, 0] == 0.0))
    # 0.5 s of 3.0 at 50 Hz, then the safe action (zero force) answers the state that ended it, and every later one.
    assert np.all(sent[:first_safe, 0] == 3.0) and first_safe in (25, 26) and np.all(sent[first_safe:, 0] == 0.0)


def test_a_second_publisher_blocks_an_excitation_as_it_blocks_a_policy() -> None:
    robot = load_robot("cartpole")
    transport = FakeTransport()
    transport.publishers = 2
    node = excite(transport, ControlNodeConfig(robot="cartpole"), robot, lambda t, q, qd: [3.0], 5.0)
    for timer in transport.timers:
        timer()
    drive(transport, robot, [0.0, math.pi], 5)
    assert node.state == "inactive" and np.all(transport.commands() == 0.0)
    assert "other publisher" in node.status().message


def test_policy_and_excitation_nodes_are_one_class_with_one_controller_type() -> None:
    robot = load_robot("cartpole")
    policy = PolicyNode(FakeTransport(), PolicyNodeConfig(policy=str(CARTPOLE_POLICY), robot="cartpole"))
    excite = excitation_node(FakeTransport(), ControlNodeConfig(robot="cartpole"), robot, lambda t, q, qd: [0.0], 1.0)
    assert type(excite) is ControlNode and isinstance(policy, ControlNode)
    assert type(policy.controller) is type(excite.controller) is Controller
    assert isinstance(policy.controller.source, PolicySource) and isinstance(excite.controller.source, ExcitationSource)
    assert policy.status().name.endswith(": policy") and excite.status().name.endswith(": excitation")


# -- one recorder ----------------------------------------------------------------------------------------


def bag_topics(path: Path) -> dict[str, tuple[str, str]]:
    from rosbags.rosbag2 import Reader

    with Reader(path) as reader:
        return {c.topic: (c.msgtype, c.digest) for c in reader.connections}


def test_deploy_and_excitation_bags_have_the_same_topics_types_and_hashes(tmp_path: Path) -> None:
    """Policy run, live excitation and simulated excitation: one writer, one bag layout."""
    from calibration.rosbag_io import BagRecorder as SimExcitationBag
    from calibration.rosbag_io import read_robot_log

    robot = load_robot("cartpole")
    q0 = [0.0, math.pi]
    bags = {}
    for name in ("policy", "excitation"):
        transport = FakeTransport()
        if name == "policy":
            config = PolicyNodeConfig(policy=str(CARTPOLE_POLICY), robot="cartpole", record=str(tmp_path / name),
                                      activate=True)
            with open_recorder(config) as rec:
                PolicyNode(transport, config, rec)
                drive(transport, robot, q0, 20)
        else:
            config = ControlNodeConfig(robot="cartpole", record=str(tmp_path / name))
            with open_recorder(config) as rec:
                excitation_node(transport, config, robot, lambda t, q, qd: [1.0], 1.0, rec)
                drive(transport, robot, q0, 20)
        bags[name] = tmp_path / name
        log = read_robot_log(bags[name], robot)
        np.testing.assert_allclose(log.command[:, 0], transport.commands()[:, 0])  # what was sent is what's kept
    with SimExcitationBag(tmp_path / "sim", robot.joint_names) as rec:
        rec.write_joint_state(1, None, q0, [0.0, 0.0])
        rec.write_command(1, [0.0])
    topics = [bag_topics(p) for p in (*bags.values(), tmp_path / "sim")]
    assert topics[0] == topics[1] == topics[2]
    assert set(topics[0]) == {"/joint_states", COMMANDS}


# -- one configuration: CLI flags and ROS parameters are the dataclass fields ---------------------------


# deploy's flags of a model-based controller (robot_rl.control.cli_args), not node settings: the ROS
# package's node runs a policy.
CONTROLLER_FLAGS = {"controller", "task", "model_params", "mpc_samples", "mpc_horizon", "dynamics_model"}


def deploy_parser() -> argparse.ArgumentParser:
    from robot_rl.commands import deploy

    parser = argparse.ArgumentParser()
    deploy.add_arguments(parser)
    return parser


def test_deploy_flags_are_the_config_fields() -> None:
    parser = deploy_parser()
    dests = {a.dest for a in parser._actions} - {"help", "transport", "duration"} - CONTROLLER_FLAGS
    assert dests == {f.name for f in dataclasses.fields(PolicyNodeConfig)}


def test_every_config_field_round_trips_through_its_flag() -> None:
    """Each field set from its flag (a non-default value) lands in the config the node is built with."""
    from robot_rl.commands._config_args import config_from_args, flag_of

    argv = ["--policy", "p", "--robot", "r"]
    expected: dict[str, Any] = {"policy": "p", "robot": "r"}
    for f in dataclasses.fields(PolicyNodeConfig):
        if f.name in expected:
            continue
        flag = flag_of(PolicyNodeConfig, f.name)
        if f.default is False:
            argv.append(flag)
            expected[f.name] = True
        elif isinstance(f.default, str) or (f.default is None and f.name == "record"):
            argv += [flag, f"/x_{f.name}"]
            expected[f.name] = f"/x_{f.name}"
        else:
            argv += [flag, "0.25"]
            expected[f.name] = 0.25
    config = config_from_args(PolicyNodeConfig, deploy_parser().parse_args(argv))
    assert dataclasses.asdict(config) == expected


def test_deploy_flags_keep_their_names_and_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    args = deploy_parser().parse_args(["--policy", "p", "--robot", "r", "--sim", "--watchdog", "0.2",
                                       "--max-tilt", "45"])
    assert (args.follow_episodes, args.watchdog_timeout, args.max_tilt_deg) == (True, 0.2, 45.0)
    with pytest.raises(SystemExit):
        deploy_parser().parse_args(["--policy", "p", "--robot", "r", "--watchdog", "45"])
    assert "--watchdog" in capsys.readouterr().err


def test_ros_parameters_are_the_same_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ROS package declares one parameter per field: the CLI's flags and ROS's parameters coincide."""
    monkeypatch.syspath_prepend(str(REPO / "ros2_ws" / "src" / "robot_rl_ros"))
    sys.modules.pop("robot_rl_ros.params", None)
    from robot_rl_ros.params import load_config

    class Node:
        def __init__(self) -> None:
            self.params: dict[str, Any] = {"policy": "p", "robot": "r"}

        def get_name(self) -> str:
            return "policy_node"

        def has_parameter(self, name: str) -> bool:
            return name in self.params

        def declare_parameter(self, name: str, value: Any) -> None:
            self.params[name] = value

        def get_parameter(self, name: str) -> Any:
            return type("P", (), {"value": self.params[name]})()

    node = Node()
    config = load_config(node, PolicyNodeConfig, required=("policy", "robot"), node_name="policy_node")
    optional_none = {f.name for f in dataclasses.fields(PolicyNodeConfig) if f.default is None}
    declared = set(node.params) | optional_none | {"node_name"}
    flags = {a.dest for a in deploy_parser()._actions} - {"help", "transport", "duration"} - CONTROLLER_FLAGS
    assert declared == flags
    assert config == PolicyNodeConfig(policy="p", robot="r")


def test_a_repeated_state_gets_the_last_command_again_without_a_new_step(tmp_path: Path) -> None:
    """A robot re-sending a state while it waits for its answer gets the command sent for it (for any
    source), and the bag keeps one state and one command per control period."""
    robot = load_robot("cartpole")
    transport = FakeTransport()
    config = ControlNodeConfig(robot="cartpole", ramp_time=0.0, record=str(tmp_path / "bag"))
    with open_recorder(config) as rec:
        excite(transport, config, robot, lambda t, q, qd: [2.0 + t], 5.0, rec)
        drive(transport, robot, [0.0, math.pi], 3)
        drive(transport, robot, [0.0, math.pi], 1, start=2)  # state 2 again
        counts = dict(rec.counts)
    sent = transport.commands()[:, 0]
    assert len(sent) == 4 and sent[3] == sent[2] and sent[2] > sent[1]
    assert counts == {"/joint_states": 3, COMMANDS: 3}


def test_excite_takes_the_node_settings_it_shares_from_the_same_config() -> None:
    from robot_rl.commands import excite

    parser = argparse.ArgumentParser()
    excite.add_arguments(parser)
    shared = {a.dest for a in parser._actions} & {f.name for f in dataclasses.fields(ControlNodeConfig)}
    assert {"command_topic", "watchdog_timeout"} <= shared
    deploy_actions = {a.dest: a for a in deploy_parser()._actions}
    for action in parser._actions:
        if action.dest in ("command_topic", "watchdog_timeout"):
            twin = deploy_actions[action.dest]
            mine = (action.option_strings, action.default, action.help)
            assert mine == (twin.option_strings, twin.default, twin.help)


# -- time, e-stop and leaving, for every source ------------------------------------------------------------


def test_the_rate_limit_holds_per_second_of_node_time_when_states_arrive_faster_than_stamped() -> None:
    """States stamped 20 ms apart but arriving every 2 ms of node time: until their stamps run too far
    ahead (a fault), every target moves at most the joint's velocity limit per second of node time --
    not per state, which once let an iiwa target slew ten times its limit."""
    robot = load_robot("iiwa")
    q0 = centre(robot)
    transport = FakeTransport()
    node = excite(transport, ControlNodeConfig(robot="iiwa", ramp_time=0.0), robot, lambda t, q, qd: q0 + 1.0, 10.0)
    drive(transport, robot, q0, 1)
    start, t0 = transport.commands()[-1].copy(), transport.clock.t
    for k in range(1, 30):
        transport.clock.t += 0.002
        transport.subscribers["/joint_states"](joint_state(robot, k, q0))
        if node.state != "active":
            break
    assert node.state == "fault" and "ahead of the node's clock" in node.controller.fault_reason
    vmax = np.array([j.velocity_limit for j in robot.joints])
    moved = np.abs(transport.commands() - start).max(axis=0)
    assert np.all(moved <= vmax * (transport.clock.t - t0) + 1e-9), (moved, transport.clock.t - t0)


def test_an_excitation_waits_for_the_estop_release_and_a_press_before_any_state_sends_nothing() -> None:
    """On a robot the excitation starts only once the e-stop is heard released; a press heard before any
    state sends no command at all (for an arm, the hold target is not known yet)."""
    robot = load_robot("iiwa")
    transport = FakeTransport()
    node = excitation_node(transport, ControlNodeConfig(robot="iiwa"), robot, lambda t, q, qd: centre(robot), 5.0,
                           clock=transport.clock, sleep=transport.clock.sleep)
    transport.subscribers["/estop"](m.Bool(True))
    assert node.state == "fault" and transport.sent[COMMANDS] == []
    transport.subscribers["/estop"](m.Bool(False))
    drive(transport, robot, centre(robot), 10)
    assert node.state == "fault" and node.controller.source.t0 is None  # latched until an operator's reset
    np.testing.assert_allclose(transport.commands()[-1], centre(robot))  # holding where the arm is
    node2 = excitation_node(FakeTransport(), ControlNodeConfig(robot="iiwa"), robot, lambda t, q, qd: centre(robot),
                            5.0, clock=transport.clock)
    assert "e-stop state unknown" in node2.waiting_for()


def test_stopping_an_arm_holds_the_measured_position_and_settles() -> None:
    """Leaving active on a position-controlled arm: the target goes to the last trusted position, at the
    rate limit, until it is there; the last command on the wire holds the arm where it is."""
    robot = load_robot("iiwa")
    q0 = centre(robot)
    transport = FakeTransport()
    node = excite(transport, ControlNodeConfig(robot="iiwa", ramp_time=0.0), robot, lambda t, q, qd: q0 + 0.5, 10.0)
    drive(transport, robot, q0, 5)
    assert node.state == "active" and np.abs(transport.commands()[-1] - q0).max() > 0.1  # targets lead the arm
    node.stop("--duration elapsed")
    np.testing.assert_allclose(transport.commands()[-1], q0)
    assert [s.data for s in transport.sent["~/state"]][-1] == "finalized"


def test_the_sim_robot_obeys_the_estop_whatever_its_controller_sends() -> None:
    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig

    transport = FakeTransport()
    sim = SimRobot(transport, SimRobotConfig(robot="cartpole", engine="mujoco"))
    try:
        sim.env.reset(seed=0)
        transport.subscribers["/forward_command_controller/commands"](m.Float64MultiArray(data=[20.0]))
        assert sim.applied_command().tolist() == [20.0]
        transport.subscribers["/estop"](m.Bool(True))  # also a latched press made before it started
        assert sim.applied_command().tolist() == [0.0]  # the motor's force is cut
        transport.subscribers["/forward_command_controller/commands"](m.Float64MultiArray(data=[20.0]))
        assert sim.applied_command().tolist() == [0.0]
        transport.subscribers["/estop"](m.Bool(False))
        assert sim.applied_command().tolist() == [20.0]
    finally:
        sim.close()

"""Policy node logic without a network: an in-memory transport, messages delivered by hand.

The end-to-end tests prove the wiring over real DDS; these pin the node's decisions (joint
mapping, pacing by stamps, lifecycle requests, episodes, e-stop, its own clock) deterministically
and fast. The node runs on a fake monotonic clock: by default a robot playing in real time (the
clock reaches each state's stamp as it is delivered); tests that play a fast clock, a stall or a
future stamp move it themselves.
"""

from __future__ import annotations

import math
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_clock import FakeClock

from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.joint_map import JointMap, episode_frame_id, episode_of
from robot_rl.deploy.policy_node import PolicyNode, PolicyNodeConfig

COMMANDS = "/forward_command_controller/commands"


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def publish(self, msg: Any) -> None:
        self.sent.append(msg)

    def subscription_count(self) -> int:
        return 1


class FakeTransport:
    """Records publications; `deliver` calls a subscriber; timers run when a test says so.

    With `real_time` (the default) delivering a JointState first moves the fake clock to the state's
    stamp (stamps count from 1000 s, the clock from 100 s): the robot plays in real time."""

    node_name = "policy_node"

    def __init__(self) -> None:
        self.publishers: dict[str, FakePublisher] = {}
        self.subscribers: dict[str, Callable[[Any], None]] = {}
        self.timers: list[Callable[[], None]] = []
        self.publisher_counts: dict[str, int] = {}  # set by a test to play another publisher
        self.clock = FakeClock()
        self.real_time = True
        self.qos: dict[str, list[Any]] = {}

    def count_publishers(self, topic: str, msg_type: type) -> int:
        return self.publisher_counts.get(topic, 1 if topic in self.publishers else 0)

    def publisher(self, topic: str, msg_type: type, qos: Any = None) -> FakePublisher:
        return self.publishers.setdefault(topic, FakePublisher())

    def subscribe(self, topic: str, msg_type: type, callback: Callable[[Any], None], qos: Any = None) -> None:
        self.subscribers[topic] = callback
        self.qos.setdefault(topic, []).append(qos)

    def timer(self, period_s: float, callback: Callable[[], None]) -> None:
        self.timers.append(callback)

    def now_ns(self) -> int:
        return time.time_ns()

    def deliver(self, topic: str, msg: Any) -> None:
        stamp = getattr(getattr(msg, "header", None), "stamp", None)
        if self.real_time and isinstance(msg, m.JointState) and stamp is not None and m.time_to_ns(stamp):
            self.clock.t = max(self.clock.t, m.time_to_ns(stamp) / 1e9 - 900.0)
        self.subscribers[topic](msg)

    def commands(self) -> list[list[float]]:
        return [list(c.data) for c in self.publishers[COMMANDS].sent]

    def diagnostics(self) -> list[m.DiagnosticStatus]:
        return [s for a in self.publishers["/diagnostics"].sent for s in a.status]


@pytest.fixture(scope="module")
def policy_dir(request: pytest.FixtureRequest) -> Path:
    from robot_rl.deploy.reference_controller import cached_reference_policy

    return cached_reference_policy(request.config.cache.mkdir("robot_rl_reference_policy"))


def state(
    i: int,
    names=("slider", "hinge"),
    q=(0.1, math.pi - 0.3),
    qd=(0.0, 1.0),
    period_ns: int = 20_000_000,
    episode: int | None = None,
) -> m.JointState:
    header = m.Header(
        stamp=m.time_from_ns(10**12 + i * period_ns), frame_id=episode_frame_id(episode) if episode is not None else ""
    )
    return m.JointState(header=header, name=list(names), position=list(q), velocity=list(qd))


def make_node(policy_dir: Path, estop_released: bool = True, **config: Any) -> tuple[PolicyNode, FakeTransport]:
    """A policy node on a fake transport and clock; by default its e-stop reports "released" at once
    (on a robot the node activates only after hearing that). States need not flow `settle_time` before
    activation unless a test asks (these tests are about what follows; the settle has its own tests)."""
    config.setdefault("settle_time", 0.0)
    transport = FakeTransport()
    node = PolicyNode(
        transport, PolicyNodeConfig(policy=str(policy_dir), robot=config.pop("robot", "cartpole"), **config),
        clock=transport.clock, sleep=transport.clock.sleep,
    )
    if estop_released:
        transport.deliver("/estop", m.Bool(False))
    return node, transport


# -- joint mapping -----------------------------------------------------------------------------


def test_joint_map_reorders_by_name_and_ignores_extra_joints() -> None:
    jm = JointMap(("slider", "hinge"))
    mapped = jm.map(
        m.JointState(name=["gripper", "hinge", "slider"], position=[9.0, 2.0, 1.0], velocity=[9.0, 20.0, 10.0])
    )
    assert mapped.problem is None
    assert mapped.q.tolist() == [1.0, 2.0] and mapped.qd.tolist() == [10.0, 20.0]


@pytest.mark.parametrize(
    ("msg", "words"),
    [
        (
            m.JointState(name=["slider", "pole"], position=[0.0, 0.0], velocity=[0.0, 0.0]),
            ["joint 'hinge' missing from /joint_states", "received joints: slider, pole"],
        ),
        (
            m.JointState(name=["slider", "hinge"], position=[0.0, 0.0], velocity=[]),
            ["no velocity of joint 'slider', velocity of joint 'hinge'"],
        ),
        (
            m.JointState(name=["slider", "hinge"], position=[0.0, math.nan], velocity=[0.0, 0.0]),
            ["NaN in position of joint 'hinge'"],
        ),
        (
            m.JointState(name=["slider", "hinge"], position=[0.0, 0.0], velocity=[math.inf, 0.0]),
            ["inf in velocity of joint 'slider'"],
        ),
    ],
    ids=["renamed", "no-velocity", "nan", "inf"],
)
def test_joint_map_names_the_joint_at_fault(msg: m.JointState, words: list[str]) -> None:
    mapped = JointMap(("slider", "hinge")).map(msg)
    assert mapped.problem is not None and all(w in mapped.problem for w in words), mapped.problem
    assert not np.all(np.isfinite(np.concatenate([mapped.q, mapped.qd])))  # the filter will fault


def test_episode_tag_round_trip() -> None:
    assert episode_of(state(0, episode=3)) == "3"
    assert episode_of(state(0)) is None


# -- the node ----------------------------------------------------------------------------------


def test_node_steps_once_per_control_period_of_robot_time(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True)
    for i in range(100):  # 0.2 s of states at 500 Hz = 10 control periods of 20 ms
        t.deliver("/joint_states", state(i, period_ns=2_000_000))
    assert len(t.commands()) == 10
    assert node.state == "active"
    assert all(abs(c[0]) <= 20.0 for c in t.commands())


def test_states_stamped_backwards_are_a_clock_fault_until_reset(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True)
    t.deliver("/joint_states", state(10))
    assert node.state == "active"
    t.deliver("/joint_states", state(5))
    assert node.state == "fault" and node.controller.safety.fault_kind == "clock"
    assert t.commands()[-1] == [0.0] and len(t.commands()) == 2  # the safe action, at once
    assert "/joint_states: stamped 0.1 s before the previous reading (its clock went backwards)" in (
        node.status().message)
    assert node.request("reset") == "ok, inactive"  # a restarted robot: the reset forgets its clock
    t.deliver("/joint_states", state(5))
    assert node.state == "inactive" and len(t.commands()) == 3


def test_activation_waits_for_a_valid_state_and_ramps_in(policy_dir: Path) -> None:
    node, t = make_node(policy_dir)
    assert node.request("activate").startswith("pending")
    t.deliver("/joint_states", state(0, names=("slider",), q=(0.1,), qd=(0.0,)))
    assert node.state == "inactive" and t.commands() == [[0.0]]
    for i in range(1, 40):
        t.deliver("/joint_states", state(i))
    assert node.state == "active"
    forces = [abs(c[0]) for c in t.commands()[1:]]
    assert forces[0] < forces[-1]  # the 0.5 s ramp: the first active command is the smallest


def test_requests_are_answered_and_unknown_ones_refused(policy_dir: Path) -> None:
    node, t = make_node(policy_dir)
    assert node.request("jump").startswith("refused: unknown request")
    t.deliver("/joint_states", state(0))
    assert node.request("activate").startswith("ok, active")
    assert node.request("activate") == "ok, already active"
    assert node.request("deactivate") == "ok, inactive"
    t.deliver("~/transition", m.String("activate"))
    assert node.state == "active"
    assert t.publishers["~/state"].sent[-1].data == "active"


def test_estop_latches_until_released_and_reset(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True)
    for i in range(30):
        t.deliver("/joint_states", state(i))
    n_before = len(t.commands())
    t.deliver("/estop", m.Bool(True))
    assert node.state == "fault" and t.commands()[n_before:] == [[0.0]]  # sent at once, not at the next state
    assert node.request("reset").startswith("refused: e-stop still pressed")
    assert node.request("activate").startswith("refused: in fault")
    t.deliver("/estop", m.Bool(False))
    assert node.request("reset") == "ok, inactive"
    assert node.state == "inactive"


def test_new_episode_clears_a_fault_and_ramps_in_but_not_an_estop(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, follow_episodes=True)
    t.deliver("/joint_states", state(0, episode=0))
    t.deliver("/joint_states", state(1, episode=0, q=(0.1, math.nan)))
    assert node.state == "fault" and "NaN in position of joint 'hinge'" in node.status().message
    t.deliver("/joint_states", state(2, episode=1))
    assert node.state == "active"
    t.deliver("/estop", m.Bool(True))
    t.deliver("/joint_states", state(3, episode=2))
    assert node.state == "fault" and node.controller.fault_reason == "e-stop pressed"


def test_episodes_are_ignored_unless_followed(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True)
    t.deliver("/joint_states", state(0, episode=0))
    t.deliver("/joint_states", state(1, episode=0, q=(0.1, math.nan)))
    t.deliver("/joint_states", state(2, episode=1))
    assert node.state == "fault"


def test_watchdog_timer_sends_the_fault_command(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, watchdog_timeout=0.05)
    for i in range(5):
        t.deliver("/joint_states", state(i))
    t.clock.advance(0.08)
    for timer in t.timers:
        timer()
    assert node.state == "fault" and t.commands()[-1] == [0.0]
    assert "old (watchdog 0.05 s)" in node.status().message


def test_policy_for_another_robot_leaves_the_node_unconfigured(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, robot="iiwa", activate=True)
    t.deliver("/joint_states", state(0))
    assert node.state == "unconfigured"
    assert node.request("activate").startswith("refused: node is unconfigured")
    assert COMMANDS not in t.publishers or t.commands() == []
    status = node.status()
    assert status.level == m.DiagnosticStatus.ERROR and "trained for robot 'cartpole'" in status.message


# -- rclpy conversion, with stand-ins for the generated ROS message classes ------------------------


def _fake_ros_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated rclpy classes store float sequences as array.array; ours are lists."""
    import array

    def make(name: str, fields: dict[str, Any]) -> type:
        def init(self) -> None:
            for key, default in fields.items():
                setattr(self, key, default() if callable(default) else default)

        return type(name, (), {"__init__": init})

    pkgs = {
        "builtin_interfaces.msg": {"Time": {"sec": 0, "nanosec": 0}},
        "std_msgs.msg": {
            "Header": {"stamp": None, "frame_id": ""},
            "MultiArrayDimension": {"label": "", "size": 0, "stride": 0},
            "MultiArrayLayout": {"dim": list, "data_offset": 0},
            "Float64MultiArray": {"layout": None, "data": lambda: array.array("d")},
        },
        "sensor_msgs.msg": {
            "JointState": {
                "header": None,
                "name": list,
                "position": lambda: array.array("d"),
                "velocity": lambda: array.array("d"),
                "effort": lambda: array.array("d"),
            }
        },
    }
    for module_name, classes in pkgs.items():
        module = types.ModuleType(module_name)
        for cls_name, fields in classes.items():
            setattr(module, cls_name, make(cls_name, fields))
        monkeypatch.setitem(sys.modules, module_name, module)
        monkeypatch.setitem(sys.modules, module_name.split(".")[0], types.ModuleType(module_name.split(".")[0]))


def test_rclpy_conversion_round_trips_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    import array

    from robot_rl.deploy.rclpy_transport import from_ros, to_ros

    _fake_ros_package(monkeypatch)
    msg = state(3, episode=2)
    ros_msg = to_ros(msg)
    assert type(ros_msg).__name__ == "JointState" and type(ros_msg.header.stamp).__name__ == "Time"
    ros_msg.position = array.array("d", ros_msg.position)  # as rclpy stores it
    assert from_ros(ros_msg, m.JointState) == msg
    cmd = m.Float64MultiArray(layout=m.MultiArrayLayout(dim=[m.MultiArrayDimension("joints", 1, 1)]), data=[2.5])
    assert from_ros(to_ros(cmd), m.Float64MultiArray) == cmd


# -- operator actions do not linger; one commander; limits --------------------------------------


def run_timers(t: FakeTransport) -> None:
    for timer in t.timers:
        timer()


def test_an_activate_request_expires_without_a_valid_state(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate_timeout=0.1)
    assert node.request("activate") == (
        "pending: will activate when a fresh state arrives on /joint_states (expires in 0.1 s)"
    )
    t.clock.advance(0.15)
    run_timers(t)
    last = dict((kv.key, kv.value) for kv in t.diagnostics()[-1].values)["last_request"]
    assert last == "activate: expired after 0.1 s without a valid state on /joint_states; send activate again"
    for i in range(5):
        t.deliver("/joint_states", state(i))
    assert node.state == "inactive" and all(c == [0.0] for c in t.commands())


def test_an_expired_request_is_not_served_by_a_late_state_even_before_the_timer(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate_timeout=0.05)
    node.request("activate")
    t.clock.advance(0.08)
    t.deliver("/joint_states", state(0))  # the state path checks the age of the request too
    assert node.state == "inactive"
    assert node.request("activate").startswith("ok, active")  # a fresh request is served at once


def test_a_request_served_in_time_activates(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate_timeout=5.0)
    node.request("activate")
    t.deliver("/joint_states", state(0))
    assert node.state == "active"


def test_a_crash_fault_survives_new_episodes_until_an_explicit_reset(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, follow_episodes=True, watchdog_timeout=0.05)
    for i in range(5):
        t.deliver("/joint_states", state(i, episode=0))
    assert node.state == "active"
    t.clock.advance(0.08)  # the robot goes silent past the watchdog
    run_timers(t)
    assert node.state == "fault" and node.controller.safety.fault_kind == "watchdog"
    t.deliver("/joint_states", state(6, episode=1))  # the simulator restarted: still latched
    assert node.state == "fault" and t.commands()[-1] == [0.0]
    assert node.request("reset") == "ok, inactive"
    assert node.request("activate").startswith("ok, active")


def test_a_sensor_fault_survives_a_new_episode(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, follow_episodes=True)
    t.deliver("/joint_states", state(0, episode=0))
    t.deliver("/joint_states", state(1, episode=0, q=(0.7, math.pi - 0.3)))  # 0.6 m in one period
    assert node.state == "fault" and "sensor fault (jump): position of joint 'slider'" in node.status().message
    t.deliver("/joint_states", state(2, episode=1))
    assert node.state == "fault"


def test_a_new_episode_jump_is_not_a_sensor_fault(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, follow_episodes=True)
    t.deliver("/joint_states", state(0, episode=0))
    t.deliver("/joint_states", state(1, episode=1, q=(-0.5, 0.2)))  # a reset teleports the cart
    assert node.state == "active"


def test_a_second_publisher_blocks_activation_and_faults_an_active_node(policy_dir: Path) -> None:
    node, t = make_node(policy_dir)
    t.deliver("/joint_states", state(0))
    t.publisher_counts[COMMANDS] = 2
    run_timers(t)
    status = node.status()
    assert status.level == m.DiagnosticStatus.ERROR
    assert "1 other publisher(s) on /forward_command_controller/commands (2 writers matched)" in status.message
    assert node.request("activate").startswith("refused: 1 other publisher(s)")
    t.publisher_counts[COMMANDS] = 1
    assert node.request("activate").startswith("ok, active")
    t.publisher_counts[COMMANDS] = 3
    t.clock.advance(0.05)  # the count is refreshed at most every 0.1 s (a state keeps the node alive)
    t.deliver("/joint_states", state(3))
    t.clock.advance(0.06)
    run_timers(t)
    assert node.state == "fault" and node.controller.safety.fault_kind == "external"
    assert "2 other publisher(s)" in node.controller.fault_reason and t.commands()[-1] == [0.0]


def test_the_limits_driven_with_are_in_the_diagnostics(policy_dir: Path) -> None:
    node, _ = make_node(policy_dir)
    values = {kv.key: kv.value for kv in node.status().values}
    assert values["limits"] == "card and robot.yaml agree" and values["command_publishers"] == "1"


def test_a_robot_wider_than_the_card_leaves_the_node_unconfigured_unless_allowed(
    policy_dir: Path, tmp_path: Path
) -> None:
    from sim.robot import load_robot

    yaml_path = Path(load_robot("cartpole").yaml_path)
    text = yaml_path.read_text().replace("urdf: robot.urdf", f"urdf: {yaml_path.parent / 'robot.urdf'}")
    wide = tmp_path / "robot.yaml"
    wide.write_text(text.replace("    velocity_limit: 5.0 ", "    velocity_limit: 8.0 "))
    node, _ = make_node(policy_dir, robot=str(wide))
    assert node.state == "unconfigured"
    assert "joint 'slider' velocity_limit 8 m/s, wider than the 5 m/s" in node.config_error
    assert "--allow-wider-limits" in node.config_error
    node, _ = make_node(policy_dir, robot=str(wide), allow_wider_limits=True)
    assert node.state == "inactive" and node.controller.safety.robot.joints[0].velocity_limit == 5.0
    values = {kv.key: kv.value for kv in node.status().values}
    assert "joint 'slider' velocity_limit 5 m/s from the card (robot.yaml: 8)" in values["limits"]


def test_activation_by_request_starts_at_the_stamp_of_the_state_it_uses(policy_dir: Path) -> None:
    """A request served from the latest state ramps in from that state's stamp: the next state, stamped
    one period later but arriving late in wall time, is not taken for a clock going backwards."""
    node, t = make_node(policy_dir)
    t.deliver("/joint_states", state(0))
    t.clock.advance(0.05)  # the robot's next state is late on the wire: node time runs ahead of its stamps
    assert node.request("activate").startswith("ok, active")
    t.deliver("/joint_states", state(1))
    assert node.state == "active", node.controller.fault_reason


# -- the e-stop is durable ---------------------------------------------------------------------


def test_an_estop_latched_before_start_is_heard_and_blocks_activation(policy_dir: Path) -> None:
    """A latched press (transient local) is delivered when the node's reader matches the writer: the
    node subscribes so that it can match one, and the press faults the node before any command moves."""
    node, t = make_node(policy_dir, estop_released=False, activate=True)
    assert any(q.transient_local for q in t.qos["/estop"]) and any(not q.reliable for q in t.qos["/estop"])
    t.deliver("/estop", m.Bool(True))  # what a transient-local writer's history delivers at the match
    for i in range(20):
        t.deliver("/joint_states", state(i))
    assert node.state == "fault" and node.controller.fault_reason == "e-stop pressed"
    assert t.commands() and all(c == [0.0] for c in t.commands())
    assert {kv.key: kv.value for kv in node.status().values}["estop"] == "pressed"
    assert node.request("activate").startswith("refused: in fault (e-stop pressed)")


def test_on_a_robot_activation_waits_until_the_estop_is_heard_released(policy_dir: Path) -> None:
    """A press whose publisher has already exited left nothing to read: only a release heard after the
    start (or latched) proves the e-stop is up, so an --activate node stays inactive until then."""
    node, t = make_node(policy_dir, estop_released=False, activate=True)
    for i in range(50):
        t.deliver("/joint_states", state(i))
    assert node.state == "inactive" and all(c == [0.0] for c in t.commands())
    estop = {kv.key: kv.value for kv in node.status().values}["estop"]
    assert estop.startswith("unknown (e-stop state unknown: waiting for a release (std_msgs/Bool false on /estop")
    assert node.request("activate").startswith("pending: e-stop state unknown")
    t.deliver("/estop", m.Bool(False))
    t.deliver("/joint_states", state(50))
    assert node.state == "active"


def test_allow_unknown_estop_listens_one_second_for_a_press(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, estop_released=False, activate=True, allow_unknown_estop=True)
    for i in range(40):  # 0.8 s: still listening
        t.deliver("/joint_states", state(i))
    assert node.state == "inactive"
    t.deliver("/estop", m.Bool(True))  # a repeating publisher's next press arrives within the second
    assert node.state == "fault"
    node, t = make_node(policy_dir, estop_released=False, activate=True, allow_unknown_estop=True)
    for i in range(60):  # 1.2 s of silence on /estop: released
        t.deliver("/joint_states", state(i))
    assert node.state == "active"


def test_a_simulator_is_not_waited_for(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, estop_released=False, activate=True, follow_episodes=True)
    t.deliver("/joint_states", state(0, episode=0))
    assert node.state == "active"


# -- the node's own clock ------------------------------------------------------------------------


def test_a_standing_activate_order_waits_until_states_have_flowed_the_settle_time(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, settle_time=0.3)
    for i in range(15):  # 0.28 s of states at 50 Hz since the first
        t.deliver("/joint_states", state(i))
        assert node.state == "inactive", i
    assert "once states have flowed 0.3 s on /joint_states" in node.request("activate")
    t.deliver("/joint_states", state(15))  # 0.30 s
    assert node.state == "active"


@pytest.mark.parametrize(("settle_time", "faults"), [(0.3, False), (0.0, True)])
def test_a_backlog_of_states_queued_at_start_up_is_not_taken_for_the_streams_delay(
        policy_dir: Path, settle_time: float, faults: bool) -> None:
    """States 0-9 queued while the node started arrive at once, 0.25 s after the last was sent; then states
    flow on time. Activated on the backlog's first (settle 0), the on-time states read as stamped ahead of
    the mapping it taught (the fault an e2e run once hit); after the settle time the mapping is the stream's."""
    node, t = make_node(policy_dir, activate=True, settle_time=settle_time)
    t.real_time = False
    t.clock.t = 100.0 + 9 * 0.02 + 0.25  # stamps count from 1000 s, this clock from 100 s
    for i in range(10):
        t.deliver("/joint_states", state(i))
    for i in range(22, 60):
        t.clock.t = 100.0 + i * 0.02
        t.deliver("/joint_states", state(i))
    if faults:
        assert node.state == "fault" and "/joint_states: stamped" in node.controller.fault_reason
    else:
        assert node.state == "active", node.controller.fault_reason


def test_states_advancing_faster_than_real_time_fault_naming_the_topic(policy_dir: Path) -> None:
    """States stamped 20 ms apart but sent every 2 ms (a robot clock ten times too fast, or a forged
    stream): their stamps run ahead of the node's clock and, past the watchdog, that is a fault."""
    node, t = make_node(policy_dir, activate=True)
    t.deliver("/joint_states", state(0))
    assert node.state == "active"
    t.real_time = False
    for i in range(1, 20):
        t.clock.advance(0.002)
        t.deliver("/joint_states", state(i))
        if node.state == "fault":
            break
    assert node.state == "fault" and i <= 7, i  # ahead by 18 ms a state: past 0.1 s at the 6th or 7th
    assert node.controller.safety.fault_kind == "clock"
    assert "/joint_states: stamped 0.1" in node.controller.fault_reason
    assert "ahead of the node's clock (in the future, or advancing faster than real time" in node.status().message
    assert t.commands()[-1] == [0.0]


def test_a_state_stamped_in_the_future_faults_at_once(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True)
    for i in range(10):
        t.deliver("/joint_states", state(i))
    t.real_time = False
    t.clock.advance(0.02)  # the next period: a state stamped 1 s ahead of it arrives
    t.deliver("/joint_states", state(10 + 50))
    assert node.state == "fault" and "/joint_states: stamped 1 s ahead" in node.controller.fault_reason
    assert t.commands()[-1] == [0.0]


def test_a_stalled_node_faults_instead_of_resuming(policy_dir: Path) -> None:
    """The node process is stopped for 2 s (SIGSTOP) while the robot streams on; when it runs again,
    even a fresh state (stamped now) must not resume the drive."""
    node, t = make_node(policy_dir, activate=True)
    for i in range(10):
        t.deliver("/joint_states", state(i))
    assert node.state == "active"
    sent = len(t.commands())
    t.deliver("/joint_states", state(110))  # 2 s later, in real time: the clock jumps with it
    assert node.state == "fault" and node.controller.safety.fault_kind == "watchdog"
    assert "the node did not run for 2.02 s (watchdog 0.1 s): it stalled" in node.controller.fault_reason
    assert t.commands()[sent:] and all(c == [0.0] for c in t.commands()[sent:])


def test_a_legged_node_never_drives_on_an_imu_stamped_in_the_future(a1_policy: Path) -> None:
    """The A1: one IMU reading stamped 100 s ahead, then IMU silence. Once that kept the IMU watchdog
    quiet (140 policy commands went out); now the reading itself is a fault, and damping follows."""
    node, t = make_node(a1_policy, robot="a1", activate=True, soft_start_speed=0.0, ramp_time=0.0)
    pose, names = list(node.controller.robot.default_pose), list(node.controller.robot.joint_names)
    level = m.Quaternion(0.0, 0.0, 0.0, 1.0)

    def period(i: int, imu_ahead: float | None = 0.0) -> None:
        stamp = m.time_from_ns(10**12 + i * 20_000_000)
        if imu_ahead is not None:
            imu_stamp = m.time_from_ns(10**12 + i * 20_000_000 + int(imu_ahead * 1e9))
            t.deliver("/imu/data", m.Imu(header=m.Header(stamp=imu_stamp), orientation=level,
                                         linear_acceleration=m.Vector3(0.0, 0.0, 9.81)))
        t.deliver("/joint_states", m.JointState(header=m.Header(stamp=stamp), name=names, position=pose,
                                                velocity=[0.0] * 12))

    for i in range(10):
        period(i)
    assert node.state == "active"
    period(10, imu_ahead=100.0)
    assert node.state == "fault"
    assert "/imu/data: stamped 100 s ahead of the node's clock" in node.controller.fault_reason
    sent = len(t.commands())
    for i in range(11, 60):  # the IMU is silent; joint states go on
        period(i, imu_ahead=None)
    after = t.commands()[sent - 1:]
    assert after and all(np.allclose(c, pose) for c in after)  # damping: targets at the measured positions


@pytest.fixture(scope="module")
def a1_policy() -> Path:
    return Path(__file__).resolve().parents[1] / "policies" / "a1_walk"


# -- one source per input -----------------------------------------------------------------------------


def test_a_second_publisher_on_an_input_blocks_activation_and_faults_an_active_node(policy_dir: Path) -> None:
    """A forged /joint_states stream from another process is reported like a second commander."""
    node, t = make_node(policy_dir)
    t.deliver("/joint_states", state(0))
    t.publisher_counts["/joint_states"] = 2
    run_timers(t)
    note = "2 publishers on /joint_states: only one source may feed this input (a forged stream, or one left running)"
    assert note in node.status().message and node.status().level == m.DiagnosticStatus.ERROR
    assert node.request("activate").startswith(f"refused: {note}")
    t.publisher_counts["/joint_states"] = 1
    assert node.request("activate").startswith("ok, active")
    t.deliver("/joint_states", state(1))
    t.publisher_counts["/joint_states"] = 2
    t.clock.advance(0.1)
    run_timers(t)
    assert node.state == "fault" and node.controller.safety.fault_kind == "external"
    assert note in node.controller.fault_reason and t.commands()[-1] == [0.0]


# -- leaving is always safe ---------------------------------------------------------------------------


def test_stop_sends_the_safe_action_then_finalized_and_nothing_more(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True, ramp_time=0.0)
    for i in range(20):
        t.deliver("/joint_states", state(i))
    assert node.state == "active" and abs(t.commands()[-1][0]) > 0.5  # the policy pushes the cart
    node.stop("SIGTERM")
    assert t.commands()[-1] == [0.0]
    assert t.publishers["~/state"].sent[-1].data == "finalized"
    assert node.status().message == "finalized: SIGTERM; the safe action was sent"
    sent = len(t.commands())
    t.deliver("/joint_states", state(20))
    run_timers(t)
    assert len(t.commands()) == sent and node.request("activate").startswith("refused: the node has stopped")


def test_stop_of_a_node_that_never_saw_a_state_sends_no_command(policy_dir: Path) -> None:
    node, t = make_node(policy_dir, activate=True)
    node.stop("Ctrl-C (SIGINT)")
    assert COMMANDS not in t.publishers or t.commands() == []
    assert t.publishers["~/state"].sent[-1].data == "finalized"


# -- stamps on the node's clock (robot_rl/deploy/stamps.py) ----------------------------------------------


def test_an_honest_stream_never_trips_the_stamp_checks() -> None:
    """30 min at 50 Hz from a robot whose clock runs 200 ppm fast (an NTP-slewed clock), delivered with
    0-5 ms of jitter: no problem, and each mapped stamp within the jitter of its arrival."""
    import random

    from robot_rl.deploy.stamps import StreamClock

    rng = random.Random(0)
    stream = StreamClock("/joint_states", tolerance=0.1)
    worst = 0.0
    for i in range(90_000):
        stamp = 5000.0 + i * 0.02 * (1 + 2e-4)
        arrived = 100.0 + i * 0.02 + rng.uniform(0.0, 0.005)
        mapped, problem = stream.map(stamp, arrived, learning=i < 10)
        assert problem is None, (i, problem)
        worst = max(worst, abs(arrived - mapped))
    assert worst < 0.02, worst


def test_stamp_checks_learn_a_slow_first_reading_but_not_a_fast_clock_or_a_future_stamp() -> None:
    from robot_rl.deploy.stamps import StreamClock

    stream = StreamClock("/imu/data", tolerance=0.1)
    stream.map(1000.0, 100.06, learning=True)  # the first reading took 60 ms to arrive
    mapped, problem = stream.map(1000.02, 100.02 + 0.001, learning=True)
    assert problem is None and mapped == pytest.approx(100.021)  # learned: the later ones are on time
    mapped, problem = stream.map(1000.04 + 100.0, 100.041, learning=False)
    assert problem == ("/imu/data: stamped 100 s ahead of the node's clock (in the future, or advancing faster "
                       "than real time; tolerance 0.1 s)")
    # ... and it moved nothing: the next honest reading maps as before, while a fast clock accumulates.
    assert stream.map(1000.06, 100.061, learning=False) == (pytest.approx(100.061), None)
    problems = [stream.map(1000.06 + 0.02 * k, 100.061 + 0.002 * k, learning=False)[1] for k in range(1, 10)]
    assert problems.index(next(p for p in problems if p)) == 5  # 18 ms ahead per reading: past 0.1 s at the 6th
    assert "went backwards" in stream.map(999.0, 100.2, learning=False)[1]
    stream.reset()
    assert stream.map(999.0, 100.2, learning=True) == (100.2, None)  # after a reset: a new stream


def test_under_a_simulator_the_stamps_are_the_clock() -> None:
    from robot_rl.deploy.stamps import StreamClock

    stream = StreamClock("/joint_states", tolerance=0.1, sim_time=True)
    assert stream.map(5.0, 100.0, learning=False) == (5.0, None)
    assert stream.map(50.0, 100.001, learning=False) == (50.0, None)  # lockstep: faster than real time
    assert "went backwards" in stream.map(49.0, 100.002, learning=False)[1]


def test_a_first_reading_stamped_ahead_is_forgotten_while_nothing_is_driven() -> None:
    """The very first IMU reading stamped 100 s ahead anchors nothing for long: while the node is not
    active the next honest reading re-anchors the mapping, so the IMU is not taken for 100 s stale."""
    from robot_rl.deploy.stamps import StreamClock

    stream = StreamClock("/imu/data", tolerance=0.1)
    stream.map(1100.0, 100.0, learning=True)
    assert stream.map(1000.02, 100.02, learning=True) == (pytest.approx(100.02), None)


def test_a_robot_restarting_its_clock_while_the_node_is_inactive_is_simply_followed(policy_dir: Path) -> None:
    node, t = make_node(policy_dir)
    for i in range(100, 105):
        t.deliver("/joint_states", state(i))
    t.real_time = False
    t.clock.advance(0.02)
    t.deliver("/joint_states", state(0))  # stamps from the start again: nothing is driven, nothing to fault
    assert node.state == "inactive" and len(t.commands()) == 6
    assert node.request("activate").startswith("ok, active")

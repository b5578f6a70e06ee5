"""The small seam between node code and middleware: publish, subscribe, timers, time, close.

The policy node, the sim robot node and the recorder are written once against `Transport`.
Two implementations exist: `DdsTransport` (the `cyclonedds` Python package speaking the ROS 2
wire format, so nothing of ROS needs to be installed) and `RclpyTransport` (a real rclpy node,
for machines with ROS 2). Messages are always the IDL dataclasses of `ros2_msgs`; the rclpy
transport converts them field by field, so node code never sees which middleware it runs on.

Callbacks may run on middleware threads (Cyclone's listener threads, timer threads); node
code guards its state with its own lock and keeps callbacks short.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from robot_rl.deploy.errors import TransportError

M = TypeVar("M")

TRANSPORTS = ("dds", "rclpy")


@dataclass(frozen=True)
class QosProfile:
    """The three QoS knobs our topics use; the default is ROS 2's default profile."""

    reliable: bool = True
    transient_local: bool = False
    depth: int = 10


DEFAULT_QOS = QosProfile()
# For state that late joiners must see (current lifecycle state, ros_discovery_info).
LATCHED_QOS = QosProfile(reliable=True, transient_local=True, depth=1)
BEST_EFFORT_QOS = QosProfile(reliable=False)
# The e-stop is read through three subscriptions, because DDS matches a reader only with writers
# offering at least its reliability and durability: a transient-local reader hears the press a
# latched writer published before this node started (delivered when they match) but no volatile
# writer; a reliable volatile reader hears `ros2 topic pub`; a best-effort reader hears writers
# that only offer best effort (sensor-data QoS). A press heard twice is the same press.
ESTOP_QOS = (LATCHED_QOS, DEFAULT_QOS, BEST_EFFORT_QOS)


class Publisher(Protocol[M]):
    def publish(self, msg: M) -> None: ...

    def subscription_count(self) -> int:
        """How many readers are matched now (to wait for a peer before sending what must arrive)."""
        ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Transport(Protocol):
    """What a node may ask of its middleware. Topic names are ROS names (``/joint_states``)."""

    node_name: str

    def publisher(self, topic: str, msg_type: type[M], qos: QosProfile = DEFAULT_QOS) -> Publisher[M]: ...

    def subscribe(
        self, topic: str, msg_type: type[M], callback: Callable[[M], None], qos: QosProfile = DEFAULT_QOS
    ) -> None: ...

    def timer(self, period_s: float, callback: Callable[[], None]) -> Timer: ...

    def count_publishers(self, topic: str, msg_type: type) -> int:
        """How many writers of `topic` exist now, this node's own included (rclpy's
        ``Node.count_publishers``): a second source of commands on a topic only we should write."""
        ...

    def now_ns(self) -> int:
        """ROS time in nanoseconds: wall clock, or the latest /clock when use_sim_time is on."""
        ...

    def spin(self, until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> None:
        """Serve callbacks until `until()` is true, the timeout passes, or `shutdown()` is called."""
        ...

    def spin_in_background(self) -> None:
        """Deliver callbacks while the calling thread does other work (a simulation loop)."""
        ...

    def shutdown(self) -> None:
        """Make `spin` return (safe to call from a callback or a signal handler)."""
        ...

    def close(self) -> None: ...


def subscribe_durable(transport: Transport, topic: str, msg_type: type[M], callback: Callable[[M], None]) -> None:
    """Subscribe `callback` so that it hears every writer of `topic`, latched ones included
    (`ESTOP_QOS`): for the e-stop, whose press may have been published before we started."""
    for qos in ESTOP_QOS:
        transport.subscribe(topic, msg_type, callback, qos)


def resolve_topic(name: str, node_name: str, namespace: str = "/") -> str:
    """ROS name resolution for the names we use: ``~/x`` is private, ``x`` is relative to the namespace."""
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    if name.startswith("~"):
        name = f"{ns}/{node_name}{name[1:]}"
    elif not name.startswith("/"):
        name = f"{ns}/{name}"
    if "//" in name or name.endswith("/") or not all(c.isalnum() or c in "/_" for c in name):
        raise TransportError(f"invalid ROS topic name '{name}': use letters, digits, '_' and single '/'")
    return name


def domain_id_from_env() -> int:
    """ROS_DOMAIN_ID, as ROS 2 reads it (unset or empty: 0)."""
    raw = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > 232:
        raise TransportError(f"ROS_DOMAIN_ID={raw!r} is not a domain id; set an integer 0..232 (or unset it)")
    return int(raw)


def rclpy_available() -> bool:
    try:
        import rclpy  # noqa: F401
    except ImportError:
        return False
    return True


def make_transport(
    kind: str, node_name: str, *, namespace: str = "/", use_sim_time: bool = False, **kwargs: Any
) -> Transport:
    """Open the named transport: ``dds`` (Cyclone DDS, no ROS needed), ``rclpy``, or ``auto``."""
    if kind == "auto":
        kind = "rclpy" if rclpy_available() else "dds"
    if kind == "dds":
        from robot_rl.deploy.dds_transport import DdsTransport

        return DdsTransport(node_name, namespace=namespace, use_sim_time=use_sim_time, **kwargs)
    if kind == "rclpy":
        from robot_rl.deploy.rclpy_transport import RclpyTransport

        return RclpyTransport(node_name, namespace=namespace, use_sim_time=use_sim_time, **kwargs)
    raise TransportError(f"unknown transport '{kind}'; choose one of: {', '.join(TRANSPORTS)}, auto")

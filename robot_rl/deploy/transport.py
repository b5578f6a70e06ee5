"""The small seam between node code and middleware: publish, subscribe, timers, time, close.

The policy node, the sim robot node and the recorder are written once against `Transport`.
Two implementations exist: `DdsTransport` (the `cyclonedds` Python package speaking the ROS 2
wire format, so nothing of ROS needs to be installed) and `RclpyTransport` (a real rclpy node,
for machines with ROS 2). Messages are always the IDL dataclasses of `ros2_msgs`; the rclpy
transport converts them field by field, so node code never sees which middleware it runs on.

Callbacks may run on middleware threads (Cyclone's listener threads, timer threads); node
code guards its state with its own lock and keeps callbacks short.

QoS profiles and ROS name rules live in `ros_conventions`, which both implementations import: this
module opens them (`make_transport`), so they must not import it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from robot_rl.deploy.errors import TransportError
from robot_rl.deploy.ros_conventions import (  # re-exported: node code imports them from here
    BEST_EFFORT_QOS,
    DEFAULT_QOS,
    ESTOP_QOS,
    LATCHED_QOS,
    QosProfile,
    domain_id_from_env,
    resolve_topic,
)

M = TypeVar("M")

TRANSPORTS = ("dds", "rclpy")


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


__all__ = ["BEST_EFFORT_QOS", "DEFAULT_QOS", "ESTOP_QOS", "LATCHED_QOS", "TRANSPORTS", "Publisher", "QosProfile",
           "Timer", "Transport", "domain_id_from_env", "make_transport", "rclpy_available", "resolve_topic",
           "subscribe_durable"]

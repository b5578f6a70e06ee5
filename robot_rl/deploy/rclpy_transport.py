"""Transport over rclpy, for machines with ROS 2 installed (any rmw, any distro from Humble on).

Node code keeps using the IDL dataclasses of `ros2_msgs`; this module converts them field by
field to and from the generated ROS classes (``sensor_msgs.msg.JointState`` ...), found by
their ROS type name. The conversion costs a few microseconds per message, which is small next
to rclpy's own overhead, and keeps one node implementation for both transports.

rclpy is imported when a `RclpyTransport` is created, never at module import, so the rest of
the package runs where ROS 2 is absent. Callbacks run in the thread that calls `spin`
(a single-threaded executor), so node code sees the same "callbacks may race with timers"
contract as on DDS only in the weaker, serialized form.

Leaving safely, as on DDS: when this transport initializes rclpy it installs no signal handlers of
rclpy's (which would shut the context down on SIGINT, so nothing could be published afterwards):
Ctrl-C raises KeyboardInterrupt out of `spin`, the front end's ``finally`` lets the node send its
safe action on a context that still works, and `close` waits for the readers' acknowledgments
before shutting rclpy down. Front ends handle SIGTERM themselves (``shutdown()``).
"""

from __future__ import annotations

import array
import dataclasses
import functools
import importlib
import time
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from robot_rl.deploy.errors import TransportError
from robot_rl.deploy.ros2_msgs import ros_type_name
from robot_rl.deploy.ros_conventions import DEFAULT_QOS, QosProfile

M = TypeVar("M")


def ros_class(msg_type: type) -> type:
    """The generated rclpy message class for one of our structs (``sensor_msgs/msg/JointState``)."""
    pkg, kind, name = ros_type_name(msg_type).split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ImportError, AttributeError):
        apt_name = "ros-$ROS_DISTRO-" + pkg.replace("_", "-")
        raise TransportError(
            f"ROS 2 message package '{pkg}' is not installed (needed for {pkg}/{kind}/{name}); install {apt_name}"
        ) from None


def to_ros(msg: Any) -> Any:
    """Our dataclass -> the rclpy message with the same field values."""
    ros_msg = ros_class(type(msg))()
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if dataclasses.is_dataclass(value):
            value = to_ros(value)
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            value = [to_ros(v) for v in value]
        elif isinstance(value, bytes):
            value = list(value)
        setattr(ros_msg, f.name, value)
    return ros_msg


def from_ros(ros_msg: Any, msg_type: type[M]) -> M:
    """The rclpy message -> our dataclass, field by field (array.array and numpy become lists)."""
    values = {}
    for f in dataclasses.fields(msg_type):
        value = getattr(ros_msg, f.name)
        nested = _nested_type(msg_type, f.name)
        if nested is not None and isinstance(value, (list, tuple)):
            value = [from_ros(v, nested) for v in value]
        elif nested is not None:
            value = from_ros(value, nested)
        elif isinstance(f.default, bytes):  # fixed uint8 arrays (Gid) are bytes on our side
            value = bytes(bytearray(value))
        elif isinstance(value, array.array) or hasattr(value, "tolist"):
            value = value.tolist()
        values[f.name] = value
    return msg_type(**values)


@functools.cache
def _nested_type(msg_type: type, field_name: str) -> type | None:
    """The struct type of a field (or of its sequence elements), None for plain values."""
    tp = typing.get_type_hints(msg_type, include_extras=True)[field_name]
    if typing.get_origin(tp) is typing.Annotated:
        tp = getattr(typing.get_args(tp)[1], "subtype", None)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


class _RclpyPublisher:
    def __init__(self, publisher: Any) -> None:
        self._publisher = publisher

    def publish(self, msg: Any) -> None:
        self._publisher.publish(to_ros(msg))

    def subscription_count(self) -> int:
        return int(self._publisher.get_subscription_count())

    def flush(self, timeout_s: float) -> bool:
        """Wait until every matched reliable subscription acknowledged what was published (True) or
        `timeout_s` passes (False), as `DdsTransport` does on close."""
        from rclpy.duration import Duration

        try:
            return bool(self._publisher.wait_for_all_acked(Duration(nanoseconds=int(max(0.0, timeout_s) * 1e9))))
        except (AttributeError, RuntimeError):  # an rmw without it, or a context already shut down
            return False


def _quiet_qos_events() -> Any:
    """Subscription event callbacks that ignore incompatible-QoS events (Humble: rclpy.qos_event)."""
    try:
        from rclpy.event_handler import SubscriptionEventCallbacks
    except ImportError:
        from rclpy.qos_event import SubscriptionEventCallbacks
    return SubscriptionEventCallbacks(incompatible_qos=lambda event: None)


class RclpyTransport:
    """One rclpy node; `spin` runs a single-threaded executor."""

    def __init__(
        self, node_name: str, *, namespace: str = "/", use_sim_time: bool = False, args: list[str] | None = None
    ) -> None:
        try:
            import rclpy
            from rclpy.executors import SingleThreadedExecutor
            from rclpy.parameter import Parameter
        except ImportError:
            raise TransportError(
                "rclpy is not importable: source your ROS 2 setup (source /opt/ros/<distro>/"
                "setup.bash) or use --transport dds, which needs no ROS install"
            ) from None
        self._rclpy = rclpy
        if not rclpy.ok():
            try:
                from rclpy.signals import SignalHandlerOptions

                rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
            except ImportError:  # before Galactic: rclpy's own handlers
                rclpy.init(args=args)
        self.node_name = node_name
        # Parameters from --ros-args / launch (a params file) are declared as given, so ROS users
        # configure the node the ROS way; use_sim_time=True from our own code wins over them.
        overrides = [Parameter("use_sim_time", Parameter.Type.BOOL, True)] if use_sim_time else []
        self.node = rclpy.create_node(
            node_name,
            namespace=namespace,
            parameter_overrides=overrides,
            automatically_declare_parameters_from_overrides=True,
        )
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._stop = False
        self._errors: list[BaseException] = []
        self._publishers: list[_RclpyPublisher] = []

    def _qos(self, profile: QosProfile) -> Any:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=profile.depth,
            reliability=ReliabilityPolicy.RELIABLE if profile.reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=(DurabilityPolicy.TRANSIENT_LOCAL if profile.transient_local else DurabilityPolicy.VOLATILE),
        )

    def publisher(self, topic: str, msg_type: type[M], qos: QosProfile = DEFAULT_QOS) -> _RclpyPublisher:
        publisher = _RclpyPublisher(self.node.create_publisher(ros_class(msg_type), topic, self._qos(qos)))
        self._publishers.append(publisher)
        return publisher

    def subscribe(
        self, topic: str, msg_type: type[M], callback: Callable[[M], None], qos: QosProfile = DEFAULT_QOS
    ) -> None:
        def on_message(ros_msg: Any) -> None:
            try:
                callback(from_ros(ros_msg, msg_type))
            except BaseException as exc:
                self._fail(exc)

        kwargs: dict[str, Any] = {}
        if qos.transient_local or not qos.reliable:
            # One of several subscriptions on a topic (the e-stop's, `transport.ESTOP_QOS`): writers it
            # cannot match are heard by another, so rclpy's "incompatible QoS" warning is noise here.
            kwargs["event_callbacks"] = _quiet_qos_events()
        self.node.create_subscription(ros_class(msg_type), topic, on_message, self._qos(qos), **kwargs)

    def timer(self, period_s: float, callback: Callable[[], None]) -> Any:
        def on_timer() -> None:
            try:
                callback()
            except BaseException as exc:
                self._fail(exc)

        return self.node.create_timer(period_s, on_timer)

    def count_publishers(self, topic: str, msg_type: type) -> int:
        """Publishers of `topic` in the ROS graph, this node's own included (the rmw's matched count)."""
        return int(self.node.count_publishers(topic))

    def now_ns(self) -> int:
        return int(self.node.get_clock().now().nanoseconds)

    def _fail(self, exc: BaseException) -> None:
        self.node.get_logger().error(f"callback raised {exc!r}")
        self._errors.append(exc)
        self._stop = True

    def spin(self, until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> None:
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._stop and self._rclpy.ok():
            if until is not None and until():
                break
            if end is not None and time.monotonic() >= end:
                break
            self._executor.spin_once(timeout_sec=0.05)
        if self._errors:
            raise self._errors[0]

    def spin_in_background(self) -> None:
        """Run the executor on a daemon thread (rclpy delivers callbacks only while spinning)."""
        import threading

        self._background = threading.Thread(target=self.spin, name="rclpy-spin", daemon=True)
        self._background.start()

    def shutdown(self) -> None:
        self._stop = True

    def close(self, flush_s: float = 1.0) -> None:
        """Let subscriptions acknowledge the last messages (at most `flush_s`), then destroy the node."""
        self._stop = True
        end = time.monotonic() + flush_s
        for publisher in self._publishers:
            publisher.flush(end - time.monotonic())
        self._executor.remove_node(self.node)
        self.node.destroy_node()
        self._rclpy.try_shutdown()

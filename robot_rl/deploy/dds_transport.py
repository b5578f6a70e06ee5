"""Transport over Cyclone DDS that ROS 2 nodes on rmw_cyclonedds_cpp see as one of their own.

What makes a DDS endpoint a ROS 2 endpoint (Jazzy; measured facts in shared/PITFALLS.md):
- topic ``/joint_states`` is the DDS topic ``rt/joint_states``;
- the DDS type name is ``sensor_msgs::msg::dds_::JointState_``, data XCDR1, final, keyless
  (``ros2_msgs`` declares them so);
- QoS as ROS 2's profile (default: reliable, volatile, keep last 10);
- the participant's USER_DATA is ``enclave=/;``, each reader's and writer's is
  ``typehash=RIHS01_<hex>;`` (``type_hash``), and the node name travels on
  ``ros_discovery_info`` (``discovery``).

Readers deliver through Cyclone listeners (``on_data_available``), on Cyclone's own threads: no
polling, which on a small machine starves the receive threads and doubles the tail latency.
The domain comes from ``ROS_DOMAIN_ID``; interfaces and peers from ``CYCLONEDDS_URI`` as usual.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cyclonedds.core import DDSException, Listener, Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.internal import InvalidSample
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from robot_rl.deploy.discovery import DISCOVERY_TOPIC, NodeGraphInfo
from robot_rl.deploy.errors import TransportError
from robot_rl.deploy.ros2_msgs import Clock, ParticipantEntitiesInfo, time_to_ns
from robot_rl.deploy.ros_conventions import DEFAULT_QOS, LATCHED_QOS, QosProfile, domain_id_from_env, resolve_topic
from robot_rl.deploy.type_hash import type_hash

M = TypeVar("M")
log = logging.getLogger(__name__)
FLUSH_S = 1.0  # s that close() waits, at most, for readers to acknowledge the last messages


def dds_topic_name(ros_topic: str) -> str:
    """``/joint_states`` -> ``rt/joint_states`` (the ROS 2 prefix for plain topics)."""
    return "rt" + ros_topic


def endpoint_qos(profile: QosProfile, msg_type: type | None) -> Qos:
    """A reader/writer QoS equal to what rmw_cyclonedds creates for the same ROS profile."""
    reliability = (
        Policy.Reliability.Reliable(duration(milliseconds=100)) if profile.reliable else Policy.Reliability.BestEffort
    )
    policies: list[Any] = [
        reliability,
        Policy.Durability.TransientLocal if profile.transient_local else Policy.Durability.Volatile,
        Policy.History.KeepLast(profile.depth),
        Policy.DataRepresentation(use_cdrv0_representation=True),  # XCDR1, as rmw_cyclonedds writes
    ]
    if msg_type is not None:
        policies.append(Policy.Userdata(f"typehash={type_hash(msg_type)};".encode()))
    return Qos(*policies)


class _DdsPublisher:
    def __init__(self, writer: DataWriter) -> None:
        self._writer = writer

    def publish(self, msg: Any) -> None:
        self._writer.write(msg)

    def subscription_count(self) -> int:
        return int(self._writer.get_publication_matched_status().current_count)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every matched reliable reader has acknowledged what was written (True), or
        `timeout_s` passes (False): the last command a stopping node sends must arrive."""
        try:
            return self._writer.wait_for_acks(duration(seconds=max(0.0, timeout_s)))
        except DDSException:
            return False
        except AttributeError:  # cyclonedds 11.0.1's DataWriter tests `Exception.DDS_RETCODE_TIMEOUT` on a
            return False  # timeout: a reader slow to ack must not turn a node's clean stop into a crash


class _PeriodicTimer:
    """Calls `callback` every `period_s` on its own thread, on an absolute schedule (no drift)."""

    def __init__(
        self, period_s: float, callback: Callable[[], None], on_error: Callable[[BaseException], None]
    ) -> None:
        self._period = float(period_s)
        self._callback = callback
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dds-timer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self._period
        while not self._stop.wait(max(0.0, deadline - time.monotonic())):
            try:
                self._callback()
            except BaseException as exc:  # surfaced by spin(); a dead timer must not go unnoticed
                self._on_error(exc)
                return
            deadline += self._period
            now = time.monotonic()
            if deadline < now:  # overran: skip missed ticks instead of bursting to catch up
                deadline = now + self._period - ((now - deadline) % self._period)

    def cancel(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)


class DdsTransport:
    """A ROS 2-compatible node on a Cyclone DDS participant (no ROS install needed)."""

    def __init__(
        self, node_name: str, *, namespace: str = "/", use_sim_time: bool = False, domain_id: int | None = None
    ) -> None:
        self.node_name = node_name
        self.namespace = namespace
        self.domain_id = domain_id_from_env() if domain_id is None else domain_id
        try:
            self._participant = DomainParticipant(self.domain_id, qos=Qos(Policy.Userdata(b"enclave=/;")))
        except DDSException as exc:
            raise TransportError(
                f"cannot open DDS domain {self.domain_id} for node '{node_name}': {exc}. "
                "Check CYCLONEDDS_URI (interfaces) and ROS_DOMAIN_ID"
            ) from None
        self._topics: dict[str, Topic] = {}
        self._counters: dict[str, DataReader] = {}  # ROS topic -> reader counting its writers
        self._publishers: list[_DdsPublisher] = []  # flushed on close
        self._keep: list[Any] = []  # writers, readers, listeners: deleted with the participant
        self._timers: list[_PeriodicTimer] = []
        self._errors: list[BaseException] = []
        self._stop = threading.Event()
        self._closed = False
        self._sim_time_ns: int | None = None
        self._graph = NodeGraphInfo(self._participant.guid, node_name, namespace)
        self._discovery_writer = DataWriter(
            self._participant,
            self._topic(DISCOVERY_TOPIC, ParticipantEntitiesInfo),
            qos=endpoint_qos(LATCHED_QOS, ParticipantEntitiesInfo),
        )
        self._use_sim_time = use_sim_time
        if use_sim_time:
            self.subscribe("/clock", Clock, self._on_clock)
        self._announce()

    # -- endpoints -------------------------------------------------------------------------
    def _topic(self, dds_name: str, msg_type: type) -> Topic:
        topic = self._topics.get(dds_name)
        if topic is None:
            topic = self._topics[dds_name] = Topic(self._participant, dds_name, msg_type)
        elif topic.data_type is not msg_type:
            raise TransportError(
                f"topic '{dds_name}' is already used with type {topic.data_type.__name__} "
                f"in node '{self.node_name}'; one topic carries one type"
            )
        return topic

    def publisher(self, topic: str, msg_type: type[M], qos: QosProfile = DEFAULT_QOS) -> _DdsPublisher:
        name = resolve_topic(topic, self.node_name, self.namespace)
        writer = DataWriter(
            self._participant, self._topic(dds_topic_name(name), msg_type), qos=endpoint_qos(qos, msg_type)
        )
        self._keep.append(writer)
        self._graph.add_writer(writer.guid)
        self._announce()
        publisher = _DdsPublisher(writer)
        self._publishers.append(publisher)
        return publisher

    def subscribe(
        self, topic: str, msg_type: type[M], callback: Callable[[M], None], qos: QosProfile = DEFAULT_QOS
    ) -> None:
        name = resolve_topic(topic, self.node_name, self.namespace)

        def on_data_available(reader: DataReader) -> None:
            try:
                for sample in reader.take(N=64):
                    if not isinstance(sample, InvalidSample):
                        callback(sample)
            except BaseException as exc:  # Cyclone's thread would swallow it: keep it for spin()
                self._fail(exc)

        listener = Listener(on_data_available=on_data_available)
        reader = DataReader(
            self._participant,
            self._topic(dds_topic_name(name), msg_type),
            qos=endpoint_qos(qos, msg_type),
            listener=listener,
        )
        self._keep += [reader, listener]
        self._graph.add_reader(reader.guid)
        self._announce()

    def count_publishers(self, topic: str, msg_type: type) -> int:
        """Writers matched on `topic`, this node's own included, as rmw counts publishers.

        Counted with a reader of its own (created on first use, not announced in the node graph):
        best effort, volatile, keep last 1, because such a reader matches writers of every
        reliability and durability, so no publisher escapes the count for its QoS.
        """
        name = resolve_topic(topic, self.node_name, self.namespace)
        reader = self._counters.get(name)
        if reader is None:
            qos = Qos(
                Policy.Reliability.BestEffort,
                Policy.Durability.Volatile,
                Policy.History.KeepLast(1),
                Policy.DataRepresentation(use_cdrv0_representation=True),
            )
            reader = self._counters[name] = DataReader(
                self._participant, self._topic(dds_topic_name(name), msg_type), qos=qos
            )
            self._keep.append(reader)
        return int(reader.get_subscription_matched_status().current_count)

    def _announce(self) -> None:
        self._discovery_writer.write(self._graph.message())

    # -- time and execution ----------------------------------------------------------------
    def _on_clock(self, msg: Clock) -> None:
        self._sim_time_ns = time_to_ns(msg.clock)

    def now_ns(self) -> int:
        if self._use_sim_time:
            return self._sim_time_ns or 0  # ROS semantics: time is 0 until the first /clock
        return time.time_ns()

    def timer(self, period_s: float, callback: Callable[[], None]) -> _PeriodicTimer:
        timer = _PeriodicTimer(period_s, callback, self._fail)
        self._timers.append(timer)
        return timer

    def _fail(self, exc: BaseException) -> None:
        log.error("callback in node '%s' raised %r", self.node_name, exc)
        self._errors.append(exc)
        self._stop.set()

    def spin(self, until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> None:
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._stop.is_set():
            if until is not None and until():
                break
            if end is not None and time.monotonic() >= end:
                break
            self._stop.wait(0.01 if until is not None or end is not None else 0.2)
        if self._errors:
            raise self._errors[0]

    def spin_in_background(self) -> None:
        """Nothing to do: Cyclone's listener threads deliver callbacks on their own."""

    def shutdown(self) -> None:
        self._stop.set()

    def close(self, flush_s: float = FLUSH_S) -> None:
        """Stop timers, let readers acknowledge what was written (at most `flush_s` in all: a node's
        last, safe command must reach the robot before the process exits), tell the graph the node
        is gone, and delete every DDS entity."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for timer in self._timers:
            timer.cancel()
        end = time.monotonic() + flush_s
        for publisher in self._publishers:
            publisher.flush(end - time.monotonic())
        try:
            self._discovery_writer.write(self._graph.message(include_node=False))
        except DDSException:
            pass
        # dds_delete on the participant deletes its readers, writers and topics (listeners stop first).
        self._participant.__del__()
        self._keep.clear()
        self._topics.clear()
        self._counters.clear()

    def __enter__(self) -> DdsTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

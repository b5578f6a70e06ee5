"""Record topics to a rosbag2 with the `rosbags` package: what the robot did, for calibration.

A bag written here is an ordinary rosbag2 (``metadata.yaml`` + sqlite3 or MCAP storage): ``ros2
bag info``/``play`` read it, and so does `rosbags` without ROS. Each message is stored as the
CDR bytes that came off the wire, under its ROS 2 type name (``sensor_msgs/msg/JointState``),
with the receive time as its timestamp, as ``ros2 bag record`` does (sim time when the
transport uses /clock).

Writes go through one background thread: the storage (sqlite3) must be used from the thread
that opened it, and a listener callback must not wait for a disk.

It is the project's one bag writer: the control node's ``--record`` (a policy or an excitation,
`control_topics`), `robot-rl record`, the ROS package's recorder node, and the simulated excitation
(`calibration.rosbag_io.BagRecorder`, an adapter that builds the messages from arrays) all write
through `BagRecorder`, so every bag the project makes has the same topics, types and hashes.

Run as a process: ``python -m robot_rl.deploy.recorder --out runs/bag1`` (records /joint_states
and the forward command controller topic by default).
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from robot_rl.deploy import ros2_msgs
from robot_rl.deploy.errors import BagError
from robot_rl.deploy.stop_signals import handle_stop_signals
from robot_rl.deploy.transport import Transport, make_transport
from robot_rl.deploy.type_hash import type_hash
from robot_rl.errors import RobotRLError

DEFAULT_STATE_TOPIC = "/joint_states"
DEFAULT_COMMAND_TOPIC = "/forward_command_controller/commands"


def control_topics(
    state_topic: str = DEFAULT_STATE_TOPIC, command_topic: str = DEFAULT_COMMAND_TOPIC
) -> dict[str, type]:
    """The topics of a control run's bag: the joint states stepped and the commands sent (what sysid reads)."""
    return {state_topic: ros2_msgs.JointState, command_topic: ros2_msgs.Float64MultiArray}


DEFAULT_TOPICS: dict[str, type] = control_topics()
_TYPES_BY_ROS_NAME = {ros2_msgs.ros_type_name(t): t for t in ros2_msgs.ALL_TYPES}


def message_type(ros_name: str) -> type:
    """Our struct for a ROS type name (``std_msgs/msg/Bool``); the recorder stores only these."""
    try:
        return _TYPES_BY_ROS_NAME[ros_name]
    except KeyError:
        raise BagError(
            f"cannot record type '{ros_name}'; known types: {', '.join(sorted(_TYPES_BY_ROS_NAME))}"
        ) from None


class BagRecorder:
    """A rosbag2 writer fed from any thread; `close()` flushes and writes ``metadata.yaml``.

    ``metadata``: custom data stored in ``metadata.yaml`` as ``robot_rl.<key>`` (the robot, engine,
    seed, whether it hung on a gantry), which `robot-rl sysid` reads back.
    """

    _STOP = object()

    def __init__(
        self,
        path: str | Path,
        topics: dict[str, type],
        storage: str = "sqlite3",
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"bag '{self.path}' already exists; choose a new --out folder (rosbag2 never appends)")
        if storage not in ("sqlite3", "mcap"):
            raise BagError(f"unknown bag storage '{storage}'; choose sqlite3 or mcap")
        self.topics = dict(topics)
        self.metadata = {f"robot_rl.{k}": str(v) for k, v in (metadata or {}).items()}
        self.counts = dict.fromkeys(self.topics, 0)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None
        self._opened = threading.Event()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._thread = threading.Thread(target=self._run, args=(plugin,), name="bag-writer", daemon=True)
        self._thread.start()
        self._opened.wait(10.0)
        if self._error is not None:
            raise BagError(f"cannot open bag '{self.path}': {self._error}")

    def _run(self, plugin: StoragePlugin) -> None:
        typestore = get_typestore(Stores.ROS2_JAZZY)
        try:
            writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
            for key, value in self.metadata.items():
                writer.set_custom_data(key, value)
            writer.open()
            connections = {}
            for topic, msg_type in self.topics.items():
                name = ros2_msgs.ros_type_name(msg_type)
                msgdef, _ = typestore.generate_msgdef(name, ros_version=2)
                # Our hash, not rosbags': they differ for rmw_dds_common types (see type_hash).
                connections[topic] = writer.add_connection(topic, name, msgdef=msgdef, rihs01=type_hash(msg_type))
        except BaseException as exc:
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while (item := self._queue.get()) is not self._STOP:
                topic, stamp_ns, data = item
                if stamp_ns is None:  # a topic declared after opening (`declare`): its connection now
                    msgdef, _ = typestore.generate_msgdef(data, ros_version=2)
                    connections[topic] = writer.add_connection(topic, data, msgdef=msgdef,
                                                               rihs01=type_hash(self.topics[topic]))
                    continue
                writer.write(connections[topic], stamp_ns, data)
        except BaseException as exc:
            self._error = exc
        finally:
            writer.close()

    def declare(self, topic: str, msg_type: type) -> None:
        """Add a topic after opening. Why: the control node learns only from its command source which
        task inputs a step uses (a reach's goal, a walk's IMU and velocity command), after the bag was
        opened; they belong in the bag so a run can be replayed as the policy saw it (`robot-rl bc`)."""
        if topic in self.topics:
            if self.topics[topic] is not msg_type:
                raise BagError(f"topic '{topic}' is already in bag '{self.path}' with another type")
            return
        self.topics[topic] = msg_type
        self.counts[topic] = 0
        self._queue.put((topic, None, ros2_msgs.ros_type_name(msg_type)))

    def record(self, topic: str, msg: Any, stamp_ns: int) -> None:
        """Queue one message (serialized now, on the caller's thread) for the bag."""
        if topic not in self.topics:
            raise BagError(f"topic '{topic}' was not declared when the bag '{self.path}' was opened")
        self._queue.put((topic, int(stamp_ns), msg.serialize()))
        self.counts[topic] += 1

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join(30.0)
        if self._error is not None:
            raise BagError(f"writing bag '{self.path}' failed: {self._error}")

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_recorder(transport: Transport, recorder: BagRecorder) -> None:
    """Subscribe to every topic of `recorder` and store each message at its receive time."""
    for topic, msg_type in recorder.topics.items():

        def on_message(msg: Any, topic: str = topic) -> None:
            recorder.record(topic, msg, transport.now_ns())

        transport.subscribe(topic, msg_type, on_message)


def read_bag(path: str | Path, topics: Sequence[str] | None = None) -> Iterator[tuple[str, int, Any]]:
    """(topic, timestamp ns, message as our struct) for each message, in time order.

    Reads with `rosbags` (sqlite3 or MCAP, any rosbag2 version it knows) and decodes the raw CDR
    with our structs, so a bag from ``ros2 bag record`` reads the same way.
    """
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise BagError(
            f"'{path}' is not a rosbag2 folder (no metadata.yaml); record one with "
            "`robot-rl deploy --record PATH` or `ros2 bag record`"
        )
    with Reader(path) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        missing = set(topics or ()) - {c.topic for c in connections}
        if missing:
            raise BagError(
                f"bag '{path}' has no topic {', '.join(sorted(missing))}; it holds: "
                f"{', '.join(sorted({c.topic for c in reader.connections}))}"
            )
        for connection, stamp_ns, data in reader.messages(connections=connections):
            yield connection.topic, stamp_ns, message_type(connection.msgtype).deserialize(bytes(data))


def add_recorder_arguments(parser: argparse.ArgumentParser) -> None:
    """The recorder's options (shared by `robot-rl record` and `python -m robot_rl.deploy.recorder`)."""
    parser.add_argument("--out", required=True, help="new rosbag2 folder to create")
    parser.add_argument(
        "--topic",
        action="append",
        metavar="NAME:TYPE",
        help="topic and ROS type to record, e.g. /joint_states:sensor_msgs/msg/JointState "
        "(repeatable; default: /joint_states and the forward command controller topic)",
    )
    parser.add_argument("--storage", default="sqlite3", choices=("sqlite3", "mcap"))
    parser.add_argument("--transport", default="dds", choices=("dds", "rclpy", "auto"))
    parser.add_argument("--use-sim-time", action="store_true", help="stamp messages with /clock time")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


MAX_DURATION_S = 7 * 24 * 3600.0  # a week: beyond it, a typo (ms for s), not a recording


def check_recorder_args(args: argparse.Namespace) -> None:
    """--duration a finite number of seconds in (0, a week], and --out not an existing path, before any
    topic is subscribed (a negative duration would record nothing and still leave a bag)."""
    import math

    from robot_rl.errors import RobotRLError

    duration = args.duration
    if duration is not None and not (math.isfinite(duration) and 0.0 < duration <= MAX_DURATION_S):
        raise RobotRLError(
            f"--duration {duration:g} s is out of range: give seconds in (0, {MAX_DURATION_S:g}] (a week), or leave "
            "it out to record until Ctrl-C"
        )
    if Path(args.out).exists():
        raise BagError(f"--out {args.out} exists already; a bag is never overwritten (rosbag2 never appends): "
                       "choose a new folder")


def run_recorder(args: argparse.Namespace) -> int:
    """Record until Ctrl-C, SIGTERM or --duration; the bag is closed (and readable) in every case."""
    check_recorder_args(args)
    topics = dict(DEFAULT_TOPICS)
    if args.topic:
        topics = {}
        for spec in args.topic:
            name, _, type_name = spec.partition(":")
            topics[name] = message_type(type_name)
    recorder = BagRecorder(args.out, topics, args.storage)
    transport = make_transport(args.transport, "robot_rl_recorder", use_sim_time=args.use_sim_time)
    handle_stop_signals(transport.shutdown)  # SIGINT too, even when a shell's `&` left it ignored
    try:
        serve_recorder(transport, recorder)
        print("recording", ", ".join(topics), "to", args.out, flush=True)
        transport.spin(timeout_s=args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
        recorder.close()
    print("recorded", ", ".join(f"{t}: {n}" for t, n in recorder.counts.items()), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_recorder_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_recorder(args)
    except (BagError, RobotRLError) as exc:  # a bad flag is one line, as from `robot-rl record`
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())

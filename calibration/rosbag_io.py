"""The project's one rosbag2 format: write while a robot runs (`BagRecorder`), read for sysid.

A log is a rosbag2 folder (sqlite3 storage, as `robot_rl.deploy.recorder` writes; MCAP reads too) with

- `/joint_states`: `sensor_msgs/msg/JointState`, all joints of the robot (any order, extra
  joints ignored), positions and velocities (efforts optional); a change of
  `header.frame_id = robot_rl/episode/<n>` (a simulated robot starting a new episode) marks a
  reset, where identification starts a new segment;
- the command topic, by default `/forward_command_controller/commands`:
  `std_msgs/msg/Float64MultiArray`, one value per actuator in robot.yaml order, as a ros2_control
  forward command controller takes it.

Message definitions come from rosbags' ROS 2 Jazzy typestore and are embedded in the bag, so
`ros2 bag info/play` and any rosbags reader open it without this project. One writer makes
every bag: `robot_rl/deploy/recorder.py` (the control node's `--record`, the ROS 2 recorder);
`BagRecorder` here feeds it from Python values (simulated excitation, tests, scripts), and
`read_robot_log` reads its bags, or those of any robot that publishes these types.

Times: the recorder stamps both topics on one clock (the bag timestamp, and the JointState header
with the same value). The reader uses bag timestamps for both topics by default, because
Float64MultiArray has no header and two clocks must not be mixed; `time_source="header"` uses
the JointState header stamps instead (commands keep bag time) for logs whose bag times carry
transport jitter but whose clocks agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from calibration.errors import LogError
from calibration.log import RobotLog, make_log

if TYPE_CHECKING:
    from sim.robot import RobotSpec

DEFAULT_COMMAND_TOPIC = "/forward_command_controller/commands"
DEFAULT_JOINT_STATE_TOPIC = "/joint_states"
JOINT_STATE_TYPE = "sensor_msgs/msg/JointState"
COMMAND_TYPE = "std_msgs/msg/Float64MultiArray"
EPISODE_PREFIX = "robot_rl/episode/"  # header.frame_id of a simulated robot's states (robot_rl.deploy.joint_map)


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


class BagRecorder:
    """Streams joint states and commands into a new rosbag2 folder; call `close()` (or use `with`).

    An adapter over the project's one bag writer, `robot_rl.deploy.recorder.BagRecorder` (the one the
    control node records with): it only builds the two messages from arrays, so a simulated
    excitation's bag and a robot run's bag are written by the same code, byte for byte. Messages
    stream to disk as they come (constant memory on a long run).
    """

    def __init__(self, path: str | Path, joint_names: Sequence[str],
                 command_topic: str = DEFAULT_COMMAND_TOPIC,
                 joint_state_topic: str = DEFAULT_JOINT_STATE_TOPIC,
                 metadata: dict[str, str] | None = None):
        from robot_rl.deploy import ros2_msgs
        from robot_rl.deploy.recorder import BagRecorder as Writer
        from robot_rl.deploy.recorder import control_topics

        self.path = Path(path)
        if self.path.exists():
            raise LogError(str(self.path), "exists already; a bag is never overwritten",
                           "choose a new --record path or delete the old bag")
        self.joint_names = list(joint_names)
        self._msgs = ros2_msgs
        self._topics = (joint_state_topic, command_topic)
        self._writer = Writer(self.path, control_topics(joint_state_topic, command_topic), metadata=metadata)
        self.closed = False

    def write_joint_state(self, t_ns: int, names: Sequence[str] | None, pos: Sequence[float],
                          vel: Sequence[float] = (), effort: Sequence[float] = (), frame_id: str = "") -> None:
        """One JointState at `t_ns` (bag time and header stamp); `names=None` means the recorder's joints."""
        m = self._msgs
        msg = m.JointState(
            header=m.Header(stamp=m.time_from_ns(int(t_ns)), frame_id=frame_id),
            name=list(self.joint_names if names is None else names),
            position=[float(v) for v in pos], velocity=[float(v) for v in vel], effort=[float(v) for v in effort],
        )
        self._writer.record(self._topics[0], msg, int(t_ns))

    def write_command(self, t_ns: int, values: Sequence[float]) -> None:
        """One Float64MultiArray command at bag time `t_ns`."""
        self._writer.record(self._topics[1], self._msgs.Float64MultiArray(data=[float(v) for v in values]), int(t_ns))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._writer.close()

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def pick_topic(topics: dict[str, str], msgtype: str, wanted: str | None, default: str, source: str,
               role: str, option: str) -> str:
    """The one topic of `msgtype` to read: `wanted` when given (an error naming the bag and `option` when
    it is absent or of another type), else `default`, else the only topic of that type."""
    of_type = sorted(name for name, typ in topics.items() if typ == msgtype)
    if wanted is not None:
        if wanted not in topics:
            raise LogError(source, f"no topic '{wanted}' ({role}); topics in the bag: "
                           f"{', '.join(f'{k} [{v}]' for k, v in sorted(topics.items())) or 'none'}",
                           f"pass the right {option}")
        if topics[wanted] != msgtype:
            raise LogError(source, f"topic '{wanted}' carries {topics[wanted]}, expected {msgtype}",
                           f"pass a {msgtype} topic as {option}")
        return wanted
    if default in of_type:
        return default
    if len(of_type) == 1:
        return of_type[0]
    if not of_type:
        raise LogError(source, f"no {msgtype} topic ({role})",
                       f"record it together with the others; topics present: {', '.join(sorted(topics)) or 'none'}")
    raise LogError(source, f"several {msgtype} topics ({', '.join(of_type)}); which one is the {role}?",
                   f"pass {option}")


@contextmanager
def _open_bag(path: Path) -> Iterator[tuple[dict[str, str], Callable, dict[str, str]]]:
    """(topic -> type, messages(topics) -> iterator of (topic, t_ns, msg), custom data) for a rosbag2 folder
    or ROS 1 bag.

    A folder is rosbag2 whatever its name (`run.bag/` included); a `.bag` file is ROS 1 (no custom data).
    """
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import Reader

    source = str(path)
    store = _typestore()
    try:
        if path.is_dir():
            reader = Reader(path)
            reader.open()

            def decode(raw, msgtype):
                return store.deserialize_cdr(raw, msgtype)
        else:
            reader = AnyReader([path], default_typestore=store)
            reader.open()
            decode = reader.deserialize
    except Exception as exc:  # rosbags raises several unrelated types for unreadable bags
        raise LogError(source, f"not a readable rosbag2 recording ({exc})",
                       "give the bag folder written by `ros2 bag record` or `robot-rl excite --record`") from None

    def messages(topics: Sequence[str]) -> Iterator[tuple[str, int, object]]:
        conns = [c for c in reader.connections if c.topic in topics]
        for conn, t_ns, raw in reader.messages(connections=conns):
            yield conn.topic, t_ns, decode(raw, conn.msgtype)

    custom = bag_custom_data(path) if path.is_dir() else {}
    try:
        yield {c.topic: c.msgtype for c in reader.connections}, messages, custom
    finally:
        reader.close()


def bag_custom_data(path: Path) -> dict[str, str]:
    """A rosbag2 folder's metadata.yaml custom_data (what `BagRecorder(metadata=...)` stored), or {}."""
    from sim.validation import load_yaml_text

    try:
        info = load_yaml_text((path / "metadata.yaml").read_text(), str(path / "metadata.yaml"))
        custom = info["rosbag2_bagfile_information"].get("custom_data") or {}
    except Exception:  # the reader has opened this file already; a field it does not need is optional
        return {}
    return {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}


def check_bag_robot(custom: dict[str, str], robot: RobotSpec, source: str) -> None:
    """Refuse a bag whose metadata names another robot than the one it is read for.

    Why: a bag from another robot whose joint names happen to match (or a typo in --robot) would
    otherwise be fitted as this robot without a word, and its "calibration" trained on.
    """
    recorded = custom.get("robot_rl.robot")
    if recorded and recorded != robot.name:
        raise LogError(source, f"was recorded on robot '{recorded}' (metadata.yaml custom_data robot_rl.robot), "
                       f"but is being read as robot '{robot.name}'",
                       f"pass --robot {recorded}, or the log of a '{robot.name}'")


def read_robot_log(path: str | Path, robot: RobotSpec, command_topic: str | None = None,
                   joint_state_topic: str | None = None, time_source: str = "bag",
                   repair: bool = False) -> RobotLog:
    """Read a rosbag2 folder into a validated `RobotLog` in the robot's joint and actuator order."""
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise LogError(source, "not found", "give the rosbag2 folder (the one holding metadata.yaml)")
    if time_source not in ("bag", "header"):
        raise LogError(source, f"time_source {time_source!r} is not 'bag' or 'header'")
    with _open_bag(path) as (topics, messages, custom):
        check_bag_robot(custom, robot, source)
        js_topic = pick_topic(topics, JOINT_STATE_TYPE, joint_state_topic, DEFAULT_JOINT_STATE_TOPIC, source,
                               "joint state topic", "--joint-state-topic")
        cmd_topic = pick_topic(topics, COMMAND_TYPE, command_topic, DEFAULT_COMMAND_TOPIC, source,
                                "command topic", "--command-topic")
        wanted = list(robot.joint_names)
        t, q, qd, eff = [], [], [], []
        ct, cv = [], []
        vel_present: list[bool] = []
        eff_present: list[bool] = []
        frames: list[str] = []
        resets: list[int] = []  # joint-state indices where a simulated robot starts a new episode
        for topic, t_ns, msg in messages((js_topic, cmd_topic)):
            if topic == cmd_topic:
                data = np.asarray(msg.data, dtype=float)
                if data.size != len(robot.actuators):
                    raise LogError(source, f"{cmd_topic} message #{len(ct)} (bag time {t_ns} ns) has "
                                   f"{data.size} value(s); robot '{robot.name}' has {len(robot.actuators)} "
                                   f"actuator(s): {', '.join(robot.actuator_names)}",
                                   "record commands in robot.yaml actuator order")
                ct.append(t_ns)
                cv.append(data)
                continue
            names = list(msg.name)
            k = len(t)
            missing = [j for j in wanted if j not in names]
            if missing:
                raise LogError(source, f"{js_topic} message #{k} (bag time {t_ns} ns) lacks joint(s) "
                               f"{', '.join(missing)}; it names {', '.join(names) or 'no joints'}",
                               f"publish every joint of robot '{robot.name}' in each JointState")
            pos, vel, ef = (np.asarray(a, dtype=float) for a in (msg.position, msg.velocity, msg.effort))
            if pos.size != len(names):
                raise LogError(source, f"{js_topic} message #{k}: {len(names)} names but {pos.size} positions",
                               "each JointState needs one position per name")
            for label, arr in (("velocities", vel), ("efforts", ef)):
                if arr.size not in (0, len(names)):
                    raise LogError(source, f"{js_topic} message #{k}: {len(names)} names but {arr.size} {label}",
                                   f"publish one of the {label} per name, or none")
            idx = [names.index(j) for j in wanted]
            frame = msg.header.frame_id
            if frame.startswith(EPISODE_PREFIX) and frames and frame != frames[-1]:
                resets.append(len(t))
            frames.append(frame)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            t.append(stamp if time_source == "header" else t_ns)
            q.append(pos[idx])
            vel_present.append(vel.size > 0)
            eff_present.append(ef.size > 0)
            qd.append(vel[idx] if vel.size else np.full(len(idx), np.nan))
            eff.append(ef[idx] if ef.size else np.full(len(idx), np.nan))
    if not t:
        raise LogError(source, f"topic {js_topic} has no messages", "record /joint_states while the robot moves")
    if not ct:
        raise LogError(source, f"topic {cmd_topic} has no messages",
                       "record the command topic while the robot is driven")
    if any(vel_present) and not all(vel_present):
        first = vel_present.index(False)
        raise LogError(source, f"{js_topic} message #{first} has no velocities while others do",
                       "publish velocities in every JointState, or in none")
    t_ns, ct_ns = np.asarray(t, dtype=np.int64), np.asarray(ct, dtype=np.int64)
    base = int(min(t_ns.min(), ct_ns.min()))
    return make_log(
        joint_names=robot.joint_names, actuator_names=robot.actuator_names, t=(t_ns - base) * 1e-9, q=np.asarray(q),
        qd=np.asarray(qd) if all(vel_present) else None, command_t=(ct_ns - base) * 1e-9, command=np.asarray(cv),
        effort=np.asarray(eff) if all(eff_present) else None, source=source, start_time_ns=base, repair=repair,
        breaks=[(t_ns[k] - base) * 1e-9 for k in resets],
    )


def write_robot_log(path: str | Path, log: RobotLog, command_topic: str = DEFAULT_COMMAND_TOPIC,
                    metadata: dict[str, str] | None = None) -> Path:
    """Write a `RobotLog` as a bag (joint states and commands interleaved by time)."""
    with BagRecorder(path, log.joint_names, command_topic, metadata=metadata) as rec:
        base = int(log.start_time_ns)
        events = [(float(tc), 1, k) for k, tc in enumerate(log.command_t)]
        events += [(float(tj), 0, k) for k, tj in enumerate(log.t)]
        for tt, kind, k in sorted(events):
            t_ns = base + int(round(tt * 1e9))
            if kind == 0:
                eff = () if log.effort is None else log.effort[k]
                rec.write_joint_state(t_ns, None, log.q[k], log.qd[k], eff)
            else:
                rec.write_command(t_ns, log.command[k])
    return Path(path)

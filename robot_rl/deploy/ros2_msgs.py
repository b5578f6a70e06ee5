"""The ROS 2 messages the deploy stack speaks, as Cyclone DDS IDL structs with their ROS 2 wire names.

ROS 2 on rmw_cyclonedds_cpp puts each message on the wire as an XCDR1, *final*, keyless struct
whose DDS type name is ``<pkg>::msg::dds_::<Name>_``, and Jazzy's rmw matches readers and
writers by that type-name string alone. Declaring the same structs here, with the same field
names, order and IDL types as the ``.msg`` files (``char`` is ``uint8``, ``byte`` is ``octet``),
makes our processes readable by ``ros2 topic echo`` and able to read a ros2_control robot, with
no ROS install. ``tests/test_deploy_msgs.py`` checks the bytes against the CDR that the
independent ``rosbags`` serializer produces for the same message.

These dataclasses are also the message objects of the node code on both transports: the rclpy
transport converts them field by field to the generated ROS classes.
"""

# No `from __future__ import annotations` here: cyclonedds resolves field types from the live
# annotations, and string annotations such as "t.uint32" make it import a module named `t`.

from dataclasses import dataclass, field

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.annotations import final

__all__ = [
    "ALL_TYPES",
    "Bool",
    "Clock",
    "DiagnosticArray",
    "DiagnosticStatus",
    "Float64MultiArray",
    "Gid",
    "Header",
    "Imu",
    "JointState",
    "KeyValue",
    "MultiArrayDimension",
    "MultiArrayLayout",
    "NodeEntitiesInfo",
    "ParticipantEntitiesInfo",
    "Point",
    "PointStamped",
    "Quaternion",
    "String",
    "Time",
    "Twist",
    "UInt32",
    "Vector3",
    "dds_type_name",
    "ros_type_name",
    "time_from_ns",
    "time_to_ns",
]

GID_SIZE = 16  # rmw_dds_common/Gid on Iron and later (Humble used 24 bytes)


@final
@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: t.int32 = 0
    nanosec: t.uint32 = 0


@final
@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@final
@dataclass
class Bool(IdlStruct, typename="std_msgs::msg::dds_::Bool_"):
    data: bool = False


@final
@dataclass
class String(IdlStruct, typename="std_msgs::msg::dds_::String_"):
    data: str = ""


@final
@dataclass
class UInt32(IdlStruct, typename="std_msgs::msg::dds_::UInt32_"):
    data: t.uint32 = 0


@final
@dataclass
class MultiArrayDimension(IdlStruct, typename="std_msgs::msg::dds_::MultiArrayDimension_"):
    label: str = ""
    size: t.uint32 = 0
    stride: t.uint32 = 0


@final
@dataclass
class MultiArrayLayout(IdlStruct, typename="std_msgs::msg::dds_::MultiArrayLayout_"):
    dim: t.sequence[MultiArrayDimension] = field(default_factory=list)
    data_offset: t.uint32 = 0


@final
@dataclass
class Float64MultiArray(IdlStruct, typename="std_msgs::msg::dds_::Float64MultiArray_"):
    layout: MultiArrayLayout = field(default_factory=MultiArrayLayout)
    data: t.sequence[t.float64] = field(default_factory=list)


@final
@dataclass
class Point(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0


@final
@dataclass
class PointStamped(IdlStruct, typename="geometry_msgs::msg::dds_::PointStamped_"):
    """A position goal (a reach target, in the robot's base frame: header.frame_id)."""

    header: Header = field(default_factory=Header)
    point: Point = field(default_factory=Point)


@final
@dataclass
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    header: Header = field(default_factory=Header)
    name: t.sequence[str] = field(default_factory=list)
    position: t.sequence[t.float64] = field(default_factory=list)
    velocity: t.sequence[t.float64] = field(default_factory=list)
    effort: t.sequence[t.float64] = field(default_factory=list)


@final
@dataclass
class Vector3(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0


@final
@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    """ROS order x, y, z, w (sim.state uses w, x, y, z: convert at the boundary, never inside)."""

    x: t.float64 = 0.0
    y: t.float64 = 0.0
    z: t.float64 = 0.0
    w: t.float64 = 1.0


@final
@dataclass
class Twist(IdlStruct, typename="geometry_msgs::msg::dds_::Twist_"):
    """A velocity command on /cmd_vel (REP 103: base frame, x forward, y left, z up; m/s and rad/s)."""

    linear: Vector3 = field(default_factory=Vector3)
    angular: Vector3 = field(default_factory=Vector3)


@final
@dataclass
class Imu(IdlStruct, typename="sensor_msgs::msg::dds_::Imu_"):
    """An IMU reading (REP 145): orientation of the IMU frame in a world frame, angular velocity in
    rad/s and linear acceleration (specific force, +9.81 on z at rest) in m/s^2, both in the IMU
    frame. Covariances row-major 3x3; element 0 of a covariance = -1 means "not provided"."""

    header: Header = field(default_factory=Header)
    orientation: Quaternion = field(default_factory=Quaternion)
    orientation_covariance: t.array[t.float64, 9] = field(default_factory=lambda: [0.0] * 9)
    angular_velocity: Vector3 = field(default_factory=Vector3)
    angular_velocity_covariance: t.array[t.float64, 9] = field(default_factory=lambda: [0.0] * 9)
    linear_acceleration: Vector3 = field(default_factory=Vector3)
    linear_acceleration_covariance: t.array[t.float64, 9] = field(default_factory=lambda: [0.0] * 9)


@final
@dataclass
class KeyValue(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    key: str = ""
    value: str = ""


@final
@dataclass
class DiagnosticStatus(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"):
    """``level`` is a ROS ``byte`` (IDL octet): OK=0, WARN=1, ERROR=2, STALE=3."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3

    level: t.byte = 0
    name: str = ""
    message: str = ""
    hardware_id: str = ""
    values: t.sequence[KeyValue] = field(default_factory=list)


@final
@dataclass
class DiagnosticArray(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticArray_"):
    header: Header = field(default_factory=Header)
    status: t.sequence[DiagnosticStatus] = field(default_factory=list)


@final
@dataclass
class Clock(IdlStruct, typename="rosgraph_msgs::msg::dds_::Clock_"):
    clock: Time = field(default_factory=Time)


@final
@dataclass
class Gid(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
    """A DDS entity's 16-byte GUID (12-byte participant prefix + 4-byte entity id)."""

    data: t.array[t.uint8, GID_SIZE] = bytes(GID_SIZE)  # cyclonedds reads uint8 arrays back as bytes


@final
@dataclass
class NodeEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
    node_namespace: t.bounded_str[256] = "/"
    node_name: t.bounded_str[256] = ""
    reader_gid_seq: t.sequence[Gid] = field(default_factory=list)
    writer_gid_seq: t.sequence[Gid] = field(default_factory=list)


@final
@dataclass
class ParticipantEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"):
    gid: Gid = field(default_factory=Gid)
    node_entities_info_seq: t.sequence[NodeEntitiesInfo] = field(default_factory=list)


ALL_TYPES: tuple[type[IdlStruct], ...] = (
    Time,
    Header,
    Bool,
    String,
    UInt32,
    MultiArrayDimension,
    MultiArrayLayout,
    Float64MultiArray,
    Point,
    PointStamped,
    JointState,
    Vector3,
    Quaternion,
    Twist,
    Imu,
    KeyValue,
    DiagnosticStatus,
    DiagnosticArray,
    Clock,
    Gid,
    NodeEntitiesInfo,
    ParticipantEntitiesInfo,
)


def dds_type_name(msg_type: type[IdlStruct]) -> str:
    """The DDS type name on the wire, e.g. ``sensor_msgs::msg::dds_::JointState_``."""
    return msg_type.__idl_typename__.replace(".", "::")


def ros_type_name(msg_type: type[IdlStruct]) -> str:
    """The ROS 2 interface name, e.g. ``sensor_msgs/msg/JointState`` (what rosbag2 and rclpy use)."""
    pkg, kind, dds_, name = dds_type_name(msg_type).split("::")
    assert dds_ == "dds_" and name.endswith("_"), dds_type_name(msg_type)
    return f"{pkg}/{kind}/{name[:-1]}"


def time_from_ns(ns: int) -> Time:
    """builtin_interfaces/Time from integer nanoseconds (non-negative, as ROS stamps are)."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def time_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)

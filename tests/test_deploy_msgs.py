"""Wire format of the deploy messages: our IDL structs must put the same bytes on the wire as ROS 2.

The independent reference is `rosbags`, whose ROS2_JAZZY typestore serializes CDR from the .msg
definitions; the RIHS01 hashes are pinned to the values rosidl generated for Jazzy/Kilted.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from cyclonedds.idl import IdlStruct
from hypothesis import given, settings
from hypothesis import strategies as st
from rosbags.typesys import Stores, get_typestore

from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.type_hash import type_hash

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
FLOAT_FIELDS = {"position", "velocity", "effort", "data", "orientation_covariance", "angular_velocity_covariance",
                "linear_acceleration_covariance"}


def to_rosbags(msg: object) -> object:
    """Build the rosbags message with the same field values (numpy arrays for numeric sequences)."""
    cls = TYPESTORE.types[m.ros_type_name(type(msg))]
    values = {}
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        if dataclasses.is_dataclass(value):
            value = to_rosbags(value)
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            value = [to_rosbags(v) for v in value]
        elif isinstance(msg, m.Gid):
            value = np.frombuffer(value, dtype=np.uint8)
        elif isinstance(value, list) and f.name in FLOAT_FIELDS:
            value = np.asarray(value, dtype=np.float64)
        values[f.name] = value
    return cls(**values)


def header(sec: int = 12, nanosec: int = 345, frame: str = "base") -> m.Header:
    return m.Header(stamp=m.Time(sec=sec, nanosec=nanosec), frame_id=frame)


SAMPLES = [
    m.Time(sec=-3, nanosec=999_999_999),
    header(),
    m.Bool(data=True),
    m.String(data="activate"),
    m.UInt32(data=7),
    m.Float64MultiArray(
        layout=m.MultiArrayLayout(dim=[m.MultiArrayDimension("joints", 2, 2)], data_offset=1), data=[1.5, -2.25]
    ),
    m.Float64MultiArray(data=[0.0]),
    m.JointState(
        header=header(frame="x"), name=["slider", "hinge"], position=[0.1, math.pi], velocity=[1.0, -1.0], effort=[]
    ),
    m.DiagnosticArray(
        header=header(),
        status=[
            m.DiagnosticStatus(
                level=m.DiagnosticStatus.ERROR,
                name="policy_node: safety",
                message="fault: NaN in hinge",
                hardware_id="cartpole",
                values=[m.KeyValue("state", "fault"), m.KeyValue("joint", "hinge")],
            ),
            m.DiagnosticStatus(level=m.DiagnosticStatus.OK, name="loop"),
        ],
    ),
    m.Clock(clock=m.Time(sec=1, nanosec=2)),
    m.Twist(linear=m.Vector3(0.5, -0.1, 0.0), angular=m.Vector3(0.0, 0.0, 0.3)),
    m.Imu(
        header=header(frame="imu_link"),
        orientation=m.Quaternion(0.01, -0.02, 0.3, 0.95),
        orientation_covariance=[0.1 * i for i in range(9)],
        angular_velocity=m.Vector3(0.1, 0.2, -0.3),
        angular_velocity_covariance=[-1.0] + [0.0] * 8,
        linear_acceleration=m.Vector3(0.0, 0.1, 9.81),
    ),
    m.ParticipantEntitiesInfo(
        gid=m.Gid(data=bytes(range(16))),
        node_entities_info_seq=[
            m.NodeEntitiesInfo(
                node_namespace="/",
                node_name="policy_node",
                reader_gid_seq=[m.Gid(data=b"\x01" * 16)],
                writer_gid_seq=[m.Gid(data=b"\x02" * 16), m.Gid()],
            )
        ],
    ),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda s: type(s).__name__)
def test_bytes_equal_rosbags_cdr(msg: object) -> None:
    ours = msg.serialize()
    reference = bytes(TYPESTORE.serialize_cdr(to_rosbags(msg), m.ros_type_name(type(msg))))
    assert ours == reference
    assert type(msg).deserialize(reference).serialize() == reference


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.text(min_size=0, max_size=12), max_size=5),
    values=st.lists(st.floats(allow_nan=False, width=64), max_size=5),
    frame=st.text(max_size=9),
    sec=st.integers(0, 2**31 - 1),
    nanosec=st.integers(0, 999_999_999),
)
def test_joint_state_any_content_matches_rosbags(names, values, frame, sec, nanosec) -> None:
    msg = m.JointState(
        header=header(sec, nanosec, frame), name=names, position=values, velocity=values[::-1], effort=values[:1]
    )
    reference = bytes(TYPESTORE.serialize_cdr(to_rosbags(msg), "sensor_msgs/msg/JointState"))
    assert msg.serialize() == reference


def test_every_type_is_in_the_jazzy_typestore() -> None:
    for msg_type in m.ALL_TYPES:
        assert m.ros_type_name(msg_type) in TYPESTORE.types, msg_type
        assert m.dds_type_name(msg_type).endswith("_") and "::msg::dds_::" in m.dds_type_name(msg_type)


# Values rosidl generated into *__description.c (Jazzy/Kilted): an independent check of type_hash().
PUBLISHED_HASHES = {
    m.Time: "RIHS01_b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197",
    m.Header: "RIHS01_f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01",
    m.JointState: "RIHS01_a13ee3a330e346c9d87b5aa18d24e11690752bd33a0350f11c5882bc9179260e",
    m.Float64MultiArray: "RIHS01_1025ddc6b9552d191f89ef1a8d2f60f3d373e28b283d8891ddcc974e8c55397f",
    m.Gid: "RIHS01_ab6f21cfbb0a6dbb837161e1110c2051a2850ed9f9c53944d7115d9bcebedf71",
}


@pytest.mark.parametrize("msg_type", list(PUBLISHED_HASHES), ids=lambda c: c.__name__)
def test_type_hash_matches_published_rosidl_value(msg_type) -> None:
    assert type_hash(msg_type) == PUBLISHED_HASHES[msg_type]


def test_type_hash_follows_the_field_declarations() -> None:
    """A renamed field or another type under the same name must give another hash, as in rosidl."""

    @dataclasses.dataclass
    class BoolWithRenamedField(IdlStruct, typename="std_msgs::msg::dds_::Bool_"):
        value: bool = False

    assert type_hash(BoolWithRenamedField) != type_hash(m.Bool)
    assert len({type_hash(c) for c in m.ALL_TYPES}) == len(m.ALL_TYPES)


@pytest.mark.parametrize("msg_type", m.ALL_TYPES, ids=lambda c: c.__name__)
def test_type_hash_agrees_with_rosbags(msg_type) -> None:
    """rosbags hashes from the .msg text: an independent implementation of REP-2011.

    It reads the `char` of rmw_dds_common/Gid as CHAR, where rosidl maps .msg `char` to uint8
    (the published Gid hash above settles it), so the rmw_dds_common types must differ there.
    """
    name = m.ros_type_name(msg_type)
    if name.startswith("rmw_dds_common/"):
        assert TYPESTORE.hash_rihs01(name) != type_hash(msg_type)
    else:
        assert TYPESTORE.hash_rihs01(name) == type_hash(msg_type)

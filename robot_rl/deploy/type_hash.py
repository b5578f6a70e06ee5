"""RIHS01 type hashes (REP-2011) of our IDL message structs, for the ``typehash=`` USER_DATA of endpoints.

Since Iron, every ROS 2 reader and writer advertises ``typehash=RIHS01_<sha256 hex>;`` in its DDS
USER_DATA, and ``ros2 topic info -v`` shows it. The hash is SHA-256 over a canonical JSON text
of the message's ``type_description_interfaces/TypeDescription``: the type's fields (name, type
id, array capacity, string bound, nested type name), then every type it references, sorted by
name, default values left out, written by Python's ``json.dumps`` with ``', '`` and ``': '``
separators. We derive that description from the struct declarations in ``ros2_msgs`` (one
source of truth), so a field change there changes the hash as it would in ROS.

Verified against the hashes that rosidl generates into ``*__description.c`` for Jazzy/Kilted
(builtin_interfaces/Time, std_msgs/Header, sensor_msgs/JointState, std_msgs/Float64MultiArray,
rmw_dds_common/Gid): ``tests/test_deploy_msgs.py`` pins them.
"""

from __future__ import annotations

import hashlib
import json
import typing
from functools import cache

import cyclonedds.idl.types as t
from cyclonedds.idl import IdlStruct

from robot_rl.deploy.ros2_msgs import ros_type_name

# type_description_interfaces/msg/FieldType ids of the scalar types; arrays add 48, bounded
# sequences 96, unbounded sequences 144 (the .msg file's numbering).
_SCALAR_IDS = {
    "int8": 2,
    "uint8": 3,
    "int16": 4,
    "uint16": 5,
    "int32": 6,
    "uint32": 7,
    "int64": 8,
    "uint64": 9,
    "float32": 10,
    "float64": 11,
    "char": 13,
    "bool": 15,
    "byte": 16,
    "string": 17,
    "bounded_string": 21,
}
_NESTED = 1
_ARRAY, _BOUNDED_SEQUENCE, _UNBOUNDED_SEQUENCE = 48, 96, 144


def _scalar(tp: object) -> tuple[int, int, str]:
    """(type id, string capacity, nested type name) of one element type."""
    if tp is bool:
        return _SCALAR_IDS["bool"], 0, ""
    if tp is str:
        return _SCALAR_IDS["string"], 0, ""
    if tp is float:
        return _SCALAR_IDS["float64"], 0, ""
    if typing.get_origin(tp) is typing.Annotated:
        base, meta = typing.get_args(tp)[:2]
        if isinstance(meta, str) and meta in _SCALAR_IDS:
            return _SCALAR_IDS[meta], 0, ""
        if isinstance(meta, t.bounded_str):
            return _SCALAR_IDS["bounded_string"], meta.max_length, ""
    if isinstance(tp, type) and issubclass(tp, IdlStruct):
        return _NESTED, 0, ros_type_name(tp)
    raise TypeError(f"no RIHS01 field type for {tp!r}; add it to robot_rl/deploy/type_hash.py")


def _field_type(tp: object) -> dict:
    if typing.get_origin(tp) is typing.Annotated:
        meta = typing.get_args(tp)[1]
        if isinstance(meta, t.array):
            type_id, str_cap, nested = _scalar(meta.subtype)
            return {
                "type_id": type_id + _ARRAY,
                "capacity": meta.length,
                "string_capacity": str_cap,
                "nested_type_name": nested,
            }
        if isinstance(meta, t.sequence):
            type_id, str_cap, nested = _scalar(meta.subtype)
            bounded = meta.max_length is not None
            return {
                "type_id": type_id + (_BOUNDED_SEQUENCE if bounded else _UNBOUNDED_SEQUENCE),
                "capacity": meta.max_length or 0,
                "string_capacity": str_cap,
                "nested_type_name": nested,
            }
    type_id, str_cap, nested = _scalar(tp)
    return {"type_id": type_id, "capacity": 0, "string_capacity": str_cap, "nested_type_name": nested}


def _individual(msg_type: type[IdlStruct]) -> dict:
    hints = typing.get_type_hints(msg_type, include_extras=True)
    return {
        "type_name": ros_type_name(msg_type),
        "fields": [{"name": name, "type": _field_type(tp)} for name, tp in hints.items()],
    }


def _referenced(msg_type: type[IdlStruct], seen: dict[str, type[IdlStruct]]) -> None:
    for tp in typing.get_type_hints(msg_type, include_extras=True).values():
        inner = tp
        if typing.get_origin(tp) is typing.Annotated:
            meta = typing.get_args(tp)[1]
            inner = getattr(meta, "subtype", tp)
        if isinstance(inner, type) and issubclass(inner, IdlStruct) and ros_type_name(inner) not in seen:
            seen[ros_type_name(inner)] = inner
            _referenced(inner, seen)


def type_description(msg_type: type[IdlStruct]) -> dict:
    """The hashable TypeDescription (no default values) of a message struct, as nested dicts."""
    seen: dict[str, type[IdlStruct]] = {}
    _referenced(msg_type, seen)
    return {
        "type_description": _individual(msg_type),
        "referenced_type_descriptions": [_individual(seen[name]) for name in sorted(seen)],
    }


@cache
def type_hash(msg_type: type[IdlStruct]) -> str:
    """``RIHS01_<64 hex>`` of a message struct, as rosidl computes it for the same .msg."""
    text = json.dumps(
        type_description(msg_type),
        ensure_ascii=True,
        allow_nan=False,
        indent=None,
        separators=(", ", ": "),
        sort_keys=False,
    )
    return "RIHS01_" + hashlib.sha256(text.encode("utf-8")).hexdigest()

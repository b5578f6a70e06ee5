"""What both transports agree on, as ROS 2 defines it: QoS profiles, topic name resolution, the domain id.

Why its own module: `transport.make_transport` opens `DdsTransport` or `RclpyTransport`, and both need
these; kept in transport.py, each implementation and the module that opens it imported each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from robot_rl.deploy.errors import TransportError


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


__all__ = ["BEST_EFFORT_QOS", "DEFAULT_QOS", "ESTOP_QOS", "LATCHED_QOS", "QosProfile", "domain_id_from_env",
           "resolve_topic"]

"""Make a plain DDS participant look like a ROS 2 node to ``ros2 node list`` and ``ros2 topic info``.

ROS 2 does not learn node names from DDS discovery (DDS has no nodes). Every rmw_cyclonedds
context publishes, on the raw DDS topic ``ros_discovery_info``, one
``ParticipantEntitiesInfo``: its participant's GID and, per node, the namespace, the name and
the GIDs of the node's readers and writers. The topic is reliable, transient local, keep last 1,
so a tool that starts later still receives the latest sample. A GID is the 16-byte DDS GUID of
the entity (Iron and later; Humble padded it to 24 bytes).

We publish the same sample and re-publish it whenever our node gains a reader or writer.
"""

from __future__ import annotations

import threading
import uuid

from robot_rl.deploy.ros2_msgs import Gid, NodeEntitiesInfo, ParticipantEntitiesInfo

DISCOVERY_TOPIC = "ros_discovery_info"


def gid_of(guid: uuid.UUID) -> Gid:
    """A DDS GUID (as cyclonedds returns it) as an rmw_dds_common Gid."""
    return Gid(data=guid.bytes)


class NodeGraphInfo:
    """The graph entry of one node in one participant; thread-safe, rebuilt on every change."""

    def __init__(self, participant_guid: uuid.UUID, node_name: str, namespace: str = "/") -> None:
        self._participant = gid_of(participant_guid)
        self._node_name = node_name
        self._namespace = namespace if namespace.startswith("/") else "/" + namespace
        self._readers: list[Gid] = []
        self._writers: list[Gid] = []
        self._lock = threading.Lock()

    def add_reader(self, guid: uuid.UUID) -> None:
        with self._lock:
            self._readers.append(gid_of(guid))

    def add_writer(self, guid: uuid.UUID) -> None:
        with self._lock:
            self._writers.append(gid_of(guid))

    def message(self, include_node: bool = True) -> ParticipantEntitiesInfo:
        """The sample to publish; ``include_node=False`` announces that the node is gone."""
        with self._lock:
            nodes = [
                NodeEntitiesInfo(
                    node_namespace=self._namespace,
                    node_name=self._node_name,
                    reader_gid_seq=list(self._readers),
                    writer_gid_seq=list(self._writers),
                )
            ]
        return ParticipantEntitiesInfo(gid=self._participant, node_entities_info_seq=nodes if include_node else [])

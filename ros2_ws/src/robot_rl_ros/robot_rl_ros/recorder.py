"""``ros2 run robot_rl_ros recorder --ros-args -p out:=runs/bag1``

Records /joint_states and the forward command controller topic (or ``topics``: a list of
"name:pkg/msg/Type") to a rosbag2 written with the `rosbags` package -- the bag calibration reads.
``ros2 bag record`` writes the same thing where rosbag2 is installed; this node needs only rclpy.
"""

from __future__ import annotations

import sys

from robot_rl.deploy.rclpy_transport import RclpyTransport
from robot_rl.deploy.recorder import DEFAULT_TOPICS, BagRecorder, message_type, serve_recorder
from robot_rl.deploy.ros2_msgs import ros_type_name
from robot_rl_ros.params import param


def main(args: list[str] | None = None) -> int:
    transport = RclpyTransport("recorder", args=sys.argv if args is None else args)
    node = transport.node
    recorder = None
    try:
        out = param(node, "out", "")
        if not out:
            node.get_logger().error("parameter 'out' (the new bag folder) is required: -p out:=runs/bag1")
            return 2
        default_topics = [f"{name}:{ros_type_name(t)}" for name, t in DEFAULT_TOPICS.items()]
        specs = param(node, "topics", default_topics)
        storage = param(node, "storage", "sqlite3")
        topics = {spec.partition(":")[0]: message_type(spec.partition(":")[2]) for spec in specs}
        recorder = BagRecorder(out, topics, storage)
        serve_recorder(transport, recorder)
        node.get_logger().info(f"recording {', '.join(topics)} to {out}")
        transport.spin()
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
        if recorder is not None:
            recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

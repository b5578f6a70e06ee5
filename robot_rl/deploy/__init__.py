"""Deploy transport and nodes: run a policy on a robot over ROS 2 (rclpy) or plain Cyclone DDS.

Modules (import what you need; nothing heavy is imported here):

* ``ros2_msgs``: the ROS 2 messages as Cyclone DDS IDL structs with their wire names;
  ``type_hash``: their RIHS01 hashes (REP-2011).
* ``transport``: the small Transport protocol the nodes are written against;
  ``dds_transport`` (ROS 2 wire format, no ROS needed, with ``discovery`` for ros_discovery_info)
  and ``rclpy_transport`` implement it.
* ``control_node``: the one control node -- joint states in, safe commands out, for any command
  source behind the SafetyFilter (``robot_rl.runtime.Controller``); ``control_config`` its settings
  (the ROS parameters and the CLI flags); ``policy_node`` and ``excitation_node`` build it with a
  policy or an identification excitation; ``joint_map`` reorders JointStates by name; ``stamps``
  maps each input's header stamps onto the node's own clock and says when they cannot be true.
* ``sim_robot_node``: a simulated robot with the ros2_control interface; ``sensor_model`` what its
  encoders and IMU report (counts and noise, or the engine's values with ``--ideal-sensors``).
* ``recorder``: rosbag2 recording and reading with ``rosbags``: the project's one bag writer.
* ``echo``, ``latency``, ``procs``: the bare echo, round-trip measurement and process helpers
  of the latency benchmark and the end-to-end tests; ``reference_controller``: a classical
  swing-up controller exported as a policy folder, to test the chain without a training run.
"""

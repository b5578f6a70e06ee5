"""ROS 2 shells over `robot_rl.deploy`: parameters in, the same node code as the DDS transport."""

"""Recorded robot runs (rosbag2) -> demonstrations: the observation the policy would have seen, the action it sent.

Why the task's own observation function (`sim.observations.task_interface(task, robot).build`): it is
the one the deploy runtime calls on the robot, so a clone trained on these pairs deploys like any
policy (export, model card, `robot-rl deploy`). Why the command mapped back through the same action
scaling (`TaskInterface.command_to_action`, the inverse of the runtime's `action_to_command`): the
label is then an action in the policy's [-1, 1] space, and the clone's output means what an
expert's did.

What a bag must hold (`robot-rl deploy --record BAG` writes the first two):

* the joint states (sensor_msgs/JointState, every joint of the robot, any order);
* the commands (std_msgs/Float64MultiArray, one value per actuator): each state is paired with the
  command that answers it, at the same stamp (our recorder) or within one control period after it
  (any other recorder); commands answering no state (the node's safe action while idle) are skipped;
* for tasks with a goal (the reach) the goal (geometry_msgs/PointStamped), for the walk the velocity
  command (geometry_msgs/Twist) and the IMU (sensor_msgs/Imu): the latest message before each state.

Episodes: a new one starts at each bag, at each change of the simulated robot's episode frame id
(``robot_rl/episode/<n>``) and after a gap of more than `GAP_PERIODS` control periods; the previous
action in the observation starts at zero there, as the runtime's does at activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.errors import LogError
from calibration.rosbag_io import EPISODE_PREFIX, bag_custom_data, check_bag_robot, pick_topic
from sim.observations import TaskInterface, task_interface
from sim.robot import RobotSpec
from sim.state import ImuState
from sim.tasks.registry import resolve_robot, task_spec

JOINT_STATE_TYPE = "sensor_msgs/msg/JointState"
COMMAND_TYPE = "std_msgs/msg/Float64MultiArray"
GOAL_TYPE = "geometry_msgs/msg/PointStamped"
TWIST_TYPE = "geometry_msgs/msg/Twist"
IMU_TYPE = "sensor_msgs/msg/Imu"
GAP_PERIODS = 3  # a pause longer than this many control periods ends an episode


@dataclass
class Demonstrations:
    """(observation, action) pairs of recorded episodes, for one task on one robot.

    ``obs`` (N, obs_size) float32, built by ``interface.build``; ``actions`` (N, act_size) in [-1, 1];
    ``episode`` (N,) the episode index of each pair (0..episodes-1 over all bags); ``clipped``: the
    share of commands that mapped outside [-1, 1] (clipped: the robot's limits are not the policy's).
    """

    task: str
    robot: str
    interface: TaskInterface
    obs: np.ndarray
    actions: np.ndarray
    episode: np.ndarray
    sources: list[str] = field(default_factory=list)
    clipped: float = 0.0

    @property
    def episodes(self) -> int:
        return int(self.episode.max()) + 1 if len(self.episode) else 0

    def split(self, held_out: float, seed: int = 0) -> tuple[Demonstrations, Demonstrations]:
        """(train, held-out) by whole episodes (pairs within one episode are not independent)."""
        rng = np.random.default_rng(seed)
        ids = rng.permutation(self.episodes)
        n_out = int(round(held_out * self.episodes)) if self.episodes > 1 else 0
        n_out = min(max(n_out, 1 if held_out > 0 and self.episodes > 1 else 0), self.episodes - 1)
        out = np.isin(self.episode, ids[:n_out])
        return self._subset(~out), self._subset(out)

    def _subset(self, mask: np.ndarray) -> Demonstrations:
        _, episode = np.unique(self.episode[mask], return_inverse=True)
        return Demonstrations(self.task, self.robot, self.interface, self.obs[mask], self.actions[mask],
                              episode.astype(np.int64), self.sources, self.clipped)


def _bag_topics(path: Path) -> dict[str, str]:
    from rosbags.rosbag2 import Reader

    try:
        with Reader(path) as reader:
            return {c.topic: c.msgtype for c in reader.connections}
    except Exception as exc:  # rosbags raises several unrelated types for unreadable bags
        raise LogError(str(path), f"not a readable rosbag2 recording ({exc})",
                       "give the bag folder written by `robot-rl deploy --record` or `ros2 bag record`") from None


def _optional_topic(topics: dict[str, str], msgtype: str, wanted: str, source: str, role: str, option: str,
                    needed: bool) -> str | None:
    if not needed:
        return None
    if wanted in topics and topics[wanted] == msgtype:
        return wanted
    return pick_topic(topics, msgtype, wanted if wanted in topics else None, wanted, source, role, option)


def read_demonstrations(
    bags: Sequence[str | Path],
    task: str,
    robot: RobotSpec | str | None = None,
    *,
    state_topic: str | None = None,
    command_topic: str | None = None,
    goal_topic: str = "/goal_point",
    cmd_vel_topic: str = "/cmd_vel",
    imu_topic: str = "/imu/data",
    skip_start: float = 0.0,
) -> Demonstrations:
    """Read rosbag2 folders into demonstrations for `task` on `robot` (default: the task alias's robot).

    ``skip_start``: seconds at the start of each episode whose pairs are left out (a start-up ramp's
    commands are not the expert's). Raises LogError (one line, naming the bag, topic or joint) for a
    bag that is missing, empty, lacks a needed topic, or names other joints than the robot's.
    """
    spec = task_spec(task)
    robot_spec = resolve_robot(spec.id, robot)
    interface = task_interface(spec.id, robot_spec)
    if not bags:
        raise LogError("--demos", "no bags given", "pass one or more rosbag2 folders")
    obs, acts, eps = [], [], []
    n_clipped = n_total = 0
    episode = -1
    for bag in bags:
        path = Path(bag)
        source = str(path)
        if not (path / "metadata.yaml").is_file():
            raise LogError(source, "is not a rosbag2 folder (no metadata.yaml)" if path.exists() else "not found",
                           "give the bag folder written by `robot-rl deploy --record` or `robot-rl record-demos`")
        check_bag_robot(bag_custom_data(path), robot_spec, source)
        topics = _bag_topics(path)
        js = pick_topic(topics, JOINT_STATE_TYPE, state_topic, "/joint_states", source, "joint state topic",
                         "--state-topic")
        cmd = pick_topic(topics, COMMAND_TYPE, command_topic, "/forward_command_controller/commands", source,
                          "command topic", "--command-topic")
        _check_joint_names(path, js, robot_spec)  # another robot's bag: say so before any missing topic
        needs_goal = interface.command_size > 0 and not interface.needs_imu
        goal = _optional_topic(topics, GOAL_TYPE, goal_topic, source, "goal topic", "--goal-topic", needs_goal)
        twist = _optional_topic(topics, TWIST_TYPE, cmd_vel_topic, source, "velocity command topic",
                                "--cmd-vel-topic", interface.command_size > 0 and interface.needs_imu)
        imu_t = _optional_topic(topics, IMU_TYPE, imu_topic, source, "IMU topic", "--imu-topic", interface.needs_imu)
        b_obs, b_act, b_ep, clipped, total = _read_one(path, robot_spec, interface, js, cmd, goal, twist, imu_t,
                                                       skip_start, episode)
        if not b_obs:
            raise LogError(source, f"holds no joint state on {js} answered by a command on {cmd}",
                           "record while the policy (or teleoperation) drives the robot: "
                           "`robot-rl deploy --record BAG --activate`")
        obs += b_obs
        acts += b_act
        eps += b_ep
        episode = max(b_ep)
        n_clipped += clipped
        n_total += total
    if not obs:
        raise LogError(", ".join(map(str, bags)), "no (state, command) pairs left after --skip-start",
                       f"lower --skip-start ({skip_start:g} s)")
    return Demonstrations(spec.id, robot_spec.name, interface, np.asarray(obs, np.float32),
                          np.asarray(acts, np.float32), np.asarray(eps, np.int64), [str(b) for b in bags],
                          n_clipped / max(n_total, 1))


def _check_joint_names(path: Path, js: str, robot: RobotSpec) -> None:
    """The first joint state must name every joint of the robot (a bag of another robot fails here)."""
    from robot_rl.deploy.recorder import read_bag

    for _, _, msg in read_bag(path, [js]):
        missing = [j for j in robot.joint_names if j not in msg.name]
        if missing:
            raise LogError(str(path), f"{js} names joints {list(msg.name) or 'none'}, not joint(s) "
                           f"{', '.join(missing)} of robot '{robot.name}'",
                           f"record robot '{robot.name}', or pass the --robot (and --task) the bag was recorded on")
        return


def _read_one(path: Path, robot: RobotSpec, interface: TaskInterface, js: str, cmd: str, goal: str | None,
              twist: str | None, imu_topic: str | None, skip_start: float, episode: int):
    from robot_rl.deploy.recorder import read_bag

    source = str(path)
    wanted = list(robot.joint_names)
    n_act = len(robot.actuators)
    dt_ns = robot.control_dt * 1e9
    command = np.zeros(interface.command_size)
    imu: ImuState | None = None
    pending = None  # (t_ns, q, qd, frame) of the last state not yet answered
    last_t: int | None = None
    last_frame: str | None = None
    episode_start = 0
    last_action = np.zeros(interface.action_size)
    obs, acts, eps = [], [], []
    clipped = total = 0
    n_states = 0
    topics = [t for t in (js, cmd, goal, twist, imu_topic) if t is not None]
    for topic, t_ns, msg in read_bag(path, topics):
        if topic == js:
            names = list(msg.name)
            missing = [j for j in wanted if j not in names]
            if missing:
                raise LogError(source, f"{js} message #{n_states} names joints {names or 'none'}, not joint(s) "
                               f"{', '.join(missing)} of robot '{robot.name}'",
                               f"record robot '{robot.name}', or pass the --robot the bag was recorded on")
            idx = [names.index(j) for j in wanted]
            pos, vel = np.asarray(msg.position, float), np.asarray(msg.velocity, float)
            if pos.size != len(names) or vel.size != len(names):
                raise LogError(source, f"{js} message #{n_states}: {len(names)} names, {pos.size} positions, "
                               f"{vel.size} velocities", "publish a position and a velocity per joint")
            pending = (t_ns, pos[idx], vel[idx], msg.header.frame_id)
            n_states += 1
        elif topic == cmd:
            if pending is None or not 0 <= t_ns - pending[0] <= dt_ns:
                pending = None
                continue  # the safe action while idle, or a command answering no recorded state
            t_state, q, qd, frame = pending
            pending = None
            data = np.asarray(msg.data, float)
            if data.size != n_act:
                raise LogError(source, f"{cmd} message at bag time {t_ns} ns has {data.size} value(s); robot "
                               f"'{robot.name}' has {n_act} actuator(s): {', '.join(robot.actuator_names)}",
                               "pass the command topic of this robot (--command-topic)")
            new_episode = (last_t is None or t_state - last_t > GAP_PERIODS * dt_ns
                           or (frame.startswith(EPISODE_PREFIX) and frame != last_frame))
            if new_episode:
                episode += 1
                episode_start = t_state
                last_action = np.zeros(interface.action_size)
            last_t, last_frame = t_state, frame
            raw = interface.command_to_action(data)
            action = np.clip(raw, -1.0, 1.0)
            total += 1
            clipped += int(np.any(np.abs(raw) > 1.0 + 1e-6))
            if (t_state - episode_start) * 1e-9 >= skip_start - 1e-9:
                obs.append(interface.build(q, qd, last_action, command, imu=imu))
                acts.append(action)
                eps.append(episode)
            last_action = action
        elif topic == goal:
            command = np.array([msg.point.x, msg.point.y, msg.point.z], float)
        elif topic == twist:
            command = np.array([msg.linear.x, msg.linear.y, msg.angular.z], float)
        elif topic == imu_topic:
            o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
            quat = np.array([o.w, o.x, o.y, o.z], float)
            imu = ImuState(quat / (np.linalg.norm(quat) or 1.0), np.array([w.x, w.y, w.z], float),
                           np.array([a.x, a.y, a.z], float))
    if n_states == 0:
        raise LogError(source, f"topic {js} has no messages (an empty recording)",
                       "record /joint_states while the robot moves")
    if interface.needs_imu and imu is None:
        raise LogError(source, f"topic {imu_topic} has no messages", "record the IMU with the joint states")
    return obs, acts, eps, clipped, total

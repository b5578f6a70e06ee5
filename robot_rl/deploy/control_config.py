"""The control node's configuration: one dataclass field per setting, for every front end.

Why one place: the node is configured from ROS parameters (``robot_rl_ros.params.load_config``
declares one parameter per field) and from the command line (``robot-rl deploy``, whose flags
`robot_rl.commands._config_args` derives from the same fields, with the help text, bounds and flag
name kept here in each field's metadata). A setting added here appears in both; none can drift.

`ControlNodeConfig` holds what every command source shares (topics, lifecycle, safety options,
recording); `PolicyNodeConfig` adds the policy folder and its limits contract.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from robot_rl.deploy.recorder import DEFAULT_COMMAND_TOPIC, DEFAULT_STATE_TOPIC

# The watchdog must let a state arrive (at least 2 control periods, checked by `robot-rl deploy`) and
# must not let a robot run blind for long: above this a stopped state stream goes unnoticed too long.
MAX_WATCHDOG_S = 1.0
# A simulated robot (`--sim`, lockstep) that stalls does not move either: its next state waits for
# our command. On a loaded machine such a stall passed 1 s and latched a watchdog fault for the rest
# of a demo (measured at load 8-10 on 2 cores), so a simulator may be given up to this much.
MAX_SIM_WATCHDOG_S = 30.0
_NO_DEFAULT: Any = dataclasses.MISSING


def option(
    default: Any = _NO_DEFAULT,
    help: str = "",
    *,
    flag: str | None = None,
    metavar: str | None = None,
    bounds: tuple[float, float | None] | None = None,
    min_open: bool = False,
    what: str = "a finite number of seconds",
    group: str | None = None,
) -> Any:
    """A config field with what a command line needs to offer it: help, flag (default ``--field-name``),
    numeric bounds (``(minimum, maximum or None)``, ``min_open``: strictly above the minimum), and an
    argparse group title."""
    metadata = {"help": help, "flag": flag, "metavar": metavar, "bounds": bounds, "min_open": min_open,
                "what": what, "group": group}
    if default is _NO_DEFAULT:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


LEGGED = "legged robots (policies that read an IMU)"


@dataclass(kw_only=True)
class ControlNodeConfig:
    """Everything a control node reads from parameters (ROS) or the command line, whatever its source."""

    robot: str = option(help="robot name (cartpole) or path to its robot.yaml")
    node_name: str = option("control_node", help="node name (topics ~/transition and ~/state live under it)")
    state_topic: str = option(DEFAULT_STATE_TOPIC, help="sensor_msgs/JointState of the robot")
    command_topic: str = option(
        DEFAULT_COMMAND_TOPIC, help=f"forward command controller topic (default: {DEFAULT_COMMAND_TOPIC})"
    )
    estop_topic: str = option("/estop", help="std_msgs/Bool e-stop (true = pressed)")
    imu_topic: str = option("/imu/data", help="sensor_msgs/Imu of the trunk (default /imu/data)", group=LEGGED)
    cmd_vel_topic: str = option("/cmd_vel", help="geometry_msgs/Twist velocity command", group=LEGGED)
    cmd_vel_timeout: float = option(
        0.5, "the velocity command falls back to zero (stand) after S s without a Twist (default 0.5)",
        metavar="S", bounds=(0.0, 60.0), min_open=True, group=LEGGED,
    )
    goal_topic: str = option(
        "/goal_point", help="geometry_msgs/PointStamped goal, for policies whose task has one (the reach)"
    )
    transition_topic: str = option("~/transition", help="std_msgs/String lifecycle requests: activate | deactivate "
                                   "| reset")
    lifecycle_topic: str = option("~/state", help="latched std_msgs/String: unconfigured | inactive | active | fault")
    diagnostics_topic: str = option("/diagnostics", help="diagnostic_msgs/DiagnosticArray health reports")
    activate: bool = option(
        False, "activate as soon as a valid state arrives (a standing order; an 'activate' request on the "
        "transition topic expires after --activate-timeout instead)",
    )
    follow_episodes: bool = option(
        False, "the robot is a simulator: use /clock (use_sim_time) and ramp in again at each episode it "
        "announces instead of staying in an input fault (a watchdog, sensor, e-stop or second-publisher fault "
        "still needs a reset)", flag="--sim",
    )
    watchdog_timeout: float | None = option(
        None, f"fault when no state arrives for S seconds: at least 2 control periods, at most {MAX_WATCHDOG_S:g} s "
        f"on a robot, {MAX_SIM_WATCHDOG_S:g} s on a simulator (--sim) (default: 5 control periods)", flag="--watchdog",
        metavar="S", bounds=(0.0, MAX_SIM_WATCHDOG_S), min_open=True,
    )
    ramp_time: float = option(0.5, "start-up ramp, 0-60 s (default 0.5 s)", metavar="S", bounds=(0.0, 60.0))
    max_tilt_deg: float = option(
        60.0, "fall detector: trunk tilt from upright that faults to damping mode (default 60)", flag="--max-tilt",
        metavar="DEG", bounds=(0.0, 180.0), min_open=True, what="an angle in degrees", group=LEGGED,
    )
    soft_start_speed: float = option(
        1.0, "after activation, move the joints to the default pose at this speed before the policy runs; "
        "0: no soft start (default 1)", metavar="RAD_S", bounds=(0.0, 10.0), what="a speed in rad/s", group=LEGGED,
    )
    diagnostics_hz: float = option(2.0, "rate of /diagnostics reports besides those on every change (default 2)",
                                   metavar="HZ", bounds=(0.0, 100.0), min_open=True, what="a rate in Hz")
    allow_unknown_estop: bool = option(
        False, "activate without having heard the e-stop released. By default (on a robot, not with --sim) "
        "activation waits for std_msgs/Bool false on the e-stop topic, latched or published after this node "
        "started, so a press made before it started is never missed; with this flag, 1 s without a message "
        "on it counts as released (a latched or repeated press is still seen)",
    )
    settle_time: float = option(
        0.3, "on a robot, activation waits until states have flowed for S s of this node's clock, 0-5 (default "
        "0.3): readings queued while the node started arrive in a burst, late, and a stamp mapping learned from "
        "them alone would take the on-time ones after it for readings stamped ahead (not with --sim, whose "
        "stamps are the clock)", metavar="S", bounds=(0.0, 5.0),
    )
    activate_timeout: float = option(
        3.0, "an activate request waiting for a valid state expires after S seconds, 0-600 (default 3)",
        metavar="S", bounds=(0.0, 600.0), min_open=True,
    )
    record: str | None = option(
        None, "record the states stepped, the task inputs they used (goal, IMU, cmd_vel) and the commands "
        "sent to a new rosbag2 folder, timestamped in robot time (for calibration and robot-rl bc/irl)", metavar="BAG",
    )

    def __post_init__(self) -> None:
        # The field's bound admits a simulator's longer watchdog; a robot's is capped here, whichever
        # front end (command line or ROS parameters) built the configuration.
        w = self.watchdog_timeout
        if w is not None and w > MAX_WATCHDOG_S and not self.follow_episodes:
            from robot_rl.errors import RobotRLError

            raise RobotRLError(
                f"watchdog_timeout (--watchdog) {w:g} s is longer than {MAX_WATCHDOG_S:g} s, the most a robot may run "
                f"without a state; only a simulator (follow_episodes, --sim) may have up to {MAX_SIM_WATCHDOG_S:g} s"
            )

    def safety_options(self) -> dict[str, Any]:
        """The SafetyConfig.from_robot options this configuration sets."""
        return {"watchdog_timeout": self.watchdog_timeout, "ramp_time": self.ramp_time,
                "max_tilt_deg": self.max_tilt_deg, "soft_start_speed": self.soft_start_speed}


@dataclass(kw_only=True)
class PolicyNodeConfig(ControlNodeConfig):
    """A control node whose command source is an exported policy."""

    policy: str = option(help="policy folder (policy.onnx + policy.json)")
    node_name: str = option("policy_node", help="node name (topics ~/transition and ~/state live under it)")
    allow_wider_limits: bool = option(
        False, "drive a robot whose robot.yaml limits are wider than the policy card's (more than 1%%), with the "
        "card's limits; refused without this flag",
    )

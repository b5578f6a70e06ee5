"""`robot-rl excite` and `robot-rl sysid` from the command line: files written, user errors in one line."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml

from robot_rl.cli import main


def test_excite_then_sysid_from_the_command_line(tmp_path, capsys):
    hidden = tmp_path / "hidden.yaml"
    hidden.write_text(yaml.safe_dump({"slider.gain": 0.85, "action_delay": 0.02, "obs_noise": 0.001}))
    rc = main(["excite", "--robot", "cartpole", "--engine", "mujoco", "--params", str(hidden), "--duration", "8",
               "--seed", "5", "--record", str(tmp_path / "run.bag"), "--csv", str(tmp_path / "run.csv")])
    assert rc == 0
    assert (tmp_path / "run.bag" / "metadata.yaml").is_file() and (tmp_path / "run.csv").is_file()
    for log in ("run.bag", "run.csv"):
        out = tmp_path / f"calib_{log}"
        rc = main(["sysid", "--robot", "cartpole", "--log", str(tmp_path / log), "--fit", "slider.gain,action_delay",
                   "--out", str(out)])
        assert rc == 0
        result = json.loads((out / "result.json").read_text())
        assert result["fitted"]["slider.gain"] == pytest.approx(0.85, rel=0.01)
        assert result["fitted"]["action_delay"] == pytest.approx(0.02, rel=0.03)
        assert {p.name for p in out.iterdir()} >= {"params.yaml", "randomization.yaml", "result.json", "report.html",
                                                   "report.png"}
    assert "slider.gain" in capsys.readouterr().out


def test_user_errors_are_one_line_with_what_to_do(tmp_path, capsys):
    rc = main(["sysid", "--robot", "cartpole", "--log", str(tmp_path / "none.bag"), "--fit", "pole.mas",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "unknown parameter 'pole.mas'" in err and "pole.mass" in err and "Traceback" not in err
    rc = main(["sysid", "--robot", "cartpole", "--log", str(tmp_path / "none.bag"), "--fit", "pole.mass",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "none.bag: not found" in err
    rc = main(["excite", "--robot", "cartpole", "--duration", "5"])
    assert rc == 1 and "pass --record" in capsys.readouterr().err


def test_help_documents_the_log_layout(capsys):
    with pytest.raises(SystemExit):
        main(["sysid", "--help"])
    out = capsys.readouterr().out
    assert "q.<joint>" in out and "/forward_command_controller/commands" in out and "randomization.yaml" in out
    with pytest.raises(SystemExit):
        main(["excite", "--help"])
    assert "SafetyFilter" in capsys.readouterr().out


class LockstepRobot:
    """A deploy Transport whose robot is a MuJoCo cart-pole stepped in lockstep with the published commands."""

    def __init__(self, params=None, estop_at: float | None = None, stop_states_at: float | None = None):
        from sim.engines import make_engine
        from sim.robot import load_robot

        self.robot = load_robot("cartpole")
        self.engine = make_engine(self.robot, "mujoco", params)
        self.engine.reset(np.array([0.0, np.pi]), np.zeros(2))
        self.subscribers, self.timers, self.sent = {}, [], []
        # Sim time starts one period in, as `sim-robot`'s does: a zero stamp means "unstamped" to the node.
        self.t = self.robot.control_dt
        self.estop_at, self.stop_states_at = estop_at, stop_states_at

    def publisher(self, topic, msg_type, qos=None):
        return self

    def publish(self, msg):
        if hasattr(msg, "data") and isinstance(msg.data, list):
            self.sent.append(list(msg.data))

    def subscribe(self, topic, msg_type, callback, qos=None):
        self.subscribers[topic] = callback

    def timer(self, period_s, callback):
        self.timers.append(callback)

    def count_publishers(self, topic, msg_type):
        return 1  # the node's own command publisher, and nobody else

    def now_ns(self) -> int:
        return int(round(self.t * 1e9))

    def spin(self, until=None, timeout_s=None):
        from robot_rl.deploy import ros2_msgs as m

        while not until() and self.t < timeout_s:
            if self.estop_at is not None and self.t >= self.estop_at:
                self.subscribers["/estop"](m.Bool(data=True))
            if self.stop_states_at is not None and self.t >= self.stop_states_at:
                time.sleep(0.15)  # no state for longer than the watchdog (5 periods = 0.1 s)
                for timer in self.timers:
                    timer()
                continue
            q, qd = self.engine.joint_state()
            self.subscribers["/joint_states"](m.JointState(
                header=m.Header(stamp=m.time_from_ns(self.now_ns())), name=["hinge", "slider"],
                position=[q[1], q[0]], velocity=[qd[1], qd[0]]))
            if self.sent:
                self.engine.step(np.array(self.sent[-1]))
            self.t += self.robot.control_dt

    def close(self):
        self.engine.close()


def run_live(tmp_path, transport, duration=4.0):
    """The excitation as the command source of the control node, recorded by the node's bag writer."""
    from calibration.excitation import Excitation, ExcitationConfig
    from robot_rl.deploy.control_config import ControlNodeConfig
    from robot_rl.deploy.control_node import open_recorder
    from robot_rl.deploy.excitation_node import excitation_node, run_over

    # A simulator stepped in lockstep, faster than real time: sim time (--sim), as a robot's clock would fault.
    config = ControlNodeConfig(robot="cartpole", node_name="robot_rl_excite", record=str(tmp_path / "live.bag"),
                               follow_episodes=True)
    with open_recorder(config) as rec:
        excitation = Excitation(transport.robot, duration, 0, ExcitationConfig())
        node = excitation_node(transport, config, transport.robot, excitation.command, duration, rec)
        transport.spin(until=lambda: run_over(node), timeout_s=duration + 5)
    return node


def test_publish_drives_a_robot_through_the_safety_filter_and_records_it(tmp_path):
    from calibration.rosbag_io import read_robot_log
    from robot_rl.commands.excite import raise_if_failed
    from robot_rl.deploy.excitation_node import run_outcome

    robot = LockstepRobot({"slider.gain": 0.9})
    node = run_live(tmp_path, robot)
    raise_if_failed(node, tmp_path / "live.bag")
    assert node.finished and run_outcome(node) is None
    sent = np.array(robot.sent)
    assert np.abs(sent).max() <= robot.robot.actuators[0].effort_limit
    assert sent[-1, 0] == 0.0  # deactivated at the end: the filter's safe action (zero force)
    log = read_robot_log(tmp_path / "live.bag", robot.robot)
    assert log.duration == pytest.approx(4.0, abs=0.05)
    np.testing.assert_allclose(log.command[:, 0], sent[:, 0])
    assert np.std(log.q[:, 1]) > 0.05


@pytest.mark.parametrize("stop", ["estop", "watchdog"])
def test_publish_stops_on_estop_and_on_stale_states(tmp_path, stop):
    from calibration.errors import CalibrationError
    from robot_rl.commands.excite import raise_if_failed

    robot = LockstepRobot(estop_at=2.0) if stop == "estop" else LockstepRobot(stop_states_at=2.0)
    node = run_live(tmp_path, robot)
    with pytest.raises(CalibrationError, match="e-stop pressed" if stop == "estop" else "stopped arriving"):
        raise_if_failed(node, tmp_path / "live.bag")
    assert robot.sent[-1] == [0.0]  # the safe action went out

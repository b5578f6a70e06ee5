"""Identification on readings as a robot gives them: encoder counts, jitter, noisy drive velocities.

The sim robot reads its joints through `robot_rl.deploy.sensor_model` (14-bit encoders with 1e-4 rad
of jitter, a 10 um rail encoder, drive velocities with 0.01 rad/s and 1 mm/s of noise), and on such
readings the open-loop replay's cost has local minima, the residual's noise is partly rounding, and
a robot was already holding its pose when its log began. The logs here: the cart-pole demo's hidden
gap (demo.yaml: pole +20%, hinge damping x3, rail friction x4, gain -12%, 15 ms), played by PyBullet,
excited 12 s, read through the sensors with seeds 0, 1 and 5, fitted in MuJoCo as `robot-rl demo` does.

Measured (sensor seeds 0-7, 12 s; the demo's 20 s log at velocity noise 1e-3, 1e-2 and 3e-2 rad/s):
- before: seed 0 landed 82% off (a wrong local minimum), seed 1 was accurate but judged not adequate
  (its held-out start was fitted with the cart 1 mm off), 78% of the 95% intervals held the truth;
- now: every fit within 0.023% of the truth and adequate, held-out residual 0.4-1.1x the floor,
  95-97% of the intervals hold it (the misses: the delay, by 1-3.5 us at the engines' 5 ms step);
- a parameter frozen 10% off: held-out residual 20-107x the floor; 50% off: 55-560x; not adequate.

Bounds, and why: errors under 0.1% (4x the worst measured), every verdict adequate, at least 13 of
the 15 intervals holding the truth (15 measured; the old fit held 10 of these 15), each interval
narrower than 0.1% of the value (so coverage is not bought with width); the frozen parameter's
fit not adequate with the noise floor as the reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sensed_engine import Sensed

from calibration import identify
from calibration.adequacy import count_size, noise_floor
from calibration.excitation import hold_before_start, run_excitation
from calibration.log import make_log
from calibration.segments import make_segment
from robot_rl.deploy.sensor_model import REVOLUTE_ENCODER, SensorModel, Sensors
from sim.engines import make_engine
from sim.params import resolve_params
from sim.robot import load_robot

CARTPOLE = load_robot("cartpole")
SEEDS = (0, 1, 5)
DURATION = 12.0




def demo_gap() -> tuple[dict, list[str]]:
    from robot_rl.demo.facts import demo_spec

    spec = demo_spec("cartpole")
    return dict(spec.reality_gap), list(spec.fit_names)


def sensed_log(seed: int, duration: float = DURATION):
    """The demo's identification run (excitation seed 0) read through the sensors with `seed`."""
    gap, _ = demo_gap()
    engine = make_engine(CARTPOLE, "pybullet", gap)
    try:
        sensors = Sensors(SensorModel(), [(j.name, j.type) for j in CARTPOLE.joints], seed=seed)
        return run_excitation(Sensed(engine, sensors), CARTPOLE, duration, seed=0).log
    finally:
        engine.close()


@pytest.fixture(scope="module")
def fits(tmp_path_factory) -> dict[int, Any]:
    gap, names = demo_gap()
    return {seed: identify(CARTPOLE, sensed_log(seed), names, tmp_path_factory.mktemp(f"seed{seed}"), suggest=False)
            for seed in SEEDS}


def test_noisy_fits_land_on_the_truth_and_are_judged_adequate(fits):
    gap, names = demo_gap()
    truth = resolve_params(CARTPOLE, gap)
    for seed, result in fits.items():
        errors = {n: abs(result.fitted[n] / truth[n] - 1.0) for n in names}
        assert max(errors.values()) < 1e-3, (seed, errors)
        assert result.converged and result.adequate, (seed, result.reasons)
        for joint in CARTPOLE.joint_names:  # the held-out replay leaves noise, not structure
            for what in ("position", "velocity"):
                ratio = result.residuals_validation[joint][what] / result.noise_floor[joint][what]
                assert ratio < 1.5, (seed, joint, what, ratio)


def test_intervals_hold_the_truth_at_about_their_rate(fits):
    gap, names = demo_gap()
    truth = resolve_params(CARTPOLE, gap)
    held = [abs(r.fitted[n] - truth[n]) <= r.half_widths[n] for r in fits.values() for n in names]
    assert sum(held) >= len(held) - 2, held
    for r in fits.values():
        for n in names:
            assert 0 < r.half_widths[n] < 1e-3 * abs(truth[n]), (n, r.half_widths[n])


def test_a_parameter_frozen_at_a_wrong_value_is_not_adequate(tmp_path):
    """Hinge damping held 10% low (the rest fitted): measured 20x the floor on the held-out cart."""
    gap, names = demo_gap()
    truth = resolve_params(CARTPOLE, gap)
    wrong = {**gap, "hinge.damping": 0.9 * truth["hinge.damping"]}
    fitted = [n for n in names if n != "hinge.damping"]
    result = identify(CARTPOLE, sensed_log(0), fitted, tmp_path, params=wrong, suggest=False,
                      accept_inadequate=False)
    assert result.converged and not result.adequate
    assert any("noise floor" in r for r in result.reasons), result.reasons
    assert not (tmp_path / "params.yaml").exists()


def test_the_noise_floor_includes_the_encoder_count():
    """A joint at rest read by a 14-bit encoder flickers between two counts: its differences show a
    fraction of the rounding error the readings carry (up to half a count, count/sqrt(12) RMS), so
    the floor is at least that."""
    sensors = Sensors(SensorModel(), [("hinge", "revolute"), ("slider", "prismatic")], seed=0)
    count = REVOLUTE_ENCODER.resolution
    t = np.arange(0.0, 4.0, 0.02)
    true_q = np.stack([0.3 + 0.5 * np.sin(2 * np.pi * 0.25 * t) * (t > 2.0), np.zeros_like(t)], axis=1)
    read = np.array([sensors.read_joints(q, np.zeros(2)) for q in true_q])
    q, qd = read[:, 0], read[:, 1]
    assert count_size(q[:, 0]) == pytest.approx(count, rel=1e-6)
    assert count_size(qd[:, 0]) == 0.0  # drive velocities are not counted
    assert count_size(np.sin(t)) == 0.0  # nor is any smooth float signal
    seg = make_segment(make_log(joint_names=("hinge", "slider"), actuator_names=("slider",), t=t, q=q, qd=qd,
                                command_t=t, command=np.zeros((len(t), 1)), source="synthetic"))
    floor = noise_floor([seg])
    assert floor[0] >= count / math.sqrt(12) * (1 - 1e-9)
    assert floor[0] < 3 * math.hypot(count / math.sqrt(12), REVOLUTE_ENCODER.position_noise)


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_replay_of_a_log_that_starts_mid_hold_has_no_kick(engine):
    """An arm held a pose for a second before its log began; the log's first commands hold it, then a
    step. The replay assumes the first command was held before the log (as the control node's hold
    and the robot's own servo do): measured 6e-5 rad off in the first 50 ms. Replayed from an empty
    delay line (0 rad targets for the first 20 ms), it was 0.21 rad and 10.8 rad/s off."""
    from calibration.mujoco_fit import MujocoProblem
    from calibration.pybullet_fit import PybulletProblem

    iiwa = load_robot("iiwa")
    params = resolve_params(iiwa, {"action_delay": 0.02})
    hold = np.array([0.3, 0.6, -0.2, -1.2, 0.1, 0.8, 0.0])
    sim = make_engine(iiwa, engine, params)
    try:
        sim.reset(hold, np.zeros(7))
        hold_before_start(sim, hold)
        for _ in range(50):  # a second of holding before the log starts
            sim.step(hold)
        t, q, qd, cmd = [], [], [], []
        for k in range(51):
            state = sim.joint_state()
            t.append(k * iiwa.control_dt)
            q.append(state[0])
            qd.append(state[1])
            cmd.append(hold + (0.1 if t[-1] >= 0.3 else 0.0))
            if k < 50:
                sim.step(cmd[-1])
    finally:
        sim.close()
    seg = make_segment(make_log(joint_names=iiwa.joint_names, actuator_names=iiwa.actuator_names, t=np.array(t),
                                q=np.array(q), qd=np.array(qd), command_t=np.array(t[:50]),
                                command=np.array(cmd[:50]), source="mid-hold"))
    problem = (MujocoProblem if engine == "mujoco" else PybulletProblem)(iiwa, [seg], params, [],
                                                                         fit_initial_state=False)
    try:
        ((q_sim, qd_sim),) = problem.predictions(problem.params.as_vector())
    finally:
        if engine == "pybullet":
            problem.sim.close()
    early = seg.t <= 0.05
    assert np.abs(q_sim - seg.q)[early].max() < 1e-3
    assert np.abs(qd_sim - seg.qd)[early].max() < 0.05


def test_a_simulated_excitation_starts_from_a_held_pose():
    """`run_excitation` starts the engine's delay line with the first command: the Panda (its range
    centres are not 0 rad) moves under 0.3 rad/s in the first 0.1 s; from an empty line its joints
    2, 4 and 6 were kicked to 4.2 rad/s."""
    panda = load_robot("panda")
    sim = make_engine(panda, "mujoco", {"action_delay": 0.02})
    try:
        log = run_excitation(sim, panda, 3.0, seed=0).log
    finally:
        sim.close()
    assert np.abs(log.qd[log.t < 0.1]).max() < 0.5


class _HoldingController:
    """Enough of a transport for a SimRobot, with a controller that answers every state with the first
    position it read (a hold, as the control node's safe action is)."""

    def __init__(self) -> None:
        self.velocities: list[list[float]] = []
        self.on_command = None
        self.hold: list[float] | None = None

    def publisher(self, topic: str, msg_type: type, qos: Any = None) -> Any:
        transport = self

        class Publisher:
            def publish(self, msg) -> None:
                if topic == "/joint_states":
                    from robot_rl.deploy.ros2_msgs import Float64MultiArray

                    transport.velocities.append(list(msg.velocity))
                    transport.hold = transport.hold or list(msg.position)
                    transport.on_command(Float64MultiArray(data=transport.hold))

        return Publisher()

    def subscribe(self, topic: str, msg_type: type, callback, qos: Any = None) -> None:
        if msg_type.__name__ == "Float64MultiArray":
            self.on_command = callback


def test_the_sim_robot_holds_its_pose_until_its_first_command_arrives(tmp_path):
    """The sim robot (the hidden-gap "real" robot of the demos) starts each episode's command path
    as a robot does, holding its pose: an iiwa told to hold where it is moves at most 0.83 rad/s in
    10 steps (its PD servos taking up gravity from the reset pose); with the episode core's zero
    start it was sent to 0 rad for 20 ms and hit 12.4 rad/s."""
    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig

    params = tmp_path / "delay.yaml"
    params.write_text("action_delay: 0.02\n")
    transport = _HoldingController()
    robot = SimRobot(transport, SimRobotConfig(robot="iiwa", engine="mujoco", params=str(params), episodes=1,
                                               episode_steps=10, lockstep=True, ideal_sensors=True))
    try:
        robot.run()
    finally:
        robot.close()
    assert len(transport.velocities) >= 10
    assert np.abs(np.array(transport.velocities)).max() < 2.0

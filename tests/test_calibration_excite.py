"""Excitation stays within the robot's limits and is recorded faithfully; the fit's command delay is the engines'."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.excitation import Excitation, rest_pose, run_excitation
from calibration.rosbag_io import BagRecorder, read_robot_log
from sim.actuators import DelayLine, delayed_command
from sim.engines import make_engine
from sim.robot import load_robot

CARTPOLE = load_robot("cartpole")


def engine_applied(commands: np.ndarray, substeps: int, dt: float, delay: float) -> np.ndarray:
    """The command each physics substep receives from sim.actuators.DelayLine (what both engines apply),
    started holding the first command (a robot holding its pose before the log, as the fit assumes)."""
    line = DelayLine(commands.shape[1], substeps, dt, delay)
    line.reset(commands[0])
    out = []
    for c in commands:
        for value, n in line.segments(c):
            out.extend([value] * n)
    return np.array(out)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(0, 30), frac=st.floats(0.0, 1.0), seed=st.integers(0, 10_000))
def test_delayed_command_is_the_delay_line_made_continuous(steps, frac, seed):
    dt, substeps = 0.002, 10
    cmds = np.random.default_rng(seed).uniform(-5, 5, (40, 1))
    cmd_t = np.arange(40) * substeps * dt
    grid = np.arange(40 * substeps) * dt
    lo = engine_applied(cmds, substeps, dt, steps * dt)
    hi = engine_applied(cmds, substeps, dt, (steps + 1) * dt)
    ours = delayed_command(cmd_t, cmds, grid, dt, (steps + frac) * dt)
    np.testing.assert_allclose(ours, (1 - frac) * lo + frac * hi, atol=1e-9)


def test_rest_pose_hangs_the_pole_and_centres_the_cart():
    np.testing.assert_allclose(rest_pose(CARTPOLE), [0.0, np.pi])


def test_excitation_respects_travel_and_effort_and_moves_the_pole():
    for seed in range(3):
        engine = make_engine(CARTPOLE, "mujoco")
        run = run_excitation(engine, CARTPOLE, 20.0, seed, obs_noise=0.002)
        assert run.max_travel_fraction < 0.9, f"seed {seed}: cart used {run.max_travel_fraction:.0%} of its travel"
        assert run.max_effort_fraction <= 0.95
        log = run.log
        assert np.max(np.abs(log.command[log.command_t < 0.5])) < 0.1  # at rest first: only feedback on noise
        assert np.std(log.q[:, 1]) > 0.1 and np.std(log.q[:, 0]) > 0.05  # both joints really move
        engine.close()


def test_position_actuators_get_targets_inside_their_range():
    iiwa = load_robot("iiwa")
    exc = Excitation(iiwa, 10.0, seed=0)
    rng = np.random.default_rng(0)
    for t in np.linspace(0, 10, 50):
        q = rng.uniform(-1, 1, len(iiwa.joints))
        u = exc.command(float(t), q, np.zeros_like(q))
        for a, target in zip(iiwa.actuators, u, strict=True):
            lo, hi = iiwa.joint(a.joint).position_limits
            assert lo < target < hi


def test_recorded_bag_is_the_log(tmp_path):
    engine = make_engine(CARTPOLE, "pybullet", {"obs_noise": 0.001})
    with BagRecorder(tmp_path / "x.bag", CARTPOLE.joint_names) as rec:
        run = run_excitation(engine, CARTPOLE, 3.0, seed=1, obs_noise=0.001, recorder=rec)
    engine.close()
    back = read_robot_log(tmp_path / "x.bag", CARTPOLE)
    np.testing.assert_allclose(back.t, run.log.t, atol=1e-9)
    np.testing.assert_allclose(back.q, run.log.q)
    np.testing.assert_allclose(back.command, run.log.command)

"""System identification recovers hidden parameters from noisy, delayed logs, and calibration shrinks the gap.

Logs come from a simulated robot with a hidden parameter set, 2 mm / 2 mrad (and per second)
Gaussian sensor noise and a 30 ms action delay, excited by `robot-rl excite`'s multisine.

Tolerances, and why:
- MuJoCo log fitted in MuJoCo: the model is exact, so only sensor noise moves the estimate; each
  value must lie within 3 of its own 95% half-widths (~6 standard errors) of the truth, which
  fails only if the estimate is biased or the intervals are too narrow, and within 2%.
- PyBullet log fitted in MuJoCo: the engines integrate constraint friction and the pole's
  inertia differently, a model error measured at <= 0.5% on these parameters; 3% leaves margin
  while staying under the 5% target of issue 6.
- PyBullet fallback on a PyBullet log: exact model again, but a 6 s log; 2%.
The "policy" in the gap test is a fixed LQR balance controller (`robot_rl.deploy.reference_controller
.lqr_gain`, designed on the nominal model): no trained policy is needed to measure the gap.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration import identify
from calibration.csv_io import write_csv_log
from calibration.excitation import run_excitation
from calibration.log import make_log
from calibration.rosbag_io import BagRecorder
from sim.engines import make_engine
from sim.params import resolve_params
from sim.randomization import load_randomization
from sim.robot import load_robot

ROBOT = load_robot("cartpole")
HIDDEN = {"pole.mass": 0.26, "hinge.damping": 0.003, "slider.frictionloss": 0.08, "slider.gain": 0.9,
          "action_delay": 0.03, "obs_noise": 0.002}
FIT = ["pole.mass", "hinge.damping", "slider.frictionloss", "slider.gain", "action_delay"]
TRUTH = resolve_params(ROBOT, HIDDEN)


def excite(engine: str, duration: float, seed: int, params=HIDDEN, bag=None):
    sim = make_engine(ROBOT, engine, params)
    try:
        if bag is None:
            return run_excitation(sim, ROBOT, duration, seed, obs_noise=HIDDEN["obs_noise"]).log
        with BagRecorder(bag, ROBOT.joint_names) as rec:
            return run_excitation(sim, ROBOT, duration, seed, obs_noise=HIDDEN["obs_noise"], recorder=rec).log
    finally:
        sim.close()


@pytest.fixture(scope="module")
def mujoco_fit(tmp_path_factory):
    d = tmp_path_factory.mktemp("mujoco")
    excite("mujoco", 20.0, seed=0, bag=d / "run.bag")
    return identify(ROBOT, d / "run.bag", FIT + ["obs_noise"], d / "calib")


@pytest.fixture(scope="module")
def pybullet_fit(tmp_path_factory):
    d = tmp_path_factory.mktemp("pybullet")
    excite("pybullet", 20.0, seed=1, bag=d / "run.bag")
    return identify(ROBOT, d / "run.bag", FIT, d / "calib")


def test_mujoco_log_recovers_hidden_parameters(mujoco_fit):
    for n in FIT:
        err = mujoco_fit.fitted[n] - TRUTH[n]
        assert abs(err) <= 3 * mujoco_fit.half_widths[n], f"{n}: {mujoco_fit.fitted[n]:.6g} vs {TRUTH[n]:.6g}"
        assert abs(err) <= 0.02 * TRUTH[n]
        assert mujoco_fit.identified[n]
    assert mujoco_fit.fitted["obs_noise"] == pytest.approx(HIDDEN["obs_noise"], rel=0.1)
    for j in ROBOT.joint_names:  # the fit explains the motion down to the sensor noise
        assert mujoco_fit.residuals_after[j]["position"] < 1.5 * HIDDEN["obs_noise"]
        assert mujoco_fit.residuals_before[j]["position"] > 5 * mujoco_fit.residuals_after[j]["position"]


def test_outputs_are_accepted_as_they_are(mujoco_fit):
    paths = mujoco_fit.paths
    values = resolve_params(ROBOT, paths["params"])
    for n in FIT:
        assert values[n] == pytest.approx(mujoco_fit.fitted[n])
    dr = load_randomization(ROBOT, paths["randomization"])
    ranges = {r.name: r for r in dr.parameters}
    for n in FIT:
        lo, hi = mujoco_fit.intervals[n]
        assert ranges[n].distribution == "uniform"
        assert ranges[n].low < lo < mujoco_fit.fitted[n] < hi < ranges[n].high
    result = json.loads(paths["result"].read_text())
    assert set(result["fitted"]) == set(FIT) | {"obs_noise"}
    assert result["intervals"]["pole.mass"][0] < result["fitted"]["pole.mass"] < result["intervals"]["pole.mass"][1]
    html = paths["report"].read_text()
    assert "data:image/png;base64," in html and "http" not in html  # readable offline
    assert paths["figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pybullet_log_fitted_in_mujoco(pybullet_fit):
    for n in FIT:
        assert pybullet_fit.fitted[n] == pytest.approx(TRUTH[n], rel=0.03), n


def closed_loop(engine: str, params, q0: np.ndarray, steps: int = 150) -> np.ndarray:
    """Joint trajectory of the LQR balance controller on a simulated cart-pole."""
    from robot_rl.deploy.reference_controller import lqr_gain

    gain = lqr_gain(ROBOT)
    sim = make_engine(ROBOT, engine, params)
    sim.reset(q0, np.zeros(2))
    traj = []
    for _ in range(steps):
        q, qd = sim.joint_state()
        traj.append(np.concatenate([q, qd]))
        state = np.array([q[0], np.arctan2(np.sin(q[1]), np.cos(q[1])), qd[0], qd[1]])
        sim.step(np.clip([-gain @ state], -20.0, 20.0))
    sim.close()
    return np.array(traj)


def test_calibration_shrinks_the_sim_to_real_gap(pybullet_fit):
    """'Real' robot: PyBullet with the hidden parameters. Sim: MuJoCo, nominal vs the fitted params file."""
    gaps = {"nominal": [], "calibrated": []}
    for q0 in ([0.0, 0.15], [0.2, -0.1], [-0.1, 0.05]):
        real = closed_loop("pybullet", HIDDEN, np.array(q0))
        for name, params in (("nominal", None), ("calibrated", pybullet_fit.paths["params"])):
            sim = closed_loop("mujoco", params, np.array(q0))
            gaps[name].append(np.sqrt(np.mean((real - sim) ** 2)))
    nominal, calibrated = np.mean(gaps["nominal"]), np.mean(gaps["calibrated"])
    assert calibrated < 0.2 * nominal, f"gap nominal {nominal:.4g}, calibrated {calibrated:.4g}"


def test_pybullet_fallback_engine(tmp_path):
    log = excite("pybullet", 6.0, seed=2)
    fixed = {k: v for k, v in HIDDEN.items() if k not in ("pole.mass", "slider.gain")}
    result = identify(ROBOT, log, "pole.mass,slider.gain", tmp_path, engine="pybullet", params=fixed)
    assert result.engine == "pybullet"
    for n in ("pole.mass", "slider.gain"):
        assert result.fitted[n] == pytest.approx(TRUTH[n], rel=0.02), n


def test_interchangeable_parameters_are_flagged(tmp_path):
    """cart.mass and slider.armature both add to the slider's inertia only: no log can separate them."""
    log = excite("mujoco", 5.0, seed=3)
    result = identify(ROBOT, log, ["cart.mass", "slider.armature"], tmp_path, params=HIDDEN)
    assert not result.identified["cart.mass"] and not result.identified["slider.armature"]
    assert any("only a combination of cart.mass, slider.armature" in n for n in result.notes)
    # what the log does determine -- the sum -- is right
    assert result.fitted["cart.mass"] + result.fitted["slider.armature"] == pytest.approx(1.0, rel=0.01)


def test_log_with_a_gap_is_fitted_in_segments(tmp_path):
    log = excite("mujoco", 10.0, seed=4)
    keep = (log.t < 4.0) | (log.t > 4.6)
    gappy = make_log(joint_names=log.joint_names, actuator_names=log.actuator_names, t=log.t[keep], q=log.q[keep],
                     qd=log.qd[keep], command_t=log.command_t, command=log.command, source="gappy")
    write_csv_log(tmp_path / "gappy.csv", gappy)
    fixed = {k: v for k, v in HIDDEN.items() if k not in ("slider.gain", "action_delay")}
    result = identify(ROBOT, tmp_path / "gappy.csv", "slider.gain,action_delay", tmp_path / "out", params=fixed)
    assert result.n_segments == 2
    assert any("split there" in n for n in result.notes)
    assert "split there" in result.paths["report"].read_text()
    assert result.fitted["slider.gain"] == pytest.approx(0.9, rel=0.01)
    assert result.fitted["action_delay"] == pytest.approx(0.03, rel=0.02)

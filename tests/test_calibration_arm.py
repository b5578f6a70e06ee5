"""System identification on the 7-DoF iiwa: an excitation that makes nine parameters identifiable,
and a fit that recovers them from a log of an arm with a reality gap.

The hidden arm (the issue's gap class): a heavier upper arm and forearm (link 3 +30%, link 5 +41%),
a 0.5 kg payload on the flange (link 7: 0.3 -> 0.8 kg), joint 2 and 4 damping x3 and x2.5,
geared-joint friction on joints 3, 5, 7 (1.0, 0.8, 0.5 N*m; robot.yaml has none), a 20 ms command
latency, and 1 mrad (and per s) encoder noise.

Tolerances, and why:
- MuJoCo log fitted in MuJoCo: the model is exact, so only noise moves the estimates: each within
  3 of its own 95% half-widths of the truth (a biased fit or too narrow intervals fail it) and
  within 2% (measured: <= 0.6% from 12 s, <= 0.2% from 20 s); the held-out residual is noise, so
  `adequate`;
- PyBullet log fitted in MuJoCo: the engines realize dry friction with different constraint
  solvers, a model error the data shows (the wrist's held-out position residual is several times
  the noise), so the issue's target applies: each parameter within 10% of the truth or its 95%
  interval containing it, and the delay within 10% (measured: all within 5%, delay exact).
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration import identify
from calibration.excitation import Excitation, gravity_regressor, run_excitation
from robot_rl.runtime.safety import SafetyConfig, SafetyFilter, SafetyState
from sim.engines import make_engine
from sim.params import resolve_params
from sim.robot import load_robot

IIWA = load_robot("iiwa")
P = "lbr_iiwa_"
HIDDEN = {f"{P}link_3.mass": 3.9, f"{P}link_5.mass": 2.4, f"{P}link_7.mass": 0.8,
          f"{P}joint_2.damping": 1.5, f"{P}joint_4.damping": 1.25,
          f"{P}joint_3.frictionloss": 1.0, f"{P}joint_5.frictionloss": 0.8, f"{P}joint_7.frictionloss": 0.5,
          "action_delay": 0.02, "obs_noise": 0.001}
FIT = [k for k in HIDDEN if k != "obs_noise"]
TRUTH = resolve_params(IIWA, HIDDEN)


def excite(engine: str, duration: float, seed: int = 0):
    sim = make_engine(IIWA, engine, HIDDEN)
    try:
        return run_excitation(sim, IIWA, duration, seed, obs_noise=HIDDEN["obs_noise"]).log
    finally:
        sim.close()


def test_arm_excitation_passes_the_safety_filter_unchanged():
    """Every target is inside the filter's position margins and rate limit: the filter changes nothing."""
    exc = Excitation(IIWA, 20.0, seed=0)
    sim = make_engine(IIWA, "mujoco", HIDDEN)
    safety = SafetyFilter(IIWA, SafetyConfig.from_robot(IIWA, ramp_time=0.0))
    sim.reset(exc.center, np.zeros(7))
    safety.activate(0.0, exc.center)
    try:
        for k in range(int(20.0 / IIWA.control_dt)):
            t = k * IIWA.control_dt
            q, qd = sim.joint_state()
            u = exc.command(t, q, qd)
            out = safety.step(t, t, q, qd, u)
            assert out.state is SafetyState.ACTIVE, out.fault_reason
            np.testing.assert_allclose(out.values, u, atol=1e-12, err_msg=f"t = {t:.2f} s")
            sim.step(out.values)
    finally:
        sim.close()


def test_arm_excitation_loads_every_mass_and_spans_slow_and_fast():
    exc = Excitation(IIWA, 20.0, seed=0)
    vlim = np.array([j.velocity_limit for j in IIWA.joints])
    assert np.all(np.abs(np.diff(exc.targets, axis=0)) / IIWA.control_dt <= 0.25 * vlim + 1e-9)
    # Upright (the range centres) gravity loads no joint (to 1%); the chosen poses load links 3-7
    # independently (links 1 and 2 have their centres of mass on or next to their joint's axis:
    # gravity hardly shows them in any pose, only inertia does).
    y = gravity_regressor(IIWA, exc.poses)[:, 2:]
    assert np.abs(gravity_regressor(IIWA, exc.center)).max() < 0.01 * np.abs(y).max()
    s = np.linalg.svd(y, compute_uv=False)
    assert s[-1] > 0.005 * s[0], f"singular values {s}"
    log = excite("mujoco", 20.0)
    speed = np.abs(log.qd[log.t > 1.5])
    for j, name in enumerate(IIWA.joint_names):  # friction regime and damping regime on every joint
        assert np.mean(speed[:, j] < 0.1) > 0.1, name
        assert np.mean(speed[:, j] > 0.25) > 0.1, name


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_arm_sysid_recovers_nine_parameters(engine, tmp_path):
    log = excite(engine, 12.0)  # 9 s fitted, 3 s held out; bench/sysid.py runs the 20 s
    result = identify(IIWA, log, FIT, tmp_path, params={"obs_noise": HIDDEN["obs_noise"]}, suggest=False)
    assert result.converged, result.reasons
    for n in FIT:
        err = abs(result.fitted[n] - TRUTH[n])
        if engine == "mujoco":
            assert err <= 3 * result.half_widths[n] and err <= 0.02 * TRUTH[n], f"{n}: {result.fitted[n]:.5g}"
        else:
            assert err <= 0.1 * TRUTH[n] or err <= result.half_widths[n], f"{n}: {result.fitted[n]:.5g}"
    assert abs(result.fitted["action_delay"] - 0.02) <= 0.002
    if engine == "mujoco":
        assert result.adequate, result.reasons
        assert (tmp_path / "params.yaml").is_file()


def test_excite_command_on_the_arm(tmp_path, capsys):
    from calibration.csv_io import read_csv_log
    from robot_rl.cli import main

    with pytest.raises(SystemExit):
        main(["excite", "--help"])
    assert "D-optimal" in capsys.readouterr().out
    rc = main(["excite", "--robot", "iiwa", "--duration", "6", "--csv", str(tmp_path / "a.csv")])
    assert rc == 1 and "--poses 4 leaves under 2 s per pose" in capsys.readouterr().err
    rc = main(["excite", "--robot", "iiwa", "--duration", "8", "--poses", "3", "--obs-noise", "0.001",
               "--csv", str(tmp_path / "a.csv")])
    assert rc == 0 and "fastest target 25% of the velocity" in capsys.readouterr().out.replace("\n", " ")
    log = read_csv_log(tmp_path / "a.csv", IIWA)
    assert log.duration == pytest.approx(8.0)

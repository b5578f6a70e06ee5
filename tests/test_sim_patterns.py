"""Glob patterns over the parameter vocabulary in params files, DR configs and --fit."""

import numpy as np
import pytest

from calibration.errors import FitError
from calibration.vocabulary import check_fit_names
from sim.errors import ConfigError, UnknownParameterError
from sim.params import resolve_params
from sim.patterns import expand_mapping, expand_names
from sim.randomization import load_randomization
from sim.robot import load_robot


@pytest.fixture(scope="module")
def a1():
    return load_robot("a1")


def test_pattern_expands_to_every_matching_name(a1):
    values = resolve_params(a1, {"*.gain": {"scale": 0.9}, "*_lower_joint.kd": 0.7})
    gains = [k for k in a1.nominal if k.endswith(".gain")]
    assert len(gains) == 12 and all(values[k] == pytest.approx(0.9) for k in gains)
    assert values["FR_lower_joint.kd"] == 0.7 and values["RL_lower_joint.kd"] == 0.7
    assert values["FR_upper_joint.kd"] == a1.nominal["FR_upper_joint.kd"]


def test_exact_name_wins_over_pattern_and_later_pattern_over_earlier(a1):
    out = expand_mapping({"FR_*.kp": 1.0, "FR_hip_joint.kp": 3.0, "*.kp": 2.0}, list(a1.nominal), "t", "a1")
    assert out["FR_hip_joint.kp"] == 3.0  # exact
    assert out["FR_upper_joint.kp"] == 2.0  # the later pattern
    assert out["RL_lower_joint.kp"] == 2.0


def test_pattern_matching_nothing_is_an_error(a1, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text('"*.stiffness": {scale: 2}\n')
    with pytest.raises(UnknownParameterError) as err:
        resolve_params(a1, path)
    msg = str(err.value)
    assert str(path) in msg and "'*.stiffness'" in msg and "matches no parameter" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match="matches no parameter"):
        load_randomization(a1, {"parameters": {"*_knee.kd": {"scale_uniform": [0.9, 1.1]}}})
    with pytest.raises(ConfigError, match="unknown parameter"):
        expand_names(["trunk.weight"], list(a1.nominal), "--fit", "a1")


def test_dr_config_patterns_and_signed_offsets(a1):
    dr = load_randomization(a1, "default")
    names = {r.name for r in dr.parameters}
    assert {"FR_hip_joint.kp", "RL_lower_joint.kd", "FL_upper_joint.gain", "FR_lower.mass"} <= names
    rng = np.random.default_rng(0)
    draws = [dr.sample_params(rng, a1.nominal)["trunk.com_x"] for _ in range(50)]
    assert min(draws) < 0 < max(draws) and max(abs(d) for d in draws) <= 0.03
    assert dr.push_base_velocity is not None
    values = resolve_params(a1, {"trunk.com_y": -0.01})
    assert values["trunk.com_y"] == -0.01
    with pytest.raises(ConfigError, match=">= 0"):
        resolve_params(a1, {"trunk.mass": -1.0})


def test_base_push_needs_a_floating_base():
    with pytest.raises(ConfigError, match="no floating base"):
        load_randomization(load_robot("cartpole"), {"push": {"probability": 0.1, "base_velocity": [1, 1, 0]}})


def test_fit_names_expand_patterns():
    cart = load_robot("cartpole")
    names = check_fit_names(cart, ["*.damping", "slider.gain", "hinge.damping"], cart.nominal)
    assert names == ["slider.damping", "hinge.damping", "slider.gain"]
    with pytest.raises(FitError, match="pattern matches no parameter"):
        check_fit_names(cart, ["*.kp"], cart.nominal)

"""The parameter vocabulary: params files and domain randomization configs."""

import numpy as np
import pytest

from sim.errors import ConfigError, UnknownParameterError
from sim.params import resolve_params, write_params
from sim.randomization import load_randomization
from sim.robot import load_robot


@pytest.fixture(scope="module")
def cartpole():
    return load_robot("cartpole")


def test_params_absolute_and_scale(cartpole, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("pole.mass: 0.3\nhinge.damping: {scale: 2.0}\n")
    values = resolve_params(cartpole, path)
    assert values["pole.mass"] == 0.3
    assert values["hinge.damping"] == pytest.approx(2 * cartpole.nominal["hinge.damping"])
    assert values["cart.mass"] == cartpole.nominal["cart.mass"]


def test_params_roundtrip_through_file(cartpole, tmp_path):
    values = resolve_params(cartpole, {"pole.mass": 0.27, "action_delay": 0.01})
    write_params(tmp_path / "fit.yaml", values, comment="fitted")
    assert resolve_params(cartpole, tmp_path / "fit.yaml") == values


def test_unknown_param_lists_valid_names(cartpole):
    with pytest.raises(UnknownParameterError) as err:
        resolve_params(cartpole, {"pole.weight": 1.0})
    assert "pole.weight" in str(err.value) and "pole.mass" in str(err.value) and "hinge.damping" in str(err.value)


@pytest.mark.parametrize("bad, match", [
    ({"pole.mass": "heavy"}, "expected a number"),
    ({"pole.mass": {"factor": 2}}, "scale"),
    ({"pole.mass": -1.0}, ">= 0"),
    ({"pole.mass": 0.0}, "> 0"),
])
def test_bad_param_values(cartpole, bad, match):
    with pytest.raises(ConfigError, match=match):
        resolve_params(cartpole, bad)


def test_default_dr_differs_per_episode_and_repeats_per_seed(cartpole):
    dr = load_randomization(cartpole, "default")
    base = cartpole.nominal
    a = [dr.sample_params(np.random.default_rng(7), base) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(7)
    first, second = dr.sample_params(rng, base), dr.sample_params(rng, base)
    assert first != second
    assert 0.8 * base["pole.mass"] <= first["pole.mass"] <= 1.2 * base["pole.mass"]
    assert 0.0 <= first["action_delay"] <= 0.02


def test_dr_draws_are_numpys_uniform_draws(cartpole):
    """A seed gives the episodes it gave before sampling was batched into one rng.random call per reset:
    each value is the one `rng.uniform` (numpy: lo + (hi - lo) * u) draws from the same stream."""
    dr = load_randomization(cartpole, {
        "parameters": {"pole.mass": {"scale_uniform": [0.8, 1.2]}, "hinge.damping": {"log_uniform": [0.001, 0.1]},
                       "slider.frictionloss": {"uniform": [0.0, 0.3]}},
        "initial_state": {"position": [0.05, 0.1], "velocity": [0.05, 0.1]}})
    base = cartpole.nominal
    for seed in range(50):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        params = dr.sample_params(ours, base)
        assert params["pole.mass"] == float(base["pole.mass"] * ref.uniform(0.8, 1.2))
        assert params["hinge.damping"] == float(np.exp(ref.uniform(np.log(0.001), np.log(0.1))))
        assert params["slider.frictionloss"] == float(ref.uniform(0.0, 0.3))
        dq, dv = dr.sample_initial_offset(ours, 2)
        assert np.array_equal(dq, ref.uniform(-1, 1, 2) * [0.05, 0.1])
        assert np.array_equal(dv, ref.uniform(-1, 1, 2) * [0.05, 0.1])
        assert ours.random() == ref.random()  # and the stream continues where it would have


def test_log_uniform_stays_in_range(cartpole):
    dr = load_randomization(cartpole, {"parameters": {"hinge.damping": {"log_uniform": [0.001, 0.1]}}})
    rng = np.random.default_rng(0)
    draws = np.array([dr.sample_params(rng, cartpole.nominal)["hinge.damping"] for _ in range(500)])
    assert draws.min() >= 0.001 and draws.max() <= 0.1
    # log-uniform: the median sits near the geometric mean, far below the arithmetic one
    assert np.median(draws) < 0.03


@pytest.mark.parametrize("config, match", [
    ({"parameters": {"pole.weight": {"uniform": [0, 1]}}}, "valid names"),
    ({"parameters": {"pole.mass": {"gaussian": [0, 1]}}}, "uniform"),
    ({"parameters": {"pole.mass": {"uniform": [2, 1]}}}, "bounds are inverted.*lower <= upper"),
    ({"parameters": {"hinge.damping": {"log_uniform": [0, 1]}}}, "> 0"),
    ({"push": {"probability": 2}}, "probability"),
    ({"initial_state": {"position": [0.1]}}, "one per joint"),
    ({"gravity": {}}, "unknown section"),
    ({"parameters": {"pole.mass": {"scale_uniform": [0.5, 1.5], "shared": True}}}, "only a pattern's entry"),
    ({"parameters": {"*.mass": {"scale_uniform": [0.5, 1.5], "shared": 2}}}, "shared.*<= 1"),
    ({"parameters": {"*.mass": {"scale_uniform": [0.5, 1.5], "shared": True, "extra": 1}}}, "expected one of"),
])
def test_bad_dr_configs(cartpole, config, match):
    with pytest.raises(ConfigError, match=match):
        load_randomization(cartpole, config)


def test_unknown_dr_name_lists_available(cartpole):
    with pytest.raises(ConfigError, match="available: default"):
        load_randomization(cartpole, "wild")


def test_shared_pattern_draws_one_scale_for_all_its_members():
    """`shared: true`: every link of the arm gets the same factor (a uniformly light or heavy arm);
    `shared: 0.5`: about half of the episodes do, the rest draw each link on its own."""
    iiwa = load_robot("iiwa")
    links = [f"lbr_iiwa_link_{i}.mass" for i in range(1, 7)]
    rng = np.random.default_rng(0)

    def factors(share):
        dr = load_randomization(iiwa, {"parameters": {
            "lbr_iiwa_link_[1-6].mass": {"scale_uniform": [0.5, 1.5], "shared": share}}})
        p = dr.sample_params(rng, iiwa.nominal)
        return np.array([p[k] / iiwa.nominal[k] for k in links])

    always = np.array([factors(True) for _ in range(50)])
    assert np.ptp(always, axis=1).max() < 1e-12  # one factor per episode ...
    assert always[:, 0].min() < 0.6 and always[:, 0].max() > 1.4  # ... spanning the range
    never = np.array([factors(False) for _ in range(50)])
    assert np.ptp(never, axis=1).min() > 1e-3
    half = np.array([np.ptp(factors(0.5)) < 1e-12 for _ in range(400)])
    assert 0.4 < half.mean() < 0.6

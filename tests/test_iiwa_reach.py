"""The iiwa reach task and its randomization: what the shipped reach policy was trained against.

Why these tests: the reach policy must survive a gap class (masses +-50% with a payload, damping
x3, joint friction 1.5 Nm, 30 ms latency) that the default DR has to cover, and the simulators
must stay numerically stable over that class (the iiwa's distal links are light enough that
explicit 1 ms integration of their PD + damping diverges at the light corner, so robot.yaml
integrates them implicitly, identically in both engines).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.engines import make_engine
from sim.kinematics import SerialChainFK
from sim.params import load_yaml_mapping, resolve_params
from sim.randomization import load_randomization
from sim.robot import load_robot
from sim.state import RobotState
from sim.tasks.env import RobotTaskEnv

ENGINES = ("mujoco", "pybullet")


@pytest.fixture(scope="module")
def iiwa():
    return load_robot("iiwa")


def test_batched_fk_equals_one_at_a_time(iiwa):
    fk = SerialChainFK(iiwa.urdf, iiwa.joint_names, iiwa.end_effector)
    q = np.random.default_rng(0).uniform(-2.0, 2.0, (40, 7))
    np.testing.assert_allclose(fk.positions(q), np.stack([fk.position(qi) for qi in q]), atol=1e-12)


def test_default_dr_covers_friction_and_latency_of_the_gap_class(iiwa):
    dr = load_randomization(iiwa, "default")
    ranges = {r.name: r for r in dr.parameters}
    for j in iiwa.joint_names:
        assert ranges[f"{j}.frictionloss"].high >= 1.5, j
    assert ranges["action_delay"].high >= 0.03
    # payload: link 7 reaches 1.5 x nominal + 0.5 kg
    assert ranges["lbr_iiwa_link_7.mass"].high >= 1.5 * iiwa.nominal["lbr_iiwa_link_7.mass"] + 0.5
    for i in range(1, 7):
        r = ranges[f"lbr_iiwa_link_{i}.mass"]
        assert (r.low, r.high) == (0.45, 1.55) and r.distribution == "scale_uniform"
        # One shared draw in half of the episodes: the uniformly light arm is part of training.
        assert r.group is not None and r.share_probability == 0.5
    assert ranges["lbr_iiwa_link_7.mass"].low <= 0.5 * iiwa.nominal["lbr_iiwa_link_7.mass"]
    for j in iiwa.joint_names:  # every joint, the light flange roll included
        assert ranges[f"{j}.damping"].high >= 3.0, j


def test_precision_reward_is_steepest_inside_the_success_radius(iiwa):
    env = RobotTaskEnv("IiwaReach-v0")
    env.reset(seed=0)
    logic = env.logic
    q = np.zeros((1, 7))
    ee = logic.ee_positions(q)[0]
    rewards = []
    for d in (0.0, 0.01, 0.02, 0.05, 0.2):
        goal = ee + np.array([d, 0.0, 0.0])
        state = RobotState(tuple(iiwa.joint_names), q, np.zeros((1, 7)))
        terms = logic.reward_terms(state, np.zeros((1, 7)), np.zeros((1, 7)), goal[None])
        rewards.append(sum(float(logic.spec.reward[k] * v[0]) for k, v in terms.items()))
        assert not logic.terminated(state)[0]
        assert logic.goal_distance(q, goal[None])[0] == pytest.approx(d)
    assert rewards == sorted(rewards, reverse=True)
    # the last 2 cm are worth more than the 15 cm before them
    assert rewards[0] - rewards[2] > rewards[3] - rewards[4]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_robustness_case_is_numerically_stable(iiwa, engine):
    """Random full-range targets for 1 s under each gap case: joint speeds stay below 95 rad/s
    (bang-bang targets reach ~75 rad/s on stable physics; a diverging integration
    reaches 500+ in MuJoCo and PyBullet's 100 rad/s velocity clamp)."""
    cases = load_yaml_mapping(iiwa.root / "robustness.yaml", "robustness")["cases"]
    assert {"joint_friction_1.5Nm", "command_delay_30ms", "links_+50%_payload_0.5kg"} <= set(cases)
    for name, params in cases.items():
        env = RobotTaskEnv("IiwaReach-v0", engine=engine, params=params)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        top = 0.0
        for _ in range(50):
            env.step(rng.uniform(-1.0, 1.0, 7))
            top = max(top, float(np.abs(env.engine.joint_state()[1]).max()))
        env.close()
        assert top < 95.0, (name, top)


def _hold(engine: str, params: dict, seconds: float = 1.0) -> np.ndarray:
    """Joint positions and velocities while the servos hold a pose 0.05 rad away, (steps, 14)."""
    e = make_engine("iiwa", engine, params)
    q0 = np.array([0.3, 0.5, -0.2, -1.2, 0.4, 0.8, 0.1])
    e.reset(q0, np.zeros(7))
    out = []
    for _ in range(int(seconds * e.robot.control_hz)):
        e.step(q0 + 0.05)
        out.append(np.concatenate(e.joint_state()))
    e.close()
    return np.array(out)


LIGHT_DAMPED = {**{f"lbr_iiwa_link_{k}.mass": {"scale": 0.5} for k in range(1, 8)},
                **{f"lbr_iiwa_joint_{k}.damping": {"scale": 3.0} for k in range(1, 8)}}


def test_light_heavily_damped_arm_is_stable_and_identical_in_both_engines(iiwa):
    """Every link -50% with damping x3: (kd + b) dt / I = 4 at joint 7, where the explicit 1 ms step
    diverged (MuJoCo to NaN, PyBullet to its 100 rad/s clamp). Integrated implicitly (MuJoCo's
    implicitfast; PyBullet through its mass matrix) it settles, and without friction both engines
    take the same steps to rounding."""
    assert iiwa.integrator == "implicit"
    mj, pb = _hold("mujoco", LIGHT_DAMPED), _hold("pybullet", LIGHT_DAMPED)
    assert np.abs(mj[:, 7:]).max() < 2.0  # a 0.05 rad step response, no chatter
    assert np.abs(mj[-10:, 7:]).max() < 0.01  # settled
    assert np.abs(mj - pb).max() < 1e-9


def test_implicit_step_matches_mujoco_with_saturated_servos(iiwa):
    """Full-range random targets saturate joints 1-4 at their 300 N*m effort limit: MuJoCo then drops
    that servo's kd from the implicit step (its actuator derivative skips clamped forces), as PyBullet's
    emulation does; under a DR draw the two engines stay equal to rounding."""
    dr = load_randomization(iiwa, "default")
    rng = np.random.default_rng(3)
    params = dr.sample_params(rng, dict(iiwa.nominal))
    params.update({f"{j}.frictionloss": 0.0 for j in iiwa.joint_names})  # friction: each engine's own solver
    lims = np.array([j.position_limits for j in iiwa.joints])
    targets = rng.uniform(lims[:, 0], lims[:, 1], (25, 7))
    runs, top_force = [], 0.0
    for engine in ENGINES:
        e = make_engine(iiwa, engine, params)
        e.reset(np.zeros(7), np.zeros(7))
        run = []
        for target in targets:
            e.step(target)
            run.append(np.concatenate(e.joint_state()))
            if engine == "mujoco":
                top_force = max(top_force, float(np.abs(e.actuator_forces()).max()))
        runs.append(np.array(run))
        e.close()
    assert top_force == pytest.approx(300.0)  # some servo saturated
    assert np.abs(runs[0] - runs[1]).max() < 1e-8


def test_targets_move_at_most_the_safety_filters_rate_limit(iiwa):
    """IiwaReach-v0 trains behind the rate rule the SafetyFilter enforces on the robot (one definition,
    RobotSpec.target_max_change), so a policy never learns jumps the filter would cut when deployed."""
    from robot_rl.runtime.safety import SafetyConfig

    rate = np.array(iiwa.target_max_change())
    np.testing.assert_allclose(SafetyConfig.from_robot(iiwa).max_change, rate)
    np.testing.assert_allclose(rate, [j.velocity_limit * iiwa.control_dt for j in iiwa.joints])
    env = RobotTaskEnv("IiwaReach-v0")
    env.reset(seed=0)
    core = env.core
    previous = env.engine.joint_state()[0].copy()
    assert np.allclose(core.prev_target[0], previous)
    rng = np.random.default_rng(0)
    for _ in range(20):  # bang-bang actions: each asks for a jump of up to 5 rad
        env.step(rng.choice([-1.0, 1.0], 7))
        step = core.prev_target[0] - previous
        assert np.all(np.abs(step) <= rate + 1e-12)
        assert np.any(np.abs(step) > 0.99 * rate)  # the limit binds: targets moved as far as allowed
        previous = core.prev_target[0].copy()


def test_pybullet_implicit_step_follows_the_masses_of_each_episode(iiwa):
    """PyBullet's calculateMassMatrix keeps the masses of its first call; the implicit step must not.

    An engine that ran an episode with a heavy flange (link 7 +0.7 kg), then gets the light arm of
    the next episode, must take exactly the steps a fresh engine takes with the light arm, and
    match MuJoCo. Before the twin body (sim/engines/pybullet.py MassMatrixTwin) it used the heavy
    mass matrix and diverged to |qd| > 1000 rad/s in DR evaluations (2 of 50 episodes)."""
    heavy = resolve_params(iiwa, {"lbr_iiwa_link_7.mass": 1.0, "lbr_iiwa_link_4.mass": {"scale": 1.5}})
    light = resolve_params(iiwa, {f"lbr_iiwa_link_{k}.mass": {"scale": 0.5} for k in range(1, 8)})
    q0 = np.array([0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0])

    def light_run(engine: str, first: dict | None) -> np.ndarray:
        e = make_engine(iiwa, engine, first or light)
        if first is not None:
            e.reset(q0, np.zeros(7))
            for _ in range(10):
                e.step(q0 - 0.3)
            e.set_params(light)
        e.reset(q0, np.zeros(7))
        out = []
        for _ in range(10):
            e.step(q0 + 0.2)
            out.append(e.joint_state()[1])
        e.close()
        return np.array(out)

    after_heavy, fresh = light_run("pybullet", heavy), light_run("pybullet", None)
    np.testing.assert_array_equal(after_heavy, fresh)
    np.testing.assert_allclose(after_heavy, light_run("mujoco", None), atol=1e-8)

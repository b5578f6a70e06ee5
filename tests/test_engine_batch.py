"""Batched stepping lives behind `sim.engines.batch.BatchEngine`: both implementations agree, and the
episode core calls nothing else (no MuJoCo in sim/core.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from sim.actuators import ActionDelay, delay_lags
from sim.engines.batch import ROLLOUT_MIN_ENVS, EngineLoop, make_batch
from sim.engines.mujoco_batch import MujocoRollout
from sim.params import resolve_params
from sim.robot import load_robot

ROOT = Path(__file__).resolve().parents[1]


def test_the_episode_core_imports_no_engine():
    """sim/core.py reaches the physics only through sim.engines.batch (make_batch, BatchEngine)."""
    tree = ast.parse((ROOT / "sim" / "core.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    engines = sorted(m for m in imported if m.split(".")[0] in ("mujoco", "pybullet")
                     or (m.startswith("sim.engines") and m != "sim.engines.batch"))
    assert not engines, f"sim/core.py imports {engines}: step through sim.engines.batch instead"


def test_make_batch_picks_the_rollout_for_a_mujoco_batch_and_a_loop_otherwise():
    robot = load_robot("cartpole")
    params = resolve_params(robot, None)
    picks = {}
    for engine, n in (("mujoco", ROLLOUT_MIN_ENVS), ("mujoco", ROLLOUT_MIN_ENVS - 1), ("pybullet", ROLLOUT_MIN_ENVS)):
        batch = make_batch(robot, engine, params, n)
        picks[engine, n] = type(batch)
        batch.close()
    assert picks == {("mujoco", ROLLOUT_MIN_ENVS): MujocoRollout, ("mujoco", ROLLOUT_MIN_ENVS - 1): EngineLoop,
                     ("pybullet", ROLLOUT_MIN_ENVS): EngineLoop}
    with pytest.raises(ValueError, match="unknown engine 'bullet'; expected one of mujoco, pybullet"):
        make_batch(robot, "bullet", params, 2)


def test_rollout_and_loop_step_the_same_delayed_commands_alike():
    """Per-robot parameters and delays, a per-substep command block, a reset mid-run and a push: the
    threaded rollout and a loop over single MuJoCo engines give the same joint states."""
    robot = load_robot("iiwa")
    n, nu = 4, len(robot.actuators)
    base = resolve_params(robot, None)
    delays = [0.0, robot.physics_dt, 0.013, 0.031]  # none, one substep, and more than a control step
    batches = []
    for cls in ("rollout", "loop"):
        delay = ActionDelay(n, nu, robot.substeps, robot.physics_dt)
        batch = (MujocoRollout(robot, base, n, nthread=2) if cls == "rollout"
                 else EngineLoop(robot, "mujoco", base, n, delay))
        for i in range(n):
            params = {**base, "action_delay": delays[i], f"{robot.joints[2].name}.damping": 0.5 * i}
            batch.set_params(i, params)
            delay.set_delay(i, delays[i])
            delay.reset(i)
            batch.reset(i, np.full(7, 0.05 * i), np.zeros(7))
        batches.append((batch, delay))
    rng = np.random.default_rng(0)
    home = np.linspace(-0.4, 0.4, nu)  # position targets about a bent pose
    for step in range(25):
        commands = home + rng.uniform(-0.3, 0.3, (n, nu))
        if step == 10:
            for batch, delay in batches:
                batch.reset(1, np.full(7, 0.2), np.full(7, 0.1))
                delay.reset(1)
        if step == 15:
            for batch, _ in batches:
                batch.kick(2, np.linspace(-0.5, 0.5, 7))
        for batch, delay in batches:
            batch.step(delay.control(commands))
        (a, _), (b, _) = batches
        sa, sb = a.state(), b.state()
        np.testing.assert_allclose(sa.q, sb.q, rtol=0, atol=1e-9, err_msg=f"step {step}")
        np.testing.assert_allclose(sa.qd, sb.qd, rtol=0, atol=1e-7, err_msg=f"step {step}")
    assert np.ptp(sa.q[:, 0]) > 0.05  # the robots really moved apart
    for batch, _ in batches:
        batch.close()


def test_the_delay_map_is_the_one_the_batch_delay_gathers_with():
    """`delay_lags` (a planner's view) is exactly the offsets `ActionDelay` gathers with."""
    for substeps, dt in ((4, 0.005), (10, 0.001), (1, 0.01)):
        for delay in (0.0, 0.0004, dt, 2.6 * dt, substeps * dt, 3.2 * substeps * dt):
            line = ActionDelay(1, 1, substeps, dt)
            line.set_delay(0, delay)
            np.testing.assert_array_equal(line.offsets[0], delay_lags(delay, dt, substeps))

"""Model-based controllers (robot_rl.control): LQR and sampling MPC on the MuJoCo model, as command sources.

These fail if the design breaks (a wrong linearization, a gain that does not stabilize, a delay the
model forgets), if a controller stops doing its task on the simulator (balance, swing-up, reach), if
one could put a command on the wire around the SafetyFilter, or if a bad command line is more than
one line. Each test costs seconds; the e2e test over real DDS is marked slow.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from error_checks import one_error_line
from test_control_node import FakeTransport, drive

from robot_rl.cli import main
from robot_rl.control.evaluation import controller_policy
from robot_rl.control.factory import build_controller
from robot_rl.control.lqr import LqrController
from robot_rl.control.model import PlanningModel
from robot_rl.control.source import ControllerSource
from robot_rl.deploy import procs
from robot_rl.deploy import ros2_msgs as m
from robot_rl.deploy.control_config import ControlNodeConfig
from robot_rl.deploy.control_node import ControlNode
from robot_rl.envs import make_env
from robot_rl.runtime import Controller
from robot_rl.runtime.command_source import CommandSource
from robot_rl.training.evaluation import evaluate
from sim.robot import load_robot

# The demo's "real" cart-pole (sim/robots/cartpole/demo.yaml): heavier pole, stiffer hinge, rough rail,
# weaker motor, 15 ms of command latency.
GAP = {"pole.mass": 0.24, "hinge.damping": 0.006, "slider.frictionloss": 0.2, "slider.gain": 0.88,
       "action_delay": 0.015}


@pytest.fixture(scope="module")
def cartpole():
    return load_robot("cartpole")


def run_episodes(controller, task: str, seeds: list[int], **env_kwargs) -> dict:
    """eval's own episode loop (`evaluate`) with the controller reading the env's joint state."""
    env = make_env(task, **{"engine": "mujoco", "randomization": None, **env_kwargs})
    results = [evaluate(controller_policy(controller, env, "test"), lambda: env, 1, seed) for seed in seeds]
    env.close()
    return {"success": [r["success_rate"] for r in results], "length": [r["mean_length"] for r in results]}


# -- LQR ------------------------------------------------------------------------------------------------


def test_the_control_step_jacobians_match_finite_differences_of_the_delayed_control_step(cartpole) -> None:
    """A = d x'/d x and B_l = d x'/d u_{k-l} of one 20 ms control step (4 substeps, 15 ms delay: three
    substeps still run the previous command) agree with central differences of `control_step` itself."""
    model = PlanningModel(cartpole, {"action_delay": 0.015, "slider.frictionloss": 0.0})
    assert model.history == 1 and model.lags.tolist() == [1, 1, 1, 0]
    q0, qd0, u0 = np.array([0.1, 0.05]), np.array([0.2, -0.3]), np.array([1.5])
    A, (B0, B1) = model.control_step_jacobians(q0, qd0, u0)
    x0 = np.concatenate([q0, qd0])

    def step(x, u_now, u_past):
        q, qd = model.control_step(x[:2], x[2:], np.array([u_now]), np.array([[u_past]]))
        return np.concatenate([q, qd])

    eps = 1e-6
    A_fd = np.column_stack([(step(x0 + eps * e, u0[0], u0[0]) - step(x0 - eps * e, u0[0], u0[0])) / (2 * eps)
                            for e in np.eye(4)])
    B0_fd = (step(x0, u0[0] + eps, u0[0]) - step(x0, u0[0] - eps, u0[0])) / (2 * eps)
    B1_fd = (step(x0, u0[0], u0[0] + eps) - step(x0, u0[0], u0[0] - eps)) / (2 * eps)
    np.testing.assert_allclose(A, A_fd, atol=1e-5)
    np.testing.assert_allclose(B0[:, 0], B0_fd, atol=1e-6)
    np.testing.assert_allclose(B1[:, 0], B1_fd, atol=1e-6)
    assert np.abs(B1).max() > 2 * np.abs(B0).max()  # most of the step runs the command in flight


def test_the_lqr_gain_stabilizes_the_linearized_cartpole(cartpole) -> None:
    lqr = LqrController(PlanningModel(cartpole, GAP), np.zeros(2))
    open_loop = np.abs(np.linalg.eigvals(lqr.A)).max()
    closed_loop = np.abs(lqr.closed_loop_eigenvalues()).max()
    assert open_loop > 1.05  # the upright pole is unstable: the test has something to stabilize
    assert closed_loop < 0.99
    assert lqr.A.shape == (5, 5)  # (x, theta, xd, thd) and the one command in flight


def test_the_lqr_balances_the_nominal_cartpole_from_0_15_rad_for_5_s(cartpole) -> None:
    lqr = build_controller("lqr", "CartpoleBalance-v0", cartpole)
    tilt = {"initial_state": {"position": [0.0, 0.15]}}  # the task's +-0.05 rad, plus up to 0.15
    env = make_env("CartpoleBalance-v0", engine="mujoco", randomization=tilt)
    starts = []
    for seed in range(100):
        env.reset(seed=seed)
        starts.append(env.unwrapped.state().q[1])
    env.close()
    seed = int(np.argmax(np.abs(starts)))
    out = run_episodes(lqr, "CartpoleBalance-v0", [seed], randomization=tilt)
    assert abs(starts[seed]) > 0.15  # the episode starts that far from upright
    assert out == {"success": [1.0], "length": [250.0]}  # 250 steps = 5 s, never past 0.4 rad


def test_an_lqr_designed_on_the_nominal_model_balances_the_cartpole_with_a_gap(cartpole) -> None:
    """Robustness: the plant is heavier, weaker, rougher and 15 ms late; the model knows none of it."""
    lqr = build_controller("lqr", "CartpoleBalance-v0", cartpole)  # nominal model
    assert lqr.model.delay == 0.0
    out = run_episodes(lqr, "CartpoleBalance-v0", [0, 1, 2], params=GAP)
    assert out == {"success": [1.0] * 3, "length": [250.0] * 3}


def test_the_reach_lqr_brings_the_end_effector_to_the_goal() -> None:
    iiwa = load_robot("iiwa")
    lqr = build_controller("lqr", "IiwaReach-v0", iiwa)
    assert np.abs(lqr.lqr.closed_loop_eigenvalues()).max() < 1.0
    assert run_episodes(lqr, "IiwaReach-v0", [0])["success"] == [1.0]  # within 2 cm after 2 s
    assert lqr.ik_error < 1e-3


# -- MPC ------------------------------------------------------------------------------------------------


def test_the_mpc_swings_up_the_nominal_cartpole_with_a_small_budget(cartpole) -> None:
    mpc = build_controller("mpc", "CartpoleSwingup-v0", cartpole)  # 16 samples x 50 steps a period
    try:
        out = run_episodes(mpc, "CartpoleSwingup-v0", [0])
    finally:
        mpc.mpc.close()
    assert out["success"] == [1.0]  # upright within 12 deg over the last quarter of the 5 s episode
    assert mpc.handovers >= 1 and len(mpc.mpc_timings) > 20  # the MPC swung it up, then the LQR caught it


def test_the_mpc_reach_brings_the_end_effector_within_the_success_distance() -> None:
    iiwa = load_robot("iiwa")
    mpc = build_controller("mpc", "IiwaReach-v0", iiwa)
    env = make_env("IiwaReach-v0", engine="mujoco", randomization=None)
    try:
        result = evaluate(controller_policy(mpc, env, "test"), lambda: env, 1, 0)
    finally:
        mpc.close()
    assert result["success_rate"] == 1.0
    assert len(mpc.timings) == 100 and mpc.timing_summary()["compute_p50_ms"] > 0


def test_the_sampled_rollouts_predict_what_the_model_does_with_the_delay(cartpole) -> None:
    """The planner's one rollout call lays out each sample's commands per substep as the robot's delay
    line does: its predicted trajectory equals stepping the model control step by control step."""
    from robot_rl.control.mpc import MpcSettings, SamplingMpc

    model = PlanningModel(cartpole, {"action_delay": 0.015})
    seen = {}

    def cost(q, qd, sites, u, goal):
        seen.update(q=q.copy(), u=u.copy())
        return np.zeros(len(q))

    mpc = SamplingMpc(model, cost, MpcSettings(samples=4, horizon=0.2, knots=3))
    mpc.past[:] = 3.0  # a command in flight from before
    q, qd = np.array([0.1, 3.0]), np.array([0.2, -0.5])
    mpc.command(q, qd)
    mpc.close()
    past = np.array([[3.0]])
    for k in range(mpc.H):
        q, qd = model.control_step(q, qd, seen["u"][2, k], past)
        past = seen["u"][2, k][None]
        np.testing.assert_allclose(seen["q"][2, k], q, atol=1e-9)


# -- behind the control node and its filter -----------------------------------------------------------------


def controller_node(source: ControllerSource, transport: FakeTransport) -> ControlNode:
    config = ControlNodeConfig(robot="cartpole", ramp_time=0.0, settle_time=0.0, activate=True)
    node = ControlNode(transport, config, lambda: Controller(source, safety_options=config.safety_options()),
                       clock=transport.clock, sleep=transport.clock.sleep)
    transport.subscribers["/estop"](m.Bool(False))
    return node


def test_the_controller_source_sends_only_filtered_commands_and_a_nan_faults(cartpole) -> None:
    source = ControllerSource.build("lqr", "CartpoleBalance-v0", cartpole)
    transport = FakeTransport()
    node = controller_node(source, transport)
    assert isinstance(source, CommandSource) and node.controller.source is source and node.kind == "lqr"
    drive(transport, cartpole, [0.0, 0.05], 5)
    balanced = transport.commands()[-1, 0]
    assert node.state == "active" and 0 < balanced < 20.0  # the LQR's own push towards upright
    drive(transport, cartpole, [0.0, 1.0], 5, start=5)  # 1 rad: the LQR asks for ~70 N
    assert source.controller.command(np.array([0.0, 1.0]), np.zeros(2))[0] == pytest.approx(20.0)  # own clip
    source.controller.lo[:], source.controller.hi[:] = -1e9, 1e9  # as if it did not clip: the filter must
    drive(transport, cartpole, [0.0, 1.0], 5, start=10)
    assert np.abs(transport.commands()).max() == pytest.approx(cartpole.actuators[0].effort_limit)
    source.controller.K[:] = np.nan  # a broken controller
    drive(transport, cartpole, [0.0, 0.05], 1, start=15)
    assert node.state == "fault" and node.controller.fault_reason == "NaN in command of actuator 'slider'"
    assert transport.commands()[-1, 0] == 0.0 and np.all(np.isfinite(transport.commands()))
    status = {kv.key: kv.value for kv in node.status().values}
    assert status["source"] == "lqr" and "LQR" in status["controller"] and float(status["compute_p99_ms"]) >= 0


def test_a_reach_controller_holds_until_a_goal_arrives_and_reads_it_from_the_node() -> None:
    iiwa = load_robot("iiwa")
    source = ControllerSource.build("lqr", "IiwaReach-v0", iiwa)
    assert source.task_input == "goal"
    q = np.array([0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0])
    source.start(0.0)
    held = source.command(0.0, q, np.zeros(7), None, None)
    np.testing.assert_allclose(held, source.controller.lqr.u0, atol=1e-9)  # the pose it stands in, held
    moved = source.command(0.02, q, np.zeros(7), np.array([0.5, 0.2, 0.5]), None)
    assert np.abs(moved - held).max() > 1e-3


# -- command line ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["deploy", "--policy", "policies/cartpole_swingup", "--controller", "lqr", "--task", "CartpoleBalance-v0",
          "--robot", "cartpole"], ["--policy", "--controller", "not both"]),
        (["deploy", "--controller", "mpc", "--task", "A1Walk-v0", "--robot", "a1"], ["--controller mpc", "A1Walk-v0"]),
        (["deploy", "--controller", "lqr", "--task", "CartpoleSwingup-v0", "--robot", "cartpole"],
         ["--controller lqr", "swing-up"]),
        (["deploy", "--controller", "lqr", "--task", "CartpoleBalance-v0", "--robot", "cartpole", "--model-params",
          "missing/params.yaml"], ["missing/params.yaml", "not found"]),
        (["deploy", "--controller", "lqr", "--robot", "cartpole"], ["--task"]),
        (["eval", "--controller", "mpc", "--task", "A1Walk-v0"], ["--controller mpc", "A1Walk-v0"]),
        (["eval", "--controller", "lqr", "--task", "CartpoleBalance-v0", "--model-params", "missing/params.yaml"],
         ["missing/params.yaml"]),
        (["eval"], ["RUN_DIR", "--controller"]),
    ],
)
def test_cli_errors_are_one_line(argv, words, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert main(argv) != 0
    line = one_error_line(capsys.readouterr().err, argv[0])
    for word in words:
        assert word in line, line


def test_eval_controller_reports_success_and_compute_time_as_json(capsys, tmp_path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("".join(f"{k}: {v}\n" for k, v in GAP.items()))
    assert main(["eval", "--controller", "lqr", "--task", "CartpoleBalance-v0", "--params", str(params),
                 "--model-params", str(params), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["success_rate"] == 1.0 and result["episodes"] == 2 and result["model_params"] == str(params)
    assert result["compute_p99_ms"] < result["control_period_ms"] and result["controller"] == "lqr"
    assert [e["end"] for e in result["per_episode"]] == ["time_limit", "time_limit"]  # balanced to the end


# -- end to end over real DDS ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_deploy_lqr_balances_the_sim_robot_over_dds(tmp_path: Path) -> None:
    """`robot-rl deploy --controller lqr` (its own process) against `robot-rl sim-robot` (PyBullet, with the
    gap, encoder noise): two 3 s balance episodes from up to 0.2 rad, every command within the 20 N limit."""
    env = procs.dds_env(procs.pick_domain_id())
    tilt = tmp_path / "tilt.yaml"
    tilt.write_text("initial_state:\n  position: [0.0, 0.15]\n")
    gap = tmp_path / "gap.yaml"
    gap.write_text("".join(f"{k}: {v}\n" for k, v in GAP.items()))
    cli = ["-m", "robot_rl.cli"]
    node = procs.spawn([*cli, "deploy", "--controller", "lqr", "--task", "CartpoleBalance-v0", "--robot", "cartpole",
                        "--model-params", str(gap), "--transport", "dds", "--sim", "--activate", "--watchdog", "1.0",
                        "--record", str(tmp_path / "bag")], env, tmp_path / "node.log")
    try:
        sim = subprocess.run(
            [sys.executable, *cli, "sim-robot", "--robot", "cartpole", "--engine", "pybullet", "--transport", "dds",
             "--task", "CartpoleBalance-v0", "--params", str(gap), "--randomization", str(tilt), "--continuous",
             "--episode-steps", "150", "--episodes", "2", "--lockstep", "--json"],
            env=env, capture_output=True, text=True, timeout=90)
    finally:
        procs.stop(node)
    log = (tmp_path / "node.log").read_text()
    assert sim.returncode == 0, sim.stderr[-2000:]
    summary = json.loads(sim.stdout.strip().splitlines()[-1])
    # Cut at 150 steps (3 s) on request, an episode gets no success verdict; it ends earlier only when the
    # pole passes 0.4 rad or the cart hits the rail stop, so a mean of 150 steps is two balanced episodes.
    assert summary["episodes"] == 2 and summary["mean_length"] == 150.0, (summary, log[-2000:])
    assert "lqr controller for CartpoleBalance-v0" in log and "FAULT" not in log
    from robot_rl.deploy.recorder import read_bag

    commands = [msg for topic, _, msg in read_bag(tmp_path / "bag") if topic == "/forward_command_controller/commands"]
    assert len(commands) >= 300 and all(abs(v) <= 20.0 for c in commands for v in c.data)
    assert max(abs(c.data[0]) for c in commands) > 1.0  # it did push


def test_flags_a_policy_node_keeps_are_unchanged_by_the_controller_flags() -> None:
    """--policy stays what it was for a policy: given, it is the folder; the controller flags default off."""
    import argparse

    from robot_rl.commands import deploy

    parser = argparse.ArgumentParser()
    deploy.add_arguments(parser)
    args = parser.parse_args(["--policy", "p", "--robot", "r"])
    assert (args.policy, args.controller, args.task, args.model_params) == ("p", None, None, None)
    fields = {f.name for f in dataclasses.fields(deploy.PolicyNodeConfig)}
    assert not fields & {"controller", "task", "model_params"}  # not node settings: the ROS node runs policies

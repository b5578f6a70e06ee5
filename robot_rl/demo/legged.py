"""The loop on a legged robot, and the gap of a legged robot whose folder names none (demo.yaml).

A walking policy is not trained inside a demo (about an hour on this machine: README, "Walking"),
so the loop starts from the robot's shipped policy (`--quick`) or `--policy FOLDER`:

1. deploy   the policy node (`robot-rl deploy`) drives the PyBullet robot whose physics differ from
            the nominal model (the reality gap, written to robot_params.yaml), two processes over real
            DDS (JointState + Imu + /cmd_vel in, position targets out), recording to rosbag2; the
            sim robot also reports falls and velocity tracking error (robot_rl.demo.legged_sim_robot)
2. identify the robot hung on a gantry (`robot-rl excite --suspended`: base fixed, legs swinging
            about the standing pose), then `calibration.identify` fits the motors
            (`*.gain,*.kd,*.frictionloss,action_delay`) in MuJoCo, as real quadrupeds are identified:
            with the feet off the floor each joint's motion depends on its own motor and leg only
3. compare  the same deployment in the training simulator (MuJoCo, nominal) and in the calibrated one
            (MuJoCo with the fitted motors), and the identified parameters against the true ones

Why the identification run is not over DDS like the fixed-base robots': the gantry is a simulator
setting of the excitation (`excite --suspended` plays the hung robot in PyBullet and records the same
rosbag2 a lab's recorder writes); the sim robot node has no gantry mode.

The deployments' sim robots read the joints and the IMU through the sensor model
(robot_rl.deploy.sensor_model: encoder counts, drive and MEMS noise; `ideal_sensors` switches it
off); the gantry run records with the gap's `obs_noise` (excite's own sensor noise).

The derived gap (`derive_gap`) is the legged class of the shipped walking policies' cards: the base
25% heavier, floor friction halved, motors 15% weaker, kd 30% higher, 20 ms of latency, encoder and
IMU noise, plus 0.2 N*m of dry friction in every joint so that the gantry has friction to find too.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robot_rl.demo.config import DemoConfig
from robot_rl.demo.plots import plot_deployment
from robot_rl.demo.spec import DemoSpec, missing_policy
from robot_rl.demo.steps import (
    cli,
    deploy_checked,
    film_identification,
    fresh,
    policy_source,
    step,
    write_gap,
    write_summary,
)
from robot_rl.errors import RobotRLError

if TYPE_CHECKING:
    from sim.robot import RobotSpec


def derive_gap(robot: RobotSpec) -> dict[str, Any]:
    """The legged gap as a params mapping (module docstring)."""
    return {
        f"{robot.base.link}.mass": {"scale": 1.25},
        "floor.friction": 0.5,
        "*.gain": {"scale": 0.85},
        "*.kd": {"scale": 1.3},
        "*.frictionloss": 0.2,
        "action_delay": 0.02,
        "obs_noise": 0.01,
    }


def identification_run(cfg: DemoConfig, spec: DemoSpec, params_file: Path) -> Path:
    """`robot-rl excite --suspended` on the PyBullet robot with the gap; returns the rosbag2 it recorded."""
    bag = fresh(cfg.out / "sysid_bag")
    proc = subprocess.run(cli("excite", "--robot", spec.robot, "--suspended", "--engine", "pybullet",
                              "--params", str(params_file), "--duration", str(spec.kind.excite_duration),
                              "--seed", str(cfg.seed), "--record", str(bag)),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not bag.exists():
        raise RobotRLError(f"the gantry excitation failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return bag


def identify_suspended(spec: DemoSpec, bag: Path, out_dir: Path):
    """The suspended robot's motors from the bag (calibration's public API, fitted in MuJoCo)."""
    from calibration import identify
    from sim.robot import load_robot, suspended

    # force: `robot-rl demo` has already refused a used --out unless --force (its calib/ is the demo's own)
    return identify(suspended(load_robot(spec.robot)), bag, list(spec.fit_names), out_dir, engine="mujoco",
                    skip=spec.kind.skip, force=True)


def group_of(name: str) -> str:
    """A legged robot's per-leg parameter under one name: FR_hip_joint.gain -> *_hip_joint.gain."""
    return re.sub(r"^(FR|FL|RR|RL|LF|RF|LH|RH)_", "*_", name)


def parameter_rows(fitted: dict[str, float], true: dict[str, float], nominal: dict[str, float]) -> list[dict]:
    """Identified vs true, grouped over the legs: per group the true and identified ranges and the worst error."""
    groups: dict[str, list[str]] = {}
    for name in fitted:
        groups.setdefault(group_of(name), []).append(name)
    rows = []
    for group, names in groups.items():
        errors = [abs(fitted[n] - true[n]) / max(abs(true[n]), 1e-12) for n in names]
        rows.append({
            "group": group, "n": len(names),
            "nominal": [min(nominal[n] for n in names), max(nominal[n] for n in names)],
            "true": [min(true[n] for n in names), max(true[n] for n in names)],
            "identified": [min(fitted[n] for n in names), max(fitted[n] for n in names)],
            "worst_error_pct": 100.0 * max(errors),
        })
    return rows


def brief(result: dict) -> dict:
    keys = ("episodes", "success_rate", "falls", "mean_tracking_error", "mean_return", "mean_length",
            "returns", "episode_metrics", "node_faults")
    return {k: result.get(k) for k in keys}


def run(cfg: DemoConfig, spec: DemoSpec, console) -> dict[str, Any]:
    """The legged loop (module docstring); returns (and writes) the summary."""
    from sim.robot import load_robot

    if cfg.policy is None and not cfg.quick:
        if spec.policy is None:
            raise missing_policy(spec, trains=False)
        raise RobotRLError(f"{spec.kind.train_hint}: run `robot-rl demo --robot {spec.robot} --quick` (the shipped "
                           f"{spec.policy}) or pass --policy FOLDER")
    policy_dir = policy_source(cfg, spec, trains=False)
    cfg.out.mkdir(parents=True, exist_ok=True)
    robot = load_robot(spec.robot)
    summary: dict[str, Any] = {"robot": spec.name, "task": spec.task, "quick": cfg.quick, "out": str(cfg.out),
                               "policy": str(policy_dir), "reality_gap": spec.reality_gap,
                               "reality_gap_source": spec.gap_source}
    t_all = time.perf_counter()
    console.print(f"using the policy in {policy_dir}")

    # 1. deploy to the robot with the gap, over DDS, recording
    t0 = step(console, f"1/3  deploy: policy node -> PyBullet {spec.name} with a reality gap, over DDS (JointState, "
                       "Imu, /cmd_vel), recording")
    params_file = cfg.out / "robot_params.yaml"
    true = write_gap(params_file, robot, spec.reality_gap)
    robot_result, bag = deploy_checked(cfg, spec, policy_dir, "pybullet", params_file, "robot", True, console,
                                       measure=True)
    cfg.timings["deploy_s"] = time.perf_counter() - t0
    console.print(f"robot: {describe(robot_result)}; recording in {bag}")
    summary["sensors"] = robot_result.get("sensors")  # the deployed robot's encoders and IMU (sim-robot's)
    summary["deployment_plot"] = str(plot_deployment(bag, cfg.out / "deployment.png", spec))

    # 2. identify the motors on the gantry
    t0 = step(console, f"2/3  identify on a gantry: `excite --suspended` ({spec.kind.excite_duration:g} s, "
                       f"PyBullet, rosbag2), then mujoco.sysid of {','.join(spec.fit_names)}")
    sysid_bag = identification_run(cfg, spec, params_file)
    fit = identify_suspended(spec, sysid_bag, cfg.out / "calib")
    cfg.timings["sysid_s"] = time.perf_counter() - t0
    console.print(f"fitted {len(fit.fitted)} parameters in {fit.wall_s:.0f} s; "
                  f"{'adequate' if fit.adequate else 'not adequate'}")
    summary["calibration"] = {**{k: str(v) for k, v in fit.paths.items()}, "adequate": bool(fit.adequate),
                              "reasons": list(fit.reasons)}
    if "params" not in fit.paths:
        raise RobotRLError(f"the identification wrote no calibrated parameters ({'; '.join(fit.reasons)}); see "
                           f"{fit.paths.get('report', cfg.out / 'calib')}")
    summary["replay_video"] = film_identification(cfg, spec.robot, sysid_bag, fit, console)  # on the gantry

    # 3. compare: the same deployment in the training simulator and the calibrated one
    summary["episodes"] = {"robot_pybullet_gap_over_dds": brief(robot_result)}
    if spec.kind.compare_in_sims:
        t0 = step(console, "3/3  compare through the same deploy chain: training sim, calibrated sim")
        nominal_eval, _ = deploy_checked(cfg, spec, policy_dir, "mujoco", None, "nominal_sim", False, console,
                                         measure=True)
        calibrated_eval, _ = deploy_checked(cfg, spec, policy_dir, "mujoco", Path(fit.paths["params"]),
                                            "calibrated_sim", False, console, measure=True)
        cfg.timings["compare_s"] = time.perf_counter() - t0
        summary["episodes"] = {"training_sim_mujoco_nominal": brief(nominal_eval), **summary["episodes"],
                               "calibrated_sim_mujoco": brief(calibrated_eval)}
    summary["parameters"] = {
        name: {"nominal": robot.nominal[name], "true": true[name], "identified": fit.fitted[name],
               "half_width_95": None if not np.isfinite(fit.half_widths[name]) else fit.half_widths[name],
               "error_pct": 100.0 * abs(fit.fitted[name] - true[name]) / max(abs(true[name]), 1e-12)}
        for name in fit.fitted
    }
    summary["parameter_groups"] = parameter_rows(fit.fitted, true, robot.nominal)
    motors = [p["error_pct"] for n, p in summary["parameters"].items() if n.endswith(".gain") or n == "action_delay"]
    summary["motor_gain_and_delay_worst_error_pct"] = max(motors) if motors else None
    summary["motor_target_pct"] = 100.0 * spec.kind.motor_target
    summary["next_training"] = (f"robot-rl train --task {spec.task}{spec.robot_flag()} --preset legged --params "
                                f"{fit.paths['params']} --randomize {fit.paths.get('randomization')} "
                                f"--out runs/{spec.name}_calibrated")
    return write_summary(cfg, summary, t_all, print_summary, console)


def describe(result: dict) -> str:
    err = result.get("mean_tracking_error")
    return (f"success {result['success_rate']:.2f}, falls {result.get('falls')} of {result['episodes']}, "
            f"tracking error {'-' if err is None else f'{err:.3f} m/s'}")


def _range(lo_hi: list[float]) -> str:
    lo, hi = lo_hi
    return f"{lo:.4g}" if np.isclose(lo, hi, rtol=1e-9, atol=1e-12) else f"{lo:.4g} - {hi:.4g}"


def print_summary(summary: dict[str, Any], console) -> None:
    from rich.table import Table

    episodes = Table(title="the policy through the same node + SafetyFilter over DDS, same episode seeds",
                     caption="robot: PyBullet + reality gap; training sim: MuJoCo, nominal; calibrated sim: "
                             "MuJoCo + the fitted motors. Tracking error: mean planar velocity error after 1 s.")
    for col in ("where", "success", "falls", "tracking error [m/s]", "return", "episodes"):
        episodes.add_column(col)
    labels = {"training_sim_mujoco_nominal": "training sim", "robot_pybullet_gap_over_dds": "robot",
              "calibrated_sim_mujoco": "calibrated sim"}
    for key, label in labels.items():
        if key not in summary["episodes"]:
            continue
        r = summary["episodes"][key]
        err = r.get("mean_tracking_error")
        faulted = " (node faulted)" if r.get("node_faults") else ""
        episodes.add_row(label + faulted, "-" if r["success_rate"] is None else f"{r['success_rate']:.2f}",
                         f"{r.get('falls')}", "-" if err is None else f"{err:.3f}", f"{r['mean_return']:.1f}",
                         str(r["episodes"]))
    console.print(episodes)
    params = Table(title="identified on the gantry vs the robot's true parameters (ranges over the legs)")
    params.add_column("parameter", no_wrap=True)
    for col in ("nominal", "true", "identified", "worst err"):
        params.add_column(col)
    target = summary["motor_target_pct"]
    for row in summary["parameter_groups"]:
        motor = row["group"].endswith(".gain") or row["group"] == "action_delay"
        style = None if not motor else ("green" if row["worst_error_pct"] <= target else "red")
        params.add_row(row["group"], _range(row["nominal"]), _range(row["true"]),
                       _range(row["identified"]), f"{row['worst_error_pct']:.1f}%", style=style)
    console.print(params)
    worst = summary["motor_gain_and_delay_worst_error_pct"]
    verdict = "[green]within[/green]" if worst is not None and worst <= target else "[red]outside[/red]"
    console.print(f"motor gains and delay: worst error {worst:.1f}% ({verdict} the {target:.0f}% target); "
                  f"identification {'adequate' if summary['calibration']['adequate'] else 'not adequate'} "
                  f"(reasons in {summary['calibration'].get('result', 'calib/result.json')})")
    console.print(f"outputs in {summary['out']}: summary.json, deployment.png, sysid report "
                  f"{summary['calibration'].get('report', '')}"
                  + (f", replay video {summary['replay_video']}" if summary.get("replay_video") else ""))
    console.print(f"train again on the calibrated simulator:\n  {summary['next_training']}")
    console.print(f"timings: {summary['timings_s']}")

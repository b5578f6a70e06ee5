"""The loop on a fixed-base robot (a cart-pole, an arm): the six steps of robot_rl.demo.

1-2. a policy: trained in MuJoCo under the robot's default DR and exported (the kind's settings), or
     taken (--quick: the robot's shipped policy; --policy FOLDER)
3.   deploy it over DDS to the PyBullet sim robot with the gap, recording
4.   an identification run on that robot (a multisine over DDS), then mujoco.sysid of the gap
5.   compare the return in the training simulator, on the robot and in the calibrated simulator
6.   (kinds with fine-tuning: the arm) fine-tune on the calibrated simulator, deploy again, compare
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.demo.config import CHECKPOINT_FILE, DemoConfig
from robot_rl.demo.plots import plot_deployment, plot_training
from robot_rl.demo.spec import DemoSpec
from robot_rl.demo.steps import (
    deploy_episodes,
    film_identification,
    fine_tune,
    identification_run,
    identify_gap,
    policy_source,
    step,
    train_policy,
    write_gap,
    write_summary,
)
from robot_rl.errors import RobotRLError


def finetune_plan(cfg: DemoConfig, spec: DemoSpec, policy_dir: Path | None) -> tuple[int | None, str | None]:
    """(fine-tuning steps or None, why not): asked for with --finetune-steps, else the kind's default
    where the policy has a training checkpoint to start from (a policy the demo trains has one)."""
    kind = spec.kind
    steps = cfg.finetune_steps or (kind.quick_finetune_steps if cfg.quick else kind.finetune_steps)
    if not steps:
        return None, None
    if policy_dir is not None and not (policy_dir / CHECKPOINT_FILE).is_file():
        why = (f"no training checkpoint to fine-tune from at {policy_dir / CHECKPOINT_FILE}; a policy folder made "
               "by `robot-rl demo` has one")
        if cfg.finetune_steps:
            raise RobotRLError(why)
        return None, why
    return steps, None


def run(cfg: DemoConfig, spec: DemoSpec, console) -> dict[str, Any]:
    """The whole loop on a fixed-base robot; returns (and writes) the summary."""
    from sim.robot import load_robot

    taken = cfg.policy is not None or cfg.quick
    policy_dir = policy_source(cfg, spec, trains=True) if taken else None
    finetune_steps, no_finetune = finetune_plan(cfg, spec, policy_dir)
    n_steps = 6 if finetune_steps else 5
    cfg.out.mkdir(parents=True, exist_ok=True)
    robot = load_robot(spec.robot)
    summary: dict[str, Any] = {"robot": spec.name, "task": spec.task, "quick": cfg.quick, "out": str(cfg.out),
                               "reality_gap_source": spec.gap_source}
    t_all = time.perf_counter()

    # 1-2. a policy
    if policy_dir is not None:
        console.print(f"using the policy in {policy_dir}")
    else:
        t0 = step(console, f"1-2/{n_steps}  train in MuJoCo under domain randomization, export to ONNX")
        run_dir, policy_dir = train_policy(cfg, spec, console)
        cfg.timings["train_export_s"] = time.perf_counter() - t0
        curve = plot_training(run_dir, cfg.out / "training_curve.png", f"PPO, {spec.task}, MuJoCo, default DR")
        if curve:
            summary["training_curve"] = str(curve)
    summary["policy"] = str(policy_dir)

    # 3. deploy against the sim robot with a reality gap, recording
    t0 = step(console, f"3/{n_steps}  deploy: policy node -> PyBullet sim robot with a reality gap, over DDS, "
                       "recording")
    params_file = cfg.out / "robot_params.yaml"
    true_values = write_gap(params_file, robot, spec.reality_gap)
    robot_result, bag = deploy_episodes(cfg, spec, policy_dir, "pybullet", params_file, "robot", record=True)
    cfg.timings["deploy_s"] = time.perf_counter() - t0
    console.print(f"robot: {describe(robot_result)} over {robot_result['episodes']} episodes; recording in {bag}")
    summary["sensors"] = robot_result.get("sensors")  # what the robot's published joint states went through
    summary["deployment_plot"] = str(plot_deployment(bag, cfg.out / "deployment.png", spec))

    # 4. identification run on the robot, then identify
    t0 = step(console, f"4/{n_steps}  identification run on the robot (multisine over DDS), then mujoco.sysid")
    sysid_bag = identification_run(cfg, spec, params_file, console)
    console.print(f"recorded the identification run in {sysid_bag}; fitting {', '.join(spec.fit_names)}")
    fit = identify_gap(spec, sysid_bag, cfg.out / "calib")
    cfg.timings["sysid_s"] = time.perf_counter() - t0
    console.print(f"identified in {time.perf_counter() - t0:.0f} s")
    summary["calibration"] = {k: str(v) for k, v in fit.paths.items()}
    adequate = getattr(fit, "adequate", None)  # the identification's own verdict, where it gives one
    if adequate is not None:
        summary["calibration"]["adequate"] = bool(adequate)
    if "params" not in fit.paths:
        reasons = "; ".join(getattr(fit, "reasons", []) or fit.notes[-3:])
        raise RobotRLError(f"the identification wrote no calibrated parameters ({reasons}); see "
                           f"{fit.paths.get('report', cfg.out / 'calib')}")
    summary["replay_video"] = film_identification(cfg, spec.robot, sysid_bag, fit, console)

    # 5. compare
    t0 = step(console, f"5/{n_steps}  compare through the same deploy chain: training sim, robot, calibrated sim")
    nominal_eval, _ = deploy_episodes(cfg, spec, policy_dir, "mujoco", None, "nominal_sim", record=False)
    calibrated_eval, _ = deploy_episodes(cfg, spec, policy_dir, "mujoco", Path(fit.paths["params"]),
                                         "calibrated_sim", record=False)
    cfg.timings["compare_s"] = time.perf_counter() - t0
    summary["returns"] = {
        "training_sim_mujoco_nominal": brief(nominal_eval),
        "robot_pybullet_gap_over_dds": brief(robot_result),
        "calibrated_sim_mujoco": brief(calibrated_eval),
    }
    gap_before = rel_gap(nominal_eval["mean_return"], robot_result["mean_return"])
    gap_after = rel_gap(calibrated_eval["mean_return"], robot_result["mean_return"])
    summary["sim_to_real_return_gap"] = {"nominal": gap_before, "calibrated": gap_after, "target_calibrated": 0.05}
    summary["parameters"] = {
        name: {
            "nominal": robot.nominal[name],
            "true": true_values[name],
            "identified": fit.fitted[name],
            "half_width_95": None if not np.isfinite(fit.half_widths[name]) else fit.half_widths[name],
            "error_pct": 100.0 * abs(fit.fitted[name] - true_values[name]) / max(abs(true_values[name]), 1e-12),
        }
        for name in fit.fitted
    }
    summary["next_training"] = (f"robot-rl train --task {spec.task}{spec.robot_flag()} --algo ppo --params "
                                f"{fit.paths.get('params')} --randomize {fit.paths.get('randomization')} "
                                f"--out runs/{spec.name}_calibrated")

    # 6. fine-tune on the calibrated simulator, deploy again
    if no_finetune:
        console.print(f"[yellow]no fine-tuning step: {no_finetune}[/yellow]")
        summary["finetune"] = {"skipped": no_finetune}
    if finetune_steps:
        t0 = step(console, f"6/{n_steps}  fine-tune on the calibrated simulator ({finetune_steps} steps), "
                           "deploy to the robot again")
        init = policy_dir / CHECKPOINT_FILE
        tuned_run, tuned_dir = fine_tune(cfg, spec, init, Path(fit.paths["params"]),
                                         Path(fit.paths["randomization"]), finetune_steps, console)
        after, _ = deploy_episodes(cfg, spec, tuned_dir, "pybullet", params_file, "robot_after", record=False)
        cfg.timings["finetune_deploy_s"] = time.perf_counter() - t0
        summary["policy_calibrated"] = str(tuned_dir)
        summary["robot_before_after"] = {"before": brief(robot_result), "after": brief(after)}
        summary["finetune"] = {"steps": finetune_steps, "run": str(tuned_run), "init": str(init)}
    return write_summary(cfg, summary, t_all, print_summary, console)


def describe(result: dict) -> str:
    text = f"return {result['mean_return']:.1f}, success {result['success_rate']:.2f}"
    if result.get("mean_final_goal_distance") is not None:
        text += f", final position error {100 * result['mean_final_goal_distance']:.1f} cm (mean)"
    return text


def brief(result: dict) -> dict:
    out = {k: result.get(k) for k in ("mean_return", "std_return", "success_rate", "episodes", "returns")}
    for k in ("mean_final_goal_distance", "max_final_goal_distance", "final_goal_distance"):
        if k in result:  # tasks with a goal position (the reach)
            out[k] = result[k]
    return out


def rel_gap(sim_return: float, robot_return: float) -> float:
    return abs(sim_return - robot_return) / max(abs(robot_return), 1e-9)


def _cm(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def print_summary(summary: dict[str, Any], console) -> None:
    from rich.table import Table

    returns = Table(title="policy return through the same node + SafetyFilter over DDS, same episode seeds")
    for col in ("where", "mean return", "std", "success rate", "final error [cm]", "episodes"):
        returns.add_column(col)
    labels = {
        "training_sim_mujoco_nominal": "training sim (MuJoCo, nominal)",
        "robot_pybullet_gap_over_dds": "robot (PyBullet + reality gap)",
        "calibrated_sim_mujoco": "calibrated sim (MuJoCo + fit)",
    }
    for key, label in labels.items():
        r = summary["returns"][key]
        returns.add_row(label, f"{r['mean_return']:.1f}", f"{r['std_return']:.1f}",
                        "-" if r["success_rate"] is None else f"{r['success_rate']:.2f}",
                        _cm(r.get("mean_final_goal_distance")), str(r["episodes"]))
    console.print(returns)
    gap = summary["sim_to_real_return_gap"]
    verdict = "[green]within[/green]" if gap["calibrated"] <= gap["target_calibrated"] else "[red]outside[/red]"
    console.print(f"return gap to the robot: nominal sim {100 * gap['nominal']:.1f}%, calibrated sim "
                  f"{100 * gap['calibrated']:.1f}% ({verdict} the 5% target)")
    if "robot_before_after" in summary:
        ba = Table(title="on the robot (PyBullet + reality gap, over DDS): before and after fine-tuning on the "
                         "calibrated simulator")
        for col in ("policy", "success rate", "mean final error [cm]", "max final error [cm]", "mean return"):
            ba.add_column(col)
        for key, label in (("before", "before (trained on nominal + DR)"), ("after", "after (fine-tuned, calibrated)")):
            r = summary["robot_before_after"][key]
            ba.add_row(label, f"{r['success_rate']:.2f}", _cm(r.get("mean_final_goal_distance")),
                       _cm(r.get("max_final_goal_distance")), f"{r['mean_return']:.1f}")
        console.print(ba)
    params = Table(title="identified parameters vs the sim robot's true ones")
    for col in ("parameter", "nominal", "true", "identified", "95% +-", "error"):
        params.add_column(col)
    for name, p in summary["parameters"].items():
        hw = "unidentifiable" if p["half_width_95"] is None else f"{p['half_width_95']:.3g}"
        # Two significant digits, not a fixed decimal: a fit to 2e-4% is not "0.0%".
        params.add_row(name, f"{p['nominal']:.4g}", f"{p['true']:.4g}", f"{p['identified']:.6g}", hw,
                       f"{p['error_pct']:.2g}%")
    console.print(params)
    adequate = summary["calibration"].get("adequate")
    if adequate is not None:
        console.print(f"identification verdict: {'adequate' if adequate else 'not adequate'} "
                      f"(reasons in {summary['calibration'].get('result', 'calib/result.json')})")
    console.print(f"outputs in {summary['out']}: summary.json, deployment.png"
                  + (", training_curve.png" if "training_curve" in summary else "")
                  + f", sysid report {summary['calibration'].get('report', '')}"
                  + (f", replay video {summary['replay_video']}" if summary.get("replay_video") else ""))
    if "policy_calibrated" in summary:
        console.print(f"the policy fine-tuned on the calibrated simulator: {summary['policy_calibrated']}")
    else:
        console.print(f"train again on the calibrated simulator:\n  {summary['next_training']}")
    console.print(f"timings: {summary['timings_s']}")

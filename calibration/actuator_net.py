"""Fit an actuator network (Hwangbo et al. 2019) to logged targets, positions, velocities and efforts.

Why: the motors of a robot may not be the ideal PD servo of robot.yaml (a torque-speed envelope, a
current lag, backlash: sim/motor_model.py), and nothing in the parameter vocabulary expresses that.
What a drive does is still in its log: the torque it produced after a history of position errors
(target - position) and velocities. A small network per actuator learns that map; the engines
then run it every physics step in training (sim/actuator_net.py, `robot-rl train --actuator-net`).

Two parts:

* `run_actuator_excitation`: an excitation for a drive rather than for masses: the pose tour and
  multisine of calibration/excitation.py plus random target steps held 0.1-0.5 s (what a policy
  does: the drive sees large errors and saturates), targets rate-limited at the velocity limit as the
  SafetyFilter's rate rule lets them through; joint states and efforts recorded at a rate of its own
  (default every physics step, as a joint drive reports them; commands at the control rate).
* `fit_actuator_net`: inputs at each sample k: error and velocity at k, k - s, ..., k - (h - 1) s;
  target: the effort reported at k + 1 (the torque the drive produced over the next sample after
  that history). The last `holdout` of every log is kept out and reports the held-out RMS torque
  error per actuator as a percentage of the actuator's measured effort range, next to the error of
  robot.yaml's PD law on the same samples (the model the network replaces).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calibration.errors import CalibrationError
from sim.actuator_net import ActuatorNet, load_actuator_net
from sim.robot import RobotSpec

STEP_HOLD = (0.1, 0.5)  # s, how long each random target step is held
STEP_AMPLITUDE = 0.25  # random steps, fraction of each joint's half range


def excitation_targets(robot: RobotSpec, duration: float, seed: int, step_amplitude: float = STEP_AMPLITUDE,
                       max_speed: float = 1.0) -> np.ndarray:
    """(steps + 1, n_act) position targets on the control grid: pose tour + multisine + random held steps."""
    from calibration.excitation import Excitation, ExcitationConfig

    if any(a.type != "position" for a in robot.actuators):
        raise CalibrationError(f"'{robot.name}' has force actuators; an actuator network models position servos")
    exc = Excitation(robot, duration, seed, ExcitationConfig(amplitude=0.4, n_poses=max(1, min(4, int(duration // 4)))))
    base = exc.targets
    n, dt = len(base), robot.control_dt
    rng = np.random.default_rng(seed + 7_777)
    t = np.arange(n) * dt
    fade = np.clip((t - exc.cfg.settle) / exc.cfg.ramp, 0.0, 1.0)
    targets = base.copy()
    for i, j in enumerate(robot.actuator_joint_indices()):
        jnt = robot.joints[j]
        lo, hi = jnt.position_limits if jnt.position_limits is not None else (-np.inf, np.inf)
        half = 0.5 * (hi - lo) if np.isfinite(hi - lo) else 1.0
        steps, k = np.zeros(n), 0
        while k < n:
            hold = max(1, int(rng.uniform(*STEP_HOLD) / dt))
            steps[k:k + hold] = rng.uniform(-1.0, 1.0) * step_amplitude * half
            k += hold
        target = base[:, i] + fade * steps
        margin = 0.1 * half
        target = np.clip(target, lo + margin, hi - margin)
        rate = max_speed * jnt.velocity_limit * dt
        for k in range(1, n):
            target[k] = target[k - 1] + np.clip(target[k] - target[k - 1], -rate, rate)
        targets[:, i] = target
    return targets


def run_actuator_excitation(engine, robot: RobotSpec, duration: float, seed: int, record_every: int = 1,
                            obs_noise: float = 0.0, recorder=None,
                            progress: Callable[[int, int], None] | None = None, source: str = "simulation"):
    """Play `excitation_targets` on a simulated robot (an `Engine`, e.g. with a motor model), recording
    joint states with efforts every `record_every` physics steps and the commands at the control rate.

    Returns the `calibration.log.RobotLog`; `recorder` (a BagRecorder) gets the same messages.
    """
    from calibration.excitation import hold_before_start
    from calibration.log import make_log

    if record_every < 1 or robot.substeps % record_every:
        raise CalibrationError(f"the state rate must divide the physics rate into the control rate: "
                               f"{robot.substeps} physics steps per control step, not a multiple of {record_every}")
    targets = excitation_targets(robot, duration, seed)
    rng = np.random.default_rng(seed + 1_000_003)
    nj, n = len(robot.joints), len(targets) - 1
    q0 = np.zeros(nj)
    q0[robot.actuator_joint_indices()] = targets[0]
    engine.reset(q0, np.zeros(nj))
    hold_before_start(engine, targets[0])
    per_step = robot.substeps // record_every
    dt_rec = record_every * robot.physics_dt
    rows_t, rows_q, rows_qd, rows_tau = [], [], [], []

    def sample(t: float) -> None:
        s = engine.state()
        q, qd = s.q, s.qd
        if obs_noise > 0:
            q, qd = q + rng.normal(0.0, obs_noise, nj), qd + rng.normal(0.0, obs_noise, nj)
        tau = np.zeros(nj) if s.tau is None else s.tau
        rows_t.append(t)
        rows_q.append(q)
        rows_qd.append(qd)
        rows_tau.append(tau)
        if recorder is not None:
            recorder.write_joint_state(int(round(t * 1e9)), None, q, qd, tau)

    sample(0.0)
    for k in range(n):
        t0 = k * robot.control_dt
        if recorder is not None:
            recorder.write_command(int(round(t0 * 1e9)), targets[k])
        done = 0
        for cmd, m in engine.delay.segments(targets[k]):
            for _ in range(m):  # record every `record_every` physics steps, across delay segments
                engine.run_substeps(cmd, 1)
                done += 1
                if done % record_every == 0:
                    sample(t0 + (done // record_every) * dt_rec)
        if progress is not None:
            progress(k + 1, n)
    assert len(rows_t) == n * per_step + 1
    return make_log(joint_names=robot.joint_names, actuator_names=robot.actuator_names, t=np.array(rows_t),
                    q=np.array(rows_q), qd=np.array(rows_qd), command_t=np.arange(n) * robot.control_dt,
                    command=targets[:n], effort=np.array(rows_tau), source=source)


@dataclass
class Dataset:
    """Inputs (M, n_act, 2h) and measured torques (M, n_act) of one split."""

    x: np.ndarray
    y: np.ndarray
    pd: np.ndarray  # robot.yaml's PD law on the same samples (M, n_act)


def _stride(log, spacing: float) -> int:
    dt = log.sample_dt
    spread = np.ptp(np.diff(log.t)) if len(log.t) > 2 else 0.0
    if spread > 0.05 * dt:
        raise CalibrationError(f"{log.source or 'log'}: joint states are not evenly spaced (intervals "
                               f"{np.min(np.diff(log.t)):.4g}-{np.max(np.diff(log.t)):.4g} s); an actuator network "
                               "needs a uniform history")
    stride = spacing / dt
    if abs(stride - round(stride)) > 0.01 or round(stride) < 1:
        raise CalibrationError(f"--spacing {spacing:g} s is not a whole number of the log's sample interval "
                               f"({dt:g} s)")
    return int(round(stride))


def _samples(robot: RobotSpec, log, history: int, stride: int, params: dict[str, float],
             part: slice | None = None) -> Dataset:
    """The (inputs, next effort) pairs of one log (or a slice of its samples)."""
    joints = robot.actuator_joint_indices()
    err = log.command_at(log.t) - log.q[:, joints]
    vel = log.qd[:, joints]
    tau = log.effort[:, joints]
    span = (history - 1) * stride
    k = np.arange(span, len(log.t) - 1)
    if part is not None:
        k = k[part]
    back = np.arange(history - 1, -1, -1) * stride
    idx = k[:, None] - back[None, :]  # (M, h), oldest first
    x = np.concatenate([err[idx], vel[idx]], axis=1)  # (M, 2h, n_act)
    x = np.swapaxes(x, 1, 2)
    gain = np.array([params[f"{a.name}.gain"] for a in robot.actuators])
    kp = np.array([params[f"{a.name}.kp"] for a in robot.actuators])
    kd = np.array([params[f"{a.name}.kd"] for a in robot.actuators])
    limit = np.array([a.effort_limit for a in robot.actuators])
    pd = np.clip(gain * (kp * err[k] - kd * vel[k]), -limit, limit)
    return Dataset(x, tau[k + 1], pd)


def split_logs(robot: RobotSpec, logs: Sequence, history: int, spacing: float, holdout: float,
               params: dict[str, float]) -> tuple[Dataset, Dataset]:
    """(training, held-out) samples: the last `holdout` of every log held out."""
    train, test = [], []
    for log in logs:
        if log.effort is None:
            raise CalibrationError(f"{log.source or 'log'} has no joint efforts; record one that has them "
                                   "(`robot-rl excite --motor-model ...` on a simulated robot, or a robot that "
                                   "reports JointState.effort)")
        if tuple(log.joint_names) != tuple(robot.joint_names):
            raise CalibrationError(f"{log.source or 'log'}: joints {list(log.joint_names)} are not "
                                   f"'{robot.name}''s {list(robot.joint_names)}")
        stride = _stride(log, spacing)
        full = _samples(robot, log, history, stride, params)
        m = len(full.y)
        if m < 50:
            raise CalibrationError(f"{log.source or 'log'}: only {m} samples after the history; record a longer log")
        cut = int(round(m * (1.0 - holdout)))
        # The held-out part starts one history span after the cut: no training sample overlaps it.
        train.append(Dataset(full.x[:cut], full.y[:cut], full.pd[:cut]))
        gap = (history - 1) * stride + 1
        if holdout > 0:
            test.append(Dataset(full.x[cut + gap:], full.y[cut + gap:], full.pd[cut + gap:]))

    def cat(parts: list[Dataset]) -> Dataset:
        return Dataset(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "y", "pd")))

    return cat(train), (cat(test) if test else cat(train))


def torque_error_pct(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per actuator: RMS of (pred - y) as a percentage of the measured effort range (max - min) of y."""
    rng = np.ptp(y, axis=0)
    return 100.0 * np.sqrt(np.mean((pred - y) ** 2, axis=0)) / np.maximum(rng, 1e-9)


def fit_actuator_net(robot: RobotSpec, logs: Sequence, *, history: int = 3, spacing: float | None = None,
                     hidden: int = 32, layers: int = 2, holdout: float = 0.25, iterations: int = 3000,
                     seed: int = 0, params: dict[str, float] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> tuple[ActuatorNet, dict[str, Any]]:
    """Fit one small tanh MLP per actuator (all in one batched torch model); return the net and its report.

    `spacing` (s, default: the multiple of the first log's sample interval nearest 10 ms): the time
    between history samples; the history should span a few of the drive's time constants. The report:
    per-actuator held-out RMS error (% of the effort range) of the network and of robot.yaml's PD law,
    their worst and mean, samples and wall time.
    """
    import torch

    from sim.params import resolve_params

    if not logs:
        raise CalibrationError("no logs given")
    if not 0.0 <= holdout < 0.9:
        raise CalibrationError(f"--holdout {holdout:g} must lie in [0, 0.9)")
    if history < 1 or hidden < 1 or layers < 1:
        raise CalibrationError("history, hidden and layers must be >= 1")
    values = resolve_params(robot, params)
    if spacing is None:
        dt = logs[0].sample_dt
        spacing = max(1, round(0.01 / dt)) * dt
    start = time.perf_counter()
    train, test = split_logs(robot, logs, history, spacing, holdout, values)
    x_mean, x_std = train.x.mean(axis=0), train.x.std(axis=0) + 1e-6
    y_mean, y_std = train.y.mean(axis=0), train.y.std(axis=0) + 1e-6
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        nu, nin = train.x.shape[1], train.x.shape[2]
        sizes = [nin] + [hidden] * layers + [1]
        params_t = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            w = torch.randn(nu, a, b, dtype=torch.float32) * np.sqrt(1.0 / a)
            params_t += [w.requires_grad_(), torch.zeros(nu, b, dtype=torch.float32, requires_grad=True)]
        xs = torch.as_tensor((train.x - x_mean) / x_std, dtype=torch.float32)
        ys = torch.as_tensor((train.y - y_mean) / y_std, dtype=torch.float32)

        def net(x: torch.Tensor) -> torch.Tensor:
            h = x
            for k in range(0, len(params_t), 2):
                h = torch.einsum("mji,jio->mjo", h, params_t[k]) + params_t[k + 1]
                if k < len(params_t) - 2:
                    h = torch.tanh(h)
            return h[..., 0]

        opt = torch.optim.Adam(params_t, lr=3e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iterations)
        gen = torch.Generator().manual_seed(seed)
        batch = min(512, len(xs))
        for it in range(iterations):
            pick = torch.randint(0, len(xs), (batch,), generator=gen)
            loss = torch.mean((net(xs[pick]) - ys[pick]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if progress is not None and (it + 1) % 100 == 0:
                progress(it + 1, iterations)
        weights = [params_t[k].detach().double().numpy() for k in range(0, len(params_t), 2)]
        biases = [params_t[k].detach().double().numpy() for k in range(1, len(params_t), 2)]
    finally:
        torch.set_num_threads(threads)
    net_np = ActuatorNet(robot.name, list(robot.actuator_names), history, float(spacing), x_mean, x_std,
                         y_mean, y_std, weights, biases)
    pred = net_np.forward(test.x)
    err_net, err_pd = torque_error_pct(pred, test.y), torque_error_pct(test.pd, test.y)
    report = {
        "heldout_error_pct": {a: float(e) for a, e in zip(robot.actuator_names, err_net, strict=True)},
        "heldout_error_pct_pd": {a: float(e) for a, e in zip(robot.actuator_names, err_pd, strict=True)},
        "worst_pct": float(err_net.max()), "mean_pct": float(err_net.mean()),
        "pd_worst_pct": float(err_pd.max()), "pd_mean_pct": float(err_pd.mean()),
        "train_samples": int(len(train.y)), "heldout_samples": int(len(test.y)), "holdout": holdout,
        "history": history, "spacing": float(spacing), "hidden": [hidden] * layers,
        "logs": [str(log.source) for log in logs], "wall_s": round(time.perf_counter() - start, 2),
    }
    net_np.fit = report
    return load_actuator_net(robot, net_np), report


THRESHOLD_PCT = 10.0  # the target: held-out RMS torque error at most 10% of the effort range


def run_cli(args) -> int:
    """`robot-rl sysid --actuator-net LOG... --robot R --out FILE`: fit, print the table, save the file.

    Exit 0 when every actuator's held-out error is within THRESHOLD_PCT, 3 otherwise (the file is
    written either way, its fit metadata saying how good it is).
    """
    from rich.console import Console
    from rich.table import Table

    from calibration.load import load_log
    from sim.robot import load_robot

    extra = [flag for flag, given in (("--log", getattr(args, "log", None)), ("--fit", getattr(args, "fit", None)),
                                      ("--model", getattr(args, "model", "physics") != "physics")) if given]
    if extra:
        raise CalibrationError(f"--actuator-net fits the drives from its own logs: drop {', '.join(extra)}")
    console = Console()
    robot = load_robot(args.robot)
    out = Path(args.out)
    if out.is_dir():
        raise CalibrationError(f"--out {out} is a folder; give the network's file name, e.g. "
                               f"{out / 'actuator_net.json'}")
    if out.exists() and not args.force:
        raise CalibrationError(f"--out {out} exists already; pass --force to replace it")
    logs = [load_log(p, robot, command_topic=args.command_topic, repair=args.repair_log) for p in args.actuator_net]
    holdout = 0.25 if getattr(args, "holdout", None) is None else args.holdout
    # `--history`: past samples besides the current one (sysid's option, shared with --model mlp).
    history = 1 + (getattr(args, "history", None) if getattr(args, "history", None) is not None else 2)
    net, report = fit_actuator_net(robot, logs, holdout=holdout, params=args.params, history=history,
                                   seed=getattr(args, "seed", 0))
    net.save(out)
    table = Table(title=f"{robot.name}: actuator network, {report['train_samples']} samples, history "
                  f"{net.history} x {1000 * net.spacing:g} ms, {report['wall_s']:.1f} s")
    for col in ("actuator", "held-out error (% of effort range)", "PD law (robot.yaml)"):
        table.add_column(col)
    for a in robot.actuator_names:
        e = report["heldout_error_pct"][a]
        table.add_row(a, f"{e:.1f}", f"{report['heldout_error_pct_pd'][a]:.1f}",
                      style=None if e <= THRESHOLD_PCT else "red")
    console.print(table)
    console.print(f"  worst {report['worst_pct']:.1f}%, mean {report['mean_pct']:.1f}% (PD law: worst "
                  f"{report['pd_worst_pct']:.1f}%, mean {report['pd_mean_pct']:.1f}%)")
    console.print(f"  wrote {out}; train with it: robot-rl train --task Reach --robot {args.robot} "
                  f"--actuator-net {out}")
    if report["worst_pct"] > THRESHOLD_PCT:
        console.print(f"[red]not adequate[/red]: an actuator's held-out error exceeds {THRESHOLD_PCT:g}% (exit 3)")
        return 3
    return 0


__all__ = ["THRESHOLD_PCT", "excitation_targets", "fit_actuator_net", "run_actuator_excitation", "run_cli",
           "torque_error_pct"]

"""A learned dynamics model: an MLP predicting the next joint state from the state, the command and a history.

    model = train_dynamics(robot, [segment_log, ...])        # torch, seconds on a CPU
    q, qd = model.rollout(q_hist, qd_hist, u_past, u_plan)   # numpy, batched
    model.save("calib/mlp/dynamics.pt"); LearnedDynamics.load(path)

What it predicts, and why so:

- one step of ``dt`` (the robot's control period by default): x_{k+1} - x_k for x = (q, qd), from
  the joint states x_{k-h..k} and the commands u_{k-h..k} (``history`` h, default 2). The history
  stands in for what the state alone does not show: an action delay (commands still in flight), a
  motor's lag, a velocity read from noisy encoders;
- the *delta*, normalized by its mean and spread on the training data, from inputs normalized the
  same way: the next state is the current one plus a small correction, and an MLP learns that
  correction well where it would learn an identity map poorly;
- a continuous joint's angle enters as (sin, cos): the pendulum's motion does not depend on how
  many turns it made, and an angle outside the training range must not look new to the network (a
  log that wraps it to [-pi, pi] is unwrapped first, so no step's delta is a jump of 2 pi);
- a position servo's target enters as its error from the joint's position: that is what drives the
  servo, wherever the arm is.

Training minimizes the error of short open-loop rollouts (``unroll`` steps, default 8) rather than
of single steps: the model is judged (and used by a planner) on rollouts, where a one-step model's
small biases compound; a few steps of unrolling is the usual cure (the "multi-step loss" of
learned-dynamics MPC). The loss weights each signal by its per-step spread.

Inference is numpy (`LearnedDynamics`), batched over any leading axes, so a sampling MPC rolls out
its K plans in one call per step; loading a saved model needs torch only to read the file
(`torch.load(..., weights_only=True)`: tensors and plain values, no pickle of code).

`compare_open_loop` is what `robot-rl sysid --model mlp` reports: the model and the MuJoCo physics
(the identified params, replayed by `calibration.mujoco_fit.MujocoProblem` exactly as the fit's own
validation replays held-out data) rolled out open loop over 1 s windows of held-out data from the
same states with the recorded commands; RMS joint position error of each, next to a "hold" baseline
(the state frozen at the window's start) that any useful model must beat.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from calibration.errors import FitError
from calibration.log import RobotLog
from calibration.segments import Segment, estimate_state_at
from sim.robot import RobotSpec

FORMAT = "robot_rl.learned_dynamics/1"
FILE_NAME = "dynamics.pt"
DEFAULT_WINDOW_S = 1.0


@dataclass(frozen=True)
class DynamicsSettings:
    """How the model is shaped and trained. ``history``: past (state, command) pairs besides the
    current one. ``dt``: the model's step (None: the robot's control period). ``unroll``: steps of the
    open-loop training loss. ``steps``: Adam steps (cosine-annealed). ``threads``: torch threads."""

    history: int = 2
    hidden: int = 128
    layers: int = 2
    dt: float | None = None
    unroll: int = 8
    steps: int = 1500
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 0
    threads: int = 1

    def check(self) -> None:
        if self.history < 0 or self.hidden < 1 or self.layers < 1 or self.unroll < 1 or self.steps < 1:
            raise FitError(f"dynamics model settings {self}: need history >= 0, hidden, layers, unroll, steps >= 1")


@dataclass
class Trajectory:
    """A gap-free stretch of log on the model's uniform time grid: u[k] is the command in force from
    step k to step k + 1 (zero-order hold, as the robot held it)."""

    t: np.ndarray  # (N,) seconds in the log
    q: np.ndarray  # (N, J)
    qd: np.ndarray  # (N, J)
    u: np.ndarray  # (N, U)
    source: str = ""


def resample(log: RobotLog, dt: float) -> Trajectory:
    """`log` (one gap-free segment) on a grid of step `dt`: states interpolated linearly, commands ZOH.

    A log sampled more coarsely than `dt` cannot show what happens within a step: an error saying so.
    """
    if log.sample_dt > 1.5 * dt:
        raise FitError(f"{log.source}: joint states every {log.sample_dt * 1e3:.1f} ms, coarser than the dynamics "
                       f"model's step {dt * 1e3:.1f} ms; record the joint states at the control rate or faster")
    n = int(np.floor((log.t[-1] - log.t[0]) / dt + 1e-9)) + 1
    t = log.t[0] + np.arange(n) * dt
    q = np.column_stack([np.interp(t, log.t, log.q[:, j]) for j in range(log.q.shape[1])])
    qd = np.column_stack([np.interp(t, log.t, log.qd[:, j]) for j in range(log.qd.shape[1])])
    return Trajectory(t=t, q=q, qd=qd, u=log.command_at(t), source=log.source)


def unwrapped(log: RobotLog, continuous: np.ndarray) -> RobotLog:
    """`log` with its continuous joints' angles unwrapped (a bag may wrap them to [-pi, pi])."""
    if not np.any(continuous):
        return log
    q = log.q.copy()
    q[:, continuous] = np.unwrap(q[:, continuous], axis=0)
    return replace(log, q=q)


def _features(q: Any, qd: Any, u: Any, continuous: np.ndarray, servo: Sequence[int], xp: Any) -> Any:
    """Network input from states (..., h+1, J) and commands (..., h+1, U): positions ((sin, cos) for a
    continuous joint), velocities and commands, flattened over the history; a position servo's target
    as its error from the joint's position (`servo[i]`: actuator i's joint, -1 for a force actuator),
    what drives the servo wherever the arm is (Hwangbo et al.'s actuator input). `xp`: numpy or torch."""
    cat = xp.cat if hasattr(xp, "cat") else xp.concatenate
    parts = [q[..., ~continuous]] if np.any(~continuous) else []
    if np.any(continuous):
        parts += [xp.sin(q[..., continuous]), xp.cos(q[..., continuous])]
    if any(j >= 0 for j in servo):
        u = xp.stack([u[..., i] - q[..., j] if j >= 0 else u[..., i] for i, j in enumerate(servo)], -1)
    x = cat([*parts, qd, u], -1)
    return x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])


class LearnedDynamics:
    """The trained MLP as numpy arrays, with its normalization and what it is a model of."""

    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]], norm: Mapping[str, np.ndarray],
                 meta: Mapping[str, Any]):
        self.weights = [(np.asarray(w, dtype=float), np.asarray(b, dtype=float)) for w, b in weights]
        self.norm = {k: np.asarray(v, dtype=float) for k, v in norm.items()}
        self.meta = dict(meta)
        self.robot = str(meta["robot"])
        self.joint_names = tuple(meta["joint_names"])
        self.actuator_names = tuple(meta["actuator_names"])
        self.history = int(meta["history"])
        self.dt = float(meta["dt"])
        self.continuous = np.asarray(meta["continuous"], dtype=bool)
        self.servo = [int(j) for j in meta["servo_joints"]]
        self.nj, self.nu = len(self.joint_names), len(self.actuator_names)

    # -- one step and rollouts (numpy, batched over leading axes) -----------------------------------
    def delta(self, q: np.ndarray, qd: np.ndarray, u: np.ndarray) -> np.ndarray:
        """x_{k+1} - x_k from states (..., h+1, J) and commands (..., h+1, U), oldest first: (..., 2J)."""
        x = (_features(q, qd, u, self.continuous, self.servo, np) - self.norm["in_mean"]) / self.norm["in_std"]
        for w, b in self.weights[:-1]:
            x = np.tanh(x @ w.T + b)
        w, b = self.weights[-1]
        return (x @ w.T + b) * self.norm["out_std"] + self.norm["out_mean"]

    def rollout(self, q_hist: np.ndarray, qd_hist: np.ndarray, u_past: np.ndarray,
                u_plan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Open loop from states (B, h+1, J) (the last one now) and the h commands before now (B, h, U),
        applying u_plan (B, N, U) one step each: (q, qd), each (B, N, J), the states after each step."""
        q_hist, qd_hist = np.array(q_hist, dtype=float), np.array(qd_hist, dtype=float)
        u_hist = np.concatenate([np.asarray(u_past, dtype=float), np.asarray(u_plan[..., :1, :], dtype=float)], -2)
        n = u_plan.shape[-2]
        qs = np.empty((*u_plan.shape[:-2], n, self.nj))
        qds = np.empty_like(qs)
        for k in range(n):
            u_hist[..., -1, :] = u_plan[..., k, :]
            d = self.delta(q_hist, qd_hist, u_hist)
            qs[..., k, :] = q_hist[..., -1, :] + d[..., :self.nj]
            qds[..., k, :] = qd_hist[..., -1, :] + d[..., self.nj:]
            q_hist = np.concatenate([q_hist[..., 1:, :], qs[..., k:k + 1, :]], -2)
            qd_hist = np.concatenate([qd_hist[..., 1:, :], qds[..., k:k + 1, :]], -2)
            u_hist = np.concatenate([u_hist[..., 1:, :], u_hist[..., -1:, :]], -2)
        return qs, qds

    # -- files ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write weights, normalization and metadata (robot, joints, history, dt) for `load`."""
        import torch

        path = Path(path)
        blob = {"format": FORMAT, "meta": self.meta,
                "weights": [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in self.weights],
                "norm": {k: torch.from_numpy(v) for k, v in self.norm.items()}}
        torch.save(blob, path)
        return path

    @classmethod
    def load(cls, path: str | Path, robot: RobotSpec | None = None) -> LearnedDynamics:
        """A saved model; with `robot`, refused unless it is a model of that robot's joints and actuators."""
        import torch

        path = Path(path)
        if not path.is_file():
            raise FitError(f"{path}: no dynamics model there; train one with `robot-rl sysid --model mlp ... "
                           f"--out DIR` (it writes DIR/{FILE_NAME})")
        try:
            blob = torch.load(path, weights_only=True)
        except Exception as exc:  # a truncated or foreign file: say which, not a pickle traceback
            raise FitError(f"{path}: not a dynamics model file ({type(exc).__name__}: {exc})") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise FitError(f"{path}: not a dynamics model file (format {FORMAT} expected)")
        try:
            model = cls([(w.numpy(), b.numpy()) for w, b in blob["weights"]],
                        {k: v.numpy() for k, v in blob["norm"].items()}, blob["meta"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FitError(f"{path}: a dynamics model file without {exc} (written by another version?); train it "
                           "again with `robot-rl sysid --model mlp`") from None
        if robot is not None:
            model.check_robot(robot, str(path))
        return model

    def check_robot(self, robot: RobotSpec, what: str) -> None:
        if self.joint_names != tuple(robot.joint_names) or self.actuator_names != tuple(robot.actuator_names):
            raise FitError(f"{what} is a dynamics model of robot '{self.robot}' (joints {list(self.joint_names)}, "
                           f"actuators {list(self.actuator_names)}), not of '{robot.name}' (joints "
                           f"{list(robot.joint_names)}, actuators {list(robot.actuator_names)})")


# ------------------------------------------------------------------------------------------- training


def _windows(trajs: Sequence[Trajectory], h: int, unroll: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every training window of h + 1 + unroll samples: (q, qd, u), each (W, h + 1 + unroll, .)."""
    n = h + 1 + unroll
    qs, qds, us = [], [], []
    for tr in trajs:
        for k in range(len(tr.t) - n + 1):
            qs.append(tr.q[k:k + n])
            qds.append(tr.qd[k:k + n])
            us.append(tr.u[k:k + n])
    return np.array(qs), np.array(qds), np.array(us)


def check_samples(trajs: Sequence[Trajectory], settings: DynamicsSettings, what: str) -> None:
    """Enough samples for one training window; otherwise an error naming the log and what to change."""
    need = settings.history + 1 + settings.unroll
    longest = max((len(tr.t) for tr in trajs), default=0)
    if longest < need:
        src = trajs[0].source if trajs else what
        raise FitError(f"{src}: the {what} has at most {longest} samples at the model's {settings.dt or 0:g} s step "
                       f"in one gap-free stretch; a dynamics model with history {settings.history} trained on "
                       f"{settings.unroll}-step rollouts needs at least {need}: record a longer log (seconds of "
                       "motion), or pass a smaller --history")


def train_dynamics(robot: RobotSpec, logs: Sequence[RobotLog], settings: DynamicsSettings | None = None,
                   progress: Any = None) -> tuple[LearnedDynamics, dict[str, Any]]:
    """Fit the MLP to gap-free `logs` of `robot` (module docstring); returns the model and training facts."""
    import torch

    s = settings or DynamicsSettings()
    s.check()
    dt = float(s.dt or robot.control_dt)
    s = replace(s, dt=dt)
    for log in logs:
        if (tuple(log.joint_names), tuple(log.actuator_names)) != (robot.joint_names, robot.actuator_names):
            raise FitError(f"{log.source}: a log of joints {list(log.joint_names)} / actuators "
                           f"{list(log.actuator_names)}, robot '{robot.name}' has {list(robot.joint_names)} / "
                           f"{list(robot.actuator_names)}; pass the --robot the log was recorded on")
    continuous = np.array([j.type == "continuous" for j in robot.joints])
    trajs = [resample(unwrapped(log, continuous), dt) for log in logs]
    check_samples(trajs, s, "training data")
    idx = robot.actuator_joint_indices()
    servo = [int(j) if a.type == "position" else -1 for a, j in zip(robot.actuators, idx, strict=True)]
    h, nj = s.history, len(robot.joints)
    q, qd, u = _windows(trajs, h, s.unroll)

    # Normalization from every measured (history, command) input and every measured one-step delta.
    feats = _features(np.concatenate([tr.q for tr in trajs])[:, None], np.concatenate([tr.qd for tr in trajs])[:, None],
                      np.concatenate([tr.u for tr in trajs])[:, None], continuous, servo, np)
    feats = np.tile(feats, h + 1)
    deltas = np.concatenate([np.hstack([np.diff(tr.q, axis=0), np.diff(tr.qd, axis=0)]) for tr in trajs])
    norm = {"in_mean": feats.mean(0), "in_std": np.maximum(feats.std(0), 1e-6),
            "out_mean": deltas.mean(0), "out_std": np.maximum(deltas.std(0), 1e-9)}

    torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    sizes = [feats.shape[1]] + [s.hidden] * s.layers + [2 * nj]
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers[:-1]).double()
    with torch.no_grad():  # start at the mean delta: a hold-like model, not a random drift
        net[-1].weight.mul_(0.1)
        net[-1].bias.zero_()
    tn = {k: torch.from_numpy(v) for k, v in norm.items()}
    Q, QD, U = (torch.from_numpy(a) for a in (q, qd, u))
    scale = tn["out_std"]
    opt = torch.optim.Adam(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.steps)
    gen = torch.Generator().manual_seed(s.seed)
    t0 = time.perf_counter()
    losses = []
    for step in range(s.steps):
        idx = torch.randint(len(Q), (min(s.batch, len(Q)),), generator=gen)
        qh, qdh, uh = Q[idx, :h + 1], QD[idx, :h + 1], U[idx, :h + 1]
        loss = torch.zeros((), dtype=torch.float64)
        for k in range(s.unroll):
            x = (_features(qh, qdh, uh, continuous, servo, torch) - tn["in_mean"]) / tn["in_std"]
            d = net(x) * tn["out_std"] + tn["out_mean"]
            qn = qh[:, -1] + d[:, :nj]
            qdn = qdh[:, -1] + d[:, nj:]
            target = torch.cat([Q[idx, h + 1 + k], QD[idx, h + 1 + k]], -1)
            loss = loss + torch.mean(((torch.cat([qn, qdn], -1) - target) / scale) ** 2)
            qh = torch.cat([qh[:, 1:], qn[:, None]], 1)
            qdh = torch.cat([qdh[:, 1:], qdn[:, None]], 1)
            uh = U[idx, k + 1:k + h + 2]
        loss = loss / s.unroll
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None and (step + 1) % 50 == 0:
            progress(step + 1, s.steps)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    weights = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in linears]
    meta = {"robot": robot.name, "joint_names": list(robot.joint_names), "actuator_names": list(robot.actuator_names),
            "history": h, "dt": dt, "continuous": continuous.tolist(), "servo_joints": servo, "hidden": s.hidden,
            "layers": s.layers, "unroll": s.unroll, "steps": s.steps, "seed": s.seed,
            "samples": int(sum(len(tr.t) for tr in trajs)),
            "sources": sorted({log.source for log in logs})}
    facts = {"train_s": time.perf_counter() - t0, "windows": len(Q), "samples": meta["samples"],
             "loss_first": float(np.mean(losses[:20])), "loss_last": float(np.mean(losses[-20:]))}
    return LearnedDynamics(weights, norm, meta), facts


# ------------------------------------------------------------------------------------------- open-loop check


@dataclass
class OpenLoopWindow:
    """One held-out window: measured states on the model's grid, the state estimated at its start, the
    history before it, and the commands (a `Segment` of it is what the physics replays)."""

    traj: Trajectory  # the window's samples, k = 0 .. L (t relative to the window's start)
    q_hist: np.ndarray  # (h + 1, J): measured states before the start, then the start estimate
    qd_hist: np.ndarray
    u_past: np.ndarray  # (h, U): the commands in force over the h steps before the start
    segment: Segment


def open_loop_windows(log: RobotLog, dt: float, history: int, length: float = DEFAULT_WINDOW_S) -> list[OpenLoopWindow]:
    """Consecutive `length`-second windows of a gap-free held-out `log`, each starting `history` steps or more
    after the log's start (the model needs measured states before it)."""
    tr = resample(log, dt)
    steps = int(round(length / dt))
    out = []
    for k0 in range(history, len(tr.t) - steps, steps):
        at = float(tr.t[k0])
        est = estimate_state_at(log.t, log.q, log.qd, at)
        q0, qd0 = est if est is not None else (tr.q[k0], tr.qd[k0])
        sl = slice(k0, k0 + steps + 1)
        win = Trajectory(t=tr.t[sl] - at, q=tr.q[sl], qd=tr.qd[sl], u=tr.u[sl], source=log.source)
        q_hist = np.vstack([tr.q[k0 - history:k0], q0[None]])
        qd_hist = np.vstack([tr.qd[k0 - history:k0], qd0[None]])
        seg = Segment(t=win.t, q=win.q, qd=win.qd, cmd_t=log.command_t - at, cmd=log.command, q0=q0, qd0=qd0,
                      offset=at)
        out.append(OpenLoopWindow(traj=win, q_hist=q_hist, qd_hist=qd_hist, u_past=tr.u[k0 - history:k0], segment=seg))
    return out


def physics_predictions(robot: RobotSpec, values: Mapping[str, float],
                        segments: Sequence[Segment]) -> list[tuple[np.ndarray, np.ndarray]]:
    """MuJoCo's open-loop (q, qd) at each segment's times from its start state under `values`: the fit's
    own replay (`MujocoProblem.predictions`, action_delay applied to the logged commands), nothing fitted."""
    from calibration.mujoco_fit import MujocoProblem

    problem = MujocoProblem(robot, segments, values, [], fit_initial_state=False)
    return problem.predictions(problem.params.as_vector())


def compare_open_loop(robot: RobotSpec, model: LearnedDynamics, held_out: Sequence[RobotLog],
                      values: Mapping[str, float], length: float = DEFAULT_WINDOW_S) -> dict[str, Any]:
    """RMS joint position (and velocity) error over `length`-second open-loop rollouts on held-out data:
    the learned model, the MuJoCo physics under `values`, and holding the start state (module docstring)."""
    wins = [w for log in held_out
            for w in open_loop_windows(unwrapped(log, model.continuous), model.dt, model.history, length)]
    if not wins:
        total = sum(log.duration for log in held_out)
        raise FitError(f"{held_out[0].source if held_out else 'the log'}: the held-out data ({total:.1f} s) has no "
                       f"{length:g} s window after {model.history} steps of history; hold out more (--holdout) or "
                       "record a longer log")
    q_hist = np.stack([w.q_hist for w in wins])
    qd_hist = np.stack([w.qd_hist for w in wins])
    u_past = np.stack([w.u_past for w in wins])
    u_plan = np.stack([w.traj.u[:-1] for w in wins])
    mq, mqd = model.rollout(q_hist, qd_hist, u_past, u_plan)
    phys = physics_predictions(robot, values, [w.segment for w in wins])
    errs: dict[str, list[np.ndarray]] = {"mlp": [], "physics": [], "hold": []}
    verrs: dict[str, list[np.ndarray]] = {"mlp": [], "physics": [], "hold": []}
    for i, w in enumerate(wins):
        meas_q, meas_qd = w.traj.q[1:], w.traj.qd[1:]
        errs["mlp"].append(mq[i] - meas_q)
        verrs["mlp"].append(mqd[i] - meas_qd)
        errs["physics"].append(phys[i][0][1:] - meas_q)
        verrs["physics"].append(phys[i][1][1:] - meas_qd)
        errs["hold"].append(w.segment.q0[None] - meas_q)
        verrs["hold"].append(w.segment.qd0[None] - meas_qd)
    out: dict[str, Any] = {"window_s": length, "windows": len(wins), "dt": model.dt,
                           "held_out_s": float(sum(log.duration for log in held_out))}
    for name in ("mlp", "physics", "hold"):
        e, v = np.vstack(errs[name]), np.vstack(verrs[name])
        out[name] = {j: {"position": float(np.sqrt(np.mean(e[:, k] ** 2))),
                         "velocity": float(np.sqrt(np.mean(v[:, k] ** 2)))}
                     for k, j in enumerate(robot.joint_names)}
    out["ratio_mlp_to_physics"] = {j: out["mlp"][j]["position"] / max(out["physics"][j]["position"], 1e-12)
                                   for j in robot.joint_names}
    return out


# ------------------------------------------------------------------------------------------- sysid --model mlp


def _split_log(data: RobotLog, spec: RobotSpec, holdout: float,
               skip: float) -> tuple[list[RobotLog], list[RobotLog], list[str]]:
    """One log's gap-free training pieces, held-out pieces (its last `holdout`) and notes, as sysid splits it."""
    from calibration.identification import _split_holdout
    from calibration.log import split_at_gaps

    if (tuple(data.joint_names), tuple(data.actuator_names)) != (spec.joint_names, spec.actuator_names):
        raise FitError(f"{data.source}: a log of joints {list(data.joint_names)} / actuators "
                       f"{list(data.actuator_names)}, robot '{spec.name}' has {list(spec.joint_names)} / "
                       f"{list(spec.actuator_names)}; pass the --robot the log was recorded on")
    if skip > 0:
        if skip >= 0.5 * data.duration:
            raise FitError(f"{data.source}: skip {skip:g} s would leave less than half of the "
                           f"{data.duration:.1f} s log")
        data = data.window(float(data.t[0]) + skip, float(data.t[-1]))
    if holdout == 0:  # a --train-log: all of it trains
        train, gap_notes = split_at_gaps(data)
        return train, [], [f"{data.source}: all {data.duration:.1f} s used for training (--train-log)", *gap_notes]
    fit_part, val_part, split_note = _split_holdout(data, holdout)
    if val_part is None:
        raise FitError(f"{data.source}: {split_note.removeprefix('no validation: ').split(';')[0]}; a learned model is "
                       "judged on held-out data: record a longer log")
    train, gap_notes = split_at_gaps(fit_part)
    val, _ = split_at_gaps(val_part)
    return train, val, [f"{data.source}: {split_note}", *gap_notes]


def learn_dynamics(robot: RobotSpec | str, log: RobotLog | str | Path, out_dir: str | Path, *,
                   more_logs: Sequence[RobotLog | str | Path] = (), settings: DynamicsSettings | None = None,
                   fit_names: Sequence[str] | str | None = None,
                   params: str | Path | Mapping[str, float] | None = None, holdout: float = 0.25,
                   skip: float = 0.0, command_topic: str | None = None, repair: bool = False, force: bool = False,
                   max_iters: int = 50, progress: Any = None) -> dict[str, Any]:
    """`robot-rl sysid --model mlp`: train the MLP on the log's first part, compare it with the physics on
    the held-out rest, write ``dynamics.pt`` and ``result.json`` into `out_dir`; returns result.json's dict.

    `more_logs`: further logs of the robot to learn from, wholly (they add training data; the comparison
    stays on `log`'s held-out part, where the physics fit is validated too), e.g. runs of the controller
    that will plan with the model: an MLP knows only the states and commands it was shown. The physics
    it is compared with: with `fit_names`, a physics fit of those names on `log`'s training part
    (`calibration.identify` into ``out_dir/physics``, its usual files and verdict); else the values of
    `params` (an earlier sysid's params.yaml), else robot.yaml's nominal values.
    """
    import json

    from calibration.identification import identify
    from calibration.load import load_log
    from calibration.outputs import Staging, check_sysid_out
    from sim.params import resolve_params
    from sim.robot import load_robot

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    s = settings or DynamicsSettings()
    s.check()
    if not 0.0 < holdout < 0.9:
        raise FitError(f"--holdout {holdout:g}: a learned model is judged on held-out data only; give a fraction "
                       "in (0, 0.9)")
    out = Path(out_dir)
    check_sysid_out(out, force)
    if fit_names:
        check_sysid_out(out / "physics", force)
    datas = [x if isinstance(x, RobotLog) else load_log(x, spec, command_topic=command_topic, repair=repair)
             for x in (log, *more_logs)]
    data = datas[0]
    train_logs, val_logs, notes = [], [], []
    for k, d in enumerate(datas):
        train, val, split_notes = _split_log(d, spec, holdout if k == 0 else 0.0, skip)
        train_logs += train
        val_logs += val
        notes += [f"{d.source}: {n}" for n in d.notes] + split_notes
    if fit_names:
        phys = identify(spec, data, fit_names, out / "physics", params=params, max_iters=max_iters, holdout=holdout,
                        skip=skip, force=force, accept_inadequate=True, suggest=False)
        values = dict(phys.values)
        verdict = "adequate" if phys.adequate else "not adequate: " + "; ".join(phys.reasons)
        physics_source = (f"fitted {', '.join(phys.fit_names)} on the training part of {data.source} "
                          f"({out / 'physics'}; {verdict})")
    else:
        values = resolve_params(spec, params)
        physics_source = f"params file {params}" if isinstance(params, (str, Path)) else (
            "robot.yaml nominal values (not fitted: pass --fit NAMES or --params FILE for an identified model)"
            if params is None else "given values")
    model, facts = train_dynamics(spec, train_logs, s, progress=progress)
    comparison = compare_open_loop(spec, model, val_logs, values)
    staging = Staging(out)
    try:
        model.save(staging.dir / FILE_NAME)
        result = {
            "model": "mlp", "robot": spec.name, "logs": [d.source for d in datas],
            "log_duration": float(sum(d.duration for d in datas)),
            "joint_names": list(spec.joint_names), "open_loop": comparison, "physics": physics_source,
            "physics_values": {k: float(v) for k, v in values.items()},
            # The seed too: a fit is worth keeping only if it holds on other seeds, so say which one this was.
            "settings": {k: model.meta[k] for k in ("history", "dt", "hidden", "layers", "unroll", "steps", "seed")},
            "training": facts, "notes": notes,
            "paths": {"model": str(out / FILE_NAME), "result": str(out / "result.json")},
        }
        (staging.dir / "result.json").write_text(json.dumps(result, indent=2))
        staging.publish(out)
    finally:
        staging.discard()
    return result

"""Identification on PyBullet: the fallback for robots or parameters MuJoCo cannot express.

The same vocabulary, solver and statistics as on MuJoCo (`calibration.fit`): only the rollout
differs. Each evaluation replays the logged commands through `sim.engines.pybullet.PybulletEngine`
(`Engine.step` per control step, the actuator law and delay line of training), so what is fitted
is the engine a policy trains in. Slower than MuJoCo (a Python loop over substeps, no batched
rollout), hence the fallback.

`action_delay`: the engine quantizes the delay to physics substeps, which would make the residual
a staircase in the delay with a zero finite-difference derivative. A delay between two substeps is
simulated at both neighbouring whole-substep delays and the joint states are blended linearly:
exact at whole substeps, continuous in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from mujoco import sysid

from calibration.errors import FitError
from calibration.fit import FitOutcome, fit_parameters, initial_state_joints, solve, spread_weights
from calibration.segments import Segment
from sim.robot import RobotSpec


class PybulletProblem:
    """Fit `fit_names` to `segments` by PyBullet rollouts, the other parameters held at `values`."""

    engine = "pybullet"

    def __init__(self, robot: RobotSpec, segments: Sequence[Segment], values: Mapping[str, float],
                 fit_names: Sequence[str], fit_initial_state: bool = True,
                 initial_joints: Sequence[str] | None = None):
        from sim.engines.pybullet import PybulletEngine

        for j in robot.joints:
            name = f"{j.name}.armature"
            if name in fit_names or values[name] != 0.0:
                raise FitError(f"PyBullet cannot model joint armature ('{name}'); fit it with --engine mujoco "
                               "or leave it out of --fit and at 0")
        self.robot = robot
        self.segments = list(segments)
        self.values = dict(values)
        self.fit_names = list(fit_names)
        self.sim = PybulletEngine(robot, self.values)
        self.initial_joints = initial_state_joints(robot) if initial_joints is None else list(initial_joints)
        self.params, self.nuisance = fit_parameters(robot, self.values, self.fit_names, len(self.segments),
                                                    fit_initial_state, self.initial_joints)
        self.notes: list[str] = []
        dt = robot.control_dt
        for k, seg in enumerate(self.segments):
            phase = np.abs(seg.cmd_t / dt - np.round(seg.cmd_t / dt))
            if np.any(phase > 0.01):
                self.notes.append(f"segment {k}: commands are not on the {dt * 1e3:.0f} ms control grid; the "
                                  "PyBullet replay applies the command in force at each control step's start")
        self.set_weights(spread_weights(self.segments))

    def set_weights(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=float)

    def _values(self, x: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        values = dict(self.values)
        for i, n in enumerate(self.fit_names):
            values[n] = float(x[i])
        return values, np.asarray(x[len(self.fit_names):], dtype=float)

    def _run(self, seg: Segment, values: dict[str, float], q0: np.ndarray, qd0: np.ndarray,
             delay_steps: int) -> np.ndarray:
        """Joint states [q, qd] at every control step of a segment, for a whole-substep delay."""
        robot = self.robot
        dt = robot.control_dt
        n = int(np.ceil(seg.duration / dt - 1e-9))
        step_t = np.arange(n) * dt
        idx = np.searchsorted(seg.cmd_t, step_t + 1e-9, side="right") - 1
        commands = seg.cmd[np.clip(idx, 0, None)]  # before the first command: the first, held (delayed_command)
        self.sim.set_params({**values, "action_delay": delay_steps * robot.physics_dt})
        self.sim.reset(q0, qd0)
        self._prime_delay_line(seg, delay_steps)
        out = np.empty((n + 1, 2 * len(robot.joints)))
        out[0] = np.concatenate([q0, qd0])
        for k in range(n):
            self.sim.step(commands[k])
            q, qd = self.sim.joint_state()
            out[k + 1, : len(q)] = q
            out[k + 1, len(q):] = qd
        return out

    def _prime_delay_line(self, seg: Segment, delay_steps: int) -> None:
        """Load the engine's delay line with the commands issued before the segment start.

        A held-out stretch (or a segment after a gap) starts mid-motion: at t = 0 the robot is
        still executing commands sent up to `delay` earlier. `reset` empties the line, which would
        apply zero for the first `delay` and leave a passive pole swinging wrongly for seconds. At
        the log's own start the line holds the first command (`sim.actuators.delayed_command`): a
        position servo that was holding its pose does not jump to a zero target.
        """
        before = seg.cmd_t < -1e-9
        if delay_steps <= 0:
            return
        if not np.any(before):
            self.sim.delay.reset(seg.cmd[0])
            return
        # Commands are issued once per control step, so those before the start fill the line in order.
        self.sim.delay.prime(seg.cmd[before])

    def simulate(self, seg_index: int, x: np.ndarray) -> np.ndarray:
        """Simulated [q, qd] at the segment's measured times for parameter vector x."""
        values, offsets = self._values(x)
        seg = self.segments[seg_index]
        q0, qd0 = seg.q0.copy(), seg.qd0.copy()
        if len(offsets):
            free = self.initial_joints
            off = offsets.reshape(len(self.segments), len(free), 2)[seg_index]
            idx = [self.robot.joint_names.index(j) for j in free]
            q0[idx] += off[:, 0]
            qd0[idx] += off[:, 1]
        steps = values["action_delay"] / self.robot.physics_dt
        lo = int(np.floor(steps + 1e-9))
        frac = steps - lo
        states = self._run(seg, values, q0, qd0, lo)
        if frac > 1e-9:
            states = (1.0 - frac) * states + frac * self._run(seg, values, q0, qd0, lo + 1)
        grid = np.arange(len(states)) * self.robot.control_dt
        return np.stack([np.interp(seg.t, grid, states[:, c]) for c in range(states.shape[1])], axis=1)

    def residual_fn(self) -> Callable:
        def fn(x: np.ndarray, params: sysid.ParameterDict, **_: object):
            cols = x[:, None] if x.ndim == 1 else x
            if len(cols) != len(self.fit_names) + len(self.nuisance):  # some parameters frozen: expand
                full = []
                for c in range(cols.shape[1]):
                    params.update_from_vector(cols[:, c])
                    full.append(params.as_vector(include_frozen=True))
                cols = np.stack(full, axis=1)
            per_segment = []
            for s, seg in enumerate(self.segments):
                measured = np.hstack([seg.q, seg.qd])
                res = [((measured - self.simulate(s, cols[:, c])) * self.weights).ravel()
                       for c in range(cols.shape[1])]
                per_segment.append(res[0] if x.ndim == 1 else np.stack(res, axis=1))
            return per_segment, None, None

        return fn

    def predictions(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        nj = len(self.robot.joints)
        out = []
        for s in range(len(self.segments)):
            sim = self.simulate(s, np.asarray(x, dtype=float))
            out.append((sim[:, :nj], sim[:, nj:]))
        return out


def fit_pybullet(robot: RobotSpec, segments: Sequence[Segment], values: Mapping[str, float],
                 fit_names: Sequence[str], max_iters: int = 50, progress: Callable[[int], None] | None = None,
                 fit_initial_state: bool = True) -> FitOutcome:
    """Fit `fit_names` by PyBullet rollouts; same outcome as `calibration.mujoco_fit.fit_mujoco`."""
    problem = PybulletProblem(robot, segments, values, fit_names, fit_initial_state=fit_initial_state)
    try:
        outcome = solve(problem, max_iters=max_iters, progress=progress)
    finally:
        problem.sim.close()
    outcome.notes = problem.notes + outcome.notes
    return outcome

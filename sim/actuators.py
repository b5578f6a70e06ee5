"""The actuator model shared by both engines: the action delay and the torque law.

MuJoCo realizes the torque law natively (gain/bias parameters, force range); PyBullet calls
`actuator_torques` at every substep.

`action_delay` has one rule, written here once: a command issued at the start of a control step
takes effect `action_delay` seconds later, quantized to physics substeps (`delay_substeps`), so
substep s of a step applies the command issued `delay_lags(...)[s]` control steps ago. Its forms:

* `ActionDelay`: a batch of N robots, control step by control step (the episode core, sim/core.py);
* `DelayLine`: one robot's `ActionDelay` as runs of substeps (each engine's own `step`);
* `delay_lags`: the map itself, for a caller that lays out a whole plan (a model-based controller);
* `delayed_command`: a whole log replayed at once (calibration): the logged commands, at whatever
  times they were stamped, delayed and averaged over each physics step. That is the quantized rule
  made continuous in the delay (equal to it at whole substeps, linear in between), so a
  finite-difference Jacobian of a fit sees the delay (tests/test_calibration_excite.py). Before
  the log's first command it holds that command, as a robot that was running before the log does;
  `ActionDelay`/`DelayLine` keep their own start (`reset`: zero unless given), which training uses.
"""

from __future__ import annotations

import numpy as np

from sim.robot import RobotSpec


def delay_substeps(delay: float, physics_dt: float) -> int:
    """`action_delay` (s) in whole physics substeps, rounded and never negative: what the engines realize."""
    return max(0, int(round(delay / physics_dt)))


def _lags(d: int, substeps: int) -> np.ndarray:
    """Per substep s: ceil((d - s) / S) control steps ago = -floor((s - d) / S), d in substeps."""
    return -np.floor_divide(np.arange(substeps) - d, substeps)


def delay_lags(delay: float, physics_dt: float, substeps: int) -> np.ndarray:
    """Per substep of a control step, how many control steps ago its command was issued (0 = this step's).

    The map `ActionDelay` gathers with, for a caller that lays out commands without a stateful line.
    """
    return _lags(delay_substeps(delay, physics_dt), substeps)


class ActionDelay:
    """The one realization of `action_delay`, for a batch of N robots (N=1 for a single engine).

    The command active at physics substep s of a control step of S substeps was issued
    floor((s - d) / S) control steps ago (0 = this step), d = the delay in substeps: a gather from
    a short history of commands. `control(commands)` returns the (N, S, n_actuators) array of
    per-substep commands, which MuJoCo's rollout takes as is and the engines apply segment by segment.
    """

    def __init__(self, n_envs: int, n_actuators: int, substeps: int, physics_dt: float):
        self.n, self.nu, self.substeps, self.physics_dt = n_envs, n_actuators, substeps, physics_dt
        self.offsets = np.zeros((n_envs, substeps), dtype=np.intp)
        self.history = np.zeros((n_envs, 1, n_actuators))
        self._rows = np.arange(n_envs)[:, None]
        # Per robot, and how many are delayed: a vector env sets a delay at every episode reset (DR), and
        # recounting a bool array each time cost more than the rest of set_delay.
        self._delayed = [False] * n_envs
        self._n_delayed = 0
        self._any_delayed = False
        self._offsets_of: dict[int, tuple[np.ndarray, int]] = {}  # delay in substeps -> (offsets, history needed)

    def set_delay(self, i: int, delay: float) -> None:
        """Delay of robot i in seconds, quantized to physics substeps (takes effect from its next reset)."""
        d = delay_substeps(delay, self.physics_dt)
        if d not in self._offsets_of:
            back = _lags(d, self.substeps)
            self._offsets_of[d] = (back, int(back.max()) + 1)
        back, need = self._offsets_of[d]
        if need > self.history.shape[1]:
            grown = np.zeros((self.n, need, self.nu))
            grown[:, : self.history.shape[1]] = self.history
            self.history = grown
        self.offsets[i] = back
        delayed = d > 0
        if delayed != self._delayed[i]:
            self._delayed[i] = delayed
            self._n_delayed += 1 if delayed else -1
            self._any_delayed = self._n_delayed > 0

    def delayed(self, i: int) -> bool:
        """Whether robot i's commands are delayed (else every substep gets the step's own command)."""
        return self._delayed[i]

    @property
    def any_delayed(self) -> bool:
        """Whether any robot's commands are delayed: if not, `control` is the identity (no history is read)."""
        return self._any_delayed

    def reset(self, i: int, initial: np.ndarray | None = None) -> None:
        """No pending commands for robot i: what it 'sent' before the episode is `initial` (default 0)."""
        self.history[i] = 0.0 if initial is None else initial

    def control(self, commands: np.ndarray) -> np.ndarray:
        """Per-substep commands (N, S, nu) for this control step's commands (N, nu).

        Without any delay the result is (N, 1, nu), the same command for every substep (broadcast it
        where a full array is needed): the common case costs no copy.
        """
        if not self._any_delayed:  # no delay anywhere: every substep gets this step's command
            self.history[:, 0] = commands
            return commands[:, None, :]  # (N, 1, nu): broadcasts over the substeps
        h = self.history
        if h.shape[1] > 1:  # one step older: in place (numpy buffers overlapping copies), a third of np.roll's cost
            h[:, 1:] = h[:, :-1]
        h[:, 0] = commands
        return h[self._rows, self.offsets]


def segments(control: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """One robot's per-substep commands (S, nu) as runs of equal commands: (command, n_substeps)."""
    if len(control) == 1:
        return [(control[0], 1)]
    starts = np.flatnonzero(np.any(control[1:] != control[:-1], axis=1)) + 1
    bounds = [0, *starts.tolist(), len(control)]
    return [(control[a], b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class DelayLine:
    """One robot's `ActionDelay` as runs of substeps: what the engines and calibration replay use."""

    def __init__(self, n_actuators: int, substeps: int, physics_dt: float, delay: float = 0.0):
        self.substeps = substeps
        self.physics_dt = physics_dt
        self.n = n_actuators
        self._delay = ActionDelay(1, n_actuators, substeps, physics_dt)
        self.set_delay(delay)

    def set_delay(self, delay: float) -> None:
        self._delay.set_delay(0, delay)
        self.delay_steps = delay_substeps(delay, self.physics_dt)

    def reset(self, initial: np.ndarray | None = None) -> None:
        self._delay.reset(0, initial)

    def prime(self, issued: np.ndarray) -> None:
        """Commands already in flight: `issued` (k, n_actuators), one per control step before now, oldest first.

        A replay that starts mid-motion (a held-out stretch of a log) is still executing commands
        sent up to `action_delay` earlier; an empty line would apply the reset value instead.
        Steps older than the first given command repeat it.
        """
        issued = np.asarray(issued, dtype=float).reshape(-1, self.n)
        if not len(issued):
            return
        history = self._delay.history[0]  # history[k]: the command issued k + 1 control steps ago
        for k in range(history.shape[0]):
            history[k] = issued[max(len(issued) - 1 - k, 0)]

    def segments(self, command: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """Commands to apply over the next control step, as runs of substeps."""
        control = self._delay.control(np.asarray(command, dtype=float).reshape(1, -1))[0]
        return [(control[0], self.substeps)] if len(control) == 1 else segments(control)


def delayed_command(cmd_t: np.ndarray, cmd: np.ndarray, step_start: np.ndarray, dt: float,
                    delay: float) -> np.ndarray:
    """The delay rule over a whole log: per physics step starting at s (`step_start`), the average over
    [s, s + dt) of the zero-order-hold command (`cmd` (M, U) issued at `cmd_t` (M,)) delayed by `delay`.

    Before the first command the first command is held: a log starts with a robot that was already
    doing what it is first told (a position servo holding its pose, which is the hold target the
    control node sends before and at activation; a force actuator at the zero force the node's
    start-up ramp begins from), never one whose servos jump to a zero target for the first `delay`.
    Exact integration of the piecewise-constant signal through its piecewise-linear integral, so the
    result is continuous (piecewise linear) in `delay`; at a whole number of substeps, with commands
    issued at the control steps, it is what `ActionDelay` applies from a line reset to the first
    command (`DelayLine.reset(cmd[0])`).
    """
    span = float(step_start[-1] - cmd_t[0]) + dt + abs(delay) + 1.0
    knots = np.concatenate([[cmd_t[0] - span], cmd_t, [cmd_t[-1] + span]])
    widths = np.diff(cmd_t)
    integral = np.zeros((len(knots), cmd.shape[1]))
    integral[0] = -cmd[0] * span  # the first command, held since long before the log
    integral[2:-1] = np.cumsum(cmd[:-1] * widths[:, None], axis=0)
    integral[-1] = integral[-2] + cmd[-1] * span
    a = step_start - delay
    out = np.empty((len(step_start), cmd.shape[1]))
    for u in range(cmd.shape[1]):
        hi = np.interp(a + dt, knots, integral[:, u])
        lo = np.interp(a, knots, integral[:, u])
        out[:, u] = (hi - lo) / dt
    return out


def actuator_torques(robot: RobotSpec, params: dict[str, float], command: np.ndarray,
                     q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """Joint torques from the actuators (robot.yaml joint order), the law MuJoCo realizes natively."""
    tau = np.zeros(len(robot.joints))
    for i, (act, j) in enumerate(zip(robot.actuators, robot.actuator_joint_indices(), strict=True)):
        gain = params[f"{act.name}.gain"]
        if act.type == "force":
            f = gain * command[i]
        else:
            f = gain * (params[f"{act.name}.kp"] * (command[i] - q[j]) - params[f"{act.name}.kd"] * qd[j])
        tau[j] += np.clip(f, -act.effort_limit, act.effort_limit)
    return tau

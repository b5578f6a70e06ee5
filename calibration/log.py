"""`RobotLog`: what a robot did, as arrays on one clock, and the checks a log must pass before a fit.

Both readers (rosbag2, CSV) produce a `RobotLog` through `make_log`, so every log meets the same
rules, whatever its format:

- timestamps of joint states and of commands are finite and strictly increasing; an unsorted or
  duplicated timestamp is an error naming the sample, unless the caller asks for `repair=True`,
  which sorts and drops duplicates (keeping the last) and records that in `notes`;
- every joint of the robot is present, every command has one value per actuator, no NaN;
- positions and velocities have one row per timestamp; missing velocities are derived from the
  positions by finite differences (recorded in `notes`);
- timestamps are seconds on a robot's scale: joint states at most `MAX_SAMPLE_INTERVAL_S` apart (median)
  and a log at most `MAX_LOG_DURATION_S` long. A log whose clock is off by a factor (nanoseconds in a
  CSV's `t` column, a scaled or corrupted clock) would otherwise ask the simulator to replay years
  and die allocating petabytes.

Gaps (a missing stretch of joint states) and resets (a simulated robot starting a new episode,
`breaks`) are not errors here: `split_at_gaps` cuts the log into segments that identification fits
as separate trajectories, each from its own initial state, and says so in its notes. The report
lists every note, so what was done to the data is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from calibration.errors import LogError

GAP_FACTOR = 5.0  # an interval longer than this many median intervals is a gap
MIN_SEGMENT_S = 1.0  # segments shorter than this carry too little information to fit
MAX_SAMPLE_INTERVAL_S = 1.0  # a robot's joint states come at 10 Hz or faster; sysid needs tens of Hz
MAX_LOG_DURATION_S = 24 * 3600.0  # an excitation lasts seconds to minutes; a day is a clock in other units


@dataclass
class RobotLog:
    """Joint states and commands of one run, times in seconds from the first joint state.

    Commands act by zero-order hold: `command[k]` is in force from `command_t[k]` until the next
    command; before the first command the robot holds that first command (it was already doing
    what it is first told: `sim.actuators.delayed_command`, the replay's rule).
    """

    joint_names: tuple[str, ...]
    actuator_names: tuple[str, ...]
    t: np.ndarray  # (N,) joint-state times
    q: np.ndarray  # (N, J) positions, robot joint order
    qd: np.ndarray  # (N, J) velocities
    command_t: np.ndarray  # (M,)
    command: np.ndarray  # (M, U) physical commands, robot actuator order
    effort: np.ndarray | None = None  # (N, J) measured efforts, if the robot reports them
    source: str = ""
    start_time_ns: int = 0  # absolute time of t == 0 on the log's own clock
    notes: list[str] = field(default_factory=list)
    breaks: list[float] = field(default_factory=list)  # times where the robot was reset (a new episode starts)

    @property
    def duration(self) -> float:
        return float(self.t[-1] - self.t[0])

    @property
    def sample_dt(self) -> float:
        """Median joint-state interval (seconds)."""
        return float(np.median(np.diff(self.t)))

    def command_at(self, times: np.ndarray) -> np.ndarray:
        """The command in force at each time (zero-order hold; the first command before it)."""
        idx = np.searchsorted(self.command_t, np.asarray(times), side="right") - 1
        return self.command[np.clip(idx, 0, None)].copy()

    def window(self, t_start: float, t_end: float) -> RobotLog:
        """The joint states with t_start <= t <= t_end, with every command (commands are a ZOH signal)."""
        keep = (self.t >= t_start) & (self.t <= t_end)
        return replace(
            self, t=self.t[keep], q=self.q[keep], qd=self.qd[keep],
            effort=None if self.effort is None else self.effort[keep], notes=list(self.notes),
        )


def _check_times(times: np.ndarray, source: str, what: str, repair: bool,
                 notes: list[str]) -> np.ndarray | None:
    """Validate a timestamp vector; return the order to apply when repairing, or None."""
    if times.ndim != 1 or times.size == 0:
        raise LogError(source, f"no {what} samples", "record the topic/columns this log is missing")
    if not np.all(np.isfinite(times)):
        bad = int(np.flatnonzero(~np.isfinite(times))[0])
        raise LogError(source, f"{what} timestamp #{bad} is not a finite number", "fix or drop that sample")
    d = np.diff(times)
    if np.all(d > 0):
        return None
    if not repair:
        if np.any(d < 0):
            i = int(np.flatnonzero(d < 0)[0])
            raise LogError(source, f"{what} timestamps are not sorted: sample #{i + 1} (t={times[i + 1]:.6f} s) "
                           f"comes before sample #{i} (t={times[i]:.6f} s)",
                           "sort the log by time, or pass --repair-log to sort it and drop duplicates")
        i = int(np.flatnonzero(d == 0)[0])
        raise LogError(source, f"{what} samples #{i} and #{i + 1} have the same timestamp t={times[i]:.6f} s",
                       "drop the duplicate, or pass --repair-log to keep the last of each duplicate")
    order = np.argsort(times, kind="stable")
    sorted_t = times[order]
    last_of_run = np.append(np.diff(sorted_t) > 0, True)
    n_unsorted = int(np.sum(d < 0))
    n_dup = int(np.sum(~last_of_run))
    notes.append(f"{what}: repaired timestamps ({n_unsorted} out of order, sorted; "
                 f"{n_dup} duplicate(s) dropped, last kept)")
    return order[last_of_run]


def _check_time_scale(t: np.ndarray, source: str) -> None:
    """Joint-state timestamps in seconds at a robot's rate, or a LogError saying the unit looks wrong."""
    interval = float(np.median(np.diff(t)))
    span = float(t[-1] - t[0])
    units = ("are the timestamps seconds? (a CSV's t column is in seconds: nanoseconds are 1e9 too large; "
             "a bag's times are nanoseconds since the epoch)")
    if interval > MAX_SAMPLE_INTERVAL_S:
        raise LogError(source, f"joint states are {interval:.4g} s apart (median); a robot reports them at "
                       f"least every {MAX_SAMPLE_INTERVAL_S:g} s", units)
    if span > MAX_LOG_DURATION_S:
        raise LogError(source, f"the log spans {span:.4g} s, more than {MAX_LOG_DURATION_S / 3600:g} h of joint "
                       "states", f"{units}; or cut the log to the excitation (seconds to minutes)")


def _as_2d(values: np.ndarray | list, rows: int, cols: int, source: str, what: str,
           names: tuple[str, ...] = ()) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1 and cols == 1:
        arr = arr[:, None]
    if arr.shape != (rows, cols):
        raise LogError(source, f"{what} has shape {arr.shape}, expected ({rows}, {cols}) "
                       f"(one row per timestamp, one column per joint/actuator)",
                       "every message/row must carry one value per joint or actuator")
    if not np.all(np.isfinite(arr)):
        r, c = np.argwhere(~np.isfinite(arr))[0]
        field = f" ({names[c]})" if len(names) == cols else ""
        raise LogError(source, f"{what} is not finite at sample #{r}, column {c}{field}: {arr[r, c]}",
                       "fix or drop that sample")
    return arr


def derive_velocities(t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Velocities from positions by finite differences on an irregular grid (numpy's gradient)."""
    if len(t) < 2:
        return np.zeros_like(q)
    return np.gradient(q, t, axis=0)


def make_log(
    *, joint_names: tuple[str, ...] | list[str], actuator_names: tuple[str, ...] | list[str],
    t: np.ndarray, q: np.ndarray, qd: np.ndarray | None, command_t: np.ndarray, command: np.ndarray,
    effort: np.ndarray | None = None, source: str = "", start_time_ns: int = 0, repair: bool = False,
    notes: list[str] | None = None, breaks: list[float] | None = None,
) -> RobotLog:
    """Validate raw arrays and build a `RobotLog` with t[0] == 0 (see the module docstring for the rules)."""
    notes = list(notes or [])
    joint_names, actuator_names = tuple(joint_names), tuple(actuator_names)
    t = np.asarray(t, dtype=float)
    command_t = np.asarray(command_t, dtype=float)
    order = _check_times(t, source, "joint state", repair, notes)
    n, nj, nu = t.size, len(joint_names), len(actuator_names)
    q = _as_2d(q, n, nj, source, "joint positions", joint_names)
    qd_arr = None if qd is None else _as_2d(qd, n, nj, source, "joint velocities", joint_names)
    eff = None if effort is None else _as_2d(effort, n, nj, source, "joint efforts", joint_names)
    if order is not None:
        t, q = t[order], q[order]
        qd_arr = None if qd_arr is None else qd_arr[order]
        eff = None if eff is None else eff[order]
    if n < 3 or t.size < 3:
        raise LogError(source, f"only {t.size} joint state sample(s)", "record at least a few seconds of motion")
    _check_time_scale(t, source)
    if qd_arr is None:
        qd_arr = derive_velocities(t, q)
        notes.append("joint velocities were not recorded; derived from positions by finite differences")
    if command_t.size == 0:
        raise LogError(source, "no command samples", "record the command topic (e.g. "
                       "/forward_command_controller/commands) together with /joint_states")
    corder = _check_times(command_t, source, "command", repair, notes)
    command = _as_2d(command, command_t.size, nu, source, "commands", actuator_names)
    if corder is not None:
        command_t, command = command_t[corder], command[corder]
    t0 = float(t[0])
    dt = float(np.median(np.diff(t)))
    if command_t[0] > t0 + 2 * dt:
        notes.append(f"first command arrives {command_t[0] - t0:.3f} s after the first joint state; "
                     "the first command is assumed held before it")
    if command_t[-1] < t0:
        raise LogError(source, "every command precedes the first joint state",
                       "the command and joint-state recordings do not overlap; record both topics together")
    return RobotLog(
        joint_names=joint_names, actuator_names=actuator_names, t=t - t0, q=q, qd=qd_arr,
        command_t=command_t - t0, command=command, effort=eff, source=source,
        start_time_ns=start_time_ns + int(round(t0 * 1e9)), notes=notes,
        breaks=[float(b) - t0 for b in (breaks or [])],
    )


def find_gaps(t: np.ndarray, factor: float = GAP_FACTOR) -> list[tuple[float, float]]:
    """Intervals (start, end) where consecutive joint states are more than `factor` median intervals apart."""
    d = np.diff(t)
    if d.size == 0:
        return []
    limit = factor * float(np.median(d))
    return [(float(t[i]), float(t[i + 1])) for i in np.flatnonzero(d > limit)]


def split_at_gaps(log: RobotLog, factor: float = GAP_FACTOR,
                  min_duration: float = MIN_SEGMENT_S) -> tuple[list[RobotLog], list[str]]:
    """Cut a log at its gaps and resets into segments fitted separately; return them and notes saying so."""
    gaps = find_gaps(log.t, factor)
    notes: list[str] = []
    for a, b in gaps:
        notes.append(f"gap of {b - a:.3f} s in joint states at t={a:.3f} s "
                     f"(> {factor:g} x the median interval {log.sample_dt * 1e3:.1f} ms): log split there")
    cuts = list(gaps)
    for b in log.breaks:
        k = int(np.searchsorted(log.t, b, side="left"))
        if 0 < k < len(log.t):
            cuts.append((float(log.t[k - 1]), float(log.t[k])))
            notes.append(f"the robot was reset (new episode) at t={log.t[k]:.3f} s: log split there")
    cuts.sort()
    bounds = [float(log.t[0])] + [x for c in cuts for x in c] + [float(log.t[-1])]
    segments: list[RobotLog] = []
    for k in range(0, len(bounds), 2):
        a, b = bounds[k], bounds[k + 1]
        if b - a < min_duration:
            if cuts:
                notes.append(f"segment {a:.3f}-{b:.3f} s is shorter than {min_duration:g} s: not used")
            continue
        segments.append(log.window(a, b))
    if not segments:
        raise LogError(log.source, f"no stretch of at least {min_duration:g} s without gaps or resets "
                       f"(log lasts {log.duration:.2f} s, {len(cuts)} cut(s))",
                       "record a longer run without dropped joint states")
    return segments, notes

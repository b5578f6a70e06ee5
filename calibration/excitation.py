"""Informative, safe excitation: a random-phase multisine on each actuator, with a holding feedback.

Why a multisine: it puts energy at chosen frequencies (log-spaced from slow drift to a few Hz,
covering a pendulum's natural frequency and the motor's bandwidth) with a low crest factor, so
every parameter that shapes the response at some frequency leaves a mark in the log. The seed
picks the phases, so two seeds give two independent experiments for cross-validation.

Why a feedback term: a force-driven joint on a rail integrates any force bias into drift. The
command is `excitation - kp * (q - centre) - kd * qd`, plus a stiff wall term in the outer quarter
of the travel, clipped to the actuator's effort limit. The feedback acts on the *measured* state,
as it would on a robot; identification replays the *logged* command open loop, so the feedback
biases nothing.

Position (PD) actuators (an arm) get a *target* per joint: a tour of several configurations plus a
per-joint multisine around each. Why that shape:

- masses show in an arm's motion mostly through gravity, and gravity torques depend on the
  configuration: at the range centres the iiwa stands upright and no link mass loads any joint.
  The configurations are chosen D-optimally (greedy log-determinant) for the link-mass gravity
  regressor among seeded candidates, so every link mass loads some joint in some pose;
- friction (a constant torque against the motion) and damping (a torque growing with speed) are
  told apart only by moving at both low and high speeds: dwells alternate a slow (small amplitude)
  and a fast multisine, and the transfers between configurations are slow;
- the delay shows as the phase lag of the response to the multisine's upper frequencies.

Amplitudes respect the deploy SafetyFilter: targets stay inside each joint's range by 10% of the
half range (the filter's margin is 2% of the range), and the target moves at most
`max_speed` x the velocity limit (the filter's rate limit is the velocity limit x the period).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.robot import RobotSpec


@dataclass(frozen=True)
class ExcitationConfig:
    """Shape of the excitation; defaults suit a robot whose joints move a few Hz at most."""

    f_min: float = 0.1  # Hz
    f_max: float = 3.0  # Hz
    n_freqs: int = 16
    amplitude: float = 0.4  # fraction of the effort limit (force) or of the half range (position)
    settle: float = 0.5  # s at rest with zero excitation first: a clean initial state
    ramp: float = 1.0  # s of fade-in after the settle
    hold: float = 0.5  # holding stiffness: fraction of the effort limit at the end of travel
    wall_start: float = 0.75  # fraction of the half travel where the stiff wall term starts
    # position (PD) actuators only:
    n_poses: int = 4  # configurations visited (D-optimal for the link masses' gravity torques)
    pose_spread: float = 0.45  # pose offsets from the centre, fraction of each joint's half range
    max_speed: float = 0.25  # fastest target motion, fraction of each joint's velocity limit
    slow_scale: float = 0.3  # multisine amplitude in the slow dwells, relative to the fast ones
    range_margin: float = 0.1  # targets keep this fraction of the half range from each limit


def multisine(duration: float, dt: float, cfg: ExcitationConfig, rng: np.random.Generator) -> np.ndarray:
    """Unit-peak random-phase multisine sampled every `dt` for `duration` seconds."""
    n = int(round(duration / dt)) + 1
    t = np.arange(n) * dt
    freqs = np.geomspace(cfg.f_min, cfg.f_max, cfg.n_freqs)
    phases = rng.uniform(0.0, 2.0 * np.pi, cfg.n_freqs)
    # Weight ~ 1/sqrt(f): a force on an inertia gives motion ~ 1/f^2; this keeps low
    # frequencies from dominating the travel while high ones still carry energy.
    weights = 1.0 / np.sqrt(freqs / freqs[0])
    s = (weights[None, :] * np.sin(2.0 * np.pi * freqs[None, :] * t[:, None] + phases[None, :])).sum(axis=1)
    return s / np.max(np.abs(s))


def rest_pose(robot: RobotSpec) -> np.ndarray:
    """Joint positions at rest: actuated joints centred, each passive hinge at its lowest-energy angle.

    For the cart-pole that is the pole hanging down (hinge = pi); for an arm, the range centres.
    Potential energy is taken from MuJoCo's model of the robot, the one place that knows the masses
    and kinematics in full. A legged robot's rest pose is its default (standing) pose.
    """
    import mujoco

    from sim.engines.mujoco import build_spec

    if robot.default_pose is not None:
        # A legged robot (hung on a gantry): its legs swing about the standing pose, where they work
        # and where they clear the trunk and each other; range centres would fold them into the body.
        return np.array(robot.default_pose, dtype=float)
    model = build_spec(robot).compile()
    model.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    data = mujoco.MjData(model)
    adr = [model.jnt_qposadr[model.joint(j.name).id] for j in robot.joints]
    actuated = {a.joint for a in robot.actuators}
    q = np.array([0.0 if j.position_limits is None else 0.5 * sum(j.position_limits) for j in robot.joints])
    for k, j in enumerate(robot.joints):
        if j.name in actuated or j.type == "prismatic":
            continue
        best = None
        for angle in (0.0, np.pi, -np.pi / 2, np.pi / 2):
            if j.position_limits is not None and not (j.position_limits[0] <= angle <= j.position_limits[1]):
                continue
            trial = q.copy()
            trial[k] = angle
            data.qpos[adr] = trial
            mujoco.mj_forward(model, data)
            if best is None or data.energy[0] < best[0] - 1e-9:
                best = (float(data.energy[0]), angle)
        if best is not None:
            q[k] = best[1]
    return q


def gravity_regressor(robot: RobotSpec, poses: np.ndarray) -> np.ndarray:
    """d(gravity torque at every joint) / d(link mass), stacked over poses: (n_poses * J, n_links).

    Link inertia scales with its mass in the vocabulary, so the centre of mass is fixed and the
    gravity torque is linear in each mass: column k is J_com(k)^T g per kilogram.
    """
    import mujoco

    from sim.engines.mujoco import build_spec

    model = build_spec(robot).compile()
    data = mujoco.MjData(model)
    qadr = [model.jnt_qposadr[model.joint(j).id] for j in robot.joint_names]
    dadr = [model.jnt_dofadr[model.joint(j).id] for j in robot.joint_names]
    bodies = [model.body(link).id for link in robot.moving_links]
    gravity = np.asarray(model.opt.gravity, dtype=float)
    jacp = np.zeros((3, model.nv))
    rows = []
    for q in np.atleast_2d(poses):
        data.qpos[:] = model.qpos0
        data.qpos[qadr] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        block = np.zeros((len(qadr), len(bodies)))
        for k, b in enumerate(bodies):
            mujoco.mj_jacBodyCom(model, data, jacp, None, b)
            block[:, k] = -(jacp.T @ gravity)[dadr]
        rows.append(block)
    return np.vstack(rows)


def choose_poses(robot: RobotSpec, center: np.ndarray, cfg: ExcitationConfig, rng: np.random.Generator,
                 n_candidates: int = 96) -> np.ndarray:
    """`cfg.n_poses` configurations around `center` that load every link mass through gravity.

    Greedy D-optimal design: start from the candidate with the largest gravity regressor, then add
    the candidate that most increases log det(Y^T Y + eps I) of the stacked regressor. Only joints
    with position limits move (continuous joints stay at the centre).
    """
    half = np.array([0.0 if j.position_limits is None else 0.5 * (j.position_limits[1] - j.position_limits[0])
                     for j in robot.joints])
    cand = center + cfg.pose_spread * half * rng.uniform(-1.0, 1.0, (n_candidates, len(robot.joints)))
    nj = len(robot.joints)
    stacked = gravity_regressor(robot, cand)
    blocks = [stacked[i * nj:(i + 1) * nj] for i in range(n_candidates)]
    eps = 1e-3 * max(float(np.max([np.sum(b ** 2) for b in blocks])), 1e-9)
    n_links = blocks[0].shape[1]
    chosen: list[int] = []
    info = eps * np.eye(n_links)
    for _ in range(min(cfg.n_poses, n_candidates)):
        scores = [-np.inf if i in chosen else np.linalg.slogdet(info + b.T @ b)[1] for i, b in enumerate(blocks)]
        best = int(np.argmax(scores))
        chosen.append(best)
        info = info + blocks[best].T @ blocks[best]
    return cand[chosen]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


class Excitation:
    """The excitation policy: `command(t, q, qd)` for measured joint state, robot actuator order."""

    def __init__(self, robot: RobotSpec, duration: float, seed: int, cfg: ExcitationConfig | None = None,
                 center: np.ndarray | None = None):
        self.robot = robot
        self.cfg = cfg or ExcitationConfig()
        self.duration = float(duration)
        self.dt = robot.control_dt
        rng = np.random.default_rng(seed)
        self.signals = np.stack([multisine(duration, self.dt, self.cfg, rng) for _ in robot.actuators], axis=1)
        self.joint_index = robot.actuator_joint_indices()
        self.center = rest_pose(robot) if center is None else np.asarray(center, dtype=float)
        self._gains = [self._holding_gains(i) for i in range(len(robot.actuators))]
        self.poses = np.zeros((0, len(robot.joints)))
        self.targets: np.ndarray | None = None  # (steps, U) precomputed targets of position actuators
        if any(a.type == "position" for a in robot.actuators):
            self._plan_position_targets(rng)

    def _plan_position_targets(self, rng: np.random.Generator) -> None:
        """Targets of position actuators on the control grid: pose tour + scaled multisine (module doc)."""
        cfg, robot, dt = self.cfg, self.robot, self.dt
        n = len(self.signals)
        t = np.arange(n) * dt
        self.poses = choose_poses(robot, self.center, cfg, rng)
        # Timeline after the settle: per pose a transfer (slow, smooth) and a dwell; dwells alternate
        # a fast and a slow multisine amplitude so that the speeds span friction and damping.
        vlim = np.array([j.velocity_limit for j in robot.joints])
        speed = cfg.max_speed * vlim
        active = max(self.duration - cfg.settle, dt)
        path = np.tile(self.center, (n, 1))
        scale = np.zeros(n)
        prev = self.center
        start = cfg.settle
        slot = active / max(len(self.poses), 1)
        for k, pose in enumerate(self.poses):
            # transfer at no more than half the speed budget, peak speed of a cosine move = pi/2 * d / T
            move = float(np.max(np.pi / 2 * np.abs(pose - prev) / (0.5 * speed)))
            move = min(max(move, 0.5), 0.5 * slot)
            x = _smoothstep((t - start) / move)[:, None]
            after = t >= start
            path[after] = (prev + (pose - prev) * x)[after]
            amp = 1.0 if k % 2 == 0 else cfg.slow_scale
            dwell = (t >= start + move) & (t < start + slot)
            ramp = _smoothstep((t - start - move) / min(0.5, 0.25 * slot)) * _smoothstep((start + slot - t) / 0.5)
            scale[dwell] = amp * ramp[dwell]
            prev, start = pose, start + slot
        targets = np.zeros((n, len(robot.actuators)))
        for i, act in enumerate(robot.actuators):
            if act.type != "position":
                continue
            j = self.joint_index[i]
            jnt = robot.joints[j]
            half = np.inf if jnt.position_limits is None else 0.5 * (jnt.position_limits[1] - jnt.position_limits[0])
            amp = cfg.amplitude * 0.5 * (half if np.isfinite(half) else 1.0)
            sig = amp * self.signals[:, i]
            peak = float(np.max(np.abs(np.diff(sig)))) / dt  # fastest multisine target speed
            if peak > 0.5 * speed[j]:
                sig *= 0.5 * speed[j] / peak
            target = path[:, j] + scale * sig
            if jnt.position_limits is not None:
                lo, hi = jnt.position_limits
                target = np.clip(target, lo + cfg.range_margin * half, hi - cfg.range_margin * half)
            # Rate limit: the sum of transfer, multisine and amplitude ramps may not outrun max_speed.
            step = speed[j] * dt
            for k in range(1, n):
                target[k] = target[k - 1] + np.clip(target[k] - target[k - 1], -step, step)
            targets[:, i] = target
        self.targets = targets

    def _holding_gains(self, i: int) -> tuple[float, float, float, float]:
        """(kp, kd, wall stiffness, half travel) of actuator i's holding feedback."""
        act = self.robot.actuators[i]
        jnt = self.robot.joints[self.joint_index[i]]
        limit = act.effort_limit / act.gain
        if jnt.position_limits is None:
            return 0.0, 0.5 * limit / jnt.velocity_limit, 0.0, np.inf
        half = 0.5 * (jnt.position_limits[1] - jnt.position_limits[0])
        kp = self.cfg.hold * limit / half
        if jnt.type == "prismatic":
            links = self.robot.moving_links[self.joint_index[i]:]
            mass = sum(self.robot.nominal[f"{link}.mass"] for link in links)
            kd = 2.0 * 0.7 * np.sqrt(kp * act.gain * mass) / act.gain
        else:
            kd = 0.5 * limit / jnt.velocity_limit
        wall = limit / ((1.0 - self.cfg.wall_start) * half)
        return kp, kd, wall, half

    def envelope(self, t: float) -> float:
        """0 while settling, then a smooth ramp to 1."""
        x = (t - self.cfg.settle) / self.cfg.ramp if self.cfg.ramp > 0 else float(t >= self.cfg.settle)
        x = min(max(x, 0.0), 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * x)

    def command(self, t: float, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        k = min(max(int(round(t / self.dt)), 0), len(self.signals) - 1)
        env = self.envelope(t)
        out = np.zeros(len(self.robot.actuators))
        for i, act in enumerate(self.robot.actuators):
            j = self.joint_index[i]
            s = env * self.signals[k, i]
            if act.type == "position":
                out[i] = self.targets[k, i]
                continue
            limit = act.effort_limit / act.gain
            kp, kd, wall, half = self._gains[i]
            err = q[j] - self.center[j]
            u = self.cfg.amplitude * limit * s - kp * err - kd * qd[j]
            over = abs(err) - self.cfg.wall_start * half
            if over > 0:
                u -= np.sign(err) * wall * over + kd * qd[j]
            out[i] = np.clip(u, -0.95 * limit, 0.95 * limit)
        return out


def hold_before_start(engine, command: np.ndarray) -> None:
    """Fill the engine's delay line with `command`, as if it had been sent (and held) all along.

    `sim.engines`' MuJoCo and PyBullet engines keep their `DelayLine` as `engine.delay`; an engine
    without one applies commands undelayed and needs nothing.
    """
    line = getattr(engine, "delay", None)
    if line is not None:
        line.reset(np.asarray(command, dtype=float))


@dataclass
class ExcitationRun:
    """What a simulated excitation produced: the log and how close it came to the limits."""

    log: object  # calibration.log.RobotLog
    max_travel_fraction: float  # largest |q - centre| / half travel over limited joints
    max_effort_fraction: float  # largest |command| / effort limit over force actuators (0 if none)
    max_target_speed_fraction: float = 0.0  # largest target speed / velocity limit over position actuators


def run_excitation(engine, robot: RobotSpec, duration: float, seed: int, obs_noise: float = 0.0,
                   cfg: ExcitationConfig | None = None, recorder=None, progress=None,
                   source: str = "simulation") -> ExcitationRun:
    """Play the excitation on a simulated robot (`sim.engines` Engine), return and optionally record it.

    Per control step k: read the joint state (plus Gaussian `obs_noise`, as a sensor would), compute
    the command from it, log both at t_k (joint state first), then step the engine. `recorder` is a
    `calibration.rosbag_io.BagRecorder`; `progress(k, n)` is called every step.

    The engine's delay line starts holding the first command, not the zeros `Engine.reset` leaves
    in it: a robot excited in a lab was holding its pose before the first command, and the fit
    replays the log that way (`sim.actuators.delayed_command`). With zeros, every position servo
    would be sent to 0 rad for the first `action_delay` (an arm's joints kicked at up to 3.4 rad/s).
    """
    from calibration.log import make_log

    exc = Excitation(robot, duration, seed, cfg)
    rng = np.random.default_rng(seed + 1_000_003)
    engine.reset(exc.center, np.zeros(len(robot.joints)))
    n = int(round(duration / robot.control_dt))
    nj = len(robot.joints)
    t = np.arange(n + 1) * robot.control_dt
    qs, qds = np.zeros((n + 1, nj)), np.zeros((n + 1, nj))
    cmds = np.zeros((n + 1, len(robot.actuators)))
    for k in range(n + 1):
        q, qd = engine.joint_state()
        if obs_noise > 0:
            q = q + rng.normal(0.0, obs_noise, nj)
            qd = qd + rng.normal(0.0, obs_noise, nj)
        qs[k], qds[k] = q, qd
        u = exc.command(float(t[k]), q, qd) if k < n else np.zeros(len(robot.actuators))
        cmds[k] = u
        if recorder is not None:
            t_ns = int(round(t[k] * 1e9))
            recorder.write_joint_state(t_ns, None, q, qd)
            if k < n:
                recorder.write_command(t_ns, u)
        if k == 0:
            hold_before_start(engine, u)
        if k < n:
            engine.step(u)
        if progress is not None:
            progress(k + 1, n + 1)
    log = make_log(joint_names=robot.joint_names, actuator_names=robot.actuator_names, t=t, q=qs, qd=qds,
                   command_t=t[:n], command=cmds[:n], source=source)
    travel = 0.0
    for k, j in enumerate(robot.joints):
        if j.position_limits is not None:
            half = 0.5 * (j.position_limits[1] - j.position_limits[0])
            travel = max(travel, float(np.max(np.abs(qs[:, k] - exc.center[k])) / half))
    force = [i for i, a in enumerate(robot.actuators) if a.type == "force"]
    limits = np.array([robot.actuators[i].effort_limit / robot.actuators[i].gain for i in force])
    effort = float(np.max(np.abs(cmds[:, force]) / limits)) if force else 0.0
    position = [i for i, a in enumerate(robot.actuators) if a.type == "position"]
    speed = 0.0
    if position and n > 1:
        vlim = np.array([robot.joint(robot.actuators[i].joint).velocity_limit for i in position])
        speed = float(np.max(np.abs(np.diff(cmds[:n, position], axis=0)) / robot.control_dt / vlim))
    return ExcitationRun(log=log, max_travel_fraction=travel, max_effort_fraction=effort,
                         max_target_speed_fraction=speed)

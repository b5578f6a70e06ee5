"""Least-squares identification on MuJoCo, built on `mujoco.sysid` and `mujoco.minimize`.

What comes from mujoco.sysid, unchanged: the parameter container and its bounds
(`ParameterDict`), the measured trajectories (`ModelSequences`), the parallel rollouts
(`sysid_rollout`, one `mujoco.rollout` call per batch of finite-difference models), the residual
(`build_residual_fn` with `SignalTransform.apply`: windowing, resampling the prediction at the
measured times, per-sensor weights), the Levenberg-Marquardt solver (`optimize` ->
`mujoco.minimize.least_squares`) and the confidence intervals (`calculate_intervals`).

What is ours, and why:

- `build_model` writes the vocabulary into a copy of one compiled model with
  `sim.engines.mujoco.ModelParamWriter`, the code `MujocoEngine` itself uses, so a fitted
  `pole.mass` means exactly what it means in training (inertia scaled with mass), and no spec is
  mutated in place between evaluations;
- `custom_rollout` realizes `action_delay` as a delay of the *commands* (`sim.actuators.delayed_command`,
  the whole-log form of the engines' delay rule),
  where sysid's own delay transform shifts *sensor* signals, which is only equivalent for a run
  that starts at rest; it also stamps sensor readings with the time they describe: MuJoCo computes
  sensors before integrating, so after `mj_step` they describe the state one physics step earlier;
- the initial state of each segment is fitted along (`calibration.fit.add_initial_state_params`).

The two-pass solve and the intervals are in `calibration.fit`, shared with the PyBullet fallback.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence

import mujoco
import numpy as np
from mujoco import sysid

from calibration.fit import FitOutcome, fit_parameters, solve, spread_weights
from calibration.segments import Segment
from sim.actuators import delayed_command
from sim.engines.mujoco import ModelParamWriter, build_spec
from sim.robot import RobotSpec


def sensor_names(robot: RobotSpec) -> list[str]:
    """Sensor names of the identification model: positions then velocities, robot joint order."""
    return [f"{j}_pos" for j in robot.joint_names] + [f"{j}_vel" for j in robot.joint_names]


class MujocoProblem:
    """The least-squares problem of fitting `fit_names` to `segments`, the other parameters held at `values`."""

    engine = "mujoco"

    def __init__(self, robot: RobotSpec, segments: Sequence[Segment], values: Mapping[str, float],
                 fit_names: Sequence[str], n_threads: int | None = None, fit_initial_state: bool = True,
                 initial_joints: Sequence[str] | None = None):
        self.robot = robot
        self.segments = list(segments)
        self.values = dict(values)
        self.fit_names = list(fit_names)
        spec = build_spec(robot)
        for j in robot.joint_names:
            spec.add_sensor(name=f"{j}_pos", type=mujoco.mjtSensor.mjSENS_JOINTPOS, objtype=mujoco.mjtObj.mjOBJ_JOINT,
                            objname=j)
        for j in robot.joint_names:
            spec.add_sensor(name=f"{j}_vel", type=mujoco.mjtSensor.mjSENS_JOINTVEL, objtype=mujoco.mjtObj.mjOBJ_JOINT,
                            objname=j)
        self.spec = spec
        self.template = spec.compile()
        self.writer = ModelParamWriter(self.template, robot)
        self.dt = float(self.template.opt.timestep)
        # one MjData per core: each Jacobian's finite-difference models roll out in parallel
        self.n_threads = max(1, os.cpu_count() or 1) if n_threads is None else int(n_threads)
        self.params, self.nuisance = fit_parameters(robot, self.values, self.fit_names, len(self.segments),
                                                    fit_initial_state, initial_joints)
        self._raw: dict[int, tuple[int, Segment]] = {}
        controls, sensors, initial = [], [], []
        self._qpos_adr = qpos_adr = [self.template.jnt_qposadr[self.template.joint(j).id] for j in robot.joint_names]
        self._dof_adr = dof_adr = [self.template.jnt_dofadr[self.template.joint(j).id] for j in robot.joint_names]
        for seg in self.segments:
            steps = int(np.floor(seg.duration / self.dt + 1e-9))
            # One physics step past the last sample: a rollout over n control times returns n - 1 sensor
            # readings, and re-stamped one step earlier (see `rollout`) they must still reach the segment's
            # last measured time. One step short, that sample was extrapolated, off by a step's worth of
            # motion (0.05 rad/s of pole velocity at 5 ms): 2x the noise floor on a 3 s held-out stretch.
            grid = np.arange(steps + 2) * self.dt
            placeholder = np.zeros((len(grid), self.template.nu))
            control = sysid.TimeSeries.from_control_names(grid, placeholder, self.template)
            self._raw[id(control)] = (len(controls), seg)
            controls.append(control)
            sensors.append(sysid.TimeSeries.from_names(seg.t, np.hstack([seg.q, seg.qd]), self.template))
            qpos = self.template.qpos0.copy()
            qvel = np.zeros(self.template.nv)
            qpos[qpos_adr] = seg.q0
            qvel[dof_adr] = seg.qd0
            initial.append(sysid.create_initial_state(self.template, qpos, qvel))
        self.sequences = sysid.ModelSequences(robot.name, spec, [f"segment{k}" for k in range(len(self.segments))],
                                              initial, controls, sensors)
        self.transform = sysid.SignalTransform(normalize=False)
        self.set_weights(spread_weights(self.segments))

    # -- pieces handed to mujoco.sysid -------------------------------------------------------

    def set_weights(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=float)
        self.transform.set_sensor_weights(dict(zip(sensor_names(self.robot), self.weights, strict=True)))

    def _full_values(self, params: sysid.ParameterDict) -> dict[str, float]:
        values = dict(self.values)
        for n in self.fit_names:
            values[n] = float(params[n].value[0])
        return values

    def build_model(self, params: sysid.ParameterDict, spec: mujoco.MjSpec) -> mujoco.MjModel:
        del spec  # the template is compiled once; parameters go into a copy of its arrays
        model = copy.copy(self.template)
        self.writer.apply(model, self._full_values(params))
        return model

    def rollout(self, *, models, datas, control_signal, initial_states, param_dicts, rollout_signal_mapping,
                rollout_state_mapping, ctrl_mapping):
        controls, starts = [], []
        nq = self.template.nq
        for ts, pd, x0 in zip(control_signal, param_dicts, initial_states, strict=True):
            k, seg = self._raw[id(ts)]
            delay = float(pd["action_delay"].value[0]) if "action_delay" in pd else self.values["action_delay"]
            u = delayed_command(seg.cmd_t, seg.cmd, ts.times, self.dt, delay)
            controls.append(sysid.TimeSeries(ts.times, u, ts.signal_mapping))
            x0 = np.array(x0, dtype=float)
            if self.nuisance:
                # mjSTATE_FULLPHYSICS = [time, qpos, qvel, ...]
                for i, j in enumerate(self.robot.joint_names):
                    if f"initial{k}.{j}.q" in pd:
                        x0[1 + self._qpos_adr[i]] += pd[f"initial{k}.{j}.q"].value[0]
                        x0[1 + nq + self._dof_adr[i]] += pd[f"initial{k}.{j}.qd"].value[0]
            starts.append(x0)
        trajs = sysid.sysid_rollout(models, datas, controls, starts, rollout_signal_mapping,
                                    rollout_state_mapping, ctrl_mapping)
        out = []
        for tr in trajs:
            sd = tr.sensordata
            # Sensors are evaluated before integration: the reading returned with the state at t
            # describes the state at t - dt. Stamp it with the time it describes.
            out.append(tr.replace(sensordata=sysid.TimeSeries(sd.times - self.dt, sd.data, sd.signal_mapping)))
        return out

    def residual_fn(self) -> Callable:
        return sysid.build_residual_fn(
            models_sequences=[self.sequences], build_model=self.build_model, modify_residual=self.transform.apply,
            custom_rollout=self.rollout, resample_true=False, n_threads=self.n_threads,
        )

    # -- evaluation helpers -------------------------------------------------------------------

    def residuals(self, x: np.ndarray) -> list[np.ndarray]:
        res, _, _ = self.residual_fn()(np.asarray(x, dtype=float), self.params.copy())
        return res

    def predictions(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Simulated (q, qd) at each segment's measured times, for parameter vector x."""
        params = self.params.copy()
        params.update_from_vector(np.asarray(x, dtype=float))
        model = self.build_model(params, self.spec)
        datas = [mujoco.MjData(model)]
        ctrl_map = sysid.TimeSeries.compute_all_control_mapping(model)
        sens_map = sysid.TimeSeries.compute_all_sensor_mapping(model)
        # One rollout call per segment: a batch must share its length.
        trajs = [self.rollout(models=[model], datas=datas, control_signal=[control], initial_states=[x0],
                              param_dicts=[params], rollout_signal_mapping=sens_map, rollout_state_mapping=None,
                              ctrl_mapping=ctrl_map)[0]
                 for control, x0 in zip(self.sequences.control, self.sequences.initial_state, strict=True)]
        nj = len(self.robot.joints)
        out = []
        for seg, tr in zip(self.segments, trajs, strict=True):
            pred = sysid.TimeSeries(tr.sensordata.times, tr.sensordata.data).resample(seg.t)
            out.append((pred.data[:, :nj], pred.data[:, nj:]))
        return out




def fit_mujoco(robot: RobotSpec, segments: Sequence[Segment], values: Mapping[str, float], fit_names: Sequence[str],
               max_iters: int = 50, progress: Callable[[int], None] | None = None, n_threads: int | None = None,
               fit_initial_state: bool = True) -> FitOutcome:
    """Fit `fit_names` (dynamics parameters and/or action_delay) to the segments; see the module docstring."""
    problem = MujocoProblem(robot, segments, values, fit_names, n_threads=n_threads,
                            fit_initial_state=fit_initial_state)
    return solve(problem, max_iters=max_iters, progress=progress)

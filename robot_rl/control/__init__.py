"""Model-based control from the (identified) MuJoCo model: LQR and sampling MPC as command sources.

The classical baseline a freshly identified model calls for, before and beside RL: the controller
plans with the robot's own MuJoCo model (`sim.engines.mujoco.build_spec`) under the nominal values
or a sysid params file, and runs as a `CommandSource` of the one control node, behind the same
SafetyFilter as a policy (`robot-rl deploy --controller lqr|mpc`), or on eval's episodes
(`robot-rl eval --controller lqr|mpc`).

Modules, one job each:

* `model`      the planning model: params written in, the control step with the robot's delay, its
               Jacobians (`mujoco.mjd_transitionFD`), gravity-holding commands;
* `lqr`        discrete LQR at the control period (delay-augmented state, scipy's Riccati solver);
* `ik`, `arm`  an arm's reach by LQR: inverse kinematics to the goal, LQR hold of that pose;
* `mpc`        sampling MPC (predictive sampling or MPPI) over threaded `mujoco.rollout`;
* `learned`    the same MPC rolling out a learned dynamics model (`sysid --model mlp`, `--dynamics-model`);
* `costs`      the MPC's task costs (swing-up, reach);
* `dual_mode`  the swing-up: MPC far from upright, the LQR inside its terminal region;
* `factory`    which controller does which task, with the settings measured here;
* `source`     the `CommandSource` the control node drives;
* `evaluation` `robot-rl eval --controller`; `cli_args` the shared flags; `timing` compute time per period.

Nothing here is imported by `robot_rl.runtime`; MuJoCo is imported only when a controller is built.
"""

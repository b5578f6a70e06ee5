"""Replay a recorded robot run beside the simulator's prediction of it: the reality gap, visible.

The log (a rosbag2 folder, or a CSV, read by calibration's readers exactly as `robot-rl sysid` reads
it) is drawn solid, as the robot measured it. The simulator replays the *logged commands* open loop
from the log's initial state (the comparison identification makes) and is drawn as a translucent
ghost: cyan with the robot's nominal parameters and, with `--params calib/params.yaml`, magenta with
the calibrated ones. Where the ghosts part from the solid robot, the model is wrong; a calibrated
ghost that stays on the robot is a fit that worked. The overlay gives the time and each model's
RMS joint-position error so far.

A floating-base robot's log holds its joints, not its trunk pose: it is shown as identified, on
a gantry (`sim.robot.suspended`: trunk fixed, legs free), and simulated the same way.

  robot-rl excite --robot cartpole --record run.bag --duration 10
  robot-rl sysid --robot cartpole --log run.bag --fit slider.gain,action_delay --out calib
  robot-rl replay run.bag --robot cartpole --params calib/params.yaml --out gap.mp4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from robot_rl.commands.render import _positive_float

NAME = "replay"
HELP = "render a recorded robot run (rosbag2/CSV) beside the simulator's open-loop prediction as a ghost"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", type=Path, metavar="BAG|CSV", help="rosbag2 folder (or its .mcap/.db3) or CSV log")
    parser.add_argument("--robot", required=True,
                        help="robot the log is of: a name (sim/robots/<name>) or a path to its robot.yaml")
    parser.add_argument("--params", default=None, metavar="FILE",
                        help="calibrated params (robot-rl sysid's params.yaml): a second, magenta ghost")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.mp4|FILE.gif", help="video to write")
    parser.add_argument("--seconds", type=_positive_float, default=None, help="replay at most this much of the log")
    parser.add_argument("--fps", type=_positive_float, default=30.0,
                        help="frames per second of log time (default 30)")
    parser.add_argument("--size", default="640x480", metavar="WxH", help="frame size (default 640x480)")
    parser.add_argument("--command-topic", default=None, help="command topic of a bag (default: the usual one)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")


def predict(robot, log, params=None, engine: str = "mujoco") -> np.ndarray:
    """Joint positions (N, J) at the log's times, simulated open loop from the logged commands.

    Each physics step holds the command in force `action_delay` earlier (zero-order hold, as the
    engines' delay line realizes it), from the initial state estimated as identification does.
    """
    from calibration.segments import estimate_initial_state
    from sim.engines import make_engine

    sim = make_engine(robot, engine, params)
    try:
        delay = float(sim.params.get("action_delay", 0.0))
        sim.set_params({**sim.params, "action_delay": 0.0})  # realized here, per physics step
        q0, qd0 = estimate_initial_state(log.t, log.q, log.qd)
        sim.reset(q0, qd0)
        dt = robot.physics_dt
        t = np.asarray(log.t) - float(log.t[0])
        out = np.empty_like(log.q)
        now, k = 0.0, 0
        while k < len(t):
            while k < len(t) and t[k] <= now + 1e-9:
                out[k] = sim.joint_state()[0]
                k += 1
            command = log.command_at(np.array([log.t[0] + now - delay]))[0]
            sim.run_substeps(command, 1)
            now += dt
        return out
    finally:
        sim.close()


def film_replay(log_path: Path, robot_name: str, out: Path, params=None, seconds: float | None = None,
                fps: float = 30.0, width: int = 640, height: int = 480, command_topic: str | None = None) -> dict:
    """Render the log at `log_path` beside the simulator's open-loop predictions into `out` (.mp4/.gif).

    One call for the CLI, the demo and a sysid report: returns {"video", "frames", "fps", "duration_s",
    "rms_position_error": {"nominal": ..., "calibrated": ...}} (rad or m, over every logged sample).
    """
    from calibration.load import load_log
    from robot_rl.video import check_video_path, overlay, write_video
    from sim.render import MujocoView
    from sim.robot import load_robot, suspended

    out = check_video_path(Path(out))
    if out.suffix.lower() == ".gif" and width > 320:
        width, height = 320, round(height * 320 / width)
    robot = load_robot(robot_name)
    log = load_log(log_path, robot, command_topic=command_topic)
    shown = suspended(robot) if robot.base is not None else robot  # the log has joints, not a trunk pose
    if seconds is not None:
        log = log.window(float(log.t[0]), float(log.t[0]) + seconds)
    models = [("nominal", predict(shown, log))]
    if params is not None:
        models.append(("calibrated", predict(shown, log, params)))
    view = MujocoView(shown, width, height, ghosts=len(models))
    qadr = [int(view.model.jnt_qposadr[view.model.joint(j.name).id]) for j in shown.joints]
    t = np.asarray(log.t) - float(log.t[0])

    def qpos(q: np.ndarray) -> np.ndarray:
        full = view.model.qpos0.copy()
        full[qadr] = q
        return full

    def at(values: np.ndarray, time: float) -> np.ndarray:  # joint positions interpolated at `time`
        return np.array([np.interp(time, t, values[:, j]) for j in range(values.shape[1])])

    fps = min(fps, 15.0) if out.suffix.lower() == ".gif" else fps
    frames, sq_err, counted, k = [], np.zeros(len(models)), 0, 0
    try:
        for time in np.arange(0.0, t[-1] + 1e-9, 1.0 / fps):
            while k < len(t) and t[k] <= time:  # the error over every logged sample up to now
                for m, (_, pred) in enumerate(models):
                    sq_err[m] += float(np.mean((pred[k] - log.q[k]) ** 2))
                counted += 1
                k += 1
            rms = np.sqrt(sq_err / max(counted, 1))
            lines = [f"{robot_name} log {Path(log_path).name}  t {time:5.2f} s  (solid: robot)"]
            lines += [f"{name} sim ({'cyan' if m == 0 else 'magenta'}): rms {rms[m]:.4f}"
                      for m, (name, _) in enumerate(models)]
            frame = view.render(qpos(at(log.q, time)), ghosts=[qpos(at(pred, time)) for _, pred in models])
            frames.append(overlay(frame, lines))
    finally:
        view.close()
    write_video(out, frames, fps)
    return {"video": str(out), "frames": len(frames), "fps": fps, "duration_s": float(t[-1]),
            "rms_position_error": {name: float(np.sqrt(np.mean((pred - log.q) ** 2))) for name, pred in models}}


def run(args: argparse.Namespace) -> int:
    import json

    from robot_rl.commands.render import _size
    from robot_rl.video import check_video_path

    check_video_path(args.out, args.force)
    width, height = _size(args.size)
    result = film_replay(args.log, args.robot, args.out, args.params, args.seconds, args.fps, width, height,
                         args.command_topic)
    if args.json:
        print(json.dumps(result))
    else:
        errs = ", ".join(f"{k} {v:.4g}" for k, v in result["rms_position_error"].items())
        print(f"{args.out}: {result['frames']} frames at {result['fps']:g} fps over {result['duration_s']:.1f} s "
              f"of log; rms joint error: {errs}")
    return 0


def sysid_replay(result, log_path: Path, robot_name: str, command_topic: str | None = None, *,
                 seconds: float | None = None, width: int = 640, height: int = 480) -> Path:
    """`robot-rl sysid --video`: the log beside the nominal and the fitted simulator, as replay.mp4 next to
    the fit's report.html, which then shows it (a <video> before its notes). `seconds`, `width` and
    `height` keep it short and small where rendering time counts (`robot-rl demo` films the log's start).

    The fitted ghost uses params.yaml where the fit wrote one, else the fitted values themselves (a fit
    judged not adequate still shows how far it got).
    """
    report = Path(result.paths["report"])
    params_file = result.paths.get("params")
    params = str(params_file) if params_file is not None and Path(params_file).is_file() else dict(result.fitted)
    video = report.parent / "replay.mp4"
    film_replay(log_path, robot_name, video, params, seconds=seconds, width=width, height=height,
                command_topic=command_topic)
    if report.is_file():
        html = report.read_text()
        tag = ('<h2>Replay</h2><p>The log (solid) beside the simulator replaying its commands open loop: cyan '
               'with robot.yaml\'s values, magenta with the fit (<code>robot-rl replay</code>).</p>'
               '<video src="replay.mp4" controls loop muted style="max-width:100%"></video>\n')
        marker = "<h2>Notes on the data and the fit</h2>"
        report.write_text(html.replace(marker, tag + marker, 1) if marker in html
                          else html.replace("</body>", tag + "</body>", 1))
    return video

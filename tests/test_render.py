"""Rendering (sim/render.py) and rollout videos (robot_rl/video.py), headless.

MuJoCo renders through EGL here (sim/__init__.py sets MUJOCO_GL=egl without a display); PyBullet
through TinyRenderer. Frames must decode, show something (not one flat colour) and change as the
robot moves; a missing OpenGL is one line naming MUJOCO_GL=egl.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import sim
from robot_rl.envs import make_env

SMALL = {"width": 160, "height": 120}


def _env(task: str, engine: str = "mujoco", **options):
    env = make_env(task, engine=engine, render_mode="rgb_array")
    env.unwrapped.set_render_options(**{**SMALL, **options})
    return env


def _not_blank(frame: np.ndarray) -> None:
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 10.0, "a flat frame: nothing was drawn"
    assert len(np.unique(frame.reshape(-1, 3)[::7], axis=0)) > 5  # floor, sky, robot parts, shading


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
@pytest.mark.parametrize("task", sim.TASKS)
def test_check_env_passes_with_rgb_array(task, engine):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    env = gym.make(f"robot_rl/{task}", engine=engine, render_mode="rgb_array")
    env.unwrapped.set_render_options(**SMALL)
    assert env.metadata["render_fps"] == round(env.unwrapped.robot.control_hz)
    check_env(env.unwrapped, skip_render_check=False)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (120, 160, 3)
    env.close()


def test_frames_change_and_camera_follows_the_base():
    env = _env("A1Walk-v0")
    env.reset(seed=3)
    first = env.render()
    _not_blank(first)
    core = env.unwrapped.core
    rng = np.random.default_rng(0)
    for _ in range(15):
        env.step(rng.uniform(-1, 1, 12).astype(np.float32))
        moved = env.render()  # the look-at point moves a fraction of the way at each frame
    _not_blank(moved)
    assert np.abs(moved.astype(int) - first.astype(int)).mean() > 1.0, "the picture did not change as the robot moved"
    # The look-at point follows the trunk in x-y (smoothed), at a fixed height.
    view = env.unwrapped._renderer.view.view
    base = core.state.base.position[0]
    assert view.follow and np.linalg.norm(view.lookat[:2] - base[:2]) < 0.05
    env.close()


def test_goal_marker_is_drawn():
    """The reach goal is a sphere added to the scene: the frame differs where it is, nothing else does."""
    env = _env("IiwaReach-v0")
    env.reset(seed=0)
    with_goal = env.render()
    renderer = env.unwrapped._renderer
    view = renderer.view
    without = view.render(env.unwrapped.engine.data.qpos, [])
    diff = np.any(with_goal != without, axis=2)
    assert 0 < diff.sum() < 0.05 * diff.size
    env.close()


def test_pybullet_frames_change():
    env = _env("CartpoleSwingup-v0", engine="pybullet")
    env.reset(seed=0)
    first = env.render()
    _not_blank(first)
    for _ in range(20):
        env.step(np.ones(1, np.float32))
    assert np.abs(env.render().astype(int) - first.astype(int)).mean() > 0.2
    env.close()


def test_ghosts_are_translucent_copies():
    from sim.render import MujocoView
    from sim.robot import load_robot

    view = MujocoView(load_robot("cartpole"), 160, 120, ghosts=1)
    q = np.zeros(view.model.nq)
    alone = view.render(q)
    ghost = q.copy()
    ghost[1] = 1.5  # the pole swung
    both = view.render(q, ghosts=[ghost])
    assert np.any(both != alone)
    view.close()


def test_no_offscreen_gl_is_one_clear_line():
    """glfw without a display cannot render: the error names MUJOCO_GL=egl and what to install."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MUJOCO_GL"] = "glfw"
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "from sim.render import MujocoView, RenderUnavailableError\nfrom sim.robot import load_robot\n"
            "try:\n    MujocoView(load_robot('cartpole'), 64, 48)\nexcept RenderUnavailableError as e:\n"
            "    print('ERR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    lines = [line for line in out.stdout.splitlines() if line.startswith("ERR")]
    assert len(lines) == 1, out.stdout + out.stderr
    assert "MUJOCO_GL=egl" in lines[0] and "libegl1" in lines[0] and "pybullet" in lines[0]


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_video_file_decodes(tmp_path, suffix):
    import imageio.v3 as iio

    from robot_rl.video import render_policy_video

    env = _env("A1Walk-v0")
    path = tmp_path / f"a1{suffix}"
    rec = render_policy_video(env, lambda obs: np.zeros(12, np.float32), path, episodes=1, max_seconds=0.5,
                              title="A1Walk-v0")
    env.close()
    fps = 30.0 if suffix == ".mp4" else 15.0
    assert len(rec.frames) == round(0.5 * fps) + 1  # frames at 30 (15) fps of simulated time, the last state too
    frames = iio.imread(path)
    assert frames.shape[0] == len(rec.frames) and frames.shape[-1] == 3
    _not_blank(np.asarray(frames[-1])[:, :, :3])
    assert rec.episodes[0].length == 25


def test_video_path_is_checked_first(tmp_path):
    from robot_rl.video import VideoError, check_video_path

    with pytest.raises(VideoError, match=r"\.mp4 or \.gif"):
        check_video_path(tmp_path / "out.avi")


def test_render_command_films_a_policy_folder(tmp_path, capsys):
    import json

    import imageio.v3 as iio

    from robot_rl.cli import main

    out = tmp_path / "swingup.gif"
    assert main(["render", "policies/cartpole_swingup", "--out", str(out), "--seconds", "0.4", "--size", "160x120",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["frames"] == 7 and result["episodes"][0]["length"] == 20  # 0.4 s at 15 fps (GIF), 50 Hz
    frames = iio.imread(out)
    assert frames.shape[:3] == (7, 120, 160)
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 0.5  # the cart moved, the clock ran


def test_render_films_a_legged_policy_on_the_terrain_asked_for(tmp_path, capsys):
    """--terrain: the film shows the robot on that ground (stairs are not the plane), and the JSON says which."""
    import json

    import imageio.v3 as iio

    from robot_rl.cli import main

    firsts = {}
    for ground in ("flat", "stairs"):
        out = tmp_path / f"{ground}.gif"
        assert main(["render", "policies/a1_walk", "--out", str(out), "--seconds", "0.2", "--size", "160x120",
                     "--terrain", ground, "--json"]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["terrain"] == ground
        firsts[ground] = iio.imread(out)[0].astype(int)
    assert np.abs(firsts["stairs"] - firsts["flat"]).mean() > 2.0


def test_eval_video_suffix_is_checked_before_evaluating(tmp_path, capsys):
    from robot_rl.cli import main

    assert main(["eval", "policies/cartpole_swingup", "--video", str(tmp_path / "x.avi")]) == 1
    err = capsys.readouterr().err
    assert ".mp4 or .gif" in err and len(err.strip().splitlines()) == 1


def test_training_logs_an_evaluation_video(tmp_path):
    """--video-every 1: each periodic evaluation writes videos/step_*.mp4 and a GIF image summary to TensorBoard."""
    import imageio.v3 as iio
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from robot_rl.train import RunConfig, train

    config = RunConfig(env_id="robot_rl/CartpoleBalance-v0", algo="ppo", steps=256, seed=3, engine="mujoco",
                       eval_every=256, eval_episodes=1, checkpoint_every=0, video_every=1,
                       algo_config={"num_envs": 4, "num_steps": 32, "num_minibatches": 2, "update_epochs": 1,
                                    "hidden": [8, 8]}, command="test")
    train(config, tmp_path / "run", progress=False)
    videos = sorted((tmp_path / "run" / "videos").glob("step_*.mp4"))
    assert [v.name for v in videos] == ["step_000000256.mp4"]
    frames = iio.imread(videos[0])
    assert frames.shape[1:] == (240, 320, 3) and len(frames) >= 3  # an untrained balance falls within a second
    events = EventAccumulator(str(tmp_path / "run" / "tb"), size_guidance={"images": 0})
    events.Reload()
    images = events.Images("eval/video")
    assert [im.step for im in images] == [256] and images[0].encoded_image_string[:6] == b"GIF89a"


def test_replay_shows_the_log_beside_nominal_and_calibrated_ghosts(tmp_path, capsys):
    """A log of a robot with hidden physics: the calibrated ghost (the hidden values) tracks it closer than
    the nominal one, and both ghosts are drawn (the frame differs from the log drawn alone)."""
    import json

    import imageio.v3 as iio
    import yaml

    from robot_rl.cli import main

    hidden = tmp_path / "hidden.yaml"
    hidden.write_text(yaml.safe_dump({"slider.gain": 0.8, "action_delay": 0.02}))
    assert main(["excite", "--robot", "cartpole", "--params", str(hidden), "--duration", "3", "--seed", "2",
                 "--record", str(tmp_path / "run.bag")]) == 0
    capsys.readouterr()
    out = tmp_path / "gap.mp4"
    assert main(["replay", str(tmp_path / "run.bag"), "--robot", "cartpole", "--params", str(hidden), "--out",
                 str(out), "--size", "160x128", "--fps", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    err = result["rms_position_error"]
    assert err["calibrated"] < 0.5 * err["nominal"]
    frames = iio.imread(out)
    assert len(frames) == result["frames"] == 31
    _not_blank(np.asarray(frames[-1]))
    # sysid --video: the same film beside the fit, shown in its report
    calib = tmp_path / "calib"
    main(["sysid", "--robot", "cartpole", "--log", str(tmp_path / "run.bag"), "--fit", "slider.gain",
          "--out", str(calib), "--video", "--accept-inadequate"])
    assert (calib / "replay.mp4").is_file() and len(iio.imread(calib / "replay.mp4")) > 30
    assert '<video src="replay.mp4"' in (calib / "report.html").read_text()


def test_predict_with_the_log_s_own_physics_follows_the_log(tmp_path):
    """The open-loop prediction is the simulator replaying the logged commands: on a log the same simulator
    made, from the same physics, it stays within a centimetre or a hundredth of a radian."""
    from calibration.load import load_log
    from robot_rl.cli import main
    from robot_rl.commands.replay import predict
    from sim.robot import load_robot

    assert main(["excite", "--robot", "cartpole", "--duration", "3", "--seed", "1", "--record",
                 str(tmp_path / "run.bag")]) == 0
    robot = load_robot("cartpole")
    log = load_log(tmp_path / "run.bag", robot)
    q = predict(robot, log)
    assert q.shape == log.q.shape
    assert np.sqrt(np.mean((q - log.q) ** 2)) < 0.01


# How the shipped GIFs were made (kept here so the test that checks them says how to remake them):
#   robot-rl render policies/cartpole_swingup --out policies/cartpole_swingup/rollout.gif --shadows --force
#   robot-rl render policies/iiwa_reach --out policies/iiwa_reach/rollout.gif --episodes 3 --shadows --force
#   robot-rl render policies/a1_walk --out policies/a1_walk/rollout.gif --seconds 6 --seed 1 --shadows --force
#   robot-rl render policies/panda_reach --out policies/panda_reach/rollout.gif --episodes 3 --shadows --force
#   robot-rl render policies/laikago_walk --out policies/laikago_walk/rollout.gif --seconds 5 --seed 1 --shadows --force
#   robot-rl render policies/a1_rough --out policies/a1_rough/rollout.gif --terrain stairs:seed=1 --seconds 5 --seed 1 \
#       --shadows --force
def test_every_shipped_policy_has_a_small_rollout_gif():
    """Rollout GIFs: each shipped policy folder has one, it is an animation, and it stays under 2 MB."""
    from pathlib import Path

    from PIL import Image

    folders = [f for f in (Path(__file__).resolve().parents[1] / "policies").iterdir() if (f / "policy.json").is_file()]
    assert folders
    for folder in folders:
        gif = folder / "rollout.gif"
        assert gif.is_file(), f"{folder.name}: no rollout.gif (see the commands above this test)"
        assert gif.stat().st_size < 2_000_000, f"{gif}: {gif.stat().st_size} bytes, over 2 MB"
        with Image.open(gif) as image:
            assert image.format == "GIF" and image.n_frames >= 30


def test_both_engines_film_from_the_same_camera():
    """The reach goal (a green sphere) lands at the same place in a MuJoCo and a PyBullet frame of the same
    episode: one camera for both engines (a sim-to-sim video pair lines up)."""
    centroids = []
    for engine in ("mujoco", "pybullet"):
        env = _env("IiwaReach-v0", engine=engine, width=320, height=240)
        env.reset(seed=0)
        frame = env.render().astype(int)
        env.close()
        green = (frame[:, :, 1] > 120) & (frame[:, :, 1] > frame[:, :, 0] + 60) & (frame[:, :, 1] > frame[:, :, 2] + 60)
        assert green.sum() > 5, f"{engine}: no goal marker in the frame"
        rows, cols = np.nonzero(green)
        centroids.append((rows.mean(), cols.mean()))
    (r0, c0), (r1, c1) = centroids
    assert abs(r0 - r1) < 12 and abs(c0 - c1) < 12, centroids


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_rendering_does_not_touch_the_physics(engine):
    """Markers are visual-only bodies (PyBullet) or scene geoms of a separate visual model (MuJoCo): an
    episode filmed at every step is the same, bit for bit, as one never filmed."""
    actions = np.random.default_rng(1).uniform(-1, 1, (12, 12)).astype(np.float32)
    runs = []
    for film in (False, True):
        env = _env("A1Walk-v0", engine=engine)
        obs, _ = env.reset(seed=4)
        trace = [obs]
        for a in actions:
            if film:
                env.render()
            trace.append(env.step(a)[0])
        env.close()
        runs.append(np.array(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_an_existing_video_is_kept_without_force(tmp_path, capsys):
    from robot_rl.cli import main

    out = tmp_path / "kept.mp4"
    out.write_bytes(b"precious")
    assert main(["render", "policies/cartpole_swingup", "--out", str(out), "--seconds", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "exists already" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"precious"
    assert main(["eval", "policies/cartpole_swingup", "--video", str(out)]) == 1
    assert "exists already" in capsys.readouterr().err and out.read_bytes() == b"precious"

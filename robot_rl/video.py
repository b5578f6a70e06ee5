"""Rollout videos: episodes of a policy rendered with a text overlay, written as MP4 or GIF.

Used by `robot-rl eval --video`, `robot-rl render`, training's `--video-every` and `robot-rl replay`.
The env renders (``render_mode="rgb_array"``, sim/render.py); this module only chooses which steps
become frames, writes the overlay (PIL) and encodes: MP4 through imageio's ffmpeg plugin (the
`imageio-ffmpeg` wheel bundles an ffmpeg binary), GIF through PIL with one shared palette per frame.

Frames are taken at `fps` of *simulated* time (a 50 Hz robot filmed at 30 fps gives a frame at
each step whose time reaches the next frame's; the picture is the state at that instant), so the
video plays at the robot's real speed whatever its control rate. Nothing in robot_rl/runtime
imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import RobotRLError

VIDEO_SUFFIXES = (".mp4", ".gif")
GIF_MAX_WIDTH = 320  # GIFs are for READMEs: small; MP4 keeps the rendered size


class VideoError(RobotRLError):
    """A video cannot be written (unknown format, missing encoder, nothing rendered)."""


def check_video_path(path: Path, force: bool | None = None, flag: str = "--out") -> Path:
    """`path` if it ends in .mp4 or .gif, else a one-line error (before minutes of simulation).

    With `force` given (a command's --force), an existing file is refused unless it is True: nothing a
    user saved is replaced silently (issue 20's rule for every output path).
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoError(f"{flag} {path}: a video is written as .mp4 or .gif, not '{path.suffix or 'no suffix'}'")
    if force is not None:
        if path.is_dir():
            raise VideoError(f"{flag} {path} is a folder; give a file name such as {path / 'rollout.mp4'}")
        if path.exists() and not force:
            raise VideoError(f"{flag} {path} exists already; choose a new file, or pass --force to replace it")
    return path


# -- overlay ---------------------------------------------------------------------------------------
_FONTS: dict[int, Any] = {}


def _font(size: int):
    from PIL import ImageFont

    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)  # Pillow's bundled TrueType font (FreeType)
        except (TypeError, OSError):  # an old Pillow, or one without FreeType: its bitmap font
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def overlay(frame: np.ndarray, lines: Iterable[str]) -> np.ndarray:
    """`frame` with `lines` of text top-left on a darkened box (a new array).

    Only the box is touched (darkened in numpy, text drawn by PIL on that crop): compositing a whole
    640x480 RGBA frame cost ~5 ms a frame, a sixth of a software-rendered frame.
    """
    from PIL import Image, ImageDraw

    lines = [line for line in lines if line]
    out = np.array(frame[:, :, :3], dtype=np.uint8, copy=True)
    if not lines:
        return out
    font = _font(max(10, out.shape[0] // 30))
    text = "\n".join(lines)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, font=font,
                                                                                       spacing=3)
    x1, y1 = min(out.shape[1], right + 16), min(out.shape[0], bottom + 12)
    box = out[:y1, :x1]
    box[:] = (box.astype(np.uint16) * 115 // 255).astype(np.uint8)  # ~55% black over the picture
    crop = Image.fromarray(box)
    ImageDraw.Draw(crop).multiline_text((8, 6), text, font=font, fill=(255, 255, 255), spacing=3)
    out[:y1, :x1] = np.asarray(crop)
    return out


# -- encoding --------------------------------------------------------------------------------------
def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Encode `frames` ((H, W, 3) uint8) to `path` (.mp4 with H.264, or .gif); returns the path."""
    path = check_video_path(path)
    if not frames:
        raise VideoError(f"{path}: no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        _write_gif(path, frames, fps)
    else:
        _write_mp4(path, frames, fps)
    return path


def _write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> None:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio's plugin runs)
    except ImportError as exc:
        raise VideoError(f"{path}: MP4 needs imageio and imageio-ffmpeg (pip install imageio imageio-ffmpeg), "
                         f"or write a .gif: {exc}") from exc
    # H.264 in yuv420p needs even sizes (imageio resizes to a multiple of macro_block_size, warning); every
    # size offered here (640x480, 320x240, --size) is even, so frames go in as rendered.
    with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=7, pixelformat="yuv420p",
                            macro_block_size=2) as writer:
        for frame in frames:
            writer.append_data(np.ascontiguousarray(frame[:, :, :3]))


def _write_gif(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """A small GIF: at most GIF_MAX_WIDTH wide, one adaptive palette per frame, 10 ms-quantized delays."""
    from PIL import Image

    images = []
    for frame in frames:
        image = Image.fromarray(np.ascontiguousarray(frame[:, :, :3]))
        if image.width > GIF_MAX_WIDTH:
            image = image.resize((GIF_MAX_WIDTH, round(image.height * GIF_MAX_WIDTH / image.width)),
                                 Image.Resampling.LANCZOS)
        images.append(image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    duration = max(20, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are centiseconds; browsers clamp < 20 ms
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=True,
                   disposal=1)


# -- recording episodes ------------------------------------------------------------------------------
@dataclass
class EpisodeRecord:
    """What one recorded episode did (its frames are in `Recording.frames`)."""

    episode: int
    seed: int
    ret: float = 0.0
    length: int = 0
    success: bool | None = None


@dataclass
class Recording:
    frames: list[np.ndarray] = field(default_factory=list)
    episodes: list[EpisodeRecord] = field(default_factory=list)
    fps: float = 30.0
    render_s: float = 0.0  # wall time spent rendering and overlaying (for bench/render_cost.py)
    sim_s: float = 0.0  # wall time spent in policy + env.step


def legged_lines(env) -> list[str]:
    """Commanded vs measured planar velocity of a floating-base robot with a velocity command, else []."""
    core = getattr(env, "core", None)
    robot = getattr(env, "robot", None)
    if core is None or robot is None or robot.base is None or core.command.shape[1] != 3 or core.state is None:
        return []
    from sim.state import quat_rotate_inverse

    base = core.state.base
    v = quat_rotate_inverse(base.orientation, base.linear_velocity)[0]
    c = core.command[0]
    return [f"cmd  vx {c[0]:+.2f}  vy {c[1]:+.2f}  wz {c[2]:+.2f}",
            f"meas vx {v[0]:+.2f}  vy {v[1]:+.2f}  wz {float(base.angular_velocity[0, 2]):+.2f}"]


def record_episodes(env, policy_fn: Callable[[np.ndarray], np.ndarray], episodes: int, seed: int = 0,
                    fps: float = 30.0, max_seconds: float | None = None, title: str = "",
                    on_frame: Callable[[np.ndarray], None] | None = None) -> Recording:
    """Run `episodes` episodes (episode i reset with seed+i, as `robot-rl eval`) and film them.

    `env` must have been made with ``render_mode="rgb_array"``. `max_seconds` cuts each episode's
    film (and the episode) after that much simulated time. `on_frame` receives each frame instead of
    keeping it (long videos written as they are made); without it frames are kept in the Recording.
    """
    import time

    base_env = env.unwrapped
    if getattr(env, "render_mode", None) != "rgb_array":
        raise VideoError("record_episodes needs an env made with render_mode='rgb_array'")
    control_hz = float(base_env.metadata.get("render_fps") or env.metadata.get("render_fps") or fps)
    dt = 1.0 / control_hz
    rec = Recording(fps=fps)
    for i in range(episodes):
        record = EpisodeRecord(episode=i + 1, seed=seed + i)
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=seed + i)
        rec.sim_s += time.perf_counter() - t0
        t, next_frame, done = 0.0, 0.0, False
        while True:
            if t >= next_frame - 1e-9:
                t0 = time.perf_counter()
                lines = [f"{title}  episode {i + 1}/{episodes}  t {t:5.2f} s".strip(),
                         f"return {record.ret:8.2f}"
                         + ("" if record.success is None else f"  success {'yes' if record.success else 'no'}")]
                frame = overlay(env.render(), lines + legged_lines(base_env))
                if on_frame is not None:
                    on_frame(frame)
                else:
                    rec.frames.append(frame)
                rec.render_s += time.perf_counter() - t0
                next_frame += 1.0 / fps
            if done:
                break
            t0 = time.perf_counter()
            obs, reward, terminated, truncated, info = env.step(policy_fn(obs))
            rec.sim_s += time.perf_counter() - t0
            record.ret += float(reward)
            record.length += 1
            t += dt
            done = bool(terminated or truncated) or (max_seconds is not None and t >= max_seconds - 1e-9)
            if terminated or truncated:
                record.success = info.get("success")
            if done:
                next_frame = t  # the last state is always filmed, with the final return and success
        rec.episodes.append(record)
    return rec


def render_policy_video(env, policy_fn, path: Path, episodes: int, seed: int = 0, fps: float = 30.0,
                        max_seconds: float | None = None, title: str = "") -> Recording:
    """`record_episodes` into a file: .mp4 at `fps`, .gif at min(fps, 15) (every other frame at 30)."""
    path = check_video_path(path)
    gif = path.suffix.lower() == ".gif"
    rec_fps = min(fps, 15.0) if gif else fps
    rec = record_episodes(env, policy_fn, episodes, seed, rec_fps, max_seconds, title)
    write_video(path, rec.frames, rec_fps)
    return rec


def film_policy(policy_fn, env_id: str, task_kwargs: dict[str, Any], path: Path, episodes: int, seed: int = 0,
                fps: float = 30.0, max_seconds: float | None = None, width: int = 640, height: int = 480,
                shadows: bool = False) -> Recording:
    """Make `env_id` with ``render_mode="rgb_array"`` and film `episodes` episodes of `policy_fn` into `path`
    (episode i seeded seed+i, the episodes `robot-rl eval --seed` evaluates)."""
    import gymnasium as gym

    from robot_rl.envs import make_env

    path = check_video_path(path)
    env = make_env(env_id, render_mode="rgb_array", **task_kwargs)
    try:
        base = env.unwrapped
        if path.suffix.lower() == ".gif" and width > GIF_MAX_WIDTH:  # render at the GIF's size: cheaper, legible text
            width, height = GIF_MAX_WIDTH, round(height * GIF_MAX_WIDTH / width)
        if hasattr(base, "set_render_options"):
            base.set_render_options(width=width, height=height, shadows=shadows)
        title = env_id.removeprefix("robot_rl/") + (f" ({task_kwargs['engine']})" if task_kwargs.get("engine") else "")
        try:
            return render_policy_video(env, policy_fn, path, episodes, seed, fps, max_seconds, title)
        except gym.error.DependencyNotInstalled as exc:  # e.g. gymnasium's classic-control envs draw with pygame
            raise VideoError(f"{env_id} cannot render here: {exc}") from exc
    finally:
        env.close()


def gif_bytes(frames: list[np.ndarray], fps: float) -> bytes:
    """`frames` as an animated GIF in memory (what TensorBoard's image tab plays)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.gif"
        _write_gif(path, frames, fps)
        return path.read_bytes()


def log_training_video(run_dir: Path, step: int, policy_fn, env_id: str, task_kwargs: dict[str, Any],
                       tb_writer=None, privileged_obs: bool = False, seconds: float = 4.0) -> Path:
    """A short evaluation clip at a training evaluation: `run_dir/videos/step_<step>.mp4` and, with a
    TensorBoard writer, an animated GIF under the image tag `eval/video` at `step`.

    Why a GIF as an image summary: TensorBoard's video summaries in torch need moviepy; the image
    dashboard plays an animated GIF as it is. 320x240 at 15 fps, one episode of at most `seconds`
    (seed 0: the same episode at every evaluation, so clips compare): about a second of rendering.
    """
    from robot_rl.envs import make_env

    fps = 15.0
    env = make_env(env_id, privileged_obs, render_mode="rgb_array", **task_kwargs)
    try:
        base = env.unwrapped
        if hasattr(base, "set_render_options"):
            base.set_render_options(width=320, height=240)
        rec = record_episodes(env, policy_fn, 1, seed=0, fps=fps, max_seconds=seconds,
                              title=f"{env_id.removeprefix('robot_rl/')} step {step}")
    finally:
        env.close()
    path = write_video(Path(run_dir) / "videos" / f"step_{step:09d}.mp4", rec.frames, fps)
    if tb_writer is not None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        h, w = rec.frames[0].shape[:2]
        image = Summary.Image(height=h, width=w, colorspace=3, encoded_image_string=gif_bytes(rec.frames, fps))
        tb_writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag="eval/video", image=image)]),
                                                 step)
        tb_writer.flush()
    return path


__all__ = ["Recording", "VideoError", "check_video_path", "film_policy", "gif_bytes", "log_training_video",
           "overlay", "record_episodes", "render_policy_video", "write_video"]

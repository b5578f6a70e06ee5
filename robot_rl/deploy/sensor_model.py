"""What a simulated robot's sensors report: encoder counts and noise, a MEMS IMU's noise.

A simulator knows its joints to 16 digits; a robot reads them through encoders, which count in
steps and jitter, and through an IMU, whose gyro and accelerometer are noisy. A sim robot that
publishes the engine's values makes everything downstream look better than any robot allows:
system identification on such a log recovers parameters to 1e-6 with 95% intervals of 1e-9,
which no lab ever sees. So the sim robot (`robot-rl sim-robot`, `robot_rl.deploy.sim_robot_node`)
reads its joints through this model by default, and `--ideal-sensors` switches it off (the
engine's values, bit for bit) where a test needs exact recovery.

The model, per joint type (values typical of real hardware; `SensorModel` takes others):

* revolute and continuous joints: a 14-bit absolute encoder (2^14 counts per revolution,
  0.022 deg; magnetic encoders of the AS5047 class on servo and research joints), with
  1e-4 rad (0.006 deg) of Gaussian jitter before the count is taken;
* prismatic joints: a linear encoder of 10 um resolution (a magnetic tape or a belt drive's
  motor encoder), with 5 um of jitter;
* velocities: *measured*, as a servo drive reports them, not differentiated here. A drive
  differentiates its encoder in its own loop (kHz) and low-passes the result; the filter's lag
  (under 1 ms) is far below a control period, so what reaches the joint state is the true
  velocity plus the estimate's noise: 0.01 rad/s and 1e-3 m/s (std). Differencing the published
  positions instead would lag half a period (10 ms on the 50 Hz cart-pole), which a real drive
  does not, and with 14 bits at 50 Hz would step in 0.019 rad/s quanta;
* a legged robot's IMU: a 6-axis MEMS part of the BMI088 / ICM-42688 class, filtered to 100 Hz
  bandwidth: gyro noise density 0.014 deg/s/sqrt(Hz) (2.4e-3 rad/s std at 100 Hz), accelerometer
  175 ug/sqrt(Hz) (0.017 m/s^2 std), each read as a 16-bit count that saturates at the part's range
  (+-2000 deg/s, +-16 g), and the attitude filter's orientation jittered by 0.002 rad about each axis. No bias: a gyro's
  turn-on bias is calibrated away at start-up by any robot that uses its IMU.

Noise is added before quantization (the count is taken of the noisy signal), on top of any
`obs_noise` the simulator's params carry (the task's own noise model, a reality-gap parameter).
The draws come from their own generator seeded by the run's seed and episode, so runs reproduce
and switching the sensors off does not change the physics' random stream.

Numpy only: the runtime and the ROS package may import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SENSOR_STREAM = 0x5E450  # the sensors' own random stream, apart from the env's (seed, episode, this)
GRAVITY = 9.80665  # m/s^2, the standard g of accelerometer datasheets


@dataclass(frozen=True)
class EncoderSpec:
    """One joint's position and velocity sensing."""

    resolution: float  # one count (rad or m); readings are whole multiples of it. 0: not quantized
    position_noise: float  # Gaussian std before the count is taken (rad or m)
    velocity_noise: float  # Gaussian std of the drive's velocity estimate (rad/s or m/s)

    def __post_init__(self) -> None:
        for name in ("resolution", "position_noise", "velocity_noise"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"EncoderSpec.{name} is {value}; expected a finite value >= 0")

    def as_dict(self) -> dict[str, float]:
        return {"resolution": self.resolution, "position_noise": self.position_noise,
                "velocity_noise": self.velocity_noise}


# 14-bit absolute encoder on the joint: 2 pi / 16384 = 3.835e-4 rad per count.
REVOLUTE_ENCODER = EncoderSpec(resolution=2.0 * math.pi / 2**14, position_noise=1e-4, velocity_noise=0.01)
# 10 um linear encoder.
PRISMATIC_ENCODER = EncoderSpec(resolution=1e-5, position_noise=5e-6, velocity_noise=1e-3)


@dataclass(frozen=True)
class ImuSpec:
    """A MEMS IMU as a legged robot carries it (defaults: BMI088 / ICM-42688 class)."""

    gyro_noise_density: float = math.radians(0.014)  # rad/s/sqrt(Hz)
    accel_noise_density: float = 175e-6 * GRAVITY  # m/s^2/sqrt(Hz)
    bandwidth_hz: float = 100.0  # the part's digital low-pass: white noise std = density * sqrt(bandwidth)
    gyro_range: float = math.radians(2000.0)  # rad/s full scale: readings saturate there
    accel_range: float = 16.0 * GRAVITY  # m/s^2 full scale
    bits: int = 16  # each axis is a signed count of this many bits over its range
    orientation_noise: float = 0.002  # rad about each axis: the attitude filter's jitter

    def __post_init__(self) -> None:
        if not (isinstance(self.bits, int) and 2 <= self.bits <= 32):
            raise ValueError(f"ImuSpec.bits is {self.bits}; expected a whole number of bits from 2 to 32")
        for f in ("gyro_noise_density", "accel_noise_density", "bandwidth_hz", "gyro_range", "accel_range",
                  "orientation_noise"):
            value = getattr(self, f)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"ImuSpec.{f} is {value}; expected a finite value >= 0")

    @property
    def gyro_resolution(self) -> float:
        """One count of the gyro (1.07e-3 rad/s for 16 bits over +-2000 deg/s)."""
        return self.gyro_range / 2 ** (self.bits - 1)

    @property
    def accel_resolution(self) -> float:
        """One count of the accelerometer (4.8e-3 m/s^2 for 16 bits over +-16 g)."""
        return self.accel_range / 2 ** (self.bits - 1)

    @property
    def gyro_std(self) -> float:
        return self.gyro_noise_density * math.sqrt(self.bandwidth_hz)

    @property
    def accel_std(self) -> float:
        return self.accel_noise_density * math.sqrt(self.bandwidth_hz)

    def as_dict(self) -> dict[str, float]:
        return {"gyro_std": self.gyro_std, "accel_std": self.accel_std, "gyro_resolution": self.gyro_resolution,
                "accel_resolution": self.accel_resolution, "gyro_range": self.gyro_range,
                "accel_range": self.accel_range, "orientation_noise": self.orientation_noise,
                "bandwidth_hz": self.bandwidth_hz}


@dataclass(frozen=True)
class SensorModel:
    """The sensors of a sim robot: encoders per joint type (or per joint), an IMU; or none (`ideal`)."""

    ideal: bool = False  # True: publish the engine's values unchanged
    revolute: EncoderSpec = REVOLUTE_ENCODER  # revolute and continuous joints
    prismatic: EncoderSpec = PRISMATIC_ENCODER
    joints: Mapping[str, EncoderSpec] = field(default_factory=dict)  # per-joint overrides, by name
    imu: ImuSpec = field(default_factory=ImuSpec)

    def encoder(self, name: str, joint_type: str) -> EncoderSpec:
        if name in self.joints:
            return self.joints[name]
        if joint_type == "prismatic":
            return self.prismatic
        if joint_type in ("revolute", "continuous"):
            return self.revolute
        raise ValueError(f"joint '{name}' has type '{joint_type}'; the sensor model knows revolute, continuous "
                         "and prismatic joints (give it an EncoderSpec in SensorModel.joints)")

    def describe(self, joints: Sequence[tuple[str, str]] = (), imu: bool = False) -> dict[str, Any]:
        """For a run's summary: which sensors the published states went through."""
        if self.ideal:
            return {"model": "ideal (the engine's values, --ideal-sensors)"}
        out: dict[str, Any] = {"model": "encoders and noise (robot_rl.deploy.sensor_model; --ideal-sensors: off)"}
        if joints:
            out["joints"] = {name: self.encoder(name, jtype).as_dict() for name, jtype in joints}
        if imu:
            out["imu"] = self.imu.as_dict()
        return out


def quantize(values: np.ndarray, resolution: np.ndarray | float) -> np.ndarray:
    """`values` as whole counts of `resolution` (unchanged where the resolution is 0)."""
    res = np.asarray(resolution, dtype=np.float64)
    safe = np.where(res > 0, res, 1.0)
    return np.where(res > 0, np.round(values / safe) * safe, values)


def _count(values: np.ndarray, resolution: float, full_scale: float) -> np.ndarray:
    """A signed count of `resolution` that saturates at the part's range (-full_scale .. full_scale - 1 count)."""
    return np.clip(quantize(values, resolution), -full_scale, full_scale - resolution)


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])


class Sensors:
    """One sim robot's sensors: `SensorModel` applied to the engine's values, with its own seeded draws."""

    def __init__(self, model: SensorModel, joints: Sequence[tuple[str, str]], seed: int = 0) -> None:
        """`joints`: (name, type) per joint, in the order of the state vectors."""
        self.model = model
        self.joints = tuple(joints)
        specs = [model.encoder(name, jtype) for name, jtype in self.joints]
        self.resolution = np.array([s.resolution for s in specs])
        self.position_noise = np.array([s.position_noise for s in specs])
        self.velocity_noise = np.array([s.velocity_noise for s in specs])
        self.seed = int(seed)
        self.rng = np.random.default_rng([self.seed, SENSOR_STREAM])

    @property
    def ideal(self) -> bool:
        return self.model.ideal

    def reseed(self, episode: int) -> None:
        """A fresh stream per episode: episode k's readings do not depend on how long episode k-1 ran."""
        self.rng = np.random.default_rng([self.seed, episode, SENSOR_STREAM])

    def read_joints(self, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoder positions (noisy, then counted) and drive velocities (noisy), or the inputs if ideal."""
        q, qd = np.asarray(q, dtype=np.float64), np.asarray(qd, dtype=np.float64)
        if self.ideal:
            return q, qd
        noise = self.rng.standard_normal((2, *q.shape))
        return quantize(q + noise[0] * self.position_noise, self.resolution), qd + noise[1] * self.velocity_noise

    def read_imu(self, orientation: np.ndarray, angular_velocity: np.ndarray,
                 linear_acceleration: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The IMU's orientation (w, x, y, z), gyro and accelerometer as the part reports them."""
        orientation = np.asarray(orientation, dtype=np.float64)
        gyro = np.asarray(angular_velocity, dtype=np.float64)
        accel = np.asarray(linear_acceleration, dtype=np.float64)
        if self.ideal:
            return orientation, gyro, accel
        imu = self.model.imu
        noise = self.rng.standard_normal((3, 3))
        gyro = _count(gyro + noise[0] * imu.gyro_std, imu.gyro_resolution, imu.gyro_range)
        accel = _count(accel + noise[1] * imu.accel_std, imu.accel_resolution, imu.accel_range)
        angle = noise[2] * imu.orientation_noise  # a small rotation in the IMU frame
        half = 0.5 * float(np.linalg.norm(angle))
        if half > 0:
            axis = angle / (2.0 * half)
            orientation = _quat_mul(orientation, np.array([math.cos(half), *(math.sin(half) * axis)]))
            orientation = orientation / np.linalg.norm(orientation)
        return orientation, gyro, accel

"""JointState (any joint order, by name) -> position and velocity vectors in robot.yaml order.

A ros2_control joint_state_broadcaster publishes joints in whatever order its hardware
interface lists them, may include joints the policy does not use (grippers, wheels), and may
leave ``velocity`` empty. The policy needs exactly the robot's joints, in robot.yaml order.

A joint that is missing (or renamed), or whose value is absent, becomes NaN, and the problem is
described in words naming the joint: the SafetyFilter faults on the NaN (it is the only judge of
what is safe), and the node adds the description to its diagnostics so the operator learns *why*
there was a NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robot_rl.deploy.ros2_msgs import JointState

EPISODE_PREFIX = "robot_rl/episode/"


@dataclass(frozen=True)
class MappedState:
    q: np.ndarray
    qd: np.ndarray
    problem: str | None  # None when every joint had a finite position and velocity


class JointMap:
    """Reorders JointState messages into robot.yaml order, caching the index map per name list."""

    def __init__(self, joint_names: tuple[str, ...] | list[str], topic: str = "/joint_states") -> None:
        self.joint_names = tuple(joint_names)
        self.topic = topic
        self._cache_key: tuple[str, ...] | None = None
        self._index: list[int | None] = []
        self._complete = False
        self._needed = 0

    def _indices(self, names: list[str]) -> list[int | None]:
        key = tuple(names)
        if key != self._cache_key:
            position = {n: i for i, n in enumerate(names)}
            self._index = [position.get(n) for n in self.joint_names]
            self._complete = all(i is not None for i in self._index)
            self._needed = max((i for i in self._index if i is not None), default=-1) + 1
            self._cache_key = key
        return self._index

    def map(self, msg: JointState) -> MappedState:
        """Reorder one message. Fast path (every joint present and finite): plain list indexing."""
        index = self._indices(msg.name)
        if self._complete and len(msg.position) >= self._needed and len(msg.velocity) >= self._needed:
            position, velocity = msg.position, msg.velocity
            q = [position[i] for i in index]  # type: ignore[index]
            qd = [velocity[i] for i in index]  # type: ignore[index]
            if math.isfinite(sum(q) + sum(qd)):
                return MappedState(np.array(q), np.array(qd), None)
        return self._map_slow(msg, index)

    def _map_slow(self, msg: JointState, index: list[int | None]) -> MappedState:
        """Find and describe every problem, naming the joints."""
        n = len(self.joint_names)
        q = np.full(n, np.nan)
        qd = np.full(n, np.nan)
        problems: list[str] = []
        missing = [self.joint_names[k] for k, i in enumerate(index) if i is None]
        if missing:
            problems.append(
                f"joint{'s' if len(missing) > 1 else ''} {', '.join(repr(j) for j in missing)} "
                f"missing from {self.topic} (received joints: {', '.join(msg.name) or 'none'})"
            )
        short: list[str] = []
        for k, i in enumerate(index):
            if i is None:
                continue
            if i < len(msg.position):
                q[k] = msg.position[i]
            else:
                short.append(f"position of joint '{self.joint_names[k]}'")
            if i < len(msg.velocity):
                qd[k] = msg.velocity[i]
            else:
                short.append(f"velocity of joint '{self.joint_names[k]}'")
        if short:
            problems.append(
                f"{self.topic} message has no {', '.join(short)} (name has {len(msg.name)} entries, "
                f"position {len(msg.position)}, velocity {len(msg.velocity)})"
            )
        for k, name in enumerate(self.joint_names):
            for what, v in (("position", q[k]), ("velocity", qd[k])):
                if index[k] is not None and not math.isnan(v) and not math.isfinite(v):
                    problems.append(f"inf in {what} of joint '{name}'")
                elif index[k] is not None and math.isnan(v) and f"{what} of joint '{name}'" not in short:
                    problems.append(f"NaN in {what} of joint '{name}' on {self.topic}")
        return MappedState(q, qd, "; ".join(problems) or None)


def episode_of(msg: JointState) -> str | None:
    """The episode tag a simulated robot puts in ``header.frame_id`` (``robot_rl/episode/<n>``), else None."""
    frame = msg.header.frame_id
    return frame[len(EPISODE_PREFIX) :] if frame.startswith(EPISODE_PREFIX) else None


def episode_frame_id(episode: int) -> str:
    return f"{EPISODE_PREFIX}{episode}"

"""A learned reward: a small network over the observation, saved as a file `robot-rl train --reward FILE` uses.

Why a state-only reward (the observation without its `last_action` field): a reward of the robot's
state says *what* the expert achieves, not *how* it pushed, so it can be optimized again on a robot
whose dynamics differ from the demonstrations' (a heavier pole, a slower actuator), where a copy of
the expert's actions fails. This is the argument of AIRL (Fu et al. 2018) for its state-only reward;
here the GAIL discriminator's logit is restricted to the state in the same way.

reward(s') = D(s') = sigmoid(logit(s')), of the observation reached by each step (the true final
observation at an episode's end): the discriminator's belief that the state is the expert's, in [0, 1]
as the task's own reward is. Why not GAIL's -log(1 - D): far from the expert the logit is -10 or less
and that reward ~1e-5 and flat, so PPO saw no slope out of the failing states (measured on the
swing-up: true return 0 for the first 80k steps, 84 after 300k). Why not the logit itself (AIRL's
reward): a negative reward per step makes ending the episode early (the cart into its rail stop) the
best the learner can do; in [0, 1] every step alive is worth something. The discriminator's gradient
penalty (gail.py) keeps the logit within a few units, where the sigmoid is not flat.

AIRL's saved reward (`airl.py`) is its state-only term g(s), used as it is (``output: linear``): the
network's output with an affine map folded into its last layer (why, in `airl.py`); saved with its
shaping term (``shaping``: h and gamma), the reward of a step is f = g(s) + gamma h(s') - h(s) instead
(`RewardNet.transition_reward`). A GAIL file (no ``output`` field, or ``sigmoid``) maps the logit onto
[0, 1] as above.

The file is a torch checkpoint of plain tensors and numbers (`torch.load(weights_only=True)`): its
format tag, the task and robot, the observation size and the columns the network reads, the network
sizes, how its output becomes the reward, and its weights (normalizer inside).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from robot_rl.errors import RobotRLError

FORMAT = "robot-rl/learned-reward/1"


class RewardFileError(RobotRLError):
    """A reward file that cannot be read, or that belongs to another task, robot or observation."""


OUTPUTS = ("sigmoid", "linear")  # how the network's output becomes the reward: GAIL's D, AIRL's g


class RewardNet(nn.Module):
    """Observation -> discriminator logit (GAIL) or reward term (AIRL), reading only `columns` of the observation."""

    def __init__(self, obs_size: int, columns: list[int], hidden: tuple[int, ...] = (64, 64),
                 output: str = "sigmoid"):
        super().__init__()
        from robot_rl.algos.modules import EmpiricalNormalization

        if output not in OUTPUTS:
            raise ValueError(f"reward output {output!r}: expected one of {OUTPUTS}")
        self.obs_size = obs_size
        self.columns = list(columns)
        self.hidden = tuple(hidden)
        self.output = output
        self.shaping: RewardNet | None = None  # AIRL's h, saved with g: the reward is then f (`transition_reward`)
        self.gamma = 1.0
        self.register_buffer("index", torch.as_tensor(self.columns, dtype=torch.long))
        self.normalizer = EmpiricalNormalization(len(self.columns), clip=5.0)
        layers: list[nn.Module] = []
        width = len(self.columns)
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.index_select(-1, self.index)

    def logit(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalizer(self.features(obs))).squeeze(-1)

    def with_shaping(self, h: RewardNet, gamma: float) -> RewardNet:
        """Attach AIRL's shaping potential h: the reward of a step becomes g(s) + gamma h(s') - h(s)."""
        self.shaping = h
        self.gamma = float(gamma)
        return self

    @torch.no_grad()
    def transition_reward(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                          terminated: np.ndarray) -> np.ndarray:
        """f = g(s) + gamma h(s') - h(s) (h(s') = 0 after a terminal step); needs `with_shaping`."""
        s, s2 = (torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (obs, next_obs))
        alive = 1.0 - torch.as_tensor(np.asarray(terminated), dtype=torch.float32)
        h = self.shaping
        return (self.logit(s) + self.gamma * alive * h.logit(s2) - h.logit(s)).numpy().astype(np.float32)

    @torch.no_grad()
    def reward(self, obs: np.ndarray) -> np.ndarray:
        """The reward of a batch of observations, float32: sigmoid of the logit, in [0, 1] (GAIL), or the
        output itself (AIRL's g); see the module docstring."""
        logit = self.logit(torch.as_tensor(np.asarray(obs), dtype=torch.float32))
        return (torch.sigmoid(logit) if self.output == "sigmoid" else logit).numpy().astype(np.float32)


REWARD_INPUTS = ("positions", "state")


def state_columns(interface: Any, inputs: str = "state") -> list[int]:
    """Observation columns the reward reads: "state", all but the `last_action` field; "positions", also
    without velocity fields (the robot's configuration and the task's goal, what the expert achieves).

    Why "positions" exists: on the swing-up, a reward of the whole state ranked every fast swing below
    hanging still (the expert swings fast in only ~1 s of 5, a uniform negative almost never sits
    still), and PPO on it hung still (true return 0.0005 after 200k steps)."""
    if inputs not in REWARD_INPUTS:
        raise ValueError(f"reward inputs {inputs!r}: expected one of {REWARD_INPUTS}")
    cols, start = [], 0
    for f in interface.layout:
        if f.name != "last_action" and not (inputs == "positions" and "velocity" in f.name):
            cols += list(range(start, start + f.size))
        start += f.size
    return cols


def save_reward(path: str | Path, net: RewardNet, task: str, robot: str, kind: str = "gail",
                extra: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h = net.shaping
    shaping = None if h is None else {"columns": h.columns, "hidden": list(h.hidden), "gamma": net.gamma}
    torch.save({"format": FORMAT, "kind": kind, "task": task, "robot": robot, "obs_size": net.obs_size,
                "columns": net.columns, "hidden": list(net.hidden), "output": net.output, "shaping": shaping,
                "state": net.state_dict(), "info": dict(extra or {})}, path)
    return path


def load_reward(path: str | Path, task: str | None = None, robot: str | None = None,
                obs_size: int | None = None) -> tuple[RewardNet, dict[str, Any]]:
    """Read a reward file; refuse one for another task, robot or observation size (names both)."""
    path = Path(path)
    if not path.is_file():
        raise RewardFileError(f"--reward {path}: not found; write one with `robot-rl irl --out RUN` (RUN/reward.pt)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise RewardFileError(f"--reward {path}: not a readable reward file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise RewardFileError(f"--reward {path}: format is {found!r}, expected '{FORMAT}' (written by `robot-rl irl`)")
    short = str(task).removeprefix("robot_rl/") if task is not None else None
    if short is not None and data["task"] != short:
        raise RewardFileError(f"--reward {path} was learned for task '{data['task']}', not '{short}'")
    if robot is not None and data["robot"] != robot:
        raise RewardFileError(f"--reward {path} was learned on robot '{data['robot']}', not '{robot}'")
    if obs_size is not None and int(data["obs_size"]) != obs_size:
        raise RewardFileError(f"--reward {path} reads {data['obs_size']} observation values; this env has {obs_size}")
    output = str(data.get("output", "sigmoid"))  # files written before AIRL have no field: GAIL's sigmoid
    if output not in OUTPUTS:
        raise RewardFileError(f"--reward {path}: output {output!r} is none of {', '.join(OUTPUTS)}; "
                              "written by a newer robot-rl?")
    net = RewardNet(int(data["obs_size"]), [int(c) for c in data["columns"]], tuple(int(h) for h in data["hidden"]),
                    output)
    if data.get("shaping"):  # AIRL saved with h: the reward of a step is f
        sh = data["shaping"]
        net.with_shaping(RewardNet(net.obs_size, [int(c) for c in sh["columns"]], tuple(int(h) for h in sh["hidden"]),
                                   "linear"), float(sh["gamma"]))
    try:
        net.load_state_dict(data["state"])
    except (RuntimeError, KeyError) as exc:
        raise RewardFileError(f"--reward {path}: weights do not fit ({str(exc).splitlines()[0]})") from None
    return net.eval().requires_grad_(False), data


# (observation, action, reached observation, terminated) of a batch of steps -> their rewards
TransitionReward = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class LearnedRewardVecEnv(gym.vector.VectorWrapper):
    """A vector env whose reward is `net`'s of the observation each step reaches, or, with
    ``transition_reward``, that function's of each whole transition (AIRL's f(s, a, s') - log pi(a|s)).

    Keeps what adversarial IRL needs beside it: the transitions (`drain()`: the reached observations,
    GAIL's negatives; `drain_transitions()`: all of each step, AIRL's) and the task's true reward per
    finished episode (`true_returns`), which the learner never sees.
    """

    def __init__(self, env: gym.vector.VectorEnv, net: RewardNet, keep_observations: bool = False,
                 transition_reward: TransitionReward | None = None):
        super().__init__(env)
        self.net = net
        self.keep = keep_observations
        # AIRL's f when the reward file carries its shaping term, else the reward of the reached state
        self.transition_reward = transition_reward or (net.transition_reward if net.shaping is not None else None)
        self._seen: list[np.ndarray] = []
        self._from: list[np.ndarray] = []  # the observation each kept step started from
        self._actions: list[np.ndarray] = []
        self._terminated: list[np.ndarray] = []
        self._obs: np.ndarray | None = None  # the observation the next step starts from
        self._true = np.zeros(env.num_envs)
        self.true_returns: list[float] = []

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = np.array(obs, dtype=np.float32, copy=True)
        return obs, info

    def step(self, actions):
        from robot_rl.envs import final_observations

        obs, true_reward, terminated, truncated, info = self.env.step(actions)
        reached = np.array(obs, dtype=np.float32, copy=True)
        done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        if done.any():  # the observation an episode ended in, not the next episode's first
            reached[done] = final_observations(info, done, reached.shape[1])
        start = self._obs if self._obs is not None else reached  # (a step before any reset: no transition)
        actions = np.asarray(actions, dtype=np.float32)
        term = np.asarray(terminated, bool)
        if self.transition_reward is None:
            reward = self.net.reward(reached)
        else:
            reward = np.asarray(self.transition_reward(start, actions, reached, term), dtype=np.float32)
        if self.keep:
            self._seen.append(reached)
            self._from.append(start)
            self._actions.append(actions.reshape(len(reached), -1).copy())
            self._terminated.append(term.copy())
        self._obs = np.array(obs, dtype=np.float32, copy=True)  # a reset observation where an episode ended
        self._true += np.asarray(true_reward, dtype=np.float64)
        for i in np.flatnonzero(done):
            self.true_returns.append(float(self._true[i]))
            self._true[i] = 0.0
        return obs, reward, terminated, truncated, info

    def drain(self) -> np.ndarray:
        """The observations reached since the last call, (n, obs_size)."""
        return self.drain_transitions()["next_obs"]

    def drain_transitions(self) -> dict[str, np.ndarray]:
        """The steps since the last call: ``obs``, ``actions``, ``next_obs`` (reached), ``terminated``."""
        size = self.single_observation_space.shape[0]
        if not self._seen:
            empty = np.zeros((0, size), np.float32)
            out = {"obs": empty, "actions": np.zeros((0, self.single_action_space.shape[0]), np.float32),
                   "next_obs": empty, "terminated": np.zeros(0, bool)}
        else:
            out = {"obs": np.concatenate(self._from), "actions": np.concatenate(self._actions),
                   "next_obs": np.concatenate(self._seen), "terminated": np.concatenate(self._terminated)}
        self._seen, self._from, self._actions, self._terminated = [], [], [], []
        return out

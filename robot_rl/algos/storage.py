"""Preallocated storage: PPO's on-policy rollout and SAC's replay buffer, plus GAE.

Both allocate their torch tensors once; the hot loops only copy into slices (no per-step
allocation, no Python lists of tensors).
"""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized Advantage Estimation (Schulman et al. 2016), over a ``(T, N)`` rollout.

    ``dones[t]`` is 1 where the episode ended at step t, i.e. ``values[t + 1]`` belongs to the next
    episode and must not be bootstrapped from. Truncated episodes are handled by the caller, who
    adds ``gamma * V(final_obs)`` to the last reward (so a time limit is not treated as death).
    ``last_values`` is V of the observation after the last step. Returns ``(advantages, returns)``
    with ``returns = advantages + values`` (the TD(lambda) value targets).
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros_like(last_values)
    for t in reversed(range(steps)):
        next_values = last_values if t == steps - 1 else values[t + 1]
        not_done = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * not_done - values[t]
        last_gae = delta + gamma * lam * not_done * last_gae
        advantages[t] = last_gae
    return advantages, advantages + values


class RolloutStorage:
    """One PPO rollout: ``num_steps`` vector steps over ``num_envs`` envs, as ``(T, N, ...)`` tensors.

    Rewards are kept raw, with the truncation bootstrap term (already in value units) and the
    discounted return that reward scaling tracks alongside, so scaling can use this rollout's
    statistics. ``last_obs``/``last_priv`` are the observation after the last step (GAE bootstraps
    from its value). Everything the update needs is here, so an update is a function of this
    storage and the agent's state alone.
    """

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, act_dim: int, priv_dim: int):
        self.num_steps, self.num_envs = num_steps, num_envs
        self.obs = torch.zeros(num_steps, num_envs, obs_dim)
        self.priv = torch.zeros(num_steps, num_envs, priv_dim)
        self.actions = torch.zeros(num_steps, num_envs, act_dim)
        self.log_probs = torch.zeros(num_steps, num_envs)
        self.raw_rewards = torch.zeros(num_steps, num_envs)
        self.bootstrap = torch.zeros(num_steps, num_envs)
        self.discounted_returns = torch.zeros(num_steps, num_envs, dtype=torch.float64)
        self.dones = torch.zeros(num_steps, num_envs)
        self.values = torch.zeros(num_steps, num_envs)
        self.last_obs = torch.zeros(num_envs, obs_dim)
        self.last_priv = torch.zeros(num_envs, priv_dim)


class ReplayBuffer:
    """A circular SAC replay buffer: one preallocated ``(capacity, width)`` tensor, filled N rows at a time.

    All fields of a transition sit side by side in one row, so sampling a batch is a single gather
    (``index_select``) and the fields are views into it. ``next_obs`` is the true next observation
    (the terminal one where an episode ended), and ``terminated`` excludes time-limit truncations,
    so the critic target bootstraps through time limits.
    """

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, priv_dim: int, extra: dict[str, int] | None = None):
        self.capacity = int(capacity)
        widths = {
            "obs": obs_dim,
            "next_obs": obs_dim,
            "priv": priv_dim,
            "next_priv": priv_dim,
            "actions": act_dim,
            "rewards": 1,
            "terminated": 1,
            **(extra or {}),  # an algorithm's own columns, e.g. DQN's n-step bootstrap discount
        }
        self.columns: dict[str, slice] = {}
        start = 0
        for name, width in widths.items():
            self.columns[name] = slice(start, start + width)
            start += width
        self.data = torch.zeros(self.capacity, start)
        self.ptr = 0
        self.size = 0

    def add(self, **fields: torch.Tensor) -> None:
        """Add ``n`` transitions: every field a tensor with leading dim ``n`` (missing fields stay 0)."""
        n = fields["obs"].shape[0]
        wraps = self.ptr + n > self.capacity
        # Without wrap-around the fields go straight into the buffer's rows (a view): no staging copy.
        rows = torch.zeros(n, self.data.shape[1]) if wraps else self.data[self.ptr : self.ptr + n]
        if not wraps and len(fields) < len(self.columns):
            rows.zero_()  # a reused row must not keep an old transition's missing fields
        for name, value in fields.items():
            rows[:, self.columns[name]] = value.reshape(n, -1)
        if wraps:
            self.data[torch.arange(self.ptr, self.ptr + n) % self.capacity] = rows
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A uniform batch (with replacement) as a dict of column views; rewards/terminated are 1-D."""
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)
        batch = self.data.index_select(0, idx)
        out = {name: batch[:, cols] for name, cols in self.columns.items()}
        out["rewards"] = out["rewards"].squeeze(-1)
        out["terminated"] = out["terminated"].squeeze(-1)
        return out

    def state_dict(self) -> dict:
        """Only the filled rows (a 1M-row buffer that holds 10k transitions saves 10k)."""
        return {
            "ptr": self.ptr,
            "size": self.size,
            "capacity": self.capacity,
            "data": self.data[: self.size].clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        if int(state["capacity"]) != self.capacity or state["data"].shape[1] != self.data.shape[1]:
            raise ValueError(
                f"replay buffer shape {tuple(state['data'].shape)} (capacity {state['capacity']}) does not "
                f"match this run's ({self.capacity}, {self.data.shape[1]})"
            )
        self.ptr, self.size = int(state["ptr"]), int(state["size"])
        self.data[: self.size] = state["data"]

"""``robot-rl train --workers K``: rollout workers as Ray actors, the learner in this process.

Each worker is a Ray actor declaring one CPU. It owns a batched env of ``num_envs`` envs (a
MuJoCo batch steps on one thread there, as the actor asked Ray for one core) and a copy of the
algorithm built from the same run config, so it collects with the algorithm's own code:

* **On-policy (PPO, A2C, TRPO), synchronous.** Every iteration the learner puts the model's state
  (actor, critic, normalizers) into Ray's object store once; all K workers run the algorithm's own
  ``collect`` (``robot_rl.algos.onpolicy``) on their envs with it
  and send back their rollout; the learner concatenates them along the env axis and runs the
  normal update. K workers of ``num_envs`` envs are therefore exactly one process with
  ``K * num_envs`` envs (same batch, same minibatches, same update), only the sampling noise
  comes from K generators.
* **SAC, streaming.** Each worker always has one request in flight: collect a chunk of env steps
  with the latest actor weights. The learner takes whichever chunk is ready, resubmits that worker
  with the current weights, adds the transitions to its replay buffer and performs ``utd`` gradient
  updates per env step, as one process does. Collection overlaps learning; a chunk's policy is at
  most one chunk old.

Checkpoints are the learner's state (the algorithm's ``state_dict``), so they are the same files as
a one-process run and resume the same way; workers restart their episodes on resume, as a
one-process run's envs do. ``time/collect_s`` and ``time/learn_s`` per iteration are logged for the
scaling model of ``bench/scaling.py``.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from typing import Any

import numpy as np
import torch

from robot_rl.algos import ALGORITHMS, SAC
from robot_rl.algos.collector import EpisodeStats, VecCollector
from robot_rl.algos.onpolicy import OnPolicyAlgorithm
from robot_rl.distributed.cluster import ClusterError, cluster_layout, import_ray, require_cpus
from robot_rl.envs import make_vec_env
from robot_rl.training.algo_settings import RunConfigError, algo_config

# The on-policy rollout fields a worker sends back, each (num_steps, num_envs, ...): concatenated on dim 1.
ROLLOUT_FIELDS = (
    "obs",
    "priv",
    "actions",
    "log_probs",
    "raw_rewards",
    "bootstrap",
    "discounted_returns",
    "dones",
    "values",
)
SAC_FIELDS = ("obs", "next_obs", "priv", "next_priv", "actions", "rewards", "terminated")
WORKER_START_TIMEOUT_S = 300.0


def _episodes(stats: EpisodeStats) -> dict[str, list[float]]:
    """The episodes that finished since the last call (returns, lengths, successes), then reset."""
    n = stats.finished_since_drain
    stats.finished_since_drain = 0
    if n == 0:
        return {"returns": [], "lengths": [], "success": []}
    return {
        "returns": list(stats.recent_returns)[-n:],
        "lengths": [float(v) for v in list(stats.recent_lengths)[-n:]],
        "success": list(stats.recent_success)[-min(n, len(stats.recent_success)) :] if stats.recent_success else [],
    }


def _merge_episodes(stats: EpisodeStats, episodes: dict[str, list[float]]) -> None:
    stats.recent_returns.extend(episodes["returns"])
    stats.recent_lengths.extend(int(v) for v in episodes["lengths"])
    stats.recent_success.extend(episodes["success"])
    stats.finished_since_drain += len(episodes["returns"])


class RolloutWorker:
    """One Ray actor: a batched env and the algorithm's collection code (see the module docstring)."""

    def __init__(self, config: Any, index: int, env_seed: int) -> None:
        torch.set_num_threads(1)
        self.index = index
        cfg = algo_config(config.algo, config.algo_settings())
        if hasattr(cfg, "buffer_size"):
            cfg = dataclasses.replace(cfg, buffer_size=1)  # the learner holds the replay buffer
        env = make_vec_env(
            config.env_id,
            cfg.num_envs,
            seed=env_seed,
            privileged_obs=config.privileged_obs,
            physics_threads=1,
            **config.task_kwargs(),
        )
        # A seed of its own per worker (and per resume, via env_seed): different episodes and noise.
        seed = env_seed + 100_003 * (index + 1)
        self.algo = ALGORITHMS[config.algo].cls(env, cfg, total_steps=config.steps, seed=seed)

    def info(self) -> dict[str, Any]:
        """Where this worker runs and what it holds (recorded in the run's config.yaml)."""
        import ray

        c = self.algo.collector
        return {
            "index": self.index,
            "hostname": socket.gethostname(),
            "node_ip": ray.util.get_node_ip_address(),
            "pid": os.getpid(),
            "num_envs": c.num_envs,
            "obs_dim": c.obs_dim,
            "act_dim": c.act_dim,
            "priv_dim": c.priv_dim,
        }

    def on_policy_rollout(self, model_state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Run the algorithm's own ``collect`` with the learner's current model; the rollout as arrays."""
        algo: OnPolicyAlgorithm = self.algo
        t0, cpu0 = time.perf_counter(), time.process_time()
        algo.model.load_state_dict(model_state)
        algo.collect()
        s = algo.storage
        out: dict[str, Any] = {name: getattr(s, name).numpy() for name in ROLLOUT_FIELDS}
        out["last_obs"] = s.last_obs.numpy()
        out["last_priv"] = s.last_priv.numpy()
        out["episodes"] = _episodes(algo.collector.stats)
        out["collect_s"] = time.perf_counter() - t0
        out["cpu_s"] = time.process_time() - cpu0  # below collect_s when others share the core
        return out

    def sac_collect(self, actor_state: dict[str, torch.Tensor], vector_steps: int, random: bool) -> dict[str, Any]:
        """``vector_steps`` steps of SAC's behaviour policy (uniform random before learning starts)."""
        algo: SAC = self.algo
        c = algo.collector
        t0 = time.perf_counter()
        algo.actor.load_state_dict(actor_state)
        rows: dict[str, list[np.ndarray]] = {name: [] for name in SAC_FIELDS}
        empty = np.zeros((c.num_envs, 0), dtype=np.float32)
        for _ in range(vector_steps):
            obs = c.obs.copy()
            priv = c.priv.copy() if c.priv is not None else empty
            if random:
                action = torch.rand(c.num_envs, c.act_dim, generator=algo.generator) * 2.0 - 1.0
            else:
                with torch.inference_mode():
                    action = algo.actor.sample_action(torch.from_numpy(obs), algo.generator)
            step = c.step(action.numpy())
            # The true next observation: the terminal one for envs that just reset (as SAC.iterate).
            next_obs = step.next_obs.copy()
            next_priv = step.next_priv.copy() if step.next_priv is not None else empty
            if len(step.done_idx):
                next_obs[step.done_idx] = step.final_obs
                if step.final_priv is not None:
                    next_priv[step.done_idx] = step.final_priv
            for name, value in (
                ("obs", obs),
                ("next_obs", next_obs),
                ("priv", priv),
                ("next_priv", next_priv),
                ("actions", action.numpy()),
                ("rewards", step.reward),
                ("terminated", step.terminated.astype(np.float32)),
            ):
                rows[name].append(value)
        out: dict[str, Any] = {name: np.concatenate(v) for name, v in rows.items()}
        out["episodes"] = _episodes(c.stats)
        out["collect_s"] = time.perf_counter() - t0
        return out

    def close(self) -> None:
        self.algo.close()


class RemoteCollector(VecCollector):
    """The learner's view of K rollout workers: their sizes, merged episode stats, and the actors.

    It stands in for the ``VecCollector`` an algorithm builds from a local env (the algorithms take
    a ready collector instead of an env). It never steps an env itself: ``DistributedOnPolicy`` and
    ``DistributedSAC`` ask the workers for whole rollouts or chunks instead.
    """

    def __init__(self, workers: list[Any], infos: list[dict[str, Any]], use_privileged: bool, layout: dict):
        self.workers = workers
        self.infos = infos
        self.env = None
        self.num_envs = sum(i["num_envs"] for i in infos)
        self.obs_dim, self.act_dim, self.priv_dim = infos[0]["obs_dim"], infos[0]["act_dim"], infos[0]["priv_dim"]
        self.discrete, self.n_actions = False, 0
        self.use_privileged = use_privileged
        self.obs = np.zeros((self.num_envs, self.obs_dim), dtype=np.float32)
        self.priv = None
        self.stats = EpisodeStats(self.num_envs)
        # SAC's in-flight requests survive iteration boundaries: {ObjectRef: worker index}.
        self.pending: dict[Any, int] = {}
        self.cluster = {**layout, "workers": infos}

    def step(self, actions: np.ndarray) -> Any:
        raise RuntimeError("rollout workers collect whole rollouts; a RemoteCollector is not stepped per env step")

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker)
        self.pending.clear()


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor over an array from Ray's object store (read-only there: copied once if so)."""
    return torch.from_numpy(np.require(array, requirements="W"))


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class DistributedOnPolicy:
    """Mixed in before an on-policy algorithm (PPO, A2C, TRPO): ``collect`` gathers the K workers'
    rollouts (synchronous; see the module docstring), the update is the algorithm's own."""

    collector: RemoteCollector

    def collect(self) -> None:
        import ray

        c, s = self.collector, self.storage
        state_ref = ray.put(_cpu_state(self.model))  # once per iteration, read by all K workers
        parts = ray.get([w.on_policy_rollout.remote(state_ref) for w in c.workers])
        lo = 0
        for part in parts:
            hi = lo + part["obs"].shape[1]
            for name in ROLLOUT_FIELDS:
                getattr(s, name)[:, lo:hi] = _tensor(part[name])
            s.last_obs[lo:hi] = _tensor(part["last_obs"])
            s.last_priv[lo:hi] = _tensor(part["last_priv"])
            _merge_episodes(c.stats, part["episodes"])
            lo = hi
        self._worker_collect_s = max(p["collect_s"] for p in parts)
        self._worker_cpu_s = max(p["cpu_s"] for p in parts)
        self.global_step += self.batch_size

    def iterate(self) -> dict[str, float]:
        t0 = time.perf_counter()
        self.collect()
        t1 = time.perf_counter()
        metrics = self.update()
        self.iteration += 1
        metrics.update(self.collector.stats.summary())
        metrics.update(
            {
                "time/collect_s": t1 - t0,
                "time/worker_collect_s": self._worker_collect_s,
                "time/learn_s": time.perf_counter() - t1,
            }
        )
        return metrics


class DistributedSAC(SAC):
    """SAC fed by K workers' streamed transitions (see the module docstring)."""

    collector: RemoteCollector

    def _chunk_vector_steps(self) -> int:
        """Vector steps per worker request: ~1/4 of an iteration split over the workers, >= 1."""
        c = self.collector
        per_worker_envs = max(1, c.num_envs // len(c.workers))
        return max(1, self.cfg.steps_per_iteration // (4 * len(c.workers) * per_worker_envs))

    def _submit(self, index: int, actor_ref: Any) -> None:
        c = self.collector
        random = self.global_step < self.cfg.learning_starts
        ref = c.workers[index].sac_collect.remote(actor_ref, self._chunk_vector_steps(), random)
        c.pending[ref] = index

    def iterate(self) -> dict[str, float]:
        import ray

        cfg, c = self.cfg, self.collector
        sums = torch.zeros(4)
        n_updates, collected = 0, 0
        wait_s = learn_s = 0.0
        actor_ref = ray.put(_cpu_state(self.actor))
        if not c.pending:
            for index in range(len(c.workers)):
                self._submit(index, actor_ref)
        while collected < cfg.steps_per_iteration:
            t0 = time.perf_counter()
            ready, _ = ray.wait(list(c.pending), num_returns=1)
            index = c.pending.pop(ready[0])
            chunk = ray.get(ready[0])
            t1 = time.perf_counter()
            wait_s += t1 - t0
            self._submit(index, actor_ref)  # the worker collects the next chunk while we learn
            n = chunk["obs"].shape[0]
            batch = {name: _tensor(chunk[name]) for name in SAC_FIELDS}
            self.replay.add(**batch)
            if cfg.normalize_obs:
                self.actor.normalizer.update(batch["obs"])
                self.critic_normalizer.update(torch.cat([batch["obs"], batch["priv"]], -1))
            _merge_episodes(c.stats, chunk["episodes"])
            self.global_step += n
            collected += n
            if self.global_step >= cfg.learning_starts:
                self.update_credit += cfg.utd * n
                while self.update_credit >= 1.0:
                    sums += self.update()
                    n_updates += 1
                    self.update_credit -= 1.0
                actor_ref = ray.put(_cpu_state(self.actor))  # fresh weights for the next requests
            learn_s += time.perf_counter() - t1
        self.iteration += 1
        metrics: dict[str, float] = {
            "train/updates": float(self.num_updates),
            "time/collect_s": wait_s,
            "time/learn_s": learn_s,
        }
        if n_updates:
            critic_loss, actor_loss, alpha, entropy = (sums / n_updates).tolist()
            metrics.update(
                {"loss/critic": critic_loss, "loss/actor": actor_loss, "train/alpha": alpha, "train/entropy": entropy}
            )
        metrics.update(c.stats.summary())
        return metrics


def distributed_class(algo: str) -> type:
    """The learner class for ``--workers``: on-policy algorithms gather rollouts, SAC streams."""
    cls = ALGORITHMS[algo].cls
    if issubclass(cls, OnPolicyAlgorithm):
        return type(f"Distributed{cls.__name__}", (DistributedOnPolicy, cls), {})
    if cls is SAC:
        return DistributedSAC
    fits = sorted(n for n, s in ALGORITHMS.items() if issubclass(s.cls, OnPolicyAlgorithm) or s.cls is SAC)
    raise RunConfigError(f"--workers supports {fits}, not '{algo}'; drop --workers to train {algo} in one process")


def build_distributed(config: Any, env_seed: int) -> OnPolicyAlgorithm | SAC:
    """The learner with ``config.workers`` rollout workers on the Ray session of this process.

    ``cfg.num_envs`` is per worker; the learner's config holds the total, so its batch (PPO) and
    storage are those of one process with ``workers * num_envs`` envs.
    """
    ray = import_ray("--workers")
    if not ray.is_initialized():
        raise ClusterError("--workers needs a Ray session; robot-rl train starts one (or connects with --address)")
    learner_cls = distributed_class(config.algo)
    k = int(config.workers)
    require_cpus(k, f"--workers {k}")
    cfg = algo_config(config.algo, config.algo_settings())
    actor_cls = ray.remote(num_cpus=1, max_restarts=0)(RolloutWorker)
    workers = [actor_cls.remote(config, i, env_seed) for i in range(k)]
    try:
        infos = ray.get([w.info.remote() for w in workers], timeout=WORKER_START_TIMEOUT_S)
    except Exception as exc:
        for w in workers:
            ray.kill(w)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"--workers {k}: the rollout workers did not start ({first})") from exc
    collector = RemoteCollector(workers, infos, cfg.asymmetric, cluster_layout())
    learner_cfg = dataclasses.replace(cfg, num_envs=collector.num_envs)
    return learner_cls(collector, learner_cfg, total_steps=config.steps, seed=config.seed)

"""Past one machine, on Ray: sweeps over ordinary run folders, and rollout workers as Ray actors.

Ray is the engine (scheduling, object store, cluster membership); nothing here is a scheduler.

* ``cluster``  connecting: an embedded local Ray sized to this machine by default, a running
  cluster with ``--address``; the cluster layout a run folder records.
* ``rollout``  ``train --workers K``: K Ray actors, each owning a batched env and a copy of the
  policy. PPO gathers their rollouts every iteration; SAC streams their transitions into the
  learner's replay buffer. Weights travel through Ray's object store.
* ``sweep``    ``robot-rl sweep``: seeds x grid of settings, each trial a normal run folder trained
  by a Ray task with its CPUs declared; ``sweep.json``, a console table and a PNG of the curves.

Only ``robot_rl.train`` (when a run has workers) and the ``sweep`` command import this package;
``sim/`` and ``robot_rl/runtime/`` never import Ray.
"""

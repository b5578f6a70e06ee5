"""Learning from demonstrations: behaviour cloning and adversarial inverse RL from rosbag2 robot runs.

* `demos`: recorded runs -> (observation, action) pairs, observations built by the task's own
  observation function (the one the deploy runtime uses), actions mapped back from the commands;
* `record`: demonstrations from what the stack has (a policy folder driving `sim-robot` over DDS);
* `bc`: behaviour cloning (+ optional DAgger rounds with a simulated expert) into a run directory
  that `robot-rl eval` and `robot-rl export` take like any trained run;
* `adversarial`: the loop GAIL and AIRL share (PPO on the learned reward, the discriminator against its
  rollouts, the run directory and `reward.pt`);
* `gail`: GAIL, a state-only discriminator; `airl`: AIRL, f = g(s) + gamma h(s') - h(s) against log pi,
  whose g is the saved reward; either reusable (`reward`: `robot-rl train --reward FILE`).
"""

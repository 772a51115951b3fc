"""Benchmark: rock-paper-scissors self-play with MultiAgentReinforce, against the same loop written naively.

Both loops run the same algorithm on the same env (PettingZoo's dict API of the repeated matrix
game, one round per episode): the same initial strategies, the same joint return estimates
(ascentrl.agents.multiagent_objectives.joint_return_estimates) and the same game dynamics
(ascentrl.games.make_dynamics, LOLA by default). They differ only in how actions are sampled:

- ascentrl: ParallelEnvBatch of --num-envs copies; per step, one forward pass per agent for all
  copies, Gumbel-max sampling, no autograd during the rollout, log-probabilities recomputed in one
  batched pass afterwards;
- naive: one copy and one agent at a time, a torch.distributions.Categorical per agent and step,
  log-probabilities kept (with their autograd graph) from the rollout.

For each seed it prints agent-steps per second and the wall time (and iterations) until the
learned mixed strategies reach NashConv <= --target-nash-conv. Then it measures throughput alone
on PettingZoo's own classic/rps-v2 (15 rounds per episode, observations = the opponent's last move,
MLP policies, simultaneous ascent) for a few iterations.

  python scripts/bench_multiagent.py [--seeds 3] [--num-envs 512] [--no-naive]

Measured on the 2-core development machine, default settings, seeds 0-2: ascentrl ~47,000
agent-steps/s and NashConv <= 0.05 after 0.5-0.9 s (24-43 iterations); the naive loop ~1,600
agent-steps/s and 20-40 s (31-61 iterations), about 30x slower per step; on classic/rps-v2,
where PettingZoo's own AEC machinery costs ~70 us a step, ~20,000 against ~2,400 agent-steps/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from gymnasium import spaces as gym_spaces

from ascentrl import Ascent
from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.multiagent_objectives import joint_return_estimates
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.envs import make_parallel_env
from ascentrl.games import make_dynamics
from ascentrl.training import NashConvTarget


@dataclass
class BenchConfig:
    """What to run and how long."""

    seeds: int = 3
    """Seeds 0 .. seeds-1, each run by both loops."""
    method: str = "lola"
    """Game dynamics used by both loops."""
    num_envs: int = 512
    """Episodes (one round each) per update."""
    lr: float = 1.0
    """Learning rate of every agent's Ascent optimizer (decayed linearly over max_iterations)."""
    dynamics_options: dict[str, Any] = field(default_factory=lambda: {"lookahead": 4.0})
    """Options of the dynamics."""
    target_nash_conv: float = 0.05
    """Stop once the learned strategies' NashConv is at most this."""
    max_iterations: int = 200
    """Give up after this many updates."""
    throughput_iterations: int = 3
    """Iterations timed on classic/rps-v2 (0 skips that part)."""
    naive: bool = True
    """Also run the naive loop."""

    def __post_init__(self) -> None:
        for name in ("seeds", "num_envs", "max_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.throughput_iterations < 0:
            raise ValueError(f"--throughput-iterations must be >= 0, got {self.throughput_iterations!r}")


@dataclass
class Result:
    agent_steps: int
    seconds: float
    iterations: int
    reached: bool
    nash_conv: float

    @property
    def agent_steps_per_second(self) -> float:
        return self.agent_steps / self.seconds


def run_ascentrl(config: MultiAgentConfig, iterations: int, target: float | None) -> Result:
    learners = MultiAgentReinforce(config)
    history = learners.train(iterations, stop=None if target is None else NashConvTarget(target))
    learners.close()
    return Result(history.agent_steps, history.wall_seconds, len(history.records), history.reached_target,
                  history.final("nash_conv"))


def run_naive(config: MultiAgentConfig, iterations: int, target: float | None) -> Result:
    """The same algorithm, one env copy and one agent at a time, a Categorical per step."""
    # The learners object only provides identical initial policies; its env batch is not used.
    template = MultiAgentReinforce(dataclasses.replace(config, num_envs=1))
    template.close()
    torch.manual_seed(config.seed)
    policies, game, memoryless = template.policies, template.game, template.memoryless
    env = make_parallel_env(config.env, episode_length=config.episode_length)
    agents = list(env.possible_agents)
    optimizers = [Ascent(policy.parameters(), lr=config.lr, **config.ascent) for policy in policies]
    schedulers = [torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=iterations)
                  for optimizer in optimizers] if config.lr_schedule == "linear" else []
    batch: dict[str, torch.Tensor] = {}

    def objectives() -> list[torch.Tensor]:
        return list(joint_return_estimates(batch["log_probs"], batch["log_probs"].detach(), batch["rewards"],
                                           batch["flags"], batch["flags"], batch["valid"], config.gamma,
                                           baseline=config.baseline).unbind(0))

    dynamics = make_dynamics(config.method, [list(policy.parameters()) for policy in policies], objectives,
                             optimizers, **config.dynamics_options)
    agent_steps, nash_conv, reached = 0, float("nan"), False
    start = time.perf_counter()
    for iteration in range(1, iterations + 1):  # noqa: B007 (the count is reported after the loop)
        log_probs, rewards = [], []
        for _ in range(config.num_envs):
            observations, _ = env.reset()
            episode_log_probs, episode_rewards = [], []
            while env.agents:
                actions, step_log_probs = {}, []
                for index, agent in enumerate(agents):
                    if memoryless:
                        inputs = torch.zeros(0)
                    else:
                        inputs = torch.as_tensor(gym_spaces.flatten(env.observation_space(agent), observations[agent]),
                                                 dtype=torch.float32)
                    distribution = torch.distributions.Categorical(logits=policies[index].logits(inputs))
                    action = distribution.sample()
                    step_log_probs.append(distribution.log_prob(action))
                    actions[agent] = int(action)
                observations, step_rewards, _, _, _ = env.step(actions)
                agent_steps += len(agents)
                episode_log_probs.append(torch.stack(step_log_probs))
                episode_rewards.append(torch.tensor([float(step_rewards[agent]) for agent in agents]))
            log_probs.append(torch.stack(episode_log_probs, dim=1))
            rewards.append(torch.stack(episode_rewards, dim=1))
        batch["log_probs"] = torch.stack(log_probs, dim=2)  # every episode has the same length here
        batch["rewards"] = torch.stack(rewards, dim=2)
        batch["valid"] = torch.ones_like(batch["rewards"], dtype=torch.bool)
        batch["flags"] = torch.zeros_like(batch["valid"])
        dynamics.step()
        for scheduler in schedulers:
            scheduler.step()
        if game is not None:
            with torch.no_grad():
                strategies = [torch.softmax(policy.logits(torch.zeros(0)), -1).double() for policy in policies]
            nash_conv = float(game.nash_conv(strategies))
            if target is not None and nash_conv <= target:
                reached = True
                break
    return Result(agent_steps, time.perf_counter() - start, iteration, reached, nash_conv)


def throughput(name: str, result: Result) -> str:
    return f"  {name:9s} {result.agent_steps_per_second:10,.0f} agent-steps/s"


def describe(name: str, result: Result) -> str:
    outcome = (f"NashConv <= target after {result.seconds:6.2f} s ({result.iterations} iterations)"
               if result.reached else f"target not reached in {result.iterations} iterations "
               f"({result.seconds:.2f} s, NashConv {result.nash_conv:.3f})")
    return f"{throughput(name, result)}   {outcome}"


def main(argv: list[str] | None = None) -> int:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    try:
        bench = config_from_args(BenchConfig, parser.parse_args(argv))
        base = MultiAgentConfig(env="rock_paper_scissors", method=bench.method, num_envs=bench.num_envs,
                                lr=bench.lr, dynamics_options=bench.dynamics_options)
    except (ValueError, TypeError) as error:
        fail(parser, error)
    torch.set_num_threads(1)

    print(f"rock_paper_scissors self-play, {bench.method} {bench.dynamics_options}, {bench.num_envs} one-round "
          f"episodes per update, lr {bench.lr} (linear decay over {bench.max_iterations} iterations), "
          f"target NashConv <= {bench.target_nash_conv}")
    results: dict[str, list[Result]] = {"ascentrl": [], "naive": []}
    for seed in range(bench.seeds):
        config = dataclasses.replace(base, seed=seed)
        print(f"seed {seed}")
        loops = (("ascentrl", run_ascentrl), ("naive", run_naive)) if bench.naive else (("ascentrl", run_ascentrl),)
        for name, loop in loops:
            result = loop(config, bench.max_iterations, bench.target_nash_conv)
            results[name].append(result)
            print(describe(name, result), flush=True)
    print("summary (medians over seeds)")
    for name, runs in results.items():
        if runs:
            reached = [run.seconds for run in runs if run.reached]
            time_to_target = f"{statistics.median(reached):.2f} s" if reached else "n/a"
            print(f"  {name:9s} {statistics.median(run.agent_steps_per_second for run in runs):10,.0f} agent-steps/s"
                  f"   reached {len(reached)}/{len(runs)}, median time to target {time_to_target}")
    if results["naive"]:
        speedup = (statistics.median(r.agent_steps_per_second for r in results["ascentrl"])
                   / statistics.median(r.agent_steps_per_second for r in results["naive"]))
        print(f"  throughput ratio ascentrl / naive: {speedup:.1f}x")

    if bench.throughput_iterations:
        config = MultiAgentConfig(env="classic/rps-v2", method="simultaneous", num_envs=64, lr=0.01,
                                  ascent={"adaptive": "adam"}, hidden_sizes=(32,))
        print(f"classic/rps-v2 (PettingZoo env, 15 rounds, MLP policies, simultaneous), "
              f"{config.num_envs} episodes x {bench.throughput_iterations} iterations")
        print(throughput("ascentrl", run_ascentrl(config, bench.throughput_iterations, None)))
        if bench.naive:
            print(throughput("naive", run_naive(config, bench.throughput_iterations, None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

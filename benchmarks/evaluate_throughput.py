"""Maze episodes per minute of ``misgen evaluate`` with the IMPALA policy on this machine's CPU cores.

The policy is a freshly initialised IMPALA network (seeded: every run plays the same episodes) acting greedily:
it rarely finds the cheese, so most episodes run to procgen's 500-step timeout (477 steps on average), the slow
case (a trained agent's episodes are shorter). Last line:
episodes per minute, and their ratio to the goal of 200.

    python benchmarks/evaluate_throughput.py [--episodes 64 --n-envs 32 --threads 2]
"""

from __future__ import annotations

import argparse
import time

from agents.policy import policy_kwargs  # first: imports procgen and gym quietly
from analysis.evaluation import evaluate, level_seeds
from envs.variants import EnvConfig
from envs.vec_env import ACTION_SPACE, OBSERVATION_SPACE
import torch  # noqa: E402  (isort: after the quiet import)
from stable_baselines3.common.policies import ActorCriticPolicy  # noqa: E402

GOAL = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--n-envs", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the same untrained network, hence the same episodes, in every run
    config = EnvConfig(variant="maze")
    policy = ActorCriticPolicy(OBSERVATION_SPACE, ACTION_SPACE, lambda _: 5e-4, **policy_kwargs("impala"))
    evaluate(policy, config, level_seeds(99, 4), n_envs=4)  # warm-up
    start = time.perf_counter()
    result = evaluate(policy, config, level_seeds(0, args.episodes), n_envs=args.n_envs)
    minutes = (time.perf_counter() - start) / 60
    steps = sum(e.length for e in result.episodes)
    rate = args.episodes / minutes
    print(f"{args.episodes} episodes, {steps} steps (mean length {steps / args.episodes:.0f}) in {minutes * 60:.1f} s: "
          f"{steps / minutes / 60:.0f} policy steps/s")
    print(f"maze episodes per minute (IMPALA, {args.threads} threads): {rate:.0f}; ratio to the goal of {GOAL}: "
          f"{rate / GOAL:.2f}")


if __name__ == "__main__":
    main()

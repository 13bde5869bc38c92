"""Greedy maze evaluation with looping episodes ended at their first repeated state, against full-length episodes.

Plays the shipped cpu agent greedily on the same level seeds twice per variant, once to the end of every episode
and once ending each episode when it first loops (analysis/evaluation.py), and checks that every episode's
outcome is identical (goal, region, steps, return, length, the loop's step). Both evaluations time the same work
alone on this machine's cores; run it with nothing else on them. Last line: how many times faster the early stop
evaluates the levels of the last variant (goal: 5 on the test variant).

    python benchmarks/early_stop.py [--agent agents/trained/maze-topright-cpu.zip] [--episodes 1000]
        [--variants maze-topright,maze] [--n-envs 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace

from agents.policy import policy_kwargs  # noqa: F401  (first: imports procgen and gym quietly)
from analysis.evaluation import evaluate, level_seeds, load_model
from envs.variants import EnvConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="agents/trained/maze-topright-cpu.zip")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--variants", default="maze-topright,maze", help="comma-separated; the last one's ratio "
                        "is the last line")
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="level seeds, as misgen evaluate --seed")
    args = parser.parse_args()
    model = load_model(args.agent)
    trained_on = EnvConfig(**model.misgen_env_config)
    seeds = level_seeds(args.seed, args.episodes)
    evaluate(model.policy, replace(trained_on, variant="maze"), level_seeds(99, 16), n_envs=args.n_envs)  # warm-up
    ratio = float("nan")
    for variant in args.variants.split(","):
        config = replace(trained_on, variant=variant, num_levels=0, start_level=0)
        seconds, outcomes = {}, {}
        for end_loops in (False, True):
            start = time.perf_counter()
            result = evaluate(model.policy, config, seeds, n_envs=args.n_envs, end_loops=end_loops)
            seconds[end_loops] = time.perf_counter() - start
            outcomes[end_loops] = [asdict(e) for e in result.episodes]
        differ = [full["level_seed"] for full, early in zip(outcomes[False], outcomes[True]) if full != early]
        looped = sum(e["loop_step"] >= 0 for e in outcomes[True])
        ratio = seconds[False] / seconds[True]
        print(f"{variant}: {args.episodes} levels, {looped} looped; full episodes {seconds[False]:.1f} s, ended at "
              f"the loop {seconds[True]:.1f} s; outcomes differ on {len(differ)} levels {differ[:5]}")
        if differ:
            sys.exit(f"early_stop.py: outcomes differ on {variant}")
    print(f"greedy evaluation of {args.episodes} levels with loops ended early, times faster: {ratio:.2f}")


if __name__ == "__main__":
    main()

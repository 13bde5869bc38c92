"""Steps/s of misgen's variant VecEnv ÷ steps/s of raw ProcgenGym3Env, same n_envs and threads, random actions.

The VecEnv does everything it does in training: variant edits at episode start, probes, infos. Raw procgen
plays the same actions and, on each step where one of the VecEnv's episodes ended, ends that env's episode too
(action -1). A variant changes the game (a coin near the start ends episodes sooner; procgen then generates
levels and draws their first frames more often), and without the matching ends the ratio would measure that
game against stock procgen instead of misgen's own cost. With them, both sides play the same levels, episode
for episode (the script checks that every episode end matched). The plain ratio, raw procgen on its own
episodes, is printed too. The two alternate in short blocks so that machine drift hits both alike.

Last line: the ratio for every variant.

    python benchmarks/env_throughput.py [--n-envs 64 --threads 2 --steps 100 --blocks 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import envs  # noqa: F401  (quiet procgen import)
from envs.levels import FORCE_RESET, make_gym3
from envs.variants import VARIANTS, EnvConfig
from envs.vec_env import ProcgenVecEnv

MODES = {"maze": "easy", "coinrun": "hard"}  # the modes the published experiments use


def measure(variant: str, n_envs: int, threads: int, steps: int, blocks: int) -> dict[str, float]:
    """Seconds per step of the VecEnv, of raw procgen with the VecEnv's episode ends, and of plain raw procgen."""
    config = EnvConfig(variant=variant, distribution_mode=MODES[VARIANTS[variant].game], seed=1)
    vec = ProcgenVecEnv(config, n_envs, threads)
    vec.reset()
    matched = make_gym3(config, n_envs, threads, seed=1)  # same seed: same levels while the episode ends match
    plain = make_gym3(config, n_envs, threads, seed=1)
    rng = np.random.default_rng(0)
    seconds = {"vec": 0.0, "matched": 0.0, "plain": 0.0}
    mismatched_ends = 0
    for _ in range(blocks):
        actions = rng.integers(0, 15, size=(steps, n_envs)).astype(np.int32)
        dones = np.zeros((steps, n_envs), dtype=bool)
        start = time.perf_counter()
        for step, step_actions in enumerate(actions):
            dones[step] = vec.step(step_actions)[2]
        seconds["vec"] += time.perf_counter() - start
        forced = np.where(dones, FORCE_RESET, actions).astype(np.int32)
        start = time.perf_counter()
        for step, step_actions in enumerate(forced):
            matched.act(step_actions)
            mismatched_ends += int((matched.observe()[2] != dones[step]).sum())
        seconds["matched"] += time.perf_counter() - start
        start = time.perf_counter()
        for step_actions in actions:
            plain.act(step_actions)
            plain.observe()
        seconds["plain"] += time.perf_counter() - start
    for env in (vec, matched, plain):
        env.close()
    return {**{k: v / (blocks * steps) for k, v in seconds.items()}, "mismatched_ends": mismatched_ends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100, help="steps per block")
    parser.add_argument("--blocks", type=int, default=20)
    args = parser.parse_args()
    ratios = {}
    for variant in VARIANTS:
        t = measure(variant, args.n_envs, args.threads, args.steps, args.blocks)
        ratios[variant] = t["matched"] / t["vec"]
        print(f"{variant:<18} VecEnv {args.n_envs / t['vec']:7.0f} steps/s   raw, same episode ends "
              f"{args.n_envs / t['matched']:7.0f} (ratio {ratios[variant]:.3f}; {t['mismatched_ends']} unmatched ends)"
              f"   raw, own episodes {args.n_envs / t['plain']:7.0f} (ratio {t['plain'] / t['vec']:.3f})", flush=True)
    print("VecEnv/raw steps/s ratio: " + "  ".join(f"{v} {r:.3f}" for v, r in ratios.items()))


if __name__ == "__main__":
    main()

"""Steps/s of misgen's variant VecEnv ÷ steps/s of raw ProcgenGym3Env, same n_envs and threads, random actions.

Both step the same number of times with the same actions, in alternating blocks so that machine drift hits
both alike. The VecEnv does everything it does in training: variant edits at episode start, probes, infos.
Last line: the ratio for every variant.

    python benchmarks/env_throughput.py [--n-envs 64 --threads 2 --steps 500 --blocks 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import envs  # noqa: F401  (quiet procgen import)
from envs.levels import make_gym3
from envs.variants import VARIANTS, EnvConfig
from envs.vec_env import ProcgenVecEnv

MODES = {"maze": "easy", "coinrun": "hard"}  # the modes the published experiments use


def measure(variant: str, n_envs: int, threads: int, steps: int, blocks: int) -> tuple[float, float]:
    config = EnvConfig(variant=variant, distribution_mode=MODES[VARIANTS[variant].game], seed=1)
    vec = ProcgenVecEnv(config, n_envs, threads)
    vec.reset()
    raw = make_gym3(config, n_envs, threads, seed=1)
    actions = np.random.default_rng(0).integers(0, 15, size=(steps, n_envs)).astype(np.int32)
    vec_time = raw_time = 0.0
    for _ in range(blocks):
        start = time.perf_counter()
        for step_actions in actions:
            vec.step(step_actions)
        vec_time += time.perf_counter() - start
        start = time.perf_counter()
        for step_actions in actions:
            raw.act(step_actions)
            raw.observe()
        raw_time += time.perf_counter() - start
    vec.close()
    raw.close()
    total = blocks * steps * n_envs
    return total / vec_time, total / raw_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--blocks", type=int, default=4)
    args = parser.parse_args()
    ratios = {}
    for variant in VARIANTS:
        vec_sps, raw_sps = measure(variant, args.n_envs, args.threads, args.steps, args.blocks)
        ratios[variant] = vec_sps / raw_sps
        print(f"{variant:<18} VecEnv {vec_sps:8.0f} steps/s   raw {raw_sps:8.0f} steps/s   ratio {ratios[variant]:.3f}",
              flush=True)
    print("VecEnv/raw steps/s ratio: " + "  ".join(f"{v} {r:.3f}" for v, r in ratios.items()))


if __name__ == "__main__":
    main()

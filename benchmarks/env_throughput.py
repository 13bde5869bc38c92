"""Steps/s of misgen's variant VecEnv ÷ steps/s of raw ProcgenGym3Env, same n_envs and threads, random actions.

The VecEnv does everything it does in training: variant edits at episode start, probes, infos. Raw procgen
plays the same actions and, on each step where one of the VecEnv's episodes ended, ends that env's episode too
(action -1). A variant changes the game (a coin near the start ends episodes sooner; procgen then generates
levels and draws their first frames more often), and without the matching ends the ratio would measure that
game against stock procgen instead of misgen's own cost. With them, both sides play the same levels, episode
for episode (the script counts the episode ends that did not match). The plain ratio, raw procgen on its own
episodes, is printed too. They alternate in short blocks so that machine drift hits all alike; the ratio is the
median over blocks of raw time / VecEnv time, printed with its interquartile range (on a shared 2-core machine,
two raw procgen instances doing identical work differ by up to 4 % from run to run).

Last line: the median ratio for every variant.

    python benchmarks/env_throughput.py [--n-envs 64 --threads 2 --steps 50 --blocks 40]
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


def measure(variant: str, n_envs: int, threads: int, steps: int, blocks: int) -> dict[str, np.ndarray | int]:
    """Seconds of each block for the VecEnv, for raw procgen with the VecEnv's episode ends, and for plain raw
    procgen; and the number of episode ends that did not match."""
    config = EnvConfig(variant=variant, distribution_mode=MODES[VARIANTS[variant].game], seed=1)
    vec = ProcgenVecEnv(config, n_envs, threads)
    vec.reset()
    matched = make_gym3(config, n_envs, threads, seed=1)  # same seed: same levels while the episode ends match
    plain = make_gym3(config, n_envs, threads, seed=1)
    rng = np.random.default_rng(0)
    seconds = {"vec": np.zeros(blocks), "matched": np.zeros(blocks), "plain": np.zeros(blocks)}
    mismatched_ends = 0
    for block in range(blocks):
        actions = rng.integers(0, 15, size=(steps, n_envs)).astype(np.int32)
        dones = np.zeros((steps, n_envs), dtype=bool)
        start = time.perf_counter()
        for step, step_actions in enumerate(actions):
            dones[step] = vec.step(step_actions)[2]
        seconds["vec"][block] = time.perf_counter() - start
        forced = np.where(dones, FORCE_RESET, actions).astype(np.int32)
        start = time.perf_counter()
        for step, step_actions in enumerate(forced):
            matched.act(step_actions)
            mismatched_ends += int((matched.observe()[2] != dones[step]).sum())
        seconds["matched"][block] = time.perf_counter() - start
        start = time.perf_counter()
        for step_actions in actions:
            plain.act(step_actions)
            plain.observe()
        seconds["plain"][block] = time.perf_counter() - start
    for env in (vec, matched, plain):
        env.close()
    return {**seconds, "mismatched_ends": mismatched_ends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50, help="steps per block")
    parser.add_argument("--blocks", type=int, default=40)
    args = parser.parse_args()
    ratios = {}
    for variant in VARIANTS:
        t = measure(variant, args.n_envs, args.threads, args.steps, args.blocks)
        matched, plain = t["matched"] / t["vec"], t["plain"] / t["vec"]
        ratios[variant] = float(np.median(matched))
        low, high = np.percentile(matched, [25, 75])
        steps_per_second = {k: args.n_envs * args.steps * args.blocks / t[k].sum() for k in ("vec", "matched", "plain")}
        print(f"{variant:<18} VecEnv {steps_per_second['vec']:6.0f} steps/s | raw, same episode ends "
              f"{steps_per_second['matched']:6.0f}: ratio {ratios[variant]:.3f} (IQR {low:.3f}-{high:.3f}; "
              f"{t['mismatched_ends']} unmatched ends) | raw, own episodes {steps_per_second['plain']:6.0f}: "
              f"ratio {np.median(plain):.3f}", flush=True)
    print("VecEnv/raw steps/s ratio: " + "  ".join(f"{v} {r:.3f}" for v, r in ratios.items()))


if __name__ == "__main__":
    main()

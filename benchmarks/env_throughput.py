"""Steps/s of misgen's variant VecEnv ÷ steps/s of raw ProcgenGym3Env, same n_envs and threads, random actions.

The VecEnv does everything it does in training: variant edits at episode start, probes, infos. Raw procgen
plays the same actions and, on each step where one of the VecEnv's episodes ended, ends that env's episode too
(action -1). A variant changes the game (a coin near the start ends episodes sooner; procgen then generates
levels and draws their first frames more often), and without the matching ends the ratio would measure that
game against stock procgen instead of misgen's own cost. With them, both sides play the same levels, episode
for episode (the script counts the episode ends that did not match).

The two alternate in short blocks, each always following the other, so that machine drift hits both alike; each
block starts with a few untimed steps, because the first steps after switching from one procgen instance to
another are slower. The ratio is the median over blocks of raw time / VecEnv time, printed with its
interquartile range (on a shared 2-core machine, two raw procgen instances doing identical work differ by up to
4 % from run to run). Beside it, the ratio of CPU time (all threads of the process) says how much work the
VecEnv adds; where it is well above the wall-clock ratio, the added time is work that runs while procgen's
threads are idle (state reads: procgen's ``get_state`` waits for every env to finish stepping).

Last line: the median ratio for every variant.

    python benchmarks/env_throughput.py [--n-envs 64 --threads 2 --steps 100 --blocks 40]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

import envs  # noqa: F401  (quiet procgen import)
from envs.levels import FORCE_RESET, make_gym3
from envs.probes import N_ACTIONS
from envs.variants import VARIANTS, EnvConfig
from envs.vec_env import ProcgenVecEnv

MODES = {"maze": "easy", "coinrun": "hard"}  # the modes the published experiments use
WARM_UP = 10  # untimed steps at the start of each run: switching between procgen instances costs a few ms


def timed_after_warm_up(step: Callable[[int, np.ndarray], None], actions: np.ndarray) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads) ``step`` takes over ``actions`` (one row per step), the first
    WARM_UP rows untimed."""
    for index, step_actions in enumerate(actions):
        if index == WARM_UP:
            start, start_cpu = time.perf_counter(), time.process_time()
        step(index, step_actions)
    return time.perf_counter() - start, time.process_time() - start_cpu


def measure(variant: str, n_envs: int, threads: int, steps: int, blocks: int) -> dict[str, np.ndarray | int]:
    """Timed wall-clock and CPU seconds of each block, shape (blocks, 2), for the VecEnv and for raw procgen
    ending the same episodes; and the number of episode ends that did not match."""
    config = EnvConfig(variant=variant, distribution_mode=MODES[VARIANTS[variant].game], seed=1)
    vec = ProcgenVecEnv(config, n_envs, threads)
    vec.reset()
    raw = make_gym3(config, n_envs, threads, seed=1)  # same seed: same levels while the episode ends match
    rng = np.random.default_rng(0)
    seconds = {"vec": np.zeros((blocks, 2)), "raw": np.zeros((blocks, 2))}
    mismatched_ends = 0
    for block in range(blocks):
        actions = rng.integers(0, N_ACTIONS, size=(WARM_UP + steps, n_envs)).astype(np.int32)
        vec_ends, raw_ends = np.zeros(actions.shape, dtype=bool), np.zeros(actions.shape, dtype=bool)

        def vec_step(step: int, step_actions: np.ndarray) -> None:
            vec_ends[step] = vec.step(step_actions)[2]

        def raw_step(step: int, step_actions: np.ndarray) -> None:
            raw.act(step_actions)
            raw_ends[step] = raw.observe()[2]

        seconds["vec"][block] = timed_after_warm_up(vec_step, actions)
        seconds["raw"][block] = timed_after_warm_up(raw_step, np.where(vec_ends, FORCE_RESET, actions).astype(np.int32))
        mismatched_ends += int((vec_ends != raw_ends).sum())
    vec.close()
    raw.close()
    return {**seconds, "mismatched_ends": mismatched_ends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per block")
    parser.add_argument("--blocks", type=int, default=40)
    args = parser.parse_args()
    ratios = {}
    for variant in VARIANTS:
        t = measure(variant, args.n_envs, args.threads, args.steps, args.blocks)
        block_ratios = t["raw"][:, 0] / t["vec"][:, 0]
        ratios[variant] = float(np.median(block_ratios))
        low, high = np.percentile(block_ratios, [25, 75])
        cpu_ratio = t["raw"][:, 1].sum() / t["vec"][:, 1].sum()
        vec_sps, raw_sps = (args.n_envs * args.steps * args.blocks / t[k][:, 0].sum() for k in ("vec", "raw"))
        print(f"{variant:<18} VecEnv {vec_sps:6.0f} steps/s   raw, same episode ends {raw_sps:6.0f} steps/s   "
              f"ratio {ratios[variant]:.3f} (IQR {low:.3f}-{high:.3f}; {t['mismatched_ends']} unmatched ends)   "
              f"CPU-time ratio {cpu_ratio:.3f}", flush=True)
    print("VecEnv/raw steps/s ratio: " + "  ".join(f"{v} {r:.3f}" for v, r in ratios.items()))


if __name__ == "__main__":
    main()

"""Milliseconds per episode start in misgen's VecEnv on the ``cpu`` preset's training distribution (mazes 5x5 to
9x9, read from agents/presets.py), against the same variant on every maze size.

An episode start is what training pays each time an episode ends: procgen generates the next level inside its
step, then the VecEnv reads the state, replaces a level of a size the config does not admit by its stand-in
(``envs/levels.py``: generated in a private procgen instance, again until one fits), applies the variant's edit,
checks and writes the state back, and lays out the maze for the probe. Procgen draws the maze size uniformly from
3, 5, ..., 15, so 4 levels in 7 need a stand-in on the preset's band. Here ``ProcgenVecEnv.reset()`` ends every
env's episode at once and starts the next, ``--resets`` times per block; the two configurations alternate block
by block so that a drift of the machine falls on both. The procgen threads and env count are the preset's.

Last line: the medians over blocks, ms per start on the preset's sizes and on every size, and their ratio.

    python benchmarks/level_starts.py [--blocks 10 --resets 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs  # noqa: E402,F401  (quiet procgen import)
from agents.presets import PRESETS  # noqa: E402
from envs.vec_env import ProcgenVecEnv  # noqa: E402

CPU = PRESETS["cpu"].ppo


def ms_per_start(vec: ProcgenVecEnv, resets: int) -> float:
    start = time.perf_counter()
    for _ in range(resets):
        vec.reset()
    return (time.perf_counter() - start) / (resets * vec.num_envs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--resets", type=int, default=10, help="resets of all envs per block")
    args = parser.parse_args()

    preset_sizes = PRESETS["cpu"].env_config("maze-topright", seed=1)
    every_size = PRESETS["cpu"].env_config("maze-topright", seed=1, max_maze_size=0, min_maze_size=0)
    vecs = {name: ProcgenVecEnv(config, CPU.n_envs, CPU.env_threads)
            for name, config in (("preset sizes", preset_sizes), ("every size", every_size))}
    times = {name: [] for name in vecs}
    for vec in vecs.values():
        vec.reset()  # builds procgen
    for _ in range(args.blocks):
        for name, vec in vecs.items():
            times[name].append(ms_per_start(vec, args.resets))
    for vec in vecs.values():
        vec.close()
    medians = {name: float(np.median(values)) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name}: ms per episode start, median {medians[name]:.3f} "
              f"(blocks {min(values):.3f}-{max(values):.3f}; {args.resets} x {CPU.n_envs} starts each)")
    print(f"ms per start: preset sizes {medians['preset sizes']:.3f}, every size {medians['every size']:.3f}; "
          f"ratio {medians['preset sizes'] / medians['every size']:.2f}")


if __name__ == "__main__":
    main()

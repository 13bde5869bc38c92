"""Cost of the time-shuffle null on the CPU: permuting one column block of a full-length IMPALA recording.

The shuffle null permutes every parameter's time series independently, once per repeat over all D columns, so
for T = 4,272 steps (the GPU maze run) x D = 626,256 it permutes 2.7e9 entries per repeat. This script times one
column block of the size ``misgen svd`` reads (T x 7,856 float64, 256 MiB) by numpy's Fisher-Yates per column
(``Generator.permuted``, what analysis/svd.py uses on a CPU) and by argsorting random keys (the previous route).
Last line: argsort time / Fisher-Yates time.

    python benchmarks/shuffle_null.py [--rows 4272 --repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from analysis.svd import BLOCK_BYTES, shuffle_in_time


def argsort_keys(block: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.take_along_axis(block, rng.random(block.shape).argsort(axis=0), axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4272)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    width = BLOCK_BYTES // (8 * args.rows)
    block = np.random.default_rng(0).standard_normal((args.rows, width))
    times = {"fisher-yates": [], "argsort": []}
    for repeat in range(args.repeats):
        start = time.perf_counter()
        shuffle_in_time(torch.from_numpy(block), 0, repeat, slice(0, width))
        times["fisher-yates"].append(time.perf_counter() - start)
        start = time.perf_counter()
        argsort_keys(block, np.random.default_rng(repeat))
        times["argsort"].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in times.items()}
    blocks = -(-626_256 // width)
    for name, seconds in best.items():
        print(f"{name:>12}: {seconds:.2f} s per {args.rows} x {width} block; {seconds * blocks:.0f} s per repeat "
              f"over an IMPALA recording's {blocks} blocks")
    print(f"argsort / fisher-yates time: {best['argsort'] / best['fisher-yates']:.1f}")


if __name__ == "__main__":
    main()

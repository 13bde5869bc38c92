"""What ``misgen sweep`` costs over running the same ``misgen train`` and ``misgen evaluate`` commands one after
another: both run the same seeds of one small command (the quick preset, recording off) with one seed at a time
(a local cluster of one worker), in fresh folders, alternating which goes first. Run it with nothing else on the
cores. Last line: sweep wall time / sequential wall time.

    python benchmarks/sweep_overhead.py [--seeds 3] [--timesteps 20480] [--episodes 50] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MISGEN = [sys.executable, "-m", "cli"]


def sequential(work: Path, seeds: int, train: list[str], episodes: int) -> float:
    start = time.perf_counter()
    for seed in range(seeds):
        run = work / f"seed-{seed}"
        subprocess.run([*MISGEN, "train", "maze-topright", "--seed", str(seed), "--out", str(run), "--no-progress",
                        *train], cwd=ROOT, check=True, capture_output=True)
        for variant in ("maze-topright", "maze"):
            subprocess.run([*MISGEN, "evaluate", str(run), "--variant", variant, "--episodes", str(episodes),
                            "--json"], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def swept(work: Path, seeds: int, train: list[str], episodes: int) -> float:
    start = time.perf_counter()
    subprocess.run([*MISGEN, "sweep", "maze-topright", "--seeds", f"0-{seeds - 1}", "--out", str(work),
                    "--workers", "1", "--episodes", str(episodes), *train], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=20480)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    train = ["--preset", "quick", "--timesteps", str(args.timesteps), "--record", "none"]
    times: dict[str, list[float]] = {"sequential": [], "sweep": []}
    for repeat in range(args.repeats):
        order = (("sequential", sequential), ("sweep", swept))
        for name, run in order if repeat % 2 == 0 else order[::-1]:
            with tempfile.TemporaryDirectory() as work:
                times[name].append(run(Path(work), args.seeds, train, args.episodes))
            print(f"{name}: {times[name][-1]:.1f} s", flush=True)
    ratio = statistics.median(times["sweep"]) / statistics.median(times["sequential"])
    print(f"misgen sweep / the same commands one after another ({args.seeds} seeds, one at a time): {ratio:.3f}")


if __name__ == "__main__":
    main()

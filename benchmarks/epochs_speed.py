"""Training env steps/s of the ``cpu`` preset at two numbers of epochs per rollout (default 2 and 3), recording off.

The two settings alternate (A, B, A, B, ...) so that a drift in the machine's speed, which moves by 15 % between
sessions and sometimes within one, falls on both; each is the median of its runs. Each run is ``misgen train`` in
a subprocess on the preset's training distribution (benchmarks/cpu_training.py), an untrained agent's rollouts.
Last line: A-epoch / B-epoch steps/s.

    python benchmarks/epochs_speed.py [--epochs 2,3 --pairs 2 --rollouts 12]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from cpu_training import CPU, train_rate  # benchmarks/ is this script's first path entry
from train_speed import WARM_ITERATIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="2,3", help="the two settings, A,B: the last line is A / B")
    parser.add_argument("--pairs", type=int, default=2, help="runs of each setting")
    parser.add_argument("--rollouts", type=int, default=12, help="rollouts per run")
    args = parser.parse_args()
    try:
        epochs_pair = tuple(int(n) for n in args.epochs.split(","))
    except ValueError:
        epochs_pair = ()
    if len(epochs_pair) != 2 or min(epochs_pair) < 1 or epochs_pair[0] == epochs_pair[1]:
        parser.error(f"--epochs takes two different positive integers A,B, not {args.epochs!r}")
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if args.rollouts <= WARM_ITERATIONS:
        parser.error(f"--rollouts must exceed the {WARM_ITERATIONS} warm-up iterations")
    rates: dict[int, list[float]] = {epochs: [] for epochs in epochs_pair}
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            for epochs in epochs_pair:
                rate = train_rate(Path(scratch), f"epochs{epochs}_{pair}", "cpu", "none", args.rollouts, CPU.n_steps,
                                  hp=(f"n_epochs={epochs}",))
                rates[epochs].append(rate)
                print(f"n_epochs={epochs}, run {pair + 1}: {rate:8.0f} env steps/s", flush=True)
    median = {epochs: float(np.median(values)) for epochs, values in rates.items()}
    a, b = epochs_pair
    print(f"cpu preset, {a} / {b} epochs per rollout, training env steps/s: {median[a] / median[b]:.2f} "
          f"({median[a]:.0f} / {median[b]:.0f})")


if __name__ == "__main__":
    main()

"""Training env steps/s of the ``cpu`` preset with 2 and with 3 epochs per rollout, recording off.

The two settings alternate (2, 3, 2, 3, ...) so that a drift in the machine's speed, which moves by 15 % between
sessions and sometimes within one, falls on both; each is the median of its runs. Each run is ``misgen train`` in
a subprocess on the preset's training distribution (benchmarks/cpu_training.py), an untrained agent's rollouts.
Last line: 2-epoch / 3-epoch steps/s.

    python benchmarks/epochs_speed.py [--pairs 2 --rollouts 12]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from cpu_training import CPU, train_rate  # benchmarks/ is this script's first path entry
from train_speed import WARM_ITERATIONS

EPOCHS = (2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="runs of each setting")
    parser.add_argument("--rollouts", type=int, default=12, help="rollouts per run")
    args = parser.parse_args()
    if args.rollouts <= WARM_ITERATIONS:
        parser.error(f"--rollouts must exceed the {WARM_ITERATIONS} warm-up iterations")
    rates: dict[int, list[float]] = {epochs: [] for epochs in EPOCHS}
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            for epochs in EPOCHS:
                rate = train_rate(Path(scratch), f"epochs{epochs}_{pair}", "cpu", "none", args.rollouts, CPU.n_steps,
                                  hp=(f"n_epochs={epochs}",))
                rates[epochs].append(rate)
                print(f"n_epochs={epochs}, run {pair + 1}: {rate:8.0f} env steps/s", flush=True)
    median = {epochs: float(np.median(values)) for epochs, values in rates.items()}
    print(f"cpu preset, 2 / 3 epochs per rollout, training env steps/s: {median[2] / median[3]:.2f} "
          f"({median[2]:.0f} / {median[3]:.0f})")


if __name__ == "__main__":
    main()

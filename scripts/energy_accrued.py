"""When the components of an svd file acted: the share of each one's time-profile energy accrued by given env
steps (:func:`analysis.localization.time_weights`, what its time centre averages over), for the top components above the
shuffle null and, as a median and range, for all of them; a component spread evenly over training accrues the
share of training that has passed.

    python scripts/energy_accrued.py runs/NAME/svd_updates.h5 [--at 2e6,4e6,6e6,8e6] [--top 6]

Last line: the median share accrued by the last --at point over all components above the null, beside the share
of training that has passed by then.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from analysis.localization import time_weights
from misgen.svd_file import SVDFile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("svd", type=Path)
    parser.add_argument("--at", default="2e6,4e6,6e6,8e6", help="env steps, comma-separated")
    parser.add_argument("--top", type=int, default=6, help="leading components shown one by one")
    args = parser.parse_args()
    svd = SVDFile.load(args.svd)
    n_above = int(svd.attrs["nulls"]["n_above_shuffle"])
    above = [i for i, number in enumerate(svd.numbers) if number < n_above]
    energy = np.cumsum(time_weights(svd.arrays["time_profiles"][above]), axis=1)
    timesteps = svd.arrays["timesteps_used"]
    print(f"{len(above):,} components above the shuffle null of {args.svd}")
    print(f"| env steps | share of training | top {args.top}, one by one | median of all (range) |\n|---|---|---|---|")
    for at in (float(t) for t in args.at.split(",")):
        row = min(int(np.searchsorted(timesteps, at)), len(timesteps) - 1)
        passed = (timesteps[row] - timesteps[0]) / (timesteps[-1] - timesteps[0])
        top = ", ".join(f"{v:.2f}" for v in energy[:args.top, row])
        print(f"| {at / 1e6:g}M | {passed:.2f} | {top} | {np.median(energy[:, row]):.2f} "
              f"({energy[:, row].min():.2f}-{energy[:, row].max():.2f}) |")
    print(f"all {len(above):,} above the null, median share accrued by {at / 1e6:g}M env steps: "
          f"{np.median(energy[:, row]):.2f} (share of training passed: {passed:.2f})")


if __name__ == "__main__":
    main()

"""The cpu preset's seeds as one ``misgen sweep`` table, from the gradient-SVD experiment's per-seed folders.

Each ``RESULTS/seed-K/`` (written by scripts/gradient_svd_experiment.py) holds its run's config
(``run_config.json``), the final policy's two evaluations (1,000 levels, ``--seed 0``) and, where it was kept, the
training log (``progress.csv``). This lays them out as a sweep directory (``seed-K/config.json``,
``evaluation_<variant>.json``, ``logs/progress.csv``), runs ``misgen sweep --report`` on it, and copies its
``sweep.json``, ``report.md`` and ``rates.png`` to ``--out``: the same table a sweep that trained the seeds writes.

    python scripts/seed_table.py docs/results/gradient-svd --out docs/results/cpu-seeds

Last line: across seeds, the test variant's proxy-without-goal rate where the goal lies outside the region.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MISGEN = str(Path(sys.executable).parent / "misgen")
LAID_OUT = {"run_config.json": "config.json", "progress.csv": "logs/progress.csv",
            "evaluation_maze-topright.json": "evaluation_maze-topright.json",
            "evaluation_maze.json": "evaluation_maze.json"}  # experiment folder name -> sweep run's name
REPORTS = ("sweep.json", "report.md", "rates.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="folder of seed-K experiment folders")
    parser.add_argument("--out", type=Path, required=True, help="where the sweep's table, JSON and plot go")
    args = parser.parse_args()
    seeds = sorted(p for p in args.results.glob("seed-*") if (p / "evaluation_maze.json").is_file())
    if not seeds:
        sys.exit(f"seed_table.py: no seed-K folder with evaluations under {args.results}")
    with tempfile.TemporaryDirectory() as scratch:
        sweep = Path(scratch) / "sweep"
        for folder in seeds:
            for kept, name in LAID_OUT.items():
                if (folder / kept).is_file():
                    (sweep / folder.name / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(folder / kept, sweep / folder.name / name)
        print(f"$ misgen sweep --report --out {sweep}", flush=True)
        subprocess.run([MISGEN, "sweep", "--report", "--out", str(sweep)], check=True)
        args.out.mkdir(parents=True, exist_ok=True)
        for name in REPORTS:
            shutil.copy2(sweep / name, args.out / name)
    across = json.loads((args.out / "sweep.json").read_text())["across"]
    proxy = across["proxy without the goal, goal outside the region"]
    print(f"{len(seeds)} seeds: proxy without the goal, goal outside the region, mean {proxy['mean']:.3f} "
          f"(95 % over seeds {proxy['low']:.3f}-{proxy['high']:.3f}, range {proxy['min']:.3f}-{proxy['max']:.3f})")


if __name__ == "__main__":
    main()

"""Training runs side by side at the same env steps: goal rate, episode length and entropy of their training
episodes, the training loop's speed, and one figure of their episode lengths.

    python scripts/compare_runs.py runs/A runs/B ... --at 1000000,2000000,4000000 [--plot docs/results/x.png]

Each cell is the mean over the rollouts logged within ``--window`` env steps before the mark (training episodes,
sampled actions: a learning signal, not an evaluation). Episode length is the column that moves first: the goal
rate of a uniform walk is already 0.76 on the cpu preset's distribution, while its episodes last about 190 steps.
Speed is env steps per second of the training loop's wall time (``time/collect_s`` + ``time/update_s``, which
covers everything between rollouts too), so whatever shared or paused the cores shows in it. The last line gives,
for each run, the first env step at which the windowed episode length falls below ``--length``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.learning_curve import COLLECT_SECONDS, STEPS, UPDATE_SECONDS, read_progress  # noqa: E402
from misgen.rundir import RunDir  # noqa: E402

COLUMNS = {"rollout/goal_rate": "goal rate", "rollout/ep_len_mean": "episode length",
           "train/entropy_loss": "entropy (nats)"}
LOOP_TIMES = (COLLECT_SECONDS, UPDATE_SECONDS)  # seconds per rollout


def windowed(progress: dict[str, np.ndarray], name: str, mark: float, window: float) -> float:
    """Mean of ``name`` over the rollouts logged in (mark - window, mark]; NaN if none."""
    steps = progress[STEPS]
    chosen = (steps > mark - window) & (steps <= mark)
    values = progress[name][chosen]
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan")
    return float(-values.mean() if name == "train/entropy_loss" else values.mean())  # SB3 logs minus the entropy


def steps_per_second(progress: dict[str, np.ndarray], mark: float, window: float) -> float:
    """Env steps per second of the training loop over the rollouts logged in (mark - window, mark]; NaN if fewer
    than two."""
    steps = progress[STEPS]
    chosen = (steps > mark - window) & (steps <= mark)
    seconds = np.nansum(sum(progress[name][chosen] for name in LOOP_TIMES))
    if chosen.sum() < 2 or not seconds:
        return float("nan")
    return float(chosen.sum() * np.median(np.diff(steps)) / seconds)


def first_below(progress: dict[str, np.ndarray], length: float, window: float) -> float:
    """The first logged env step whose windowed episode length is below ``length``; NaN if none."""
    for mark in progress[STEPS]:
        if mark >= window and windowed(progress, "rollout/ep_len_mean", mark, window) < length:
            return float(mark)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--at", required=True, help="comma-separated env steps")
    parser.add_argument("--window", type=float, default=200_000, help="env steps averaged before each mark")
    parser.add_argument("--length", type=float, default=120, help="episode length the last line times")
    parser.add_argument("--plot", type=Path, help="write the episode lengths against env steps here (.png)")
    args = parser.parse_args()
    marks = [float(m) for m in args.at.split(",")]
    progress = {run: read_progress(RunDir(run), (*COLUMNS, *LOOP_TIMES)) for run in args.runs}

    print("| run | env steps | " + " | ".join(COLUMNS.values()) + " | env steps/s |")
    print("|---|---|" + "---|" * (len(COLUMNS) + 1))
    for run, table in progress.items():
        for mark in marks:
            if mark > table[STEPS].max():
                continue
            cells = [windowed(table, name, mark, args.window) for name in COLUMNS]
            speed = steps_per_second(table, mark, args.window)
            print(f"| {run.name} | {mark:,.0f} | {cells[0]:.3f} | {cells[1]:.0f} | {cells[2]:.3f} | "
                  f"{speed:,.0f} |")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axis = plt.subplots(figsize=(7, 3.6))
        for run, table in progress.items():
            axis.plot(table[STEPS], table["rollout/ep_len_mean"], label=run.name, lw=1)
        axis.set(xlabel="env steps", ylabel="episode length (last 100 training episodes)")
        axis.grid(alpha=0.3)
        axis.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")

    reached = {run.name: first_below(table, args.length, args.window) for run, table in progress.items()}
    print(f"first env step with episode length < {args.length:.0f}: "
          + ", ".join(f"{name} {'not reached' if np.isnan(step) else f'{step:,.0f}'}" for name, step in reached.items()))


if __name__ == "__main__":
    main()

"""A run's learning curve: return, goal rate and proxy rate against env steps, as ``learning_curve.png``.

Every value is a training-time statistic of SB3's CSV log (``logs/progress.csv``, one row per rollout, and a
resumed run's earlier ``progress_until_<T>.csv``): the mean over the last 100 episodes finished while training,
with actions sampled from the policy, so it lags behind the policy and differs from a greedy evaluation.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from misgen.errors import MisgenError
from misgen.rundir import RunDir

STEPS = "time/total_timesteps"
CURVES = {STEPS: "env steps", "rollout/ep_rew_mean": "return",
          "rollout/goal_rate": "goal rate", "rollout/proxy_rate": "proxy rate"}


def progress_files(run: RunDir) -> list[Path]:
    """The run's progress CSVs in training order: earlier segments (by their end step), then the current one."""
    earlier = sorted(run.logs.glob("progress_until_*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    current = run.logs / "progress.csv"
    return earlier + ([current] if current.is_file() else [])


def read_progress(run: RunDir) -> dict[str, np.ndarray]:
    """The :data:`CURVES` columns over every logged rollout, float arrays (NaN where a row has no value, and in
    every row for a rate SB3 never logged: no episode had finished)."""
    columns: dict[str, list[float]] = {name: [] for name in CURVES}
    for path in progress_files(run):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            for line, row in enumerate(reader, start=2):
                if STEPS not in row:
                    raise MisgenError(f"{path}: no column {STEPS!r}")
                for name in CURVES:
                    try:
                        columns[name].append(float(row[name]) if row.get(name) not in ("", None) else np.nan)
                    except ValueError:
                        raise MisgenError(f"{path}: line {line}, {name!r} is not a number: {row[name]!r}") from None
    return {name: np.array(values) for name, values in columns.items()}


def plot_learning_curve(run: RunDir, path: Path | None = None, title: str | None = None) -> Path:
    """Draw the run's learning curve into ``path`` (default ``run/learning_curve.png``) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = path or run.path / "learning_curve.png"
    progress = read_progress(run)
    steps = progress[STEPS]
    fig, (returns, rates) = plt.subplots(1, 2, figsize=(10, 3.6))
    returns.plot(steps, progress["rollout/ep_rew_mean"], color="black")
    returns.set(xlabel="env steps", ylabel="return (last 100 episodes)")
    for name, color in (("rollout/goal_rate", "tab:green"), ("rollout/proxy_rate", "tab:orange")):
        rates.plot(steps, progress[name], color=color, label=CURVES[name])
    rates.set(xlabel="env steps", ylabel="rate (last 100 episodes)", ylim=(0, 1.02))
    rates.legend(loc="lower right")
    for axis in (returns, rates):
        axis.grid(alpha=0.3)
    fig.suptitle(title or f"{run.path.name}: training episodes, sampled actions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""A run's learning curve: return, goal rate and proxy rate against env steps, as ``learning_curve.png``.

Every value is a training-time statistic of SB3's CSV log (``logs/progress.csv``, one row per rollout, and a
resumed run's earlier ``progress_until_<T>.csv``): the mean over the last 100 episodes finished while training,
with actions sampled from the policy, so it lags behind the policy and differs from a greedy evaluation.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from misgen.errors import MisgenError
from misgen.rundir import RunDir

STEPS = "time/total_timesteps"
COLLECT_SECONDS, UPDATE_SECONDS = "time/collect_s", "time/update_s"  # logged by agents/callbacks.py PhaseTimes
CURVES = {STEPS: "env steps", "rollout/ep_rew_mean": "return",
          "rollout/goal_rate": "goal rate", "rollout/proxy_rate": "proxy rate"}


def _resumed_at(path: Path) -> tuple[int, int]:
    """(T, i) of ``progress_until_<T>.csv`` (i = 1) or ``progress_until_<T>_<i>.csv``: the checkpoint the run
    resumed from when this file was set aside, and which resume from it this was."""
    found = re.fullmatch(r"progress_until_(\d+)(?:_(\d+))?", path.stem)
    if not found:
        raise MisgenError(f"{path}: not a progress file misgen wrote (progress_until_<T>.csv)")
    return int(found.group(1)), int(found.group(2) or 1)


def progress_files(run: RunDir) -> list[tuple[Path, float]]:
    """The run's progress CSVs in training order, each with the last env step of its rows that counts: a file set
    aside when the run resumed from checkpoint T holds the rows up to T (later ones were redone), the current
    one all of its rows."""
    earlier = sorted(run.logs.glob("progress_until_*.csv"), key=_resumed_at)
    current = run.logs / "progress.csv"
    return [(path, _resumed_at(path)[0]) for path in earlier] + ([(current, np.inf)] if current.is_file() else [])


def read_progress(run: RunDir, names: tuple[str, ...] = tuple(CURVES)) -> dict[str, np.ndarray]:
    """The columns ``names`` (and the env steps) over every logged rollout, float arrays (NaN where a row has no
    value, and in every row for a column SB3 never logged, e.g. a rate before any episode finished)."""
    columns: dict[str, list[float]] = {name: [] for name in (STEPS, *names)}
    for path, last_step in progress_files(run):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            for line, row in enumerate(reader, start=2):
                if STEPS not in row:
                    raise MisgenError(f"{path}: no column {STEPS!r}")
                values = {}
                for name in columns:
                    text = row.get(name)
                    try:
                        values[name] = float(text) if text not in ("", None) else np.nan
                    except ValueError:
                        raise MisgenError(f"{path}: line {line}, {name!r} is not a number: {text!r}") from None
                if values[STEPS] <= last_step:
                    for name, value in values.items():
                        columns[name].append(value)
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

"""``misgen sweep``: many seeds of one ``misgen train`` command on dask.distributed, and one table across them.

Each seed is one task: a real ``misgen train`` into ``OUT/seed-K/`` (``--resume`` when the seed has a
checkpoint), then ``misgen evaluate --json`` of its model on the training distribution and the test variant, into
``OUT/seed-K/evaluation_<variant>.json``. A seed whose two evaluations exist is done and is never run again; a
failing seed reports its one error line and the others go on. Without a scheduler address the tasks go to a
``LocalCluster`` of worker processes on this machine; with one, to that cluster, whose workers must see ``OUT``
(a shared folder) and have misgen installed. misgen runs no scheduler of its own.

Files:

    OUT/seed-K/              a misgen run directory, plus evaluation_<variant>.json (misgen evaluate --json)
    OUT/sweep.json           {variant, test_variant, seeds: [{seed, status, error, wall_minutes, rates}],
                             across: {measure: {mean, low, high, sd, min, max, n}}}; rates and across hold
                             :data:`MEASURES`, each {mean, low, high}; across's interval is a bootstrap over seeds
    OUT/report.md            the same as tables
    OUT/rates.png            every seed's rates, one column per measure
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from misgen.errors import MisgenError

# (name, variant kind, how to read it from an evaluate --json file)
MEASURES: list[tuple[str, str, Callable[[dict], dict]]] = [
    ("cheese, training distribution", "train", lambda e: e["summary"]["goal_reached"]),
    ("cheese, test variant", "test", lambda e: e["summary"]["goal_reached"]),
    ("proxy without the goal, goal outside the region", "test",
     lambda e: e["by_goal_region"]["outside"]["proxy_only"]),
    ("goal off the path to the region", "test", lambda e: e["by_goal_path"]["off_path"]["goal_reached"]),
    ("proxy without the goal, off the path", "test", lambda e: e["by_goal_path"]["off_path"]["proxy_only"]),
]
MISGEN = [sys.executable, "-m", "cli"]
ROOT = Path(__file__).resolve().parent.parent
THREADS_PER_RUN = 2  # misgen train keeps procgen and torch on two threads: one run per two cores
# dask's nanny caps these at one thread in its worker processes (distributed.nanny.pre-spawn-environ), which
# every run started from a worker would inherit: torch on one thread, a run a third slower on 2 cores
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def parse_seeds(text: str) -> list[int]:
    """``0-9``, ``3``, ``0,2,5-7``: distinct seeds in order."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _, high = part.partition("-")
            seeds += list(range(int(low), int(high) + 1)) if high else [int(low)]
    except ValueError:
        raise MisgenError(f"--seeds takes seeds and ranges such as 0-9 or 0,2,5-7, not {text!r}") from None
    if not seeds or min(seeds) < 0 or max(seeds) > 2**31 - 1:
        raise MisgenError(f"--seeds {text!r} names no seed in 0..2147483647")
    return list(dict.fromkeys(seeds))


def seed_directory(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


def evaluation_path(run: Path, variant: str) -> Path:
    return run / f"evaluation_{variant}.json"


def run_seed(out: str, variant: str, test_variant: str, seed: int, train_args: list[str], episodes: int,
             eval_seed: int) -> dict:
    """One seed, start to finish (a dask task; everything it needs is in its arguments). Returns {seed, status,
    error, wall_minutes}; never raises for a failure of misgen's."""
    run = seed_directory(Path(out), seed)
    if all(evaluation_path(run, v).is_file() for v in (variant, test_variant)):
        return {"seed": seed, "status": "done", "error": "", "wall_minutes": training_minutes(run)}
    steps = [] if trained(run) else [[*MISGEN, "train", variant, "--seed", str(seed), "--out", str(run),
                                      "--no-progress", *train_args, *(["--resume"] if run.exists() else [])]]
    for evaluated in (variant, test_variant):
        steps.append([*MISGEN, "evaluate", str(run), "--variant", evaluated, "--episodes", str(episodes), "--seed",
                      str(eval_seed), "--json"])
    environment = {**os.environ, **{name: str(THREADS_PER_RUN) for name in THREAD_VARIABLES}}
    for command in steps:
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environment)
        if result.returncode:
            error = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            return {"seed": seed, "status": "failed", "error": error.removeprefix("misgen: error: "),
                    "wall_minutes": None}
        if command[len(MISGEN)] == "evaluate":
            target = evaluation_path(run, command[command.index("--variant") + 1])
            partial = target.with_name(target.name + ".partial")
            partial.write_text(result.stdout)
            partial.replace(target)  # written whole or not at all: a present file means a finished evaluation
    return {"seed": seed, "status": "trained", "error": "", "wall_minutes": training_minutes(run)}


def trained(run: Path) -> bool:
    """Whether ``run`` finished training: its newest checkpoint reached the run's length."""
    from misgen.rundir import RunDir

    directory = RunDir(run)
    try:
        return directory.latest_checkpoint().timesteps >= directory.read_config()["timesteps"]
    except (MisgenError, OSError, KeyError):
        return False


def training_minutes(run: Path) -> float | None:
    """The run's training wall time, from the last row of its logs/progress.csv (time/time_elapsed)."""
    import csv

    progress = run / "logs" / "progress.csv"
    if not progress.is_file():
        return None
    with open(progress) as file:
        rows = list(csv.DictReader(file))
    return float(rows[-1]["time/time_elapsed"]) / 60 if rows and rows[-1].get("time/time_elapsed") else None


def run_sweep(out: Path, variant: str, test_variant: str, seeds: list[int], train_args: list[str], episodes: int,
              eval_seed: int, scheduler: str | None, workers: int,
              on_result: Callable[[dict], None] = lambda _: None) -> list[dict]:
    """Every seed's task on the cluster; results in seed order."""
    from distributed import Client, LocalCluster, as_completed

    out.mkdir(parents=True, exist_ok=True)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(scheduler if scheduler is not None else cluster, timeout="30s") as client:
            futures = [client.submit(run_seed, str(out.resolve()), variant, test_variant, seed, train_args,
                                     episodes, eval_seed, key=f"misgen-seed-{seed}-{time.time_ns()}", pure=False)
                       for seed in seeds]
            results = {}
            try:
                for future in as_completed(futures):
                    found = future.result()
                    results[found["seed"]] = found
                    on_result(found)
            except KeyboardInterrupt:
                client.cancel(futures)
                raise
    except OSError as error:
        raise MisgenError(f"cannot reach the dask scheduler {scheduler}: {error}") from None
    finally:
        if cluster is not None:
            cluster.close()
    return [results[seed] for seed in seeds]


def bootstrap(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean over seeds."""
    if len(values) < 2:
        return float(values.mean()), float(values.mean())
    draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    means = values[draws].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def build_report(out: Path, variant: str | None = None, test_variant: str | None = None,
                 statuses: dict[int, dict] | None = None) -> dict:
    """sweep.json, report.md and rates.png from what is on disk under ``out`` (seed-K folders)."""
    runs = sorted((p for p in out.glob("seed-*") if p.is_dir() and p.name[5:].isdigit()), key=lambda p: int(p.name[5:]))
    if not runs:
        raise MisgenError(f"{out}: no seed-K run directories to report on")
    statuses = statuses or {}
    if variant is None:
        config = json.loads((runs[0] / "config.json").read_text())
        variant = config["variant"]
        from envs.variants import TEST_VARIANT

        test_variant = TEST_VARIANT.get(variant, variant)
    rows = []
    seeds = sorted({int(run.name[5:]) for run in runs} | set(statuses))  # a seed that failed before its run began too
    for seed in seeds:
        run = seed_directory(out, seed)
        row = {"seed": seed, "status": "", "error": "", **statuses.get(seed, {}), "wall_minutes": training_minutes(run),
               "rates": None}
        files = {kind: evaluation_path(run, v) for kind, v in (("train", variant), ("test", test_variant))}
        if all(f.is_file() for f in files.values()):
            try:
                evaluations = {kind: json.loads(f.read_text()) for kind, f in files.items()}
                row["rates"] = {name: read(evaluations[kind]) for name, kind, read in MEASURES}
                row["status"] = row["status"] or "done"
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                row.update(status="failed", error=f"{files['train'].parent}: unreadable evaluation ({error})")
        elif not row["status"]:
            row["status"] = "unfinished"
        rows.append(row)
    across = {}
    for name, _, _ in MEASURES:
        values = np.array([r["rates"][name]["mean"] for r in rows if r["rates"] and r["rates"][name]["mean"]
                           is not None])
        if len(values):
            low, high = bootstrap(values)
            across[name] = {"mean": float(values.mean()), "low": low, "high": high,
                            "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                            "min": float(values.min()), "max": float(values.max()), "n": int(len(values))}
    sweep = {"variant": variant, "test_variant": test_variant, "seeds": rows, "across": across}
    (out / "sweep.json").write_text(json.dumps(sweep, indent=2) + "\n")
    write_markdown(out, sweep)
    plot_rates(out / "rates.png", sweep)
    return sweep


def _rate(value: dict | None) -> str:
    if not value or value.get("mean") is None:
        return "-"
    return f"{value['mean']:.3f} ({value['low']:.3f}-{value['high']:.3f})"


def write_markdown(out: Path, sweep: dict) -> None:
    names = [name for name, _, _ in MEASURES]
    lines = [f"# Sweep: {sweep['variant']} (test variant {sweep['test_variant']})", "",
             "One row per seed (95 % intervals over levels); across seeds, the mean with a 95 % bootstrap interval "
             "over seeds, the standard deviation and the range.", "",
             "| seed | status | training minutes | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for row in sweep["seeds"]:
        minutes = "-" if row["wall_minutes"] is None else f"{row['wall_minutes']:.1f}"
        status = row["status"] + (f": {row['error']}" if row["error"] else "")
        cells = [_rate(row["rates"][name]) if row["rates"] else "-" for name in names]
        lines.append(f"| {row['seed']} | {status} | {minutes} | " + " | ".join(cells) + " |")
    lines += ["", "| measure | seeds | mean (95 % over seeds) | sd | range |", "|---|---|---|---|---|"]
    for name, a in sweep["across"].items():
        lines.append(f"| {name} | {a['n']} | {a['mean']:.3f} ({a['low']:.3f}-{a['high']:.3f}) | {a['sd']:.3f} | "
                     f"{a['min']:.3f}-{a['max']:.3f} |")
    lines += ["", "![every seed's rates](rates.png)", ""]
    (out / "report.md").write_text("\n".join(lines))


def plot_rates(path: Path, sweep: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name, _, _ in MEASURES]
    figure, axis = plt.subplots(figsize=(2.2 * len(names) + 1, 4.2))
    for row in sweep["seeds"]:
        if not row["rates"]:
            continue
        means = [np.nan if row["rates"][n]["mean"] is None else row["rates"][n]["mean"] for n in names]
        axis.plot(range(len(names)), means, marker="o", alpha=0.7, label=f"seed {row['seed']}")
    for index, name in enumerate(names):
        if name in sweep["across"]:
            a = sweep["across"][name]
            axis.errorbar(index + 0.15, a["mean"], yerr=[[a["mean"] - a["low"]], [a["high"] - a["mean"]]], fmt="ks",
                          capsize=4)
    axis.set_xticks(range(len(names)), [n.replace(", ", ",\n") for n in names], fontsize=7)
    axis.set_ylim(-0.02, 1.02)
    axis.set_ylabel("rate (greedy)")
    axis.set_title(f"{sweep['variant']}: every seed (lines) and the mean over seeds (black, 95 % bootstrap)")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def default_workers() -> int:
    """One run at a time per :data:`THREADS_PER_RUN` cores."""
    return max(1, (os.cpu_count() or THREADS_PER_RUN) // THREADS_PER_RUN)

"""``misgen sweep`` on real dask clusters: a local one of two worker processes, and a scheduler and worker started
apart, as on a few machines sharing a folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from analysis.sweep import MEASURES, THREADS_PER_RUN, bootstrap
from conftest import MISGEN

ROOT = Path(__file__).resolve().parent.parent

TINY = ["--preset", "quick", "--timesteps", "256", "--hp", "n_envs=4", "--hp", "n_steps=32", "--hp",
        "n_minibatches=2", "--record", "none"]


def test_a_local_sweep_trains_evaluates_reports_and_redoes_nothing(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "seed-3").write_text("not a run directory")  # this seed fails; the others go on
    command = [MISGEN, "sweep", "maze-topright", "--seeds", "0-3", "--out", str(out), "--workers", "2",
               "--episodes", "3", *TINY]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    assert "3 seeds trained, 0 kept, 1 failed" in first.stdout
    failed = [line for line in first.stderr.splitlines() if line.startswith("seed 3: failed")]
    assert len(failed) == 1 and "seed-3" in failed[0]
    sweep = json.loads((out / "sweep.json").read_text())
    assert [row["seed"] for row in sweep["seeds"]] == [0, 1, 2, 3]
    assert sweep["seeds"][3]["status"] == "failed" and sweep["seeds"][3]["rates"] is None
    for row in sweep["seeds"][:3]:
        evaluations = {v: json.loads((out / f"seed-{row['seed']}" / f"evaluation_{v}.json").read_text())
                       for v in ("maze-topright", "maze")}
        assert evaluations["maze"]["n_episodes"] == 3 and row["status"] == "trained"
        # not the one thread dask's workers are capped at: a run in a sweep trains as fast as one outside it
        config = json.loads((out / f"seed-{row['seed']}" / "config.json").read_text())
        assert config["machine"]["torch_threads"] == THREADS_PER_RUN
        assert row["rates"]["cheese, test variant"] == evaluations["maze"]["summary"]["goal_reached"]
    for name, _, _ in MEASURES:  # the across-seed numbers recomputed from the per-seed files
        values = np.array([row["rates"][name]["mean"] for row in sweep["seeds"][:3]
                           if row["rates"][name]["mean"] is not None])
        if len(values):
            across = sweep["across"][name]
            assert across["mean"] == values.mean() and (across["low"], across["high"]) == bootstrap(values)
    assert (out / "rates.png").stat().st_size > 0 and "| seed |" in (out / "report.md").read_text()

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "sweep.json"
              and p.name != "report.md" and p.name != "rates.png"}
    again = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "0 seeds trained, 3 kept, 1 failed" in again.stdout, again.stderr
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing redone, nothing rewritten
    rebuilt = subprocess.run([MISGEN, "sweep", "--report", "--out", str(out)], capture_output=True, text=True,
                             timeout=120)
    rebuilt_sweep = json.loads((out / "sweep.json").read_text())
    assert rebuilt.returncode == 0 and rebuilt_sweep["across"] == sweep["across"]
    assert [row["seed"] for row in rebuilt_sweep["seeds"]] == [0, 1, 2]  # from disk alone: the runs there


def test_a_sweep_runs_on_a_scheduler_started_apart(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    scheduler = subprocess.Popen([dask, "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(100):
            if scheduler_file.is_file() and scheduler_file.stat().st_size:
                break
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = tmp_path / "sweep"
        result = subprocess.run([MISGEN, "sweep", "maze-topright", "--seeds", "5", "--out", str(out), "--scheduler",
                                 address, "--episodes", "2", *TINY], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        assert "1 seeds trained" in result.stdout and (out / "seed-5" / "evaluation_maze.json").is_file()
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_the_seed_table_script_lays_out_experiment_folders_as_a_sweep(tmp_path):
    """Two seed folders as scripts/gradient_svd_experiment.py leaves them (the committed seed 0's files, copied):
    the script's table is misgen sweep --report's, with the per-seed rates read from the evaluations."""
    seed_0 = ROOT / "docs" / "results" / "gradient-svd" / "seed-0"
    results = tmp_path / "results"
    for seed in (0, 4):
        (results / f"seed-{seed}").mkdir(parents=True)
        for name in ("run_config.json", "evaluation_maze-topright.json", "evaluation_maze.json"):
            (results / f"seed-{seed}" / name).write_bytes((seed_0 / name).read_bytes())
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "seed_table.py"), str(results), "--out",
                             str(tmp_path / "table")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    sweep = json.loads((tmp_path / "table" / "sweep.json").read_text())
    assert [row["seed"] for row in sweep["seeds"]] == [0, 4]
    outside = json.loads((seed_0 / "evaluation_maze.json").read_text())["by_goal_region"]["outside"]["proxy_only"]
    assert sweep["across"]["proxy without the goal, goal outside the region"]["mean"] == outside["mean"]
    assert result.stdout.strip().splitlines()[-1].startswith("2 seeds: proxy without the goal")

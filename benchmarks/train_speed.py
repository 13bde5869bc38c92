"""Training env steps per second: ``misgen train`` with and without every-step recording, and CleanRL's
``ppo_procgen.py``, side by side on the same machine, same env count and hyperparameters (the Procgen paper's:
64 envs x 256 steps, 8 minibatches, 3 epochs, IMPALA CNN), on maze.

Both programs report a cumulative rate after every iteration (SB3's ``time/fps`` in logs/progress.csv; CleanRL's
``SPS:`` line), from which the time of each iteration's end is steps / rate. The steady-state rate is measured
between the end of iteration 2 and the last, leaving out start-up and the first updates (cuDNN autotuning).
misgen's logs also split each iteration into collection and update time (``time/collect_s``, ``time/update_s``).

CleanRL is run, never committed: ``.cleanrl/ppo_procgen.py`` is a verbatim copy of
github.com/vwxyzjn/cleanrl/blob/master/cleanrl/ppo_procgen.py, and it runs with the gym it was written for (0.23.1,
plus tyro), installed from ``.cleanrl/wheels`` (benchmarks/cleanrl_wheels.sh) into a directory put first on its
PYTHONPATH only (misgen's procgen stack uses gym 0.26, whose wrappers the script's vector env does not fit).
gym 0.23 imports distutils: on Python 3.12 setuptools must be installed.
Last line: misgen (recording on) / CleanRL steps/s.

    python benchmarks/train_speed.py [--rollouts 12 --n-envs 64 --n-steps 256 --json speed.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_ITERATIONS = 2


def steady_rate(points: list[tuple[int, float]]) -> float:
    """Steps/s between iteration WARM_ITERATIONS and the last, from (steps, cumulative steps/s) pairs."""
    times = [(steps, steps / rate) for steps, rate in points if rate > 0]
    (s0, t0), (s1, t1) = times[WARM_ITERATIONS - 1], times[-1]
    return (s1 - s0) / (t1 - t0)


def run_misgen(work: Path, record: str, args: argparse.Namespace) -> dict:
    out = work / f"misgen_{record.replace(',', '_')}"
    steps = args.rollouts * args.n_envs * args.n_steps
    command = [sys.executable, "-m", "cli", "train", "maze", "--out", str(out), "--timesteps", str(steps),
               "--preset", "procgen", "--n-envs", str(args.n_envs), "--hp", f"n_steps={args.n_steps}",
               "--device", args.device, "--record", record, "--no-progress", *sum((["--hp", h] for h in args.hp), [])]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(out / "logs" / "progress.csv") as file:
        rows = list(csv.DictReader(file))
    points = [(int(r["time/total_timesteps"]), float(r["time/fps"])) for r in rows]
    late = rows[WARM_ITERATIONS:]
    collect = sum(float(r["time/collect_s"]) for r in late)
    update = sum(float(r["time/update_s"]) for r in late if r.get("time/update_s"))
    return {"steps_per_s": steady_rate(points), "collect_share": collect / (collect + update)}


def run_cleanrl(work: Path, args: argparse.Namespace) -> dict:
    site = work / "cleanrl_site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(site),
                    *map(str, (ROOT / ".cleanrl" / "wheels").glob("*.whl"))], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    steps = args.rollouts * args.n_envs * args.n_steps
    command = [sys.executable, str(ROOT / ".cleanrl" / "ppo_procgen.py"), "--env-id", "maze", "--num-envs",
               str(args.n_envs), "--num-steps", str(args.n_steps), "--total-timesteps", str(steps),
               "--learning-rate", "5e-4", "--num-minibatches", "8", "--update-epochs", "3", "--gamma", "0.999",
               "--gae-lambda", "0.95", "--ent-coef", "0.01", "--vf-coef", "0.5", "--clip-coef", "0.2",
               "--max-grad-norm", "0.5", *([] if args.device != "cpu" else ["--no-cuda"])]
    output = subprocess.run(command, cwd=work, env=env, check=True, capture_output=True, text=True).stdout
    rates = [int(v) for v in re.findall(r"^SPS: (\d+)$", output, re.M)]
    per_iteration = args.n_envs * args.n_steps
    return {"steps_per_s": steady_rate([(per_iteration * (i + 1), r) for i, r in enumerate(rates)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=12)
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (misgen; CleanRL uses CUDA unless cpu)")
    parser.add_argument("--hp", action="append", default=[], help="extra misgen hyperparameter NAME=VALUE")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for name, measure in [("misgen, recording grads+updates", lambda: run_misgen(work, "grads,updates", args)),
                              ("misgen, no recording", lambda: run_misgen(work, "none", args)),
                              ("CleanRL ppo_procgen.py", lambda: run_cleanrl(work, args))]:
            results[name] = measure()
            print(f"{name:<34} {results[name]['steps_per_s']:8.0f} steps/s", flush=True)
    cleanrl = results["CleanRL ppo_procgen.py"]["steps_per_s"]
    print("\n| configuration | steps/s | / CleanRL | share of time collecting |\n|---|---|---|---|")
    for name, result in results.items():
        share = f"{result['collect_share']:.2f}" if "collect_share" in result else "-"
        print(f"| {name} | {result['steps_per_s']:.0f} | {result['steps_per_s'] / cleanrl:.2f} | {share} |")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results},
                                        indent=2) + "\n")
    print(f"misgen (recording on) / CleanRL steps/s: "
          f"{results['misgen, recording grads+updates']['steps_per_s'] / cleanrl:.2f}")


if __name__ == "__main__":
    main()

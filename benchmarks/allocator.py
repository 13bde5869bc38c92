"""What keeping freed memory in the process (agents/allocator.py) is worth: ``misgen train`` with the ``cpu``
preset and its training distribution, once with glibc's default thresholds (``MISGEN_KEEP_FREED_MEMORY=0``)
and once with misgen's, alternating, each in its own process on the same seed. Per run: steady-state env
steps/s (from logs/progress.csv, as train_speed.py), system CPU seconds and minor page faults of the process, and
whether the trained policy's bytes equal the other setting's (the thresholds must not change the numbers).
Last line: the median rate with misgen's thresholds / the median with glibc's.

    python benchmarks/allocator.py [--rollouts 40 --repeats 1]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cpu_training import CPU, env_options  # benchmarks/ is this script's first path entry
from train_speed import ROOT, steady_rate


def train_once(out: Path, keep: bool, rollouts: int) -> dict:
    command = [sys.executable, "-m", "cli", "train", *env_options("maze-topright"), "--preset", "cpu", "--seed", "0",
               "--record", "none", "--timesteps", str(rollouts * CPU.n_envs * CPU.n_steps), "--out", str(out),
               "--no-progress"]
    env = {**os.environ, "MISGEN_KEEP_FREED_MEMORY": "1" if keep else "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out / "logs" / "progress.csv") as file:
        rate = steady_rate([(int(r["time/total_timesteps"]), float(r["time/fps"])) for r in csv.DictReader(file)])
    with zipfile.ZipFile(out / "model.zip") as model:
        policy = hashlib.sha256(model.read("policy.pth")).hexdigest()
    return {"rate": rate, "system_s": after.ru_stime - before.ru_stime,
            "page_faults": after.ru_minflt - before.ru_minflt, "policy": policy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=40, help="rollouts of the cpu preset per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting, alternating")
    args = parser.parse_args()
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):
            for keep in (False, True):
                run = train_once(Path(work) / f"{keep}_{repeat}", keep, args.rollouts)
                runs[keep].append(run)
                print(f"{'misgen thresholds' if keep else 'glibc defaults':18s} {run['rate']:7.0f} env steps/s, "
                      f"system {run['system_s']:5.1f} s, {run['page_faults']:>10,} page faults", flush=True)
    policies = {run["policy"] for setting in runs.values() for run in setting}
    print(f"trained policies identical across settings and repeats: {len(policies) == 1}")
    ratio = statistics.median(r["rate"] for r in runs[True]) / statistics.median(r["rate"] for r in runs[False])
    print(f"misgen / glibc thresholds, env steps/s: {ratio:.2f}")


if __name__ == "__main__":
    main()

"""Training env steps per second of the ``cpu`` preset, with recording off and with every-step recording, beside
the ``procgen`` preset (IMPALA CNN) and raw procgen stepping, side by side in one run on the same environments
(the cpu preset's training distribution of ``--variant``, maze-topright or coinrun, its env count and procgen
threads, all read from agents/presets.py).

Each training is ``misgen train`` in a subprocess; its steady-state rate is read from logs/progress.csv as in
train_speed.py (from the end of iteration 2 to the last). Raw procgen is ``ProcgenGym3Env`` stepping uniformly
random actions, no policy. Last line: cpu preset (recording off) / procgen preset steps/s.

The procgen preset runs shorter rollouts (``--procgen-n-steps``, 64 steps of each env instead of 256; the
minibatches shrink with them, the work per env step stays): at its speed here one 64 x 256 rollout and its
update take over five minutes.

    python benchmarks/cpu_training.py [--variant coinrun] [--rollouts R --procgen-rollouts 4 --procgen-n-steps 64]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from train_speed import ROOT, WARM_ITERATIONS, steady_rate  # benchmarks/ is this script's first path entry

sys.path.insert(1, str(ROOT))
from agents.presets import PRESETS  # noqa: E402
from envs.variants import VARIANTS  # noqa: E402

CPU = PRESETS["cpu"].ppo  # the env count and procgen threads, which every game's cpu preset shares
N_ENVS, ENV_THREADS = CPU.n_envs, CPU.env_threads
SPLIT = {"maze": "region", "coinrun": "coin-side"}  # the experiment's split of the gradient, by game


def env_options(variant: str) -> list[str]:
    """``misgen train``'s arguments for the cpu preset's training distribution of ``variant``."""
    if VARIANTS[variant].game != "maze":
        return [variant]
    run = PRESETS["cpu"].run
    return [variant, "--region", str(run.region), "--max-maze-size", str(run.max_maze_size), "--min-maze-size",
            str(run.min_maze_size)]


def train_rate(work: Path, name: str, preset: str, record: list[str], rollouts: int, n_steps: int,
               hp: tuple[str, ...] = (), variant: str = "maze-topright") -> float:
    """Steady-state env steps/s of one ``misgen train`` subprocess on ``variant``; ``record``: its recording
    options; ``hp``: extra ``NAME=VALUE`` overrides."""
    out = work / name
    command = [sys.executable, "-m", "cli", "train", *env_options(variant), "--out", str(out), "--preset", preset,
               "--timesteps", str(rollouts * N_ENVS * n_steps), "--n-envs", str(N_ENVS), "--hp",
               f"n_steps={n_steps}", "--hp", f"env_threads={ENV_THREADS}", *record, "--device", "cpu",
               "--no-progress", *sum((["--hp", h] for h in hp), [])]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(out / "logs" / "progress.csv") as file:
        return steady_rate([(int(r["time/total_timesteps"]), float(r["time/fps"])) for r in csv.DictReader(file)])


def raw_procgen_rate(game: str = "maze", seconds: float = 20.0) -> float:
    from procgen import ProcgenGym3Env

    env = ProcgenGym3Env(num=N_ENVS, env_name=game, distribution_mode="easy", num_threads=ENV_THREADS)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.act(rng.integers(0, 15, N_ENVS, dtype=np.int32))
        env.observe()
        steps += N_ENVS
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=max(6, 98_304 // CPU.steps_per_rollout),
                        help="rollouts per cpu-preset run (default: about 100k env steps)")
    parser.add_argument("--procgen-rollouts", type=int, default=4, help="rollouts of the (slow) procgen preset")
    parser.add_argument("--procgen-n-steps", type=int, default=64, help="steps per env per procgen-preset rollout")
    parser.add_argument("--variant", default="maze-topright", choices=["maze-topright", "coinrun"],
                        help="the training variant whose cpu preset is timed")
    args = parser.parse_args()
    game = VARIANTS[args.variant].game
    if min(args.rollouts, args.procgen_rollouts) <= WARM_ITERATIONS:
        parser.error(f"--rollouts and --procgen-rollouts must exceed the {WARM_ITERATIONS} warm-up iterations")
    every_step = ["--record-every", "1"]
    runs = [("cpu preset, no recording", "cpu", ["--record", "none"], args.rollouts, CPU.n_steps),
            ("cpu preset, every-step updates", "cpu", ["--record", "updates", *every_step], args.rollouts, CPU.n_steps),
            ("cpu preset, every-step grads+updates", "cpu", ["--record", "grads,updates", *every_step], args.rollouts,
             CPU.n_steps),
            # what the gradient-SVD experiment records (docs/results.md)
            (f"cpu preset, grads+updates every 10th step, split by {SPLIT[game]}", "cpu",
             ["--record", "grads,updates", "--record-every", "10", "--record-split", SPLIT[game]], args.rollouts,
             CPU.n_steps),
            ("procgen preset (IMPALA), no recording", "procgen", ["--record", "none"], args.procgen_rollouts,
             args.procgen_n_steps)]
    rates = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, preset, record, rollouts, n_steps) in enumerate(runs):
            rates[name] = train_rate(Path(scratch), f"run{index}", preset, record, rollouts, n_steps,
                                     variant=args.variant)
            print(f"{name:<58} {rates[name]:8.0f} steps/s", flush=True)
    rates["raw procgen, random actions"] = raw_procgen_rate(game)
    print(f"{'raw procgen, random actions':<58} {rates['raw procgen, random actions']:8.0f} steps/s")
    procgen = rates["procgen preset (IMPALA), no recording"]
    print("\n| configuration | steps/s | / procgen preset |\n|---|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} | {rate / procgen:.1f} |")
    print(f"cpu preset / procgen preset training steps/s on {args.variant} ({N_ENVS} envs, {ENV_THREADS} procgen "
          f"threads, recording off): {rates['cpu preset, no recording'] / procgen:.1f}")


if __name__ == "__main__":
    main()

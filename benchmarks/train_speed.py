"""Training env steps/s of ``misgen train`` (with and without every-step recording) ÷ CleanRL's ``ppo_procgen.py``,
side by side in one run: maze, the same env count and hyperparameters (misgen's procgen preset, the Procgen
paper's: 64 envs x 256 steps, 8 minibatches, 3 epochs, IMPALA CNN), each program in its own process.

Steady state: each rate covers the steps of iterations 3 to the last, leaving out start-up, the first two rollouts
and the first update. CleanRL prints its cumulative rate after each update (``SPS:``, whole steps/s), so its update
i ends at steps_i / SPS_i; the rate runs from the end of update 2 to the end of the last. misgen's logs/progress.csv
has, per iteration, the time of its collection and of the update before it (``time/collect_s``, ``time/update_s``,
from our callbacks): the rate runs from the end of collection 2 to the end of the last, and the mean of each time is
shown. On a GPU both run cuDNN deterministic (SB3 sets it when it seeds on CUDA, CleanRL by default), and both write
TensorBoard logs (CleanRL has no flag against it); wandb and videos are off.

CleanRL is run, never committed: ``.cleanrl/ppo_procgen.py`` is a verbatim copy of cleanrl/ppo_procgen.py of
github.com/vwxyzjn/cleanrl at fe8d8a0 (sha256 3ab0116c2c52...). It needs the gym it was written for, 0.23.1
(misgen's procgen stack has gym 0.26.2, whose wrappers do not fit the script's baselines-style vector env), and
tyro: .cleanrl/wheels from benchmarks/cleanrl_wheels.sh (gym 0.23.1, tyro 1.0.17, docstring-parser 0.18.0,
typeguard 4.6.0, typing-extensions 4.16.0; 1 MB), installed into a scratch directory put first on CleanRL's
PYTHONPATH alone. gym 0.23.1 imports distutils: on Python 3.12 setuptools must be installed.
Last line: misgen (recording on) / CleanRL steps/s.

    python benchmarks/train_speed.py [--rollouts 16 --n-envs 64 --n-steps 256 --device auto --json speed.json]
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
from dataclasses import replace
from pathlib import Path

from agents.presets import PRESETS, PPOConfig

ROOT = Path(__file__).resolve().parent.parent
CLEANRL = ROOT / ".cleanrl"
WARM_ITERATIONS = 2
CLEANRL_FIXED = {"architecture": "impala", "width_scale": 1, "adam_eps": 1e-5, "normalize_reward": True,
                 "reward_clip": 10.0, "env_threads": 4}  # hard-coded in ppo_procgen.py (threads: procgen's default)


def steady_rate(points: list[tuple[int, float]]) -> float:
    """Steps/s from the end of iteration WARM_ITERATIONS to the last, from each's (steps, cumulative steps/s)."""
    (s0, t0), (s1, t1) = [(steps, steps / rate) for steps, rate in (points[WARM_ITERATIONS - 1], points[-1])]
    return (s1 - s0) / (t1 - t0)


def cleanrl_flags(config: PPOConfig) -> list[str]:
    """ppo_procgen.py's flags for ``config``; exits if ``config`` sets what the script fixes otherwise."""
    differ = [name for name, value in CLEANRL_FIXED.items() if getattr(config, name) != value]
    if config.clip_range_vf not in (0, config.clip_range):  # CleanRL clips the value with --clip-coef or not at all
        differ.append("clip_range_vf")
    if differ:
        sys.exit(f"ppo_procgen.py cannot match {', '.join(differ)} of this config")
    values = {"--num-envs": config.n_envs, "--num-steps": config.n_steps, "--learning-rate": config.learning_rate,
              "--num-minibatches": config.n_minibatches, "--update-epochs": config.n_epochs, "--gamma": config.gamma,
              "--gae-lambda": config.gae_lambda, "--ent-coef": config.ent_coef, "--vf-coef": config.vf_coef,
              "--clip-coef": config.clip_range, "--max-grad-norm": config.max_grad_norm}
    return [*(str(item) for pair in values.items() for item in pair),
            "--norm-adv" if config.normalize_advantage else "--no-norm-adv",
            "--clip-vloss" if config.clip_range_vf else "--no-clip-vloss", "--no-track", "--no-capture-video"]


def run_misgen(work: Path, record: str, config: PPOConfig, rollouts: int, device: str) -> dict:
    out = work / f"misgen_{record.replace(',', '_')}"
    command = [sys.executable, "-m", "cli", "train", "maze", "--out", str(out), "--preset", "procgen",
               "--n-envs", str(config.n_envs), "--hp", f"n_steps={config.n_steps}", "--record", record,
               "--timesteps", str(rollouts * config.steps_per_rollout), "--device", device, "--no-progress"]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(out / "logs" / "progress.csv") as file:
        rows = list(csv.DictReader(file))
    measured = rows[WARM_ITERATIONS:]  # each row's update_s is the previous iteration's update
    collect = sum(float(row["time/collect_s"]) for row in measured)
    update = sum(float(row["time/update_s"]) for row in measured)
    return {"steps_per_s": len(measured) * config.steps_per_rollout / (collect + update),
            "collect_s": collect / len(measured), "update_s": update / len(measured)}


def run_cleanrl(work: Path, config: PPOConfig, rollouts: int, device: str) -> dict:
    wheels = sorted(map(str, (CLEANRL / "wheels").glob("*.whl")))
    if not (CLEANRL / "ppo_procgen.py").exists() or not wheels:
        sys.exit("needs .cleanrl/ppo_procgen.py and .cleanrl/wheels (benchmarks/cleanrl_wheels.sh); see the docstring")
    site = work / "cleanrl_site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(site),
                    *wheels], check=True)
    path = [str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    steps = rollouts * config.steps_per_rollout
    command = [sys.executable, str(CLEANRL / "ppo_procgen.py"), "--env-id", "maze", *cleanrl_flags(config),
               "--total-timesteps", str(steps), "--no-cuda" if device == "cpu" else "--cuda"]
    output = subprocess.run(command, cwd=work, env={**os.environ, "PYTHONPATH": os.pathsep.join(path)}, check=True,
                            stdout=subprocess.PIPE, text=True).stdout
    rates = [float(rate) for rate in re.findall(r"^SPS: (\d+)$", output, re.M)]
    return {"steps_per_s": steady_rate([(config.steps_per_rollout * (i + 1), r) for i, r in enumerate(rates)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=16, help="iterations per program (>= 3)")
    parser.add_argument("--n-envs", type=int, default=PRESETS["procgen"].n_envs)
    parser.add_argument("--n-steps", type=int, default=PRESETS["procgen"].n_steps)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (CleanRL: CUDA if any, unless cpu)")
    parser.add_argument("--json", type=Path, help="also write the results here (after each program)")
    args = parser.parse_args()
    if args.rollouts <= WARM_ITERATIONS:
        parser.error(f"--rollouts must be > {WARM_ITERATIONS}")
    config = replace(PRESETS["procgen"], n_envs=args.n_envs, n_steps=args.n_steps)
    programs = {"CleanRL ppo_procgen.py": lambda work: run_cleanrl(work, config, args.rollouts, args.device),
                "misgen, recording grads+updates": lambda work: run_misgen(work, "grads,updates", config,
                                                                           args.rollouts, args.device),
                "misgen, no recording": lambda work: run_misgen(work, "none", config, args.rollouts, args.device)}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, measure in programs.items():
            results[name] = measure(Path(scratch))
            print(f"{name:<32} {results[name]['steps_per_s']:8.0f} steps/s", flush=True)
            if args.json:
                args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                                 "steps_per_rollout": config.steps_per_rollout,
                                                 "results": results}, indent=2) + "\n")
    cleanrl = results["CleanRL ppo_procgen.py"]["steps_per_s"]
    print(f"\nmaze, {config.n_envs} envs x {config.n_steps} steps, {args.rollouts} iterations, rate over the last "
          f"{args.rollouts - WARM_ITERATIONS}\n")
    print("| configuration | steps/s | / CleanRL | collect / update s per iteration |\n|---|---|---|---|")
    for name, result in results.items():
        split = f"{result['collect_s']:.2f} / {result['update_s']:.2f}" if "collect_s" in result else "-"
        print(f"| {name} | {result['steps_per_s']:.0f} | {result['steps_per_s'] / cleanrl:.2f} | {split} |")
    print(f"misgen (recording on) / CleanRL steps/s: "
          f"{results['misgen, recording grads+updates']['steps_per_s'] / cleanrl:.2f}")


if __name__ == "__main__":
    main()

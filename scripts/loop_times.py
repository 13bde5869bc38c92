"""Where training runs spent their wall time up to an env step: collection against updates, from each run's
logs/progress.csv (``time/collect_s`` and ``time/update_s`` per rollout, logged by agents/callbacks.py).

Made to measure a recording's cost inside real training: run the same command twice, once with ``--record none``
and once with ``--record updates`` (same seed: on a CPU the two train identically, which the script checks by
comparing their logged losses), and compare. Recording hooks the optimizer step, so its cost shows in the update
time; collection differs only by the machine's drift between the runs, which the table shows beside it.

    python scripts/loop_times.py runs/BASE runs/OTHER ... --until 3000000 [--optimizer-steps 46880]

Last line: each other run's update time per optimizer step over the first's, and the extra milliseconds;
with ``--optimizer-steps``, that extra time projected over so many steps, in minutes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.learning_curve import COLLECT_SECONDS, STEPS, UPDATE_SECONDS, read_progress  # noqa: E402
from agents.presets import PPOConfig  # noqa: E402
from misgen.errors import MisgenError  # noqa: E402
from misgen.rundir import RunDir  # noqa: E402
from misgen.schema import dataclass_from_json  # noqa: E402

LOSS = "train/loss"


def steps_per_update(run: Path) -> int:
    """Optimizer steps in one update: one per minibatch of each epoch (the run's config.json)."""
    run_dir = RunDir(run)
    ppo = dataclass_from_json(PPOConfig, run_dir.read_config()["ppo"], f"{run_dir.config_file}: ppo")
    return ppo.n_epochs * ppo.n_minibatches


def main() -> None:
    try:
        compare()
    except (MisgenError, OSError) as error:
        print(f"loop_times.py: {error}", file=sys.stderr)
        sys.exit(2)


def compare() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="the first is the baseline")
    parser.add_argument("--until", type=float, required=True, help="env steps: rollouts logged up to here")
    parser.add_argument("--optimizer-steps", type=int, help="project the extra update time over this many steps")
    args = parser.parse_args()
    if len(args.runs) < 2:
        parser.error("give a baseline run and at least one other")

    tables, optimizer_steps = {}, {}
    for run in args.runs:
        per_update = steps_per_update(run)
        table = read_progress(RunDir(run), (COLLECT_SECONDS, UPDATE_SECONDS, LOSS))
        chosen = table[STEPS] <= args.until
        if not np.isfinite(table[UPDATE_SECONDS][chosen]).any():
            raise MisgenError(f"{run}: no update logged up to {args.until:,.0f} env steps (logs/progress.csv)")
        tables[run] = {name: values[chosen] for name, values in table.items()}
        optimizer_steps[run] = int(np.isfinite(tables[run][UPDATE_SECONDS]).sum()) * per_update
    base = tables[args.runs[0]]

    print("| run | env steps | optimizer steps | collection s | update s | total s | losses as the baseline's |")
    print("|---|---|---|---|---|---|---|")
    for run, table in tables.items():
        same = np.isfinite(base[LOSS]).any() and np.array_equal(table[LOSS], base[LOSS], equal_nan=True)
        collect, update = np.nansum(table[COLLECT_SECONDS]), np.nansum(table[UPDATE_SECONDS])
        print(f"| {run.name} | {table[STEPS].max():,.0f} | {optimizer_steps[run]:,} | {collect:,.1f} | "
              f"{update:,.1f} | {collect + update:,.1f} | {'identical' if same else 'differ'} |")

    def ms_per_step(run: Path) -> float:
        return np.nansum(tables[run][UPDATE_SECONDS]) / optimizer_steps[run] * 1e3

    base_ms = ms_per_step(args.runs[0])
    results = []
    for run in args.runs[1:]:
        extra_ms = ms_per_step(run) - base_ms  # per step, so runs of different lengths compare too
        text = f"{run.name}: update time per optimizer step x{ms_per_step(run) / base_ms:.3f}, {extra_ms:+.2f} ms"
        if args.optimizer_steps:
            text += f", {extra_ms * args.optimizer_steps / 60e3:+.1f} min over {args.optimizer_steps:,} steps"
        results.append(text)
    print("; ".join(results))


if __name__ == "__main__":
    main()

"""Where the ``cpu`` preset's PPO update spends its time: one rollout of the preset's training distribution is
collected, then SB3's ``PPO.train`` (n_epochs x n_minibatches optimizer steps) is timed on it several times and
profiled once by torch's profiler, operator by operator (self CPU time, top rows).

The update is most of a cpu-preset run's wall time (docs/notebook/2026-12-02-cpu-preset.md, tenth attempt); this
says which operators a faster update would have to make cheaper. Run it with nothing else on the cores.
Last line: milliseconds per optimizer step (one minibatch's forward, backward and Adam step).

    python benchmarks/update_profile.py [--repeats 5 --rows 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agents.allocator import keep_freed_memory  # noqa: E402
from agents.ppo import make_ppo  # noqa: E402
from agents.presets import PRESETS  # noqa: E402
from agents.train import new_normalization, runnable_config, training_envs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed updates on the same rollout")
    parser.add_argument("--rows", type=int, default=15, help="operators to list")
    args = parser.parse_args()

    keep_freed_memory()  # as training does
    config = runnable_config(PRESETS["cpu"].ppo, "cpu")
    env_config = PRESETS["cpu"].env_config("maze-topright")
    env = new_normalization(training_envs(env_config, config), config)
    model = make_ppo(env, config, "cpu", seed=0)
    model.learn(config.steps_per_rollout)  # one rollout and its update: the buffer stays full for the timing
    optimizer_steps = config.n_epochs * config.n_minibatches

    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.train()
        seconds.append(time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        model.train()
    env.close()

    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    best = min(seconds)
    print(f"update of {optimizer_steps} optimizer steps ({config.batch_size} transitions each): "
          f"{', '.join(f'{s:.2f}' for s in seconds)} s; torch threads {torch.get_num_threads()}")
    print(f"ms per optimizer step: {1000 * best / optimizer_steps:.1f}")


if __name__ == "__main__":
    main()

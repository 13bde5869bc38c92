"""Wall time of training with every-step float16 gradient recording ÷ wall time without, with split recording
(``--record-split region``: one more forward pass and one backward pass per part) ÷ plain recording, and with the
gradient-SVD experiment's recording (grads and updates on every 10th optimizer step, split by region) ÷ without,
same config: the preset's PPO settings and its maze-topright training distribution.

The runs train the same config from the same seed in this process, after one short warm-up run (order
rotated over repeats; the median of each is used). Last line: the three ratios.

    python benchmarks/recording_overhead.py [--preset quick --timesteps 40960 --repeats 3 --device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from agents.presets import PRESETS
from agents.train import RecordConfig, train


def timed_run(out: Path, preset: str, timesteps: int, record: RecordConfig, device: str) -> float:
    start = time.perf_counter()
    train(out, PRESETS[preset].env_config("maze-topright"), PRESETS[preset].ppo, record, timesteps, device=device,
          seed=0, show_progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--timesteps", type=int, default=40960)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    configs = {"without": RecordConfig(streams=()), "with": RecordConfig(streams=("grads",), dtype="float16"),
               "split": RecordConfig(streams=("grads",), dtype="float16", split="region"),
               "experiment": RecordConfig(streams=("grads", "updates"), dtype="float16", every=10, split="region")}
    times: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as scratch:
        timed_run(Path(scratch) / "warmup", args.preset, args.timesteps // 4, configs["with"], args.device)
        for repeat in range(args.repeats):
            order = list(configs)[repeat % len(configs):] + list(configs)[:repeat % len(configs)]
            for name in order:
                elapsed = timed_run(Path(scratch) / f"{name}{repeat}", args.preset, args.timesteps, configs[name],
                                    args.device)
                times[name].append(elapsed)
                print(f"repeat {repeat}: {name:>10} recording {elapsed:6.1f} s", flush=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.preset}, {args.timesteps} steps, {args.device}: wall time with / without every-step float16 "
          f"gradient recording {median['with'] / median['without']:.3f}; split (region) / plain recording "
          f"{median['split'] / median['with']:.3f}; the experiment's recording / without "
          f"{median['experiment'] / median['without']:.3f}")


if __name__ == "__main__":
    main()

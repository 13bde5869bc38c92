"""One PPO-sized training step of the compact CNN (forward, backward, Adam) in bfloat16 autocast against float32,
on this machine's CPU. Where the CPU has no native bfloat16 (AVX-512 BF16 or AMX), torch emulates it, and the
cpu preset's bf16 choice would cost more than it saves; misgen then trains in float32 (agents/policy.py).

    python benchmarks/bf16_autocast.py [--batch 2048 --repeats 3]

Last line: float32 / bf16 time per step (above 1: bf16 is faster here).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.policy import CompactCNN, native_bf16  # noqa: E402


def step_seconds(bf16: bool, batch: int, repeats: int) -> float:
    """Median seconds of one step on ``batch`` random 64x64 frames, after one untimed step."""
    torch.manual_seed(0)
    # the autocast the extractor applies with bf16=True, applied here so that it runs even without native bf16
    extractor = CompactCNN(gym.spaces.Box(0, 255, (3, 64, 64), "uint8"))
    head = torch.nn.Linear(256, 5)
    optimizer = torch.optim.Adam([*extractor.parameters(), *head.parameters()], lr=1e-4)
    frames = torch.rand(batch, 3, 64, 64)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            features = extractor(frames).float()
        loss = head(features).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048, help="minibatch size (the cpu preset's is 2048)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    float32 = step_seconds(False, args.batch, args.repeats)
    bf16 = step_seconds(True, args.batch, args.repeats)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, native bf16: {native_bf16()}")
    print(f"float32 {float32 * 1000:.0f} ms per step of {args.batch}, bf16 autocast {bf16 * 1000:.0f} ms")
    print(f"float32 / bf16 time per step: {float32 / bf16:.2f}")


if __name__ == "__main__":
    main()

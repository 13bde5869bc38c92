"""The IMPALA policy's forward pass on this machine's CPU, as ``misgen evaluate`` runs it, against the ways to run
it faster without changing its numbers: channels-last memory, a frozen TorchScript trace, ``torch.compile``.

Inputs are 32 real maze observations (random-noise images take about twice as long in the default layout:
max-pooling and the convolutions run data-dependent code). Last line: the fastest alternative's time / eager time.

    python benchmarks/impala_forward.py [--batch 32 --threads 2 --repeats 30]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

from agents.policy import policy_kwargs  # first: imports procgen and gym quietly
from envs.variants import EnvConfig
from envs.vec_env import ACTION_SPACE, OBSERVATION_SPACE, ProcgenVecEnv
import torch  # noqa: E402  (isort: after the quiet import)
from stable_baselines3.common.policies import ActorCriticPolicy  # noqa: E402


class ActionLogits(torch.nn.Module):
    """Observations (N, 3, 64, 64) uint8 -> action logits (N, 15), the policy's path when acting."""

    def __init__(self, policy: ActorCriticPolicy):
        super().__init__()
        self.features, self.head = policy.features_extractor, policy.action_net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(obs.float() / 255))


def milliseconds(run: Callable[[], torch.Tensor], repeats: int) -> float:
    with torch.inference_mode():
        for _ in range(5):
            run()
        start = time.perf_counter()
        for _ in range(repeats):
            run()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env = ProcgenVecEnv(EnvConfig(variant="maze"), args.batch, 1)
    obs = torch.as_tensor(env.reset())
    env.close()
    policy = ActorCriticPolicy(OBSERVATION_SPACE, ACTION_SPACE, lambda _: 5e-4, **policy_kwargs("impala")).eval()
    times = {"eager (misgen evaluate)": milliseconds(lambda: policy.get_distribution(obs).distribution.probs,
                                                     args.repeats)}
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(ActionLogits(policy).eval(), obs)))
    times["frozen TorchScript"] = milliseconds(lambda: frozen(obs), args.repeats)
    start = time.perf_counter()
    compiled = torch.compile(ActionLogits(policy).eval())
    with torch.inference_mode():
        compiled(obs)
    compile_seconds = time.perf_counter() - start
    times["torch.compile"] = milliseconds(lambda: compiled(obs), args.repeats)
    channels_last = ActionLogits(policy).to(memory_format=torch.channels_last)
    obs_channels_last = obs.contiguous(memory_format=torch.channels_last)
    times["channels-last"] = milliseconds(lambda: channels_last(obs_channels_last), args.repeats)
    for name, ms in times.items():
        extra = f" (after {compile_seconds:.0f} s of compiling)" if name == "torch.compile" else ""
        print(f"{name:>24}: {ms:5.1f} ms per {args.batch} observations{extra}")
    eager = times.pop("eager (misgen evaluate)")
    best = min(times, key=times.get)
    print(f"fastest alternative ({best}) / eager time: {times[best] / eager:.2f}")


if __name__ == "__main__":
    main()

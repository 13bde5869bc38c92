"""Has a planning-network agent found the mouse and the cheese? Where its attention and its reward map point.

``PlanningCNN`` (agents/policy.py) reads its features at the cell its attention picks, and plans from its reward
map. For checkpoints of a run trained with ``--hp architecture=planning``, on frames of the run's training
distribution (32 envs, 20 steps of uniformly random moves), this counts how often the attention's most weighted
cell is the mouse's and the reward map's highest cell is the cheese's (chance: 1 in 225), and the attention's
entropy (uniform over the 15x15 world: 5.42 nats).

    python scripts/planning_readout.py runs/NAME/checkpoints/step_0.zip runs/NAME/checkpoints/step_T.zip

Last line: the last checkpoint's fraction of frames whose attention peaks on the mouse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.policy import PlanningCNN  # noqa: E402
from analysis.evaluation import load_model  # noqa: E402
from envs.actions import ACTION_SETS  # noqa: E402
from envs.variants import EnvConfig  # noqa: E402
from envs.vec_env import ProcgenVecEnv  # noqa: E402


def cell_maps(extractor: PlanningCNN, observations: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention (N, cells^2, softmax) and reward map (N, cells^2), cells in image order (row 0 at the top)."""
    frames = torch.as_tensor(observations).float() / 255
    x = torch.nn.functional.interpolate(frames, size=4 * extractor.cells, mode="bilinear", antialias=True)
    cells = torch.relu(extractor.embed(extractor.input_norm(x)))
    cells = torch.relu(extractor.conv2(torch.relu(extractor.conv1(cells))))
    return torch.softmax(extractor.attention(cells).flatten(1), 1), extractor.reward(cells).flatten(1)


def readout(checkpoint: Path, n_envs: int = 32, steps: int = 20, seed: int = 5) -> tuple[float, float, float]:
    """(attention on the mouse, reward peak on the cheese, attention entropy in nats), over n_envs x steps frames."""
    model = load_model(checkpoint, device="cpu")
    extractor = model.policy.features_extractor
    if not isinstance(extractor, PlanningCNN):
        raise SystemExit(f"{checkpoint}: not a planning network ({type(extractor).__name__})")
    env = ProcgenVecEnv(EnvConfig(**{**model.misgen_env_config, "seed": seed}), n_envs, num_threads=1)
    side, rng, moves = extractor.cells, np.random.default_rng(seed), ACTION_SETS["moves"]
    on_mouse, on_cheese, entropy = [], [], []
    observations = env.reset()
    for _ in range(steps):
        with torch.no_grad():
            attention, reward = cell_maps(extractor, observations)
        for index, ((x, y), goal) in enumerate(zip(env.agent_cells(), env.goal_cells)):
            on_mouse.append(int(attention[index].argmax()) == (side - 1 - y) * side + x)  # world y grows upward
            on_cheese.append(int(reward[index].argmax()) == (side - 1 - goal[1]) * side + goal[0])
            entropy.append(float(-(attention[index] * attention[index].clamp_min(1e-12).log()).sum()))
        observations, *_ = env.step(moves[rng.integers(0, len(moves), n_envs)])
    env.close()
    return float(np.mean(on_mouse)), float(np.mean(on_cheese)), float(np.mean(entropy))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for checkpoint in args.checkpoints:
        mouse, cheese, entropy = readout(checkpoint)
        print(f"{checkpoint}: attention peaks on the mouse {mouse:.3f}, reward map on the cheese {cheese:.3f}, "
              f"attention entropy {entropy:.2f} nats")
    print(f"attention on the mouse at the last checkpoint: {mouse:.3f} (chance {1 / 225:.3f})")


if __name__ == "__main__":
    main()

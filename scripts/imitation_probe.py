"""How fast can the cpu preset's network learn to see a maze? Imitate shortest-path moves, with and without
standardizing its input.

PPO's signal is noisy; imitation has exact labels, so it isolates perception: the network has to find the
mouse, the walls around it and the cheese to tell which move is on the shortest path. Transitions come from
``maze-topright`` levels as the cpu preset trains on them (mazes up to 9x9, cheese in the top-right 3x3),
played by a behaviour that takes the shortest-path move half the time and a uniformly random move otherwise
(so the data also covers cells off the path). Each frame's label is its shortest-path move (left, down, up,
right; ties broken in that order). The same CompactCNN, from the same initial weights and on the same data,
trains twice: as the preset runs it (``input_norm`` standardizes each frame) and with ``input_norm`` removed.

    python scripts/imitation_probe.py            # about 6 minutes on 2 cores

The last line gives the epochs each needed to reach 80 % held-out accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.policy import ARCHITECTURES  # noqa: E402
from envs.actions import ACTION_SETS  # noqa: E402
from envs.layout import MazeLayout  # noqa: E402
from envs.probes import action_axes  # noqa: E402
from envs.state_codec import parse_state  # noqa: E402
from envs.variants import EnvConfig  # noqa: E402
from envs.vec_env import OBSERVATION_SPACE, ProcgenVecEnv  # noqa: E402

MOVES = ACTION_SETS["moves"]  # procgen's LEFT, DOWN, UP, RIGHT: the labels' classes 0..3
TARGET_ACCURACY = 0.8


def shortest_path_move(layout: MazeLayout, world_cell: tuple[int, int]) -> int:
    """Class (index into MOVES) of a move that shortens the path to the cheese from ``world_cell``."""
    x, y = world_cell[0] - layout.margin, world_cell[1] - layout.margin
    distance = layout.distances_to_goal
    dx, dy = action_axes(MOVES)
    for label, (mx, my) in enumerate(zip(dx, dy)):
        nx, ny = x + mx, y + my
        if 0 <= nx < layout.maze_dim and 0 <= ny < layout.maze_dim and distance[ny, nx] == distance[y, x] - 1:
            return label
    raise AssertionError(f"no shortest-path move from maze cell {(x, y)} of level {layout.level_seed}")


def collect(n_envs: int, n_steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (n_envs * n_steps, 3, 64, 64) uint8 and their shortest-path classes."""
    config = EnvConfig(variant="maze-topright", region=3, max_maze_size=9, seed=seed)
    env = ProcgenVecEnv(config, n_envs, num_threads=2, keep_initial_states=True)
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    obs = env.reset()
    layouts = [MazeLayout.from_state(parse_state(state, "maze")) for state in env.initial_states]
    for _ in range(n_steps):
        label = np.array([shortest_path_move(layout, tuple(cell))
                          for layout, cell in zip(layouts, env.agent_cells())])
        frames.append(obs.copy())
        labels.append(label)
        behaviour = np.where(rng.random(n_envs) < 0.5, rng.integers(0, len(MOVES), n_envs), label)
        obs, _, done, _ = env.step(MOVES[behaviour])
        for index in np.flatnonzero(done):
            layouts[index] = MazeLayout.from_state(parse_state(env.initial_states[index], "maze"))
    env.close()
    return np.concatenate(frames), np.concatenate(labels)


def train(model: nn.Module, frames: torch.Tensor, labels: torch.Tensor, n_test: int, epochs: int,
          seed: int) -> list[float]:
    """Held-out accuracy after each epoch of Adam (lr 5e-4, the preset's) on minibatches of 256."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    test_x, test_y, train_x, train_y = frames[:n_test], labels[:n_test], frames[n_test:], labels[n_test:]
    accuracies = []
    for epoch in range(epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), 256):
            batch = order[start:start + 256]
            loss = nn.functional.cross_entropy(model(train_x[batch].float() / 255), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            correct = sum(int((model(test_x[i:i + 1000].float() / 255).argmax(1) == test_y[i:i + 1000]).sum())
                          for i in range(0, n_test, 1000))
        accuracies.append(correct / n_test)
        print(f"  epoch {epoch + 1}: held-out accuracy {accuracies[-1]:.3f}", flush=True)
    return accuracies


def epochs_to_target(accuracies: list[float]) -> str:
    reached = [epoch + 1 for epoch, accuracy in enumerate(accuracies) if accuracy >= TARGET_ACCURACY]
    return str(reached[0]) if reached else f"> {len(accuracies)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500, help="steps per env")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--architecture", default="compact", choices=["compact", "planning"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    frames, labels = collect(args.envs, args.steps, args.seed)
    n_test = len(frames) // 12
    prior = np.bincount(labels, minlength=len(MOVES)) / len(labels)
    print(f"{len(frames)} frames, {n_test} held out; label prior (left, down, up, right) {np.round(prior, 3)}")
    frames_t, labels_t = torch.from_numpy(frames), torch.from_numpy(labels)
    results = {}
    for name in ("standardized", "unstandardized"):
        torch.manual_seed(args.seed)  # the same initial weights for both
        extractor = ARCHITECTURES[args.architecture](OBSERVATION_SPACE)
        if name == "unstandardized":
            extractor.input_norm = nn.Identity()
        print(name)
        head = nn.Linear(extractor.features_dim, len(MOVES))
        results[name] = train(nn.Sequential(extractor, head), frames_t, labels_t, n_test,
                              args.epochs, args.seed)
    print(f"epochs to {TARGET_ACCURACY:.0%} held-out accuracy: standardized {epochs_to_target(results['standardized'])}, "
          f"unstandardized {epochs_to_target(results['unstandardized'])} (of {args.epochs})")


if __name__ == "__main__":
    main()

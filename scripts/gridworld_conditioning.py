"""Does PPO learn one fixed maze from its exact state, and does the encoding of that state matter?

The cpu preset's agents do not get better than a random walk
(docs/notebook/2026-12-02-cpu-preset.md). To tell a fault of the pixels
or the network from one of the learner, this script gives SB3's PPO (the cpu preset's hyperparameters, gamma
0.99, an MLP of 256-256) the exact state of one procgen level: maze walls, mouse and cheese as three one-hot
planes, in a pure-Python copy of the level (moves as in envs/actions.py's ``moves`` set, reward 10 on the
cheese, 500-step limit, as in procgen). The same level and learner run once per encoding of the planes:

- ``compact``: the maze's own cells (3 x 7 x 7 inputs for a 7x7 maze);
- ``padded``: the 17x17 padded world of ``envs/probes.MazeProbe`` (3 x 17 x 17), the wall plane 1 around the
  maze: the same information, plus 240 inputs that are always 1;
- ``open``: the same padded world, but the first plane marks open cells, so it is 0 around the maze.

    python scripts/gridworld_conditioning.py                                 # about 1.5 minutes on 2 cores
    python scripts/gridworld_conditioning.py --levels 1000 --timesteps 1000000  # the preset's distribution

The last line gives the goal rate of each run's last 300 episodes, and of a uniformly random walk.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.actions import ACTION_SETS  # noqa: E402
from envs.layout import MazeLayout  # noqa: E402
from envs.levels import LevelLoader  # noqa: E402
from envs.probes import action_axes  # noqa: E402
from envs.variants import EnvConfig  # noqa: E402

MOVES = list(zip(*(axis.tolist() for axis in action_axes(ACTION_SETS["moves"]))))  # (dx, dy) of each move
TIME_LIMIT = 500  # procgen maze's
PADDED_SIDE = 17  # easy mode's 15x15 world with one wall cell around it


ENCODINGS = ("compact", "padded", "open")


class MazeGrid(gym.Env):
    """Maze levels as a grid world whose observation is the exact state; each episode plays a random one of
    ``layouts`` (all of them of one size with the ``compact`` encoding)."""

    def __init__(self, layouts: list[MazeLayout], encoding: str, seed: int):
        self.layouts, self.encoding = layouts, encoding
        self.rng = np.random.default_rng(seed)
        side = layouts[0].maze_dim if encoding == "compact" else PADDED_SIDE
        self.observation_space = gym.spaces.Box(0, 1, (3 * side * side,), np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))
        self._side = side

    def _start(self, layout: MazeLayout) -> None:
        """Planes of the level without the mouse: walls (1 outside the maze too) or open cells (0 outside)."""
        self.layout = layout
        self.offset = 0 if self.encoding == "compact" else layout.margin + 1
        self._planes = np.zeros((3, self._side, self._side), np.float32)
        d, o = layout.maze_dim, self.offset
        if self.encoding == "open":
            self._planes[0, o:o + d, o:o + d] = layout.open_cells
        else:
            self._planes[0] = 1
            self._planes[0, o:o + d, o:o + d] = ~layout.open_cells
        self._planes[2, layout.cheese[1] + o, layout.cheese[0] + o] = 1

    def _observation(self) -> np.ndarray:
        planes = self._planes.copy()
        planes[1, self.cell[1] + self.offset, self.cell[0] + self.offset] = 1
        return planes.ravel()

    def reset(self, seed=None, options=None):
        self._start(self.layouts[self.rng.integers(len(self.layouts))])
        self.cell, self.t = self.layout.agent, 0
        return self._observation(), {}

    def step(self, action: int):
        x, y = self.cell[0] + MOVES[action][0], self.cell[1] + MOVES[action][1]
        if 0 <= x < self.layout.maze_dim and 0 <= y < self.layout.maze_dim and self.layout.open_cells[y, x]:
            self.cell = (x, y)
        self.t += 1
        goal = self.cell == self.layout.cheese
        ended = goal or self.t >= TIME_LIMIT
        return self._observation(), 10.0 * goal, ended, False, {"goal": goal} if ended else {}


class GoalRate(BaseCallback):
    def __init__(self):
        super().__init__()
        self.goals: list[bool] = []

    def _on_step(self) -> bool:
        self.goals += [info["goal"] for info in self.locals["infos"] if "goal" in info]
        return True

    def _on_rollout_end(self) -> None:
        print(f"  {self.num_timesteps:>7} steps: goal rate of the last 300 episodes {np.mean(self.goals[-300:]):.2f}",
              flush=True)


def random_walk_rate(layouts: list[MazeLayout], episodes: int, seed: int) -> float:
    env, rng, goals = MazeGrid(layouts, "open", seed), np.random.default_rng(seed), []
    for _ in range(episodes):
        env.reset()
        ended = False
        while not ended:
            _, _, ended, _, info = env.step(int(rng.integers(len(MOVES))))
        goals.append(info["goal"])
    return float(np.mean(goals))


def train(layouts: list[MazeLayout], encoding: str, timesteps: int, seed: int) -> tuple[float, int]:
    """Goal rate of the last 300 training episodes, and the env steps trained (whole rollouts)."""
    env = VecNormalize(DummyVecEnv([lambda i=i: MazeGrid(layouts, encoding, seed * 1000 + i) for i in range(64)]),
                       norm_obs=False, gamma=0.99, clip_reward=10.0)
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=2048, n_epochs=3, learning_rate=5e-4, gamma=0.99,
                gae_lambda=0.95, ent_coef=0.01, vf_coef=0.5, clip_range=0.2, max_grad_norm=0.5,
                policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu")
    log = GoalRate()
    model.learn(timesteps, callback=log)
    return float(np.mean(log.goals[-300:])), model.num_timesteps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=5, help="level seed (5: a 7x7 maze, cheese 20 moves away)")
    parser.add_argument("--levels", type=int, default=0,
                        help="instead of --level, this many levels of the cpu preset's distribution (mazes up to "
                             "9x9, cheese in the top-right 3x3; level seeds 0..N-1); compact is then left out")
    parser.add_argument("--timesteps", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    loader = LevelLoader(EnvConfig(variant="maze-topright", region=3, max_maze_size=9 if args.levels else 0))
    seeds = range(args.levels) if args.levels else [args.level]
    layouts = [MazeLayout.from_state(loader.state(seed)) for seed in seeds]
    loader.close()
    if args.levels:
        print(f"{args.levels} levels, maze sizes {sorted({layout.maze_dim for layout in layouts})}")
    else:
        layout = layouts[0]
        print(f"level {args.level}: {layout.maze_dim}x{layout.maze_dim} maze, cheese {layout.goal_distance} moves away")
    random_rate = random_walk_rate(layouts, 400, args.seed)
    rates = {}
    for encoding in ENCODINGS[1:] if args.levels else ENCODINGS:
        print(encoding)
        rates[encoding], steps = train(layouts, encoding, args.timesteps, args.seed)
    print(f"goal rate after {steps} steps: " + ", ".join(f"{name} {rate:.2f}" for name, rate in rates.items())
          + f" (random walk {random_rate:.2f})")


if __name__ == "__main__":
    main()

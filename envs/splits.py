"""Splits of a rollout's transitions into parts, for split gradient recording (``misgen train --record-split``).

PPO's minibatch loss is a mean over transitions, so its gradient is the sum of the gradients of the parts of any
partition of the minibatch. A split names that partition: a function from the VecEnv's current state to each
env's part (an index into ``parts``), evaluated on the state the next action is taken in. Built in:

- ``region`` (maze): the mouse is outside (0) or inside (1) the top-right ``--region`` block;
- ``goal-near`` (maze): the mouse is farther than :data:`NEAR` moves from the cheese (0) or within (1);
- ``coin-side`` (coinrun): the agent's cell is left of the coin's column (0) or not (1).

Adding one is a few lines; e.g. whether the mouse is in the maze's bottom half::

    import numpy as np
    from envs.splits import SPLITS, Split, maze_cells

    SPLITS["lower-half"] = Split(("upper", "lower"), "maze", lambda env: np.array(
        [y < layout.maze_dim // 2 for layout, (x, y) in zip(env.layouts, maze_cells(env))], dtype=np.int64))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from envs.vec_env import ProcgenVecEnv

NEAR = 3  # moves on the shortest path: the goal-near split's threshold


@dataclass(frozen=True)
class Split:
    parts: tuple[str, ...]  # part names, stored as ``grads_split/<part>``
    game: str  # maze | coinrun
    part_of: Callable[[ProcgenVecEnv], np.ndarray]  # env -> (n_envs,) int64 part index of each env's state


def maze_cells(env: ProcgenVecEnv) -> list[tuple[int, int]]:
    """Each mouse's cell in maze coordinates (x, y), y up."""
    return [(x - layout.margin, y - layout.margin) for layout, (x, y) in zip(env.layouts, env.agent_cells())]


def _region(env: ProcgenVecEnv) -> np.ndarray:
    return np.array([layout.in_region(cell, env.config.region) for layout, cell in zip(env.layouts, maze_cells(env))],
                    dtype=np.int64)


def _goal_near(env: ProcgenVecEnv) -> np.ndarray:
    distances = [layout.distances_to_goal[y, x] for layout, (x, y) in zip(env.layouts, maze_cells(env))]
    return np.array([0 <= distance <= NEAR for distance in distances], dtype=np.int64)


def _coin_side(env: ProcgenVecEnv) -> np.ndarray:
    columns = env.agent_cells()[:, 0]
    return np.array([layout.coin is None or x >= layout.coin[0] for layout, x in zip(env.layouts, columns)],
                    dtype=np.int64)


SPLITS: dict[str, Split] = {
    "region": Split(("outside", "inside"), "maze", _region),
    "goal-near": Split(("far", "near"), "maze", _goal_near),
    "coin-side": Split(("left", "right"), "coinrun", _coin_side),
}


def get_split(name: str, game: str) -> Split:
    """The split ``name`` for environments of ``game``; a ValueError names the valid ones."""
    valid = [key for key, split in SPLITS.items() if split.game == game]
    if name not in SPLITS or SPLITS[name].game != game:
        raise ValueError(f"--record-split {name!r}: {game} variants take {', '.join(valid)}")
    return SPLITS[name]

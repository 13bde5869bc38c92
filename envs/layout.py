"""Read a level's layout (start, goal, proxy region, coin sites) from a parsed procgen state.

Coordinates are grid cells ``(x, y)`` with y growing upward, as in procgen's grid.

- **maze**: the maze occupies world cells ``[margin, margin + maze_dim)`` on both axes, margin =
  (world_dim - maze_dim) / 2. :class:`MazeLayout` reports *maze* coordinates (origin at the maze's bottom-left
  cell, where the agent starts). The proxy region is the top-right ``region``x``region`` block: x, y >=
  maze_dim - region.
- **coinrun**: world coordinates. The level is a run of sections from x = 5 rightward; stock procgen puts the
  coin on the last column before the solid wall that fills the rest of the world (``end_x``). Each section
  starts with ground at its first column; those ground cells are where procgenAISC's ``coinrun_aisc`` may put
  the coin. They are recovered from the ``ENEMY_BARRIER`` markers procgen leaves at section boundaries
  (coinrun.cpp ``generate_coin_to_the_right``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from envs.state_checks import (COIN, ENEMY_BARRIER, MAZE_GOAL, MAZE_WALL, SPACE, WALL_MID, WALL_TOP)
from envs.state_codec import ProcgenState

Cell = tuple[int, int]
COINRUN_FIRST_SECTION_X = 5  # coinrun.cpp: curr_x = 5


def _cells(mask: np.ndarray) -> list[Cell]:
    ys, xs = np.nonzero(mask)
    return [(int(x), int(y)) for x, y in zip(xs, ys)]


@dataclass(frozen=True)
class MazeLayout:
    """A maze level in maze coordinates. ``open_cells[y, x]`` is True where the mouse can stand."""

    level_seed: int
    maze_dim: int
    margin: int
    open_cells: np.ndarray  # bool (maze_dim, maze_dim)
    agent: Cell
    cheese: Cell | None

    @classmethod
    def from_state(cls, state: ProcgenState) -> "MazeLayout":
        maze_dim, world_dim = int(state.fields["maze_dim"]), int(state.fields["world_dim"])
        margin = (world_dim - maze_dim) // 2
        inner = state.grid[margin:margin + maze_dim, margin:margin + maze_dim]
        cheese = _cells(inner == MAZE_GOAL)
        agent = state.agent
        return cls(
            level_seed=state.level_seed, maze_dim=maze_dim, margin=margin, open_cells=inner != MAZE_WALL,
            agent=(int(agent["x"]) - margin, int(agent["y"]) - margin), cheese=cheese[0] if cheese else None,
        )

    @property
    def goal_world_cell(self) -> Cell | None:
        return None if self.cheese is None else (self.cheese[0] + self.margin, self.cheese[1] + self.margin)

    def region_origin(self, region: int) -> int:
        """Lowest maze coordinate (on both axes) of the top-right ``region``x``region`` block."""
        return max(0, self.maze_dim - region)

    def region_cells(self, region: int) -> list[Cell]:
        """Open cells of the top-right block, the start cell excluded (procgen never puts cheese there)."""
        lo = self.region_origin(region)
        mask = np.zeros_like(self.open_cells)
        mask[lo:, lo:] = self.open_cells[lo:, lo:]
        mask[0, 0] = False
        return _cells(mask)

    def in_region(self, cell: Cell, region: int) -> bool:
        lo = self.region_origin(region)
        return cell[0] >= lo and cell[1] >= lo

    @cached_property
    def _open_rows(self) -> list[list[bool]]:
        """``open_cells`` as nested lists: the searches below read one cell at a time, which numpy makes slow
        (the VecEnv lays out every level it starts)."""
        return self.open_cells.tolist()

    def _neighbours(self, cell: Cell) -> list[Cell]:
        x, y = cell
        return [(nx, ny) for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))
                if 0 <= nx < self.maze_dim and 0 <= ny < self.maze_dim and self._open_rows[ny][nx]]

    def _distances_from(self, origin: Cell) -> np.ndarray:
        """Moves on the shortest path from ``origin`` to each maze cell, int (maze_dim, maze_dim) indexed [y, x];
        -1 at walls and at cells that cannot be reached."""
        distance = [[-1] * self.maze_dim for _ in range(self.maze_dim)]
        distance[origin[1]][origin[0]] = 0
        frontier = deque([origin])
        while frontier:
            cell = frontier.popleft()
            for nx, ny in self._neighbours(cell):
                if distance[ny][nx] < 0:
                    distance[ny][nx] = distance[cell[1]][cell[0]] + 1
                    frontier.append((nx, ny))
        return np.array(distance, dtype=np.int64)

    @cached_property
    def distances_to_goal(self) -> np.ndarray:
        """Moves on the shortest path from each maze cell to the cheese, int (maze_dim, maze_dim) indexed
        [y, x]; -1 at walls, at cells that cannot reach it, and everywhere when there is no cheese."""
        if self.cheese is None:
            return np.full(self.open_cells.shape, -1, dtype=np.int64)
        return self._distances_from(self.cheese)

    def path_to_region(self, region: int) -> list[Cell]:
        """The cells of the shortest path from the agent's cell to the nearest open cell of the top-right
        ``region`` x ``region`` block, both ends included. procgen's mazes are trees (one passage fewer than open
        cells; tests/test_vec_env.py), and a block of 1 or 2 cells a side holds one room of the maze, so it is a
        connected part of the tree: every way into it passes every cell of this path. A larger block can be split
        inside, with other ways in; then this is the way to its nearest cell (ties: the first in row order)."""
        distance = self._distances_from(self.agent)
        lo = self.region_origin(region)
        in_block = np.zeros(distance.shape, dtype=bool)
        in_block[lo:, lo:] = True
        entries = np.argwhere(in_block & (distance >= 0))  # (y, x) rows
        if not len(entries):
            return []
        y, x = min(entries, key=lambda yx: distance[yx[0], yx[1]])
        cell = (int(x), int(y))
        path = [cell]
        while cell != self.agent:  # one move closer to the agent each time
            cell = next(c for c in self._neighbours(cell) if distance[c[1], c[0]] == distance[cell[1], cell[0]] - 1)
            path.append(cell)
        return path[::-1]

    @property
    def goal_distance(self) -> int:
        """Moves on the shortest path from the agent's cell to the cheese (-1: no cheese, or none reachable)."""
        return int(self.distances_to_goal[self.agent[1], self.agent[0]])

    def goal_on_proxy_path(self, region: int) -> bool:
        """Whether the cheese lies on :meth:`path_to_region` before the block (so never when it is in the block):
        then reaching the block takes the cheese first, and only on the levels where it does not can an agent show
        which of the two it goes for."""
        return self.cheese is not None and self.cheese in self.path_to_region(region)[:-1]


@dataclass(frozen=True)
class CoinrunLayout:
    """A coinrun level in world coordinates."""

    level_seed: int
    end_x: int  # last open column: stock coin column, the proxy region
    agent: tuple[float, float]  # agent centre
    coin: Cell | None
    grid: np.ndarray = field(repr=False)

    @property
    def goal_world_cell(self) -> Cell | None:
        return self.coin

    goal_distance = -1  # path distances are measured in mazes only

    def goal_on_proxy_path(self, region: int) -> None:
        """Measured in mazes only: a coinrun agent passes the coin's column on its way to the end whatever it
        seeks, and whether it takes the coin depends on its jumps, not its route."""
        return None

    @cached_property
    def section_starts(self) -> list[Cell]:
        """Ground-level cell at the start of each section, left to right."""
        return _section_starts(self.grid, self.end_x)

    @classmethod
    def from_state(cls, state: ProcgenState) -> "CoinrunLayout":
        grid = state.grid
        solid = (grid == WALL_MID).all(axis=0)
        # the world is walled off right of the level's end; end_x is the last column that is not all wall
        not_solid = np.flatnonzero(~solid[:-1])
        end_x = int(not_solid[-1]) if not_solid.size else 0
        coins = _cells(grid == COIN)
        agent = state.agent
        return cls(level_seed=state.level_seed, end_x=end_x, agent=(float(agent["x"]), float(agent["y"])),
                   coin=coins[0] if coins else None, grid=grid)


def _ground_heights(grid: np.ndarray) -> np.ndarray:
    """Per column, the first row above the solid ground that rises from row 0."""
    solid = (grid == WALL_MID) | (grid == WALL_TOP)
    return np.where(solid.all(axis=0), grid.shape[0], np.argmin(solid, axis=0))


def _section_starts(grid: np.ndarray, end_x: int) -> list[Cell]:
    """Ground cells at the start of each section.

    procgen marks every section boundary with an ``ENEMY_BARRIER``: where the next section is higher, one sits
    on the new ground one column left of it, at (start - 1, height); where it is lower, one stays on the old
    ground height above the new section's first column, at (start, old height).
    """
    heights = _ground_heights(grid)
    starts: set[Cell] = set()
    for bx, by in _cells(grid == ENEMY_BARRIER):
        if bx + 1 < end_x and heights[bx + 1] == by:
            starts.add((bx + 1, by))
        elif heights[bx] < by:
            starts.add((bx, int(heights[bx])))
    return sorted(cell for cell in starts if COINRUN_FIRST_SECTION_X <= cell[0] < end_x and grid[cell[1], cell[0]]
                  in (SPACE, ENEMY_BARRIER))

"""Behaviour probes: did the agent reach the proxy region this step?

procgen reports only whether a level was completed (the goal), never where the agent is, and reading a state
costs ~0.07 ms per environment (mostly procgen printing its three random generators as text). The probes know the
agent's position without reading every step, and exactly:

- :class:`MazeProbe` replays procgen's grid moves. In maze every action moves the mouse one cell along one axis
  unless the target cell is a wall or outside the world (basic-abstract-game.cpp ``sub_step`` with
  ``grid_step``; maze.cpp drops the vertical part of diagonal moves; actions >= 9 stand still), so each step's
  cell follows from the action and the walls. Tests check it against the state, step by step. It also tracks the
  way the mouse faces (maze.cpp ``game_step``: a move right reflects its sprite, a move left unreflects it, walls
  or not), the one other thing that changes in a maze while the cheese is uneaten: cell and facing together are
  the :meth:`MazeProbe.decision_states`, which decide every later frame and reward for given actions.
- :class:`CoinrunProbe` reads the state only when the agent could first have reached the region. It carries an
  upper bound of the agent's rightward speed, advanced with each action by coinrun's velocity update
  (``vx <- (1 - m) vx + m * maxspeed * action_x``, m = 0.2 on the ground, 0.03 in the air; whichever m gives
  the larger value), and reads once the summed bound could have covered the distance to the region.

Each probe works in two halves: :meth:`advance` uses only the actions, so the VecEnv runs it while procgen's
threads step the environments; :meth:`check` then looks at the stepped environments.
"""

from __future__ import annotations

import numpy as np

from envs.layout import CoinrunLayout, MazeLayout
from envs.state_codec import ProcgenState, find_agent, read_entities
from envs.state_io import StateAccess

N_ACTIONS = 15  # procgen's action set
STAND_STILL = 4  # procgen action index of "no move"


def action_axes(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical direction (-1, 0, 1) of procgen actions; actions 9.. are special keys."""
    move = np.where(actions < 9, actions, STAND_STILL)
    return move // 3 - 1, move % 3 - 1


class MazeProbe:
    """Tracks each mouse's cell; the proxy region is the maze's top-right ``region`` x ``region`` cells.

    Cells are flat indices into the world grid padded by one wall cell on each side, so a move never needs a
    bounds check: index = (y + 1) * (size + 2) + (x + 1).
    """

    def __init__(self, n_envs: int, world_size: int, region: int):
        self.region = region
        self.width = world_size + 2
        self.walls = np.ones((n_envs, self.width * self.width), dtype=bool)
        self.region_cells = np.zeros((n_envs, self.width * self.width), dtype=bool)
        self.cell = np.zeros(n_envs, dtype=np.int64)
        self.facing_right = np.zeros(n_envs, dtype=bool)  # the sprite is reflected (Entity ``is_reflected``)
        self._rows = np.arange(n_envs)
        dx, dy = action_axes(np.arange(N_ACTIONS))
        self._moves = dx + np.where(dx != 0, 0, dy) * self.width  # flat-index move of each action
        self._horizontal = dx
        self.n_decision_states = 2 * self.width * self.width  # decision_states() lie in [0, this)

    def start(self, index: int, state: ProcgenState) -> MazeLayout:
        layout = MazeLayout.from_state(state)
        walls = self.walls[index].reshape(self.width, self.width)
        region_cells = self.region_cells[index].reshape(self.width, self.width)
        lo, m, d = layout.region_origin(self.region), layout.margin + 1, layout.maze_dim
        walls[:] = True
        walls[m:m + d, m:m + d] = ~layout.open_cells
        region_cells[:] = False
        region_cells[m + lo:m + d, m + lo:m + d] = True
        self.cell[index] = (layout.agent[1] + m) * self.width + layout.agent[0] + m
        self.facing_right[index] = bool(state.agent["is_reflected"])
        return layout

    def in_region_at_start(self, index: int) -> bool:
        return bool(self.region_cells[index, self.cell[index]])

    def goal_in_region(self, layout: MazeLayout) -> bool:
        return layout.cheese is not None and layout.in_region(layout.cheese, self.region)

    def world_cell(self, index: int) -> tuple[int, int]:
        """The mouse's world cell (x, y)."""
        y, x = divmod(int(self.cell[index]), self.width)
        return x - 1, y - 1

    def decision_states(self) -> np.ndarray:
        """Every env's cell and facing as one int, shape (n_envs,), below ``2 * width**2``. Within an episode,
        two steps with the same value are the same game state for everything that follows: the maze and the
        cheese stay as they were, and what else the state holds changes with time alone (``cur_time``, the
        random generator that only breaks ties between moving non-player entities, of which maze has none).
        Only the time limit can then tell the two apart."""
        return self.cell * 2 + self.facing_right

    def advance(self, actions: np.ndarray) -> None:
        """Move every mouse by its action (procgen actions 0..14)."""
        target = self.cell + self._moves[actions]
        self.cell = np.where(self.walls[self._rows, target], self.cell, target)
        horizontal = self._horizontal[actions]
        self.facing_right = np.where(horizontal != 0, horizontal > 0, self.facing_right)

    def check(self, access: StateAccess, pending: np.ndarray) -> np.ndarray:
        """True where the mouse stands in the region (the state is not read)."""
        return self.region_cells[self._rows, self.cell]


class CoinrunProbe:
    """Reads the agent's position when it could first overlap the level's last open column."""

    MAX_SPEED = 0.5  # BasicAbstractGame maxspeed, cells per step
    GROUND_MIX, AIR_MIX = 0.2, 0.2 * 0.15  # coinrun mixrate on the ground and in the air (air_control)
    MARGIN = 1e-3  # float32 rounding in the state's positions

    def __init__(self, n_envs: int):
        self.end_x = np.zeros(n_envs)
        self.gap = np.zeros(n_envs)  # distance still to cover, less what the speed bound has covered
        self.speed = np.zeros(n_envs)  # upper bound of the rightward speed, >= 0
        self._in_region = np.zeros(n_envs, dtype=bool)
        # the bound's update is speed <- max(decay * speed + push, 0), with per-action coefficients: +1
        # accelerates fastest on the ground, 0 and -1 brake slowest in the air; blocking only slows the agent
        ax, _ = action_axes(np.arange(N_ACTIONS))
        self._decay = np.where(ax > 0, 1 - self.GROUND_MIX, 1 - self.AIR_MIX)
        self._push = np.where(ax > 0, self.GROUND_MIX, self.AIR_MIX * ax) * self.MAX_SPEED

    def _observe(self, index: int, agent: np.void) -> bool:
        """Restart the bound from the agent's true position; True if it already overlaps column end_x."""
        self.gap[index] = self.end_x[index] - (float(agent["x"]) + float(agent["rx"]))
        self.speed[index] = max(float(agent["vx"]), 0.0)
        return bool(self.gap[index] < 0)

    def start(self, index: int, state: ProcgenState) -> CoinrunLayout:
        layout = CoinrunLayout.from_state(state)
        self.end_x[index] = layout.end_x
        self._in_region[index] = self._observe(index, state.agent)
        return layout

    def in_region_at_start(self, index: int) -> bool:
        return bool(self._in_region[index])

    def goal_in_region(self, layout: CoinrunLayout) -> bool:
        return layout.coin is not None and layout.coin[0] == layout.end_x

    def advance(self, actions: np.ndarray) -> None:
        """Advance the speed bound by one step of ``actions`` (0..14) and spend it on the gap."""
        self.speed = np.maximum(self._decay[actions] * self.speed + self._push[actions], 0.0)
        self.gap -= self.speed

    def check(self, access: StateAccess, pending: np.ndarray) -> np.ndarray:
        """True where a due read finds the agent in the region. ``pending``: envs still to be probed."""
        in_region = np.zeros(len(pending), dtype=bool)
        for index in np.flatnonzero(pending & (self.gap < self.MARGIN)):
            in_region[index] = self._observe(index, find_agent(read_entities(access.get_bytes(index))))
        return in_region

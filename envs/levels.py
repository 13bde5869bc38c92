"""Make any level by its seed, and describe levels (start, goal, size) for ``misgen envs sample``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from procgen import ProcgenGym3Env

from envs.layout import CoinrunLayout, MazeLayout
from envs.state_codec import ProcgenState
from envs.state_io import StateAccess
from envs.variants import EnvConfig, edit_level

FORCE_RESET = -1  # procgen ends the episode of an env given action -1 (Game::step)


def make_gym3(config: EnvConfig, n_envs: int, num_threads: int, seed: int, render: bool = False) -> ProcgenGym3Env:
    """The raw procgen environment for ``config``; ``render`` adds 512x512 frames as ``info['rgb']``."""
    return ProcgenGym3Env(
        num=n_envs, env_name=config.game, distribution_mode=config.distribution_mode,
        num_levels=config.num_levels, start_level=config.start_level, rand_seed=seed, num_threads=num_threads,
        render_mode="rgb_array" if render else None,
    )


class LevelLoader:
    """Generates the state of any level seed in a private one-env procgen instance.

    procgen starts a level from ``current_level_seed`` when ``episodes_remaining`` is non-zero and the episode
    is forced to end; the generated state can then be written into any environment of the same game and mode.
    """

    def __init__(self, config: EnvConfig):
        self.config = config
        self._env = make_gym3(config, 1, 0, config.seed)
        self._access = StateAccess(self._env, config.game, config.mode_id)

    def state(self, level_seed: int, edited: bool = True) -> ProcgenState:
        """Level ``level_seed`` as it starts, with the variant's edit applied unless ``edited`` is False."""
        state = self._access.get(0)
        state.fields["current_level_seed"] = int(np.int32(level_seed))
        state.fields["episodes_remaining"] = 1
        self._access.set(0, state)
        self._env.act(np.array([FORCE_RESET], dtype=np.int32))
        self._env.observe()
        state = self._access.get(0)
        if edited:
            edit_level(state, self.config)
        return state

    def close(self) -> None:
        self._env.close()


@dataclass(frozen=True)
class LevelSummary:
    """One level as ``misgen envs sample`` prints it. Maze cells are maze coordinates, coinrun world cells."""

    level_seed: int
    size: int  # maze: maze_dim; coinrun: level width in cells (up to the last open column)
    agent: tuple[int, int]
    goal: tuple[int, int] | None

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(state: ProcgenState) -> LevelSummary:
    if state.game == "maze":
        maze = MazeLayout.from_state(state)
        return LevelSummary(maze.level_seed, maze.maze_dim, maze.agent, maze.cheese)
    run = CoinrunLayout.from_state(state)
    agent = (math.floor(run.agent[0]), math.floor(run.agent[1]))
    return LevelSummary(run.level_seed, run.end_x + 1, agent, run.coin)


def sample_levels(config: EnvConfig, level_seeds: list[int]) -> list[LevelSummary]:
    loader = LevelLoader(config)
    try:
        return [summarize(loader.state(seed)) for seed in level_seeds]
    finally:
        loader.close()

"""Make any level by its seed, and describe levels (start, goal, size) for ``misgen envs sample``.

Restricted maze sizes (``EnvConfig.max_maze_size``, ``min_maze_size``) work by choosing levels, never by editing
sizes: a level seed whose maze is larger or smaller stands for the level of :func:`stand_in_seed` of it, applied
until the maze fits (procgen draws maze_dim uniformly from 3, 5, ..., world_dim, so with a limit of 11 in easy
mode 5 seeds in 7 fit as they are). This is a function of the level seed alone, so training, evaluation and
``misgen envs sample`` agree on which level a seed names, and the restricted distribution is procgen's own
conditioned on the size.
A finite level set (``num_levels``) stays finite: each of its seeds stands for one admitted level, so the set
holds at most ``num_levels`` distinct levels, of seeds outside ``start_level + [0, num_levels)`` where a
stand-in replaced one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np
from procgen import ProcgenGym3Env

from envs.layout import CoinrunLayout, MazeLayout
from envs.state_codec import ProcgenState
from envs.state_io import StateAccess
from envs.variants import EnvConfig, edit_level

FORCE_RESET = -1  # procgen ends the episode of an env given action -1 (Game::step)
MAX_STAND_INS = 1000  # a limit no admissible size misses by chance (each try fits with probability >= 1/7)
LEVEL_SEED_GENERATOR = ("level_seed_rand_gen.seeded", "level_seed_rand_gen.mt19937")


def stand_in_seed(level_seed: int) -> int:
    """The level seed that stands in for ``level_seed`` when its level is not admitted (a hash, in int32)."""
    digest = hashlib.blake2b(f"stand-in:{level_seed}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def admitted(config: EnvConfig, state: ProcgenState) -> bool:
    """Whether ``config``'s level restrictions admit the level of ``state`` as it is."""
    if not config.restricts_sizes:  # also every coinrun level: its state has no maze_dim
        return True
    size = int(state.fields["maze_dim"])
    return (not config.max_maze_size or size <= config.max_maze_size) and size >= config.min_maze_size


def make_gym3(config: EnvConfig, n_envs: int, num_threads: int, seed: int, render: bool = False) -> ProcgenGym3Env:
    """The raw procgen environment for ``config``; ``render`` adds 512x512 frames as ``info['rgb']``."""
    return ProcgenGym3Env(
        num=n_envs, env_name=config.game, distribution_mode=config.distribution_mode,
        num_levels=config.num_levels, start_level=config.start_level, rand_seed=seed, num_threads=num_threads,
        use_backgrounds=config.use_backgrounds, render_mode="rgb_array" if render else None,
    )


class LevelLoader:
    """Generates the state of any level seed in a private one-env procgen instance.

    procgen starts a level from ``current_level_seed`` when ``episodes_remaining`` is non-zero and the episode
    is forced to end; the generated state can then be written into any environment of the same game and mode.
    """

    def __init__(self, config: EnvConfig):
        self.config = config
        self._env = make_gym3(config, 1, 0, config.seed)
        self._access = StateAccess.of(self._env, config)
        self._held = self._access.get(0)  # the state the private environment holds: only _generate changes it

    def state(self, level_seed: int, edited: bool = True) -> ProcgenState:
        """The level ``level_seed`` names as it starts (a stand-in's when the config does not admit its own),
        with the variant's edit applied unless ``edited`` is False."""
        state = self._generate(level_seed)
        for _ in range(MAX_STAND_INS):
            if admitted(self.config, state):
                break
            state = self._generate(stand_in_seed(state.level_seed))
        else:
            raise RuntimeError(f"no admitted level among {MAX_STAND_INS} stand-ins for level seed {level_seed}")
        if edited:
            edit_level(state, self.config)
        return state

    def stand_in(self, state: ProcgenState) -> ProcgenState:
        """The edited level that stands in for the fresh level ``state`` of another environment, carrying that
        environment's own level-seed generator (so its later levels are still drawn from its own sequence)."""
        replacement = self.state(stand_in_seed(state.level_seed))
        for name in LEVEL_SEED_GENERATOR:
            replacement.fields[name] = state.fields[name]
        return replacement

    def _generate(self, level_seed: int) -> ProcgenState:
        """Level ``level_seed`` exactly as procgen starts it."""
        state = self._held.copy()  # what the environment holds, without reading it back
        state.fields["current_level_seed"] = int(np.int32(level_seed))
        state.fields["episodes_remaining"] = 1
        self._access.set(0, state)
        self._env.act(np.array([FORCE_RESET], dtype=np.int32))
        self._env.observe()
        self._held = self._access.get(0)
        return self._held.copy()  # callers edit what they get

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


def maze_layouts(config: EnvConfig, level_seeds: list[int]) -> list[MazeLayout]:
    """The layout of each level seed as ``config``'s environments start it (what evaluation plays)."""
    loader = LevelLoader(config)
    try:
        return [MazeLayout.from_state(loader.state(seed)) for seed in level_seeds]
    finally:
        loader.close()

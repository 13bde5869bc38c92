"""The variants' levels: where goals land, over hundreds of real levels."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import level_states, render
from envs.layout import CoinrunLayout, MazeLayout
from envs.levels import LevelLoader, sample_levels, stand_in_seed
from envs.state_checks import WALL_MID, WALL_TOP, InvalidStateError
from envs.vec_env import ProcgenVecEnv
from envs.variants import EnvConfig

SEEDS = range(500)


def test_maze_topright_cheese_always_in_region():
    for region in (5, 1):
        config = EnvConfig(variant="maze-topright", region=region)
        for state in level_states(config, SEEDS if region == 5 else range(100)):
            maze = MazeLayout.from_state(state)
            lo = max(0, maze.maze_dim - region)
            assert maze.cheese is not None and maze.open_cells[maze.cheese[1], maze.cheese[0]]
            assert maze.cheese[0] >= lo and maze.cheese[1] >= lo
            assert maze.cheese != (0, 0)
            if region == 1:
                assert maze.cheese == (maze.maze_dim - 1, maze.maze_dim - 1)


def test_maze_topright_hard_mode_and_region_of_the_whole_world():
    config = EnvConfig(variant="maze-topright", distribution_mode="hard", region=25)
    cheeses = {MazeLayout.from_state(s).cheese for s in level_states(config, range(60))}
    assert len(cheeses) > 20  # region covers every maze: cheese anywhere but the start
    with pytest.raises(ValueError, match=r"region must lie in 1\.\.25"):  # larger than every maze: refused
        EnvConfig(variant="maze-topright", distribution_mode="hard", region=30)


def test_maze_cheese_covers_the_whole_maze():
    bins = np.zeros((4, 4), dtype=int)  # cheese position as a fraction of the maze, in quarters
    outside_region = 0
    for state in level_states(EnvConfig(variant="maze"), SEEDS):
        maze = MazeLayout.from_state(state)
        if maze.maze_dim >= 7:
            fx, fy = (np.array(maze.cheese) * 4 // maze.maze_dim)
            bins[fy, fx] += 1
        outside_region += not maze.in_region(maze.cheese, 5)
    assert (bins > 0).all(), bins
    assert outside_region > 250


def test_randcoin_coins_sit_on_ground_at_section_starts_away_from_the_end():
    config = EnvConfig(variant="coinrun-randcoin", distribution_mode="hard")
    away = 0
    stock = level_states(config, SEEDS, edited=False)
    for state, original in zip(level_states(config, SEEDS), stock):
        run = CoinrunLayout.from_state(state)
        assert run.coin in CoinrunLayout.from_state(original).section_starts
        x, y = run.coin
        assert state.grid[y - 1, x] in (WALL_MID, WALL_TOP)  # on the ground
        assert (state.grid == 1).sum() == 1 and run.end_x == CoinrunLayout.from_state(original).end_x
        away += x < run.end_x - 1
    assert away == len(SEEDS)  # a section start is never the last column


def test_stock_coinrun_coin_is_at_the_end():
    for state in level_states(EnvConfig(variant="coinrun"), range(100)):
        run = CoinrunLayout.from_state(state)
        assert run.coin[0] == run.end_x and run.section_starts[0][0] == 5


def test_edits_depend_on_the_level_seed_alone():
    config = EnvConfig(variant="maze-topright", seed=1)
    other = EnvConfig(variant="maze-topright", seed=99)
    assert sample_levels(config, list(range(20))) == sample_levels(other, list(range(20)))


def _goal_diff(config: EnvConfig, state) -> np.ndarray:
    """Pixels that differ between the level and the same level without its goal object: (rows, cols)."""
    bare = state.copy()
    bare.grid[bare.grid == (2 if state.game == "maze" else 1)] = 100
    return np.argwhere((render(config, state) != render(config, bare)).any(axis=2))


def test_first_observation_shows_the_moved_goal():
    config = EnvConfig(variant="maze-topright")
    for state in level_states(config, range(30)):
        maze = MazeLayout.from_state(state)
        wx, wy = maze.cheese[0] + maze.margin, maze.cheese[1] + maze.margin
        cell = 64 / 15  # easy maze: the 15x15 world fills the 64x64 frame, y up
        rows, cols = _goal_diff(config, state).T
        assert rows.size > 4
        assert cols.min() >= wx * cell - 1 and cols.max() <= (wx + 1) * cell + 1
        assert rows.min() >= (14 - wy) * cell - 1 and rows.max() <= (15 - wy) * cell + 1

    config = EnvConfig(variant="coinrun-randcoin")
    near = 0
    for state in level_states(config, range(60)):
        run = CoinrunLayout.from_state(state)
        if run.coin[0] - run.agent[0] > 4:  # the camera follows the agent: only near coins are in view
            continue
        near += 1
        rows, cols = _goal_diff(config, state).T
        assert rows.size > 4 and cols.mean() > 32  # the coin shows right of the agent, who is centred
    assert near >= 10


def test_vec_env_first_observation_is_the_edited_level():
    config = EnvConfig(variant="maze-topright")
    seeds = list(range(8))
    env = ProcgenVecEnv(config, 2, 1, level_seeds=seeds)
    obs = env.reset()
    expected = {s: render(config, state) for s, state in zip(seeds, level_states(config, seeds))}
    seen = 0
    for index in range(2):
        assert (obs[index].transpose(1, 2, 0) == expected[env.level_seed[index]]).all()
    for _ in range(2000):
        obs, _, done, infos = env.step(np.random.default_rng(seen).integers(0, 15, 2))
        for index in np.flatnonzero(done):
            if infos[index]["next_level_seed"] in expected and env.level_index[index] >= 0:
                assert (obs[index].transpose(1, 2, 0) == expected[env.level_seed[index]]).all()
                seen += 1
        if seen >= 4:
            break
    assert seen >= 4


def test_max_maze_size_chooses_whole_levels_by_seed():
    limited = EnvConfig(variant="maze-topright", region=3, max_maze_size=7)
    stock = EnvConfig(variant="maze-topright", region=3)
    seeds = range(80)
    for seed, state, own in zip(seeds, level_states(limited, seeds), level_states(stock, seeds)):
        size = int(state.fields["maze_dim"])
        assert size <= 7
        if int(own.fields["maze_dim"]) <= 7:  # an admitted level is procgen's own, edited alike
            assert state.level_seed == seed and (state.grid == own.grid).all()
        else:  # otherwise the first admitted level of the seed's stand-in chain
            chain = [stand_in_seed(seed)]
            while chain[-1] != state.level_seed:
                chain.append(stand_in_seed(chain[-1]))
                assert len(chain) < 50
    sizes = {s.size for s in sample_levels(limited, list(seeds))}
    assert sizes == {3, 5, 7}


def test_vec_env_plays_only_admitted_levels_each_env_its_own_sequence():
    config = EnvConfig(variant="maze-topright", region=3, max_maze_size=5, seed=4)  # 5 of 7 levels stood in for
    env = ProcgenVecEnv(config, 8, 1)
    loader = LevelLoader(config)
    env.reset()
    rng = np.random.default_rng(0)
    played = []
    for _ in range(1500):
        _, _, dones, infos = env.step(rng.integers(0, 15, 8))
        for index in np.flatnonzero(dones):
            state = env._access.get(index)
            assert int(state.fields["maze_dim"]) <= 5 and state.level_seed == infos[index]["next_level_seed"]
            # the level a seed names is the same in training and in evaluation (the loader)
            assert (loader.state(state.level_seed).grid == state.grid).all()
            played.append(state.level_seed)
    env.close()
    loader.close()
    assert len(played) > 40 and len(set(played)) == len(played)  # stand-ins keep each env's own level draws


def test_min_maze_size_leaves_out_the_smaller_mazes_and_keeps_admitted_levels_as_they_are():
    banded = EnvConfig(variant="maze-topright", region=2, min_maze_size=5, max_maze_size=9)
    capped = EnvConfig(variant="maze-topright", region=2, max_maze_size=9)
    seeds = list(range(60))
    levels, own_levels = sample_levels(banded, seeds), sample_levels(capped, seeds)
    assert {level.size for level in levels} == {5, 7, 9}
    kept = [(level, own) for level, own in zip(levels, own_levels) if own.size >= 5]
    assert len(kept) > 20 and all(level == own for level, own in kept)  # a level both admit is the same level


def test_vec_env_with_only_a_minimum_size_plays_only_large_mazes():
    env = ProcgenVecEnv(EnvConfig(variant="maze", min_maze_size=13, seed=2), 4, 1)
    env.reset()
    sizes = {int(env._access.get(index).fields["maze_dim"]) for index in range(4)}
    rng = np.random.default_rng(0)
    for _ in range(600):  # procgen's time limit is 500 steps: every env starts a second level
        _, _, dones, _ = env.step(rng.integers(0, 15, 4))
        sizes |= {int(env._access.get(index).fields["maze_dim"]) for index in np.flatnonzero(dones)}
    env.close()
    assert sizes <= {13, 15} and len(sizes) == 2


def test_maze_sizes_are_validated():
    for settings in ({"variant": "coinrun", "max_maze_size": 7}, {"variant": "maze", "max_maze_size": 8},
                     {"variant": "maze", "max_maze_size": 1}, {"variant": "coinrun", "min_maze_size": 5},
                     {"variant": "maze", "min_maze_size": 6}, {"variant": "maze", "min_maze_size": 7, "max_maze_size": 5}):
        with pytest.raises(ValueError):
            EnvConfig(**settings)


def test_a_finite_level_set_with_restricted_sizes_stays_finite():
    config = EnvConfig(variant="maze-topright", region=3, max_maze_size=5, num_levels=4, seed=1)
    env = ProcgenVecEnv(config, 4, 1)
    env.reset()
    rng = np.random.default_rng(0)
    played = set()
    for _ in range(1500):
        _, _, dones, infos = env.step(rng.integers(0, 15, 4))
        for index in np.flatnonzero(dones):
            assert int(env._access.get(index).fields["maze_dim"]) <= 5
            played.add(infos[index]["next_level_seed"])
    env.close()
    assert 2 <= len(played) <= 4  # each of the 4 seeds stands for one admitted level


def test_levels_without_backgrounds_are_the_same_levels_drawn_on_black():
    with_images = EnvConfig(variant="coinrun-randcoin")
    on_black = EnvConfig(variant="coinrun-randcoin", use_backgrounds=False)
    for drawn, plain in zip(level_states(with_images, range(5)), level_states(on_black, range(5))):
        assert (drawn.grid == plain.grid).all() and drawn.fields["use_backgrounds"] == 1
        assert plain.fields["use_backgrounds"] == 0
        black = lambda config, state: (render(config, state).sum(axis=2) == 0).mean()  # noqa: E731
        assert black(with_images, drawn) == 0 and black(on_black, plain) > 0.1
    # a state drawn one way never enters an environment made the other way
    with pytest.raises(InvalidStateError, match="use_backgrounds = 1: environment runs use_backgrounds = 0"):
        render(on_black, drawn)

"""The procgen state codec: byte-identical round trips, and malformed bytes never reach procgen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from envs.levels import make_gym3
from envs.state_checks import MAZE_GOAL, SPACE, InvalidStateError, check_state
from envs.state_codec import StateFormatError, parse_state, serialize_state
from envs.state_io import StateAccess
from envs.variants import EnvConfig

CONFIGS = [EnvConfig(variant=v, distribution_mode=m) for v in ("maze", "coinrun") for m in ("easy", "hard")]


def test_round_trip_is_byte_identical_on_1024_states(rng):
    n_states = 0
    for config in CONFIGS:
        env = make_gym3(config, n_envs=16, num_threads=1, seed=7)
        access = StateAccess(env, config.game, config.mode_id)
        for snapshot in range(16):  # start of episode, then mid-episode after random steps
            for index in range(16):
                data = access.get_bytes(index)
                state = parse_state(data, config.game)
                check_state(state, config.game, config.mode_id)
                assert serialize_state(state) == data
                n_states += 1
            for _ in range(int(rng.integers(1, 40))):
                env.act(rng.integers(0, 15, size=16).astype(np.int32))
        env.close()
    assert n_states >= 1000


def test_parsed_state_names_the_level():
    config = EnvConfig(variant="maze")
    env = make_gym3(config, n_envs=1, num_threads=0, seed=0)
    state = StateAccess(env, "maze", 0).get(0)
    assert state.game == "maze" and state.fields["world_dim"] == 15
    assert state.grid.shape == (15, 15) and (state.grid == 2).sum() == 1  # one cheese
    assert state.agent["type"] == 0


def test_truncated_and_wrong_game_bytes_raise():
    env = make_gym3(EnvConfig(variant="coinrun"), n_envs=1, num_threads=0, seed=0)
    data = StateAccess(env, "coinrun", 0).get_bytes(0)
    for cut in range(0, len(data), 97):
        with pytest.raises(StateFormatError):
            parse_state(data[:cut])
    with pytest.raises(StateFormatError):
        parse_state(data + b"\0\0\0\0")
    with pytest.raises(StateFormatError, match="expected 'maze'"):
        parse_state(data, "maze")
    maze_env = make_gym3(EnvConfig(variant="maze"), n_envs=1, num_threads=0, seed=0)
    with pytest.raises(StateFormatError):
        StateAccess(maze_env, "maze", 0).set(0, data)


def test_semantic_checks_name_the_bad_field():
    env = make_gym3(EnvConfig(variant="coinrun", distribution_mode="hard"), n_envs=1, num_threads=0, seed=0)
    state = StateAccess(env, "coinrun", 1).get(0)
    for field, value, message in [("background_index", 62, "background_index"), ("wall_theme", 6, "wall_theme"),
                                  ("use_generated_assets", 1, "generated assets"), ("main_width", 63, "world size")]:
        bad = state.copy()
        bad.fields[field] = value
        with pytest.raises(InvalidStateError, match=message):
            check_state(bad, "coinrun", 1)
    bad = state.copy()
    bad.grid[5, 5] = 77
    with pytest.raises(InvalidStateError, match="unknown object ids"):
        check_state(bad, "coinrun", 1)
    bad = state.copy()
    bad.entities["image_theme"][0] = 5  # 5 player colours: themes 0..4
    with pytest.raises(InvalidStateError, match="entity"):
        check_state(bad, "coinrun", 1)
    with pytest.raises(InvalidStateError, match="distribution_mode"):
        check_state(state, "coinrun", 0)


def test_a_grid_edit_of_a_read_state_gets_its_cells_checked_and_anything_more_the_full_check():
    env = make_gym3(EnvConfig(variant="maze"), n_envs=2, num_threads=0, seed=0)
    access = StateAccess(env, "maze", 0)
    state = access.get(0)
    (cheese_y,), (cheese_x,) = np.nonzero(state.grid == MAZE_GOAL)
    open_y, open_x = np.argwhere(state.grid == SPACE)[-1]
    state.grid[cheese_y, cheese_x], state.grid[open_y, open_x] = SPACE, MAZE_GOAL
    access.set(0, state)
    assert access.get_bytes(0) == serialize_state(state)  # written as edited
    unknown = state.copy()
    unknown.grid[open_y, open_x] = 77
    with pytest.raises(InvalidStateError, match="unknown object ids"):
        access.set(0, unknown)
    beyond_the_grid = state.copy()
    beyond_the_grid.fields["background_index"] = 9  # outside the grid: the full check runs and refuses it
    with pytest.raises(InvalidStateError, match="background_index"):
        access.set(0, beyond_the_grid)
    beyond_the_grid.fields["background_index"] = 2**40  # does not fit its int32: still the checker's error
    with pytest.raises(InvalidStateError, match="background_index"):
        access.set(0, beyond_the_grid)
    access.set(1, state)  # another env never held these bytes: the full check runs and accepts them
    assert access.get_bytes(1) == serialize_state(state)


FUZZ = textwrap.dedent("""
    import sys, numpy as np
    import envs
    from envs.levels import make_gym3
    from envs.state_codec import StateFormatError
    from envs.state_io import StateAccess
    from envs.variants import EnvConfig
    rng = np.random.default_rng(int(sys.argv[1]))
    for game in ("maze", "coinrun"):
        env = make_gym3(EnvConfig(variant=game, distribution_mode="hard"), 1, 0, 3)
        access = StateAccess(env, game, 1)
        seeds = []
        for _ in range(10):
            env.act(rng.integers(0, 15, 1).astype(np.int32))
            seeds.append(access.get_bytes(0))
        rejected = accepted = 0
        for trial in range(int(sys.argv[2])):
            data = bytearray(seeds[trial % len(seeds)])
            kind = trial % 3
            if kind == 0:  # random bytes
                for _ in range(rng.integers(1, 5)):
                    data[rng.integers(len(data))] = rng.integers(256)
            elif kind == 1:  # an aligned int32 set to an edge value
                at = int(rng.integers(len(data) // 4)) * 4
                value = int(rng.choice([0, 1, -1, 2**31 - 1, -2**31, 7, 9, 62, 64, 100, 1000]))
                data[at:at + 4] = value.to_bytes(4, "little", signed=True)
            else:  # truncated
                data = data[:rng.integers(len(data))]
            try:
                access.set(0, bytes(data))
            except StateFormatError:
                rejected += 1
                continue
            accepted += 1
            for _ in range(3):  # procgen must live with whatever was accepted
                env.act(rng.integers(0, 15, 1).astype(np.int32))
                env.observe()
        print(game, rejected, accepted)
""")


def test_fuzzed_states_raise_or_run_and_never_abort():
    result = subprocess.run([sys.executable, "-c", FUZZ, "11", "1500"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"procgen aborted (exit {result.returncode}): {result.stderr[-2000:]}"
    counts = {line.split()[0]: list(map(int, line.split()[1:])) for line in result.stdout.splitlines()}
    for game in ("maze", "coinrun"):
        rejected, accepted = counts[game]
        assert rejected + accepted == 1500 and rejected > 1000

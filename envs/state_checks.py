"""Decide whether a parsed procgen state is safe to hand to procgen's ``set_state``.

procgen trusts the bytes it deserializes: a bad length, an asset index past its table, a background index past
the loaded list or a theme past ``MAX_IMAGE_THEMES`` ends in a C++ ``fassert``, an uncaught ``std::out_of_range``
or undefined behaviour, and each of those aborts the whole Python process. :func:`check_state` accepts only
states whose every value that procgen uses as an index or a size lies inside what stock procgen 0.10.7
produces for that game (tables below, read from procgen/src and checked against generated levels), and whose
floats are finite. Everything else raises :class:`InvalidStateError` with the offending field named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from envs.state_codec import BODY_FIELDS, ENTITY_DTYPE, GAME_FIELDS, TAIL_FIELDS, ProcgenState, StateFormatError

# procgen/src/object-ids.h and the games' own constants
SPACE, MAZE_WALL, MAZE_GOAL = 100, 51, 2
COIN, WALL_MID, WALL_TOP, LAVA_MID, LAVA_TOP, ENEMY_BARRIER = 1, 15, 16, 17, 18, 19
PLAYER, SAW, ENEMY, CRATE, TRAIL = 0, 2, 5, 20, 59
MAX_ENTITIES = 5_000
MAX_ABS_FLOAT = 1e6
DISTRIBUTION_MODES = {"easy": 0, "hard": 1}


class InvalidStateError(StateFormatError):
    """A well-formed state whose values procgen would crash on (or that belongs to another configuration)."""


@dataclass(frozen=True)
class GameRules:
    """What stock procgen 0.10.7 can hold in one game's state."""

    grid_values: frozenset[int]
    # entity type -> {image_type: number of themes of that asset}
    entity_images: dict[int, dict[int, int]]
    n_backgrounds: int  # size of the background list procgen loads for this game
    out_of_bounds_object: int
    world_size: dict[int, int]  # distribution mode -> main_width == main_height

    @cached_property
    def grid_lookup(self) -> np.ndarray:
        """``grid_lookup[id]`` is True for a known object id (ids are < 256)."""
        table = np.zeros(256, dtype=bool)
        table[list(self.grid_values)] = True
        return table

    @cached_property
    def _themes_by_key(self) -> dict[int, int]:
        # key = type * 1000 + image_type, for a vectorized lookup over all entities
        return {t * 1000 + i: n for t, images in self.entity_images.items() for i, n in images.items()}

    @cached_property
    def image_keys(self) -> np.ndarray:
        return np.array(sorted(self._themes_by_key))

    @cached_property
    def image_themes(self) -> np.ndarray:
        """Number of themes for each entry of :attr:`image_keys`."""
        return np.array([self._themes_by_key[k] for k in self.image_keys])


RULES: dict[str, GameRules] = {
    "maze": GameRules(
        grid_values=frozenset({SPACE, MAZE_WALL, MAZE_GOAL}),
        entity_images={PLAYER: {0: 1}},
        n_backgrounds=9,  # topdown_backgrounds as loaded (index 9 raises std::out_of_range)
        out_of_bounds_object=MAZE_WALL,
        world_size={0: 15, 1: 25},
    ),
    "coinrun": GameRules(
        grid_values=frozenset({SPACE, COIN, WALL_MID, WALL_TOP, LAVA_MID, LAVA_TOP, ENEMY_BARRIER}),
        # 5 player colours, 9 walking enemies, 4 crate looks (coinrun.cpp asset_for_type)
        entity_images={PLAYER: {0: 5}, SAW: {2: 1, 3: 1}, ENEMY: {6: 9, 7: 9}, CRATE: {20: 4}, TRAIL: {59: 1}},
        n_backgrounds=62,  # platform_backgrounds as loaded (index 62 raises std::out_of_range)
        out_of_bounds_object=WALL_MID,
        world_size={0: 64, 1: 64},
    ),
}

_FLAGS = ("paint_vel_info", "use_monochrome_assets", "restrict_themes", "use_backgrounds", "center_agent",
          "use_sequential_levels", "use_easy_jump", "plain_assets", "grid_step", "step_done",
          "step_level_complete", "episode_done", "is_waiting_for_step", "use_procgen_background",
          "random_agent_start", "has_useful_vel_info", "level_seed_rand_gen.seeded", "rand_gen.seeded",
          "asset_rand_gen.seeded")
_SEEDED = ("level_seed_rand_gen.seeded", "rand_gen.seeded")  # every state procgen generates has these seeded
_RNG_TEXTS = ("level_seed_rand_gen.mt19937", "rand_gen.mt19937", "asset_rand_gen.mt19937")
_FLOAT_FIELDS = [name for name, kind in GAME_FIELDS + BODY_FIELDS if kind == "f"]
_ENTITY_FLOAT_COLUMNS = [i for i, name in enumerate(ENTITY_DTYPE.names) if ENTITY_DTYPE[name].kind == "f"]
_ENTITY_FLAG_COLUMNS = [ENTITY_DTYPE.names.index(name) for name in (
    "will_erase", "collides_with_entities", "is_reflected", "use_abs_coords", "smart_step", "avoids_collisions",
    "auto_erase")]


def _fail(message: str) -> None:
    raise InvalidStateError(f"invalid {message}")


def _check_mt19937_text(name: str, text: bytes) -> None:
    # libstdc++ writes a std::mt19937 as its 624 state words and its position (<= 624), space separated
    words_ok = text.count(b" ") == 624 and b"  " not in text and not text.startswith(b" ")
    position = text.rpartition(b" ")[2]
    if not (words_ok and not text.translate(None, b"0123456789 ") and position and int(position) <= 624):
        _fail(f"{name}: not a std::mt19937 state")


def check_state(state: ProcgenState, game: str, distribution_mode: int | None = None,
                use_backgrounds: bool | None = None) -> None:
    """Raise :class:`InvalidStateError` unless ``state`` is a safe ``game`` state.

    ``distribution_mode`` (0 easy, 1 hard), when given, must match the state's: it fixes the world size.
    ``use_backgrounds``, when given, must match the state's: a level is drawn as its environment was made.
    """
    if state.game != game:
        _fail(f"game: state is {state.game!r}, environment is {game!r}")
    rules = RULES[game]
    f = state.fields
    if f["use_generated_assets"] != 0:
        _fail("use_generated_assets: procgen cannot restore generated assets")
    mode = f["distribution_mode"]
    if mode not in rules.world_size:
        _fail(f"distribution_mode {mode}: misgen supports easy (0) and hard (1)")
    if distribution_mode is not None and mode != distribution_mode:
        _fail(f"distribution_mode {mode}: environment runs mode {distribution_mode}")
    for name in _FLAGS:
        if f[name] not in (0, 1):
            _fail(f"{name} = {f[name]} (expected 0 or 1)")
    if use_backgrounds is not None and f["use_backgrounds"] != int(use_backgrounds):
        _fail(f"use_backgrounds = {f['use_backgrounds']}: environment runs use_backgrounds = {int(use_backgrounds)}")
    for name in _SEEDED:  # procgen fasserts on drawing from an unseeded generator (randgen.cpp), aborting Python
        if f[name] != 1:
            _fail(f"{name} = {f[name]}: procgen draws from this generator, so it must be seeded (1)")
    for name in _RNG_TEXTS:
        _check_mt19937_text(name, f[name])
    for name in _FLOAT_FIELDS + [n for n, kind in TAIL_FIELDS[game] if kind == "f"]:
        if not (math.isfinite(f[name]) and abs(f[name]) <= MAX_ABS_FLOAT):
            _fail(f"{name} = {f[name]}")
    if not 0 <= f["level_seed_low"] < f["level_seed_high"]:
        _fail(f"level seed range [{f['level_seed_low']}, {f['level_seed_high']})")
    for name, high in (("action", 15), ("default_action", 15), ("move_action", 9), ("last_move_action", 9)):
        if not -1 <= f[name] < high:
            _fail(f"{name} = {f[name]}")
    if not 0 < f["timeout"] <= 100_000 or f["cur_time"] < 0:
        _fail(f"timer: cur_time {f['cur_time']}, timeout {f['timeout']}")
    if not 0 <= f["background_index"] < rules.n_backgrounds:
        _fail(f"background_index = {f['background_index']} (game has {rules.n_backgrounds})")
    if f["out_of_bounds_object"] != rules.out_of_bounds_object:
        _fail(f"out_of_bounds_object = {f['out_of_bounds_object']}")

    size = rules.world_size[mode]
    height, width = state.grid.shape
    if not (f["main_width"] == f["main_height"] == width == height == size) or f["grid_size"] != size * size:
        _fail(f"world size: grid {width}x{height}, main {f['main_width']}x{f['main_height']}, "
              f"grid_size {f['grid_size']}; {game} mode {mode} is {size}x{size}")
    check_grid_values(state.grid, game)
    _check_entities(state.entities, rules)
    if game == "maze":
        world_dim, maze_dim = f["world_dim"], f["maze_dim"]
        if world_dim != size or not (3 <= maze_dim <= world_dim and maze_dim % 2 == 1):
            _fail(f"maze size: maze_dim {maze_dim}, world_dim {world_dim}")
    else:
        if not 0 <= f["wall_theme"] < 6:
            _fail(f"wall_theme = {f['wall_theme']}")
        for name in ("has_support", "facing_right", "is_on_crate"):
            if f[name] not in (0, 1):
                _fail(f"{name} = {f[name]}")


def check_grid_values(grid: np.ndarray, game: str) -> None:
    """Raise :class:`InvalidStateError` unless every cell of ``grid`` holds an object id ``game`` knows."""
    lookup = RULES[game].grid_lookup
    if not (grid.min() >= 0 and grid.max() < 256 and lookup[grid].all()):
        known = (grid >= 0) & (grid < 256) & lookup[np.clip(grid, 0, 255)]
        _fail(f"grid: unknown object ids {np.unique(grid[~known]).tolist()}")


def _check_entities(entities: np.ndarray, rules: GameRules) -> None:
    if not 1 <= len(entities) <= MAX_ENTITIES:
        _fail(f"entity count {len(entities)}")
    if not np.any(entities["type"] == PLAYER):
        _fail("entities: no agent")
    # every field is 4 bytes: look at the records as one (n, 31) block instead of field by field
    raw = entities.view("<i4").reshape(len(entities), len(ENTITY_DTYPE.names))
    floats = raw[:, _ENTITY_FLOAT_COLUMNS].view("<f4")
    if not (np.isfinite(floats).all() and (np.abs(floats) <= MAX_ABS_FLOAT).all()):
        _fail("entity fields: non-finite or huge value")
    if not ((raw[:, _ENTITY_FLAG_COLUMNS] & ~1) == 0).all():
        _fail("entity flags: not 0/1")
    keys = entities["type"].astype(np.int64) * 1000 + entities["image_type"]
    slot = np.minimum(np.searchsorted(rules.image_keys, keys), len(rules.image_keys) - 1)
    theme = entities["image_theme"]
    ok = (rules.image_keys[slot] == keys) & (theme >= 0) & (theme < rules.image_themes[slot])
    if not ok.all():
        bad = entities[np.argmin(ok)]
        _fail(f"entity of type {bad['type']}: image {bad['image_type']}, theme {bad['image_theme']}")

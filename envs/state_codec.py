"""Parse and re-serialize the state bytes of stock procgen 0.10.7 (``maze`` and ``coinrun``).

procgen's ``get_state`` writes, in order (procgen/src, version 0.10.7):

1. ``Game::serialize``: version, game name, options, level-seed bookkeeping, two random generators
   (``is_seeded`` + the ``std::mt19937`` text), step data, timers;
2. ``BasicAbstractGame::serialize``: ``grid_size``, the entities (count + 31 fields each), background,
   movement and view fields, ``asset_rand_gen``, then the grid (``w``, ``h``, ``w*h`` cells, row-major with
   y up: cell index = y*w + x);
3. the game's own tail (maze: ``maze_dim``, ``world_dim``; coinrun: physics and theme fields);
4. the ``END_OF_BUFFER`` marker 0xCAFECAFE.

Every value is a little-endian int32 or float32; a string is an int32 length and that many bytes.
:func:`parse_state` and :func:`serialize_state` are driven by the same field tables, so a round trip is
byte-identical. Parsing checks only structure; :mod:`envs.state_checks` decides whether a parsed state is
safe to hand to procgen.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np

END_OF_BUFFER = struct.unpack("<i", struct.pack("<I", 0xCAFECAFE))[0]
SERIALIZE_VERSION = 0
GAMES = ("maze", "coinrun")

Kind = Literal["i", "f", "s"]  # int32, float32, length-prefixed string

# Game::serialize. A random generator is two fields: ``<name>.seeded`` (int) and ``<name>.mt19937`` (text).
GAME_FIELDS: list[tuple[str, Kind]] = [
    ("version", "i"), ("game_name", "s"),
    ("paint_vel_info", "i"), ("use_generated_assets", "i"), ("use_monochrome_assets", "i"),
    ("restrict_themes", "i"), ("use_backgrounds", "i"), ("center_agent", "i"), ("debug_mode", "i"),
    ("distribution_mode", "i"), ("use_sequential_levels", "i"), ("use_easy_jump", "i"),
    ("plain_assets", "i"), ("physics_mode", "i"),
    ("grid_step", "i"), ("level_seed_low", "i"), ("level_seed_high", "i"), ("game_type", "i"), ("game_n", "i"),
    ("level_seed_rand_gen.seeded", "i"), ("level_seed_rand_gen.mt19937", "s"),
    ("rand_gen.seeded", "i"), ("rand_gen.mt19937", "s"),
    ("step_reward", "f"), ("step_done", "i"), ("step_level_complete", "i"),
    ("action", "i"), ("timeout", "i"),
    ("current_level_seed", "i"), ("prev_level_seed", "i"), ("episodes_remaining", "i"), ("episode_done", "i"),
    ("last_reward_timer", "i"), ("last_reward", "f"), ("default_action", "i"),
    ("fixed_asset_seed", "i"), ("cur_time", "i"), ("is_waiting_for_step", "i"),
]

# BasicAbstractGame::serialize, between the entities and the grid.
BODY_FIELDS: list[tuple[str, Kind]] = [
    ("use_procgen_background", "i"), ("background_index", "i"), ("bg_tile_ratio", "f"), ("bg_pct_x", "f"),
    ("char_dim", "f"), ("last_move_action", "i"), ("move_action", "i"), ("special_action", "i"),
    ("mixrate", "f"), ("maxspeed", "f"), ("max_jump", "f"),
    ("action_vx", "f"), ("action_vy", "f"), ("action_vrot", "f"), ("center_x", "f"), ("center_y", "f"),
    ("random_agent_start", "i"), ("has_useful_vel_info", "i"), ("step_rand_int", "i"),
    ("asset_rand_gen.seeded", "i"), ("asset_rand_gen.mt19937", "s"),
    ("main_width", "i"), ("main_height", "i"), ("out_of_bounds_object", "i"),
    ("unit", "f"), ("view_dim", "f"), ("x_off", "f"), ("y_off", "f"), ("visibility", "f"), ("min_visibility", "f"),
]

# Each game's serialize() after BasicAbstractGame's (write_bool is an int 0/1).
TAIL_FIELDS: dict[str, list[tuple[str, Kind]]] = {
    "maze": [("maze_dim", "i"), ("world_dim", "i")],
    "coinrun": [
        ("last_agent_y", "f"), ("wall_theme", "i"), ("has_support", "i"), ("facing_right", "i"),
        ("is_on_crate", "i"), ("gravity", "f"), ("air_control", "f"),
    ],
}

# Entity::serialize: 31 little-endian fields, 124 bytes per entity.
ENTITY_DTYPE = np.dtype([
    ("x", "<f4"), ("y", "<f4"), ("vx", "<f4"), ("vy", "<f4"), ("rx", "<f4"), ("ry", "<f4"),
    ("type", "<i4"), ("image_type", "<i4"), ("image_theme", "<i4"), ("render_z", "<i4"),
    ("will_erase", "<i4"), ("collides_with_entities", "<i4"),
    ("collision_margin", "<f4"), ("rotation", "<f4"), ("vrot", "<f4"),
    ("is_reflected", "<i4"), ("fire_time", "<i4"), ("spawn_time", "<i4"), ("life_time", "<i4"),
    ("expire_time", "<i4"), ("use_abs_coords", "<i4"),
    ("friction", "<f4"), ("smart_step", "<i4"), ("avoids_collisions", "<i4"), ("auto_erase", "<i4"),
    ("alpha", "<f4"), ("health", "<f4"), ("theta", "<f4"), ("grow_rate", "<f4"), ("alpha_decay", "<f4"),
    ("climber_spawn_x", "<f4"),
])
PLAYER = 0  # entity type of the agent (object-ids.h)


class StateFormatError(ValueError):
    """The bytes are not a well-formed procgen 0.10.7 maze/coinrun state."""


@dataclass
class ProcgenState:
    """A parsed procgen state. ``grid[y, x]`` is the object id of world cell (x, y), y growing upward."""

    game: str
    fields: dict[str, int | float | bytes]
    entities: np.ndarray  # structured ENTITY_DTYPE, shape (n_entities,)
    grid: np.ndarray  # int32, shape (main_height, main_width)

    @property
    def agent(self) -> np.void:
        return find_agent(self.entities)

    @property
    def level_seed(self) -> int:
        return int(self.fields["current_level_seed"])

    def copy(self) -> "ProcgenState":
        return ProcgenState(self.game, dict(self.fields), self.entities.copy(), self.grid.copy())


def find_agent(entities: np.ndarray) -> np.void:
    """The agent entity: procgen takes the first entity of type PLAYER."""
    players = np.flatnonzero(entities["type"] == PLAYER)
    if players.size == 0:
        raise StateFormatError("state has no agent entity")
    return entities[players[0]]


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.offset = 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.offset + n > len(self.data):
            raise StateFormatError(f"state truncated or corrupt: {what} needs {n} bytes at offset {self.offset}, "
                                   f"{len(self.data) - self.offset} left")

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        self.need(layout.size, what)
        values = layout.unpack_from(self.data, self.offset)
        self.offset += layout.size
        return values

    def string(self, what: str) -> bytes:
        (length,) = self.unpack(_INT, what)
        self.need(length, what)
        self.offset += length
        return bytes(self.data[self.offset - length:self.offset])

    def array(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        if count < 0:
            raise StateFormatError(f"state corrupt: negative {what} count {count}")
        size = count * dtype.itemsize
        self.need(size, what)
        # a writable copy; copying the bytes first is ~10x faster than copying a structured array
        array = np.frombuffer(bytearray(self.data[self.offset:self.offset + size]), dtype=dtype)
        self.offset += size
        return array


_INT = struct.Struct("<i")


class _Section:
    """A field table compiled into runs: one struct per stretch of numbers, each string on its own."""

    def __init__(self, spec: list[tuple[str, Kind]]):
        self.runs: list[tuple[list[str], struct.Struct | None]] = []
        numbers: list[tuple[str, Kind]] = []
        for name, kind in spec + [("", "s")]:  # a sentinel string flushes the last stretch
            if kind != "s":
                numbers.append((name, kind))
                continue
            if numbers:
                self.runs.append(([n for n, _ in numbers], struct.Struct("<" + "".join(k for _, k in numbers))))
                numbers = []
            if name:
                self.runs.append(([name], None))

    def read(self, reader: _Reader, out: dict) -> None:
        for names, layout in self.runs:
            if layout is None:
                out[names[0]] = reader.string(names[0])
            else:
                out.update(zip(names, reader.unpack(layout, names[0])))

    def skip(self, reader: _Reader) -> None:
        """Move past this section without building its fields (strings still have their lengths checked)."""
        for names, layout in self.runs:
            if layout is None:
                (length,) = reader.unpack(_INT, names[0])
                reader.need(length, names[0])
                reader.offset += length
            else:
                reader.need(layout.size, names[0])
                reader.offset += layout.size

    def write(self, parts: list[bytes], fields: dict) -> None:
        for names, layout in self.runs:
            if layout is None:
                value = fields[names[0]]
                parts.append(_INT.pack(len(value)) + value)
            else:
                parts.append(layout.pack(*(fields[n] for n in names)))


_HEAD, _GAME, _BODY = _Section(GAME_FIELDS[:2]), _Section(GAME_FIELDS[2:]), _Section(BODY_FIELDS)
_TAILS = {game: _Section(spec) for game, spec in TAIL_FIELDS.items()}


def parse_state(data: bytes, game: str | None = None) -> ProcgenState:
    """Parse procgen state bytes. ``game`` (if given) must match the game name inside the bytes.

    Raises :class:`StateFormatError` on truncated, over-long or structurally corrupt bytes.
    """
    reader = _Reader(data)
    fields: dict[str, int | float | bytes] = {}
    _HEAD.read(reader, fields)
    if fields["version"] != SERIALIZE_VERSION:
        raise StateFormatError(f"unsupported procgen state version {fields['version']} (expected 0)")
    name = fields["game_name"].decode("ascii", errors="replace")
    if name not in GAMES:
        raise StateFormatError(f"state is for game {name!r}; misgen reads {', '.join(GAMES)}")
    if game is not None and name != game:
        raise StateFormatError(f"state is for game {name!r}, expected {game!r}")
    _GAME.read(reader, fields)
    fields["grid_size"], n_entities = reader.unpack(_TWO_INTS, "entity count")
    entities = reader.array(ENTITY_DTYPE, n_entities, "entities")
    _BODY.read(reader, fields)
    width, height, n_cells = reader.unpack(_THREE_INTS, "grid size")
    if width <= 0 or height <= 0 or n_cells != width * height:
        raise StateFormatError(f"state corrupt: grid {width}x{height} with {n_cells} cells")
    grid = reader.array(np.dtype("<i4"), n_cells, "grid").reshape(height, width)
    _TAILS[name].read(reader, fields)
    if reader.unpack(_INT, "end marker")[0] != END_OF_BUFFER:
        raise StateFormatError("state corrupt: end-of-buffer marker missing")
    if reader.offset != len(data):
        raise StateFormatError(f"state has {len(data) - reader.offset} trailing bytes")
    return ProcgenState(name, fields, entities, grid)


_TWO_INTS, _THREE_INTS = struct.Struct("<ii"), struct.Struct("<iii")


def read_entities(data: bytes) -> np.ndarray:
    """Only the entities of a state (ENTITY_DTYPE records): a cheap way to find the agent (a few microseconds:
    the fields before them are skipped by size, not parsed)."""
    reader = _Reader(data)
    _HEAD.skip(reader)
    _GAME.skip(reader)
    _, n_entities = reader.unpack(_TWO_INTS, "entity count")
    return reader.array(ENTITY_DTYPE, n_entities, "entities")


def grid_byte_range(state: ProcgenState, n_bytes: int) -> tuple[int, int]:
    """Where ``state``'s grid cells lie in its ``n_bytes``-long serialization: [start, stop). Only the game's
    tail (numbers, no strings) and the end marker follow them."""
    tail = sum(layout.size for _, layout in _TAILS[state.game].runs)
    stop = n_bytes - tail - _INT.size
    return stop - state.grid.size * 4, stop


def serialize_state(state: ProcgenState) -> bytes:
    """The bytes procgen's ``set_state`` reads for ``state`` (inverse of :func:`parse_state`).

    Raises :class:`StateFormatError` when a field does not fit its int32 / float32 slot."""
    try:
        return _serialize(state)
    except (struct.error, KeyError, TypeError, ValueError) as error:
        raise StateFormatError(f"state cannot be serialized: {error}") from None


def _serialize(state: ProcgenState) -> bytes:
    parts: list[bytes] = []
    _HEAD.write(parts, state.fields)
    _GAME.write(parts, state.fields)
    parts.append(_TWO_INTS.pack(state.fields["grid_size"], len(state.entities)))
    parts.append(np.ascontiguousarray(state.entities, dtype=ENTITY_DTYPE).tobytes())
    _BODY.write(parts, state.fields)
    height, width = state.grid.shape
    parts.append(_THREE_INTS.pack(width, height, width * height))
    parts.append(np.ascontiguousarray(state.grid, dtype="<i4").tobytes())
    _TAILS[state.game].write(parts, state.fields)
    parts.append(_INT.pack(END_OF_BUFFER))
    return b"".join(parts)

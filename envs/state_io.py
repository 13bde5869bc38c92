"""Read and write the state of one environment of a ``ProcgenGym3Env`` by index, checking before every write.

The C library's ``get_state`` / ``set_state`` take an environment index; procgen's own Python wrapper only
offers all environments at once. ``set_state`` re-renders that environment's observation, so the next
``observe()`` already shows the written state.

Every write is checked. A state that differs from the bytes last read from (or checked into) the same
environment only in grid cells, the way every variant edits a level, needs only those cells checked: every
other byte is one procgen wrote itself or one already checked. Any other state gets
:func:`~envs.state_checks.check_state` in full.
"""

from __future__ import annotations

from procgen import ProcgenGym3Env
from procgen.env import MAX_STATE_SIZE

from envs.state_checks import check_grid_values, check_state
from envs.state_codec import ProcgenState, StateFormatError, grid_byte_range, parse_state, serialize_state
from envs.variants import EnvConfig


class StateAccess:
    """Per-index state access to ``env`` for ``game`` in ``distribution_mode`` (0 easy, 1 hard), made with
    procgen's ``use_backgrounds`` option as given: a state carries both, and one that differs is refused."""

    def __init__(self, env: ProcgenGym3Env, game: str, distribution_mode: int, use_backgrounds: bool = True):
        self.env = env
        self.game = game
        self.distribution_mode = distribution_mode
        self.use_backgrounds = use_backgrounds
        self._buffer = env._ffi.new(f"char[{MAX_STATE_SIZE}]")
        self._trusted: dict[int, bytes] = {}  # per env: the last bytes procgen wrote or we checked

    @classmethod
    def of(cls, env: ProcgenGym3Env, config: EnvConfig) -> "StateAccess":
        """State access to ``env``, made from ``config`` (envs.levels.make_gym3)."""
        return cls(env, config.game, config.mode_id, config.use_backgrounds)

    def get_bytes(self, index: int) -> bytes:
        n = self.env.call_c_func("get_state", index, self._buffer, MAX_STATE_SIZE)
        data = bytes(self.env._ffi.buffer(self._buffer, n))
        self._trusted[index] = data
        return data

    def get(self, index: int) -> ProcgenState:
        return parse_state(self.get_bytes(index), self.game)

    def set(self, index: int, state: ProcgenState | bytes) -> None:
        """Write ``state`` into environment ``index``; raises before procgen sees anything invalid."""
        if isinstance(state, bytes):
            state = parse_state(state, self.game)
        try:
            data = serialize_state(state)
        except StateFormatError:
            check_state(state, self.game, self.distribution_mode, self.use_backgrounds)  # names the bad field
            raise
        if self._only_grid_differs(index, state, data):
            check_grid_values(state.grid, self.game)
        else:
            check_state(state, self.game, self.distribution_mode, self.use_backgrounds)
        self.env.call_c_func("set_state", index, data, len(data))
        self._trusted[index] = data

    def _only_grid_differs(self, index: int, state: ProcgenState, data: bytes) -> bool:
        """True if ``data``, ``state``'s bytes, differ from env ``index``'s trusted bytes in grid cells at most."""
        trusted = self._trusted.get(index)
        if trusted is None or state.game != self.game or len(data) != len(trusted):
            return False
        start, stop = grid_byte_range(state, len(data))
        return data[:start] == trusted[:start] and data[stop:] == trusted[stop:]

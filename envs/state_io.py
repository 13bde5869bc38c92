"""Read and write the state of one environment of a ``ProcgenGym3Env`` by index, checking before every write.

The C library's ``get_state`` / ``set_state`` take an environment index; procgen's own Python wrapper only
offers all environments at once. ``set_state`` re-renders that environment's observation, so the next
``observe()`` already shows the written state.
"""

from __future__ import annotations

from procgen import ProcgenGym3Env
from procgen.env import MAX_STATE_SIZE

from envs.state_checks import check_state
from envs.state_codec import ProcgenState, parse_state, serialize_state


class StateAccess:
    """Per-index state access to ``env`` for ``game`` in ``distribution_mode`` (0 easy, 1 hard)."""

    def __init__(self, env: ProcgenGym3Env, game: str, distribution_mode: int):
        self.env = env
        self.game = game
        self.distribution_mode = distribution_mode
        self._buffer = env._ffi.new(f"char[{MAX_STATE_SIZE}]")

    def get_bytes(self, index: int) -> bytes:
        n = self.env.call_c_func("get_state", index, self._buffer, MAX_STATE_SIZE)
        return bytes(self.env._ffi.buffer(self._buffer, n))

    def get(self, index: int) -> ProcgenState:
        return parse_state(self.get_bytes(index), self.game)

    def set(self, index: int, state: ProcgenState | bytes) -> None:
        """Write ``state`` into environment ``index``; raises before procgen sees anything invalid."""
        if isinstance(state, bytes):
            state = parse_state(state, self.game)
        check_state(state, self.game, self.distribution_mode)
        data = serialize_state(state)
        self.env.call_c_func("set_state", index, data, len(data))

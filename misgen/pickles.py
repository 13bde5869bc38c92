"""Unpickling that resolves only the globals a file kind is made of.

A pickle names the callables that rebuild it, and ``pickle.load`` calls them: a damaged or foreign pickle can run
anything while it loads. misgen's readers of SB3's pickled parts (misgen/rundir.py's ``vecnormalize.pkl``,
misgen/model_zip.py's serialized entries) unpickle through :func:`load_allowed`, which refuses any other global
before it is resolved.
"""

from __future__ import annotations

import pickle
from typing import BinaryIO, Callable

# numpy's pieces of a pickled array, scalar or random generator (numpy 1 and 2 spell their modules differently);
# exact (module, name) pairs, so that a dotted name cannot reach an attribute of an allowed module
NUMPY_GLOBALS = frozenset({
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random._mt19937", "MT19937"),
})
GYMNASIUM_SPACES = frozenset({("gymnasium.spaces.box", "Box"), ("gymnasium.spaces.discrete", "Discrete")})


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, allowed: Callable[[str, str], bool], made_of: str):
        super().__init__(file)
        self.allowed, self.made_of = allowed, made_of

    def find_class(self, module: str, name: str):
        if not self.allowed(module, name):
            raise pickle.UnpicklingError(f"it names {module}.{name}, not part of {self.made_of}")
        return super().find_class(module, name)


def load_allowed(file: BinaryIO, allowed: Callable[[str, str], bool], made_of: str):
    """Unpickle ``file``, resolving a global (module, name) only where ``allowed`` says so; any other raises
    ``pickle.UnpicklingError`` ("it names M.N, not part of ``made_of``") before it is resolved."""
    return _AllowListUnpickler(file, allowed, made_of).load()

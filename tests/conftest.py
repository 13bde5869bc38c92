"""Shared helpers: real procgen environments, shrunk in size."""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import envs  # noqa: F401  (quiet procgen import)
from envs.levels import LevelLoader, make_gym3
from envs.state_io import StateAccess
from envs.variants import EnvConfig

# The console script of the interpreter running the tests: CI runs .venv/bin/python without activating the venv.
MISGEN = str(Path(sys.executable).parent / "misgen")

# procgen action indices: (dx + 1) * 3 + (dy + 1)
LEFT, DOWN, STAY, UP, RIGHT, RIGHT_UP = 1, 3, 4, 5, 7, 8
MOVES = {(1, 0): RIGHT, (-1, 0): LEFT, (0, 1): UP, (0, -1): DOWN}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def level_states(config: EnvConfig, seeds, edited: bool = True):
    """States of the given level seeds under ``config`` (edited by its variant unless ``edited`` is False)."""
    loader = LevelLoader(config)
    try:
        return [loader.state(seed, edited=edited) for seed in seeds]
    finally:
        loader.close()


def render(config: EnvConfig, state) -> np.ndarray:
    """procgen's 64x64 observation of ``state`` (HWC uint8), from a fresh one-env instance."""
    env = make_gym3(config, 1, 0, 0)
    try:
        StateAccess.of(env, config).set(0, state)
        return env.observe()[1]["rgb"][0].copy()
    finally:
        env.close()


def misgen_in_process(args: list[str]) -> subprocess.CompletedProcess:
    """``misgen ARGS`` through the console script's own entry point (``cli.main``), in this process: what the
    installed command prints and exits with, without a second of interpreter and torch start-up per call. Warnings
    count as stderr lines, as the installed command would print them, and an exception ``main`` lets through exits
    1 with its traceback. Commands that could crash the process (procgen states) or train belong in a subprocess.
    C-level writes to file descriptor 2 are not seen here."""
    from cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["misgen", *args]
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # then what Python and pyproject.toml leave out
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("ignore", message="Gym has been unmaintained")
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except Exception:  # noqa: BLE001  (what the installed command would die of)
                stderr.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = argv
    text = stderr.getvalue() + "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                                       for w in caught)
    return subprocess.CompletedProcess(["misgen", *args], code, stdout.getvalue(), text)


def digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory``, by relative path: "nothing was written" in one comparison."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}

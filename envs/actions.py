"""Action sets: which procgen actions a policy chooses among.

procgen gives every game the same 15 actions. In maze, 8 of them move the mouse (three move left, three move
right, one up, one down: maze drops the vertical part of a diagonal move) and 7 stand still, so a uniformly
random policy moves sideways 3 times as often as up or down, and stands still almost half the time. A ``moves``
policy chooses among maze's four distinct moves instead; its random walk is isotropic and never idle.

Actions 9 to 14 are "special" keys that only some games read; elsewhere they stand still, like action 4. CoinRun
reads none, so of its 15 actions 9 differ (left, none or right, each with down, none or up: down drops through a
crate): a ``directions`` policy chooses among those, and a random one stands still a ninth of the time, not
seven fifteenths.

The environment stays procgen's: the VecEnv takes procgen's actions, episode files store them, and a policy's
choice ``i`` is procgen action ``ACTION_SETS[name][i]``. A policy's action set follows from its action space's
size (:func:`action_set_of`), so a saved model needs no extra field.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from envs.probes import N_ACTIONS

ACTION_SETS: dict[str, np.ndarray] = {
    "procgen": np.arange(N_ACTIONS, dtype=np.int32),
    "moves": np.array([1, 3, 5, 7], dtype=np.int32),  # procgen's LEFT, DOWN, UP, RIGHT
    "directions": np.arange(9, dtype=np.int32),  # (left, none, right) x (down, none, up); no special keys
}


def action_set_of(n_choices: int) -> str:
    """The name of the action set with ``n_choices`` actions."""
    for name, actions in ACTION_SETS.items():
        if len(actions) == n_choices:
            return name
    sizes = ", ".join(f"{name} {len(actions)}" for name, actions in ACTION_SETS.items())
    raise ValueError(f"a policy with {n_choices} actions matches no action set ({sizes})")


def to_procgen(action_set: str, choices: np.ndarray) -> np.ndarray:
    """procgen actions for a policy's ``choices`` (indices into its action set)."""
    return ACTION_SETS[action_set][np.asarray(choices, dtype=np.int64)]


class ActionSetVecEnv(VecEnvWrapper):
    """A VecEnv whose policy chooses among ``action_set``; each choice is stepped as its procgen action."""

    def __init__(self, venv: VecEnv, action_set: str):
        if action_set not in ACTION_SETS:
            raise ValueError(f"unknown action set {action_set!r}; choose from {', '.join(ACTION_SETS)}")
        self.action_set = action_set
        super().__init__(venv, action_space=spaces.Discrete(len(ACTION_SETS[action_set])))

    def reset(self) -> np.ndarray:
        return self.venv.reset()

    def step_async(self, actions: np.ndarray) -> None:
        self.venv.step_async(to_procgen(self.action_set, actions))

    def step_wait(self):
        return self.venv.step_wait()

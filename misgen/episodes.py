"""Episode files (HDF5): everything needed to re-simulate, check and render recorded episodes.

Layout (format 1). One group per episode, ``episodes/00000``, ``episodes/00001``, ... L = episode length.

=====================  ===========  ======================================================================
``initial_state``      (bytes,) u8  procgen state at the episode's start, after the variant's edit
``actions``            (L,) u8      procgen action indices (0..14)
``rewards``            (L,) f32
``agent_cells``        (L, 2) i16   the agent's world cell (x, y; y up) when each action was chosen
``action_probs``       (L, 15) f16  optional: the policy's action distribution
``values``             (L,) f32     optional: the policy's value estimate
``frames``             (L, 64, 64, 3) u8  optional: the observation each action was chosen on
=====================  ===========  ======================================================================

Episode attrs: ``level_seed``, ``level_index`` (position in the evaluation's seed list), ``length``,
``return``, ``goal_reached``, ``proxy_reached``, ``goal_step``, ``proxy_step`` (-1: never), ``goal_cell``
(world x, y at the start). File attrs: ``misgen_episodes_format``, ``variant``, ``env_config`` (JSON),
``policy`` (where the actions came from), ``deterministic``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from misgen.errors import MisgenError

FORMAT_VERSION = 1
EVENT_ATTRS = ("level_seed", "level_index", "length", "return", "goal_reached", "proxy_reached", "goal_step",
               "proxy_step")


@dataclass
class EpisodeRecord:
    level_seed: int
    level_index: int
    initial_state: bytes
    actions: np.ndarray  # (L,)
    rewards: np.ndarray  # (L,)
    agent_cells: np.ndarray  # (L, 2)
    goal_reached: bool
    proxy_reached: bool
    goal_step: int
    proxy_step: int
    goal_cell: tuple[int, int] | None
    action_probs: np.ndarray | None = None
    values: np.ndarray | None = None
    frames: np.ndarray | None = None

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards))


class EpisodeWriter:
    """Writes episodes to a new file (refuses to overwrite one)."""

    def __init__(self, path: Path, variant: str, env_config: dict, policy: str, deterministic: bool):
        path = Path(path)
        if path.exists():
            raise MisgenError(f"{path} exists; episode files are never overwritten")
        try:
            self.file = h5py.File(path, "w-")
        except OSError as error:
            raise MisgenError(f"cannot write {path}: {error.strerror or error}") from None
        self.file.attrs.update({"misgen_episodes_format": FORMAT_VERSION, "variant": variant,
                                "env_config": json.dumps(env_config), "policy": policy,
                                "deterministic": deterministic})
        self.count = 0

    def write(self, episode: EpisodeRecord) -> None:
        group = self.file.create_group(f"episodes/{self.count:05d}")
        group.create_dataset("initial_state", data=np.frombuffer(episode.initial_state, dtype=np.uint8))
        group.create_dataset("actions", data=np.asarray(episode.actions, dtype=np.uint8))
        group.create_dataset("rewards", data=np.asarray(episode.rewards, dtype=np.float32))
        group.create_dataset("agent_cells", data=np.asarray(episode.agent_cells, dtype=np.int16).reshape(-1, 2))
        for name in ("action_probs", "values", "frames"):
            value = getattr(episode, name)
            if value is not None:
                dtype = {"action_probs": np.float16, "values": np.float32, "frames": np.uint8}[name]
                group.create_dataset(name, data=np.asarray(value, dtype=dtype), compression="gzip" if name == "frames"
                                     else None)
        group.attrs.update({"level_seed": episode.level_seed, "level_index": episode.level_index,
                            "length": episode.length, "return": episode.episode_return,
                            "goal_reached": episode.goal_reached, "proxy_reached": episode.proxy_reached,
                            "goal_step": episode.goal_step, "proxy_step": episode.proxy_step,
                            "goal_cell": np.array(episode.goal_cell if episode.goal_cell else (-1, -1))})
        self.count += 1

    def close(self) -> None:
        self.file.close()


class EpisodeFile:
    """Read access to an episode file; malformed files raise :class:`MisgenError`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise MisgenError(f"{self.path}: no such episode file")
        try:
            self.file = h5py.File(self.path, "r")
            if self.file.attrs.get("misgen_episodes_format") != FORMAT_VERSION:
                raise MisgenError(f"{self.path}: not a misgen episode file")
            self.names = sorted(self.file["episodes"]) if "episodes" in self.file else []
            self.variant = str(self.file.attrs["variant"])
            self.env_config = json.loads(self.file.attrs["env_config"])
            self.policy = str(self.file.attrs["policy"])
        except (OSError, KeyError, ValueError) as error:
            raise MisgenError(f"{self.path}: corrupt episode file ({error})") from None

    def __len__(self) -> int:
        return len(self.names)

    def episode(self, index: int) -> EpisodeRecord:
        if not 0 <= index < len(self.names):
            raise MisgenError(f"{self.path}: no episode {index} (the file holds {len(self.names)})")
        try:
            group = self.file["episodes"][self.names[index]]
            attrs = {name: group.attrs[name] for name in EVENT_ATTRS}
            goal = tuple(int(v) for v in group.attrs["goal_cell"])
            optional = {name: group[name][:] if name in group else None for name in ("action_probs", "values",
                                                                                     "frames")}
            record = EpisodeRecord(
                level_seed=int(attrs["level_seed"]), level_index=int(attrs["level_index"]),
                initial_state=group["initial_state"][:].tobytes(), actions=group["actions"][:],
                rewards=group["rewards"][:], agent_cells=group["agent_cells"][:],
                goal_reached=bool(attrs["goal_reached"]), proxy_reached=bool(attrs["proxy_reached"]),
                goal_step=int(attrs["goal_step"]), proxy_step=int(attrs["proxy_step"]),
                goal_cell=None if goal == (-1, -1) else goal, **optional)
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise MisgenError(f"{self.path}: episode {index} is corrupt ({error})") from None
        if not (len(record.rewards) == record.length == len(record.agent_cells) == int(attrs["length"])):
            raise MisgenError(f"{self.path}: episode {index} has inconsistent lengths")
        return record

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "EpisodeFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
``policy`` (where the actions came from), ``deterministic``. Every dataset carries HDF5's Fletcher-32
checksum: a read of damaged bytes is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from misgen.errors import MisgenError, one_line
from misgen.schema import (CHECKSUM, FLOAT, INTEGER, Attr, Dataset, check_datasets, note_unchecked, open_hdf5,
                           read_attrs, read_dataset)

FORMAT_VERSION = 1
N_ACTIONS = 15  # procgen's action set (envs/probes.py)
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
        group.create_dataset("initial_state", data=np.frombuffer(episode.initial_state, dtype=np.uint8), **CHECKSUM)
        group.create_dataset("actions", data=np.asarray(episode.actions, dtype=np.uint8), **CHECKSUM)
        group.create_dataset("rewards", data=np.asarray(episode.rewards, dtype=np.float32), **CHECKSUM)
        group.create_dataset("agent_cells", data=np.asarray(episode.agent_cells, dtype=np.int16).reshape(-1, 2),
                             **CHECKSUM)
        for name in ("action_probs", "values", "frames"):
            value = getattr(episode, name)
            if value is not None:
                dtype = {"action_probs": np.float16, "values": np.float32, "frames": np.uint8}[name]
                group.create_dataset(name, data=np.asarray(value, dtype=dtype), compression="gzip" if name == "frames"
                                     else None, **CHECKSUM)
        group.attrs.update({"level_seed": episode.level_seed, "level_index": episode.level_index,
                            "length": episode.length, "return": episode.episode_return,
                            "goal_reached": episode.goal_reached, "proxy_reached": episode.proxy_reached,
                            "goal_step": episode.goal_step, "proxy_step": episode.proxy_step,
                            "goal_cell": np.array(episode.goal_cell if episode.goal_cell else (-1, -1))})
        self.count += 1

    def close(self) -> None:
        self.file.close()


FILE_ATTRS = [Attr("misgen_episodes_format", "int"), Attr("variant", "str"), Attr("env_config", "json_dict"),
              Attr("policy", "str"), Attr("deterministic", "bool")]
EPISODE_ATTRS = [Attr("level_seed", "int"), Attr("level_index", "int"), Attr("length", "int"), Attr("return", "float"),
                 Attr("goal_reached", "bool"), Attr("proxy_reached", "bool"), Attr("goal_step", "int"),
                 Attr("proxy_step", "int"), Attr("goal_cell", "int_pair")]
EPISODE_DATASETS = [Dataset("initial_state", ("S",), "u"), Dataset("actions", ("L",), "u"),
                    Dataset("rewards", ("L",), FLOAT), Dataset("agent_cells", ("L", 2), INTEGER),
                    Dataset("action_probs", ("L", N_ACTIONS), FLOAT, optional=True),
                    Dataset("values", ("L",), FLOAT, optional=True),
                    Dataset("frames", ("L", 64, 64, 3), "u", optional=True)]
MAX_LEVEL_SEED = 2**31 - 1


class EpisodeFile:
    """Read access to an episode file, validated against the layout above: the file's attrs on open, each
    episode's datasets, attrs and their agreement when it is read; any deviation raises one
    :class:`MisgenError` naming the file and the field. (The procgen state in ``initial_state`` is checked by
    whoever hands it to procgen: envs/state_checks.py.)"""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.file = open_hdf5(self.path, "episode file")
        try:
            if self.file.attrs.get("misgen_episodes_format") != FORMAT_VERSION:
                raise MisgenError(f"{self.path}: not a misgen episode file (format "
                                  f"{self.file.attrs.get('misgen_episodes_format')!r}, expected {FORMAT_VERSION})")
            attrs = read_attrs(self.file, self.path, FILE_ATTRS)
            episodes = self.file.get("episodes")
            if episodes is not None and not isinstance(episodes, h5py.Group):
                raise MisgenError(f"{self.path}: 'episodes' is not a group")
            self.names = sorted(episodes) if episodes is not None else []
            note_unchecked(self.file, self.path)
        except MisgenError:
            self.file.close()
            raise
        except (OSError, KeyError, ValueError) as error:
            self.file.close()
            raise MisgenError(f"{self.path}: corrupt episode file ({one_line(error)})") from None
        self.variant, self.env_config, self.policy = attrs["variant"], attrs["env_config"], attrs["policy"]

    def __len__(self) -> int:
        return len(self.names)

    def episode(self, index: int) -> EpisodeRecord:
        if not 0 <= index < len(self.names):
            raise MisgenError(f"{self.path}: no episode {index} (the file holds {len(self.names)})")
        where = f"episodes/{self.names[index]}/"
        try:
            group = self.file["episodes"][self.names[index]]
            if not isinstance(group, h5py.Group):
                raise MisgenError(f"{self.path}: {where[:-1]} is not a group")
            attrs = read_attrs(group, self.path, EPISODE_ATTRS, where)
            sizes = check_datasets(group, self.path, EPISODE_DATASETS, where=where)
            read = lambda name: read_dataset(group[name], self.path)  # noqa: E731
            optional = {name: read(name) if name in group else None for name in ("action_probs", "values", "frames")}
            record = EpisodeRecord(
                level_seed=attrs["level_seed"], level_index=attrs["level_index"],
                initial_state=read("initial_state").tobytes(), actions=read("actions"),
                rewards=read("rewards"), agent_cells=read("agent_cells"),
                goal_reached=attrs["goal_reached"], proxy_reached=attrs["proxy_reached"],
                goal_step=attrs["goal_step"], proxy_step=attrs["proxy_step"],
                goal_cell=None if attrs["goal_cell"] == (-1, -1) else attrs["goal_cell"], **optional)
        except MisgenError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise MisgenError(f"{self.path}: episode {index} is corrupt ({one_line(error)})") from None
        self._check(record, attrs, sizes, where)
        return record

    def _check(self, record: EpisodeRecord, attrs: dict, sizes: dict[str, int], where: str) -> None:
        """Rules across an episode's fields that the layout's shapes cannot state."""
        problem = None
        if attrs["length"] != sizes["L"] or sizes["L"] < 1:
            problem = f"attr '{where}length' is {attrs['length']}, its datasets hold {sizes['L']} steps"
        elif sizes["S"] == 0:
            problem = f"dataset '{where}initial_state' is empty"
        elif not 0 <= record.level_seed <= MAX_LEVEL_SEED:
            problem = f"attr '{where}level_seed' is {record.level_seed}, outside 0..{MAX_LEVEL_SEED}"
        elif record.level_index < 0:
            problem = f"attr '{where}level_index' is {record.level_index}, must be >= 0"
        elif int(record.actions.max()) >= N_ACTIONS:
            problem = f"dataset '{where}actions' holds {int(record.actions.max())}, procgen's actions are 0..{N_ACTIONS - 1}"
        elif not np.all(np.isfinite(record.rewards)):
            problem = f"dataset '{where}rewards' holds NaN or infinite values"
        else:
            for name, reached in (("goal_step", record.goal_reached), ("proxy_step", record.proxy_reached)):
                step = attrs[name]
                if not -1 <= step <= record.length or (step >= 0) != reached:
                    problem = (f"attr '{where}{name}' is {step}: it must be -1 when the event never happened, else a "
                               f"step in 0..{record.length}")
                    break
        if problem:
            raise MisgenError(f"{self.path}: {problem}")

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "EpisodeFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The run directory ``runs/NAME/``: what a training run writes, and where.

=========================  ===================================================================================
``config.json``            variant and env options, hyperparameters, recording options, seed, device, package
                           versions, git commit, misgen version, ``machine`` ({cpu_count, torch_threads} of the
                           process that wrote it: a resumed run rewrites it); ``--resume`` trains with its hyperparameters
                           (a coefficient edited between sessions takes effect and is announced; the earlier
                           value stays in the earlier checkpoints' zips; n_steps, batch size, epochs and gamma
                           cannot change)
``model.zip``              the final policy (SB3 ``PPO.save``; read through misgen/model_zip.py)
``vecnormalize.pkl``       reward-normalisation statistics (SB3 ``VecNormalize``, pickled); read only through
                           :func:`read_normalization`, which unpickles nothing but SB3's and numpy's own classes
``checkpoints/``           ``step_<T>.zip`` + ``step_<T>.pkl`` + ``step_<T>.json`` (T = env timesteps): model
                           zip with optimizer state, normalisation statistics, and {timesteps, optimizer_step};
                           what ``--resume`` continues from
``recording.h5``           gradient/update time series (misgen/recording.py)
``logs/``                  ``progress.csv`` (one row per rollout) and TensorBoard events; a resumed run keeps the
                           earlier rows in ``progress_until_<T>.csv`` (``_2``, ``_3``, ... when resumed
                           from the same checkpoint again)
``learning_curve.png``     return, goal and proxy rates of the training episodes against env steps
                           (agents/learning_curve.py), redrawn whenever training stops
=========================  ===================================================================================
"""

from __future__ import annotations

import json
import math
import pickle
import platform
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from misgen import __version__
from misgen.errors import MisgenError
from misgen.pickles import GYMNASIUM_SPACES, NUMPY_GLOBALS, load_allowed

CONFIG_SECTIONS = {"variant": str, "env": dict, "ppo": dict, "record": dict, "timesteps": int, "seed": int,
                   "checkpoint_every": int}
NORMALIZATION_GLOBALS = NUMPY_GLOBALS | GYMNASIUM_SPACES | {  # what SB3's VecNormalize pickle is made of
    ("stable_baselines3.common.vec_env.vec_normalize", "VecNormalize"),
    ("stable_baselines3.common.running_mean_std", "RunningMeanStd"),
}
PACKAGES = ("torch", "stable-baselines3", "procgen-mirror", "gymnasium", "numpy", "h5py")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "misgen": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass(frozen=True)
class Checkpoint:
    timesteps: int
    optimizer_step: int
    model: Path
    normalization: Path


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def model(self) -> Path:
        return self.path / "model.zip"

    @property
    def normalization(self) -> Path:
        return self.path / "vecnormalize.pkl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def recording(self) -> Path:
        return self.path / "recording.h5"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def create(self, resume: bool) -> None:
        """Make the directory for a new run (refusing to reuse one) or check it holds a run to resume."""
        if resume:
            if not self.config_file.is_file():
                raise MisgenError(f"{self.path}: no run to resume (config.json missing)")
            return
        if self.path.exists() and any(self.path.iterdir()):
            raise MisgenError(f"{self.path} already holds a run; choose another --out or pass --resume")
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            self.logs.mkdir(exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise MisgenError(f"cannot write the run directory {self.path}: {error.strerror}") from None

    def write_config(self, config: dict) -> None:
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")

    def read_config(self) -> dict:
        """config.json, checked for the sections every reader relies on (:data:`CONFIG_SECTIONS`); the
        sections' own fields are checked where they become configs (``misgen.schema.dataclass_from_json``)."""
        if not self.config_file.is_file():
            raise MisgenError(f"{self.path}: no run here (config.json missing)")
        try:
            config = json.loads(self.config_file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MisgenError(f"{self.config_file}: unreadable run config ({error})") from None
        if not isinstance(config, dict):
            raise MisgenError(f"{self.config_file}: expected a JSON object, found {type(config).__name__}")
        for name, kind in CONFIG_SECTIONS.items():
            if name not in config:
                raise MisgenError(f"{self.config_file}: field {name!r} is missing")
            if not isinstance(config[name], kind) or isinstance(config[name], bool):
                raise MisgenError(f"{self.config_file}: field {name!r} must be a {kind.__name__}, found "
                                  f"{json.dumps(config[name])[:60]}")
        return config

    def keep_progress(self, timesteps: int) -> Path | None:
        """Move ``logs/progress.csv`` aside before a resumed run starts a new one: to ``progress_until_<T>.csv``,
        or ``progress_until_<T>_<i>.csv`` when a run resumed from the same checkpoint before. Never replaces a
        file. Returns the new path (None when there was no progress.csv)."""
        current = self.logs / "progress.csv"
        if not current.exists():
            return None
        kept = self.logs / f"progress_until_{timesteps}.csv"
        again = 1
        while kept.exists():
            again += 1
            kept = self.logs / f"progress_until_{timesteps}_{again}.csv"
        current.rename(kept)
        return kept

    def checkpoint_paths(self, timesteps: int) -> tuple[Path, Path, Path]:
        stem = self.checkpoints / f"step_{timesteps}"
        return stem.with_suffix(".zip"), stem.with_suffix(".pkl"), stem.with_suffix(".json")

    def write_checkpoint_meta(self, timesteps: int, optimizer_step: int) -> None:
        meta = self.checkpoint_paths(timesteps)[2]
        meta.write_text(json.dumps({"timesteps": timesteps, "optimizer_step": optimizer_step}))

    def latest_checkpoint(self) -> Checkpoint:
        """The newest complete checkpoint (its .json is written last, so a checkpoint without one is unfinished
        and skipped). A damaged .json is an error, not a reason to fall back to an older checkpoint: resuming
        from that would drop the recording's rows after it."""
        found = []
        for meta in self.checkpoints.glob("step_*.json"):
            named = re.fullmatch(r"step_(\d+)", meta.stem)
            if not named:
                continue  # not a file misgen wrote
            timesteps = int(named.group(1))
            model, normalization, _ = self.checkpoint_paths(timesteps)
            if model.is_file() and normalization.is_file():
                info = read_checkpoint_meta(meta)
                if info["timesteps"] != timesteps:
                    raise MisgenError(f"{meta}: field 'timesteps' is {info['timesteps']}, the file name says "
                                      f"{timesteps}")
                found.append(Checkpoint(timesteps, info["optimizer_step"], model, normalization))
        if not found:
            raise MisgenError(f"{self.path}: no checkpoint to resume from")
        return max(found, key=lambda c: c.timesteps)


def read_checkpoint_meta(path: Path) -> dict[str, int]:
    """A checkpoint's ``step_<T>.json``: {timesteps, optimizer_step}, both integers >= 0."""
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MisgenError(f"{path}: unreadable checkpoint record ({error})") from None
    if not isinstance(info, dict):
        raise MisgenError(f"{path}: expected a JSON object, found {type(info).__name__}")
    for name in ("timesteps", "optimizer_step"):
        value = info.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise MisgenError(f"{path}: field {name!r} must be an integer >= 0, found {json.dumps(value)}")
    return info


def read_normalization(path: Path):
    """SB3's ``VecNormalize`` pickled at ``path``, not yet attached to an environment (``set_venv``), after
    checking what misgen's training relies on: only :data:`NORMALIZATION_GLOBALS` are unpickled; the object is a
    VecNormalize whose ``ret_rms`` has a finite mean, a finite variance >= 0 and a count > 0, and whose ``gamma``
    (0 to 1], ``epsilon`` > 0, ``clip_reward`` > 0 and ``norm_reward`` / ``norm_obs`` flags have their types.
    Any deviation is one MisgenError naming the file and the field."""
    try:
        with open(path, "rb") as file:
            found = load_allowed(file, lambda *name: name in NORMALIZATION_GLOBALS, "SB3's VecNormalize")
    except pickle.UnpicklingError as error:
        raise MisgenError(f"{path}: not normalization statistics ({error})") from None
    except Exception as error:  # a damaged pickle raises anything from EOFError to AttributeError
        raise MisgenError(f"{path}: not loadable normalization statistics ({error.__class__.__name__})") from None
    if type(found).__name__ != "VecNormalize":
        raise MisgenError(f"{path}: holds a {type(found).__name__}, not SB3's VecNormalize")
    state = vars(found)  # VecNormalize's __getattr__ recurses on a missing attribute before set_venv
    ret_rms = state.get("ret_rms")
    if type(ret_rms).__name__ != "RunningMeanStd":
        raise MisgenError(f"{path}: field 'ret_rms' must be a RunningMeanStd, found {type(ret_rms).__name__}")
    for name, valid, rule in (("mean", math.isfinite, "finite"), ("var", lambda v: 0 <= v < math.inf, "finite, >= 0"),
                              ("count", lambda v: 0 < v < math.inf, "finite, > 0")):
        value = vars(ret_rms).get(name)
        if not _is_real(value) or not valid(float(value)):
            raise MisgenError(f"{path}: field 'ret_rms.{name}' must be a {rule} number, found {value!r:.60}")
    for name, valid, rule in (("gamma", lambda v: 0 < v <= 1, "in (0, 1]"), ("epsilon", lambda v: 0 < v < 1, "in (0, 1)"),
                              ("clip_reward", lambda v: 0 < v < math.inf, "> 0")):
        value = state.get(name)
        if not _is_real(value) or not valid(float(value)):
            raise MisgenError(f"{path}: field {name!r} must be a number {rule}, found {value!r:.60}")
    for name in ("norm_reward", "norm_obs", "training"):
        if not isinstance(state.get(name), bool):
            raise MisgenError(f"{path}: field {name!r} must be true or false, found {state.get(name)!r:.60}")
    return found


def _is_real(value) -> bool:
    """A Python or numpy real number (a 0-d array too), not a boolean."""
    return not isinstance(value, (bool, np.bool_)) and np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf"

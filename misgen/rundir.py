"""The run directory ``runs/NAME/``: what a training run writes, and where.

=========================  ===================================================================================
``config.json``            variant and env options, hyperparameters, recording options, seed, device, package
                           versions, git commit, misgen version
``model.zip``              the final policy (SB3 ``PPO.save``; ``PPO.load`` reads it)
``vecnormalize.pkl``       reward-normalisation statistics (SB3 ``VecNormalize``)
``checkpoints/``           ``step_<T>.zip`` + ``step_<T>.pkl`` + ``step_<T>.json`` (T = env timesteps): model
                           with optimizer state, normalisation statistics, and {timesteps, optimizer_step};
                           what ``--resume`` continues from
``recording.h5``           gradient/update time series (misgen/recording.py)
``logs/``                  ``progress.csv`` (one row per rollout) and TensorBoard events; a resumed run keeps the
                           earlier rows in ``progress_until_<T>.csv``
``learning_curve.png``     return, goal and proxy rates of the training episodes against env steps
                           (agents/learning_curve.py), redrawn whenever training stops
=========================  ===================================================================================
"""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from misgen import __version__
from misgen.errors import MisgenError

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
        try:
            return json.loads(self.config_file.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise MisgenError(f"{self.config_file}: unreadable run config ({error})") from None

    def checkpoint_paths(self, timesteps: int) -> tuple[Path, Path, Path]:
        stem = self.checkpoints / f"step_{timesteps}"
        return stem.with_suffix(".zip"), stem.with_suffix(".pkl"), stem.with_suffix(".json")

    def write_checkpoint_meta(self, timesteps: int, optimizer_step: int) -> None:
        meta = self.checkpoint_paths(timesteps)[2]
        meta.write_text(json.dumps({"timesteps": timesteps, "optimizer_step": optimizer_step}))

    def latest_checkpoint(self) -> Checkpoint:
        """The newest complete checkpoint (its .json is written last)."""
        found = []
        for meta in self.checkpoints.glob("step_*.json"):
            model, normalization, _ = self.checkpoint_paths(int(meta.stem.removeprefix("step_")))
            if model.is_file() and normalization.is_file():
                info = json.loads(meta.read_text())
                found.append(Checkpoint(info["timesteps"], info["optimizer_step"], model, normalization))
        if not found:
            raise MisgenError(f"{self.path}: no checkpoint to resume from")
        return max(found, key=lambda c: c.timesteps)

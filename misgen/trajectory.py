"""The parameter trajectory of a recording: theta at any recorded row, and what a model computes along it.

Each ``updates`` row is the parameter change since the previous recorded row (misgen/recording.py), so after the
optimizer step of row r (``steps/step[r]``, zero-based) the parameters are theta_0 + updates[0] + ... +
updates[r], with ``steps/step[r] + 1`` optimizer steps taken. The rows are stored in the recording's dtype, so the
sum carries its rounding; :func:`checkpoint_deviations` measures it against every stored checkpoint that falls
on a recorded row (with ``record_every`` > 1 only some do).

:func:`function_trajectory` puts the model at evenly spaced rows and records its outputs on fixed inputs: the
function-space trajectory (the "essential dynamics" of Hoogland et al. 2024), whose principal components say
when what the model computes changed direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from misgen.errors import MisgenError
from misgen.recording import Recording

ROWS_PER_READ = 64


def thetas_at(recording: Recording, rows: list[int] | np.ndarray) -> np.ndarray:
    """theta after each of ``rows`` (recorded rows, any order), shape (len(rows), D) float32, in one pass over the
    ``updates`` stream up to the last row asked for. Row -1 is theta_0."""
    if "updates" not in recording.streams:
        raise MisgenError(f"{recording.path}: theta is rebuilt from the updates stream, which was not recorded")
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < -1 or rows.max() >= recording.n_rows):
        raise MisgenError(f"{recording.path}: rows must lie in -1..{recording.n_rows - 1} (the recording holds "
                          f"{recording.n_rows}), not {sorted(set(rows[(rows < -1) | (rows >= recording.n_rows)]))}")
    theta = recording.theta(0).astype(np.float64)
    out = np.empty((len(rows), recording.n_params), dtype=np.float32)
    wanted: dict[int, list[int]] = {}  # row -> positions in ``rows``
    for i, row in enumerate(rows.tolist()):
        wanted.setdefault(row, []).append(i)
    for i in wanted.get(-1, []):
        out[i] = theta
    last = int(rows.max()) if rows.size else -1
    for start in range(0, last + 1, ROWS_PER_READ):
        block = recording.read("updates", slice(start, min(start + ROWS_PER_READ, last + 1))).astype(np.float64)
        for offset, update in enumerate(block):
            theta += update
            for i in wanted.get(start + offset, []):
                out[i] = theta
    return out


def theta_at(recording: Recording, row: int) -> np.ndarray:
    """theta after the optimizer step of recorded row ``row`` (-1: theta_0), float32 (D,)."""
    return thetas_at(recording, [row])[0]


@dataclass(frozen=True)
class CheckpointDeviation:
    step: int  # optimizer steps taken before the checkpoint
    row: int  # the recorded row after whose step it was taken (-1: theta_0)
    max_abs: float  # largest |theta_at(row) - checkpoint| over the parameters
    relative: float  # ||theta_at(row) - checkpoint|| / ||checkpoint - theta_0|| (0 for theta_0)


def checkpoint_deviations(recording: Recording) -> tuple[list[CheckpointDeviation], int]:
    """The rebuilt theta against every stored checkpoint that falls on a recorded row, and the number of
    checkpoints in all."""
    steps_taken = recording.steps("step") + 1
    checkpoint_steps, _ = recording.checkpoints()
    theta_0 = recording.theta(0).astype(np.float64)
    matched = [(int(step), -1 if step == 0 else int(np.searchsorted(steps_taken, step)), k)
               for k, step in enumerate(checkpoint_steps)
               if step == 0 or step in set(steps_taken.tolist())]
    rebuilt = thetas_at(recording, [row for _, row, _ in matched])
    out = []
    for (step, row, k), theta in zip(matched, rebuilt):
        stored = recording.theta(k).astype(np.float64)
        difference = theta.astype(np.float64) - stored
        change = float(np.linalg.norm(stored - theta_0))
        out.append(CheckpointDeviation(step, row, float(np.abs(difference).max()),
                                       float(np.linalg.norm(difference)) / change if change else 0.0))
    return out, len(checkpoint_steps)


def evenly_spaced_rows(recording: Recording, points: int) -> np.ndarray:
    """``points`` rows from -1 (theta_0) to the last recorded row, evenly spaced."""
    if points < 2:
        raise MisgenError(f"--points must be at least 2 (theta_0 and the last row), not {points}")
    if points > recording.n_rows + 1:
        raise MisgenError(f"{recording.path}: {points} points, but the recording holds {recording.n_rows} rows "
                          f"({recording.n_rows + 1} points with theta_0)")
    return np.unique(np.linspace(-1, recording.n_rows - 1, points).round().astype(np.int64))


def load_theta(model: torch.nn.Module, recording: Recording, theta: np.ndarray) -> None:
    """Put the recorded parameters ``theta`` (the recording's column order) into ``model``'s parameters of the same
    names."""
    named = dict(model.named_parameters())
    missing = [name for name in recording.params.names if name not in named]
    if missing:
        raise MisgenError(f"{recording.path}: the model has no parameters named {missing[:3]}: it is not the model "
                          "that was recorded")
    with torch.no_grad():
        for name, shape in zip(recording.params.names, recording.params.shapes):
            parameter = named[name]
            values = theta[recording.params.columns(name)]
            if tuple(parameter.shape) != tuple(shape):
                raise MisgenError(f"{recording.path}: parameter {name} has shape {tuple(parameter.shape)} in the "
                                  f"model and {tuple(shape)} in the recording")
            parameter.copy_(torch.as_tensor(values, device=parameter.device).reshape(shape))


@dataclass
class FunctionTrajectory:
    """The model's outputs on fixed inputs at points of training, and their centred PCA."""

    rows: np.ndarray  # (N,) recorded rows (-1: theta_0)
    steps: np.ndarray  # (N,) optimizer steps taken at each point
    outputs: np.ndarray  # (N, F) the outputs, flattened per point
    pcs: np.ndarray  # (N, k) coordinates of each point on the principal components
    explained: np.ndarray  # (k,) share of the variance (about the mean point) each component explains
    turns: np.ndarray  # indices of the points where the path turns most (largest angle), descending

    def as_dict(self) -> dict:
        return {"rows": self.rows.tolist(), "steps": self.steps.tolist(), "pcs": self.pcs.tolist(),
                "explained_variance": self.explained.tolist(), "turns": self.turns.tolist()}


def principal_path(outputs: np.ndarray, k: int = 5, n_turns: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred PCA of a (points x features) path: coordinates (N, k), explained variance shares (k,), and the
    ``n_turns`` interior points where the direction of travel in those k components changes most."""
    centred = outputs - outputs.mean(axis=0)
    left, singular, _ = np.linalg.svd(centred, full_matrices=False)
    k = min(k, len(singular), len(outputs) - 1)  # centred, N points span at most N - 1 directions
    pcs = left[:, :k] * singular[:k]
    explained = singular[:k] ** 2 / max(float((singular ** 2).sum()), 1e-300)
    steps = np.diff(pcs, axis=0)
    norms = np.linalg.norm(steps, axis=1)
    cosines = (steps[:-1] * steps[1:]).sum(axis=1) / np.maximum(norms[:-1] * norms[1:], 1e-300)
    angles = np.arccos(np.clip(cosines, -1, 1))
    turns = np.argsort(angles)[::-1][:n_turns] + 1  # the point between the two steps
    return pcs, explained, turns


def function_trajectory(recording: Recording, model: torch.nn.Module, inputs: torch.Tensor, points: int = 50,
                        output: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
                        k: int = 5) -> FunctionTrajectory:
    """The outputs of ``model`` on ``inputs`` at ``points`` evenly spaced rows of ``recording`` (theta rebuilt from
    the updates, :func:`thetas_at`), and their centred PCA. ``output(model, inputs)`` gives what is compared (the
    logits, log-probabilities, a loss per input...); by default ``model(inputs)``. ``model`` is left at the last
    point's parameters."""
    rows = evenly_spaced_rows(recording, points)
    thetas = thetas_at(recording, rows)
    compute = output or (lambda m, x: m(x))
    collected = []
    with torch.inference_mode():
        for theta in thetas:
            load_theta(model, recording, theta)
            collected.append(compute(model, inputs).float().reshape(-1).cpu().numpy())
    outputs = np.stack(collected).astype(np.float64)
    pcs, explained, turns = principal_path(outputs, k)
    steps = np.array([0 if row < 0 else int(recording.steps("step")[row]) + 1 for row in rows])
    return FunctionTrajectory(rows, steps, outputs, pcs, explained, turns)

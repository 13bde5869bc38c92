"""``recording.h5``: the gradient and update time series of a training run (schema, writer, reader).

Layout (format 1). T = recorded optimizer steps, D = policy parameters, P = parameter tensors, K = checkpoints.

==========================  ===========  =============================================================
``grads``                   (T, D)       gradient of the PPO loss as applied by Adam: after clipping
``updates``                 (T, D)       parameter change since the previous row: theta_after - theta_before
                                         (every step recorded: one optimizer step). The rows sum to theta
                                         after the last recorded step minus theta_0: theta_final when that
                                         step is the last (``record_every`` 1); with K > 1 the up to K - 1
                                         steps after it are only in ``checkpoints/theta``
``grads_split/<part>``      (T, D)       split recordings only (``--record-split``): the gradient of the same
                                         minibatch loss restricted to the part's transitions, divided by
                                         the whole minibatch's size, before clipping. The parts sum to the
                                         unclipped gradient; times ``steps/clip_factor`` that is ``grads``
``steps/<field>``           (T,)         per-row metadata, see :data:`STEP_FIELDS` (units in attrs); a
                                         recording of any PyTorch loop (``misgen.record``) has -1 in
                                         ``timesteps``, ``rollout``, ``epoch``, ``minibatch``, NaN in
                                         the loss fields it did not log, and one float32 field per
                                         scalar it declared (attr ``extra_step_fields``); a split
                                         recording adds :func:`split_step_fields`
``params/names``            (P,)         parameter tensor names, in row order (``policy.named_parameters()``)
``params/shapes``           (P,) vlen    each tensor's shape
``params/offsets``          (P + 1,)     tensor i occupies columns offsets[i]:offsets[i+1]
``checkpoints/theta``       (K, D) f32   theta at step 0, at every checkpoint and at the end
``checkpoints/step``        (K,)         optimizer steps taken before that theta
``checkpoints/timesteps``   (K,)         environment steps collected before that theta
==========================  ===========  =============================================================

Either stream may be absent (``--record grads`` or ``updates``). Stream dtype is float16, float32, or bfloat16
stored as its raw 16 bits (uint16, attr ``encoding = "bfloat16"``; :meth:`Recording.read` decodes it).
Streams are chunked along time (``CHUNK_ROWS`` rows) and written in whole chunks. Every numeric dataset
carries HDF5's Fletcher-32 checksum (misgen/schema.py ``CHECKSUM``): a read of damaged bytes is refused.
File attrs: ``misgen_format``, ``variant`` (``pytorch`` for ``misgen.record``), ``config`` (the run's
config.json; for ``misgen.record`` the model and optimizer classes and what the caller adds), ``complete``
(true only after a clean finish), ``record_every``, ``record_dtype``, ``n_params``, ``extra_step_fields``,
``split`` (the split's name, envs/splits.py; "" when none) and ``split_parts`` (JSON list of its parts).

The writer runs in HDF5's single-writer/multiple-reader mode and flushes after each block, so the file can be
read while training runs (:class:`Recording` opens such a file in SWMR mode) and a killed run keeps every flushed
row.
"""

from __future__ import annotations

import json
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from misgen.errors import MisgenError, one_line
from misgen.schema import (BOOL, CHECKSUM, FLOAT, INTEGER, STRING, VLEN, Attr, Dataset, check_datasets,
                           note_unchecked, read_attrs, read_dataset)

FORMAT_VERSION = 1
STREAMS = ("grads", "updates")
RECORD_DTYPES = ("float16", "bfloat16", "float32")
CHUNK_ROWS = 16
CHUNK_COLUMNS = 16384


def split_stream(part: str) -> str:
    """The stream of one part of a split recording."""
    return f"grads_split/{part}"


def split_step_fields(parts: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Per-row fields a split recording adds to ``steps/``."""
    return {"clip_factor": ("float32", "factor the gradient-norm clip scaled the gradient by (1: not clipped)"),
            **{f"count_{part}": ("int64", f"transitions of the minibatch in part {part}") for part in parts}}


def step_fields(split_parts: tuple[str, ...] = (), extra_fields: tuple[str, ...] = ()) -> dict[str, tuple[str, str]]:
    """Every ``steps/`` field of a recording: :data:`STEP_FIELDS`, a split's fields and the loop's logged extras."""
    return {**STEP_FIELDS, **(split_step_fields(split_parts) if split_parts else {}),
            **{name: ("float32", "logged by the training loop") for name in extra_fields}}


def stored_dtype(record_dtype: str) -> np.dtype:
    """How a stream of ``record_dtype`` is stored: bfloat16 as its raw 16 bits."""
    return np.dtype(np.uint16) if record_dtype == "bfloat16" else np.dtype(record_dtype)


def check_record_options(streams: tuple[str, ...], dtype: str, every: int) -> None:
    """Refuse recording options the writer cannot honour (unknown streams or dtype, ``every`` below 1)."""
    unknown = set(streams) - set(STREAMS)
    if unknown:
        raise MisgenError(f"unknown stream(s) {', '.join(sorted(unknown))}; choose from {', '.join(STREAMS)}")
    if dtype not in RECORD_DTYPES:
        raise MisgenError(f"record dtype must be one of {', '.join(RECORD_DTYPES)}, not {dtype!r}")
    if every < 1:
        raise MisgenError(f"record every must be >= 1, not {every}")


# name: (dtype, units / meaning)
STEP_FIELDS: dict[str, tuple[str, str]] = {
    "step": ("int64", "optimizer step index over the whole run, from 0"),
    "timesteps": ("int64", "environment steps collected before this optimizer step"),
    "rollout": ("int64", "rollout (PPO iteration) index, from 0"),
    "epoch": ("int32", "epoch within the rollout, from 0"),
    "minibatch": ("int32", "minibatch within the epoch, from 0"),
    "loss": ("float32", "total PPO loss: policy + ent_coef * entropy + vf_coef * value"),
    "policy_loss": ("float32", "clipped surrogate loss"),
    "value_loss": ("float32", "value loss (clipped values), normalised-reward units squared"),
    "entropy_loss": ("float32", "minus the mean policy entropy, nats"),
    "grad_norm": ("float32", "L2 norm of the applied (clipped) gradient"),
    "grad_norm_unclipped": ("float32", "L2 norm of the gradient before clipping"),
    "lr": ("float32", "Adam learning rate"),
    "wall_time": ("float64", "seconds since the Unix epoch"),
    "finite": ("bool", "every gradient entry finite"),
}


@dataclass(frozen=True)
class ParamTable:
    """Maps columns of a (T, D) row to named parameter tensors."""

    names: list[str]
    shapes: list[tuple[int, ...]]
    offsets: np.ndarray  # (P + 1,)

    @classmethod
    def from_named(cls, named: list[tuple[str, tuple[int, ...]]]) -> "ParamTable":
        sizes = [int(np.prod(shape)) for _, shape in named]
        return cls([n for n, _ in named], [tuple(s) for _, s in named], np.concatenate([[0], np.cumsum(sizes)]))

    @property
    def n_params(self) -> int:
        return int(self.offsets[-1])

    def columns(self, name: str) -> slice:
        i = self.names.index(name)
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))


def _copy_flushed(old: "Recording", writer: RecordingWriter, n_steps: int) -> h5py.File:
    """Copy ``old``'s rows of steps < ``n_steps`` and its checkpoints into a new file that replaces it."""
    fresh = writer.path.with_name(writer.path.name + ".resuming")
    writer.file = h5py.File(fresh, "w", libver="latest")
    writer._create(old.variant, old.config, int(old.file.attrs["record_every"]))
    keep = int(np.searchsorted(old.steps("step"), n_steps))
    for start in range(0, keep, 64 * CHUNK_ROWS):
        stop = min(start + 64 * CHUNK_ROWS, keep)
        rows = {s: old.file[s][start:stop] for s in writer.streams}
        writer.append(rows, {f: old.file["steps"][f][start:stop] for f in writer.step_fields()})
    steps, thetas = old.checkpoints()
    timesteps = old.file["checkpoints/timesteps"][:]
    for k in np.flatnonzero(steps <= n_steps):
        writer.add_checkpoint(thetas[k], int(steps[k]), int(timesteps[k]))
    writer.file.close()
    fresh.replace(writer.path)
    return h5py.File(writer.path, "a", libver="latest")


def _open_for_reading(path: Path) -> h5py.File:
    """Open read-only; a file whose writer is running (or was killed) is opened in SWMR mode. (SWMR is not the
    first try: it retries unreadable metadata for a long time, so a damaged file would hang instead of failing.)"""
    try:
        return h5py.File(path, "r", libver="latest")
    except OSError as error:
        if "already open for write" not in str(error):
            raise
    return h5py.File(path, "r", libver="latest", swmr=True)


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


class RecordingWriter:
    """Creates a recording, or reopens one to resume, and appends whole blocks of rows to it."""

    def __init__(self, path: Path, params: ParamTable, streams: tuple[str, ...], record_dtype: str,
                 record_every: int, variant: str, config: dict, extra_fields: tuple[str, ...] = (),
                 split: str = "", split_parts: tuple[str, ...] = ()):
        self.path = Path(path)
        self.params = params
        self.record_dtype = record_dtype
        self.extra_fields = tuple(extra_fields)  # float32 step fields the training loop logs
        self.split, self.split_parts = split, tuple(split_parts)
        self.streams = tuple(streams) + tuple(split_stream(part) for part in self.split_parts)
        self.file = h5py.File(self.path, "w-", libver="latest")
        self._create(variant, config, record_every)
        self._start()

    def _start(self) -> None:
        self.file.attrs["complete"] = False
        self.file.swmr_mode = True

    @classmethod
    def resume(cls, path: Path, params: ParamTable, streams: tuple[str, ...], record_dtype: str,
               n_steps: int, split_parts: tuple[str, ...] = ()) -> "RecordingWriter":
        """Reopen ``path`` keeping only optimizer steps < ``n_steps`` (the checkpoint training resumes from).

        A file whose writer was killed still carries HDF5's "open for writing" flag and cannot be reopened
        for writing; its flushed rows are then copied into a fresh file that replaces it.
        """
        writer = cls.__new__(cls)
        writer.path, writer.params, writer.record_dtype = Path(path), params, record_dtype
        writer.streams = tuple(streams) + tuple(split_stream(part) for part in split_parts)
        with Recording(path) as old:
            writer.extra_fields, writer.split, writer.split_parts = old.extra_fields, old.split, old.split_parts
            if old.params.names != params.names or old.n_params != params.n_params:
                raise MisgenError(f"{path}: recorded parameters differ from the model's; cannot resume into it")
            if set(old.streams) != set(writer.streams) or old.record_dtype != record_dtype:
                raise MisgenError(f"{path}: recorded streams/dtype differ from this run's --record options")
            try:
                writer.file = h5py.File(path, "a", libver="latest")
            except OSError:
                writer.file = _copy_flushed(old, writer, n_steps)
        writer.truncate(n_steps)
        writer._start()
        return writer

    def _create(self, variant: str, config: dict, record_every: int) -> None:
        f, n = self.file, self.params.n_params
        f.attrs.update({"misgen_format": FORMAT_VERSION, "variant": variant, "config": json.dumps(config),
                        "record_every": record_every, "record_dtype": self.record_dtype, "n_params": n,
                        "extra_step_fields": json.dumps(list(self.extra_fields)), "split": self.split,
                        "split_parts": json.dumps(list(self.split_parts))})
        stored = stored_dtype(self.record_dtype)
        for stream in self.streams:
            ds = f.create_dataset(stream, shape=(0, n), maxshape=(None, n), dtype=stored,
                                  chunks=(CHUNK_ROWS, min(n, CHUNK_COLUMNS)), **CHECKSUM)
            ds.attrs["encoding"] = self.record_dtype
            ds.attrs["units"] = "parameter units per step" if stream == "updates" else "loss units per parameter unit"
            if stream.startswith("grads_split/"):
                ds.attrs["part"] = stream.split("/", 1)[1]
        steps = f.create_group("steps")
        for name, (dtype, units) in self.step_fields().items():
            steps.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(1024,),
                                 **CHECKSUM).attrs["units"] = units
        params = f.create_group("params")
        params.create_dataset("names", data=np.array(self.params.names, dtype=h5py.string_dtype()))
        shapes = params.create_dataset("shapes", (len(self.params.shapes),), dtype=h5py.vlen_dtype(np.int64))
        for i, shape in enumerate(self.params.shapes):
            shapes[i] = np.array(shape, dtype=np.int64)
        params.create_dataset("offsets", data=self.params.offsets.astype(np.int64), **CHECKSUM)
        ckpt = f.create_group("checkpoints")
        ckpt.create_dataset("theta", shape=(0, n), maxshape=(None, n), dtype=np.float32, chunks=(1, min(n, 1 << 20)),
                            **CHECKSUM)
        ckpt.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,), **CHECKSUM)
        ckpt.create_dataset("timesteps", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,), **CHECKSUM)

    def step_fields(self) -> dict[str, tuple[str, str]]:
        """Every ``steps/`` field this recording has (:func:`step_fields`)."""
        return step_fields(self.split_parts, self.extra_fields)

    @property
    def n_rows(self) -> int:
        return self.file["steps/step"].shape[0]

    def _ensure_room(self, n_bytes: int) -> None:
        """Stop before HDF5 runs out of disk (or of the process's file-size limit) in the middle of a write."""
        need = 2 * n_bytes + (1 << 20)
        free = shutil.disk_usage(self.path.parent).free
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            free = min(free, limit - self.path.stat().st_size)
        if free < need:
            raise MisgenError(f"{self.path}: disk full ({max(free, 0) >> 20} MB left, the next block needs "
                              f"{need >> 20} MB); rows written so far are kept")

    def append(self, rows: dict[str, np.ndarray], steps: dict[str, np.ndarray]) -> None:
        """Append n rows: ``rows[stream]`` (n, D) in the stored dtype, ``steps[field]`` (n,); then flush."""
        self._ensure_room(sum(block.nbytes for block in rows.values()))
        start = self.n_rows
        n = len(steps["step"])
        for stream in self.streams:
            ds = self.file[stream]
            ds.resize((start + n, ds.shape[1]))
            ds[start:start + n] = rows[stream]
        for name in self.step_fields():
            ds = self.file["steps"][name]
            ds.resize((start + n,))
            ds[start:start + n] = steps[name]
        self.file.flush()

    def add_checkpoint(self, theta: np.ndarray, step: int, timesteps: int) -> None:
        group = self.file["checkpoints"]
        k = group["step"].shape[0]
        for name, value in (("theta", theta.astype(np.float32)[None]), ("step", [step]), ("timesteps", [timesteps])):
            group[name].resize((k + 1,) + group[name].shape[1:])
            group[name][k] = value[0]
        self.file.flush()

    def truncate(self, n_steps: int) -> None:
        """Drop rows of optimizer steps >= ``n_steps`` and later checkpoints (resume from a checkpoint)."""
        keep = int(np.searchsorted(self.file["steps/step"][:], n_steps))
        for name in list(self.streams) + [f"steps/{f}" for f in self.step_fields()]:
            ds = self.file[name]
            ds.resize((keep,) + ds.shape[1:])
        keep_ckpt = int(np.searchsorted(self.file["checkpoints/step"][:], n_steps, side="right"))
        for name in ("theta", "step", "timesteps"):
            ds = self.file["checkpoints"][name]
            ds.resize((keep_ckpt,) + ds.shape[1:])
        self.file.flush()

    def close(self, complete: bool = False) -> None:
        if not self.file.id.valid:
            return
        try:
            self.file.attrs["complete"] = bool(complete)
        finally:
            self.file.close()

    def abandon(self) -> None:
        """After a failed write: try to close, but keep whatever error closing raises to ourselves."""
        try:
            self.file.close()
        except (OSError, RuntimeError):
            pass


ATTRS = [Attr("misgen_format", "int"), Attr("variant", "str"), Attr("config", "json_dict"), Attr("complete", "bool"),
         Attr("record_every", "int"), Attr("record_dtype", "str"), Attr("n_params", "int"),
         Attr("extra_step_fields", "json_list", optional=True), Attr("split", "str", optional=True),
         Attr("split_parts", "json_list", optional=True)]  # the last three are absent in early recordings


def _kinds(dtype: str) -> str:
    return {"i": INTEGER, "f": FLOAT, "b": BOOL}[np.dtype(dtype).kind]


def layout(split_parts: tuple[str, ...] = (), extra_fields: tuple[str, ...] = ()) -> list[Dataset]:
    """The datasets of a recording (the table above). Rows are "T+": a killed writer may leave some datasets a
    block longer than others, and the reader uses the rows every one of them holds."""
    fields = step_fields(split_parts, extra_fields)
    return ([Dataset(stream, ("T+", "D"), "fu", optional=True) for stream in STREAMS]
            + [Dataset(split_stream(part), ("T+", "D"), "fu") for part in split_parts]
            + [Dataset(f"steps/{name}", ("T+",), _kinds(dtype)) for name, (dtype, _) in fields.items()]
            + [Dataset("params/names", ("P",), STRING), Dataset("params/shapes", ("P",), VLEN),
               Dataset("params/offsets", ("P1",), INTEGER), Dataset("checkpoints/theta", ("K", "D"), FLOAT),
               Dataset("checkpoints/step", ("K",), INTEGER), Dataset("checkpoints/timesteps", ("K",), INTEGER)])


def _string_list(values, path: Path, field: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) and v for v in values):
        raise MisgenError(f"{path}: attr {field!r} must list non-empty strings")
    return tuple(values)


class Recording:
    """Read access to a ``recording.h5``, validated on open against the layout above: any deviation raises one
    :class:`MisgenError` naming the file and the field."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir():
            path = path / "recording.h5"
        if not path.is_file():
            raise MisgenError(f"{path}: no such recording")
        try:
            file = _open_for_reading(path)
        except OSError as error:
            raise MisgenError(f"{path}: not a readable HDF5 file ({one_line(error)})") from None
        self.file, self.path = file, path
        try:
            self._validate()
        except MisgenError:
            file.close()
            raise
        except (KeyError, OSError, ValueError, TypeError) as error:  # HDF5 failing to read what it listed
            file.close()
            raise MisgenError(f"{path}: corrupt or incomplete misgen recording ({one_line(error)})") from None

    def _validate(self) -> None:
        file, path = self.file, self.path
        if file.attrs.get("misgen_format") != FORMAT_VERSION:
            raise MisgenError(f"{path}: not a misgen recording (format {file.attrs.get('misgen_format')!r}, "
                              f"expected {FORMAT_VERSION})")
        attrs = read_attrs(file, path, ATTRS)
        self.attrs = attrs
        self.split = attrs.get("split", "")
        self.split_parts = _string_list(attrs.get("split_parts", []), path, "split_parts")
        self.extra_fields = _string_list(attrs.get("extra_step_fields", []), path, "extra_step_fields")
        if bool(self.split) != bool(self.split_parts):
            raise MisgenError(f"{path}: attr 'split' is {self.split!r} but 'split_parts' lists {len(self.split_parts)}")
        if attrs["record_dtype"] not in RECORD_DTYPES:
            raise MisgenError(f"{path}: attr 'record_dtype' is {attrs['record_dtype']!r}, not one of "
                              f"{', '.join(RECORD_DTYPES)}")
        if attrs["record_every"] < 1:
            raise MisgenError(f"{path}: attr 'record_every' is {attrs['record_every']}, must be >= 1")
        datasets = layout(self.split_parts, self.extra_fields)
        sizes = check_datasets(file, path, datasets, {"T": 0})
        self.streams = tuple(s for s in STREAMS if s in file) + tuple(split_stream(p) for p in self.split_parts)
        if not self.streams:
            raise MisgenError(f"{path}: recording holds neither grads nor updates")
        stored = stored_dtype(attrs["record_dtype"])
        for stream in self.streams:
            if file[stream].dtype != stored:
                raise MisgenError(f"{path}: dataset {stream!r} is stored as {file[stream].dtype}, but attr "
                                  f"'record_dtype' says {attrs['record_dtype']}")
        n_params = sizes["D"]
        if attrs["n_params"] != n_params:
            raise MisgenError(f"{path}: attr 'n_params' is {attrs['n_params']}, the datasets have {n_params} columns")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in file["params/names"][:]]
        shapes = [tuple(int(v) for v in shape) for shape in file["params/shapes"][:]]
        offsets = file["params/offsets"][:].astype(np.int64)
        sizes_of = np.array([int(np.prod(shape)) for shape in shapes], dtype=np.int64)
        if (len(offsets) != len(names) + 1 or offsets[0] != 0 or offsets[-1] != n_params
                or not np.array_equal(np.diff(offsets), sizes_of)):
            raise MisgenError(f"{path}: dataset 'params/offsets' does not match params/shapes and the {n_params} "
                              f"columns (offsets must run from 0 to D by each tensor's size)")
        self.params = ParamTable(names, shapes, offsets)
        per_row = {d.name: file[d.name].shape[0] for d in datasets if d.shape[0] == "T+" and d.name in file}
        self.n_rows = min(per_row.values())
        if attrs["complete"] and len(set(per_row.values())) > 1:  # only a killed writer leaves them uneven
            longest = max(per_row, key=per_row.get)
            shortest = min(per_row, key=per_row.get)
            raise MisgenError(f"{path}: a complete recording has as many rows in every per-row dataset, but "
                              f"{longest!r} has {per_row[longest]} and {shortest!r} {per_row[shortest]}")
        steps = read_dataset(file["steps/step"], path, slice(0, self.n_rows))
        if len(steps) and (steps[0] < 0 or np.any(np.diff(steps) <= 0)):
            raise MisgenError(f"{path}: dataset 'steps/step' must count up from 0 or more, one row per step")
        checkpoint_steps = read_dataset(file["checkpoints/step"], path)
        if len(checkpoint_steps) and (checkpoint_steps[0] < 0 or np.any(np.diff(checkpoint_steps) < 0)):
            raise MisgenError(f"{path}: dataset 'checkpoints/step' must not decrease")
        note_unchecked(file, path)

    @property
    def split_streams(self) -> tuple[str, ...]:
        """``grads_split/<part>`` for each part of the split (empty without one)."""
        return tuple(split_stream(part) for part in self.split_parts)

    @property
    def n_params(self) -> int:
        return self.params.n_params

    @property
    def record_dtype(self) -> str:
        return self.attrs["record_dtype"]

    @property
    def complete(self) -> bool:
        return self.attrs["complete"]

    @property
    def variant(self) -> str:
        return self.attrs["variant"]

    @property
    def config(self) -> dict:
        return self.attrs["config"]

    def steps(self, field: str) -> np.ndarray:
        return read_dataset(self.file["steps"][field], self.path, slice(0, self.n_rows))

    def dataset(self, stream: str) -> h5py.Dataset:
        if stream not in self.streams:
            raise MisgenError(f"{self.path}: no {stream!r} stream (recorded: {', '.join(self.streams)})")
        return self.file[stream]

    def read(self, stream: str, rows=slice(None), columns=slice(None)) -> np.ndarray:
        """Rows and columns of a stream as float32 (bfloat16 decoded)."""
        ds = self.dataset(stream)
        if isinstance(rows, slice):
            rows = slice(*rows.indices(self.n_rows))
        block = read_dataset(ds, self.path, (rows, columns))
        return _bfloat16_to_float32(block) if self.record_dtype == "bfloat16" else block.astype(np.float32)

    def checkpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """(optimizer steps (K,), theta (K, D) float32)."""
        return self.file["checkpoints/step"][:], self.file["checkpoints/theta"]

    def theta(self, which: int) -> np.ndarray:
        """Checkpointed theta ``which`` (0: initial, -1: final) as float32."""
        if self.file["checkpoints/theta"].shape[0] == 0:
            raise MisgenError(f"{self.path}: dataset 'checkpoints/theta' holds no checkpoint")
        return read_dataset(self.file["checkpoints/theta"], self.path, which).astype(np.float32)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "Recording":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_recording(path: Path, params: ParamTable, blocks, record_dtype: str = "float32",
                    theta_0: np.ndarray | None = None, variant: str = "synthetic", config: dict | None = None) -> Path:
    """Write a complete recording from arrays: ``blocks`` yields dicts {stream: (n, D) float array} of
    consecutive rows (one optimizer step each). Checkpoints: theta_0 (zeros by default) and, when ``updates``
    are given, theta_0 + their sum. For synthetic tests and for importing gradient series recorded elsewhere."""
    blocks = iter(blocks)
    first = next(blocks)
    streams = tuple(s for s in STREAMS if s in first)
    writer = RecordingWriter(path, params, streams, record_dtype, 1, variant, config or {})
    theta = np.zeros(params.n_params, dtype=np.float64) if theta_0 is None else theta_0.astype(np.float64)
    writer.add_checkpoint(theta, 0, 0)
    step = 0
    for block in [first, *blocks]:
        n = len(block[streams[0]])
        encoded = {}
        for stream in streams:
            rows = np.asarray(block[stream], dtype=np.float32)
            encoded[stream] = ((rows.view(np.uint32) + 0x8000) >> 16).astype(np.uint16) if record_dtype == "bfloat16" \
                else rows.astype(record_dtype)
        if "updates" in streams:
            theta += np.asarray(block["updates"], dtype=np.float64).sum(axis=0)
        steps = {name: np.zeros(n, dtype=dtype) for name, (dtype, _) in STEP_FIELDS.items()}
        steps["step"] = steps["timesteps"] = np.arange(step, step + n)
        steps["finite"][:] = True
        writer.append(encoded, steps)
        step += n
    writer.add_checkpoint(theta, step, step)
    writer.close(complete=True)
    return Path(path)

"""Record every optimizer step's applied gradient and parameter update, through optimizer hooks.

:class:`GradientRecorder` attaches to any ``torch.optim.Optimizer``:

- a post-accumulate-grad hook on each parameter adds up the squared gradient norm before clipping;
- ``register_step_pre_hook``: the gradient as the optimizer will apply it (after the caller's clipping);
- ``register_step_post_hook``: theta after the step minus theta at the previous recorded row.

Rows are gathered on the parameters' device into a buffer of whole HDF5 chunks; a full buffer is copied to
the host and handed to a background thread that appends it to the file and flushes. The training loop never
waits on the disk, and only waits on the device once per buffer.

:func:`record` (``misgen.record``) puts the same hooks on any PyTorch training loop::

    with misgen.record(model, optimizer, "run.h5", streams=("grads", "updates"), dtype="float32", every=1) as rec:
        for x, y in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            rec.log(loss=loss.item())
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from misgen.errors import MisgenError, RecordingWriteError, one_line
from misgen.recording import (CHUNK_ROWS, STEP_FIELDS, STREAMS, ParamTable, RecordingWriter, check_record_options,
                              split_stream)

# fields computed on the device each step (gathered without a host sync), the rest come from the host
DEVICE_FIELDS = ("loss", "policy_loss", "value_loss", "entropy_loss", "grad_norm", "grad_norm_unclipped", "finite")
LOGGABLE_DEVICE_FIELDS = DEVICE_FIELDS[:4]  # what the training loop may set through log(); the rest are measured
TORCH_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


class BackgroundWriter:
    """Appends blocks to a :class:`RecordingWriter` in a thread; a failure surfaces at the next call."""

    def __init__(self, writer: RecordingWriter, max_pending: int = 4):
        self.writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="misgen-recording-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    ready, job = item
                    if ready is not None:
                        ready.synchronize()  # the device-to-host copy of this block has landed
                    job()
            except BaseException as error:  # noqa: BLE001 - reported to the training thread
                error.__traceback__ = None  # frames would keep HDF5 objects of a damaged file alive
                self._error = error
            finally:
                self._queue.task_done()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def check(self) -> None:
        if isinstance(self._error, MisgenError):
            raise self._error
        if self._error is not None:
            raise RecordingWriteError(f"writing {self.writer.path} failed: {one_line(self._error)}")

    def submit(self, job: Callable[[], None], ready: torch.cuda.Event | None = None) -> None:
        self.check()
        self._queue.put((ready, job))

    def drain(self) -> None:
        """Wait until every submitted block is on disk."""
        self._queue.join()
        self.check()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class GradientRecorder:
    """Records optimizer steps of ``params`` into ``writer``.

    :param step_info: called at each recorded step; returns the host fields ``timesteps``, ``rollout``,
        ``epoch``, ``minibatch`` and device scalars ``loss``, ``policy_loss``, ``value_loss``, ``entropy_loss``.
    :param first_step: index of the next optimizer step (non-zero when resuming).
    :param every: record every ``every``-th optimizer step.
    :param buffer_rows: rows gathered on the device before one write (a multiple of the HDF5 chunk).
    :param split: for a writer with ``split_parts``: called at each recorded step, returns one flat gradient per
        part (before clipping) and the parts' transition counts (agents.ppo.SplitGradients).
    """

    def __init__(self, params: list[torch.nn.Parameter], writer: RecordingWriter,
                 step_info: Callable[[], dict], first_step: int = 0, every: int = 1,
                 buffer_rows: int = CHUNK_ROWS,
                 split: Callable[[], tuple[list[torch.Tensor], list[int]]] | None = None):
        self.params = params
        self.writer = writer
        self.background = BackgroundWriter(writer)
        self.step_info = step_info
        if bool(writer.split_parts) != (split is not None):
            raise MisgenError("a split recording needs a split function, and a split function a split recording")
        self.split = split
        self.step = first_step
        self.every = every
        self.dtype = TORCH_DTYPES[writer.record_dtype]
        device = params[0].device
        n_params = sum(p.numel() for p in params)
        self._rows = {s: torch.empty((buffer_rows, n_params), dtype=self.dtype, device=device) for s in writer.streams}
        self._device_fields = torch.zeros((buffer_rows, len(DEVICE_FIELDS)), dtype=torch.float32, device=device)
        self._host_fields: list[dict] = []
        self._unclipped_sq = torch.zeros((), dtype=torch.float32, device=device)
        self._theta_prev = self.flat_params() if "updates" in writer.streams else None
        self._handles: list = []

    def flat_params(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.params]).float()

    def attach(self, optimizer: torch.optim.Optimizer) -> "GradientRecorder":
        self._handles = [optimizer.register_step_pre_hook(self._pre_step),
                         optimizer.register_step_post_hook(self._post_step)]
        self._handles += [p.register_post_accumulate_grad_hook(self._accumulate_norm) for p in self.params]
        self._optimizer = optimizer
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _recording_now(self) -> bool:
        return self.step % self.every == 0

    def _accumulate_norm(self, param: torch.nn.Parameter) -> None:
        self._unclipped_sq += param.grad.detach().float().pow(2).sum()

    def _pre_step(self, optimizer, args, kwargs) -> None:
        if not self._recording_now():
            return
        if len(self._host_fields) == self._device_fields.shape[0]:
            self.flush()  # here, not after the step: log() may still set the last step's scalars
        row = len(self._host_fields)
        grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1)
                          for p in self.params]).float()  # a parameter without a gradient did not move
        if "grads" in self._rows:
            self._rows["grads"][row] = grad.to(self.dtype)
        info = self.step_info()
        device_values = [info["loss"], info["policy_loss"], info["value_loss"], info["entropy_loss"],
                         grad.norm(), self._unclipped_sq.sqrt(), torch.isfinite(grad).all()]
        self._device_fields[row] = torch.stack([torch.as_tensor(v, device=grad.device).float().reshape(())
                                                for v in device_values])
        host = {"step": self.step, "timesteps": info["timesteps"], "rollout": info["rollout"], "epoch": info["epoch"],
                "minibatch": info["minibatch"], "lr": optimizer.param_groups[0]["lr"], "wall_time": time.time(),
                **{name: np.nan for name in self.writer.extra_fields}}
        if self.split is not None:
            part_grads, counts = self.split()
            for part, part_grad, count in zip(self.writer.split_parts, part_grads, counts):
                self._rows[split_stream(part)][row] = part_grad.to(self.dtype)
                host[f"count_{part}"] = count
            unclipped = float(self._unclipped_sq.sqrt())
            host["clip_factor"] = float(grad.norm()) / unclipped if unclipped > 0 else 1.0
        self._host_fields.append(host)

    def _post_step(self, optimizer, args, kwargs) -> None:
        self._unclipped_sq.zero_()
        recorded = self._recording_now()
        self.step += 1
        if not recorded:
            return
        row = len(self._host_fields) - 1
        if "updates" in self._rows:
            theta = self.flat_params()
            self._rows["updates"][row] = (theta - self._theta_prev).to(self.dtype)
            self._theta_prev = theta

    def log(self, **scalars: float) -> None:
        """Set scalars of the step just taken, if it was recorded: ``loss``, ``policy_loss``, ``value_loss``,
        ``entropy_loss`` or any of the writer's ``extra_fields``."""
        if not self._host_fields or self._host_fields[-1]["step"] != self.step - 1:
            return  # not a recorded step (every > 1), or no step yet
        for name, value in scalars.items():
            if name in LOGGABLE_DEVICE_FIELDS:
                self._device_fields[len(self._host_fields) - 1, DEVICE_FIELDS.index(name)] = float(value)
            elif name in self.writer.extra_fields:
                self._host_fields[-1][name] = float(value)
            else:
                raise MisgenError(f"log({name}=...): {name!r} is not a step field; log one of "
                                  f"{', '.join(LOGGABLE_DEVICE_FIELDS)} or declare it in scalars=(...)")

    def flush(self) -> None:
        """Hand the buffered rows to the writer thread (non-blocking for the caller)."""
        n = len(self._host_fields)
        if n == 0:
            return
        rows = {s: buf[:n].to("cpu", non_blocking=True) for s, buf in self._rows.items()}
        device_fields = self._device_fields[:n].to("cpu", non_blocking=True)
        ready = None
        if self._device_fields.is_cuda:
            ready = torch.cuda.Event()
            ready.record()
        host_fields = self._host_fields
        self._host_fields = []

        def write() -> None:
            steps = {name: np.array([h[name] for h in host_fields]) for name in host_fields[0]}
            values = device_fields.numpy()
            for column, name in enumerate(DEVICE_FIELDS):
                steps[name] = values[:, column].astype(STEP_FIELDS[name][0])
            encoded = {s: (r.view(torch.int16).numpy().view(np.uint16) if r.dtype == torch.bfloat16 else r.numpy())
                       for s, r in rows.items()}
            self.writer.append(encoded, steps)

        self.background.submit(write, ready)
        # the next block is gathered into fresh buffers while this one is in flight
        self._rows = {s: torch.empty_like(buf) for s, buf in self._rows.items()}
        self._device_fields = torch.zeros_like(self._device_fields)

    def checkpoint(self, timesteps: int) -> None:
        """Flush, wait until written, and store the current theta as a checkpoint."""
        self.flush()
        self.background.drain()
        self.writer.add_checkpoint(self.flat_params().cpu().numpy(), self.step, timesteps)

    def close(self, complete: bool) -> None:
        """Write what is buffered and close the file (``complete`` marks a clean finish).

        After a failed write nothing more is written: the file keeps every block flushed before the failure.
        """
        self.detach()
        try:
            if not self.background.failed:
                self.flush()
                self.background.drain()
        finally:
            self.background.close()
            if self.background.failed:
                self.writer.abandon()
            else:
                self.writer.close(complete=complete)


class LoopRecorder:
    """Records the optimizer steps of any PyTorch training loop into a ``recording.h5``; made by :func:`record`.

    The parameters recorded are the model's (``named_parameters()`` order) that the optimizer updates.
    theta is checkpointed at the start, at every :meth:`checkpoint` and at the end. Per-step scalars set with
    :meth:`log` go into ``steps/``; nothing about environments applies, so ``timesteps`` and the other PPO
    bookkeeping fields read -1 (misgen/recording.py).
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: str | Path,
                 streams: tuple[str, ...] = STREAMS, dtype: str = "float32", every: int = 1,
                 scalars: tuple[str, ...] = (), config: dict | None = None):
        streams = (streams,) if isinstance(streams, str) else tuple(streams)
        if not streams:
            raise MisgenError(f"streams must name at least one of {', '.join(STREAMS)}")
        check_record_options(streams, dtype, every)
        clash = set(scalars) & set(STEP_FIELDS)
        if clash:
            raise MisgenError(f"scalars {', '.join(sorted(clash))} are built-in step fields: log them directly")
        optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
        named = [(name, p) for name, p in model.named_parameters() if id(p) in optimized]
        if not named:
            raise MisgenError("the optimizer updates none of the model's parameters")
        path = Path(path)
        if path.exists():
            raise MisgenError(f"{path} exists; record into a new file")
        info = {"model": type(model).__name__, "optimizer": type(optimizer).__name__,
                "optimizer_defaults": {k: v for k, v in optimizer.defaults.items()
                                       if isinstance(v, (int, float, str, bool, type(None)))}, **(config or {})}
        writer = RecordingWriter(path, ParamTable.from_named([(n, tuple(p.shape)) for n, p in named]), streams,
                                 dtype, every, "pytorch", info, extra_fields=tuple(scalars))
        self.path = path
        self._recorder = GradientRecorder([p for _, p in named], writer, self._step_info, every=every)
        self._recorder.checkpoint(timesteps=-1)  # theta_0
        self._recorder.attach(optimizer)

    @staticmethod
    def _step_info() -> dict:
        return {"timesteps": -1, "rollout": -1, "epoch": -1, "minibatch": -1, "loss": np.nan,
                "policy_loss": np.nan, "value_loss": np.nan, "entropy_loss": np.nan}

    @property
    def steps(self) -> int:
        """Optimizer steps taken since recording began."""
        return self._recorder.step

    def log(self, **scalars: float) -> None:
        """Scalars of the step just taken (``loss=`` or a declared scalar); ignored for unrecorded steps."""
        self._recorder.log(**scalars)

    def checkpoint(self) -> None:
        """Store the current theta (written through to disk first)."""
        self._recorder.checkpoint(timesteps=-1)

    def close(self, complete: bool = True) -> None:
        """Checkpoint the final theta and close the file (``complete`` marks a clean finish)."""
        if not self._recorder.background.failed:
            self._recorder.checkpoint(timesteps=-1)
        self._recorder.close(complete=complete)

    def __enter__(self) -> "LoopRecorder":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close(complete=exc_type is None)


def record(model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: str | Path,
           streams: tuple[str, ...] = STREAMS, dtype: str = "float32", every: int = 1,
           scalars: tuple[str, ...] = (), config: dict | None = None) -> LoopRecorder:
    """Record every ``every``-th optimizer step of ``model`` under ``optimizer`` into ``path`` (a new file).

    :param streams: ``grads`` (the gradient as the optimizer applies it, after any clipping) and/or ``updates``
        (theta after the step minus theta at the previous recorded row).
    :param dtype: stored precision: float16, bfloat16 or float32.
    :param scalars: names of extra per-step scalars the loop will pass to ``log``.
    :param config: JSON-serialisable settings to keep in the file's ``config`` attr.
    """
    return LoopRecorder(model, optimizer, path, streams, dtype, every, scalars, config)

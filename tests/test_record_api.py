"""``misgen.record`` on a plain PyTorch loop: a faithful recording that ``misgen svd`` decomposes, crash-safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import misgen
from misgen.errors import MisgenError
from misgen.recording import Recording
from conftest import MISGEN


def mlp_and_data(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    inputs = torch.randn(256, 8)
    labels = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0).long()
    return model, inputs, labels


def train_loop(model, optimizer, inputs, labels, steps, rec=None, grads=None):
    for step in range(steps):
        batch = slice(8 * step % 256, 8 * step % 256 + 8)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
        loss.backward()
        if grads is not None:
            grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone())
        optimizer.step()
        if rec is not None:
            rec.log(loss=loss.item(), accuracy=0.5)


def test_a_plain_loop_is_recorded_faithfully_and_decomposes(tmp_path):
    model, inputs, labels = mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    theta_0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    grads: list[torch.Tensor] = []
    path = tmp_path / "run.h5"
    with misgen.record(model, optimizer, path, streams=("grads", "updates"), dtype="float32", every=1,
                       scalars=("accuracy",)) as rec:
        train_loop(model, optimizer, inputs, labels, 40, rec, grads)
    theta_final = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    with Recording(path) as recording:
        assert recording.complete and recording.n_rows == 40 and recording.variant == "pytorch"
        assert recording.params.names == [name for name, _ in model.named_parameters()]
        np.testing.assert_allclose(recording.read("grads"), torch.stack(grads).numpy(), rtol=1e-6)
        np.testing.assert_allclose(recording.read("updates").sum(0), (theta_final - theta_0).numpy(), atol=1e-5)
        np.testing.assert_allclose(recording.theta(0), theta_0.numpy())
        np.testing.assert_allclose(recording.theta(-1), theta_final.numpy())
        assert np.isfinite(recording.steps("loss")).all() and (recording.steps("accuracy") == 0.5).all()
        assert (recording.steps("timesteps") == -1).all() and recording.steps("step").tolist() == list(range(40))
        assert recording.config["optimizer"] == "SGD"
    result = subprocess.run([MISGEN, "svd", str(path), "--k", "5", "--shuffles", "2"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "reconstruction check skipped" in result.stdout and "another training loop" in result.stdout
    summary = json.loads((tmp_path / "report" / "run.svd" / "summary.json").read_text())
    assert summary["k"] == 5 and summary["steps_used"] == 40 and summary["n_params"] == 8 * 16 + 16 + 16 * 3 + 3


def test_every_k_and_bad_arguments(tmp_path):
    model, inputs, labels = mlp_and_data(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with misgen.record(model, optimizer, tmp_path / "sparse.h5", streams=("updates",), dtype="bfloat16",
                       every=3) as rec:
        train_loop(model, optimizer, inputs, labels, 20)
        assert rec.steps == 20
    with Recording(tmp_path / "sparse.h5") as recording:
        assert recording.steps("step").tolist() == list(range(0, 20, 3)) and recording.streams == ("updates",)
    for kwargs in ({"streams": ("weights",)}, {"dtype": "int8"}, {"every": 0}, {"scalars": ("loss",)}):
        with pytest.raises(MisgenError):
            misgen.record(model, optimizer, tmp_path / "bad.h5", **kwargs)
    with pytest.raises(MisgenError, match="exists"):
        misgen.record(model, optimizer, tmp_path / "sparse.h5")
    with pytest.raises(MisgenError, match="accuracy"), misgen.record(model, optimizer, tmp_path / "log.h5") as rec:
        train_loop(model, optimizer, inputs, labels, 1)
        rec.log(accuracy=1.0)  # not declared
    assert not Recording(tmp_path / "log.h5").complete  # the loop raised: the file says it is unfinished


WRITER = textwrap.dedent("""
    import sys, torch, misgen
    torch.manual_seed(0)
    model = torch.nn.Linear(32, 32)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    with misgen.record(model, optimizer, sys.argv[1]) as rec:
        while True:
            optimizer.zero_grad()
            loss = model(torch.randn(4, 32)).pow(2).mean()
            loss.backward()
            optimizer.step()
            rec.log(loss=loss.item())
""")


def test_a_killed_writer_keeps_its_flushed_rows(tmp_path):
    script, path = tmp_path / "writer.py", tmp_path / "killed.h5"
    script.write_text(WRITER)
    process = subprocess.Popen([sys.executable, str(script), str(path)], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    rows = 0
    while rows < 64 and time.time() < deadline:
        time.sleep(0.5)
        try:
            with Recording(path) as recording:
                rows = recording.n_rows
        except MisgenError:
            pass  # not created yet
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with Recording(path) as recording:
        assert rows >= 64 and not recording.complete and recording.n_rows >= rows
        updates = recording.read("updates")
        assert np.isfinite(updates).all() and np.isfinite(recording.steps("loss")).all()
        assert recording.steps("step").tolist() == list(range(recording.n_rows))

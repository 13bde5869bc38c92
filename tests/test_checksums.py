"""Every numeric dataset misgen writes carries HDF5's Fletcher-32 checksum: a damaged chunk is refused in one line
naming the file and the dataset, a clean file reads, and a file written before checksums still reads (with one
note on stderr)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import pytest
import torch

import misgen
from analysis.decompose import SVDOptions, run_svd
from analysis.evaluation import evaluate, level_seeds
from envs.variants import EnvConfig
from misgen.episodes import EpisodeFile
from misgen.errors import MisgenError
from misgen.recording import Recording
from misgen.schema import CHECKSUM
from misgen.svd_file import SVDFile
from conftest import MISGEN


def make_recording(path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, labels = torch.randn(64, 8), torch.randint(0, 3, (64,))
    with misgen.record(model, optimizer, path, streams=("grads", "updates"), dtype="float32") as rec:
        for _ in range(48):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(inputs), labels)
            loss.backward()
            optimizer.step()
            rec.log(loss=loss.item())


def damage(path: Path, dataset: str) -> None:
    """Flip bits in the middle of the dataset's first chunk, as a failing disk or a careless edit would. (Not
    every bit of a byte: Fletcher-32 cannot tell a 16-bit word of zeros from one of ones.)"""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    with open(path, "r+b") as raw:
        raw.seek(info.byte_offset + info.size // 2)
        chunk = bytearray(raw.read(4))
        raw.seek(info.byte_offset + info.size // 2)
        raw.write(bytes(b ^ 0x5A for b in chunk))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("checksums")
    make_recording(base / "recording.h5")
    with Recording(base / "recording.h5") as recording:
        svd, _ = run_svd(recording, SVDOptions("updates", True, "all", 4, "gram", shuffles=1))
    svd.save(base / "svd.h5")
    evaluate(None, EnvConfig(variant="maze"), level_seeds(0, 2), deterministic=False, n_envs=2,
             episodes_path=base / "episodes.h5")
    return {"recording": base / "recording.h5", "svd": base / "svd.h5", "episodes": base / "episodes.h5"}


def test_every_numeric_dataset_written_has_a_checksum(files):
    for path in files.values():
        with h5py.File(path, "r") as f:
            unchecked = []
            f.visititems(lambda name, item: unchecked.append(name) if isinstance(item, h5py.Dataset)
                         and item.dtype.kind in "fiub" and item.shape and not item.fletcher32 else None)
            assert not unchecked, (path.name, unchecked)


@pytest.mark.parametrize("kind, dataset, command", [
    ("recording", "updates", lambda path, out: ["svd", str(path), "--out", str(out / "s.h5"), "--shuffles", "0"]),
    ("recording", "steps/step", lambda path, out: ["svd", str(path), "--out", str(out / "s.h5")]),
    ("episodes", "episodes/00000/actions", lambda path, out: ["replay", str(path), "--map", str(out / "m.png")]),
])
def test_a_damaged_chunk_is_one_line_naming_file_and_dataset(files, tmp_path, kind, dataset, command):
    copy = tmp_path / files[kind].name
    copy.write_bytes(files[kind].read_bytes())
    damage(copy, dataset)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([MISGEN, *command(copy, out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("misgen: error:") and str(copy) in lines[0], result.stderr
    assert repr(dataset) in lines[0] and "checksum" in lines[0]
    assert not any(out.iterdir())


def test_a_damaged_svd_file_is_refused_naming_the_dataset(files, tmp_path):
    copy = tmp_path / "svd.h5"
    copy.write_bytes(files["svd"].read_bytes())
    damage(copy, "loadings")
    with pytest.raises(MisgenError, match=r"'loadings'.*checksum") as error:
        SVDFile.load(copy)
    assert "\n" not in str(error.value)
    assert SVDFile.load(files["svd"]).k == 4  # the clean file reads


def test_files_written_before_checksums_still_read_with_one_note_each(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(CHECKSUM, "fletcher32", False)
    make_recording(tmp_path / "old.h5")
    SVDFile.load(files["svd"]).save(tmp_path / "old_svd.h5")
    evaluate(None, EnvConfig(variant="maze"), level_seeds(0, 2), deterministic=False, n_envs=2,
             episodes_path=tmp_path / "old_episodes.h5")
    monkeypatch.setitem(CHECKSUM, "fletcher32", True)
    capsys.readouterr()
    for _ in range(2):
        with Recording(tmp_path / "old.h5") as recording:
            assert recording.read("updates").shape == (48, 8 * 64 + 64 + 64 * 3 + 3)
        assert SVDFile.load(tmp_path / "old_svd.h5").k == 4
        with EpisodeFile(tmp_path / "old_episodes.h5") as episodes:
            assert len(episodes.episode(0).actions) > 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "before misgen stored checksums" in line]
    assert len(notes) == 3 and all(name in " ".join(notes) for name in ("old.h5", "old_svd.h5", "old_episodes.h5"))

"""Episode files and replays: exact re-simulation, videos, side by side, corrupted files."""

from __future__ import annotations

import shutil
import subprocess

import h5py
import imageio.v3 as iio
import numpy as np
import pytest

from analysis.evaluation import evaluate, level_seeds
from analysis.replay import Simulator, check, play
from envs.state_codec import parse_state, serialize_state
from envs.variants import VARIANTS, EnvConfig
from misgen.episodes import EpisodeFile
from conftest import MISGEN


@pytest.fixture(scope="module")
def random_episodes(tmp_path_factory):
    """20 episodes of a uniformly random policy on each variant."""
    root = tmp_path_factory.mktemp("episodes")
    files = {}
    for variant in VARIANTS:
        files[variant] = root / f"{variant}.h5"
        evaluate(None, EnvConfig(variant=variant), level_seeds(1, 20), deterministic=False, n_envs=10,
                 episodes_path=files[variant], policy_name="random")
    return files


def test_random_episodes_resimulate_step_for_step(random_episodes):
    for variant, path in random_episodes.items():
        with EpisodeFile(path) as episodes:
            assert len(episodes) == 20 and episodes.variant == variant
            simulator = Simulator(EnvConfig(**episodes.env_config), render=False)
            for index in range(20):
                record = episodes.episode(index)
                played = play(simulator, record.initial_state, actions=record.actions, render=False)
                check(played, record, index)  # raises on any difference in cells, rewards or the ending
                assert played.goal_step == record.goal_step and played.proxy_step == record.proxy_step
            simulator.close()


def test_videos_have_one_frame_more_than_actions(random_episodes, tmp_path):
    path = random_episodes["maze-topright"]
    with EpisodeFile(path) as episodes:
        index = int(np.argmin([episodes.episode(i).length for i in range(len(episodes))]))
        length = episodes.episode(index).length
    for suffix in (".mp4", ".gif"):
        out = tmp_path / f"episode{suffix}"
        result = subprocess.run([MISGEN, "replay", str(path), "--episode", str(index), "--out", str(out),
                                 "--size", "128"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        frames = iio.imread(out, plugin="pyav" if suffix == ".mp4" else None)
        assert frames.shape == (length + 1, 128, 128, 3)


def test_side_by_side_on_the_same_levels_and_a_map(random_episodes, tmp_path):
    seeds = level_seeds(1, 20)
    greedy = tmp_path / "other.h5"
    # played on black, beside episodes drawn with backgrounds: each side is replayed in its own environment
    other = evaluate(None, EnvConfig(variant="coinrun", use_backgrounds=False), seeds[:3], deterministic=False,
                     sample_seed=9, episodes_path=greedy)
    shortest = int(np.argmin([e.length for e in other.episodes]))
    out = tmp_path / "pair.mp4"
    result = subprocess.run([MISGEN, "replay", str(greedy), "--episode", str(shortest), "--compare",
                             str(random_episodes["coinrun"]), "--out", str(out), "--size", "96",
                             "--map", str(tmp_path / "map.png")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert iio.improps(out, plugin="pyav").shape[1:] == (96, 192, 3)
    assert (tmp_path / "map.png").stat().st_size > 1000
    heatmap = subprocess.run([MISGEN, "replay", str(random_episodes["maze"]), "--all", "--map",
                              str(tmp_path / "heat.png")], capture_output=True, text=True, timeout=300)
    assert heatmap.returncode == 0, heatmap.stderr


def _corrupt(source, target, how):
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        group = f["episodes/00000"]
        data = group["initial_state"][:].tobytes()
        if how == "field":  # well-formed, but an index procgen would crash on
            state = parse_state(data)
            state.fields["background_index"] = 1000
            data = serialize_state(state)
        elif how == "truncated":
            data = data[: len(data) // 2]
        else:
            data = bytes(np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8))
        del group["initial_state"]
        group["initial_state"] = np.frombuffer(data, dtype=np.uint8)


@pytest.mark.parametrize("how", ["field", "truncated", "noise"])
def test_corrupted_state_bytes_are_a_one_line_error(random_episodes, tmp_path, how):
    bad = tmp_path / "bad.h5"
    _corrupt(random_episodes["coinrun"], bad, how)
    result = subprocess.run([MISGEN, "replay", str(bad), "--out", str(tmp_path / "x.mp4")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr  # not a C++ abort (which would be -6)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_divergent_actions_are_reported(random_episodes, tmp_path):
    bad = tmp_path / "diverged.h5"
    shutil.copy(random_episodes["maze"], bad)
    with h5py.File(bad, "r+") as f:
        cells = f["episodes/00000/agent_cells"]
        cells[5] = cells[5] + 3
    result = subprocess.run([MISGEN, "replay", str(bad), "--out", str(tmp_path / "x.gif")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "diverges at step 5" in result.stderr


def test_actions_outside_procgens_set_are_a_one_line_error(random_episodes, tmp_path):
    bad = tmp_path / "bad_action.h5"
    shutil.copy(random_episodes["maze"], bad)
    with h5py.File(bad, "r+") as f:
        f["episodes/00000/actions"][3] = 20
    result = subprocess.run([MISGEN, "replay", str(bad), "--out", str(tmp_path / "x.gif")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "procgen's actions are 0..14" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

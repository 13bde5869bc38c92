"""theta along a recording, and ``misgen dynamics`` on a real (tiny) run."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from agents.presets import PRESETS
from agents.train import RecordConfig, train
from analysis.evaluation import evaluate, level_seeds, load_model
from envs.variants import EnvConfig
from misgen.recording import Recording
from misgen.trajectory import checkpoint_deviations, function_trajectory, principal_path, theta_at, thetas_at
from conftest import MISGEN

TINY = PRESETS["quick"].ppo.with_overrides({"n_envs": "4", "n_steps": "32", "n_minibatches": "2", "n_epochs": "2"})
CONFIG = EnvConfig(variant="maze-topright", region=2, max_maze_size=7)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run recorded every step in float16 with checkpoints, one with checkpoints and no recording."""
    base = tmp_path_factory.mktemp("dynamics")
    train(base / "recorded", CONFIG, TINY, RecordConfig(dtype="float16"), 1536, device="cpu", seed=3,
          checkpoint_every=512, show_progress=False)
    train(base / "plain", CONFIG, TINY, RecordConfig(streams=()), 1536, device="cpu", seed=3, checkpoint_every=512,
          show_progress=False)
    return base


def test_theta_at_matches_every_checkpoint_within_float16_rounding_and_ends_at_theta_final(runs):
    with Recording(runs / "recorded") as recording:
        deviations, total = checkpoint_deviations(recording)
        assert total >= 4 and len(deviations) == total  # every step recorded: every checkpoint on a row
        change = np.abs(recording.theta(-1) - recording.theta(0)).max()
        for deviation in deviations:
            assert deviation.max_abs < 0.01 * change and deviation.relative < 0.01
        assert deviations[0].row == -1 and deviations[0].max_abs == 0
        final = theta_at(recording, recording.n_rows - 1)
        assert np.abs(final - recording.theta(-1)).max() < 0.01 * change
        both = thetas_at(recording, [recording.n_rows - 1, -1, 3])
        assert np.array_equal(both[0], final) and np.array_equal(both[1], recording.theta(0))


def test_function_trajectory_of_a_recording_and_a_planted_turn():
    t = np.linspace(0, 1, 41)[:, None]
    path = np.where(t < 0.5, t * [1.0, 0.0, 0.0], 0.5 * np.array([1.0, 0.0, 0.0]) + (t - 0.5) * [0.0, 1.0, 0.0])
    noise = np.random.default_rng(0).normal(scale=1e-4, size=(41, 3))
    _, explained, turns = principal_path(np.hstack([path + noise, np.zeros((41, 5))]), k=3, n_turns=1)
    assert turns.tolist() == [20] and explained[:2].sum() > 0.99


def test_function_trajectory_api_on_the_recorded_policy(runs):
    model = load_model(runs / "recorded")
    inputs = torch.zeros((3, 3, 64, 64), dtype=torch.uint8)
    with Recording(runs / "recorded") as recording:
        trajectory = function_trajectory(recording, model.policy, inputs, points=5,
                                         output=lambda m, x: m.get_distribution(x).distribution.logits)
        assert trajectory.rows.tolist()[0] == -1 and trajectory.rows[-1] == recording.n_rows - 1
        assert trajectory.outputs.shape == (5, 3 * model.action_space.n) and len(trajectory.explained) == 4


def test_cli_dynamics_behaviour_at_the_last_point_is_evaluate_of_the_final_model(runs, tmp_path):
    out, svd = tmp_path / "dynamics", tmp_path / "svd.h5"
    made = subprocess.run([MISGEN, "svd", str(runs / "recorded"), "--stream", "updates", "--k", "5", "--reconstruct",
                           "none", "--out", str(svd)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    result = subprocess.run([MISGEN, "dynamics", str(runs / "recorded"), "--points", "4", "--levels", "6",
                             "--observations", "40", "--n-envs", "3", "--out", str(out), "--svd", str(svd)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "4 points x 2 variants x 6 levels: 48 episodes" in result.stdout
    behaviour = json.loads((out / "behaviour.json").read_text())
    assert [p["row"] for p in behaviour["points"]][0] == -1 and len(behaviour["points"]) == 4
    model = load_model(runs / "recorded")
    seeds = level_seeds(0, 6)
    train_eval = evaluate(model.policy, CONFIG, seeds, n_envs=3)
    test_eval = evaluate(model.policy, EnvConfig(variant="maze", region=2, max_maze_size=7), seeds, n_envs=3)
    last = behaviour["points"][-1]["measures"]
    assert last["cheese (training levels)"] == train_eval.summary()["goal_reached"]
    assert last["cheese off the path"] == test_eval.summary()["goal_off_path"]
    function = json.loads((out / "function.json").read_text())
    assert len(function["pcs"]) == 4 and function["observations"] == 40
    for name in ("behaviour.png", "function_pcs.png", "dynamics.png", "observations.npz"):
        assert (out / name).stat().st_size > 0
    drawn = np.load(out / "observations.npz")["observations"]
    # from checkpoints alone, reusing the stored observations
    plain = subprocess.run([MISGEN, "dynamics", str(runs / "plain"), "--points", "3", "--levels", "4",
                            "--observations", "40", "--n-envs", "2", "--out", str(out), "--force"],
                           capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0, plain.stderr
    assert np.array_equal(np.load(out / "observations.npz")["observations"], drawn)
    assert [p["row"] for p in json.loads((out / "behaviour.json").read_text())["points"]] == [None] * 3


def test_cli_dynamics_bad_input_is_one_line(runs, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((runs / "plain" / "config.json").read_text())
    cases = [[str(empty)], [str(runs / "recorded"), "--points", "100000"], [str(runs / "plain"), "--points", "50"],
             [str(runs / "recorded"), "--svd", str(tmp_path / "missing.h5")]]
    for args in cases:
        result = subprocess.run([MISGEN, "dynamics", *args, "--levels", "2", "--observations", "4", "--out",
                                 str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
        assert result.returncode == 2 and result.stderr.startswith("misgen: error:"), (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

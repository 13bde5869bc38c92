"""Training from the CLI and the gradient recording: complete, faithful and safe."""

from __future__ import annotations

import copy
import csv
import json
import resource
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

import agents.ppo
from agents.policy import ImpalaCNN, native_bf16
from agents.ppo import ppo_loss
from agents.presets import PRESETS
from agents.learning_curve import progress_files
from agents.train import RecordConfig, train
from envs.variants import EnvConfig
from misgen.errors import MisgenError
from misgen.recording import Recording
from misgen.rundir import RunDir
from conftest import MISGEN, digest, misgen_in_process

# the smallest config that still exercises every part: 4 envs x 32 steps, 2 minibatches, 2 epochs
TINY = PRESETS["quick"].ppo.with_overrides({"n_envs": "4", "n_steps": "32", "n_minibatches": "2", "n_epochs": "2"})
TINY_CLI = ["--preset", "quick", "--hp", "n_envs=4", "--hp", "n_steps=32", "--hp", "n_minibatches=2",
            "--hp", "n_epochs=2", "--no-progress"]


def test_impala_has_626256_parameters_with_named_layers():
    from stable_baselines3.common.policies import ActorCriticPolicy

    from agents.policy import policy_kwargs
    from envs.vec_env import ProcgenVecEnv

    env = ProcgenVecEnv(EnvConfig(variant="maze"), 1, 0)
    policy = ActorCriticPolicy(env.observation_space, env.action_space, lambda _: 5e-4, **policy_kwargs("impala"))
    assert sum(p.numel() for p in policy.parameters()) == 626_256
    assert isinstance(policy.features_extractor, ImpalaCNN)
    names = [n for n, _ in policy.named_parameters()]
    assert "features_extractor.stage2.res1.conv0.weight" in names and names[-2:] == ["value_net.weight",
                                                                                      "value_net.bias"]
    assert policy.get_submodule("features_extractor.stage3.conv").out_channels == 32
    wide = ActorCriticPolicy(env.observation_space, env.action_space, lambda _: 5e-4, **policy_kwargs("impala", 2))
    assert wide.get_submodule("features_extractor.stage3.conv").out_channels == 64
    apart = ActorCriticPolicy(env.observation_space, env.action_space, lambda _: 5e-4,
                              **policy_kwargs("compact", share_features=False))
    assert apart.vf_features_extractor is not apart.features_extractor  # the critic's own network
    names = [n for n, _ in apart.named_parameters()]
    assert "features_extractor.conv1.weight" in names and "vf_features_extractor.conv1.weight" in names


def test_compact_cnn_standardizes_each_frame():
    from agents.policy import CompactCNN
    from envs.vec_env import OBSERVATION_SPACE

    torch.manual_seed(0)
    extractor = CompactCNN(OBSERVATION_SPACE)
    frames = torch.rand(4, 3, 64, 64)
    features = extractor(frames)
    shifted = frames + torch.tensor([0.3, -0.2, 0.1]).reshape(1, 3, 1, 1)  # a colour cast changes nothing
    assert torch.allclose(features, extractor(shifted), atol=1e-5)
    contrast = frames * torch.tensor([1.5, 2.0, 3.0]).reshape(1, 3, 1, 1)  # nor does contrast, up to eps
    assert torch.allclose(features, extractor(contrast), rtol=0.02, atol=1e-3)
    assert torch.isfinite(extractor(torch.zeros(1, 3, 64, 64))).all()  # a blank frame


def test_recording_is_complete_and_faithful(tmp_path, monkeypatch):
    minibatches = []
    original_get = agents.ppo.TrackedRolloutBuffer.get

    def keep_minibatches(self, batch_size=None):  # instrument: keep what SB3 trains on
        for batch in original_get(self, batch_size):
            minibatches.append(copy.deepcopy(batch))
            yield batch

    monkeypatch.setattr(agents.ppo.TrackedRolloutBuffer, "get", keep_minibatches)
    started = time.perf_counter()
    result = train(tmp_path / "run", EnvConfig(variant="maze-topright"), TINY, RecordConfig(dtype="float32"), 640,
                   device="cpu", seed=3, show_progress=False)
    assert time.perf_counter() - started < 60
    recording = Recording(tmp_path / "run")
    model = PPO.load(tmp_path / "run" / "model.zip", device="cpu")
    params = list(model.policy.parameters())

    # complete: one row per optimizer step, D = every parameter, offsets cover D
    assert result.optimizer_steps == len(minibatches) == 5 * 2 * 2 == recording.n_rows
    assert recording.steps("step").tolist() == list(range(20))
    assert recording.n_params == sum(p.numel() for p in params)
    assert recording.params.offsets[0] == 0 and recording.params.offsets[-1] == recording.n_params
    assert recording.params.names == [n for n, _ in model.policy.named_parameters()]
    assert recording.complete and recording.steps("rollout")[-1] == 4 and recording.steps("epoch").max() == 1
    assert recording.steps("finite").all() and (recording.steps("timesteps") == 128 * (recording.steps("rollout") + 1)).all()

    # faithful: updates telescope to theta_final - theta_0
    theta_0, theta_final = recording.theta(0), recording.theta(-1)
    final = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    np.testing.assert_allclose(theta_final, final, atol=1e-7)
    np.testing.assert_allclose(recording.read("updates").sum(axis=0), theta_final - theta_0, atol=2e-6)

    # faithful: row 0 is the gradient of the PPO loss on the first minibatch at theta_0, after clipping
    torch.nn.utils.vector_to_parameters(torch.as_tensor(theta_0), params)
    batch = minibatches[0]
    values, log_prob, entropy = model.policy.evaluate_actions(batch.observations, batch.actions.long().flatten())
    terms = ppo_loss(model, batch, values, log_prob, entropy)
    model.policy.zero_grad()
    terms["loss"].backward()
    unclipped = torch.cat([p.grad.reshape(-1) for p in params]).norm().item()
    torch.nn.utils.clip_grad_norm_(params, model.max_grad_norm)
    manual = torch.cat([p.grad.reshape(-1) for p in params]).numpy()
    np.testing.assert_allclose(recording.read("grads", rows=slice(0, 1))[0], manual, rtol=1e-4, atol=1e-7)
    assert recording.steps("loss")[0] == pytest.approx(terms["loss"].item(), rel=1e-5)
    assert recording.steps("grad_norm_unclipped")[0] == pytest.approx(unclipped, rel=1e-5)
    assert recording.steps("grad_norm")[0] == pytest.approx(min(unclipped, 0.5), rel=1e-4)
    run_config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert run_config["ppo"]["n_envs"] == 4 and run_config["versions"]["torch"] and "git_commit" in run_config


def test_bfloat16_and_sparse_recording(tmp_path):
    train(tmp_path / "bf", EnvConfig(variant="maze"), TINY, RecordConfig(("updates",), every=3, dtype="bfloat16"),
          512, device="cpu", show_progress=False)
    recording = Recording(tmp_path / "bf")
    assert recording.streams == ("updates",) and recording.steps("step").tolist() == [0, 3, 6, 9, 12, 15]
    assert recording.file["updates"].dtype == np.uint16 and recording.record_dtype == "bfloat16"
    # rows are the change since the previous row: they still sum to theta_final - theta_0 (up to bf16)
    total = recording.read("updates").sum(axis=0)
    delta = recording.theta(-1) - recording.theta(0)
    assert np.abs(total - delta).max() < 0.02 * np.abs(delta).max() + 1e-6


def misgen(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([MISGEN, *args], capture_output=True, text=True, timeout=300, **kwargs)


def _wait_for_rows(path: Path, rows: int, checkpoints: int, process: subprocess.Popen, timeout: float = 120) -> None:
    """Read the recording while training writes it, until it holds ``rows`` rows and ``checkpoints`` thetas."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            with h5py.File(path, "r", libver="latest", swmr=True) as f:
                if f["steps/step"].shape[0] >= rows and f["checkpoints/step"].shape[0] >= checkpoints:
                    return
        except (OSError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError("no rows appeared")


def _check_consistent(path: Path) -> Recording:
    """Steps contiguous from 0; at every checkpoint the updates so far add up to theta - theta_0."""
    recording = Recording(path)
    steps = recording.steps("step")
    assert steps.tolist() == list(range(len(steps)))
    cumulative = np.cumsum(recording.read("updates"), axis=0)
    ckpt_steps, thetas = recording.checkpoints()
    for k, step in enumerate(ckpt_steps):
        if 0 < step <= len(steps):
            np.testing.assert_allclose(cumulative[step - 1], thetas[k] - thetas[0], atol=1e-5)
    return recording


def test_kill_minus_9_keeps_flushed_rows_and_resume_continues(tmp_path):
    out = tmp_path / "killed"
    args = ["train", "maze", "--out", str(out), "--timesteps", "100000", "--record-dtype", "float32",
            "--checkpoint-every", "512", *TINY_CLI]
    process = subprocess.Popen([MISGEN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_rows(out / "recording.h5", 40, 2, process)
    process.kill()
    process.wait()
    recording = _check_consistent(out)
    assert not recording.complete and recording.n_rows >= 32 and recording.n_rows % 16 == 0
    recording.close()

    resumed = misgen("train", "maze", "--out", str(out), "--timesteps", "3000", "--resume", *TINY_CLI)
    assert resumed.returncode == 0, resumed.stderr
    recording = _check_consistent(out)
    assert recording.complete and recording.steps("timesteps")[-1] >= 3000 - 128
    np.testing.assert_allclose(recording.read("updates").sum(0), recording.theta(-1) - recording.theta(0), atol=1e-5)


def _checkpoint_steps(run: Path) -> set[int]:
    return {int(path.stem.split("_")[1]) for path in (run / "checkpoints").glob("step_*.zip")}


def test_clean_stop_then_resume(tmp_path):
    out = tmp_path / "stopped"
    args = ["train", "maze", "--out", str(out), "--timesteps", "100000", "--record-dtype", "float32",
            "--checkpoint-every", "128", *TINY_CLI]
    process = subprocess.Popen([MISGEN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_rows(out / "recording.h5", 16, 1, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "stopped early" in stdout, stderr
    recording = _check_consistent(out)
    stopped_rows = recording.n_rows
    assert not recording.complete and recording.checkpoints()[0][-1] == stopped_rows
    recording.close()
    saved_before = _checkpoint_steps(out)
    # three rollouts past the stop's checkpoint (a SIGINT during a rollout's update can stop before its rows)
    resumed_length = max(saved_before) + 3 * 128
    resumed = misgen("train", "maze", "--out", str(out), "--timesteps", str(resumed_length), "--resume", *TINY_CLI)
    assert resumed.returncode == 0, resumed.stderr
    recording = _check_consistent(out)
    assert recording.complete and recording.n_rows == stopped_rows + 3 * 4
    assert recording.steps("rollout").tolist() == sorted(recording.steps("rollout").tolist())
    # without --checkpoint-every the resumed run keeps checkpointing at the run's own interval
    assert json.loads((out / "config.json").read_text())["checkpoint_every"] == 128
    new = sorted(_checkpoint_steps(out) - saved_before)
    assert len(new) == 3 and new[1] - new[0] == 128, new  # two at the interval, then the end
    # without --timesteps it keeps the run's own length (not the preset's): here, already reached
    reached = max(_checkpoint_steps(out))
    again = misgen("train", "maze", "--out", str(out), "--resume", *TINY_CLI)
    assert again.returncode == 0 and again.stdout.startswith(f"finished: {reached} env steps"), again.stdout
    assert max(_checkpoint_steps(out)) == reached
    assert json.loads((out / "config.json").read_text())["timesteps"] == resumed_length

    # a coefficient edited in config.json between sessions trains (SB3 alone would restore the zip's), said so
    config = json.loads((out / "config.json").read_text())
    config["ppo"]["ent_coef"] = 0.003
    (out / "config.json").write_text(json.dumps(config))
    length = 128 * (stopped_rows // 4 + 4)
    edited = misgen("train", "maze", "--out", str(out), "--timesteps", str(length), "--resume", *TINY_CLI)
    assert edited.returncode == 0 and "resuming with ent_coef 0.003" in edited.stderr, edited.stderr
    assert PPO.load(out / "model.zip").ent_coef == 0.003
    # one that the run's step accounting rests on is refused before anything is written
    config["ppo"]["n_steps"] = 64
    (out / "config.json").write_text(json.dumps(config))
    before = digest(out)
    refused = misgen("train", "maze", "--out", str(out), "--timesteps", str(length + 128), "--resume", *TINY_CLI)
    assert refused.returncode == 2 and "trained with n_steps 32" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and digest(out) == before


def test_existing_run_and_unwritable_paths_are_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    refused = misgen("train", "maze", "--out", str(out), "--timesteps", "128", *TINY_CLI)
    assert refused.returncode == 2 and "already holds a run" in refused.stderr
    assert (out / "config.json").read_text() == "{}"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for bad in (a_file / "run", Path("/proc/misgen-run")):
        result = misgen("train", "maze", "--out", str(bad), "--timesteps", "128", *TINY_CLI)
        assert result.returncode == 2 and "cannot write the run directory" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def _limit_file_size():  # a full disk, as the process sees it: writes past 25 MB fail with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (25_000_000, 25_000_000))


def test_full_disk_stops_cleanly_with_what_was_written_readable(tmp_path):
    out = tmp_path / "full"
    result = subprocess.run([MISGEN, "train", "maze", "--out", str(out), "--timesteps", "20000", *TINY_CLI],
                            capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "disk full" in result.stderr
    recording = Recording(out)
    assert not recording.complete and recording.n_rows >= 16
    assert np.isfinite(recording.read("grads")).all()
    assert recording.steps("step").tolist() == list(range(recording.n_rows))


def test_cpu_preset_trains_its_restricted_distribution_and_the_zip_carries_it(tmp_path):
    out = tmp_path / "cpu"
    shrunk = ["--hp", "n_envs=4", "--hp", "n_steps=32", "--hp", "n_minibatches=2", "--no-progress"]
    result = misgen("train", "maze-topright", "--out", str(out), "--preset", "cpu", "--timesteps", "256",
                    "--record", "updates", "--min-maze-size", "5", "--no-backgrounds", *shrunk)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["env"]["region"] == 2 and config["env"]["max_maze_size"] == 9  # the preset's defaults
    assert config["env"]["min_maze_size"] == 5 and config["env"]["use_backgrounds"] is False
    # bf16 where this CPU computes it natively, float32 where torch would emulate it
    assert config["ppo"]["architecture"] == "compact" and config["ppo"]["bf16"] == native_bf16()
    assert config["ppo"]["action_set"] == "moves"
    with Recording(out) as recording:  # the bf16 network trains: float32 parameters move, finitely
        updates = recording.read("updates")
        assert np.isfinite(updates).all() and np.abs(updates).sum() > 0
    assert (out / "learning_curve.png").stat().st_size > 10_000
    model = PPO.load(out / "model.zip")
    assert model.misgen_env_config == config["env"] and model.action_space.n == 4
    assert all(p.dtype == torch.float32 for p in model.policy.parameters())
    features = model.policy.extract_features(torch.zeros((2, 3, 64, 64)), model.policy.features_extractor)
    assert features.dtype == torch.float32

    evaluated = misgen("evaluate", str(out / "model.zip"), "--episodes", "6", "--n-envs", "3", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["env"] == config["env"]  # the training distribution, without a flag
    on_test = json.loads(misgen("evaluate", str(out / "model.zip"), "--variant", "maze", "--episodes", "6",
                                "--n-envs", "3", "--json").stdout)
    assert on_test["env"]["variant"] == "maze" and on_test["env"]["max_maze_size"] == 9
    assert on_test["env"]["min_maze_size"] == 5

    episodes = tmp_path / "episodes.h5"  # episode files hold procgen's actions, whatever the policy's set
    assert misgen("evaluate", str(out / "model.zip"), "--episodes", "3", "--n-envs", "3", "--record-episodes",
                  str(episodes)).returncode == 0
    with h5py.File(episodes) as file:
        for episode in file["episodes"].values():
            assert set(episode["actions"][:].tolist()) <= {1, 3, 5, 7}
            probs = episode["action_probs"][:].astype(np.float64)
            assert np.allclose(probs.sum(axis=1), 1, atol=1e-2) and not probs[:, [0, 2, 4, 6, 8]].any()


def test_linear_schedules_fall_to_zero_at_the_run_end_also_across_a_resume(tmp_path, capsys):
    out = tmp_path / "annealed"
    config = TINY.with_overrides({"ent_schedule": "linear", "ent_coef": "0.02", "lr_schedule": "linear",
                                  "learning_rate": "0.001"})
    train(out, EnvConfig(variant="maze"), config, RecordConfig(streams=()), 640, device="cpu",
          checkpoint_every=256, show_progress=False)
    train(out, EnvConfig(variant="maze"), config, RecordConfig(streams=()), 1280, device="cpu", resume=True,
          show_progress=False)
    rows = [row for path, _ in progress_files(RunDir(out)) for row in csv.DictReader(path.open())]
    # before each update of 128 steps' rollout: the config's value x the share of the run's steps still to come,
    # of 640 steps and then, resumed at 640, of 1,280
    remaining = [1 - t / 640 for t in range(128, 641, 128)] + [1 - t / 1280 for t in range(768, 1281, 128)]
    assert [float(row["train/ent_coef"]) for row in rows] == pytest.approx([0.02 * r for r in remaining])
    # SB3 writes an update's own logs (the learning rate among them) with the next rollout's row, so each
    # training's last update goes unlogged
    logged_rates = [float(row["train/learning_rate"]) for row in rows if row["train/learning_rate"]]
    assert logged_rates == pytest.approx([0.001 * r for r in remaining[:4] + remaining[5:9]])
    # the checkpoints keep the config's values: a resume finds nothing changed to announce
    model = PPO.load(out / "model.zip")
    assert model.ent_coef == 0.02 and model.lr_schedule(1.0) == 0.001
    assert "resuming with" not in capsys.readouterr().err
    for name in ("ent_schedule", "lr_schedule"):
        with pytest.raises(ValueError):
            TINY.with_overrides({name: "cosine"})


def test_split_recording_parts_sum_to_the_unclipped_gradient(tmp_path):
    out = tmp_path / "split"  # mazes up to 7x7, region 3: a random walk spends time on both sides
    result = misgen("train", "maze-topright", "--out", str(out), *TINY_CLI, "--timesteps", "640", "--max-maze-size",
                    "7", "--region", "3", "--record-split", "region")
    assert result.returncode == 0, result.stderr
    with Recording(out) as recording:
        assert recording.split == "region" and recording.split_parts == ("outside", "inside")
        grads = recording.read("grads")
        parts = sum(recording.read(stream) for stream in recording.split_streams)
        clip = recording.steps("clip_factor")
        assert ((clip > 0) & (clip <= 1 + 1e-6)).all() and (clip < 0.999).any()  # some rows were clipped
        # float16 rows: the parts, scaled by the clip, are the applied gradient up to the stored precision
        np.testing.assert_allclose(parts * clip[:, None], grads, atol=2e-3 * np.abs(grads).max())
        outside, inside = recording.steps("count_outside"), recording.steps("count_inside")
        assert (outside + inside == 64).all() and inside.sum() > 0 and outside.sum() > 0  # minibatches of 64

    from analysis.decompose import SVDOptions, run_svd
    from analysis.svd_report import save_with_report

    with Recording(out) as recording:  # in process: the CLI's svd is tested elsewhere
        svd, _ = run_svd(recording, SVDOptions("grads", k=4, device="cpu", shuffles=1))
        summary, report = save_with_report(svd, out / "svd.h5")
        inside, _ = run_svd(recording, SVDOptions("grads_split/inside", k=2, device="cpu", shuffles=0))
    assert summary["split_parts"] == ["outside", "inside"] and "split_shares" not in inside.components
    for component in summary["components"]:
        assert sum(component["split_shares"].values()) == pytest.approx(1, abs=1e-3)
    assert "Shares per part of the `region` split" in report.read_text()

    refused = misgen("train", "coinrun", "--out", str(tmp_path / "no"), *TINY_CLI, "--record-split", "region")
    assert refused.returncode == 2 and "coinrun variants take coin-side" in refused.stderr
    assert not (tmp_path / "no").exists()  # refused before anything was written


def test_a_diverged_update_stops_training_cleanly_and_keeps_what_was_written(tmp_path):
    """A caller's callback (train() takes SB3 callbacks) poisons one parameter after the third rollout; training
    stops at the next rollout with one MisgenError, the recording kept and marked incomplete, earlier checkpoints
    kept."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Poison(BaseCallback):
        def _on_rollout_end(self) -> None:
            if self.model.num_timesteps >= 3 * 128:
                with torch.no_grad():
                    next(self.model.policy.parameters()).view(-1)[0] = float("nan")

        def _on_step(self) -> bool:
            return True

    tiny = PRESETS["quick"].ppo.with_overrides({"n_envs": "4", "n_steps": "32", "n_minibatches": "2", "n_epochs": "1"})
    with pytest.raises(MisgenError, match=r"training stopped at 384 env steps: an update left parameters NaN"):
        train(tmp_path / "run", EnvConfig(variant="maze"), tiny, RecordConfig(), 2048, device="cpu",
              checkpoint_every=256, show_progress=False, callbacks=[Poison()])
    with Recording(tmp_path / "run") as recording:
        assert not recording.complete and recording.n_rows > 0
        assert np.isfinite(recording.theta(-1)).all()  # the last checkpoint is from before the damage
    assert (tmp_path / "run" / "checkpoints" / "step_256.zip").is_file()
    assert not (tmp_path / "run" / "model.zip").exists()


def test_a_python_call_with_a_preset_trains_what_the_cli_trains(tmp_path):
    """``PRESETS["cpu"]`` carries the run defaults too (region, maze sizes, recording): the same configuration as
    ``misgen train --preset cpu``, not the Procgen defaults beside the cpu preset's PPO settings."""
    from agents.presets import PRESETS

    cli = subprocess.run([MISGEN, "train", "maze-topright", "--preset", "cpu", "--timesteps", "4096", "--out",
                          str(tmp_path / "cli"), "--no-progress"], capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr
    preset = PRESETS["cpu"]
    train(tmp_path / "python", preset.env_config("maze-topright"), preset.ppo, preset.record_config(), 4096,
          show_progress=False)
    configs = [json.loads((tmp_path / name / "config.json").read_text()) for name in ("cli", "python")]
    for key in ("variant", "env", "ppo", "record", "timesteps", "seed", "device"):
        assert configs[0][key] == configs[1][key], key
    assert configs[0]["env"]["region"] == 2 and configs[0]["record"]["every"] == 20


def test_a_preset_applies_to_the_variants_game():
    """``--preset cpu`` on coinrun is the cpu preset with coinrun's own action set; on maze it is unchanged."""
    assert PRESETS["cpu"].for_game("maze") == PRESETS["cpu"]
    coinrun = PRESETS["cpu"].for_game("coinrun")
    assert coinrun.ppo.action_set == "directions" and coinrun.ppo.architecture == PRESETS["cpu"].ppo.architecture
    shown = misgen_in_process(["train", "coinrun-randcoin", "--preset", "cpu", "--hp", "help"])
    assert shown.returncode == 0 and "cpu preset's values for coinrun" in shown.stdout
    assert [line.split()[1] for line in shown.stdout.splitlines() if line.split()[:1] == ["action_set"]] == \
        ["directions"]
    unknown = misgen_in_process(["train", "coinrunn", "--preset", "cpu", "--out", "unused"])
    assert unknown.returncode == 2 and unknown.stderr.startswith("misgen: error: unknown variant 'coinrunn'")

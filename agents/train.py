"""Train a PPO agent on a variant and record its gradient time series: the flow behind ``misgen train``.

Read top to bottom: run directory and config -> environments -> learner -> recorder -> learn -> save.
"""

from __future__ import annotations

import datetime
import os
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import VecNormalize

from agents.allocator import keep_freed_memory
from agents.callbacks import (CountRollouts, EpisodeOutcomes, LinearAnneal, PeriodicCheckpoint, PhaseTimes,
                              SplitLabels, StopOnNonFinite, StopOnSignal, TrainingDiverged, parameters_finite)
from agents.learning_curve import plot_learning_curve
from agents.policy import ARCHITECTURES, native_bf16, policy_kwargs
from agents.ppo import LossTerms, SplitGradients, StepCounter, TrainingPosition, learner_settings, make_ppo, track
from agents.presets import PPOConfig
from envs.actions import ACTION_SETS, ActionSetVecEnv
from envs.splits import get_split
from envs.variants import EnvConfig
from envs.vec_env import OBSERVATION_SPACE, ProcgenVecEnv
from misgen.errors import MisgenError, one_line
from misgen.model_zip import load_ppo, read_model_zip
from misgen.recorder import GradientRecorder
from misgen.recording import CHUNK_ROWS, STREAMS, ParamTable, RecordingWriter, check_record_options
from misgen.rundir import Checkpoint, RunDir, git_commit, package_versions, read_normalization
from misgen.schema import dataclass_from_json


def parse_streams(text: str) -> tuple[str, ...]:
    """``--record``'s value: ``grads,updates``, ``grads``, ``updates`` or ``none``."""
    if text == "none":
        return ()
    return tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))


@dataclass(frozen=True)
class RecordConfig:
    streams: tuple[str, ...] = STREAMS  # () records nothing
    every: int = 1  # record every k-th optimizer step
    dtype: str = "float16"
    split: str = ""  # envs/splits.py: also record the gradient part by part ("" for none)

    def __post_init__(self):
        check_record_options(self.streams, self.dtype, self.every)
        if self.split and not self.streams:
            raise MisgenError("--record-split records gradients: it needs --record grads, updates or both")


@dataclass(frozen=True)
class TrainResult:
    run: RunDir
    timesteps: int
    optimizer_steps: int
    complete: bool
    goal_rate: float
    proxy_rate: float
    mean_return: float


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise MisgenError("--device cuda: no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise MisgenError(f"--device must be auto, cpu or cuda, not {device!r}")
    return device


# a run's step accounting (rollouts per optimizer step) and its return normalization rest on these
FIXED_WITHIN_RUN = ("n_steps", "batch_size", "n_epochs", "gamma")


def load_checkpoint(checkpoint: Checkpoint, venv, ppo_config: PPOConfig, device: str) -> tuple[VecNormalize, PPO]:
    """The normalization statistics and model of ``checkpoint`` on ``venv``, training with ``ppo_config``'s
    hyperparameters (SB3 would restore the ones stored in the zip and silently ignore a config.json edited between
    sessions). A changed coefficient is announced on stderr; a changed ``FIXED_WITHIN_RUN`` setting, a file that
    does not load, or a model of another architecture than the config names, is one MisgenError."""
    env = read_normalization(checkpoint.normalization)
    for field, expected in (("gamma", ppo_config.gamma), ("norm_reward", ppo_config.normalize_reward)):
        if vars(env)[field] != expected:
            raise MisgenError(f"{checkpoint.normalization}: field {field!r} is {vars(env)[field]}, the run's "
                              f"config.json says {expected}")
    try:
        env.set_venv(venv)
    except (AssertionError, ValueError) as error:  # SB3 asserts that the observation spaces agree
        raise MisgenError(f"{checkpoint.normalization}: field 'observation_space' does not fit this run's "
                          f"environments ({one_line(error)})") from None
    settings = learner_settings(ppo_config)
    stored = read_model_zip(checkpoint.model)
    model = load_ppo(checkpoint.model, data=stored, env=env, device=device, **settings)
    expected = ARCHITECTURES[ppo_config.architecture].__name__
    found = type(model.policy.features_extractor).__name__
    if found != expected:
        raise MisgenError(f"{checkpoint.model}: the model is a {found}, the run's config.json says {expected}")
    for name, value in settings.items():
        before = stored.get(name)
        before = before(1.0) if callable(before) else before  # SB3 stores clip_range as a schedule
        if before == value:
            continue
        if name in FIXED_WITHIN_RUN:
            raise MisgenError(f"{checkpoint.model}: trained with {name} {before}, the run's config.json says {value}; "
                              f"{', '.join(FIXED_WITHIN_RUN)} cannot change within a run")
        print(f"misgen: resuming with {name} {value} (config.json); {checkpoint.model.name} trained with {before}",
              file=sys.stderr)
    return env, model


OBSERVATION_BYTES = 3 * 64 * 64 * 4  # SB3's rollout buffer holds each frame as float32


def available_memory() -> int:
    """Bytes the system can give without swapping (Linux MemAvailable; elsewhere the free pages)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(ppo_config: PPOConfig, projected: ProjectedRecording | None = None) -> None:
    """Refuse a run whose rollout buffer and recording buffers would not fit in the machine's memory, with the
    estimate. The recorder holds two blocks of ``CHUNK_ROWS`` rows per stream: one being gathered, one being
    written (misgen/recorder.py)."""
    transitions = ppo_config.n_envs * ppo_config.n_steps
    rollout = transitions * OBSERVATION_BYTES
    recording = 2 * CHUNK_ROWS * projected.row_bytes if projected else 0
    free = available_memory()
    if rollout + recording > free:
        parts = f"a rollout buffer of {rollout / 2**30:,.1f} GiB ({transitions:,} transitions)"
        if recording:
            parts += (f" and recording buffers of {recording / 2**30:,.1f} GiB (2 x {CHUNK_ROWS} rows x "
                      f"{projected.n_params:,} parameters x {projected.bytes_per_value} bytes x "
                      f"{projected.streams} stream(s))")
        raise MisgenError(f"the run needs {parts}; this machine has {free / 2**30:,.1f} GiB available")


@dataclass(frozen=True)
class ProjectedRecording:
    rows: int
    n_params: int
    bytes_per_value: int
    streams: int

    @property
    def row_bytes(self) -> int:
        """Bytes of one recorded row in every stream."""
        return self.n_params * self.bytes_per_value * self.streams

    @property
    def bytes(self) -> int:
        return self.rows * self.row_bytes

    def describe(self) -> str:
        return (f"{self.rows:,} rows x {self.n_params:,} parameters x {self.bytes_per_value} bytes x {self.streams} "
                f"stream(s) = {self.bytes / 1e9:,.1f} GB")

    def check_fits(self, out: Path) -> None:
        """Refuse when the projection exceeds the free space of ``out``'s file system."""
        existing = next(p for p in (out, *out.absolute().parents) if p.exists())
        usage = shutil.disk_usage(existing)
        free = usage.free
        if usage.total and self.bytes > free:  # a pseudo file system (total 0) is no disk: creating the run fails
            raise MisgenError(f"the recording would take {self.bytes / 1e9:,.1f} GB ({self.describe()}), more than the "
                              f"{free / 1e9:,.1f} GB free at {existing}: record less (--record-every, --record) or "
                              "pass --ignore-disk-space")


def projected_recording(ppo_config: PPOConfig, record: RecordConfig, timesteps: int,
                        game: str) -> ProjectedRecording:
    """The size of the recording a run of ``timesteps`` env steps writes (the policy built once, on the CPU, for
    its parameter count)."""
    policy = ActorCriticPolicy(OBSERVATION_SPACE, spaces.Discrete(len(ACTION_SETS[ppo_config.action_set])),
                               lambda _: ppo_config.learning_rate,
                               **policy_kwargs(ppo_config.architecture, ppo_config.width_scale,
                                               share_features=ppo_config.share_features))
    n_params = sum(p.numel() for p in policy.parameters())
    rollouts = -(-timesteps // ppo_config.steps_per_rollout)
    optimizer_steps = rollouts * ppo_config.n_epochs * ppo_config.n_minibatches
    split_parts = len(get_split(record.split, game).parts) if record.split else 0
    return ProjectedRecording(-(-optimizer_steps // record.every), n_params, 4 if record.dtype == "float32" else 2,
                              len(record.streams) + split_parts)


def runnable_config(ppo_config: PPOConfig, device: str) -> PPOConfig:
    """``ppo_config`` as it can run on ``device``: emulated bfloat16 costs more than it saves
    (benchmarks/bf16_autocast.py), so a CPU without native bf16 trains in float32 (said on stderr)."""
    if ppo_config.bf16 and device == "cpu" and not native_bf16():
        print("misgen: this CPU has no native bfloat16 (AVX-512 BF16 or AMX): training in float32", file=sys.stderr)
        return replace(ppo_config, bf16=False)
    return ppo_config


def training_envs(env_config: EnvConfig, ppo_config: PPOConfig) -> ActionSetVecEnv:
    """The variant's ``n_envs`` environments, in the policy's action set."""
    return ActionSetVecEnv(ProcgenVecEnv(env_config, ppo_config.n_envs, ppo_config.env_threads),
                           ppo_config.action_set)


def new_normalization(venv, ppo_config: PPOConfig) -> VecNormalize:
    """Rewards normalised by a running estimate of the return's scale, as in the Procgen paper; frames as they are."""
    return VecNormalize(venv, norm_obs=False, norm_reward=ppo_config.normalize_reward, gamma=ppo_config.gamma,
                        clip_reward=ppo_config.reward_clip)


def train(out: Path, env_config: EnvConfig, ppo_config: PPOConfig, record: RecordConfig, timesteps: int | None,
          device: str = "auto", seed: int = 0, checkpoint_every: int | None = None, resume: bool = False,
          show_progress: bool = True, check_disk: bool = True,
          callbacks: list[BaseCallback] | tuple[BaseCallback, ...] = ()) -> TrainResult:
    """Train until ``timesteps`` environment steps in total (also when resuming; None only when resuming: the
    run's own length), recording as asked, with a checkpoint every ``checkpoint_every`` env steps (None: 0, or
    when resuming the run's own interval). With ``check_disk``, a recording projected to outgrow the free space of
    the output's file system is refused before anything is written. ``callbacks``: SB3 callbacks of the caller's,
    run after misgen's own at every step."""
    if timesteps is None and not resume:
        raise ValueError("a new run needs its length in timesteps")
    keep_freed_memory()  # faster, the same numbers (agents/allocator.py)
    # --- run directory and config ------------------------------------------------------------------
    # everything that can be refused is refused before anything is written
    if record.split and not resume:
        get_split(record.split, env_config.game)
    device = resolve_device(device)
    if ppo_config.architecture not in ARCHITECTURES:
        raise MisgenError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {ppo_config.architecture!r}")
    projected = projected_recording(ppo_config, record, timesteps, env_config.game) \
        if record.streams and not resume else None
    check_memory(ppo_config, projected)
    if projected and check_disk:
        projected.check_fits(Path(out))
    run = RunDir(Path(out))
    run.create(resume)
    if projected:
        print(f"recording {projected.describe()}", flush=True)  # stdout: stderr is for errors
    if resume:  # the run's own settings win; only the length, device and checkpointing may change
        saved = run.read_config()
        env_config = dataclass_from_json(EnvConfig, saved["env"], f"{run.config_file}: env")
        ppo_config = dataclass_from_json(PPOConfig, saved["ppo"], f"{run.config_file}: ppo")
        record = dataclass_from_json(RecordConfig, saved["record"], f"{run.config_file}: record")
        seed = saved["seed"]
        if timesteps is None:
            timesteps = saved["timesteps"]
            if timesteps < 1:
                raise MisgenError(f"{run.config_file}: field 'timesteps' must be >= 1, found {timesteps}")
        if checkpoint_every is None:
            checkpoint_every = saved["checkpoint_every"]
            if checkpoint_every < 0:
                raise MisgenError(f"{run.config_file}: field 'checkpoint_every' must be >= 0, found {checkpoint_every}")
    checkpoint_every = checkpoint_every or 0
    ppo_config = runnable_config(ppo_config, device)  # the config records what runs
    config = {
        "variant": env_config.variant, "env": asdict(env_config), "ppo": ppo_config.as_dict(),
        "record": asdict(record), "timesteps": timesteps, "seed": seed, "device": device,
        "checkpoint_every": checkpoint_every, "versions": package_versions(), "git_commit": git_commit(),
        # what the run's speed depends on: a timing is comparable only between runs of equal threads and cores
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }

    # --- environments and learner -------------------------------------------------------------------
    venv = training_envs(env_config, ppo_config)
    position = TrainingPosition()
    if resume:
        checkpoint = run.latest_checkpoint()
        env, model = load_checkpoint(checkpoint, venv, ppo_config, device)
        optimizer_step = checkpoint.optimizer_step
        # checkpoints fall between updates: every rollout before them was trained on in full
        position.rollout = optimizer_step // (ppo_config.n_epochs * ppo_config.n_minibatches) - 1
    else:
        env = new_normalization(venv, ppo_config)
        model = make_ppo(env, ppo_config, device, seed)
        optimizer_step = 0
    model.misgen_env_config = asdict(env_config)  # saved in every zip: evaluate's default distribution
    track(model, position)
    counter = StepCounter(model.policy.optimizer, optimizer_step)

    # --- recorder on the optimizer ----------------------------------------------------------------
    recorder = None
    split = get_split(record.split, env_config.game) if record.split else None
    parts = split.parts if split else ()
    if record.streams:
        named = [(name, tuple(p.shape)) for name, p in model.policy.named_parameters()]
        params = ParamTable.from_named(named)
        if resume:
            writer = RecordingWriter.resume(run.recording, params, record.streams, record.dtype, optimizer_step,
                                            parts)
        else:
            writer = RecordingWriter(run.recording, params, record.streams, record.dtype, record.every,
                                     env_config.variant, config, split=record.split, split_parts=parts)
        losses = LossTerms(model)

        def step_info() -> dict:
            return {"timesteps": model.num_timesteps, "rollout": position.rollout, "epoch": position.epoch,
                    "minibatch": position.minibatch, **losses.current()}

        recorder = GradientRecorder(list(model.policy.parameters()), writer, step_info, first_step=optimizer_step,
                                    every=record.every, split=SplitGradients(model, len(parts)) if split else None
                                    ).attach(model.policy.optimizer)

    # --- config and logs: written only once everything above has been checked ------------------------
    run.write_config(config)
    if resume:  # SB3's CSV logger starts its file afresh: keep the earlier part under a name of its own
        run.keep_progress(model.num_timesteps)
    model.set_logger(configure(str(run.logs), ["csv", "tensorboard"]))

    def save_checkpoint() -> None:
        if recorder is not None:
            recorder.checkpoint(model.num_timesteps)
        zip_path, pkl_path, _ = run.checkpoint_paths(model.num_timesteps)
        model.save(zip_path)
        env.save(str(pkl_path))
        run.write_checkpoint_meta(model.num_timesteps, counter.steps)  # written last: marks it complete

    # --- learn ---------------------------------------------------------------------------------------
    stop = StopOnSignal()
    outcomes = EpisodeOutcomes(timesteps, show_progress)
    extra = list(callbacks)
    callbacks = [CountRollouts(position), stop, StopOnNonFinite(), outcomes, PhaseTimes()] + (
        [SplitLabels(split)] if split else [])
    if "linear" in (ppo_config.ent_schedule, ppo_config.lr_schedule):
        callbacks.append(LinearAnneal(
            ent_coef=ppo_config.ent_coef if ppo_config.ent_schedule == "linear" else None,
            learning_rate=ppo_config.learning_rate if ppo_config.lr_schedule == "linear" else None))
    if checkpoint_every:
        callbacks.append(PeriodicCheckpoint(checkpoint_every, save_checkpoint))
    callbacks += extra
    if not resume:
        save_checkpoint()  # step 0: theta_0 in the recording, and something to resume from
    complete = False
    try:
        if model.num_timesteps < timesteps:
            try:
                model.learn(timesteps - model.num_timesteps, callback=CallbackList(callbacks),
                            reset_num_timesteps=not resume)
            except (TrainingDiverged, ValueError, RuntimeError) as error:
                if not isinstance(error, TrainingDiverged) and parameters_finite(model.policy):
                    raise  # not a divergence
                raise MisgenError(f"training stopped at {model.num_timesteps:,} env steps: an update left parameters "
                                  f"NaN or infinite (the loss diverged); {run.path} keeps the recording (marked "
                                  "incomplete) and the checkpoints from before") from None
        complete = not stop.stopped
        save_checkpoint()
        model.save(run.model)
        env.save(str(run.normalization))
        plot_learning_curve(run)
    finally:
        if recorder is not None:
            recorder.close(complete=complete)
        model.logger.close()  # its CSV and TensorBoard files
        env.close()
    rates = outcomes.rates()
    return TrainResult(run, model.num_timesteps, counter.steps, complete, rates["goal"], rates["proxy"],
                       rates["return"])

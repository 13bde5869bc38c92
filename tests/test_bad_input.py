"""Damaged but plausible input, as a new user makes it: every command that reads it exits 2 with one line, and
nothing misgen wrote changes.

One real tiny run (quick preset, recording, checkpoints, an svd file, an episode file) is copied for each case,
one file of the copy is damaged, and the command that reads it runs; the test then compares the sha256 of every
file of the copy with what it was before. HDF5 damage is derived from the files' declared layouts
(misgen/schema.py): each required attr and dataset dropped, each given the wrong type, dtype or shape, and the
file truncated. Most cases run the command in process (typer's runner: hundreds of cases in seconds); the
ones that could take the process down (procgen states), usage errors and the destructive options run as
subprocesses of the installed ``misgen``.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gymnasium as gym
import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from agents.presets import PRESETS
from agents.train import RecordConfig, train
from analysis.decompose import SVDOptions, run_svd
from analysis.evaluation import evaluate, level_seeds
from analysis.svd_report import save_with_report
from cli import app
from envs.state_codec import parse_state, serialize_state
from envs.variants import EnvConfig
from misgen import episodes as episode_schema
from misgen import recording as recording_schema
from misgen import svd_file as svd_schema
from misgen.recording import Recording
from conftest import MISGEN, digest, misgen_in_process

TINY = PRESETS["quick"].ppo.with_overrides({"n_envs": "4", "n_steps": "32", "n_minibatches": "2", "n_epochs": "1"})
ENV = EnvConfig(variant="maze-topright")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A real run: recording of both streams, checkpoints at 0, 128 and 256 steps, svd.h5 with its report, and an
    episode file of two random episodes."""
    run = tmp_path_factory.mktemp("bad-input") / "run"
    train(run, ENV, TINY, RecordConfig(), 256, device="cpu", seed=3, checkpoint_every=128, show_progress=False)
    with Recording(run) as recording:
        result, _ = run_svd(recording, SVDOptions("updates", True, "all", 3, "gram", shuffles=1))
    save_with_report(result, run / "svd.h5")
    evaluate(None, ENV, level_seeds(0, 2), False, sample_seed=0, n_envs=2, episodes_path=run / "episodes.h5",
             policy_name="random")
    return run


@dataclass(frozen=True)
class Case:
    name: str
    damage: Callable[[Path], None]  # applied to the copy of the run
    args: Callable[[Path, Path], list[str]]  # (run copy, empty output directory) -> command line


# --- damage derived from the declared layouts ------------------------------------------------------------

WRONG_ATTR = {"int": "seven", "float": "x", "bool": "yes", "str": 5, "json_dict": "[1, 2]", "json_list": '{"a": 1}',
              "int_pair": "ab"}


def _edit(path: Path, change: Callable[[h5py.File], None]) -> None:
    with h5py.File(path, "r+") as f:
        change(f)


def _replace(f: h5py.File, name: str, values: np.ndarray) -> None:
    del f[name]
    f.create_dataset(name, data=values)


def _wrong_dtype(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OS":
        return np.zeros(values.shape, dtype=np.int64)
    if values.dtype.kind == "f":
        return np.full(values.shape, b"x", dtype="S1")
    return values.astype(np.float64) if values.dtype.kind in "iub" else np.zeros(values.shape, np.float32)


def hdf5_cases(file: str, datasets, attrs, args, where: str = "") -> list[Case]:
    """Each required attr and dataset dropped; each attr of the wrong type; each dataset of the wrong dtype, with
    an extra axis, and (where its first size is shared with another dataset) one row short; truncations."""
    path = lambda run: run / file  # noqa: E731
    cases = []
    for attr in attrs:
        name = where + attr.name
        if not attr.optional:
            cases.append(Case(f"{file}: attr {name} dropped", lambda run, a=attr: _edit(
                path(run), lambda f: f[where or "/"].attrs.__delitem__(a.name)), args))
        cases.append(Case(f"{file}: attr {name} of the wrong type", lambda run, a=attr: _edit(
            path(run), lambda f: f[where or "/"].attrs.__setitem__(a.name, WRONG_ATTR[a.kind])), args))
    shared = {}
    for spec in datasets:
        if spec.shape and isinstance(spec.shape[0], str) and not spec.shape[0].endswith("+"):
            shared[spec.shape[0]] = shared.get(spec.shape[0], 0) + 1
    for spec in datasets:
        name = where + spec.name
        if not spec.optional:
            cases.append(Case(f"{file}: dataset {name} dropped", lambda run, n=name: _edit(
                path(run), lambda f: f.__delitem__(n)), args))
        cases.append(Case(f"{file}: dataset {name} of the wrong dtype", lambda run, n=name: _edit(
            path(run), lambda f: _replace(f, n, _wrong_dtype(f[n][()]))), args))
        cases.append(Case(f"{file}: dataset {name} with an extra axis", lambda run, n=name: _edit(
            path(run), lambda f: _replace(f, n, f[n][()][..., None])), args))
        if shared.get(spec.shape[0] if spec.shape else None, 0) > 1:
            cases.append(Case(f"{file}: dataset {name} one row short", lambda run, n=name: _edit(
                path(run), lambda f: _replace(f, n, f[n][()][:-1])), args))
    for fraction in (0.02, 0.3, 0.6, 0.95):
        def truncate(run, fraction=fraction):
            data = path(run).read_bytes()
            path(run).write_bytes(data[:int(len(data) * fraction)])
        cases.append(Case(f"{file}: truncated to {fraction:.0%}", truncate, args))
    cases.append(Case(f"{file}: random bytes", lambda run: path(run).write_bytes(np.random.default_rng(0).bytes(8192)),
                      args))
    return cases


def _present(datasets, run: Path, file: str, where: str = ""):
    """The declared datasets this run's file holds (optional ones it lacks are not damaged)."""
    with h5py.File(run / file, "r") as f:
        return [spec for spec in datasets if where + spec.name in f]


def recording_cases(run: Path) -> list[Case]:
    args = lambda run, out: ["svd", str(run), "--out", str(out / "s.h5"), "--reconstruct", "none", "--k", "2"]  # noqa: E731
    return hdf5_cases("recording.h5", _present(recording_schema.layout(), run, "recording.h5"), recording_schema.ATTRS,
                      args)


def svd_cases(run: Path) -> list[Case]:
    args = lambda run, out: ["ablate", str(run), "--late", "1", "--controls", "1", "--episodes", "1"]  # noqa: E731
    cases = hdf5_cases("svd.h5", _present(svd_schema.layout([]), run, "svd.h5"), svd_schema.ATTRS, args)
    nulls = lambda run: _edit(run / "svd.h5", lambda f: f.attrs.__setitem__("nulls", json.dumps({"n_above_mp": 1})))  # noqa: E731
    nan = lambda run: _edit(run / "svd.h5", lambda f: f["loadings"].__setitem__((0, 0), np.nan))  # noqa: E731
    more = lambda run: _edit(run / "svd.h5", lambda f: f.attrs.__setitem__("n_params", 12))  # noqa: E731
    return cases + [Case("svd.h5: nulls without n_above_shuffle", nulls, args),
                    Case("svd.h5: a NaN loading", nan, args), Case("svd.h5: n_params of another model", more, args)]


def episode_cases(run: Path) -> list[Case]:
    args = lambda run, out: ["replay", str(run / "episodes.h5"), "--map", str(out / "m.png")]  # noqa: E731
    where = "episodes/00000/"
    cases = hdf5_cases("episodes.h5", [], episode_schema.FILE_ATTRS, args)
    cases += hdf5_cases("episodes.h5", _present(episode_schema.EPISODE_DATASETS, run, "episodes.h5", where),
                        episode_schema.EPISODE_ATTRS, args, where)[:-5]  # truncations: covered above
    for name, value in (("goal_step", 9999), ("level_seed", -1), ("length", 3), ("level_index", -2)):
        cases.append(Case(f"episodes.h5: attr {name} = {value}", lambda run, n=name, v=value: _edit(
            run / "episodes.h5", lambda f: f[where].attrs.__setitem__(n, v)), args))
    cases.append(Case("episodes.h5: an action outside procgen's 15", lambda run: _edit(
        run / "episodes.h5", lambda f: f[where + "actions"].__setitem__(0, 99)), args))
    return cases


def config_cases() -> list[Case]:
    def rewrite(change):
        def damage(run):
            config = json.loads((run / "config.json").read_text())
            (run / "config.json").write_text(json.dumps(change(config)))
        return damage

    def set_field(section, key, value):
        return rewrite(lambda c: {**c, section: {**c[section], key: value}})

    evaluate_args = lambda run, out: ["evaluate", str(run), "--episodes", "1"]  # noqa: E731
    damages = {
        "a list": rewrite(lambda c: [c]), "not JSON": lambda run: (run / "config.json").write_text("{'env': 1"),
        "without env": rewrite(lambda c: {k: v for k, v in c.items() if k != "env"}),
        "env a string": rewrite(lambda c: {**c, "env": "maze"}),
        "env.region a string": set_field("env", "region", "3"), "env.region 999": set_field("env", "region", 999),
        "env.variant unknown": set_field("env", "variant", "pacman"), "env.seed 2**40": set_field("env", "seed", 2**40),
        "env with an unknown key": set_field("env", "colour", "red"),
        "ppo.n_envs a string": set_field("ppo", "n_envs", "4"), "ppo.n_envs 0": set_field("ppo", "n_envs", 0),
        "record.streams a string": set_field("record", "streams", "grads"),
        "seed a float": rewrite(lambda c: {**c, "seed": 1.5}),
    }
    cases = [Case(f"config.json: {what} (evaluate)", damage, evaluate_args) for what, damage in list(damages.items())[:9]]
    cases += [Case(f"config.json: {what} (train --resume)", damage, resume_args) for what, damage in damages.items()]
    return cases


def resume_args(run: Path, out: Path) -> list[str]:
    return ["train", "maze-topright", "--out", str(run), "--resume", "--timesteps", "512", "--no-progress"]


def checkpoint_cases() -> list[Case]:
    meta = lambda run: run / "checkpoints" / "step_256.json"  # noqa: E731
    damages = {
        "step_256.json not JSON": lambda run: meta(run).write_text("{"),
        "step_256.json a list": lambda run: meta(run).write_text("[256, 8]"),
        "step_256.json without optimizer_step": lambda run: meta(run).write_text('{"timesteps": 256}'),
        "step_256.json with a negative step": lambda run: meta(run).write_text('{"timesteps": 256, "optimizer_step": -1}'),
        "step_256.json for another step": lambda run: meta(run).write_text('{"timesteps": 128, "optimizer_step": 4}'),
        "step_256.zip truncated": lambda run: _truncate(run / "checkpoints" / "step_256.zip"),
        "step_256.pkl truncated": lambda run: _truncate(run / "checkpoints" / "step_256.pkl"),
        "step_256.zip of another architecture": _foreign_checkpoint,
        "step_256.pkl running code while it loads": _pickle_that_runs_code,
        "step_256.pkl a plain dict": lambda run: _normalization(run).write_bytes(pickle.dumps({"gamma": 0.99})),
        "step_256.pkl return variance NaN": _edit_normalization(lambda v: setattr(v.ret_rms, "var", float("nan"))),
        "step_256.pkl return count 0": _edit_normalization(lambda v: setattr(v.ret_rms, "count", 0.0)),
        "step_256.pkl ret_rms a list": _edit_normalization(lambda v: vars(v).__setitem__("ret_rms", [0.0, 1.0])),
        "step_256.pkl of another gamma": _edit_normalization(lambda v: vars(v).__setitem__("gamma", 0.5)),
        "step_256.pkl gamma 2": _edit_normalization(lambda v: vars(v).__setitem__("gamma", 2.0)),
        "step_256.pkl norm_reward a string": _edit_normalization(lambda v: vars(v).__setitem__("norm_reward", "yes")),
        "step_256.pkl of another observation shape": _edit_normalization(lambda v: vars(v).__setitem__(
            "observation_space", gym.spaces.Box(0, 255, (3, 32, 32), np.uint8))),
    }
    return [Case(f"checkpoints/{what} (train --resume)", damage, resume_args) for what, damage in damages.items()]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _normalization(run: Path) -> Path:
    return run / "checkpoints" / "step_256.pkl"


def _edit_normalization(change: Callable) -> Callable[[Path], None]:
    """Damage: the checkpoint's VecNormalize unpickled (this test trusts it), changed, pickled again."""
    def damage(run: Path) -> None:
        statistics = pickle.loads(_normalization(run).read_bytes())
        change(statistics)
        vars(statistics).update(class_attributes={}, returns=None)  # what VecNormalize's __getstate__ drops
        _normalization(run).write_bytes(pickle.dumps(statistics))
    return damage


class _RunsCode:
    """Unpickled, it would create the file it names."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def _pickle_that_runs_code(run: Path) -> None:
    # the marker lies inside the run copy, so the digest comparison catches it if the pickle runs
    _normalization(run).write_bytes(pickle.dumps(_RunsCode(run / "ran")))


def _foreign_checkpoint(run: Path) -> None:
    from stable_baselines3 import PPO

    from agents.ppo import make_ppo
    from envs.actions import ActionSetVecEnv
    from envs.vec_env import ProcgenVecEnv

    config = TINY.with_overrides({"architecture": "compact"})
    env = ActionSetVecEnv(ProcgenVecEnv(ENV, config.n_envs, 1), config.action_set)
    model: PPO = make_ppo(env, config, "cpu", 0)
    model.save(run / "checkpoints" / "step_256.zip")
    env.close()


def _rewrite_zip(change: Callable[[dict[str, bytes]], None]) -> Callable[[Path], None]:
    """Damage: model.zip rewritten with its members (name -> bytes) changed by ``change``."""
    def damage(run: Path) -> None:
        with zipfile.ZipFile(run / "model.zip") as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        change(members)
        with zipfile.ZipFile(run / "model.zip", "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
    return damage


def _edit_data(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(members: dict[str, bytes]) -> None:
        data = json.loads(members["data"])
        change(data)
        members["data"] = json.dumps(data).encode()
    return _rewrite_zip(edit)


def _serialized(name: str, pickled: bytes) -> Callable[[Path], None]:
    return _edit_data(lambda data: data.__setitem__(name, {":serialized:": base64.b64encode(pickled).decode()}))


def _zip_that_runs_code(run: Path) -> None:
    # the marker lies inside the run copy, so the digest comparison catches it if SB3's cloudpickle runs it
    _serialized("policy_class", pickle.dumps(_RunsCode(run / "ran")))(run)


def model_cases() -> list[Case]:
    evaluate_args = lambda run, out: ["evaluate", str(run), "--episodes", "1"]  # noqa: E731
    damages = {
        "truncated": lambda run: _truncate(run / "model.zip"),
        "random bytes": lambda run: (run / "model.zip").write_bytes(b"PK" + bytes(500)),
        "without data": _rewrite_zip(lambda members: members.pop("data")),
        "without policy.pth": _rewrite_zip(lambda members: members.pop("policy.pth")),
        "data not JSON": _rewrite_zip(lambda members: members.__setitem__("data", b"{")),
        "data a list": _rewrite_zip(lambda members: members.__setitem__("data", b"[1]")),
        "n_steps a string": _edit_data(lambda data: data.__setitem__("n_steps", "64")),
        "gamma missing": _edit_data(lambda data: data.pop("gamma")),
        "policy_kwargs missing": _edit_data(lambda data: data.pop("policy_kwargs")),
        "policy_class running code while it loads": _zip_that_runs_code,
        "policy_kwargs reaching torch.load through agents.policy": _serialized(
            "policy_kwargs", b"cagents.policy\ntorch.load\n."),
        "policy_kwargs without an extractor": _serialized("policy_kwargs", pickle.dumps({"net_arch": []})),
        "observation_space not base64": _edit_data(lambda data: data.__setitem__(
            "observation_space", {":serialized:": "%%%"})),
        "misgen_env_config a list": _edit_data(lambda data: data.__setitem__("misgen_env_config", [1, 2])),
        "policy.pth of another network": _rewrite_zip(lambda members: members.__setitem__(
            "policy.pth", _state_dict_bytes({"features_extractor.fc.weight": torch.zeros(3, 3)}))),
    }
    return [Case(f"model.zip {what} (evaluate)", damage, evaluate_args) for what, damage in damages.items()]


def _state_dict_bytes(tensors: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


# --- the test ---------------------------------------------------------------------------------------------

def run_case(case: Case, pristine: Path, root: Path) -> str | None:
    """Run one case in process; None if it behaved, else what went wrong."""
    work = root / case.name.replace("/", "_").replace(" ", "_")
    run, out = work / "run", work / "out"
    shutil.copytree(pristine, run)
    out.mkdir()
    case.damage(run)
    before = digest(run)
    result = CliRunner().invoke(app, case.args(run, out))
    problems = []
    if result.exit_code != 2 or not isinstance(result.exception, SystemExit):
        problems.append(f"exit {result.exit_code}, {result.exception!r}")
    lines = result.stderr.strip().splitlines()
    if len(lines) != 1 or not lines[0].startswith("misgen: error: "):
        problems.append(f"stderr {result.stderr.strip()[-300:]!r}")
    if digest(run) != before:
        problems.append("the run's files changed")
    if any(out.iterdir()):
        problems.append(f"wrote {[p.name for p in out.iterdir()]}")
    shutil.rmtree(work)
    return f"{case.name}: {'; '.join(problems)}" if problems else None


def test_damaged_files_are_one_line_errors_and_change_nothing(pristine, tmp_path):
    cases = (recording_cases(pristine) + svd_cases(pristine) + episode_cases(pristine) + config_cases()
             + checkpoint_cases() + model_cases())
    failures = [failure for case in cases if (failure := run_case(case, pristine, tmp_path))]
    print(f"{len(cases)} damaged-file cases, {len(failures)} misbehaved")
    assert not failures, f"{len(failures)} of {len(cases)} cases misbehaved:\n" + "\n".join(failures)


# --- cases that run the installed command as a subprocess ---------------------------------------------------

def _edit_state(change: Callable) -> Callable[[Path], None]:
    """Damage: episode 0's initial state with one field changed (``change`` edits the parsed state)."""
    def damage(run: Path) -> None:
        with h5py.File(run / "episodes.h5", "r+") as f:
            name = "episodes/00000/initial_state"
            state = parse_state(f[name][()].tobytes(), "maze")
            change(state)
            _replace(f, name, np.frombuffer(serialize_state(state), dtype=np.uint8))
    return damage


def _set(name: str, value) -> Callable[[Path], None]:
    return _edit_state(lambda state: state.fields.__setitem__(name, value))


def _agent(column: str, value: float) -> Callable[[Path], None]:
    def change(state):
        state.entities[column][np.flatnonzero(state.entities["type"] == 0)[0]] = value
    return _edit_state(change)


def _other_mt19937_word(state) -> None:
    words = state.fields["rand_gen.mt19937"].split(b" ")
    state.fields["rand_gen.mt19937"] = b" ".join([str((int(words[0]) + 1) % 2**32).encode()] + words[1:])


STATE_DAMAGE = {  # one field out of its valid range at a time: booleans, counts, floats, random-generator words
    "rand_gen marked unseeded": _set("rand_gen.seeded", 0),
    "level-seed generator marked unseeded": _set("level_seed_rand_gen.seeded", 0),
    "agent grow_rate 1e6": _agent("grow_rate", 1e6),
    "agent x far outside the world": _agent("x", 9e5),
    "use_backgrounds = 2": _set("use_backgrounds", 2),
    "maze_dim of another size": _edit_state(lambda state: state.fields.__setitem__(
        "maze_dim", state.fields["maze_dim"] + (2 if state.fields["maze_dim"] < 13 else -2))),
    "timeout 0": _set("timeout", 0),
    "background_index 99": _set("background_index", 99),
    "char_dim NaN": _set("char_dim", float("nan")),
    "another rand_gen word": _edit_state(_other_mt19937_word),
    "level-seed generator text garbled": _set("level_seed_rand_gen.mt19937", b"1 2 3"),
}


def run_subprocess(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([MISGEN, *args], capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str | None:
    lines = result.stderr.strip().splitlines()
    if result.returncode == 2 and len(lines) == 1 and lines[0].startswith("misgen: error: "):
        return None
    return f"exit {result.returncode}, stderr {result.stderr.strip()[-300:]!r}"


def test_states_options_and_destructive_commands(pristine, tmp_path):
    """Each case in a fresh copy of the run: exit 2, one line, every file of the copy (and any directory the
    command was pointed at) unchanged. Damaged procgen states (which could crash the process), ``train`` and
    ``demo`` (which could start training) run the installed command as a subprocess; the rest go through the same
    entry point in this process, on the main thread while the subprocesses run."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("a file the command must not touch")

    def report_exists(run):
        (run / "report" / "other").mkdir(parents=True)
        (run / "report" / "other" / "report.md").write_text("an earlier report")

    replay_map = lambda run, out: ["replay", str(run / "episodes.h5"), "--map", str(out / "m.png")]  # noqa: E731
    isolated = [Case(f"episode state: {what}", damage, replay_map) for what, damage in STATE_DAMAGE.items()]
    isolated += [
        Case("demo --out <a training run> --force", lambda run: None,
             lambda run, out: ["demo", "--out", str(run), "--force"]),
        Case("train into an existing run", lambda run: None,
             lambda run, out: ["train", "maze-topright", "--out", str(run), "--timesteps", "256"]),
        Case("train with minibatches of one transition", lambda run: None,
             lambda run, out: ["train", "maze", "--out", str(out / "r"), "--preset", "quick", "--hp", "n_envs=1",
                               "--hp", "n_steps=2", "--hp", "n_minibatches=2"]),
        Case("train --hp n_minibatches=0", lambda run: None,
             lambda run, out: ["train", "maze", "--out", str(out / "r"), "--hp", "n_minibatches=0"]),
        Case("train --seed above procgen's int32", lambda run: None,
             lambda run, out: ["train", "maze", "--out", str(out / "r"), "--seed", str(2**31)]),
        # hyperparameters out of range, refused before a run directory is made
        *[Case(f"train --hp {hp}", lambda run: None,
               lambda run, out, hp=hp: ["train", "maze", "--out", str(out / "r"), "--preset", "quick", "--hp", hp])
          for hp in ("clip_range_vf=-1", "n_steps=1000000", "gamma=nan", "learning_rate=inf", "learning_rate=-1",
                     "architecture=bogus", "gae_lambda=1.5")],
        Case("train --device cuda without a GPU", lambda run: None,
             lambda run, out: ["train", "maze", "--out", str(out / "r"), "--preset", "quick", "--device", "cuda"]),
    ]
    ablate_named = lambda name: lambda run, out: ["ablate", str(run), "--late", "1", "--episodes", "1",  # noqa: E731
                                                  "--controls", "1", "--name", name, "--force"]
    cases = [
        Case("ablate --name .. --force", lambda run: None, ablate_named("..")),
        Case("ablate --name . --force", lambda run: None, ablate_named(".")),
        Case("ablate --name <absolute directory> --force", lambda run: None, ablate_named(str(outside))),
        Case("ablate --name a/b", lambda run: None, ablate_named("a/b")),
        Case("svd --out RUN/other.h5 beside an existing report/other", report_exists,
             lambda run, out: ["svd", str(run), "--out", str(run / "other.h5"), "--reconstruct", "none"]),
        Case("svd onto an existing svd.h5", lambda run: None, lambda run, out: ["svd", str(run)]),
        Case("replay --map without .png beside an existing PNG", lambda run: None,
             lambda run, out: ["replay", str(run / "episodes.h5"), "--map", str(run / "learning_curve")]),
        Case("an unknown option", lambda run: None, lambda run, out: ["evaluate", str(run), "--bogus"]),
        Case("--episodes 0", lambda run: None, lambda run, out: ["evaluate", str(run), "--episodes", "0"]),
        Case("svd --k 0", lambda run: None, lambda run, out: ["svd", str(run), "--k", "0", "--out", str(out / "s.h5")]),
        Case("ablate --early -1", lambda run: None, lambda run, out: ["ablate", str(run), "--early", "-1"]),
        Case("ablate --late above the components", lambda run: None,
             lambda run, out: ["ablate", str(run), "--late", "9", "--episodes", "1", "--controls", "1"]),
        Case("evaluate --region larger than every maze", lambda run: None,
             lambda run, out: ["evaluate", str(run), "--region", "99", "--episodes", "1"]),
        Case("a complete recording whose steps/loss is 3 rows longer than its streams", lengthen_steps,
             lambda run, out: ["svd", str(run), "--out", str(out / "s.h5"), "--reconstruct", "none"]),
        Case("ablate --group --mode init, model.zip of another architecture than the recording",
             foreign_model, lambda run, out: ["ablate", str(run), "--group", "fc", "--mode", "init",
                                              "--episodes", "1", "--controls", "1", "--out", str(out / "a")]),
        # option values out of range
        Case("svd --null bogus", lambda run: None,
             lambda run, out: ["svd", str(run), "--null", "bogus", "--out", str(out / "s.h5")]),
        Case("svd --reconstruct -3", lambda run: None,
             lambda run, out: ["svd", str(run), "--no-center", "--reconstruct", "-3", "--out", str(out / "s.h5")]),
        Case("ablate --variants ,", lambda run: None,
             lambda run, out: ["ablate", str(run), "--late", "1", "--variants", ",", "--out", str(out / "a")]),
        Case("envs sample --start-level 2147483648", lambda run: None,
             lambda run, out: ["envs", "sample", "maze", "--start-level", "2147483648"]),
        # an output that is an input, --force or not
        Case("svd --out RUN/recording.h5 --force", lambda run: None,
             lambda run, out: ["svd", str(run), "--out", str(run / "recording.h5"), "--force"]),
        Case("svd --out RUN/../run/recording.h5 --force (through ..)", lambda run: None,
             lambda run, out: ["svd", str(run), "--out", str(run / ".." / "run" / "recording.h5"), "--force"]),
        Case("svd --out a symlink to the recording --force", link_to_recording,
             lambda run, out: ["svd", str(run), "--out", str(run / "link.h5"), "--force"]),
        Case("svd-compact --out RUN/svd.h5 --force", lambda run: None,
             lambda run, out: ["svd-compact", str(run), "--out", str(run / "svd.h5"), "--force"]),
        Case("ablate --out RUN --force", lambda run: None,
             lambda run, out: ["ablate", str(run), "--late", "1", "--out", str(run), "--force"]),
        Case("replay --map through a symlink onto its own episode file --force", link_png_to_episodes,
             lambda run, out: ["replay", str(run / "episodes.h5"), "--map", str(run / "m.png"), "--force"]),
        Case("dynamics --out D --force, D/behaviour.json a symlink to the run's config", link_dynamics_output,
             lambda run, out: ["dynamics", str(run), "--out", str(run / "d"), "--force"]),
    ]

    def run_one(case: Case, in_process: bool) -> str | None:
        work = tmp_path / case.name.replace("/", "_").replace(" ", "_")
        run, out = work / "run", work / "out"
        shutil.copytree(pristine, run)
        out.mkdir()
        case.damage(run)
        before, before_outside = digest(run), digest(outside)
        args = case.args(run, out)
        problem = one_line_error(misgen_in_process(args) if in_process else run_subprocess(args))
        if digest(run) != before or digest(outside) != before_outside:
            problem = (problem or "") + " changed files"
        if any(out.iterdir()):
            problem = (problem or "") + f" wrote {[p.name for p in out.iterdir()]}"
        return f"{case.name}: {problem}" if problem else None

    with ThreadPoolExecutor(1) as pool:  # one subprocess at a time beside the in-process cases: two cores
        pending = [pool.submit(run_one, case, False) for case in isolated]
        failures = [run_one(case, True) for case in cases] + [future.result() for future in pending]
    failures = [failure for failure in failures if failure]
    total = len(isolated) + len(cases)
    print(f"{total} cases ({len(isolated)} as subprocesses), {len(failures)} misbehaved")
    assert not failures, f"{len(failures)} of {total} cases misbehaved:\n" + "\n".join(failures)


def lengthen_steps(run: Path) -> None:
    with h5py.File(run / "recording.h5", "a") as f:
        loss = f["steps/loss"]
        loss.resize((loss.shape[0] + 3,))


def foreign_model(run: Path) -> None:
    _foreign_checkpoint(run)
    (run / "checkpoints" / "step_256.zip").replace(run / "model.zip")


def link_to_recording(run: Path) -> None:
    (run / "link.h5").symlink_to(run / "recording.h5")


def link_dynamics_output(run: Path) -> None:
    (run / "d").mkdir()
    (run / "d" / "behaviour.json").symlink_to(run / "config.json")


def link_png_to_episodes(run: Path) -> None:
    (run / "m.png").symlink_to(run / "episodes.h5")


def test_resuming_twice_from_one_checkpoint_keeps_every_log(pristine, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    args = ["train", "maze-topright", "--out", str(run), "--resume", "--timesteps", "384", "--no-progress"]
    first = run_subprocess(args, timeout=300)
    assert first.returncode == 0, first.stderr
    for stale in (run / "checkpoints").glob("step_384.*"):  # as if the first resume had died before saving
        stale.unlink()
    second = run_subprocess(args, timeout=300)
    assert second.returncode == 0, second.stderr
    logs = run / "logs"
    kept = sorted(p.name for p in logs.glob("progress_until_*.csv"))
    assert kept == ["progress_until_256.csv", "progress_until_256_2.csv"]
    for name in kept + ["progress.csv"]:
        assert len((logs / name).read_text().splitlines()) >= 2, name  # a header and at least one rollout
    assert (run / "learning_curve.png").is_file()


@pytest.mark.parametrize("module, datasets, attrs", [
    (recording_schema, recording_schema.layout(("part",), ("extra",)), recording_schema.ATTRS),
    (svd_schema, svd_schema.layout(["part"]), svd_schema.ATTRS),
    (episode_schema, episode_schema.EPISODE_DATASETS, episode_schema.FILE_ATTRS + episode_schema.EPISODE_ATTRS)])
def test_every_declared_field_is_documented_in_its_schema_table(module, datasets, attrs):
    """The validating readers check the declared layouts; the module docstrings document them (and the README
    copies them): the two name the same fields."""
    doc = module.__doc__
    generic = {"steps/": "steps/<field>", "grads_split/": "grads_split/<part>"}
    for spec in datasets:
        documented = next((form for prefix, form in generic.items() if spec.name.startswith(prefix)), spec.name)
        assert f"``{documented}``" in doc or f"``{spec.name.rsplit('/', 1)[-1]}``" in doc, spec.name
    for attr in attrs:
        assert f"``{attr.name}``" in doc, attr.name


def test_a_recording_projected_beyond_the_free_space_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """A file system with less free space than the projected recording (faked where misgen asks the OS) refuses the
    run, with the projection, before its directory exists."""
    import agents.train

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(agents.train.shutil, "disk_usage",
                        lambda path: usage._replace(free=10**6))  # 1 MB free
    args = ["train", "maze", "--out", str(tmp_path / "r"), "--preset", "quick", "--timesteps", "100000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("misgen: error: the recording would take 0.4 GB (588 rows x "
                                                   "160,960 parameters x 2 bytes x 2 stream(s) = 0.4 GB)")
    assert "0.0 GB free" in lines[0] and "--ignore-disk-space" in lines[0]
    assert not (tmp_path / "r").exists()


def test_a_run_whose_recording_buffers_outgrow_memory_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """The recorder's two in-memory blocks per stream count against the machine's memory (faked where misgen asks
    the OS) beside the rollout buffer: refused with both estimates before the run directory exists."""
    import agents.train

    # quick's rollout buffer takes 96 MiB, its recording buffers 20 MiB more
    monkeypatch.setattr(agents.train, "available_memory", lambda: 100 * 2**20)
    base = ["train", "maze", "--out", str(tmp_path / "r"), "--preset", "quick", "--timesteps", "1000"]
    result = CliRunner().invoke(app, base + ["--record", "grads,updates"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "recording buffers of" in lines[0] and "2 x 16 rows x 160,960 parameters" in lines[0]
    assert not (tmp_path / "r").exists()
    assert CliRunner().invoke(app, base + ["--record", "none", "--no-progress"]).exit_code == 0

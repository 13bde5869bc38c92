"""Change a trained policy in a precisely defined way and measure what it then does, against random controls.

Targets (each with R controls of the same size):

- **components** of an svd.h5: remove from theta_final the learned change along their loading vectors,
  theta' = theta_final - P (theta_final - theta_0), P the projector onto their orthonormalised span.
  Controls of two kinds, each removal rescaled so that the same norm of change is removed: ``random``, as many
  random directions drawn in the span of the recorded update (or gradient) rows; and ``bulk``, as many
  components drawn from those below the time-shuffle null (the bulk of the spectrum, which training can do
  without: Song, Ahn & Yun 2025), so that a component's effect counts where it exceeds both bands.
- **parameter groups** (a layer, a parameter tensor, or some of their output channels): set to zero, to their
  mean, or back to theta_0 (``init``). Controls: the same number of other channels of the same layer, or, for
  a whole group, the same number of parameters drawn from the rest of the network.
- **activation channels** of a module of the features extractor: pinned to zero or to their mean over a
  reference batch of observations, through forward hooks (agents/policy.py). Controls: other channels of the
  same layer, same count.

Every policy plays the same level seeds (greedy actions by default, or sampled with a fixed seed), so
differences are paired per level. A dose-response measures each parameter change at several strengths a,
theta_final + a (theta_ablated - theta_final), controls alike. What is measured and written:
analysis/ablation_report.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from stable_baselines3 import PPO

from analysis.ablation_report import compare, write_report
from analysis.evaluation import Evaluation, act, evaluate, level_seeds, load_model
from envs.variants import TEST_VARIANT, VARIANTS, EnvConfig
from envs.vec_env import ProcgenVecEnv
from misgen.errors import MisgenError
from misgen.model_zip import load_ppo
from misgen.recording import Recording
from misgen.rundir import RunDir
from misgen.schema import dataclass_from_json
from misgen.svd_file import SVDFile, parameter_fingerprint

MODES = ("zero", "mean", "init")
CONTROL_KINDS = ("random", "bulk")  # random directions in the update span; components below the shuffle null
EXTRACTOR = "features_extractor."


# --- the agent: theta_0, theta_final, parameter names ------------------------------------------------------
@dataclass
class Agent:
    """A trained agent under study: its model, its training config and its parameters as one vector (``names`` and
    ``shapes`` in vector order), loaded from a run directory (``path``; misgen.rundir.RunDir lays out its files) or
    from a model zip alone."""

    path: Path
    model: PPO
    config: dict
    theta_final: np.ndarray
    names: list[str]  # parameter tensor names, in vector order
    shapes: list[tuple[int, ...]]

    @classmethod
    def load(cls, path: Path) -> "Agent":
        """A run directory, or a model zip alone (its training environment travels in the zip; what needs
        theta_0 or the recording then needs a compact svd file, or is refused)."""
        path = Path(path)
        if path.is_file():
            model = load_model(path)
            env = getattr(model, "misgen_env_config", None)
            if env is None:
                raise MisgenError(f"{path}: the model zip carries no training environment (misgen_env_config)")
            dataclass_from_json(EnvConfig, env, f"{path}: misgen_env_config")
            config = {"env": env}
        else:
            run_dir = RunDir(path)
            config = run_dir.read_config()
            # refused before the model loads
            dataclass_from_json(EnvConfig, config["env"], f"{run_dir.config_file}: env")
            model = load_model(run_dir.path)
        named = list(model.policy.named_parameters())
        theta = torch.nn.utils.parameters_to_vector([p for _, p in named]).detach().cpu().numpy()
        return cls(path, model, config, theta, [n for n, _ in named], [tuple(p.shape) for _, p in named])

    @property
    def is_zip(self) -> bool:
        return self.path.is_file()

    @property
    def model_path(self) -> Path:
        return self.path if self.is_zip else RunDir(self.path).model

    @property
    def env_config(self) -> EnvConfig:
        return dataclass_from_json(EnvConfig, self.config["env"], f"{self.path}: env")

    def recording(self) -> Recording:
        return Recording(RunDir(self.path).recording)

    def theta_0(self) -> np.ndarray:
        """The initial parameters: from the recording, else from the step-0 checkpoint."""
        if self.is_zip:
            raise MisgenError(f"{self.path}: a model zip holds no theta_0; this needs its run directory")
        run_dir = RunDir(self.path)
        if run_dir.recording.is_file():
            with self.recording() as recording:
                self._check_same_network(recording.path, recording.params.names,
                                         [tuple(shape) for shape in recording.params.shapes])
                return recording.theta(0)
        first = run_dir.checkpoint_paths(0)[0]
        if not first.is_file():
            raise MisgenError(f"{self.path}: neither a recording nor checkpoints/step_0.zip to read theta_0 from")
        named = list(load_ppo(first, device="cpu").policy.named_parameters())
        self._check_same_network(first, [n for n, _ in named], [tuple(p.shape) for _, p in named])
        return torch.nn.utils.parameters_to_vector([p for _, p in named]).detach().numpy()

    def _check_same_network(self, source: Path, names: list[str], shapes: list[tuple[int, ...]]) -> None:
        """``source`` (a recording or a checkpoint) must hold the model's parameter tensors, by name and shape."""
        if names != self.names or shapes != self.shapes:
            raise MisgenError(f"{source} holds {len(names)} parameter tensors, the model {self.model_path} "
                              f"{len(self.names)}, not of the same names and shapes: not the same network")

    def columns(self, name: str) -> slice:
        sizes = np.cumsum([0] + [int(np.prod(s)) for s in self.shapes])
        i = self.names.index(name)
        return slice(int(sizes[i]), int(sizes[i + 1]))

    def tensors_of(self, group: str) -> list[str]:
        """Parameter tensors named by ``group``: a tensor, or a layer (its weight and bias); the
        ``features_extractor.`` prefix may be left out."""
        for candidate in (group, EXTRACTOR + group):
            if candidate in self.names:
                return [candidate]
            layer = [n for n in self.names if n.rsplit(".", 1)[0] == candidate]
            if layer:
                return layer
        layers = sorted({n.rsplit(".", 1)[0].removeprefix(EXTRACTOR) for n in self.names})
        raise MisgenError(f"unknown parameter group {group!r}; layers: {', '.join(layers)}")

    def policy_with(self, theta: np.ndarray | None = None, ablations: dict | None = None) -> PPO:
        """A copy of the agent's policy with other parameters and/or pinned channels."""
        kwargs = dict(self.model.policy_kwargs)
        if ablations:
            kwargs["features_extractor_kwargs"] = {**kwargs.get("features_extractor_kwargs", {}),
                                                   "ablations": ablations}
        model = load_ppo(self.model_path, {"policy_kwargs": kwargs}, device=self.model.device)
        if theta is not None:
            torch.nn.utils.vector_to_parameters(torch.as_tensor(theta, dtype=torch.float32, device=model.device),
                                                model.policy.parameters())
        return model


# --- what an ablation is -------------------------------------------------------------------------------------
@dataclass
class Ablation:
    """One policy change: new parameters and/or pinned channels, with a description of what was changed."""

    description: str
    theta: np.ndarray | None = None
    channels: dict | None = None  # {module: {"channels": [...], "values": [...]}}
    size: dict = field(default_factory=dict)  # what "matched in size" compares
    kind: str = "random"  # a control's kind (CONTROL_KINDS); the target's is unused

    def scaled(self, theta_final: np.ndarray, strength: float) -> "Ablation":
        """The same change ``strength`` times: theta_final + strength * (theta - theta_final)."""
        if strength == 1 or self.theta is None:
            return self
        theta = theta_final + strength * (self.theta.astype(np.float64) - theta_final)
        return Ablation(f"{self.description} at strength {strength:g}", theta.astype(np.float32), self.channels,
                        self.size, self.kind)


def removed_change(directions: np.ndarray, contributions: np.ndarray) -> np.ndarray:
    """P delta, P the projector onto the span of ``directions`` (m, D), from ``contributions`` = directions @ delta
    (m,): P delta = B^T (B B^T)^+ (B delta), so delta itself (theta_final - theta_0) is not needed."""
    basis = directions.astype(np.float64)
    return basis.T @ (np.linalg.pinv(basis @ basis.T) @ np.asarray(contributions, dtype=np.float64))


def check_svd_matches(agent: Agent, svd: SVDFile, svd_path: Path) -> None:
    """The svd file must decompose this run's recording (or, compact, belong to this model), over this model's
    parameters."""
    if svd.attrs["n_params"] != len(agent.theta_final):
        raise MisgenError(f"{svd_path} decomposes {svd.attrs['n_params']} parameters, the model "
                          f"{agent.model_path} has {len(agent.theta_final)}")
    if svd.compact:
        if svd.attrs["model_sha256"] != parameter_fingerprint(agent.theta_final):
            raise MisgenError(f"{svd_path} was made for another model than {agent.model_path} (attr model_sha256 "
                              "differs from the model's parameters)")
        return
    if agent.is_zip:
        raise MisgenError(f"{svd_path} is a full svd file, which needs its run's recording; a model zip takes a "
                          "compact one (misgen svd-compact RUN --out FILE)")
    recording = RunDir(agent.path).recording.resolve()
    if Path(svd.attrs["source"]) != recording:
        raise MisgenError(f"{svd_path} decomposes {svd.attrs['source']}, not this run's {recording}")


def select_components(svd: SVDFile, components: list[int] | None, early: int, late: int) -> list[int]:
    """Component numbers: explicit ones, or the ``early`` / ``late`` N by time centre among those above the
    time-shuffle null (at least N candidates; a compact file holds only such components)."""
    numbers = svd.numbers
    if components is not None:
        bad = [c for c in components if c not in numbers]
        if bad:
            held = f"0..{svd.k - 1}" if not svd.compact else ", ".join(map(str, numbers))
            raise MisgenError(f"components {bad} not in the svd file (it holds {held})")
        return components
    n = early or late
    bulk = set(bulk_components(svd))
    above = [i for i, number in enumerate(numbers) if number not in bulk]
    if svd.compact:  # it holds the chosen components above the null, and bulk ones for controls only
        if n > len(above):
            raise MisgenError(f"--{'early' if early else 'late'} {n}: the compact svd file holds {len(above)} "
                              f"components above the shuffle null (1..{len(above)})")
        candidates = above
    else:  # the components above the null, or the first n when fewer are
        if n > svd.k:
            raise MisgenError(f"--{'early' if early else 'late'} {n}: the svd file holds {svd.k} components "
                              f"(1..{svd.k})")
        candidates = list(range(max(n, len(above))))
    by_time = np.array(candidates)[np.argsort(svd.components["position"][candidates], kind="stable")]
    chosen = by_time[:n] if early else by_time[::-1][:n]
    return sorted(numbers[int(c)] for c in chosen)


def bulk_components(svd: SVDFile) -> list[int]:
    """Numbers of the components in the file that lie below its time-shuffle null (the spectrum's bulk)."""
    first_below = int(svd.attrs["nulls"]["n_above_shuffle"])
    return [number for number in svd.numbers if number >= first_below]


def component_ablations(agent: Agent, svd: SVDFile, components: list[int], n_controls: int, seed: int,
                        n_bulk: int = 0) -> tuple[Ablation, list[Ablation]]:
    """Remove the learned change along the components numbered ``components``; ``n_controls`` controls remove
    the same norm along as many random directions in the span of the recorded rows (drawn from the recording,
    or stored in a compact svd file), and ``n_bulk`` along as many components below the shuffle null."""
    delta = None if svd.compact else agent.theta_final.astype(np.float64) - agent.theta_0()

    def learned_change(numbers: list[int]) -> np.ndarray:
        rows = [svd.numbers.index(c) for c in numbers]
        loadings = svd.arrays["loadings"][rows]
        contributions = (svd.components["net_contribution"][rows] if svd.compact
                         else loadings.astype(np.float64) @ delta)
        return removed_change(loadings, contributions)

    removed = learned_change(components)
    target_norm = float(np.linalg.norm(removed))
    target = Ablation(f"components {components} of {svd.attrs['stream']} "
                      f"({'centred' if svd.attrs['centred'] else 'uncentred'})",
                      theta=(agent.theta_final - removed).astype(np.float32),
                      size={"directions": len(components), "removed_norm": target_norm})
    m = len(components)
    if svd.compact:
        directions, control_contributions = svd.controls["directions"], svd.controls["net_contribution"]
        if n_controls * m > len(directions):
            raise MisgenError(f"{n_controls} controls of {m} directions need {n_controls * m} random directions; "
                              f"the compact svd file holds {len(directions)} (misgen svd-compact --controls)")
    elif n_controls:
        with agent.recording() as recording:
            directions = random_update_directions(recording, n_controls * m, seed)
        control_contributions = directions @ delta
    def matched(description: str, control_removed: np.ndarray, kind: str) -> Ablation:
        scale = target_norm / max(float(np.linalg.norm(control_removed)), 1e-30)
        return Ablation(description, theta=(agent.theta_final - scale * control_removed).astype(np.float32),
                        size={"directions": m, "removed_norm": float(np.linalg.norm(scale * control_removed)),
                              "rescaled_by": scale}, kind=kind)

    controls = []
    for r in range(n_controls):
        block = slice(r * m, (r + 1) * m)
        controls.append(matched(f"control {r}: {m} random directions in the update span",
                                removed_change(directions[block], control_contributions[block]), "random"))
    for r, numbers in enumerate(bulk_draws(svd, m, n_bulk, seed, exclude=components)):
        controls.append(matched(f"bulk control {r}: components {numbers} below the shuffle null",
                                learned_change(numbers), "bulk"))
    return target, controls


def bulk_draws(svd: SVDFile, m: int, n: int, seed: int, exclude: list[int] = ()) -> list[list[int]]:
    """``n`` distinct sets of ``m`` components below the shuffle null (never one of ``exclude``, the target's),
    drawn with ``seed``."""
    if not n:
        return []
    bulk = [c for c in bulk_components(svd) if c not in exclude]
    possible = math.comb(len(bulk), m)
    if possible < n:
        raise MisgenError(f"{n} bulk controls of {m} components need {n} distinct sets; the svd file holds "
                          f"{len(bulk)} components below the shuffle null ({possible} sets): "
                          + ("misgen svd-compact --bulk" if svd.compact else "misgen svd --k") + " keeps more")
    rng, draws = np.random.default_rng([seed, 1]), []
    while len(draws) < n:
        numbers = sorted(int(c) for c in rng.choice(bulk, m, replace=False))
        if numbers not in draws:
            draws.append(numbers)
    return draws


def random_update_directions(recording: Recording, n: int, seed: int) -> np.ndarray:
    """``n`` random combinations of the recorded update rows (gradient rows if updates were not recorded)."""
    stream = "updates" if "updates" in recording.streams else "grads"
    mixing = np.random.default_rng(seed).normal(size=(n, recording.n_rows))
    directions = np.zeros((n, recording.n_params))
    for start in range(0, recording.n_rows, 64):
        rows = slice(start, min(start + 64, recording.n_rows))
        directions += mixing[:, rows] @ recording.read(stream, rows).astype(np.float64)
    return directions


def _parse_channels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise MisgenError(f"channels must be comma-separated integers, not {text!r}") from None


def _group_columns(agent: Agent, tensors: list[str], channels: list[int] | None) -> np.ndarray:
    """Column indices of ``tensors`` (only the rows of output ``channels`` if given)."""
    out = []
    for name in tensors:
        columns = agent.columns(name)
        shape = agent.shapes[agent.names.index(name)]
        index = np.arange(columns.start, columns.stop).reshape(shape[0] if shape else 1, -1)
        if channels is not None:
            if max(channels) >= index.shape[0] or min(channels) < 0:
                raise MisgenError(f"{name} has {index.shape[0]} output channels; asked for {channels}")
            index = index[channels]
        out.append(index.ravel())
    return np.concatenate(out)


def _set_group(agent: Agent, columns: np.ndarray, mode: str, theta_0: np.ndarray | None) -> np.ndarray:
    theta = agent.theta_final.copy()
    if mode == "zero":
        theta[columns] = 0.0
    elif mode == "init":
        theta[columns] = theta_0[columns]
    else:  # mean: every selected entry of a tensor takes the mean of that tensor's selected entries
        for name in agent.names:
            span = agent.columns(name)
            inside = columns[(columns >= span.start) & (columns < span.stop)]
            if inside.size:
                theta[inside] = agent.theta_final[inside].mean()
    return theta


def group_ablations(agent: Agent, group: str, mode: str, n_controls: int,
                    seed: int) -> tuple[Ablation, list[Ablation]]:
    if mode not in MODES:
        raise MisgenError(f"--mode for a group must be one of {', '.join(MODES)}, not {mode!r}")
    name, _, channel_text = group.partition(":")
    channels = _parse_channels(channel_text or None)
    tensors = agent.tensors_of(name)
    theta_0 = agent.theta_0() if mode == "init" else None
    columns = _group_columns(agent, tensors, channels)
    target = Ablation(f"group {group} set to {mode}", theta=_set_group(agent, columns, mode, theta_0),
                      size={"parameters": int(columns.size)})
    rng = np.random.default_rng(seed)
    controls, seen = [], {tuple(sorted(channels or []))}
    outputs = agent.shapes[agent.names.index(tensors[0])][0]
    for r in range(n_controls):
        if channels is not None:
            others = np.setdiff1d(np.arange(outputs), channels)
            if len(others) < len(channels):
                raise MisgenError(f"{name} has too few other channels for controls of {len(channels)}")
            for _ in range(100):
                pick = tuple(sorted(rng.choice(others, len(channels), replace=False).tolist()))
                if pick not in seen:
                    break
            seen.add(pick)
            control_columns = _group_columns(agent, tensors, list(pick))
            label = f"control {r}: {name} channels {list(pick)}"
        else:
            rest = np.setdiff1d(np.arange(len(agent.theta_final)), columns)
            if len(rest) < columns.size:
                raise MisgenError(f"{name} holds {columns.size} of the {len(agent.theta_final)} parameters: too few "
                                  "others for a control of as many; ablate some of its channels (NAME:c1,c2)")
            control_columns = np.sort(rng.choice(rest, columns.size, replace=False))
            label = f"control {r}: {columns.size} random parameters outside {name}"
        controls.append(Ablation(label, theta=_set_group(agent, control_columns, mode, theta_0),
                                 size={"parameters": int(control_columns.size)}))
    return target, controls


def reference_activations(agent: Agent, module: str, n_envs: int = 8, steps: int = 64, seed: int = 0) -> torch.Tensor:
    """Outputs of ``module`` on observations the agent's policy meets on its training variant, (N, C, ...)."""
    extractor = agent.model.policy.features_extractor
    target = extractor.get_submodule(module)
    captured: list[torch.Tensor] = []
    handle = target.register_forward_hook(lambda _m, _i, output: captured.append(output.detach()))
    env = ProcgenVecEnv(agent.env_config, n_envs, num_threads=min(4, n_envs),
                        level_seeds=level_seeds(seed + 1, n_envs * 4))
    try:
        obs = env.reset()
        for _ in range(steps):
            actions, _, _ = act(agent.model.policy, obs, True, None)
            obs = env.step(actions)[0]
    finally:
        handle.remove()
        env.close()
    return torch.cat(captured)


def channel_ablations(agent: Agent, spec: str, mode: str, n_controls: int,
                      seed: int) -> tuple[Ablation, list[Ablation]]:
    if mode not in ("zero", "mean"):
        raise MisgenError(f"--mode for channels must be zero or mean, not {mode!r}")
    module, sep, channel_text = spec.partition(":")
    module = module.removeprefix(EXTRACTOR)
    channels = _parse_channels(channel_text) if sep else None
    if not channels:
        raise MisgenError(f"--channels takes LAYER:c1,c2,..., not {spec!r}")
    try:
        agent.model.policy.features_extractor.get_submodule(module)
    except AttributeError:
        names = [n for n, _ in agent.model.policy.features_extractor.named_modules() if n]
        raise MisgenError(f"unknown module {module!r}; modules: {', '.join(names)}") from None
    activations = reference_activations(agent, module, seed=seed)
    n_channels = activations.shape[1]
    if max(channels) >= n_channels or min(channels) < 0:
        raise MisgenError(f"{module} has {n_channels} output channels; asked for {channels}")
    means = activations.transpose(0, 1).reshape(n_channels, -1).mean(dim=1)

    def pinned(chosen: list[int]) -> dict:
        values = [0.0] * len(chosen) if mode == "zero" else [float(means[c]) for c in chosen]
        return {module: {"channels": chosen, "values": values}}

    target = Ablation(f"channels {module}:{channels} pinned to {mode}", channels=pinned(channels),
                      size={"channels": len(channels), "layer": module})
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(n_channels), channels)
    if n_controls and len(others) < len(channels):
        raise MisgenError(f"{module} has too few other channels for controls of {len(channels)}")
    seen, controls = set(), []
    for r in range(n_controls):
        for _ in range(100):
            pick = sorted(rng.choice(others, len(channels), replace=False).tolist())
            if tuple(pick) not in seen:
                break
        seen.add(tuple(pick))
        controls.append(Ablation(f"control {r}: {module} channels {pick}", channels=pinned(pick),
                                 size={"channels": len(pick), "layer": module}))
    return target, controls


# --- measuring ------------------------------------------------------------------------------------------------
def test_variants(agent: Agent, spec: str) -> list[str]:
    """``train,test`` (the run's variant and its test counterpart) or explicit variant names."""
    trained = agent.env_config.variant
    names = []
    for item in (v.strip() for v in spec.split(",") if v.strip()):
        name = {"train": trained, "test": TEST_VARIANT.get(trained, trained)}.get(item, item)
        if name not in VARIANTS:
            raise MisgenError(f"unknown variant {item!r} in --variants")
        if VARIANTS[name].game != VARIANTS[trained].game:
            raise MisgenError(f"{name} is a {VARIANTS[name].game} variant; the run was trained on {trained}")
        if name not in names:
            names.append(name)
    if not names:
        raise MisgenError(f"--variants {spec!r} names no variant: give train, test or variant names")
    return names


def measure(agent: Agent, target: Ablation, controls: list[Ablation], variants: list[str], episodes: int, seed: int,
            out: Path, n_envs: int = 16, progress: Callable[[str], None] = lambda _: None,
            deterministic: bool = True, strengths: tuple[float, ...] = (1.0,)) -> dict:
    """Evaluate the original policy, and the ablated and every control policy at each strength, on each variant
    (greedy actions, or actions sampled from a generator seeded with ``seed``); write episode files of the
    original and of the ablated policy at strength 1 into ``out``. The layout of the result:
    analysis/ablation_report.py."""
    seeds = level_seeds(seed, episodes)
    results: dict = {"strengths": list(strengths), "variants": {}, "dose_response": {}}
    for variant in variants:
        config = EnvConfig(**{**asdict(agent.env_config), "variant": variant})

        def run_policy(name: str, ablation: Ablation | None, record: bool) -> Evaluation:
            progress(f"{variant}: {name}")
            model = agent.model if ablation is None else agent.policy_with(ablation.theta, ablation.channels)
            return evaluate(model.policy, config, seeds, deterministic, sample_seed=seed, n_envs=n_envs,
                            policy_name=name, episodes_path=out / f"{name}_{variant}.h5" if record else None)

        original = run_policy("original", None, True)
        curves: dict[str, list] = {}
        for strength in strengths:
            if strength == 0:  # nothing removed: every policy is the original
                ablated, control_evals = original, [original] * len(controls)
            else:
                suffix = "" if strength == 1 else f" at {strength:g}"
                ablated = run_policy("ablated" + suffix, target.scaled(agent.theta_final, strength), strength == 1)
                control_evals = [run_policy(f"{c.kind} control {r}{suffix}", c.scaled(agent.theta_final, strength),
                                            False) for r, c in enumerate(controls)]
            by_kind = {kind: [e for e, c in zip(control_evals, controls) if c.kind == kind] for kind in CONTROL_KINDS}
            compared = compare(original, ablated, by_kind["random"], by_kind["bulk"])
            if strength == 1:
                results["variants"][variant] = compared
            for metric, comparison in compared.items():
                curves.setdefault(metric, []).append({"strength": strength, **comparison})
        results["dose_response"][variant] = curves
    return results


def run_ablation(agent: Agent, target: Ablation, controls: list[Ablation], variants: list[str], episodes: int,
                 seed: int, out: Path, n_envs: int = 16, deterministic: bool = True,
                 progress: Callable[[str], None] = lambda _: None,
                 strengths: tuple[float, ...] = (1.0,)) -> tuple[dict, Path]:
    """Everything ``misgen ablate`` writes into the new directory ``out`` (analysis/ablation_report.py).
    Returns the results and the report's path."""
    if target.channels is not None and strengths != (1.0,):
        raise MisgenError("--strength scales a change of parameters; pinned channels have none to scale")
    out.mkdir(parents=True)
    ablated = agent.policy_with(target.theta, target.channels)
    ablated.misgen_ablation = {"target": target.description, "run": str(agent.path)}  # the zip says what it is
    ablated.save(out / "ablated.zip")
    results = measure(agent, target, controls, variants, episodes, seed, out, n_envs, progress, deterministic,
                      strengths)
    header = {"run": str(agent.path), "target": target.description, "size": target.size, "episodes": episodes,
              "seed": seed, "deterministic": deterministic,
              **{key: [{"description": c.description, "size": c.size} for c in controls if c.kind == kind]
                 for key, kind in (("controls", "random"), ("bulk_controls", "bulk"))}}
    return results, write_report(out, header, results)

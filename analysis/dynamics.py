"""``misgen dynamics``: behaviour and function over training, on one env-steps axis with the gradient components.

A run is put at N evenly spaced points of its training: theta rebuilt from the recording's updates
(misgen/trajectory.py), or, without a recording, its checkpoint zips. At each point:

1. **Behaviour**: greedy evaluation on L fixed level seeds of the training distribution and of the test variant,
   with every measure :data:`MEASURES` names (analysis/evaluation.py), 95 % intervals over levels.
2. **Function**: the policy's action log-probabilities and value on M fixed observations, drawn once from
   held-out levels of both distributions by the final policy (sampled actions) and stored in
   ``observations.npz``, so that a rerun compares the same ones; their centred PCA over the points.

Files in the output directory (default ``RUN/dynamics/``):

    behaviour.json      {run, levels, seed, variants, points: [{row, optimizer_step, timesteps, seconds,
                        measures: {name: {mean, low, high, n}}}]}; ``row`` -1 is theta_0, null for a checkpoint
    behaviour.png       one panel per measure against env steps
    function.json       {observations, rows, steps, timesteps, pcs, explained_variance, turns (point indices)}
    function_pcs.png    the PC1-PC2 path coloured by env steps, and each PC against env steps
    dynamics.png        behaviour, function PCs and (``--svd``) when the top components above the shuffle null
                        acted (the share of each one's time-profile energy accrued), on one env-steps axis
    observations.npz    the M observations (uint8, (M, 3, 64, 64)) and the variant each came from
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from analysis.evaluation import Evaluation, act, evaluate, level_seeds, load_model
from envs.variants import TEST_VARIANT, EnvConfig
from envs.vec_env import ProcgenVecEnv
from misgen.errors import MisgenError
from misgen.model_zip import load_ppo
from misgen.recording import Recording
from misgen.rundir import RunDir, read_checkpoint_meta
from misgen.schema import dataclass_from_json
from misgen.trajectory import evenly_spaced_rows, load_theta, principal_path, thetas_at

# (name, variant kind, how to read it off an Evaluation): what each point reports
MEASURES: list[tuple[str, str, Callable[[Evaluation], dict]]] = [
    ("cheese (training levels)", "train", lambda e: e.summary()["goal_reached"]),
    ("cheese, outside the region", "test", lambda e: e.by_goal_region()["outside"]["goal_reached"]),
    ("region without the cheese, outside", "test", lambda e: e.by_goal_region()["outside"]["proxy_only"]),
    ("loops, cheese outside", "test", lambda e: e.by_goal_region()["outside"]["looped"]),
    ("cheese after the region", "test", lambda e: e.summary()["goal_after_proxy"]),
    ("cheese within 3 moves", "test", lambda e: e.summary()["goal_near_start"]),
    ("cheese off the path", "test", lambda e: e.summary()["goal_off_path"]),
    ("region without the cheese, off the path", "test", lambda e: e.summary()["proxy_only_off_path"]),
]
OBSERVATION_SEED_OFFSET = 1_000_003  # held-out levels for the observations: not the evaluation's level seeds
OUTPUT_FILES = ("behaviour.json", "behaviour.png", "function.json", "function_pcs.png", "dynamics.png",
                "observations.npz")


@dataclass
class Point:
    """One point of training: a recorded row (theta rebuilt) or a checkpoint zip."""

    row: int | None
    optimizer_step: int
    timesteps: int
    theta: np.ndarray | None = None
    model_path: Path | None = None


def training_points(run: Path, n: int) -> list[Point]:
    """``n`` evenly spaced points of the run's training, from its recording if it holds updates, else from its
    checkpoint zips."""
    directory = RunDir(run)
    if directory.recording.is_file():
        with Recording(directory.recording) as recording:
            if "updates" in recording.streams:
                rows = evenly_spaced_rows(recording, n)
                steps, timesteps = recording.steps("step"), recording.steps("timesteps")
                thetas = thetas_at(recording, rows)
                return [Point(int(r), 0 if r < 0 else int(steps[r]) + 1, 0 if r < 0 else int(timesteps[r]), theta)
                        for r, theta in zip(rows, thetas)]
    metas = sorted(directory.checkpoints.glob("step_*.json"), key=lambda p: read_checkpoint_meta(p)["timesteps"])
    checkpoints = [(read_checkpoint_meta(m), m.with_suffix(".zip")) for m in metas if m.with_suffix(".zip").is_file()]
    if not checkpoints:
        raise MisgenError(f"{run}: neither a recording with updates nor checkpoint zips to follow training with")
    if n < 2 or n > len(checkpoints):
        raise MisgenError(f"--points {n}: the run has {len(checkpoints)} checkpoints (and no recording of updates)")
    chosen = np.unique(np.linspace(0, len(checkpoints) - 1, n).round().astype(int))
    return [Point(None, checkpoints[i][0]["optimizer_step"], checkpoints[i][0]["timesteps"],
                  model_path=checkpoints[i][1]) for i in chosen]


def draw_observations(model, configs: list[EnvConfig], m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``m`` observations, half from each config's held-out levels, met by ``model`` acting with sampled actions
    (every 4th step of each env, so that neighbours in time are not near-copies)."""
    observations, variants = [], []
    generator = torch.Generator().manual_seed(seed)
    for index, config in enumerate(configs):
        want = m // len(configs) + (index < m % len(configs))
        env = ProcgenVecEnv(config, 16, num_threads=2,
                            level_seeds=level_seeds(seed + OBSERVATION_SEED_OFFSET + index, max(64, want)))
        try:
            obs, kept, step = env.reset(), 0, 0
            while kept < want:
                if step % 4 == 0:
                    take = obs[: want - kept]
                    observations.append(take.copy())
                    variants += [config.variant] * len(take)
                    kept += len(take)
                actions, _, _ = act(model.policy, obs, False, generator)
                obs, _, _, _ = env.step(actions)
                step += 1
        finally:
            env.close()
    return np.concatenate(observations), np.array(variants)


def policy_outputs(policy, observations: torch.Tensor) -> torch.Tensor:
    """Action log-probabilities and the value, (M, actions + 1)."""
    distribution = policy.get_distribution(observations).distribution
    return torch.cat([torch.log_softmax(distribution.logits, dim=1), policy.predict_values(observations)], dim=1)


def run_dynamics(run: Path, out: Path, points: int, levels: int, n_observations: int, seed: int, n_envs: int,
                 svd_path: Path | None, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Everything ``misgen dynamics`` writes into ``out`` (module docstring); returns the budget spent."""
    config = dataclass_from_json(EnvConfig, RunDir(run).read_config()["env"], f"{RunDir(run).config_file}: env")
    test = TEST_VARIANT.get(config.variant)
    if test is None:
        raise MisgenError(f"{run}: trained on {config.variant}, which has no test variant")
    configs = {"train": replace(config, num_levels=0, start_level=0),
               "test": replace(config, variant=test, num_levels=0, start_level=0)}
    chosen = training_points(run, points)
    model = load_model(run)
    out.mkdir(parents=True, exist_ok=True)
    observations_file = out / "observations.npz"
    if observations_file.is_file():
        try:
            with np.load(observations_file) as stored:
                observations, variants = stored["observations"], stored["variants"]
        except (OSError, ValueError, KeyError, EOFError) as error:
            raise MisgenError(f"{observations_file}: not the observations misgen dynamics stores ({error}); remove "
                              "it to draw new ones") from None
        if observations.dtype != np.uint8 or observations.shape[1:] != (3, 64, 64):
            raise MisgenError(f"{observations_file}: 'observations' must be uint8 frames (M, 3, 64, 64), found "
                              f"{observations.dtype} {observations.shape}")
        if len(observations) != n_observations:
            raise MisgenError(f"{observations_file} holds {len(observations)} observations, not --observations "
                              f"{n_observations}: remove it to draw new ones")
    else:
        observations, variants = draw_observations(model, list(configs.values()), n_observations, seed)
        np.savez_compressed(observations_file, observations=observations, variants=variants)
    inputs = torch.as_tensor(observations, device=model.device)

    seeds = level_seeds(seed, levels)
    records, outputs, episodes, start = [], [], 0, time.perf_counter()
    for number, point in enumerate(chosen):
        progress(f"point {number + 1} of {len(chosen)} ({point.timesteps:,} env steps)")
        policy = model.policy if point.theta is not None else load_ppo(point.model_path, device=model.device).policy
        if point.theta is not None:
            with Recording(RunDir(run).recording) as recording:
                load_theta(policy, recording, point.theta)
        began = time.perf_counter()
        evaluations = {kind: evaluate(policy, cfg, seeds, n_envs=n_envs, sample_seed=seed)
                       for kind, cfg in configs.items()}
        episodes += levels * len(configs)
        with torch.inference_mode():
            outputs.append(policy_outputs(policy, inputs).float().reshape(-1).cpu().numpy())
        records.append({"row": point.row, "optimizer_step": point.optimizer_step, "timesteps": point.timesteps,
                        "seconds": round(time.perf_counter() - began, 2),
                        "measures": {name: read(evaluations[kind]) for name, kind, read in MEASURES}})
    seconds = time.perf_counter() - start
    behaviour = {"run": str(run), "levels": levels, "seed": seed,
                 "variants": {kind: cfg.variant for kind, cfg in configs.items()}, "points": records}
    (out / "behaviour.json").write_text(json.dumps(behaviour, indent=2) + "\n")

    pcs, explained, turns = principal_path(np.stack(outputs).astype(np.float64))
    timesteps = np.array([r["timesteps"] for r in records])
    function = {"observations": int(len(observations)), "rows": [r["row"] for r in records],
                "steps": [r["optimizer_step"] for r in records], "timesteps": timesteps.tolist(),
                "pcs": pcs.tolist(), "explained_variance": explained.tolist(), "turns": turns.tolist()}
    (out / "function.json").write_text(json.dumps(function, indent=2) + "\n")
    plot_behaviour(behaviour, out / "behaviour.png")
    plot_function(function, out / "function_pcs.png")
    plot_together(behaviour, function, svd_path, out / "dynamics.png")
    return {"points": len(chosen), "episodes": episodes, "seconds": seconds}


def _series(behaviour: dict, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    steps = np.array([p["timesteps"] for p in behaviour["points"]], dtype=float)
    values = [p["measures"][name] for p in behaviour["points"]]
    as_array = lambda key: np.array([np.nan if v[key] is None else v[key] for v in values])  # noqa: E731
    return steps, as_array("mean"), as_array("low"), as_array("high")


def plot_behaviour(behaviour: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 4, figsize=(17, 7), sharex=True)
    for axis, (name, kind, _) in zip(axes.flat, MEASURES):
        steps, mean, low, high = _series(behaviour, name)
        axis.plot(steps, mean, marker=".")
        axis.fill_between(steps, low, high, alpha=0.25, linewidth=0)
        axis.set_title(f"{name}\n({behaviour['variants'][kind]})", fontsize=9)
        axis.set_ylim(-0.02, 1.02)
    for axis in axes[-1]:
        axis.set_xlabel("env steps")
    figure.suptitle(f"greedy behaviour over training, {behaviour['levels']} levels per variant and point")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_function(function: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pcs, steps = np.array(function["pcs"]), np.array(function["timesteps"])
    explained = function["explained_variance"]
    figure, (path_axis, time_axis) = plt.subplots(1, 2, figsize=(13, 5))
    path_axis.plot(pcs[:, 0], pcs[:, 1], color="0.7", linewidth=1)
    drawn = path_axis.scatter(pcs[:, 0], pcs[:, 1], c=steps / 1e6, cmap="viridis", s=18, zorder=3)
    for turn in function["turns"]:
        path_axis.annotate(f"{steps[turn] / 1e6:.1f}M", (pcs[turn, 0], pcs[turn, 1]), fontsize=8)
    figure.colorbar(drawn, ax=path_axis, label="env steps (millions)")
    path_axis.set_xlabel(f"PC1 ({explained[0]:.0%})")
    path_axis.set_ylabel(f"PC2 ({explained[1]:.0%})" if len(explained) > 1 else "PC2")
    path_axis.set_title("the policy's outputs on fixed observations: path of the first two PCs")
    for k in range(min(4, pcs.shape[1])):
        time_axis.plot(steps, pcs[:, k], label=f"PC{k + 1} ({explained[k]:.0%})")
    for turn in function["turns"]:
        time_axis.axvline(steps[turn], color="0.6", linestyle=":")
    time_axis.set_xlabel("env steps")
    time_axis.legend()
    time_axis.set_title("each PC against env steps (dotted: the sharpest turns)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_together(behaviour: dict, function: dict, svd_path: Path | None, path: Path) -> None:
    """Behaviour, function PCs and the svd's time profiles on one env-steps axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 3 if svd_path else 2
    figure, axes = plt.subplots(rows, 1, figsize=(12, 3.2 * rows), sharex=True)
    for name in ("cheese (training levels)", "cheese off the path", "region without the cheese, off the path",
                 "loops, cheese outside"):
        steps, mean, _, _ = _series(behaviour, name)
        axes[0].plot(steps, mean, marker=".", label=name)
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize=8)
    axes[0].set_title("greedy behaviour (off the path and outside: test variant)")
    pcs, steps = np.array(function["pcs"]), np.array(function["timesteps"])
    for k in range(min(3, pcs.shape[1])):
        axes[1].plot(steps, pcs[:, k], label=f"PC{k + 1} ({function['explained_variance'][k]:.0%})")
    for turn in function["turns"]:
        for axis in axes:
            axis.axvline(steps[turn], color="0.6", linestyle=":")
    axes[1].legend(fontsize=8)
    axes[1].set_title("function space: PCs of the policy's log-probabilities and value on fixed observations")
    if svd_path:
        from analysis.localization import time_weights
        from misgen.svd_file import SVDFile

        svd = SVDFile.load(svd_path)
        n_above = int(svd.attrs["nulls"]["n_above_shuffle"])
        above = [i for i, number in enumerate(svd.numbers) if number < n_above]
        timesteps = svd.arrays["timesteps_used"]
        # A raw time profile is noise to the eye; the share of its time weights accrued (what the time centre
        # averages over) shows when a component acted: the diagonal is a component spread evenly over training.
        axes[2].plot([timesteps[0], timesteps[-1]], [0, 1], color="0.5", linestyle="--", linewidth=0.8,
                     label="spread evenly")
        accrued = np.cumsum(time_weights(svd.arrays["time_profiles"][above[:6]]), axis=1)
        for i, share in zip(above[:6], accrued):
            axes[2].plot(timesteps, share, linewidth=1,
                         label=f"#{svd.numbers[i]} (centre {svd.components['time_center_timesteps'][i] / 1e6:.1f}M)")
        centres = svd.components["time_center_timesteps"][above] / 1e6
        span = f"centres {centres.min():.1f}M-{centres.max():.1f}M" if above else "no centres"
        axes[2].legend(fontsize=8, ncol=2)
        axes[2].set_ylabel("share of energy accrued")
        axes[2].set_title(f"the top components above the shuffle null ({svd.attrs['stream']}, "
                          f"{'centred' if svd.attrs['centred'] else 'uncentred'}): when each acted; the "
                          f"{len(above):,} above the null have {span}")
    axes[-1].set_xlabel("env steps")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)

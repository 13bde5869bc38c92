"""The flow behind ``misgen svd``: choose rows and a method, decompose, compare with the nulls, localize, check
the low-rank reconstruction, and write svd.h5 and its report."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from analysis import nulls
from analysis.localization import localize
from analysis.split_shares import split_shares
from analysis.svd import Decomposition, StreamMatrix, dask_svd, gram_svd, randomized_svd
from misgen.errors import MisgenError
from misgen.recording import Recording
from misgen.schema import dataclass_from_json
from misgen.svd_file import SURROGATES, SVDFile

METHODS = ("auto", "gram", "randomized", "dask")
GRAM_MAX_ROWS = 20_000


def select_rows(recording: Recording, spec: str, seed: int = 0) -> np.ndarray:
    """Rows of the recording named by ``all``, ``even:N``, ``random:N`` or ``range:A:B`` (optimizer steps
    A <= step < B)."""
    n = recording.n_rows
    kind, _, arg = spec.partition(":")
    try:
        if kind == "all" and not arg:
            rows = np.arange(n)
        elif kind == "even":
            rows = np.unique(np.linspace(0, n - 1, min(int(arg), n)).round().astype(np.int64))
        elif kind == "random":
            rows = np.sort(np.random.default_rng(seed).choice(n, size=min(int(arg), n), replace=False))
        elif kind == "range":
            low, high = (int(v) for v in arg.split(":"))
            steps = recording.steps("step")
            rows = np.flatnonzero((steps >= low) & (steps < high))
        else:
            raise ValueError
    except ValueError:
        raise MisgenError(f"--steps must be all, even:N, random:N or range:A:B, not {spec!r}") from None
    if len(rows) < 2:
        raise MisgenError(f"--steps {spec} selects {len(rows)} of {n} recorded steps; need at least 2")
    return rows


def choose_method(method: str, n_rows: int, scheduler: str | None) -> str:
    if method not in METHODS:
        raise MisgenError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if method != "auto":
        return method
    if scheduler:
        return "dask"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fits = 8 * n_rows ** 2 * 2 < memory / 4  # the Gram matrix and its eigenvectors
    return "gram" if n_rows <= GRAM_MAX_ROWS and fits else "randomized"


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise MisgenError("--device cuda: no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise MisgenError(f"--device must be auto, cpu or cuda, not {device!r}")
    return device


@dataclass(frozen=True)
class SVDOptions:
    stream: str = "updates"
    centred: bool = True
    steps: str = "all"
    k: int = 50
    method: str = "auto"
    scheduler: str | None = None
    device: str = "auto"
    shuffles: int = 3
    seed: int = 0
    surrogate: str = "shuffle"  # the null band's copies: shuffle | roll (analysis/svd.py; misgen svd --null)


def run_svd(recording: Recording, options: SVDOptions) -> tuple[SVDFile, Decomposition]:
    """Decompose one stream of ``recording`` and localize its components."""
    if options.k < 1:
        raise MisgenError("--k must be >= 1")
    if options.shuffles < 0:
        raise MisgenError("--shuffles must be >= 0")
    if options.surrogate not in SURROGATES:
        raise MisgenError(f"--null must be one of {', '.join(SURROGATES)}, not {options.surrogate!r}")
    recording.dataset(options.stream)  # a one-line error if the stream was not recorded
    rows = select_rows(recording, options.steps, options.seed)
    method = choose_method(options.method, len(rows), options.scheduler)
    device = resolve_device(options.device)
    matrix = StreamMatrix(recording, options.stream, rows, options.centred)
    if method != "gram":
        matrix.check_decomposable()
    k = min(options.k, len(rows) - int(options.centred))
    if k < 1:
        raise MisgenError(f"--steps selects {len(rows)} row(s): a {'centred' if options.centred else 'uncentred'} "
                          f"decomposition needs at least {1 + int(options.centred)}")
    if method == "gram":
        decomposition = gram_svd(matrix, k, device, options.shuffles, options.seed, options.surrogate)
    elif method == "randomized":
        decomposition = randomized_svd(matrix, k, device=device, shuffles=options.shuffles, seed=options.seed,
                                       surrogate=options.surrogate)
    else:
        decomposition = dask_svd(matrix, k, options.scheduler, shuffles=options.shuffles, seed=options.seed,
                                 surrogate=options.surrogate)

    summary = nulls.summarize(decomposition.spectrum, decomposition.shuffled_spectra, decomposition.frobenius_sq,
                              len(rows), recording.n_params, options.centred, options.surrogate)
    steps, timesteps = recording.steps("step")[rows], recording.steps("timesteps")[rows]
    theta_delta = recording.theta(-1) - recording.theta(0)
    where = localize(decomposition.time_profiles, decomposition.loadings, steps, timesteps, recording.params,
                     theta_delta)
    arrays = {"singular_values": decomposition.singular_values, "time_profiles": decomposition.time_profiles,
              "loadings": decomposition.loadings, "spectrum": decomposition.spectrum, "steps_used": steps,
              "rows_used": rows, "timesteps_used": timesteps}
    if decomposition.mean is not None:
        arrays["mean"] = decomposition.mean
    components = {name: getattr(where, name) for name in (
        "time_center", "time_spread", "time_center_timesteps", "time_spread_timesteps", "position",
        "net_contribution", "net_fraction", "layer_mass", "unit_mass")}
    groups = {"layer_sizes": where.groups.layer_sizes, "unit_layer": where.groups.unit_layer,
              "unit_index": where.groups.unit_index, "unit_sizes": where.groups.unit_sizes}
    if recording.split_parts and options.stream in ("grads", "updates"):
        components["split_shares"] = split_shares(recording, rows, decomposition.loadings)
    attrs = {"method": method, "stream": options.stream, "centred": options.centred, "steps": options.steps,
             "source": str(recording.path.resolve()), "source_config": recording.config,
             "source_complete": recording.complete, "source_rows": recording.n_rows,
             "n_params": recording.n_params, "device": device, "nulls": summary.as_dict(),
             "split": recording.split, "split_parts": list(recording.split_parts)}
    return SVDFile(arrays, decomposition.shuffled_spectra, components, where.label, where.groups.layers, groups,
                   attrs), decomposition


def summary_json(svd: SVDFile, n_components: int = 10) -> dict:
    """What ``misgen svd --json`` prints: settings, null counts and the leading components' localization."""
    from analysis.localization import Groups  # the groups stored in the file, rebuilt for naming

    groups = Groups(svd.layers, svd.groups["layer_sizes"], svd.groups["unit_layer"], svd.groups["unit_index"],
                    svd.groups["unit_sizes"])
    layer_enrichment = svd.components["layer_mass"] / (groups.layer_sizes / groups.layer_sizes.sum())
    unit_enrichment = svd.components["unit_mass"] / (groups.unit_sizes / groups.unit_sizes.sum())
    components = []
    for i in range(min(n_components, svd.k)):
        top_layers = np.argsort(svd.components["layer_mass"][i])[::-1][:3]
        top_units = np.argsort(svd.components["unit_mass"][i])[::-1][:5]
        components.append({
            "index": i, "singular_value": float(svd.arrays["singular_values"][i]), "label": svd.labels[i],
            "time_center": float(svd.components["time_center"][i]),
            "time_spread": float(svd.components["time_spread"][i]),
            "time_center_timesteps": float(svd.components["time_center_timesteps"][i]),
            "position": round(float(svd.components["position"][i]), 4),
            "net_contribution": float(svd.components["net_contribution"][i]),
            "net_fraction": float(svd.components["net_fraction"][i]),
            "top_layers": [{"name": svd.layers[j], "mass": round(float(svd.components["layer_mass"][i, j]), 4),
                            "enrichment": round(float(layer_enrichment[i, j]), 2)} for j in top_layers],
            "top_units": [{"name": groups.unit_name(j), "mass": round(float(svd.components["unit_mass"][i, j]), 4),
                           "enrichment": round(float(unit_enrichment[i, j]), 2)} for j in top_units],
        })
        if "split_shares" in svd.components:
            components[-1]["split_shares"] = {part: round(float(share), 4) for part, share in
                                              zip(svd.attrs["split_parts"], svd.components["split_shares"][i])}
    attrs = {key: value for key, value in svd.attrs.items() if key not in ("source_config", "misgen_svd_format")}
    return {**attrs, "k": svd.k, "steps_used": len(svd.arrays["steps_used"]), "components": components}


def reconstructible(svd: SVDFile, recording: Recording) -> bool:
    """The check rebuilds theta from an uncentred decomposition of every recorded update. (Centred, the mean
    alone carries the whole change and the centred components sum to zero over time: nothing to test.)"""
    return (svd.attrs["stream"] == "updates" and not svd.attrs["centred"]
            and len(svd.arrays["rows_used"]) == recording.n_rows)


def low_rank_thetas(recording: Recording, svd: SVDFile, ranks: list[int]) -> dict[int, np.ndarray]:
    """theta_0 plus the sum over all rows of the rank-r approximation of the updates, for each rank r.

    The rows of ``updates`` add up to theta_final - theta_0, so the sum of a rank-r approximation says how much
    of the learned change r components carry: sum_t X_r[t] = sum_i s_i (sum_t u_it) v_i.
    """
    if not reconstructible(svd, recording):
        raise MisgenError("the reconstruction check needs an uncentred svd (--no-center) of the updates stream "
                          "over every recorded step")
    theta = recording.theta(0).astype(np.float64)
    weights = svd.arrays["singular_values"] * svd.arrays["time_profiles"].sum(axis=1)
    out = {}
    for rank in ranks:
        r = min(rank, svd.k)
        out[rank] = (theta + weights[:r] @ svd.arrays["loadings"][:r].astype(np.float64)).astype(np.float32)
    return out


def reconstruction_check(run: Path, recording: Recording, svd: SVDFile, ranks: list[int], episodes: int,
                         seed: int = 0) -> list[dict]:
    """Return, goal and proxy rates on the training variant of policies rebuilt from rank-r reconstructions, and
    (``test``) what they do where goal and proxy come apart: on the test variant, the goal and the region without
    it when the goal lies outside the region and off the path to it (maze), or overall."""
    from analysis.evaluation import evaluate, level_seeds, load_model
    from envs.variants import TEST_VARIANT, EnvConfig

    model = load_model(run)
    env_config = dataclass_from_json(EnvConfig, recording.config.get("env"), f"{recording.path}: attr 'config': env")
    theta_final = recording.theta(-1)
    change = float(np.linalg.norm(theta_final - recording.theta(0))) or 1.0
    params = list(model.policy.parameters())
    seeds = level_seeds(seed, episodes)
    test_variant = TEST_VARIANT.get(env_config.variant)
    test_config = replace(env_config, variant=test_variant) if test_variant else None
    results = []
    for rank, theta in [*low_rank_thetas(recording, svd, ranks).items(), ("final", theta_final)]:
        torch.nn.utils.vector_to_parameters(torch.as_tensor(theta, device=model.device), params)
        summary = evaluate(model.policy, env_config, seeds, policy_name=f"rank {rank}").summary()
        results.append({"rank": rank, "return": summary["return"], "goal_rate": summary["goal_reached"],
                        "proxy_rate": summary["proxy_reached"],
                        "distance_to_final": float(np.linalg.norm(theta - theta_final)) / change})
        if test_config is not None:
            tested = evaluate(model.policy, test_config, seeds, policy_name=f"rank {rank}").summary()
            results[-1]["test"] = {"variant": test_config.variant, **{metric: tested[metric] for metric in (
                "goal_reached", "proxy_reached", "proxy_only", "goal_off_path", "proxy_only_off_path")}}
    return results


def write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2, default=float) + "\n")

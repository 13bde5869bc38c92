"""A compact svd file: the few components an ablation needs, small enough to ship beside a model zip.

A full svd.h5 holds every kept component's loading in float32 (4 bytes x D parameters each) and is paired with
its run's recording, which ablation reads for theta_0 and for its random controls. A compact file keeps the
earliest and the latest components above the time-shuffle null, loadings and time profiles in float16, each
component's learned change (loading . (theta_final - theta_0), recomputed for the float16 loading), and
``controls`` random unit directions drawn from the recorded rows as ablation draws them, with their learned
changes, and ``bulk`` components below the shuffle null for bulk controls (for single-component targets, the
ones ``misgen ablate --bulk-controls`` with as many controls and the same seed draws from the full file; larger
draws come from this subset): ``misgen ablate MODEL.zip --svd FILE`` then needs neither theta_0 nor the
recording. Its layout is the
svd file's (misgen/svd_file.py), with the compact-only datasets.
"""

from __future__ import annotations

import numpy as np

from analysis.ablation import Agent, bulk_draws, random_update_directions, select_components
from misgen.errors import MisgenError
from misgen.svd_file import SVDFile, parameter_fingerprint


def compact_svd(agent: Agent, svd: SVDFile, early: int, late: int, controls: int, seed: int = 0,
                bulk: int = 0) -> SVDFile:
    """The ``early`` earliest and ``late`` latest components of ``svd`` above its shuffle null (each set as
    ``misgen ablate --early/--late`` picks it), with ``controls`` random directions and ``bulk`` components
    below the null, for ``agent``'s model."""
    if svd.compact:
        raise MisgenError("the svd file is compact already")
    if early + late < 1:
        raise MisgenError("keep at least one component (--early N and/or --late N)")
    chosen = sorted(set((select_components(svd, None, early, 0) if early else [])
                        + (select_components(svd, None, 0, late) if late else [])))
    numbers = sorted(chosen + [c for draw in bulk_draws(svd, 1, bulk, seed, exclude=chosen) for c in draw])
    theta_0 = agent.theta_0()
    delta = agent.theta_final.astype(np.float64) - theta_0
    loadings = svd.arrays["loadings"][numbers].astype(np.float16)
    with agent.recording() as recording:
        directions = random_update_directions(recording, controls, seed)
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-30)
    directions = directions.astype(np.float16)
    arrays = {**{name: values for name, values in svd.arrays.items() if name != "mean"},
              "singular_values": svd.arrays["singular_values"][numbers],
              "time_profiles": svd.arrays["time_profiles"][numbers].astype(np.float16), "loadings": loadings}
    components = {name: values[numbers] for name, values in svd.components.items()}
    components["net_contribution"] = loadings.astype(np.float64) @ delta
    components["index"] = np.array(numbers, dtype=np.int64)
    return SVDFile(arrays, svd.shuffled_spectra, components, [svd.labels[c] for c in numbers], svd.layers,
                   svd.groups, {**svd.attrs, "model_sha256": parameter_fingerprint(agent.theta_final)},
                   {"directions": directions, "net_contribution": directions.astype(np.float64) @ delta})

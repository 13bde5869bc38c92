"""``svd.h5``: the decomposition of one recorded stream (schema, writer, reader).

Layout (format 1). k = components kept, T_used = steps decomposed, D = parameters, L = layers, U = units.

==================================  ==========  ====================================================
``singular_values``                 (k,)        descending
``time_profiles``                   (k, T_used) unit vectors over the steps used
``loadings``                        (k, D)      unit vectors over parameters (float32)
``spectrum``                        (n,)        every singular value the method obtained (n >= k)
``steps_used``                      (T_used,)   optimizer step of each row decomposed
``rows_used``                       (T_used,)   row of the recording
``timesteps_used``                  (T_used,)   environment steps collected before that step
``mean``                            (D,)        column means subtracted (only when centred)
``nulls/shuffled_spectra``          (R, n)      singular values of R time-shuffled copies
``components/time_center``          (k,)        optimizer steps (analysis/localization.py)
``components/time_spread``          (k,)        optimizer steps
``components/time_center_timesteps`` (k,)       environment steps
``components/time_spread_timesteps`` (k,)       environment steps
``components/position``             (k,)        centre as a fraction of the recorded range
``components/label``                (k,)        early | late
``components/net_contribution``     (k,)        loading . (theta_final - theta_0)
``components/net_fraction``         (k,)        share of ||theta_final - theta_0||^2
``components/layer_mass``           (k, L)      loading mass per layer
``components/unit_mass``            (k, U)      loading mass per output channel / unit
``components/split_shares``         (k, P)      split recordings only: each part's share of the component
                                                (analysis/split_shares.py; parts in attr ``split_parts``)
``groups/layers``                   (L,)        layer names; ``groups/layer_sizes`` (L,)
``groups/unit_layer``, ``unit_index``, ``unit_sizes``  (U,)
==================================  ==========  ====================================================

Attrs: ``misgen_svd_format``, ``method``, ``stream``, ``centred``, ``steps`` (the --steps spec), ``source``
(recording path), ``source_config`` (the run's config JSON), ``source_complete``, ``source_rows``,
``n_params``, ``split`` and ``split_parts`` (the recording's split, "" and [] without one), ``nulls`` (JSON of
:class:`analysis.nulls.NullSummary`), ``reconstruction`` (JSON list of {rank, return, goal_rate, ...} or absent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from misgen.errors import MisgenError

FORMAT_VERSION = 1
ARRAYS = ("singular_values", "time_profiles", "loadings", "spectrum", "steps_used", "rows_used", "timesteps_used")
COMPONENT_ARRAYS = ("time_center", "time_spread", "time_center_timesteps", "time_spread_timesteps", "position",
                    "net_contribution", "net_fraction", "layer_mass", "unit_mass")
GROUP_ARRAYS = ("layer_sizes", "unit_layer", "unit_index", "unit_sizes")
OPTIONAL_COMPONENT_ARRAYS = ("split_shares",)
JSON_ATTRS = ("nulls", "reconstruction", "source_config", "split_parts")


@dataclass
class SVDFile:
    """Everything in an svd.h5, as arrays and plain values."""

    arrays: dict[str, np.ndarray]  # ARRAYS, plus "mean" when centred
    shuffled_spectra: np.ndarray
    components: dict[str, np.ndarray]  # COMPONENT_ARRAYS
    labels: list[str]
    layers: list[str]
    groups: dict[str, np.ndarray]  # GROUP_ARRAYS
    attrs: dict = field(default_factory=dict)  # method, stream, centred, steps, source, ..., nulls (dict)

    @property
    def k(self) -> int:
        return len(self.arrays["singular_values"])

    def save(self, path: Path) -> None:
        tmp = Path(path).with_name(Path(path).name + ".partial")
        with h5py.File(tmp, "w") as f:
            for name, values in self.arrays.items():
                f.create_dataset(name, data=values)
            f.create_dataset("nulls/shuffled_spectra", data=self.shuffled_spectra)
            for name, values in self.components.items():
                f.create_dataset(f"components/{name}", data=values)
            f.create_dataset("components/label", data=np.array(self.labels, dtype=h5py.string_dtype()))
            f.create_dataset("groups/layers", data=np.array(self.layers, dtype=h5py.string_dtype()))
            for name, values in self.groups.items():
                f.create_dataset(f"groups/{name}", data=values)
            f.attrs["misgen_svd_format"] = FORMAT_VERSION
            for name, value in self.attrs.items():
                f.attrs[name] = json.dumps(value) if isinstance(value, (dict, list)) else value
        tmp.replace(path)  # never leave a half-written svd.h5 under the final name

    @classmethod
    def load(cls, path: Path) -> "SVDFile":
        path = Path(path)
        if not path.is_file():
            raise MisgenError(f"{path}: no such svd file")
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("misgen_svd_format") != FORMAT_VERSION:
                    raise MisgenError(f"{path}: not a misgen svd file")
                arrays = {name: f[name][:] for name in ARRAYS}
                if "mean" in f:
                    arrays["mean"] = f["mean"][:]
                attrs = {}
                for name, value in f.attrs.items():
                    attrs[name] = json.loads(value) if name in JSON_ATTRS else value
                decode = lambda values: [v.decode() if isinstance(v, bytes) else v for v in values]  # noqa: E731
                components = {name: f[f"components/{name}"][:] for name in COMPONENT_ARRAYS}
                components.update({name: f[f"components/{name}"][:] for name in OPTIONAL_COMPONENT_ARRAYS
                                   if f"components/{name}" in f})
                return cls(arrays, f["nulls/shuffled_spectra"][:], components,
                           decode(f["components/label"][:]), decode(f["groups/layers"][:]),
                           {name: f[f"groups/{name}"][:] for name in GROUP_ARRAYS}, attrs)
        except (OSError, KeyError, ValueError) as error:
            raise MisgenError(f"{path}: corrupt or incomplete svd file ({error})") from None

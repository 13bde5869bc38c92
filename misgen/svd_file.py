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
``nulls/shuffled_spectra``          (R, n)      singular values of R surrogate copies in time (attr ``nulls``
                                                ``surrogate``: shuffle, or roll; analysis/svd.py)
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
``components/index``                (k,)        compact files only: each component's number in the full svd
``controls/directions``             (C, D)      compact files only: unit random directions in the span of the
                                                recorded rows, for ablation controls (float16)
``controls/net_contribution``       (C,)        compact files only: direction . (theta_final - theta_0)
==================================  ==========  ====================================================

A compact file (``misgen svd-compact``) keeps a few components of a full one (the earliest and latest above the
shuffle null), loadings and time profiles in float16, no ``mean``, and the random control directions ablation
draws from the recording, so that ``misgen ablate`` works from a model zip alone. Its attr ``model_sha256``
(:func:`parameter_fingerprint` of the model it was made for) pairs it with that model.

Every numeric dataset carries HDF5's Fletcher-32 checksum. Attrs: ``misgen_svd_format``, ``method``, ``stream``, ``centred``, ``steps`` (the --steps spec), ``source``
(recording path), ``source_config`` (the run's config JSON), ``source_complete``, ``source_rows``,
``n_params``, ``split`` and ``split_parts`` (the recording's split, "" and [] without one), ``nulls`` (JSON of
:class:`analysis.nulls.NullSummary`), ``reconstruction`` (JSON list of {rank, return, goal_rate, ...} or absent), ``model_sha256`` (compact files only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from misgen.errors import MisgenError, one_line
from misgen.schema import (CHECKSUM, FLOAT, INTEGER, STRING, Attr, Dataset, check_datasets, note_unchecked,
                           open_hdf5, read_attrs, read_dataset)

FORMAT_VERSION = 1
ARRAYS = ("singular_values", "time_profiles", "loadings", "spectrum", "steps_used", "rows_used", "timesteps_used")
COMPONENT_ARRAYS = ("time_center", "time_spread", "time_center_timesteps", "time_spread_timesteps", "position",
                    "net_contribution", "net_fraction", "layer_mass", "unit_mass")
GROUP_ARRAYS = ("layer_sizes", "unit_layer", "unit_index", "unit_sizes")
OPTIONAL_COMPONENT_ARRAYS = ("split_shares",)
JSON_ATTRS = ("nulls", "reconstruction", "source_config", "split_parts")
ATTRS = [Attr("method", "str"), Attr("stream", "str"), Attr("centred", "bool"), Attr("steps", "str"),
         Attr("source", "str"), Attr("source_config", "json_dict"), Attr("source_complete", "bool"),
         Attr("source_rows", "int"), Attr("n_params", "int"), Attr("nulls", "json_dict"),
         Attr("split", "str", optional=True), Attr("split_parts", "json_list", optional=True),
         Attr("reconstruction", "json_list", optional=True), Attr("model_sha256", "str", optional=True),
         Attr("misgen_svd_format", "int")]
SURROGATES = ("shuffle", "roll")  # what a null band's copies are (attr nulls' surrogate; analysis/svd.py)
NULL_KEYS = ("n_above_shuffle", "n_above_mp", "n_above_5pct", "n_above_10pct", "n_above_15pct", "effective_rank")


def report_directory(path: Path) -> Path:
    """Where the report of the svd file ``path`` goes: ``report/<stem>/`` beside it, its own for every svd file."""
    return path.parent / "report" / path.stem


def parameter_fingerprint(theta: np.ndarray) -> str:
    """SHA-256 of a parameter vector as float32 bytes: which model a compact svd file belongs to."""
    return hashlib.sha256(np.ascontiguousarray(theta, dtype=np.float32).tobytes()).hexdigest()


def layout(split_parts: list[str]) -> list[Dataset]:
    """The datasets of an svd file (the table above)."""
    shapes = {"singular_values": ("k",), "time_profiles": ("k", "T_used"), "loadings": ("k", "D"),
              "spectrum": ("n",), "steps_used": ("T_used",), "rows_used": ("T_used",), "timesteps_used": ("T_used",)}
    component_shapes = {"layer_mass": ("k", "L"), "unit_mass": ("k", "U")}
    return ([Dataset(name, shapes[name], INTEGER if name.endswith("_used") else FLOAT) for name in ARRAYS]
            + [Dataset("mean", ("D",), FLOAT, optional=True), Dataset("nulls/shuffled_spectra", ("R", "n_null"), FLOAT)]
            + [Dataset(f"components/{name}", component_shapes.get(name, ("k",)), FLOAT) for name in COMPONENT_ARRAYS]
            + [Dataset("components/label", ("k",), STRING),
               Dataset("components/split_shares", ("k", len(split_parts)), FLOAT, optional=not split_parts),
               Dataset("groups/layers", ("L",), STRING), Dataset("groups/layer_sizes", ("L",), INTEGER),
               Dataset("groups/unit_layer", ("U",), INTEGER), Dataset("groups/unit_index", ("U",), INTEGER),
               Dataset("groups/unit_sizes", ("U",), INTEGER),
               Dataset("components/index", ("k",), INTEGER, optional=True),
               Dataset("controls/directions", ("C", "D"), FLOAT, optional=True),
               Dataset("controls/net_contribution", ("C",), FLOAT, optional=True)])


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
    controls: dict[str, np.ndarray] = field(default_factory=dict)  # compact files: directions, net_contribution

    @property
    def k(self) -> int:
        return len(self.arrays["singular_values"])

    @property
    def compact(self) -> bool:
        return "model_sha256" in self.attrs

    @property
    def numbers(self) -> list[int]:
        """Each component's number in the full svd (its index, unless the file is compact)."""
        return self.components["index"].tolist() if self.compact else list(range(self.k))

    def save(self, path: Path) -> None:
        tmp = Path(path).with_name(Path(path).name + ".partial")
        with h5py.File(tmp, "w") as f:
            for name, values in self.arrays.items():
                f.create_dataset(name, data=values, **CHECKSUM)
            f.create_dataset("nulls/shuffled_spectra", data=self.shuffled_spectra, **CHECKSUM)
            for name, values in self.components.items():
                f.create_dataset(f"components/{name}", data=values, **CHECKSUM)
            f.create_dataset("components/label", data=np.array(self.labels, dtype=h5py.string_dtype()))
            f.create_dataset("groups/layers", data=np.array(self.layers, dtype=h5py.string_dtype()))
            for name, values in self.groups.items():
                f.create_dataset(f"groups/{name}", data=values, **CHECKSUM)
            for name, values in self.controls.items():
                f.create_dataset(f"controls/{name}", data=values, **CHECKSUM)
            f.attrs["misgen_svd_format"] = FORMAT_VERSION
            for name, value in self.attrs.items():
                f.attrs[name] = json.dumps(value) if isinstance(value, (dict, list)) else value
        tmp.replace(path)  # never leave a half-written svd.h5 under the final name

    @classmethod
    def load(cls, path: Path) -> "SVDFile":
        """Read and validate an svd file against :func:`layout` and :data:`ATTRS`; any deviation raises one
        :class:`MisgenError` naming the file and the field."""
        path = Path(path)
        with open_hdf5(path, "svd file") as f:
            if f.attrs.get("misgen_svd_format") != FORMAT_VERSION:
                raise MisgenError(f"{path}: not a misgen svd file (format {f.attrs.get('misgen_svd_format')!r}, "
                                  f"expected {FORMAT_VERSION})")
            try:
                attrs = {"split": "", "split_parts": [], **read_attrs(f, path, ATTRS)}  # early files lack a split
                if not all(isinstance(part, str) for part in attrs["split_parts"]):
                    raise MisgenError(f"{path}: attr 'split_parts' must list strings")
                sizes = check_datasets(f, path, layout(attrs.get("split_parts", [])))
                note_unchecked(f, path)
                read = lambda name: read_dataset(f[name], path)  # noqa: E731
                arrays = {name: read(name) for name in ARRAYS + (("mean",) if "mean" in f else ())}
                components = {name: read(f"components/{name}") for name in COMPONENT_ARRAYS
                              + OPTIONAL_COMPONENT_ARRAYS + ("index",) if f"components/{name}" in f}
                decode = lambda values: [v.decode() if isinstance(v, bytes) else str(v) for v in values]  # noqa: E731
                svd = cls(arrays, read("nulls/shuffled_spectra"), components, decode(f["components/label"][:]),
                          decode(f["groups/layers"][:]), {name: read(f"groups/{name}") for name in GROUP_ARRAYS},
                          attrs, {name: read(f"controls/{name}") for name in ("directions", "net_contribution")
                                  if f"controls/{name}" in f})
            except (OSError, KeyError, ValueError, TypeError) as error:  # HDF5 failing to read what it listed
                raise MisgenError(f"{path}: corrupt or incomplete svd file ({one_line(error)})") from None
        svd._check(path, sizes)
        return svd

    def _check(self, path: Path, sizes: dict[str, int]) -> None:
        """Rules across fields that the layout's shapes cannot state."""
        if self.attrs["n_params"] != sizes["D"]:
            raise MisgenError(f"{path}: attr 'n_params' is {self.attrs['n_params']}, dataset 'loadings' has "
                              f"{sizes['D']} columns")
        if "mean" in self.arrays and self.arrays["mean"].shape != (sizes["D"],):
            raise MisgenError(f"{path}: dataset 'mean' has shape {self.arrays['mean'].shape}, expected ({sizes['D']},)")
        held = {"components/index": "index" in self.components, "controls/directions": "directions" in self.controls,
                "controls/net_contribution": "net_contribution" in self.controls, "attr 'model_sha256'": self.compact}
        if any(held.values()) and not all(held.values()):
            raise MisgenError(f"{path}: a compact svd file holds {', '.join(held)}; this one lacks "
                              f"{', '.join(name for name, present in held.items() if not present)}")
        if self.compact:
            if self.arrays["loadings"].dtype != np.float16 or "mean" in self.arrays:
                raise MisgenError(f"{path}: a compact svd file stores float16 loadings and no 'mean'")
            numbers = self.components["index"]
            if not len(numbers) or len(set(numbers.tolist())) != len(numbers) or not 0 <= numbers.min() \
                    or numbers.max() >= sizes["n"]:
                raise MisgenError(f"{path}: dataset 'components/index' must hold distinct numbers in 0..{sizes['n'] - 1}")
            if not np.all(np.isfinite(self.controls["directions"])):
                raise MisgenError(f"{path}: dataset 'controls/directions' holds NaN or infinite values")
        elif bool(self.attrs["centred"]) != ("mean" in self.arrays):
            raise MisgenError(f"{path}: attr 'centred' is {self.attrs['centred']} but dataset 'mean' is "
                              f"{'present' if 'mean' in self.arrays else 'missing'}")
        if sizes["n"] < sizes["k"]:
            raise MisgenError(f"{path}: dataset 'spectrum' holds {sizes['n']} values, fewer than the {sizes['k']} "
                              f"components")
        values = self.arrays["singular_values"]
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise MisgenError(f"{path}: dataset 'singular_values' must be finite and non-negative")
        for name in ("time_profiles", "loadings"):
            if not np.all(np.isfinite(self.arrays[name])):
                raise MisgenError(f"{path}: dataset {name!r} holds NaN or infinite values")
        if not set(self.labels) <= {"early", "late"}:
            raise MisgenError(f"{path}: dataset 'components/label' holds {sorted(set(self.labels) - {'early', 'late'})}"
                              f", expected early or late")
        if int(self.groups["layer_sizes"].sum()) != sizes["D"]:
            raise MisgenError(f"{path}: dataset 'groups/layer_sizes' sums to {int(self.groups['layer_sizes'].sum())}, "
                              f"not the {sizes['D']} parameters")
        unit_layer = self.groups["unit_layer"]
        if len(unit_layer) and (unit_layer.min() < 0 or unit_layer.max() >= sizes["L"]):
            raise MisgenError(f"{path}: dataset 'groups/unit_layer' points past the {sizes['L']} layers")
        nulls = self.attrs["nulls"]
        for key in NULL_KEYS:
            if not isinstance(nulls.get(key), (int, float)) or isinstance(nulls.get(key), bool):
                raise MisgenError(f"{path}: attr 'nulls' has no number {key!r}")
        nulls.setdefault("surrogate", "shuffle")  # files written before the roll null had shuffled copies only
        if nulls["surrogate"] not in SURROGATES:
            raise MisgenError(f"{path}: attr 'nulls': surrogate {nulls['surrogate']!r} is not one of "
                              f"{', '.join(SURROGATES)}")
        if not 0 <= nulls["n_above_shuffle"] <= sizes["n"]:
            raise MisgenError(f"{path}: attr 'nulls': n_above_shuffle {nulls['n_above_shuffle']} is outside 0.."
                              f"{sizes['n']}")
        if self.attrs["source_rows"] < sizes["T_used"]:
            raise MisgenError(f"{path}: attr 'source_rows' is {self.attrs['source_rows']}, fewer than the "
                              f"{sizes['T_used']} steps used")

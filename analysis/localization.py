"""Where in time and where in the network each SVD component lives.

- **Time**: a time profile u (unit vector over the steps used) puts weight (u_t - median u)^2 on step t. (Centring
  gives a component that is active only for a while a flat offset over the whole run; measured from the
  median, that offset does not pull its centre towards the middle.) The centre of mass and spread are given in
  optimizer steps and in environment timesteps; ``position`` is the centre as a fraction of the recorded range,
  and the component is labelled ``early`` below 0.5, ``late`` from 0.5.
- **Network**: a loading vector v (unit norm) puts mass v_i^2 on parameter i; masses add up to 1. Groups are
  layers (a module's weight and bias: ``features_extractor.stage2.res1.conv0``) and units (one output channel
  of a conv, one output of a linear layer: ``...conv0[7]``). Enrichment is mass over the size-proportional
  expectation (group size / D): 1 means no preference.
- **Contribution**: the signed projection of theta_final - theta_0 on v, and its share of
  ||theta_final - theta_0||^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from misgen.recording import ParamTable


def layer_name(param_name: str) -> str:
    """The module a parameter belongs to: its name without ``.weight`` / ``.bias``."""
    return param_name.rsplit(".", 1)[0] if param_name.endswith((".weight", ".bias")) else param_name


@dataclass(frozen=True)
class Groups:
    """Layers and units of a parameter table."""

    layers: list[str]
    layer_sizes: np.ndarray  # (L,) parameters per layer
    unit_layer: np.ndarray  # (U,) layer index of each unit
    unit_index: np.ndarray  # (U,) output index within its layer
    unit_sizes: np.ndarray  # (U,) parameters per unit

    @classmethod
    def from_params(cls, params: ParamTable) -> "Groups":
        outputs: dict[str, int] = {}  # layer -> output units, in parameter order
        sizes: dict[str, int] = {}
        for name, shape in zip(params.names, params.shapes):
            layer = layer_name(name)
            outputs.setdefault(layer, shape[0] if shape else 1)
            sizes[layer] = sizes.get(layer, 0) + int(np.prod(shape))
        layers = list(outputs)
        return cls(
            layers, np.array([sizes[layer] for layer in layers]),
            np.concatenate([np.full(outputs[layer], i) for i, layer in enumerate(layers)]),
            np.concatenate([np.arange(outputs[layer]) for layer in layers]),
            np.concatenate([np.full(outputs[layer], sizes[layer] // outputs[layer]) for layer in layers]),
        )

    def unit_name(self, unit: int) -> str:
        return f"{self.layers[self.unit_layer[unit]]}[{self.unit_index[unit]}]"


def masses(loadings: np.ndarray, params: ParamTable, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    """Loading mass per layer (k, L) and per unit (k, U)."""
    k = len(loadings)
    layer_mass = np.zeros((k, len(groups.layers)))
    unit_mass = np.zeros((k, len(groups.unit_layer)))
    unit_start = {layer: int(np.flatnonzero(groups.unit_layer == i)[0]) for i, layer in enumerate(groups.layers)}
    for name, shape in zip(params.names, params.shapes):
        layer = layer_name(name)
        squared = loadings[:, params.columns(name)].astype(np.float64) ** 2
        outputs = shape[0] if shape else 1
        per_unit = squared.reshape(k, outputs, -1).sum(axis=2)
        start = unit_start[layer]
        unit_mass[:, start:start + outputs] += per_unit
        layer_mass[:, groups.layers.index(layer)] += per_unit.sum(axis=1)
    return layer_mass, unit_mass


@dataclass(frozen=True)
class Localization:
    time_center: np.ndarray  # (k,) optimizer steps
    time_spread: np.ndarray  # (k,) optimizer steps
    time_center_timesteps: np.ndarray  # (k,) environment steps
    time_spread_timesteps: np.ndarray  # (k,)
    position: np.ndarray  # (k,) centre as a fraction of the recorded range
    label: list[str]  # early | late
    net_contribution: np.ndarray  # (k,) v . (theta_final - theta_0)
    net_fraction: np.ndarray  # (k,) share of ||theta_final - theta_0||^2
    layer_mass: np.ndarray  # (k, L)
    unit_mass: np.ndarray  # (k, U)
    groups: Groups

    def layer_enrichment(self) -> np.ndarray:
        return self.layer_mass / (self.groups.layer_sizes / self.groups.layer_sizes.sum())

    def unit_enrichment(self) -> np.ndarray:
        return self.unit_mass / (self.groups.unit_sizes / self.groups.unit_sizes.sum())

    def top_groups(self, component: int, n_layers: int = 3, n_units: int = 5) -> dict:
        """The layers and units holding most of a component's loading mass, with their enrichment."""
        layers = np.argsort(self.layer_mass[component])[::-1][:n_layers]
        units = np.argsort(self.unit_mass[component])[::-1][:n_units]
        layer_enrichment, unit_enrichment = self.layer_enrichment()[component], self.unit_enrichment()[component]
        return {
            "layers": [{"name": self.groups.layers[i], "mass": round(float(self.layer_mass[component, i]), 4),
                        "enrichment": round(float(layer_enrichment[i]), 2)} for i in layers],
            "units": [{"name": self.groups.unit_name(i), "mass": round(float(self.unit_mass[component, i]), 4),
                       "enrichment": round(float(unit_enrichment[i]), 2)} for i in units],
        }


def time_weights(time_profiles: np.ndarray) -> np.ndarray:
    """(k, T) where in time each component acted: its profile's squared deviation from the profile's median,
    each row summing to 1. The time centre is their mean; their cumulative sum is the share accrued by each row."""
    profiles = time_profiles.astype(np.float64)
    weights = (profiles - np.median(profiles, axis=1, keepdims=True)) ** 2
    return weights / weights.sum(axis=1, keepdims=True)


def _centre_and_spread(weights: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = weights @ times
    spread = np.sqrt(np.clip(weights @ times ** 2 - centre ** 2, 0, None))
    return centre, spread


def localize(time_profiles: np.ndarray, loadings: np.ndarray, steps: np.ndarray, timesteps: np.ndarray,
             params: ParamTable, theta_delta: np.ndarray) -> Localization:
    """Localize components given the optimizer steps and env timesteps of the rows used, and
    theta_final - theta_0."""
    weights = time_weights(time_profiles)
    centre, spread = _centre_and_spread(weights, steps.astype(np.float64))
    centre_t, spread_t = _centre_and_spread(weights, timesteps.astype(np.float64))
    span = max(float(steps[-1] - steps[0]), 1.0)
    position = (centre - steps[0]) / span
    contribution = loadings.astype(np.float64) @ theta_delta.astype(np.float64)
    total = float(theta_delta.astype(np.float64) @ theta_delta) or 1.0
    groups = Groups.from_params(params)
    layer_mass, unit_mass = masses(loadings, params, groups)
    return Localization(centre, spread, centre_t, spread_t, position,
                        ["early" if p < 0.5 else "late" for p in position], contribution, contribution ** 2 / total,
                        layer_mass, unit_mass, groups)

"""What ``misgen ablate`` measures and writes: ablated vs original vs controls, in one report directory.

An ablation report is one directory (``runs/NAME/ablations/<name>/``, or ``--out DIR``):

    report.md               the tables below, for reading
    ablation.json           every number (keys below)
    ablated.zip             the policy at strength 1 (an SB3 model that evaluate and replay accept)
    original_<variant>.h5   episode files (misgen replay) of the original policy, one per variant
    ablated_<variant>.h5    ... and of the policy at strength 1
    dose_response.png       one panel per measure, when more than one strength was asked for

ablation.json:
    run, target             the run directory and what was changed
    size                    what "matched in size" compares (directions and removed_norm, or parameters, or
                            channels and layer)
    episodes, seed          levels per policy and variant (the same level seeds for every policy), and the seed
                            of the level seeds, the control draws and sampled actions
    deterministic           greedy (true) or sampled actions
    controls                [{description, size}], one per random control (random directions in the span of the
                            recorded rows, or for groups and channels other parameters or channels)
    bulk_controls           [{description, size}], one per bulk control (components below the shuffle null;
                            component targets with --bulk-controls only, else empty)
    strengths               the strengths a measured (always including 1): a policy at strength a is
                            theta_final + a * (theta_ablated - theta_final), so 0 is the original, 1 the
                            ablation, 0.5 half of the change removed and 1.5 more than all of it
    variants                {variant: {metric: comparison}} at strength 1
    dose_response           {variant: {metric: [{"strength": a, **comparison}, ...]}}, one entry per strength
  comparison:
    original, ablated       {mean, low, high, n}: the metric over the episodes it covers, 95 % bootstrap
                            interval over levels (n 0: mean and interval null)
    ablated_minus_original  {mean, low, high}: ablated minus original, its interval from resampling levels (so
                            paired for every metric; a conditional metric is averaged over the resampled
                            episodes that meet its condition, under each policy)
    controls                {means: [one per control], mean, band: [min, max] of the controls' means}
    bulk_controls           the same for the bulk controls (means empty, mean and band null without them)
    beyond_controls         true where the ablated mean lies beyond every band present on the same side (above
                            both maxima or below both minima), false where not, null without controls
  metrics (analysis/evaluation.py): goal_reached, proxy_reached, proxy_only (region reached, goal not), return,
  goal_after_proxy (goal reached once in the region), goal_near_start (goal within 3 moves of the start),
  goal_outside_region (goal reached when it lies outside the region), goal_off_path and proxy_only_off_path (goal
  reached, and region reached without it, when the goal lies outside the region and off the one path from the start to
  the region: maze only, where going for the goal and going for the region come apart)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from analysis.evaluation import CONDITIONAL_METRICS, Evaluation, bootstrap_interval

REPORTED_METRICS = ("goal_reached", "proxy_reached", "proxy_only", "return") + CONDITIONAL_METRICS
RESAMPLES = 2000


def _per_level(evaluation: Evaluation, metric: str) -> np.ndarray:
    """One value per level, NaN where a conditional metric's condition is not met."""
    return np.array([np.nan if (v := e.metric(metric)) is None else float(v) for e in evaluation.episodes])


def paired_difference(after: Evaluation, before: Evaluation, metric: str, seed: int = 0) -> dict:
    """Mean of ``metric`` after minus before on the same levels, with a 95 % interval from resampling levels.
    A conditional metric is averaged, in each resample, over the levels that meet its condition under each
    policy; its mean is None when one policy has no such level."""
    if [e.level_seed for e in after.episodes] != [e.level_seed for e in before.episodes]:
        raise ValueError("paired_difference needs evaluations of the same levels in the same order")
    a, b = _per_level(after, metric), _per_level(before, metric)
    if np.isnan(a).all() or np.isnan(b).all():
        return {"mean": None, "low": None, "high": None}
    if metric not in CONDITIONAL_METRICS:
        low, high = bootstrap_interval(a - b, seed, RESAMPLES)
        return {"mean": float((a - b).mean()), "low": low, "high": high}
    draws = np.random.default_rng(seed).integers(0, len(a), size=(RESAMPLES, len(a)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample without a level that meets the condition
        diffs = np.nanmean(a[draws], axis=1) - np.nanmean(b[draws], axis=1)
    diffs = diffs[np.isfinite(diffs)]
    return {"mean": float(np.nanmean(a) - np.nanmean(b)), "low": float(np.percentile(diffs, 2.5)),
            "high": float(np.percentile(diffs, 97.5))}


def _band(evaluations: list[Evaluation], metric: str) -> dict:
    means = [m for c in evaluations if (m := c.summary()[metric]["mean"]) is not None]
    return {"means": means, "mean": float(np.mean(means)) if means else None,
            "band": [float(np.min(means)), float(np.max(means))] if means else None}


def beyond_bands(value: float | None, bands: list[list[float] | None]) -> bool | None:
    """Whether ``value`` lies above every band's maximum or below every band's minimum; None without a band."""
    bands = [b for b in bands if b is not None]
    if value is None or not bands:
        return None
    return all(value > high for _, high in bands) or all(value < low for low, _ in bands)


def compare(original: Evaluation, ablated: Evaluation, controls: list[Evaluation],
            bulk_controls: list[Evaluation] = (), seed: int = 0) -> dict:
    """{metric: comparison} (module docstring) for one strength on one variant."""
    out = {}
    for metric in REPORTED_METRICS:
        summary = ablated.summary()[metric]
        random_band, bulk_band = _band(controls, metric), _band(list(bulk_controls), metric)
        out[metric] = {
            "original": original.summary()[metric], "ablated": summary,
            "ablated_minus_original": paired_difference(ablated, original, metric, seed),
            "controls": random_band, "bulk_controls": bulk_band,
            "beyond_controls": beyond_bands(summary["mean"], [random_band["band"], bulk_band["band"]]),
        }
    return out


def _number(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else f"{value:+.3f}" if signed else f"{value:.3f}"


def write_report(out: Path, header: dict, results: dict) -> Path:
    """report.md, ablation.json and, for several strengths, dose_response.png in ``out``; the report's path."""
    bulk = len(header["bulk_controls"])
    lines = [f"# Ablation: {header['target']}", "",
             f"Run `{header['run']}`; {header['episodes']} episodes per policy and variant on the same level seeds "
             f"(seed {header['seed']}), {'greedy' if header['deterministic'] else 'sampled'} actions; "
             f"{len(header['controls'])} random controls of the same size"
             + (f" and {bulk} bulk controls (components below the shuffle null, the same norm removed)" if bulk
                else "") + ". Intervals are 95 % bootstrap intervals over levels; a control band is the range of "
             "the controls' means; beyond: the ablated mean lies beyond every band on the same side.", "",
             "| variant | metric | original | ablated | ablated - original | control band | bulk band | beyond |",
             "|---|---|---|---|---|---|---|---|"]
    for variant, metrics in results["variants"].items():
        for metric, m in metrics.items():
            o, a, d = m["original"], m["ablated"], m["ablated_minus_original"]
            bands = [f"{c['band'][0]:.3f} - {c['band'][1]:.3f}" if c["band"] else "-"
                     for c in (m["controls"], m["bulk_controls"])]
            interval = f" ({d['low']:+.3f}, {d['high']:+.3f})" if d["mean"] is not None else ""
            beyond = {True: "yes", False: "no", None: "-"}[m["beyond_controls"]]
            lines.append(f"| {variant} | {metric} (n {a['n']}) | {_number(o['mean'])} | {_number(a['mean'])} | "
                         f"{_number(d['mean'], True)}{interval} | {bands[0]} | {bands[1]} | {beyond} |")
    if len(results["strengths"]) > 1:
        lines += ["", "## Dose-response", "",
                  "A policy at strength a removes a times the change: theta_final + a (theta_ablated - theta_final). "
                  "Each cell: ablated (control band" + ("; bulk band" if bulk else "") + ").", "",
                  "| variant | metric | " + " | ".join(f"a = {a:g}" for a in results["strengths"]) + " |",
                  "|---|---|" + "---|" * len(results["strengths"])]
        for variant, metrics in results["dose_response"].items():
            for metric, curve in metrics.items():
                cells = [f"{_number(p['ablated']['mean'])} ({_bands_text(p)})" for p in curve]
                lines.append(f"| {variant} | {metric} | " + " | ".join(cells) + " |")
        plot_dose_response(results, out / "dose_response.png")
        lines += ["", "![dose-response](dose_response.png)"]
    lines += ["", "Episode files (`misgen replay`): " + ", ".join(
        f"`{p.name}`" for p in sorted(out.glob("*.h5"))), "", "Ablated policy (strength 1): `ablated.zip`.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    (out / "ablation.json").write_text(json.dumps({**header, **results}, indent=2) + "\n")
    return path


def _bands_text(point: dict) -> str:
    texts = [f"{b[0]:.2f}-{b[1]:.2f}" for b in (point["controls"]["band"], point["bulk_controls"]["band"]) if b]
    return "; ".join(texts) or "-"


def plot_dose_response(results: dict, path: Path) -> None:
    """One panel per behaviour measure: the ablated policy's mean against strength, per variant, with the
    controls' band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in REPORTED_METRICS if m != "return"]
    columns = -(-len(metrics) // 2)  # two rows, as many columns as the measures need
    figure, axes = plt.subplots(2, columns, figsize=(4.3 * columns, 7), sharex=True)
    for axis, metric in zip(axes.flat, metrics):
        for variant, curves in results["dose_response"].items():
            curve = curves[metric]
            strengths = [p["strength"] for p in curve]
            ablated = [np.nan if p["ablated"]["mean"] is None else p["ablated"]["mean"] for p in curve]
            line, = axis.plot(strengths, ablated, marker="o", label=variant)
            for kind, hatch in (("controls", None), ("bulk_controls", "//")):
                bands = [p[kind]["band"] or [np.nan, np.nan] for p in curve]
                axis.fill_between(strengths, [b[0] for b in bands], [b[1] for b in bands], color=line.get_color(),
                                  alpha=0.15, linewidth=0, hatch=hatch)
        axis.set_title(metric)
        axis.set_ylim(-0.02, 1.02)
        axis.set_xlabel("strength a (share of the change removed)")
    axes.flat[0].legend(title="variant (bands: random controls,\nhatched: bulk controls)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)

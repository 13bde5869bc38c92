"""Markdown and PNG report of an svd.h5: spectrum against both nulls, time profiles, loadings per layer."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from analysis.decompose import summary_json, write_json  # noqa: E402
from misgen.svd_file import SVDFile, report_directory  # noqa: E402

TOP = 12  # components shown in the time and layer plots


def plot_spectrum(svd: SVDFile, path: Path) -> None:
    spectrum = svd.arrays["spectrum"]
    nulls = svd.attrs["nulls"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ranks = np.arange(1, len(spectrum) + 1)
    ax.semilogy(ranks, spectrum, "o-", ms=3, lw=1, label="data", color="C0")
    shuffled = svd.shuffled_spectra
    if shuffled.size:
        n = shuffled.shape[1]
        ax.fill_between(np.arange(1, n + 1), shuffled.min(axis=0), shuffled.max(axis=0), color="C1", alpha=0.35,
                        label=f"time-{nulls['surrogate']} null ({shuffled.shape[0]} copies)")
    ax.axhline(nulls["mp_edge"], color="C3", ls="--", lw=1, label="Marchenko-Pastur edge")
    ax.axhline(0.1 * spectrum[0], color="0.5", ls=":", lw=1, label="10 % of largest")
    ax.set_xlabel("component")
    ax.set_ylabel("singular value")
    ax.set_title(f"{svd.attrs['stream']}, {'centred' if svd.attrs['centred'] else 'uncentred'}: "
                 f"{nulls['n_above_shuffle']} above {nulls['surrogate']}, "
                 f"{nulls['n_above_mp']} above MP")
    ax.set_xlim(0, min(len(spectrum), 200) + 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_time_profiles(svd: SVDFile, path: Path) -> None:
    k = min(TOP, svd.k)
    profiles = svd.arrays["time_profiles"][:k]
    timesteps = svd.arrays["timesteps_used"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * k + 1.5))
    limit = np.abs(profiles).max()
    ax.imshow(profiles, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest",
              extent=(timesteps[0], timesteps[-1], k - 0.5, -0.5))
    ax.set_yticks(range(k), [f"{i} ({svd.labels[i]})" for i in range(k)], fontsize=8)
    ax.scatter(svd.components["time_center_timesteps"][:k], range(k), marker="|", color="k", s=80,
               label="centre of mass")
    ax.set_xlabel("environment steps")
    ax.set_title("time profiles (rows: components)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_loadings(svd: SVDFile, path: Path) -> None:
    k = min(TOP, svd.k)
    sizes = svd.groups["layer_sizes"]
    enrichment = svd.components["layer_mass"][:k] / (sizes / sizes.sum())
    fig, ax = plt.subplots(figsize=(0.35 * len(svd.layers) + 3, 0.4 * k + 2.5))
    image = ax.imshow(np.log2(np.clip(enrichment, 1 / 64, 64)), aspect="auto", cmap="PuOr_r", vmin=-6, vmax=6,
                      interpolation="nearest")
    ax.set_xticks(range(len(svd.layers)), [name.replace("features_extractor.", "") for name in svd.layers],
                  rotation=90, fontsize=7)
    ax.set_yticks(range(k), [str(i) for i in range(k)], fontsize=8)
    ax.set_ylabel("component")
    fig.colorbar(image, ax=ax, label="log2 enrichment (mass / size share)")
    ax.set_title("loadings per layer")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(svd: SVDFile, summary: dict, directory: Path) -> Path:
    """Write spectrum.png, time_profiles.png, loadings.png and report.md into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    plot_spectrum(svd, directory / "spectrum.png")
    plot_time_profiles(svd, directory / "time_profiles.png")
    plot_loadings(svd, directory / "loadings.png")
    nulls = svd.attrs["nulls"]
    lines = [
        f"# SVD of `{svd.attrs['stream']}` ({'centred' if svd.attrs['centred'] else 'uncentred'})", "",
        f"Source: `{svd.attrs['source']}` ({svd.attrs['source_rows']} recorded steps"
        f"{'' if svd.attrs['source_complete'] else ', run not complete'}); steps used: `{svd.attrs['steps']}` "
        f"({summary['steps_used']} rows) x {svd.attrs['n_params']} parameters; method `{svd.attrs['method']}`, "
        f"{svd.k} components kept.", "",
        "| statistic | value |", "|---|---|",
        f"| components above the time-{nulls['surrogate']} null ({nulls['shuffle_repeats']} copies) | "
        f"{nulls['n_above_shuffle']} |",
        f"| components above the Marchenko-Pastur edge ({nulls['mp_edge']:.4g}) | {nulls['n_above_mp']} |",
        f"| above 5 % / 10 % / 15 % of the largest | {nulls['n_above_5pct']} / {nulls['n_above_10pct']} / "
        f"{nulls['n_above_15pct']} |",
        f"| effective rank{'' if nulls['spectrum_complete'] else ' (top components only)'} | "
        f"{nulls['effective_rank']:.1f} |",
        f"| estimated noise scale | {nulls['noise_sigma']:.3g} |", "",
        "![spectrum](spectrum.png)", "",
        "| # | singular value | time | centre (env steps) | share of theta_final - theta_0 | top layer | top unit |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in summary["components"]:
        layer, unit = c["top_layers"][0], c["top_units"][0]
        lines.append(f"| {c['index']} | {c['singular_value']:.4g} | {c['label']} ({c['position']:.2f}) | "
                     f"{c['time_center_timesteps']:.0f} | {c['net_fraction']:.3f} | {layer['name']} "
                     f"(x{layer['enrichment']}) | {unit['name']} (x{unit['enrichment']}) |")
    lines += ["", "![time profiles](time_profiles.png)", "", "![loadings per layer](loadings.png)", ""]
    if summary["components"] and "split_shares" in summary["components"][0]:
        parts = svd.attrs["split_parts"]
        approximate = (" For a decomposition of `updates` the shares are an approximation: Adam's step is not linear "
                       "in the gradient." if svd.attrs["stream"] == "updates" else "")
        lines += [f"## Shares per part of the `{svd.attrs['split']}` split", "",
                  "How much of each component's time course the transitions of each part produced "
                  "(analysis/split_shares.py); each row sums to 1, a negative share pushes against the component."
                  + approximate, "",
                  "| # | " + " | ".join(parts) + " |", "|---|" + "---|" * len(parts)]
        for c in summary["components"]:
            lines.append(f"| {c['index']} | " + " | ".join(f"{c['split_shares'][part]:.3f}" for part in parts) + " |")
        lines.append("")
    reconstruction = svd.attrs.get("reconstruction")
    if reconstruction:
        test = reconstruction[0].get("test")
        lines += ["## Low-rank reconstruction", "",
                  "theta_0 plus the summed rank-r approximation of the updates, evaluated on the training variant"
                  + (f" and on `{test['variant']}`, where off the path to the region a goal-seeker takes the goal "
                     "and a region-seeker the region without it" if test else "") + ".", "",
                  "| rank | return (95 % CI) | goal rate | proxy rate | "
                  + ("test: goal off the path | test: region without the goal, off the path | " if test else "")
                  + "distance to theta_final (share of the change) |", "|---|---|---|---|" + ("---|---|" if test
                                                                                               else "") + "---|"]
        for r in reconstruction:
            mean_return, goal, proxy = r["return"], r["goal_rate"], r.get("proxy_rate")
            cells = [f"{mean_return['mean']:.2f} ({mean_return['low']:.2f}-{mean_return['high']:.2f})",
                     f"{goal['mean']:.2f}",
                     f"{proxy['mean']:.2f}" if proxy else "-"]
            if "test" in r:
                cells += [_rate(r["test"][metric]) for metric in ("goal_off_path", "proxy_only_off_path")]
            lines.append(f"| {r['rank']} | " + " | ".join(cells) + f" | {r['distance_to_final']:.3f} |")
    path = directory / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _rate(value: dict) -> str:
    return "-" if value["mean"] is None else f"{value['mean']:.2f} ({value['low']:.2f}-{value['high']:.2f})"


def save_with_report(svd: SVDFile, path: Path) -> tuple[dict, Path]:
    """Write ``path`` (svd.h5) and its report beside it, in ``misgen.svd_file.report_directory`` (plots,
    report.md, summary.json). Returns the summary and the report's path."""
    svd.save(path)
    summary = summary_json(svd)
    directory = report_directory(path)
    report = write_report(svd, summary, directory)
    write_json(directory / "summary.json", summary)
    return summary, report

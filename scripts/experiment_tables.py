"""The gradient-SVD experiment's tables for docs/results.md, from the files scripts/gradient_svd_experiment.py
copied (``experiment.json``, each ``svd_*/summary.json``, each ``evaluation_*.json``): nothing is computed here
that those files do not hold.

    python scripts/experiment_tables.py docs/results/gradient-svd/seed-0

Prints markdown: the agent's evaluation, the spectra against the nulls, the ablated components, and per ablation
the behaviour measures against both control bands. Last line: the verdict counts (ablations with an effect beyond
both bands on the measures each hypothesis names).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# the measures each hypothesis reads, (variant, metric)
MEASURES = [("maze-topright", "goal_reached"), ("maze-topright", "proxy_reached"),
            ("maze-topright", "goal_after_proxy"), ("maze", "goal_off_path"), ("maze", "proxy_only_off_path"),
            ("maze", "goal_near_start"), ("maze", "looped")]


def rate(value: dict | None) -> str:
    if not value or value.get("mean") is None:
        return "-"
    return f"{value['mean']:.3f} ({value['low']:.3f}-{value['high']:.3f})"


def band(values: list[float] | None) -> str:
    return "-" if not values else f"{values[0]:.3f}-{values[1]:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder

    print("| variant | cheese | region | region without the cheese (cheese outside) | off the path: cheese / "
          "region without it | loops (cheese outside) |\n|---|---|---|---|---|---|")
    for path in sorted(folder.glob("evaluation_*.json")):
        found = json.loads(path.read_text())
        outside = found["by_goal_region"]["outside"]
        off = found["by_goal_path"]["off_path"]
        print(f"| {found['variant']} | {rate(found['summary']['goal_reached'])} | "
              f"{rate(found['summary']['proxy_reached'])} | {rate(outside['proxy_only'])} | "
              f"{rate(off['goal_reached'])} / {rate(off['proxy_only'])} | {rate(outside['looped'])} |")

    print("\n| svd | rows | null | above the null | above MP edge | above 10 % of the largest | effective rank | "
          "top components (time centre as a share of training) |\n|---|---|---|---|---|---|---|---|")
    for path in sorted(folder.glob("svd_*/summary.json")):
        found = json.loads(path.read_text())
        nulls = found["nulls"]
        tops = ", ".join(f"#{c['index']} {c['label']} ({c['position']:.2f})" for c in found["components"][:5])
        print(f"| {path.parent.name} ({found['stream']}, {'centred' if found['centred'] else 'uncentred'}) | "
              f"{found['steps_used']:,} of {found['source_rows']:,} | {nulls.get('surrogate', 'shuffle')} | "
              f"{nulls['n_above_shuffle']} | "
              f"{nulls['n_above_mp']} | {nulls['n_above_10pct']} | {nulls['effective_rank']:.1f} | {tops} |")

    experiment = json.loads((folder / "experiment.json").read_text())
    print("\n| component | singular value | time centre (share / env steps) | share of the learned change | top "
          "layer (mass) | split shares outside / inside the region |\n|---|---|---|---|---|---|")
    for number, c in sorted(experiment["components"].items(), key=lambda item: int(item[0])):
        shares = c["split_shares"] or {}
        print(f"| {number} | {c['singular_value']:.4g} | {c['position']:.2f} / {c['time_center_timesteps'] / 1e6:.1f}M"
              f" | {c['net_fraction']:.4f} | {c['top_layer']} ({c['top_layer_mass']:.2f}) | "
              + (" / ".join(f"{v:.2f}" for v in shares.values()) if shares else "-") + " |")

    above = experiment.get("above_null")
    if above and above.get("inside_share"):
        import numpy as np

        position, inside = np.array(above["position"]), np.array(above["inside_share"])
        thirds = np.array_split(np.argsort(position), 3)
        print(f"\nAll {above['n']} components above the shuffle null: rank correlation of time centre and the share "
              f"of the gradient from inside the region {above['spearman_position_inside']:+.3f}; mean inside share of "
              "the earliest / middle / latest third by time centre: "
              + " / ".join(f"{inside[third].mean():.3f}" for third in thirds)
              + f"; time centres span {position.min():.2f}-{position.max():.2f} of training")

    beyond = 0
    for name, found in experiment["ablations"].items():
        size = (f"removed norm {found['removed_norm']:.3g}" if found.get("removed_norm") is not None
                else f"{found['parameters']:,} parameters")
        print(f"\n**{name}**: {found['target']}, {size}, {found['controls']} random and {found['bulk_controls']} "
              f"bulk controls, {found['episodes']} levels per variant\n")
        print("| variant | measure | original | ablated | ablated - original (95 %) | random band | bulk band | "
              "beyond both |\n|---|---|---|---|---|---|---|---|")
        for variant, metric in MEASURES:
            m = found["variants"].get(variant, {}).get(metric)
            if not m or m["original"] is None:
                continue
            d = m["difference"]
            diff = "-" if d["mean"] is None else f"{d['mean']:+.3f} ({d['low']:+.3f}, {d['high']:+.3f})"
            beyond += bool(m["beyond"])
            print(f"| {variant} | {metric} | {m['original']:.3f} | {m['ablated']:.3f} | {diff} | "
                  f"{band(m['random_band'])} | {band(m['bulk_band'])} | {'yes' if m['beyond'] else 'no'} |")
    print(f"\n{len(experiment['ablations'])} ablations; measures beyond both control bands: {beyond}")


if __name__ == "__main__":
    main()

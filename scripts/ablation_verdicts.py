"""One table of every ablation of the gradient-SVD experiment across seeds, read from each seed's
``experiment.json`` (scripts/gradient_svd_experiment.py): per ablation and seed, the change of each measure a
hypothesis reads, with its 95 % interval over paired levels, and which measures show an effect: the ablated
mean beyond both control bands (the reports' "beyond") *and* the paired interval excluding 0, since a mean can
leave a narrow band by a fraction of one level.

    python scripts/ablation_verdicts.py docs/results/gradient-svd/seed-0 docs/results/gradient-svd/seed-1

Prints markdown (a dose-response's row is its strength-1 point). Last line: how many ablations had an effect on
a hypothesis's measure, of how many.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# (column, variant, metric): H2 reads cheese-seeking once in the region, H3 region-seeking and a near cheese
COLUMNS = [("H2: cheese after the region (training)", "maze-topright", "goal_after_proxy"),
           ("H2: cheese off the path (test)", "maze", "goal_off_path"),
           ("H3: region without the cheese, off the path (test)", "maze", "proxy_only_off_path"),
           ("H3: cheese within 3 moves (test)", "maze", "goal_near_start")]


def effect(measure: dict) -> bool:
    d = measure["difference"]
    return bool(measure["beyond"]) and d["low"] is not None and (d["low"] > 0 or d["high"] < 0)


def difference(measure: dict | None) -> str:
    if not measure or measure["difference"]["mean"] is None:
        return "-"
    d = measure["difference"]
    mark = " **effect**" if effect(measure) else ""
    return f"{d['mean']:+.3f} ({d['low']:+.3f}, {d['high']:+.3f}){mark}"


def order(name: str) -> tuple:
    """early before late, then by count; group ablations and dose-responses after the component sets."""
    kind = 2 if name.startswith("dose") else 1 if "init" in name else 0
    return kind, name.replace("dose-", "").split("-")[0], len(name), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="per-seed folders holding experiment.json")
    folders = parser.parse_args().folders
    if len({folder.name for folder in folders}) < len(folders):
        parser.error("the folders' names label the seeds: give folders with distinct names")

    experiments = {folder.name: json.loads((folder / "experiment.json").read_text()) for folder in folders}
    names = sorted({name for e in experiments.values() for name in e["ablations"]}, key=order)
    print("| ablation | seed | removed (time centre) | removed norm | " + " | ".join(c[0] for c in COLUMNS)
          + " | every measure with an effect |\n|---|---|---|---|" + "---|" * len(COLUMNS) + "---|")
    moved = total = 0
    for name in names:
        for seed, experiment in experiments.items():
            found = experiment["ablations"].get(name)
            if found is None:
                continue
            components = experiment["components"]
            removed = ", ".join(f"#{c} ({components[str(c)]['position']:.2f})" for c in found["components"]) \
                if found["components"] else found["target"]
            effects = sorted(f"{variant} {metric}" for variant, metrics in found["variants"].items()
                             for metric, m in metrics.items() if effect(m))
            cells = [difference(found["variants"].get(variant, {}).get(metric)) for _, variant, metric in COLUMNS]
            total += 1
            moved += any("effect" in cell for cell in cells)
            print(f"| {name} | {seed} | {removed} | {found['removed_norm'] or 0:.3g} | " + " | ".join(cells)
                  + f" | {', '.join(effects) or 'none'} |")
    print(f"\nablations with an effect on a hypothesis's measure: {moved} of {total}")


if __name__ == "__main__":
    main()

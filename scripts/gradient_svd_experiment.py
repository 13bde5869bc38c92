"""The gradient-SVD experiment on one recorded run: evaluations, decompositions, ablations and dose-responses.

Every step is a ``misgen`` command, printed before it runs, so that each number in docs/results.md has its
command; a step whose output exists is not run again (an interrupted experiment continues where it stopped).
What a reader needs (JSON, reports, plots; no recording, svd.h5 or episode file) is copied to ``--out``:

    evaluation_<variant>.json            misgen evaluate of the final policy, 1,000 levels --seed 0
    run_config.json, learning_curve.png, progress.csv   the run's config.json, learning curve and training log
    svd_<name>/                          misgen svd's report directory (summary.json, report.md, plots)
    ablations/<name>/                    misgen ablate's report (ablation.json, report.md, dose_response.png,
                                         visits_*_maze.png)
    experiment.json                      the ablated components' properties and every ablation's measures
                                         against both control bands, gathered from the files above

The steps, in the order they run (``--only`` picks some by name):

    evaluate             the final policy on the training distribution and the test variant
    svd-updates          centred svd of every updates row, with the time-shuffle null
    ablate-early-N, ablate-late-N   the N earliest / latest components above the null (N = 1, 3, 10), each
                         against random controls in the update span and bulk controls below the null
    ablate-units         the layer and the unit the earliest and the latest component load on most, reset to
                         theta_0 (controls: as many other parameters, or other units of the layer)
    dose-early, dose-late    the earliest and latest single component at strengths 0 to 1.5
    maps                 visitation maps on maze of the original and the ablated policy (earliest, latest)
    svd-updates-roll     centred, against the circular-shift null (each parameter's own smoothness kept)
    svd-updates-uncentred    every updates row uncentred, with the rank-1/5/20/50 reconstructions played
    svd-updates-late90   centred, without the first tenth of the rows (do early updates dominate?)
    svd-grads, svd-grads-uncentred   the same for the gradients

    python scripts/gradient_svd_experiment.py runs/NAME --out docs/results/gradient-svd/seed-0 [--only ...]

Last line: the late component's effect on the test variant's off-path cheese rate, beside both control bands.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

MISGEN = str(Path(sys.executable).parent / "misgen")
COUNTS = (1, 3, 10)  # earliest / latest components ablated together
STRENGTHS = "0,0.25,0.5,0.75,1,1.5"
KEEP = (".json", ".md", ".png")  # what goes to --out: no recordings, svd files or episode files
RUN_FILES = {"config.json": "run_config.json", "learning_curve.png": "learning_curve.png",
             "logs/progress.csv": "progress.csv"}  # copied from the run by the evaluate step


def run(argv: list[str], stdout: Path | None = None) -> None:
    print("$ misgen " + " ".join(argv[1:]) + (f" > {stdout}" if stdout else ""), flush=True)
    with open(stdout, "w") if stdout else open("/dev/null", "w") as sink:
        result = subprocess.run(argv, stdout=sink if stdout else None, text=True)
    if result.returncode:
        if stdout:
            stdout.unlink()
        sys.exit(f"gradient_svd_experiment.py: the step above failed (exit {result.returncode})")


def copy_report(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.suffix in KEEP:
            shutil.copy2(path, target / path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run directory with a recording of grads and updates")
    parser.add_argument("--out", type=Path, required=True, help="where the reports are copied")
    parser.add_argument("--episodes", type=int, default=1000, help="levels per policy and variant")
    parser.add_argument("--dose-episodes", type=int, default=500)
    parser.add_argument("--controls", type=int, default=10, help="random controls, and as many bulk controls")
    parser.add_argument("--k", type=int, default=1700, help="components kept by the centred svd of the updates: "
                        "enough below the shuffle null for the bulk controls (the cpu preset's seed 0 has 1,576 above "
                        "it, so 1,700 keep 124 below)")
    parser.add_argument("--shuffles", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated step names (default: every step)")
    args = parser.parse_args()
    run_dir, out = args.run, args.out
    only = set(filter(None, args.only.split(",")))
    wanted = lambda name: not only or name in only  # noqa: E731
    out.mkdir(parents=True, exist_ok=True)
    common = ["--n-envs", "16", "--seed", "0"]

    if wanted("evaluate"):
        for name, kept in RUN_FILES.items():  # what the run was and how it trained, beside its evaluations
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, out / kept)
        variants = {"maze-topright": [], "maze": ["--variant", "maze"]}
        for variant, option in variants.items():
            target = out / f"evaluation_{variant}.json"
            if not target.exists():
                run([MISGEN, "evaluate", str(run_dir), *option, "--episodes", str(args.episodes), "--seed", "0",
                     "--json"], stdout=target)

    def svd(name: str, *options: str) -> Path:
        path = run_dir / f"svd_{name}.h5"
        if not path.exists():
            run([MISGEN, "svd", str(run_dir), "--out", str(path), "--shuffles", str(args.shuffles), *options])
        copy_report(run_dir / "report" / path.stem, out / path.stem)
        return path

    def ablate(name: str, *options: str, episodes: int = args.episodes) -> None:
        directory = run_dir / "ablations" / name
        if not (directory / "ablation.json").exists():
            if directory.exists():  # an interrupted attempt of this script's
                print(f"removing the incomplete {directory}")
                shutil.rmtree(directory)
            run([MISGEN, "ablate", str(run_dir), "--name", name, "--episodes", str(episodes),
                 "--controls", str(args.controls), *common, *options])
        copy_report(directory, out / "ablations" / name)

    needs_centred = not only or any(name.startswith(("svd-updates", "ablate", "dose")) for name in only)
    centred = svd("updates", "--stream", "updates", "--k", str(args.k), "--reconstruct", "none") \
        if needs_centred else None
    with_bulk = ["--svd", str(centred), "--bulk-controls", str(args.controls)] if centred else []
    for count in COUNTS:
        for when in ("early", "late"):
            if wanted(f"ablate-{when}-{count}"):
                ablate(f"{when}-{count}", f"--{when}", str(count), *with_bulk)
    if wanted("ablate-units"):
        for when in ("early", "late"):
            for group in target_groups(centred, when):
                ablate(f"{when}-1-{group.replace(':', '-').rsplit('.', 1)[-1]}-init", "--group", group,
                       "--mode", "init")
    for when in ("early", "late"):
        if wanted(f"dose-{when}"):
            ablate(f"dose-{when}-1", f"--{when}", "1", "--strength", STRENGTHS, *with_bulk,
                   episodes=args.dose_episodes)
    if wanted("svd-updates-roll"):
        svd("updates_roll", "--stream", "updates", "--k", "50", "--null", "roll", "--reconstruct", "none")
    if wanted("svd-updates-uncentred"):
        svd("updates_uncentred", "--stream", "updates", "--no-center", "--k", "50", "--reconstruct", "1,5,20,50",
            "--episodes", str(args.episodes))
    if wanted("svd-updates-late90"):
        svd("updates_late90", "--stream", "updates", "--k", "50", "--reconstruct", "none", "--steps",
            f"range:{tenth_step(run_dir)}:{2**62}")
    if wanted("svd-grads"):
        svd("grads", "--stream", "grads", "--k", "50", "--reconstruct", "none")
    if wanted("svd-grads-uncentred"):
        svd("grads_uncentred", "--stream", "grads", "--no-center", "--k", "50", "--reconstruct", "none")

    if wanted("maps"):
        for name in ("early-1", "late-1"):
            directory = run_dir / "ablations" / name
            for policy in ("original", "ablated"):
                target = out / "ablations" / name / f"visits_{policy}_maze.png"
                if directory.exists() and not target.exists():
                    run([MISGEN, "replay", str(directory / f"{policy}_maze.h5"), "--all", "--map", str(target)])
    if centred and (out / "ablations").exists():
        write_summary(centred, out)

    late = out / "ablations" / "late-1" / "ablation.json"
    if late.exists():
        m = json.loads(late.read_text())["variants"]["maze"]["goal_off_path"]
        bands = [m[kind]["band"] for kind in ("controls", "bulk_controls")]
        show = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"late component, maze off-path cheese: original {show(m['original']['mean'])}, ablated "
              f"{show(m['ablated']['mean'])}, random band {bands[0]}, bulk band {bands[1]}, beyond both: "
              f"{m['beyond_controls']}")


def write_summary(svd_path: Path, out: Path) -> None:
    """``experiment.json``: the components each ablation removed (singular value, time centre, top layer, split
    shares) and, per ablation and variant, the behaviour measures against both control bands."""
    from analysis.ablation import bulk_components
    from misgen.svd_file import SVDFile

    svd = SVDFile.load(svd_path)
    summary = {"svd": {key: svd.attrs[key] for key in ("stream", "centred", "source_rows", "nulls")},
               "components": {}, "ablations": {}}
    for report in sorted((out / "ablations").glob("*/ablation.json")):
        found = json.loads(report.read_text())
        numbers = [int(n) for n in found["target"].split("[", 1)[1].split("]")[0].split(",")] \
            if found["target"].startswith("components") else []
        for c in numbers:
            summary["components"][str(c)] = {
                "singular_value": float(svd.arrays["singular_values"][c]),
                "position": float(svd.components["position"][c]),
                "time_center_timesteps": float(svd.components["time_center_timesteps"][c]),
                "net_fraction": float(svd.components["net_fraction"][c]),
                "top_layer": svd.layers[int(svd.components["layer_mass"][c].argmax())],
                "top_layer_mass": float(svd.components["layer_mass"][c].max()),
                "split_shares": dict(zip(svd.attrs["split_parts"], map(float, svd.components["split_shares"][c])))
                if "split_shares" in svd.components else None}
        summary["ablations"][report.parent.name] = {
            "target": found["target"], "components": numbers, "removed_norm": found["size"].get("removed_norm"),
            "parameters": found["size"].get("parameters"),  # a group's size (its controls: as many parameters)
            "controls": len(found["controls"]), "bulk_controls": len(found.get("bulk_controls", [])),
            "episodes": found["episodes"], "strengths": found["strengths"],
            "variants": {variant: {metric: {"original": m["original"]["mean"], "ablated": m["ablated"]["mean"],
                                            "difference": m["ablated_minus_original"],
                                            "random_band": m["controls"]["band"],
                                            "bulk_band": m.get("bulk_controls", {}).get("band"),
                                            "beyond": m.get("beyond_controls")}
                                   for metric, m in metrics.items()}
                         for variant, metrics in found["variants"].items()}}
    summary["bulk_components_kept"] = len(bulk_components(svd))
    above = min(int(svd.attrs["nulls"]["n_above_shuffle"]), svd.k)
    if "split_shares" in svd.components and above > 2:  # H1 over every component above the null
        parts = list(svd.attrs["split_parts"])
        inside = svd.components["split_shares"][:above, parts.index("inside")] if "inside" in parts else None
        position = svd.components["position"][:above]
        summary["above_null"] = {
            "n": above, "position": [round(float(v), 4) for v in position],
            "inside_share": None if inside is None else [round(float(v), 4) for v in inside],
            "spearman_position_inside": None if inside is None else spearman(position, inside)}
    (out / "experiment.json").write_text(json.dumps(summary, indent=2) + "\n")


def spearman(a, b) -> float:
    """Rank correlation of two equally long sequences (ties broken by order: positions and shares are floats)."""
    import numpy as np

    ranks = [np.argsort(np.argsort(np.asarray(x, dtype=float))) for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def target_groups(svd_path: Path, when: str) -> list[str]:
    """The layer and the unit (``layer:channel``) that the earliest or latest component above the null loads on
    most (largest loading mass); the layer only when it holds at most half of the parameters, so that as many
    others are left for its controls."""
    from analysis.ablation import select_components
    from analysis.localization import Groups
    from misgen.svd_file import SVDFile

    svd = SVDFile.load(svd_path)
    (component,) = select_components(svd, None, int(when == "early"), int(when == "late"))
    groups = Groups(svd.layers, svd.groups["layer_sizes"], svd.groups["unit_layer"], svd.groups["unit_index"],
                    svd.groups["unit_sizes"])
    layer = int(svd.components["layer_mass"][component].argmax())
    unit = int(svd.components["unit_mass"][component].argmax())
    small = 2 * groups.layer_sizes[layer] <= groups.layer_sizes.sum()
    if not small:
        print(f"{svd.layers[layer]} holds more than half of the parameters: its unit only, not the layer")
    return [svd.layers[layer]] * int(small) + [f"{groups.layers[groups.unit_layer[unit]]}:{groups.unit_index[unit]}"]


def tenth_step(run_dir: Path) -> int:
    """The optimizer step of the first row after the first tenth of the recording."""
    from misgen.recording import Recording

    with Recording(run_dir) as recording:
        return int(recording.steps("step")[recording.n_rows // 10])


if __name__ == "__main__":
    main()

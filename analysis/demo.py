"""``misgen demo``: the whole method, small enough for a laptop CPU, ending in a report of what it measured.

Read top to bottom: train on maze-topright with every-step recording -> SVD of the updates against both nulls
-> ablate the earliest and the latest component with random controls, evaluating on maze-topright (training
distribution) and maze (cheese anywhere) -> replay episodes of the original and the ablated agent side by side ->
report.md. Every number in the report is read from the files this run wrote; every link points to one of them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

TRAIN_VARIANT, TEST_VARIANT = "maze-topright", "maze"
STAGES = 5  # train, svd, two ablations, replay
SUPERLATIVE = {"early": "earliest", "late": "latest"}


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the demo, chosen to finish within 10 minutes on 2 CPU cores."""

    timesteps: int = 200_000  # env steps of training (quick preset: 2,048 per rollout, 12 optimizer steps each)
    components: int = 12  # SVD components kept
    shuffles: int = 3  # time-shuffled copies for the null band
    controls: int = 3  # random controls per ablation
    episodes: int = 60  # evaluation episodes per policy and variant (the same level seeds for all)
    replays: int = 3  # episodes replayed side by side, original vs ablated (at most ``episodes``)
    n_envs: int = 16  # parallel environments when evaluating
    seed: int = 0


DEMO = DemoPlan()


@dataclass
class Stage:
    name: str
    seconds: float


def run_demo(out: Path, plan: DemoPlan = DEMO, progress: Callable[[str], None] = print,
             show_training_progress: bool = True) -> Path:
    """Run every stage into the run directory ``out`` (which must not exist) and return the report's path."""
    plan = replace(plan, replays=min(plan.replays, plan.episodes))
    # imported here, not at the top, so that the CLI can read DEMO without loading torch and procgen
    from agents.presets import PRESETS
    from agents.train import RecordConfig, train
    from analysis import ablation
    from analysis.decompose import SVDOptions, run_svd
    from analysis.replay import replay
    from analysis.svd_report import save_with_report
    from envs.variants import EnvConfig
    from misgen.recording import Recording

    stages: list[Stage] = []

    def timed(name: str, work: Callable):
        progress(f"[{len(stages) + 1}/{STAGES}] {name}")
        start = time.perf_counter()
        value = work()
        stages.append(Stage(name, time.perf_counter() - start))
        return value

    # --- train with every-step recording --------------------------------------------------------------
    env_config = EnvConfig(variant=TRAIN_VARIANT, seed=plan.seed)
    trained = timed("training on maze-topright (quick preset, recording grads and updates, split by region)",
                    lambda: train(out, env_config, PRESETS["quick"], RecordConfig(split="region"), plan.timesteps,
                                  device="cpu", seed=plan.seed, show_progress=show_training_progress))

    # --- SVD of the updates, centred, against both nulls ------------------------------------------------
    def decompose():
        with Recording(out) as recording:
            svd, _ = run_svd(recording, SVDOptions("updates", True, "all", plan.components, "gram", None, "cpu",
                                                   plan.shuffles))
        summary, _ = save_with_report(svd, out / "svd.h5")
        return svd, summary

    svd, svd_summary = timed("SVD of the updates (centred) with Marchenko-Pastur and time-shuffle nulls", decompose)

    # --- ablate the earliest and the latest component, with random controls ----------------------------
    run = ablation.Run.load(out)
    ablations = {}
    for when in ("early", "late"):
        def ablate(when=when):
            picked = ablation.select_components(svd, None, int(when == "early"), int(when == "late"))
            target, controls = ablation.component_ablations(run, svd, picked, plan.controls, plan.seed)
            directory = out / "ablations" / f"{when}_{picked[0]}"
            results, _ = ablation.run_ablation(run, target, controls, [TRAIN_VARIANT, TEST_VARIANT],
                                               plan.episodes, plan.seed, directory, plan.n_envs, deterministic=False)
            return {"component": picked[0], "directory": directory, "results": results}

        ablations[when] = timed(f"ablating the {SUPERLATIVE[when]} component against {plan.controls} random "
                                f"controls, {plan.episodes} episodes per policy on {TRAIN_VARIANT} and "
                                f"{TEST_VARIANT}", ablate)

    # --- replay: original vs late-ablated on the test variant, and the test-variant visitation map -----
    late_dir = ablations["late"]["directory"]
    videos = out / "videos"

    def replays():
        indices = list(range(plan.replays))
        replay(late_dir / f"original_{TEST_VARIANT}.h5", indices, videos / "original_vs_late_ablated.mp4",
               size=256, compare=late_dir / f"ablated_{TEST_VARIANT}.h5")
        replay(late_dir / f"original_{TEST_VARIANT}.h5", indices[:1], videos / "original_episode0.gif", size=192)
        replay(late_dir / f"original_{TEST_VARIANT}.h5", None, map_png=videos / "visits_maze.png")
        replay(late_dir / f"original_{TRAIN_VARIANT}.h5", None, map_png=videos / "visits_maze-topright.png")

    timed(f"replaying {plan.replays} {TEST_VARIANT} episodes, original and late-ablated side by side", replays)
    return write_demo_report(out, plan, trained, svd_summary, ablations, stages)


def _rate(metric: dict) -> str:
    return f"{metric['mean']:.2f} ({metric['low']:.2f}-{metric['high']:.2f})"


def write_demo_report(out: Path, plan: DemoPlan, trained, svd_summary: dict, ablations: dict,
                      stages: list[Stage]) -> Path:
    """report.md: what was run, what it measured, links to every plot, video and file (relative to ``out``)."""
    from misgen.recording import Recording

    nulls = svd_summary["nulls"]
    with Recording(out) as recording:
        rows, width = recording.n_rows, recording.n_params
    recording_mb = (out / "recording.h5").stat().st_size / 2**20
    original = ablations["late"]["results"]["variants"]
    lines = [
        "# misgen demo", "",
        f"Measured on this machine ({os.cpu_count()} CPU cores) by `misgen demo`, in "
        f"{sum(s.seconds for s in stages) / 60:.1f} minutes. Every number below was read from the files of this run.",
        "",
        "## 1. Training", "",
        f"PPO (quick preset: small CNN, 16 envs x 128 steps) on `{TRAIN_VARIANT}` (cheese always in the top-right "
        f"5x5 region) for {trained.timesteps:,} env steps and {trained.optimizer_steps} optimizer steps. Last 100 "
        f"training episodes: return {trained.mean_return:.2f}, cheese reached {trained.goal_rate:.0%}, top-right "
        f"region reached {trained.proxy_rate:.0%}. Files: [config.json](config.json), [model.zip](model.zip), "
        "[logs/](logs/).", "",
        f"[recording.h5](recording.h5): the gradient and the update of every optimizer step, {rows} rows x "
        f"{width:,} parameters each, {recording_mb:.1f} MB.", "",
        "## 2. Behaviour: goal vs proxy", "",
        f"The trained agent, actions sampled from its policy (a small agent acting greedily often loops until the "
        f"500-step timeout), on the same {plan.episodes} level seeds per variant (95 % bootstrap intervals). "
        "On maze the cheese is anywhere, so reaching the top-right region without the cheese is the proxy.", "",
        "| variant | cheese reached | top-right region reached | return |", "|---|---|---|---|",
    ]
    for variant, metrics in original.items():
        lines.append(f"| {variant} | {_rate(metrics['goal_reached']['original'])} | "
                     f"{_rate(metrics['proxy_reached']['original'])} | {_rate(metrics['return']['original'])} |")
    lines += [
        "", f"Where the agent went: [maze-topright](videos/visits_maze-topright.png), [maze](videos/visits_maze.png) "
        "(visitation heatmaps).", "",
        "## 3. SVD of the update series", "",
        f"Centred SVD of the `updates` stream ({svd_summary['steps_used']} steps x {svd_summary['n_params']:,} "
        f"parameters, method `{svd_summary['method']}`): {nulls['n_above_shuffle']} components above the "
        f"time-shuffle null, {nulls['n_above_mp']} above the Marchenko-Pastur edge, effective rank "
        f"{nulls['effective_rank']:.1f}. Full report: [report/svd/report.md](report/svd/report.md).", "",
        "![spectrum](report/svd/spectrum.png)", "", "![time profiles](report/svd/time_profiles.png)", "",
        "The run recorded its gradient split by region (`--record-split region`: transitions with the mouse "
        "outside and inside the top-right region); each component's share per part says whose gradients moved "
        "along it (analysis/split_shares.py; for `updates` an approximation, since Adam's step is not linear in "
        "the gradient).", "",
        "| # | singular value | time (centre, 0 = first step, 1 = last) | top layer (enrichment) | share outside "
        "/ inside the region |",
        "|---|---|---|---|---|",
    ]
    for c in svd_summary["components"][:6]:
        layer, shares = c["top_layers"][0], c["split_shares"]
        lines.append(f"| {c['index']} | {c['singular_value']:.4g} | {c['label']} ({c['position']:.2f}) | "
                     f"{layer['name']} (x{layer['enrichment']}) | {shares['outside']:.2f} / {shares['inside']:.2f} |")
    lines += ["", "## 4. Ablations", "",
              "theta' = theta_final - P(theta_final - theta_0), P the projection onto the component's loading; each "
              f"control removes the same norm of change along a random direction in the span of the recorded "
              f"updates ({plan.controls} controls). Paired differences are ablated minus original on the same "
              "levels.", ""]
    for when, found in ablations.items():
        relative = found["directory"].relative_to(out)
        lines += [f"### The {SUPERLATIVE[when]} component above the null: #{found['component']}", "",
                  "| variant | metric | original | ablated | ablated - original (95 % CI) | control band | "
                  "outside the band |", "|---|---|---|---|---|---|---|"]
        for variant, metrics in found["results"]["variants"].items():
            for metric in ("goal_reached", "proxy_reached"):
                m = metrics[metric]
                diff, band = m["ablated_minus_original"], m["controls"]["band"]
                outside = "yes" if not band[0] <= m["ablated"]["mean"] <= band[1] else "no"
                lines.append(f"| {variant} | {metric} | {m['original']['mean']:.2f} | {m['ablated']['mean']:.2f} | "
                             f"{diff['mean']:+.2f} ({diff['low']:+.2f}, {diff['high']:+.2f}) | "
                             f"{band[0]:.2f}-{band[1]:.2f} | {outside} |")
        lines += ["", f"Report: [{relative}/report.md]({relative}/report.md); ablated policy: "
                  f"[{relative}/ablated.zip]({relative}/ablated.zip).", ""]
    lines += ["## 5. Replays", "",
              f"[videos/original_vs_late_ablated.mp4](videos/original_vs_late_ablated.mp4): {plan.replays} `maze` "
              "levels, the original agent (left) and the late-ablated agent (right) on the same level, re-simulated "
              "from the recorded initial state and actions and checked step by step. "
              "[videos/original_episode0.gif](videos/original_episode0.gif): the first of them as a GIF.", "",
              "## Time per stage", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {s.name} | {s.seconds:.0f} |" for s in stages]
    lines += ["", "A demo this small shows the workflow, not the science: the agent is trained for minutes on a "
              "CPU and the ablations use few episodes. The GPU workflow in the README runs the same steps at "
              "full size.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path

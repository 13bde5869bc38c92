"""``misgen demo``: the whole method on a laptop CPU, ending in a report of what it measured.

Two agents, each where it fits. A small agent trained here for a few minutes shows the workflow on data made in
front of the user: train on maze-topright with recording -> SVD of the updates against both nulls. The shipped
agent (``agents/trained/maze-topright-cpu.zip``, the ``cpu`` preset's competent agent) shows the science in
minutes: its goal-vs-proxy numbers on the training distribution and on maze (cheese anywhere), then the ablation
of the latest component of its own recorded run's SVD (the compact svd file shipped beside it) against random
controls in the update span and bulk controls below the shuffle null, then replays of its episodes, original and
ablated side by side. report.md says which agent each number belongs to; every number is read from the files
this run wrote, and every link points to one of them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

TRAIN_VARIANT, TEST_VARIANT = "maze-topright", "maze"
STAGES = 5  # train, svd, evaluate the shipped agent, ablate it, replay
ROOT = Path(__file__).resolve().parent.parent
SHIPPED_AGENT = ROOT / "agents" / "trained" / "maze-topright-cpu.zip"
SHIPPED_SVD = ROOT / "agents" / "trained" / "maze-topright-cpu.svd.h5"  # compact, from its recorded run


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the demo, chosen to finish within 10 minutes on 2 CPU cores."""

    timesteps: int = 200_000  # env steps of the small agent's training (quick preset: 2,048 per rollout)
    components: int = 12  # SVD components kept
    shuffles: int = 3  # time-shuffled copies for the null band
    levels: int = 1000  # levels per variant for the shipped agent's evaluation (greedy)
    controls: int = 2  # random controls in the ablation (the shipped compact svd holds 2 directions)
    bulk: int = 1  # bulk controls (it holds 1 component below the null, to stay under 5 MB)
    episodes: int = 200  # levels per policy and variant in the ablation (the same level seeds for all)
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
    from analysis.evaluation import evaluate, level_seeds
    from analysis.replay import replay
    from analysis.svd_report import save_with_report
    from envs.variants import EnvConfig
    from misgen.recording import Recording
    from misgen.svd_file import SVDFile

    stages: list[Stage] = []

    def timed(name: str, work: Callable):
        progress(f"[{len(stages) + 1}/{STAGES}] {name}")
        start = time.perf_counter()
        value = work()
        stages.append(Stage(name, time.perf_counter() - start))
        return value

    # --- the small agent: train with recording, then the SVD of its updates against both nulls -------------
    env_config = EnvConfig(variant=TRAIN_VARIANT, seed=plan.seed)
    trained = timed("training a small agent on maze-topright (quick preset, recording grads and updates, split "
                    "by region)",
                    lambda: train(out, env_config, PRESETS["quick"].ppo, RecordConfig(split="region"), plan.timesteps,
                                  device="cpu", seed=plan.seed, show_progress=show_training_progress))

    def decompose():
        with Recording(out) as recording:
            svd, _ = run_svd(recording, SVDOptions("updates", True, "all", plan.components, "gram", None, "cpu",
                                                   plan.shuffles))
        summary, _ = save_with_report(svd, out / "svd.h5")
        return summary

    svd_summary = timed("SVD of the small agent's updates (centred) with Marchenko-Pastur and time-shuffle nulls",
                        decompose)

    # --- the shipped agent: what it does, and what removing its latest component does ---------------------
    shipped = ablation.Agent.load(SHIPPED_AGENT)

    def measure_shipped():
        seeds = level_seeds(plan.seed, plan.levels)
        found = {}
        for variant in (TRAIN_VARIANT, TEST_VARIANT):
            config = replace(shipped.env_config, variant=variant, num_levels=0, start_level=0)
            result = evaluate(shipped.model.policy, config, seeds, n_envs=plan.n_envs, sample_seed=plan.seed)
            found[variant] = {"summary": result.summary(), "by_goal_path": result.by_goal_path()}
        (out / "shipped_agent.json").write_text(json.dumps(found, indent=2) + "\n")
        return found

    behaviour = timed(f"evaluating the shipped agent on {plan.levels} levels of {TRAIN_VARIANT} and "
                      f"{TEST_VARIANT}", measure_shipped)

    def ablate():
        svd = SVDFile.load(SHIPPED_SVD)
        ablation.check_svd_matches(shipped, svd, SHIPPED_SVD)
        picked = ablation.select_components(svd, None, 0, 1)
        target, controls = ablation.component_ablations(shipped, svd, picked, plan.controls, plan.seed,
                                                        n_bulk=plan.bulk)
        directory = out / "shipped_late_ablation"
        results, _ = ablation.run_ablation(shipped, target, controls, [TRAIN_VARIANT, TEST_VARIANT],
                                           plan.episodes, plan.seed, directory, plan.n_envs)
        return {"component": picked[0], "directory": directory, "results": results, "svd": svd}

    late = timed(f"ablating the shipped agent's latest component against {plan.controls} random and "
                 f"{plan.bulk} bulk controls, {plan.episodes} levels per policy on {TRAIN_VARIANT} and "
                 f"{TEST_VARIANT}", ablate)

    # --- replay: original vs late-ablated on the test variant, and visitation maps -------------------------
    videos = out / "videos"

    def replays():
        episodes = late["directory"]
        indices = list(range(plan.replays))
        replay(episodes / f"original_{TEST_VARIANT}.h5", indices, videos / "original_vs_late_ablated.mp4",
               size=256, compare=episodes / f"ablated_{TEST_VARIANT}.h5")
        replay(episodes / f"original_{TEST_VARIANT}.h5", indices[:1], videos / "original_episode0.gif", size=192)
        replay(episodes / f"original_{TEST_VARIANT}.h5", None, map_png=videos / "visits_maze.png")
        replay(episodes / f"ablated_{TEST_VARIANT}.h5", None, map_png=videos / "visits_maze_ablated.png")

    timed(f"replaying {plan.replays} {TEST_VARIANT} episodes of the shipped agent, original and late-ablated side "
          f"by side", replays)
    return write_demo_report(out, plan, trained, svd_summary, behaviour, late, stages)


def _rate(metric: dict) -> str:
    if metric["mean"] is None:
        return "-"
    return f"{metric['mean']:.2f} ({metric['low']:.2f}-{metric['high']:.2f})"


def _band(band: list[float] | None) -> str:
    return "-" if band is None else f"{band[0]:.2f}-{band[1]:.2f}"


def write_demo_report(out: Path, plan: DemoPlan, trained, svd_summary: dict, behaviour: dict, late: dict,
                      stages: list[Stage]) -> Path:
    """report.md: what was run, on which agent, what it measured, links to every plot, video and file."""
    from misgen.recording import Recording

    nulls = svd_summary["nulls"]
    with Recording(out) as recording:
        rows, width = recording.n_rows, recording.n_params
    recording_mb = (out / "recording.h5").stat().st_size / 2**20
    shipped = SHIPPED_AGENT.relative_to(ROOT)
    lines = [
        "# misgen demo", "",
        f"Measured on this machine ({os.cpu_count()} CPU cores) by `misgen demo`, in "
        f"{sum(s.seconds for s in stages) / 60:.1f} minutes. Every number below was read from the files of this run. "
        f"Sections 1-2 are about **a small agent trained here**, to show the workflow on data made in front of you; "
        f"sections 3-5 about **the shipped agent** `{shipped}`, the `cpu` preset's competent maze agent, to show "
        f"what the method finds on an agent that learned the task (docs/results.md has the full experiment).", "",
        "## 1. Training (the small agent)", "",
        f"PPO (quick preset: small CNN, 16 envs x 128 steps) on `{TRAIN_VARIANT}` (cheese always in the top-right "
        f"5x5 region) for {trained.timesteps:,} env steps and {trained.optimizer_steps} optimizer steps. Last 100 "
        f"training episodes: return {trained.mean_return:.2f}, cheese reached {trained.goal_rate:.0%}, top-right "
        f"region reached {trained.proxy_rate:.0%}. Files: [config.json](config.json), [model.zip](model.zip), "
        "[logs/](logs/).", "",
        f"[recording.h5](recording.h5): the gradient and the update of every optimizer step, {rows} rows x "
        f"{width:,} parameters each, {recording_mb:.1f} MB.", "",
        "## 2. SVD of the update series (the small agent)", "",
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
    lines += [
        "", "## 3. Goal vs proxy (the shipped agent)", "",
        f"`{shipped}`, greedy actions, {plan.levels} levels per variant (95 % bootstrap intervals; "
        f"[shipped_agent.json](shipped_agent.json)). On `{TEST_VARIANT}` the cheese is anywhere; where it lies off "
        "the one path from the start to the top-right 2x2 region, going for the cheese and going for the region "
        "come apart.", "",
        "| variant | cheese | region reached | cheese elsewhere, off the path: cheese | ... : region without it |",
        "|---|---|---|---|---|"]
    for variant, found in behaviour.items():
        off = found["by_goal_path"]["off_path"]
        lines.append(f"| {variant} | {_rate(found['summary']['goal_reached'])} | "
                     f"{_rate(found['summary']['proxy_reached'])} | {_rate(off['goal_reached'])} | "
                     f"{_rate(off['proxy_only'])} |")
    relative = late["directory"].relative_to(out)
    svd = late["svd"]
    position = svd.components["position"][svd.numbers.index(late["component"])]
    lines += [
        "", f"## 4. Ablation of the latest component (the shipped agent): #{late['component']}", "",
        f"The compact svd file `{SHIPPED_SVD.relative_to(ROOT)}` holds the components of the shipped agent's own "
        f"recorded run (centred `{svd.attrs['stream']}`); #{late['component']} is the latest above the time-shuffle "
        f"null (time centre at {position:.2f} of training). theta' = theta_final - P(theta_final - theta_0), P the "
        f"projection onto its loading; {plan.controls} random controls remove the same norm along a random "
        f"direction in the span of the recorded updates, {plan.bulk} bulk control(s) along a component below the "
        f"null. {plan.episodes} levels per policy and variant, greedy; paired differences are ablated minus "
        "original on the same levels.", "",
        "| variant | metric | original | ablated | ablated - original (95 % CI) | random band | bulk band | beyond "
        "both |", "|---|---|---|---|---|---|---|---|"]
    for variant, metrics in late["results"]["variants"].items():
        for metric in ("goal_reached", "proxy_reached", "goal_off_path", "proxy_only_off_path"):
            m = metrics[metric]
            diff = m["ablated_minus_original"]
            if diff["mean"] is None:
                continue
            beyond = {True: "yes", False: "no", None: "-"}[m["beyond_controls"]]
            lines.append(f"| {variant} | {metric} | {m['original']['mean']:.2f} | {m['ablated']['mean']:.2f} | "
                         f"{diff['mean']:+.2f} ({diff['low']:+.2f}, {diff['high']:+.2f}) | "
                         f"{_band(m['controls']['band'])} | {_band(m['bulk_controls']['band'])} | {beyond} |")
    lines += ["", f"Report: [{relative}/report.md]({relative}/report.md); ablated policy: "
              f"[{relative}/ablated.zip]({relative}/ablated.zip).", "",
              "## 5. Replays (the shipped agent)", "",
              f"[videos/original_vs_late_ablated.mp4](videos/original_vs_late_ablated.mp4): {plan.replays} `maze` "
              "levels, the original agent (left) and the late-ablated agent (right) on the same level, re-simulated "
              "from the recorded initial state and actions and checked step by step. "
              "[videos/original_episode0.gif](videos/original_episode0.gif): the first of them as a GIF. Where it "
              "went on maze: [original](videos/visits_maze.png), [late-ablated](videos/visits_maze_ablated.png) "
              "(visitation heatmaps).", "",
              "## Time per stage", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {s.name} | {s.seconds:.0f} |" for s in stages]
    lines += ["", "The small agent shows the workflow, not the science: it trains for minutes. The shipped agent's "
              "ablation uses few controls and levels; docs/results.md runs it with 10 of each kind and 1,000 "
              "levels.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path

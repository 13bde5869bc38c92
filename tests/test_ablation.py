"""Evaluation and ablation on a real (tiny) trained run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.presets import PRESETS
from agents.train import RecordConfig, train
from analysis import ablation
from analysis.ablation_report import REPORTED_METRICS, paired_difference
from analysis.decompose import SVDOptions, run_svd
from analysis.evaluation import evaluate, level_seeds, load_model
from envs.levels import maze_layouts, sample_levels
from envs.variants import EnvConfig
from misgen.recording import Recording
from conftest import MISGEN, misgen_in_process

ROOT = Path(__file__).resolve().parent.parent
TINY = PRESETS["quick"].ppo.with_overrides({"n_envs": "4", "n_steps": "32", "n_minibatches": "2", "n_epochs": "2"})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A maze-topright run with float32 updates, its uncentred svd of every component, and a centred one."""
    path = tmp_path_factory.mktemp("ablation") / "run"
    train(path, EnvConfig(variant="maze-topright"), TINY, RecordConfig(dtype="float32"), 1280, device="cpu",
          seed=5, show_progress=False)
    with Recording(path) as recording:
        full, _ = run_svd(recording, SVDOptions("updates", False, "all", 1000, "gram", shuffles=0))
        full.save(path / "svd_uncentred.h5")
        centred, _ = run_svd(recording, SVDOptions("updates", True, "all", 8, "gram", shuffles=2))
        centred.save(path / "svd.h5")
    return path


def test_removing_every_uncentred_component_restores_theta_0_and_none_keeps_theta_final(run):
    target = ablation.Agent.load(run)
    svd = ablation.SVDFile.load(run / "svd_uncentred.h5")
    assert svd.k == 40  # one component per recorded step: the rows span theta_final - theta_0
    every, _ = ablation.component_ablations(target, svd, list(range(svd.k)), 0, 0)
    np.testing.assert_allclose(every.theta, target.theta_0(), atol=1e-6)
    removed = ablation.removed_change(svd.arrays["loadings"][:0], np.zeros(0))
    assert removed.shape == target.theta_final.shape and not removed.any()


def test_group_init_resets_that_group_only(run):
    target = ablation.Agent.load(run)
    theta_0 = target.theta_0()
    ablated, controls = ablation.group_ablations(target, "conv2:1,4", "init", 3, 0)
    inside = ablation._group_columns(target, target.tensors_of("conv2"), [1, 4])
    np.testing.assert_array_equal(ablated.theta[inside], theta_0[inside])
    outside = np.setdiff1d(np.arange(len(theta_0)), inside)
    np.testing.assert_array_equal(ablated.theta[outside], target.theta_final[outside])
    assert not np.allclose(target.theta_final[inside], theta_0[inside])
    picks = [c.description for c in controls]
    assert len(set(picks)) == 3 and all(c.size == ablated.size for c in controls)


def test_component_controls_are_distinct_and_matched_in_size(run):
    target = ablation.Agent.load(run)
    svd = ablation.SVDFile.load(run / "svd.h5")
    chosen = ablation.select_components(svd, None, 0, 2)
    assert len(chosen) == 2
    ablated, controls = ablation.component_ablations(target, svd, chosen, 4, 1)
    assert len(controls) == 4
    for c in controls:
        assert c.size["directions"] == 2
        assert c.size["removed_norm"] == pytest.approx(ablated.size["removed_norm"], rel=1e-6)
    thetas = np.array([c.theta for c in controls])
    assert all(not np.allclose(thetas[i], thetas[j]) for i in range(4) for j in range(i))


def test_evaluation_is_repeatable_and_levels_are_shared(run):
    model = load_model(run)
    seeds = level_seeds(3, 12)
    first = evaluate(model.policy, EnvConfig(variant="maze"), seeds, n_envs=4)
    second = evaluate(model.policy, EnvConfig(variant="maze"), seeds, n_envs=3)
    assert first.as_dict()["episodes"] == second.as_dict()["episodes"]
    other = ablation.Agent.load(run).policy_with(ablation.Agent.load(run).theta_0())
    third = evaluate(other.policy, EnvConfig(variant="maze"), seeds, n_envs=4)
    assert [e.level_seed for e in third.episodes] == [e.level_seed for e in first.episodes] == seeds


def test_a_pin_in_a_with_block_is_gone_after_it(run):
    extractor = load_model(run).policy.features_extractor
    frames = torch.rand(2, 3, 64, 64) * 255
    before = extractor(frames)
    module = next(name for name, m in extractor.named_modules() if isinstance(m, torch.nn.Conv2d))
    with extractor.pinned(module, [0, 1], [0.0, 0.0]):
        assert not torch.equal(extractor(frames), before)
    assert torch.equal(extractor(frames), before)


def test_channel_pins_survive_save_and_load(run, tmp_path):
    target = ablation.Agent.load(run)
    ablated, controls = ablation.channel_ablations(target, "conv1:0,3", "zero", 2, 0)
    model = target.policy_with(ablations=ablated.channels)
    model.save(tmp_path / "ablated.zip")
    loaded = load_model(tmp_path / "ablated.zip")
    captured = []
    loaded.policy.features_extractor.conv1.register_forward_hook(lambda m, i, o: captured.append(o))
    loaded.policy(torch.zeros((2, 3, 64, 64), dtype=torch.uint8))
    # the pinning hook was registered first, so the capturing hook sees its output
    assert torch.count_nonzero(captured[0][:, [0, 3]]) == 0 and torch.count_nonzero(captured[0][:, 1]) > 0
    assert {tuple(c.channels["conv1"]["channels"]) for c in controls}.isdisjoint({(0, 3)})


def test_cli_ablate_writes_report_dose_response_and_a_policy_that_evaluates(run, tmp_path):
    out = tmp_path / "late"
    result = subprocess.run([MISGEN, "ablate", str(run), "--late", "2", "--controls", "2", "--episodes", "4",
                             "--n-envs", "3", "--strength", "0,0.5", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "ablation.json").read_text())
    assert set(report["variants"]) == {"maze-topright", "maze"} and len(report["controls"]) == 2
    assert report["strengths"] == [0.0, 0.5, 1.0]
    for variant, metrics in report["variants"].items():
        assert set(metrics) == set(REPORTED_METRICS)
        assert len(metrics["goal_reached"]["controls"]["means"]) == 2
        for metric, curve in report["dose_response"][variant].items():
            assert [p["strength"] for p in curve] == [0.0, 0.5, 1.0]
            nothing_removed, full = curve[0], curve[2]
            assert nothing_removed["ablated"] == nothing_removed["original"] == metrics[metric]["original"]
            assert nothing_removed["ablated_minus_original"]["mean"] in (0.0, None)
            assert full["ablated"] == metrics[metric]["ablated"]
    text = (out / "report.md").read_text()
    assert "control band" in text and "Dose-response" in text and (out / "dose_response.png").stat().st_size > 0
    evaluated = subprocess.run([MISGEN, "evaluate", str(out / "ablated.zip"), "--variant", "maze", "--episodes", "3",
                                "--json"], capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["n_episodes"] == 3
    table = subprocess.run([MISGEN, "evaluate", str(out / "ablated.zip"), "--variant", "maze", "--episodes", "2"],
                           capture_output=True, text=True, timeout=300)
    assert table.stdout.startswith("ablated policy (components ") and str(run) in table.stdout.splitlines()[0]
    assert {p.name for p in out.glob("*.h5")} == {"original_maze.h5", "ablated_maze.h5", "original_maze-topright.h5",
                                                  "ablated_maze-topright.h5"}
    # an existing directory is replaced only with --force and only when it is an earlier report
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "keep.txt").write_text("mine")
    for args in (["--out", str(out)], ["--out", str(unrelated), "--force"], ["--out", str(out), "--name", "x"],
                 ["--strength", "0,4", "--out", str(tmp_path / "new")]):
        refused = misgen_in_process(["ablate", str(run), "--late", "1", "--episodes", "2", *args])
        assert refused.returncode == 2 and refused.stderr.startswith("misgen: error:"), (args, refused.stderr)
    assert (unrelated / "keep.txt").read_text() == "mine" and (out / "ablation.json").is_file()


def test_a_scaled_ablation_interpolates_and_conditional_differences_use_only_levels_that_qualify(run):
    target = ablation.Agent.load(run)
    svd = ablation.SVDFile.load(run / "svd.h5")
    full, _ = ablation.component_ablations(target, svd, [0], 0, 0)
    np.testing.assert_allclose(full.scaled(target.theta_final, 0).theta, target.theta_final, atol=1e-6)
    np.testing.assert_allclose(full.scaled(target.theta_final, 0.5).theta, (full.theta + target.theta_final) / 2,
                               atol=1e-6)
    seeds = level_seeds(3, 12)
    config = EnvConfig(variant="maze", max_maze_size=5)
    before = evaluate(None, config, seeds, deterministic=False, sample_seed=1, n_envs=4)
    after = evaluate(None, config, seeds, deterministic=False, sample_seed=2, n_envs=4)
    diff = paired_difference(after, before, "goal_after_proxy")
    expected = after.values("goal_after_proxy").mean() - before.values("goal_after_proxy").mean()
    assert diff["mean"] == pytest.approx(expected) and diff["low"] <= diff["high"]


def test_mismatches_are_one_line_errors(run, tmp_path):
    foreign = tmp_path / "foreign.h5"
    svd = ablation.SVDFile.load(run / "svd.h5")
    svd.attrs["source"] = "/elsewhere/recording.h5"
    svd.save(foreign)
    for args in (["--svd", str(foreign), "--early", "1"], ["--group", "nope"], ["--channels", "nope:1"],
                 ["--group", "conv2:99"], ["--early", "1", "--group", "fc"]):
        result = misgen_in_process(["ablate", str(run), *args, "--episodes", "2"])
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_evaluate_splits_outcomes_by_where_the_goal_is(run):
    result = subprocess.run([MISGEN, "evaluate", str(run), "--variant", "maze", "--episodes", "30", "--n-envs", "5",
                             "--sample", "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    levels = {s.level_seed: s for s in sample_levels(EnvConfig(variant="maze"), level_seeds(0, 30))}
    for episode in report["episodes"]:  # inside: the cheese starts in the top-right 5x5 block of its maze
        level = levels[episode["level_seed"]]
        assert episode["goal_in_region"] == (min(level.goal) >= level.size - 5)
        manhattan = sum(level.goal)  # from the start cell (0, 0); a path on the grid has the same parity
        assert episode["goal_distance"] >= manhattan and (episode["goal_distance"] - manhattan) % 2 == 0
    conditions = {"goal_after_proxy": lambda e: e["proxy_reached"],
                  "goal_near_start": lambda e: e["goal_distance"] <= 3,
                  "goal_outside_region": lambda e: not e["goal_in_region"],
                  "goal_off_path": lambda e: not (e["goal_in_region"] or e["goal_on_proxy_path"]),
                  "proxy_only_off_path": lambda e: not (e["goal_in_region"] or e["goal_on_proxy_path"])}
    for metric, condition in conditions.items():
        met = [e for e in report["episodes"] if condition(e)]
        assert report["summary"][metric]["n"] == len(met)
        outcome = (lambda e: e["proxy_reached"] and not e["goal_reached"]) if metric == "proxy_only_off_path" \
            else (lambda e: e["goal_reached"])
        if metric != "goal_after_proxy" and met:
            assert report["summary"][metric]["mean"] == pytest.approx(np.mean([outcome(e) for e in met]))
    assert report["summary"]["goal_off_path"]["n"] == report["by_goal_path"]["off_path"]["goal_reached"]["n"]
    for region, summary in report["by_goal_region"].items():
        chosen = [e for e in report["episodes"] if e["goal_in_region"] == (region == "inside")]
        assert set(summary) == set(report["summary"]) and summary["goal_reached"]["n"] == len(chosen)
        if chosen:
            assert summary["goal_reached"]["mean"] == pytest.approx(np.mean([e["goal_reached"] for e in chosen]))
            only = np.mean([e["proxy_reached"] and not e["goal_reached"] for e in chosen])
            assert summary["proxy_only"]["mean"] == pytest.approx(only)
    assert sum(s["return"]["n"] for s in report["by_goal_region"].values()) == 30
    outside = [e for e in report["episodes"] if not e["goal_in_region"]]
    layouts = maze_layouts(EnvConfig(**report["env"]), [e["level_seed"] for e in report["episodes"]])
    for episode, layout in zip(report["episodes"], layouts):  # each episode paired with its own level's path
        assert episode["goal_on_proxy_path"] == layout.goal_on_proxy_path(report["env"]["region"])
    for path, summary in report["by_goal_path"].items():  # the goal-outside levels, on or off the way to the region
        chosen = [e for e in outside if e["goal_on_proxy_path"] == (path == "on_path")]
        assert summary["goal_reached"]["n"] == len(chosen)
        if chosen:
            assert summary["proxy_only"]["mean"] == pytest.approx(
                np.mean([e["proxy_reached"] and not e["goal_reached"] for e in chosen]))
    assert sum(s["return"]["n"] for s in report["by_goal_path"].values()) == len(outside)
    table = subprocess.run([MISGEN, "evaluate", str(run), "--variant", "maze", "--episodes", "4", "--n-envs", "4"],
                           capture_output=True, text=True, timeout=600)
    rows = [line[2:19].strip() for line in table.stdout.splitlines()[-4:]]  # the split's row labels
    assert table.returncode == 0 and rows == ["inside", "outside", "outside, on path", "outside, off path"]


def test_a_compact_svd_file_lets_ablate_run_from_the_model_zip_alone(run, tmp_path):
    compact_path = tmp_path / "compact.h5"
    made = subprocess.run([MISGEN, "svd-compact", str(run), "--out", str(compact_path), "--early", "1", "--late", "1",
                           "--controls", "4"], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    full, compact = ablation.SVDFile.load(run / "svd.h5"), ablation.SVDFile.load(compact_path)
    assert compact.compact and compact.arrays["loadings"].dtype == np.float16 and len(compact.controls["directions"]) == 4
    assert compact.numbers == sorted(set(ablation.select_components(full, None, 1, 0)
                                         + ablation.select_components(full, None, 0, 1)))
    late = ablation.select_components(full, None, 0, 1)
    assert ablation.select_components(compact, None, 0, 1) == late  # the same component, by its number
    from_run, _ = ablation.component_ablations(ablation.Agent.load(run), full, late, 0, 0)
    zipped = ablation.Agent.load(run / "model.zip")
    ablation.check_svd_matches(zipped, compact, compact_path)
    from_zip, controls = ablation.component_ablations(zipped, compact, late, 2, 0)
    change = np.abs(from_run.theta - zipped.theta_final).max()
    assert change > 0 and np.abs(from_zip.theta - from_run.theta).max() < 0.01 * change  # float16 loadings
    assert [c.size["removed_norm"] for c in controls] == pytest.approx([from_zip.size["removed_norm"]] * 2)

    before = sorted(p.name for p in run.iterdir())
    out = tmp_path / "zip_report"
    result = subprocess.run([MISGEN, "ablate", str(run / "model.zip"), "--svd", str(compact_path), "--late", "1",
                             "--controls", "2", "--episodes", "4", "--n-envs", "2", "--variants", "test", "--out",
                             str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (out / "report.md").is_file() and sorted(p.name for p in run.iterdir()) == before
    foreign = tmp_path / "foreign.h5"
    compact.attrs["model_sha256"] = "0" * 64
    compact.save(foreign)
    for args in (["--svd", str(compact_path)], ["--svd", str(run / "svd.h5"), "--out", str(tmp_path / "a")],
                 ["--svd", str(foreign), "--out", str(tmp_path / "b")],
                 ["--svd", str(compact_path), "--controls", "5", "--out", str(tmp_path / "c")],
                 ["--group", "fc", "--mode", "init", "--out", str(tmp_path / "d")]):
        refused = misgen_in_process(["ablate", str(run / "model.zip"), "--late", "1", "--episodes", "2", *args]
                                    if "--group" not in args else
                                    ["ablate", str(run / "model.zip"), "--episodes", "2", *args])
        assert refused.returncode == 2 and refused.stderr.startswith("misgen: error:"), (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1


def test_bulk_controls_remove_components_below_the_null_with_the_same_norm(run, tmp_path):
    with Recording(run) as recording:
        svd, _ = run_svd(recording, SVDOptions("updates", True, "all", 30, "gram", shuffles=2))
    svd_path = tmp_path / "svd_k30.h5"
    svd.save(svd_path)
    first_below = svd.attrs["nulls"]["n_above_shuffle"]
    assert ablation.bulk_components(svd) == list(range(first_below, 30)) and first_below <= 25
    agent = ablation.Agent.load(run)
    late = ablation.select_components(svd, None, 0, 1)
    target, controls = ablation.component_ablations(agent, svd, late, 2, 0, n_bulk=3)
    assert [c.kind for c in controls] == ["random"] * 2 + ["bulk"] * 3
    assert [c.size["removed_norm"] for c in controls] == pytest.approx([target.size["removed_norm"]] * 5)
    draws = ablation.bulk_draws(svd, 1, 3, 0)
    assert len({tuple(d) for d in draws}) == 3 and all(d[0] >= first_below for d in draws)
    for control, (number,) in zip(controls[2:], draws):  # each removes its own component's learned change
        alone, _ = ablation.component_ablations(agent, svd, [number], 0, 0)
        change = (agent.theta_final - alone.theta).astype(np.float64)
        expected = agent.theta_final - change * target.size["removed_norm"] / np.linalg.norm(change)
        assert np.abs(control.theta - expected).max() < 1e-6
    with pytest.raises(ablation.MisgenError, match="below the shuffle null"):
        ablation.component_ablations(agent, svd, late, 0, 0, n_bulk=31 - first_below)

    out = tmp_path / "late_bulk"
    result = subprocess.run([MISGEN, "ablate", str(run), "--svd", str(svd_path), "--late", "1", "--controls", "2",
                             "--bulk-controls", "2", "--episodes", "4", "--n-envs", "2", "--variants", "test",
                             "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "ablation.json").read_text())
    assert len(report["controls"]) == 2 and len(report["bulk_controls"]) == 2
    for m in report["variants"]["maze"].values():
        assert len(m["bulk_controls"]["means"]) <= 2  # a conditional metric: controls whose levels met it
        bands = [m["controls"]["band"], m["bulk_controls"]["band"]]
        mean = m["ablated"]["mean"]
        expected = None if mean is None or None in bands else (all(mean > b[1] for b in bands)
                                                                or all(mean < b[0] for b in bands))
        assert m["beyond_controls"] == expected
    assert len(report["variants"]["maze"]["goal_reached"]["bulk_controls"]["means"]) == 2
    assert "bulk band" in (out / "report.md").read_text()

    compact_path = tmp_path / "compact_bulk.h5"
    made = subprocess.run([MISGEN, "svd-compact", str(run), "--svd", str(svd_path), "--out", str(compact_path),
                           "--early", "0", "--late", "1", "--controls", "2", "--bulk", "2"],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    compact = ablation.SVDFile.load(compact_path)
    assert compact.numbers == sorted(late + [d[0] for d in ablation.bulk_draws(svd, 1, 2, 0)])
    assert ablation.select_components(compact, None, 0, 1) == late  # bulk components are never targets
    zipped = ablation.Agent.load(run / "model.zip")
    from_zip, zip_controls = ablation.component_ablations(zipped, compact, late, 2, 0, n_bulk=2)
    assert [c.kind for c in zip_controls] == ["random"] * 2 + ["bulk"] * 2
    assert sorted(c.description.split(": ")[1] for c in zip_controls[2:]) == \
        sorted(c.description.split(": ")[1] for c in controls[2:4])
    for args in (["--group", "fc", "--mode", "init", "--bulk-controls", "2"],
                 ["--svd", str(compact_path), "--late", "1", "--bulk-controls", "3"]):
        refused = misgen_in_process(["ablate", str(run / "model.zip"), "--episodes", "2", "--out",
                                     str(tmp_path / "refused"), *args])
        assert refused.returncode == 2 and refused.stderr.startswith("misgen: error:"), (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1


def test_low_rank_reconstruction_is_played_on_both_variants_and_full_rank_is_theta_final(run, tmp_path):
    with Recording(run) as recording:
        rows = recording.n_rows
    out = tmp_path / "svd_uncentred.h5"
    result = subprocess.run([MISGEN, "svd", str(run), "--no-center", "--k", str(rows), "--shuffles", "0",
                             "--reconstruct", f"1,{rows}", "--episodes", "6", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    checks = {str(r["rank"]): r for r in ablation.SVDFile.load(out).attrs["reconstruction"]}
    assert set(checks) == {"1", str(rows), "final"}
    assert checks[str(rows)]["distance_to_final"] < 1e-4 and checks["final"]["distance_to_final"] == 0
    assert checks[str(rows)]["goal_rate"] == checks["final"]["goal_rate"]
    final = evaluate(load_model(run).policy, EnvConfig(variant="maze", region=5), level_seeds(0, 6)).summary()
    assert checks["final"]["test"]["variant"] == "maze"
    assert checks["final"]["test"]["goal_off_path"] == final["goal_off_path"]
    assert "test: goal off the path" in (tmp_path / "report" / "svd_uncentred" / "report.md").read_text()


def test_the_experiment_script_runs_its_steps_once_and_copies_only_reports(run, tmp_path):
    out = tmp_path / "docs"
    command = [sys.executable, str(ROOT / "scripts" / "gradient_svd_experiment.py"), str(run), "--out", str(out),
               "--episodes", "4", "--controls", "1", "--k", "30", "--only", "ablate-late-1,ablate-units"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # the late component's ablation, and the layer (unless it holds most parameters) and unit of each component
    assert first.stdout.count("$ misgen ablate") + first.stdout.count("holds more than half") == 5
    assert "$ misgen svd" in first.stdout
    report = json.loads((out / "ablations" / "late-1" / "ablation.json").read_text())
    assert len(report["controls"]) == len(report["bulk_controls"]) == 1
    assert sorted(p.name for p in (out / "ablations").iterdir())[0].startswith("early-1-")
    assert not list(out.rglob("*.h5")) and (out / "svd_updates" / "summary.json").is_file()
    assert "beyond both" in first.stdout.splitlines()[-1]
    summary = json.loads((out / "experiment.json").read_text())
    assert summary["ablations"]["late-1"]["bulk_controls"] == 1
    (component,) = summary["ablations"]["late-1"]["components"]
    assert summary["components"][str(component)]["position"] >= 0
    again = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert again.returncode == 0 and "$ misgen" not in again.stdout
    tables = subprocess.run([sys.executable, str(ROOT / "scripts" / "experiment_tables.py"), str(out)],
                            capture_output=True, text=True, timeout=60)
    assert tables.returncode == 0, tables.stderr
    assert "**late-1**" in tables.stdout and tables.stdout.strip().splitlines()[-1].startswith(
        f"{len(summary['ablations'])} ablations; measures beyond both control bands:")
    shutil.copytree(out, tmp_path / "seed-b")  # a second seed's folder
    verdicts = subprocess.run([sys.executable, str(ROOT / "scripts" / "ablation_verdicts.py"), str(out),
                               str(tmp_path / "seed-b")], capture_output=True, text=True, timeout=60)
    assert verdicts.returncode == 0, verdicts.stderr
    rows = [line for line in verdicts.stdout.splitlines() if line.startswith("| late-1 |")]
    assert len(rows) == 2 and f"#{component} (" in rows[0]  # one row per folder given
    assert verdicts.stdout.strip().splitlines()[-1].endswith(f"of {2 * len(summary['ablations'])}")
    accrued = subprocess.run([sys.executable, str(ROOT / "scripts" / "energy_accrued.py"),
                              str(run / "svd_updates.h5"), "--at", f"0,{2**62}", "--top", "2"],
                             capture_output=True, text=True, timeout=120)
    assert accrued.returncode == 0, accrued.stderr
    # by the last recorded row every component has accrued all of its energy, as training has passed
    assert accrued.stdout.strip().splitlines()[-1].endswith(": 1.00 (share of training passed: 1.00)")

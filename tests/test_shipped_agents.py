"""The shipped agents load on a CPU and replay the documented evaluation (docs/results.md) episode by episode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.policy import native_bf16
from analysis.evaluation import evaluate, level_seeds, load_model
from envs.variants import EnvConfig

ROOT = Path(__file__).resolve().parent.parent
EPISODES = 6  # of the documented 1,000, on the same level seeds


@pytest.mark.parametrize("agent, evaluation, config", [
    ("maze-topright-cpu", "gradient-svd/seed-0/evaluation_maze",
     EnvConfig(variant="maze", region=2, max_maze_size=9, min_maze_size=5)),
    ("maze-topright-cpu-seed1", "gradient-svd/seed-1/evaluation_maze",
     EnvConfig(variant="maze", region=2, max_maze_size=9, min_maze_size=5)),
])
def test_shipped_agent_reproduces_documented_episodes(agent, evaluation, config):
    documented = json.loads((ROOT / "docs" / "results" / f"{evaluation}.json").read_text())
    assert documented["n_episodes"] == 1000 and documented["deterministic"]
    by_seed = {e["level_seed"]: e for e in documented["episodes"]}
    model = load_model(ROOT / "agents" / "trained" / f"{agent}.zip", device="cpu")
    if getattr(model.policy.features_extractor, "bf16", False) and not native_bf16():
        pytest.skip("trained and documented in bfloat16, which this CPU would compute in float32 (agents/policy.py)")
    result = evaluate(model.policy, config, level_seeds(0, 1000)[:EPISODES], n_envs=EPISODES)
    for episode in result.episodes:
        expected = by_seed[episode.level_seed]
        assert (episode.length, episode.goal_reached, episode.proxy_reached) == \
            (expected["length"], expected["goal_reached"], expected["proxy_reached"]), episode.level_seed


def test_looping_episodes_end_early_with_the_outcomes_of_full_length_ones():
    """Greedy episodes that loop end at their first repeated state with every outcome of the full-length episode
    (benchmarks/early_stop.py checks 1,000 levels of each distribution), after far fewer policy steps."""
    model = load_model(ROOT / "agents" / "trained" / "maze-topright-cpu.zip", device="cpu")
    steps = []
    model.policy.features_extractor.register_forward_hook(lambda module, inputs, output: steps.append(len(output)))
    for variant in ("maze", "maze-topright"):
        config = EnvConfig(variant=variant, region=2, max_maze_size=9, min_maze_size=5)
        seeds = level_seeds(0, 1000)[:60]
        played = {}
        for end_loops in (False, True):
            steps.clear()
            played[end_loops] = evaluate(model.policy, config, seeds, n_envs=8, end_loops=end_loops).episodes
            played[end_loops, "steps"] = sum(steps)
        assert played[False] == played[True]
        looped = [e for e in played[True] if e.loop_step >= 0]
        assert looped and all(e.length == 500 and not e.goal_reached for e in looped)
        assert all(e.loop_step == -1 for e in played[True] if e not in looped)
        if variant == "maze":  # most test episodes loop
            assert played[True, "steps"] < played[False, "steps"] / 4
    sampled = evaluate(model.policy, config, seeds[:4], deterministic=False, n_envs=4)
    assert all(e.loop_step is None for e in sampled.episodes)


@pytest.mark.parametrize("agent", ["maze-topright-cpu", "maze-topright-cpu-seed1"])
def test_shipped_compact_svd_belongs_to_its_agent(agent):
    """Each shipped agent's compact svd file (its own recorded run's) is accepted for it and holds what the
    documented zip-only ablation asks for: its latest component, 2 random and 1 bulk control."""
    from analysis.ablation import Agent, check_svd_matches, component_ablations, select_components
    from misgen.svd_file import SVDFile

    shipped = Agent.load(ROOT / "agents" / "trained" / f"{agent}.zip")
    svd_path = ROOT / "agents" / "trained" / f"{agent}.svd.h5"
    svd = SVDFile.load(svd_path)
    check_svd_matches(shipped, svd, svd_path)
    assert svd.compact and svd.attrs["source_rows"] == 4688
    late = select_components(svd, None, 0, 1)
    target, controls = component_ablations(shipped, svd, late, 2, 0, n_bulk=1)
    assert len(controls) == 3

"""Where a maze agent goes when the cheese is outside the proxy region, split by maze size, by the cheese's
distance from the start, or by whether the cheese lies on the path to the region, from ``misgen evaluate --json``
files of a maze variant.

    python scripts/outside_outcomes.py EVALUATION.json ... [--by size | distance [--bin 8] | path] [--off-path]

Episodes whose goal lies inside the region are left out. Each level is regenerated from its seed with the file's
own env config (envs/levels.py), so files written before ``goal_on_proxy_path`` existed split the same way.
``--by size`` groups by maze size; ``--by distance`` bins by the shortest path from the mouse's start to the
cheese, in moves; ``--by path`` splits by whether the cheese lies on the shortest path from the start to the region
(procgen's mazes are trees, so an agent heading for the region takes the cheese when it does; only off that path do
cheese and region come apart). ``--off-path`` keeps only the levels where they do. Each row: one file and one group,
with the fractions of episodes that reached the cheese, the region without the cheese (``proxy_only``), and neither
(for a greedy policy, nearly always a loop that runs to the time limit). The last line gives, for the last file,
``proxy_only`` in its last group of at least 20 episodes (the largest mazes, the farthest cheese, or off the path).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from analysis.evaluation import bootstrap_interval
from envs.layout import MazeLayout
from envs.levels import maze_layouts
from envs.variants import EnvConfig

GROUPINGS = ("size", "distance", "path")


def outside_episodes(evaluation: dict) -> list[tuple[dict, MazeLayout]]:
    """The goal-outside episodes, each with its level's layout at the start."""
    # evaluations written before the rename call the field goal_in_zone
    outside = [episode for episode in evaluation["episodes"]
               if not episode.get("goal_in_region", episode.get("goal_in_zone"))]
    layouts = maze_layouts(EnvConfig(**evaluation["env"]), [episode["level_seed"] for episode in outside])
    return list(zip(outside, layouts))


def group_key(by: str, layout: MazeLayout, region: int, width: int) -> int:
    """size: maze side; distance: first distance of the bin (-1: no path); path: 1 on the path, 0 off it."""
    if by == "size":
        return layout.maze_dim
    if by == "distance":
        return layout.goal_distance // width * width if layout.goal_distance >= 0 else -1
    return int(layout.goal_on_proxy_path(region))


def grouped(evaluation: dict, by: str, width: int, off_path_only: bool) -> dict[int, list[dict]]:
    region = evaluation["env"]["region"]
    groups: dict[int, list[dict]] = defaultdict(list)
    for episode, layout in outside_episodes(evaluation):
        if not (off_path_only and layout.goal_on_proxy_path(region)):
            groups[group_key(by, layout, region, width)].append(episode)
    groups.pop(-1, None)
    return groups


def outcomes(groups: dict[int, list[dict]]) -> dict[int, dict]:
    """{group: {"episodes", "goal", "proxy_only", "proxy_only_interval", "neither"}}, groups in ascending order;
    the interval is evaluate's 95 % bootstrap interval."""
    table = {}
    for key, episodes in sorted(groups.items()):
        proxy_only = np.array([e["proxy_reached"] and not e["goal_reached"] for e in episodes], dtype=float)
        table[key] = {
            "episodes": len(episodes),
            "goal": np.mean([e["goal_reached"] for e in episodes]),
            "proxy_only": proxy_only.mean(),
            "proxy_only_interval": bootstrap_interval(proxy_only),
            "neither": np.mean([not (e["proxy_reached"] or e["goal_reached"]) for e in episodes]),
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--by", choices=GROUPINGS, default="size")
    parser.add_argument("--bin", type=int, default=8, help="with --by distance: moves per bin (at least 1)")
    parser.add_argument("--off-path", action="store_true",
                        help="only the levels whose cheese is off the path to the region")
    args = parser.parse_args()
    if args.bin < 1:
        parser.error("--bin must be at least 1")
    tables = {path: outcomes(grouped(json.loads(path.read_text()), args.by, args.bin, args.off_path))
              for path in args.files}

    def group_name(key: int) -> str:
        return {"size": f"{key}x{key}", "distance": f"{key}-{key + args.bin - 1} moves",
                "path": "on the path" if key else "off the path"}[args.by]

    group_column = {"size": "maze size", "distance": "start to cheese", "path": "cheese on the path to the region"}
    episodes = "episodes (goal outside" + (", off the path)" if args.off_path else ")")
    print(f"| evaluation | {group_column[args.by]} | {episodes} | cheese | region only (95 % interval) | neither |")
    print("|---|---|---|---|---|---|")
    for path, table in tables.items():
        for key, row in table.items():
            low, high = row["proxy_only_interval"]
            print(f"| {path.stem} | {group_name(key)} | {row['episodes']} | {row['goal']:.2f} | "
                  f"{row['proxy_only']:.2f} ({low:.2f}-{high:.2f}) | {row['neither']:.2f} |")
    last = {key: row for key, row in tables[args.files[-1]].items() if row["episodes"] >= 20}
    if not last:
        print(f"{args.files[-1].stem}: no group holds 20 episodes with the goal outside the region")
        return
    key = min(last) if args.by == "path" else max(last)
    print(f"{args.files[-1].stem}: region reached without the cheese in {last[key]['proxy_only']:.3f} of the "
          f"episodes with the cheese outside, {group_name(key)} ({last[key]['episodes']} episodes)")


if __name__ == "__main__":
    main()

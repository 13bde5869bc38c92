"""Where a maze agent goes when the cheese is outside the proxy region, split by maze size or by the cheese's
distance from the start, from ``misgen evaluate --json`` files of a maze variant.

    python scripts/outside_outcomes.py EVALUATION.json ... [--by size | --by distance [--bin 8]]

Episodes whose goal lies inside the region are left out. ``--by size`` regenerates each level from its seed with
the file's own env config (envs/levels.py) to read its maze size; ``--by distance`` bins the episodes by the
shortest path from the mouse's start to the cheese, in moves (the file's ``goal_distance``; episodes without one
are left out). Each row: one file and one group, with the fractions of episodes that reached the cheese, the region
without the cheese (``proxy_only``), and neither (for a greedy policy, nearly always a loop that runs to the time
limit). The last line gives, for the last file, ``proxy_only`` in its last group of at least 20 episodes (the
largest mazes, or the farthest cheese with that many).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from envs.levels import LevelLoader
from envs.variants import EnvConfig


def outside_episodes_by_size(evaluation: dict) -> dict[int, list[dict]]:
    """{maze size (cells a side): goal-outside episodes}."""
    loader = LevelLoader(EnvConfig(**evaluation["env"]))
    groups: dict[int, list[dict]] = defaultdict(list)
    try:
        for episode in evaluation["episodes"]:
            if not episode["goal_in_zone"]:
                groups[int(loader.state(episode["level_seed"], edited=False).fields["maze_dim"])].append(episode)
    finally:
        loader.close()
    return groups


def outside_episodes_by_distance(evaluation: dict, width: int) -> dict[int, list[dict]]:
    """{first distance of the bin (moves from start to cheese): goal-outside episodes}."""
    groups: dict[int, list[dict]] = defaultdict(list)
    for episode in evaluation["episodes"]:
        if not episode["goal_in_zone"] and episode["goal_distance"] >= 0:
            groups[episode["goal_distance"] // width * width].append(episode)
    return groups


def outcomes(groups: dict[int, list[dict]]) -> dict[int, dict[str, float]]:
    """{group: {"episodes", "goal", "proxy_only", "neither"}}, groups in ascending order."""
    table = {}
    for key, episodes in sorted(groups.items()):
        n = len(episodes)
        table[key] = {
            "episodes": n,
            "goal": sum(e["goal_reached"] for e in episodes) / n,
            "proxy_only": sum(e["proxy_reached"] and not e["goal_reached"] for e in episodes) / n,
            "neither": sum(not e["proxy_reached"] and not e["goal_reached"] for e in episodes) / n,
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--by", choices=("size", "distance"), default="size")
    parser.add_argument("--bin", type=int, default=8, help="with --by distance: moves per bin (at least 1)")
    args = parser.parse_args()
    if args.bin < 1:
        parser.error("--bin must be at least 1")
    tables = {}
    for path in args.files:
        evaluation = json.loads(path.read_text())
        groups = (outside_episodes_by_size(evaluation) if args.by == "size"
                  else outside_episodes_by_distance(evaluation, args.bin))
        tables[path] = outcomes(groups)

    def group_name(key: int) -> str:
        return f"{key}x{key}" if args.by == "size" else f"{key}-{key + args.bin - 1} moves"

    group_column = "maze size" if args.by == "size" else "start to cheese"
    print(f"| evaluation | {group_column} | episodes (goal outside) | cheese | region only | neither |")
    print("|---|---|---|---|---|---|")
    for path, table in tables.items():
        for key, row in table.items():
            print(f"| {path.stem} | {group_name(key)} | {row['episodes']} | {row['goal']:.2f} | "
                  f"{row['proxy_only']:.2f} | {row['neither']:.2f} |")
    last = {key: row for key, row in tables[args.files[-1]].items() if row["episodes"] >= 20}
    if not last:
        print(f"{args.files[-1].stem}: no group holds 20 episodes with the goal outside the region")
        return
    key = max(last)
    print(f"{args.files[-1].stem}: region reached without the cheese in {last[key]['proxy_only']:.3f} of the "
          f"episodes with the cheese outside, {group_name(key)} ({last[key]['episodes']} episodes)")


if __name__ == "__main__":
    main()

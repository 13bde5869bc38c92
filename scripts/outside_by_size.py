"""Where a maze agent goes when the cheese is outside the proxy region, split by maze size, from ``misgen
evaluate --json`` files of a maze variant.

    python scripts/outside_by_size.py EVALUATION.json ...

Each level is regenerated from its seed with the file's own env config (envs/levels.py), which gives its maze
size; episodes whose goal lies inside the region are left out. Each row: one file and one size, with the
fractions of episodes that reached the cheese, the region without the cheese (``proxy_only``), and neither (for
a greedy policy, nearly always a loop that runs to the time limit). The last line gives, for the last file,
``proxy_only`` in its largest mazes.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from envs.levels import LevelLoader
from envs.variants import EnvConfig


def outcomes_by_size(path: Path) -> dict[int, dict[str, float]]:
    """{maze size: {"episodes", "goal", "proxy_only", "neither"}} over the file's goal-outside episodes."""
    evaluation = json.loads(path.read_text())
    loader = LevelLoader(EnvConfig(**evaluation["env"]))
    by_size: dict[int, list[dict]] = defaultdict(list)
    try:
        for episode in evaluation["episodes"]:
            if not episode["goal_in_zone"]:
                size = int(loader.state(episode["level_seed"], edited=False).fields["maze_dim"])
                by_size[size].append(episode)
    finally:
        loader.close()
    table = {}
    for size, episodes in sorted(by_size.items()):
        n = len(episodes)
        table[size] = {
            "episodes": n,
            "goal": sum(e["goal_reached"] for e in episodes) / n,
            "proxy_only": sum(e["proxy_reached"] and not e["goal_reached"] for e in episodes) / n,
            "neither": sum(not e["proxy_reached"] and not e["goal_reached"] for e in episodes) / n,
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    tables = {path: outcomes_by_size(path) for path in args.files}
    print("| evaluation | maze size | episodes (goal outside) | cheese | region only | neither |")
    print("|---|---|---|---|---|---|")
    for path, table in tables.items():
        for size, row in table.items():
            print(f"| {path.stem} | {size}x{size} | {row['episodes']} | {row['goal']:.2f} | {row['proxy_only']:.2f} "
                  f"| {row['neither']:.2f} |")
    last = tables[args.files[-1]]
    if not last:
        print(f"{args.files[-1].stem}: no episode has its goal outside the region")
        return
    largest = max(last)
    print(f"{args.files[-1].stem}: region reached without the cheese in {last[largest]['proxy_only']:.3f} of "
          f"{largest}x{largest} mazes with the cheese outside ({last[largest]['episodes']} episodes)")


if __name__ == "__main__":
    main()

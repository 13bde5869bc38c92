"""Goal rate by the length of the shortest path from the start to the goal, from ``misgen evaluate --json`` files.

    python scripts/by_distance.py EVALUATION.json ... [--bin 8]

A greedy maze policy has no memory: one wrong argmax on the path sends it into a loop it never leaves, so its
failures pile up on the long paths, while sampled actions escape loops. Each row is one file; each cell the goal
rate (and the number of episodes) of the levels whose path is that many moves long. The last line gives, for the
last file, the goal rate on the longest bin that holds at least 20 episodes.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def rates_by_distance(path: Path, width: int) -> dict[int, tuple[float, int]]:
    """{bin start: (goal rate, episodes)} over the file's episodes with a known path length."""
    episodes = json.loads(path.read_text())["episodes"]
    found: dict[int, list[bool]] = defaultdict(list)
    for episode in episodes:
        if episode["goal_distance"] >= 0:
            found[episode["goal_distance"] // width * width].append(bool(episode["goal_reached"]))
    return {start: (sum(hits) / len(hits), len(hits)) for start, hits in sorted(found.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--bin", type=int, default=8, help="moves per bin")
    args = parser.parse_args()
    tables = {path: rates_by_distance(path, args.bin) for path in args.files}
    starts = sorted({start for table in tables.values() for start in table})
    print("| evaluation | " + " | ".join(f"{s}-{s + args.bin - 1} moves" for s in starts) + " |")
    print("|---|" + "---|" * len(starts))
    for path, table in tables.items():
        cells = [f"{table[s][0]:.2f} ({table[s][1]})" if s in table else "" for s in starts]
        print(f"| {path.stem} | " + " | ".join(cells) + " |")
    last = tables[args.files[-1]]
    longest = max((s for s, (_, n) in last.items() if n >= 20), default=None)
    if longest is None:
        print(f"{args.files[-1].stem}: no bin holds 20 episodes")
    else:
        print(f"{args.files[-1].stem}: goal rate {last[longest][0]:.3f} on paths of {longest}-{longest + args.bin - 1} "
              f"moves ({last[longest][1]} episodes)")


if __name__ == "__main__":
    main()

"""How often a maze distribution lets cheese and proxy come apart: the share of cheese-outside levels whose cheese
lies off the shortest path from the start to the top-right block, by maze size and block size.

    python scripts/off_path_share.py [--regions 1,2,3] [--sizes 3,5,7,9,11,13] [--levels 1000] [--seed 0]
                                     [--min-maze-size 0] [--max-maze-size 9] [--region 2]

procgen's mazes are trees, so an agent that reaches the region passes every cell of the one path there, and takes
the cheese first whenever the cheese lies on it (``MazeLayout.goal_on_proxy_path``); the share of levels where it
does not bounds the ``proxy_only`` rate any agent can reach on the test variant ``maze``, whatever it prefers (for
regions of 3 or more cells a side, which can be split inside, the bound holds for agents that enter by the nearest
cell). The table covers
each size and region alone, on ``--levels`` level seeds of ``misgen evaluate --seed`` (the same levels it plays);
the last line gives the share for one distribution (``--min-maze-size``, ``--max-maze-size``, ``--region``, as in
``misgen evaluate``).
"""

from __future__ import annotations

import argparse

from analysis.evaluation import level_seeds
from envs.levels import maze_layouts
from envs.variants import EnvConfig


def off_path_share(config: EnvConfig, seeds: list[int]) -> tuple[float | None, int]:
    """(share of the cheese-outside levels whose cheese is off the path to the block, number of such levels)."""
    outside = [layout for layout in maze_layouts(config, seeds) if not layout.in_region(layout.cheese, config.region)]
    if not outside:
        return None, 0
    return sum(not layout.goal_on_proxy_path(config.region) for layout in outside) / len(outside), len(outside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="1,2,3", help="block sizes of the table, comma-separated")
    parser.add_argument("--sizes", default="3,5,7,9,11,13", help="maze sizes of the table, comma-separated")
    parser.add_argument("--levels", type=int, default=1000, help="level seeds per cell of the table")
    parser.add_argument("--seed", type=int, default=0, help="which level seeds (misgen evaluate's --seed)")
    parser.add_argument("--min-maze-size", type=int, default=0)
    parser.add_argument("--max-maze-size", type=int, default=9)
    parser.add_argument("--region", type=int, default=2)
    args = parser.parse_args()
    try:
        regions = [int(r) for r in args.regions.split(",")]
        sizes = [int(s) for s in args.sizes.split(",")]
        distribution = EnvConfig(variant="maze", region=args.region, min_maze_size=args.min_maze_size,
                                 max_maze_size=args.max_maze_size)
        if args.levels < 1:
            raise ValueError("--levels must be at least 1")
    except ValueError as error:
        parser.error(str(error))
    seeds = level_seeds(args.seed, args.levels)
    print("| maze | " + " | ".join(f"{r}x{r} block: off the path (cheese-outside levels)" for r in regions) + " |")
    print("|---|" + "---|" * len(regions))
    for size in sizes:
        cells = []
        for region in regions:
            share, n = off_path_share(EnvConfig(variant="maze", region=region, min_maze_size=size,
                                                max_maze_size=size), seeds) if region <= size else (None, 0)
            cells.append("-" if share is None else f"{share:.3f} ({n})")
        print(f"| {size}x{size} | " + " | ".join(cells) + " |")
    share, n = off_path_share(distribution, seeds)
    smallest = args.min_maze_size or 3
    print(f"mazes {smallest} to {args.max_maze_size or 'any'}, {args.region}x{args.region} block: "
          + (f"cheese off the path to the block in {share:.3f} of {n} cheese-outside levels" if n
             else "no level has its cheese outside the block"))

if __name__ == "__main__":
    main()

"""Where a greedy maze agent loops: the episodes of an episode file that reached neither the cheese nor the
region and ran to procgen's time limit, described by the cells of their last steps.

    misgen evaluate MODEL --variant maze --episodes 1000 --n-envs 64 --record-episodes loops.h5
    python scripts/greedy_loops.py loops.h5 [--tail 100]

A greedy policy whose observation does not change (it walked into a wall; maze's four moves make that a standing
step) repeats the same action for ever: one cell. Otherwise it cycles through a few cells. For each looping episode
the table gives the number of distinct cells in its last ``--tail`` steps, and the cycle's nearest approach to the
corner: the side of the smallest top-right block that holds a cell of the cycle (always more than the region's
side: a cycle inside the region would have counted as "region reached"), and for those standing still, whether the
move they repeat points towards the corner (up or right) and towards the cheese, and how sure the policy is of it:
the wall move's probability and its lead over the policy's next most likely move (a near tie is what sharper
training could flip; a sure wall move is a wrong belief). Last line: the fraction of looping episodes that stand
still.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from pathlib import Path

import numpy as np

from envs.actions import ACTION_SETS
from envs.layout import MazeLayout
from envs.state_codec import parse_state
from misgen.episodes import EpisodeFile


# procgen's four maze moves (envs/actions.py) as (dx, dy), y up
MOVES = dict(zip(ACTION_SETS["moves"].tolist(), [(-1, 0), (0, -1), (0, 1), (1, 0)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("episodes", type=Path, help="an episode file of a maze variant (misgen evaluate)")
    parser.add_argument("--tail", type=int, default=100, help="last steps read of each looping episode")
    args = parser.parse_args()
    distinct, block, distance_to_cheese, push = Counter(), Counter(), Counter(), Counter()
    wall_probability, wall_lead = [], []
    with EpisodeFile(args.episodes) as file:
        region = file.env_config["region"]
        loops = [record for record in (file.episode(i) for i in range(len(file)))
                 if not record.goal_reached and not record.proxy_reached]
        for record in loops:
            layout = MazeLayout.from_state(parse_state(record.initial_state, "maze"))
            cells = {(int(x) - layout.margin, int(y) - layout.margin) for x, y in record.agent_cells[-args.tail:]}
            distinct[min(len(cells), 5)] += 1
            block[min(max(layout.maze_dim - x, layout.maze_dim - y) for x, y in cells)] += 1
            cheese = layout.cheese
            distance_to_cheese[min(abs(x - cheese[0]) + abs(y - cheese[1]) for x, y in cells)] += 1
            if len(cells) == 1:  # the move it repeats goes into a wall: towards what?
                wall_move = int(record.actions[-1])
                (x, y), (dx, dy) = next(iter(cells)), MOVES[wall_move]
                push["towards the corner" if dx > 0 or dy > 0 else "away from the corner"] += 1
                push["towards the cheese"] += abs(x + dx - cheese[0]) + abs(y + dy - cheese[1]) < \
                    abs(x - cheese[0]) + abs(y - cheese[1])
                probabilities = record.action_probs[-1].astype(float)
                wall_probability.append(probabilities[wall_move])
                wall_lead.append(probabilities[wall_move] - max(np.delete(probabilities, wall_move)))
    n = len(loops)
    print(f"{n} episodes reached neither the cheese nor the region (region {region})")
    print("distinct cells in the last steps: " + ", ".join(
        f"{'5+' if k == 5 else k}: {v / n:.2f}" for k, v in sorted(distinct.items())))
    print("nearest top-right block the cycle enters: " + ", ".join(
        f"{k}x{k}: {v / n:.2f}" for k, v in sorted(block.items())))
    print("nearest cell distance (|dx| + |dy|) to the cheese: " + ", ".join(
        f"{k}: {v / n:.2f}" for k, v in sorted(distance_to_cheese.items())))
    print("the wall move of those standing still: " + ", ".join(
        f"{k} {v / distinct[1]:.2f}" for k, v in sorted(push.items())))
    for name, values in (("probability", wall_probability), ("lead over the next move", wall_lead)):
        if len(values) < 2:  # quartiles need two
            continue
        low, median, high = statistics.quantiles(values, n=4)
        print(f"the wall move's {name}: median {median:.2f} (quartiles {low:.2f}-{high:.2f})")
    print(f"{args.episodes.name}: {distinct[1] / n:.3f} of the looping episodes stand still in one cell")


if __name__ == "__main__":
    main()

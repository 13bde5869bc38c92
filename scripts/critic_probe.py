"""Does a maze agent's critic know where the cheese is, and does its actor? Read a checkpoint on frames of its
own training distribution, at cells whose shortest-path distance to the cheese is known.

PPO's policy gradient follows advantages, r + gamma V(s') - V(s): it can point the actor towards the cheese
only when the critic's value rises on moves that shorten the path. For each frame of a uniformly random walk
over the four moves (32 envs x 200 steps of the run's training variant), with the agent's cell and the level's
BFS distances:

- ``value ~ -distance``: Spearman correlation of V(s) with minus the distance to the cheese, over all frames and
  within each level (the mean over levels with at least 20 frames): does the critic track the distance?
- ``dV toward / away``: the mean change of V over a move that shortened / lengthened the path (walls, where the
  mouse stays put, excluded);
- ``dV path-toward-line-away / path-away-line-toward``: the same over the moves where the path and the straight
  line disagree: a move along the path that takes the mouse farther from the cheese as the crow flies (Manhattan
  distance), and one off the path that brings it nearer. A critic that knows the maze rises on the first and falls
  on the second; one that has learned only where the cheese is does the opposite;
- ``P(shortest move)``: the actor's mean probability of a shortest-path move (a uniform policy over the four
  moves: 0.25; one uniform over the open moves, which never walks into a wall: ``open``), and the share of
  frames where it is the argmax;
- ``P(wall)``: the actor's mean probability of walking into a wall (a uniform policy: the share of blocked moves,
  ``uniform``);
- ``readout``: held-out accuracy of a linear classifier of the shortest-path move from the features the actor's
  head reads, on frames of a second walk (320 envs x 20 steps: 320 levels), trained on half the levels and tested
  on the other half (``prior``: always the training half's most common move). High readout with a low
  P(shortest move) means the features know the move and the actor's head has not learned to use them; a readout
  near the prior means the features do not carry it.

    python scripts/critic_probe.py runs/NAME/checkpoints/step_T.zip [...]

The last line gives, for the last checkpoint, the within-level correlation.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.evaluation import load_model  # noqa: E402
from envs.actions import ACTION_SETS  # noqa: E402
from envs.layout import MazeLayout  # noqa: E402
from envs.probes import action_axes  # noqa: E402
from envs.state_codec import parse_state  # noqa: E402
from envs.variants import EnvConfig  # noqa: E402
from envs.vec_env import ProcgenVecEnv  # noqa: E402

MOVES = ACTION_SETS["moves"]


def walk(config: EnvConfig, n_envs: int, n_steps: int, seed: int) -> dict[str, np.ndarray]:
    """Frames of a uniform walk over the four moves, with each frame's distance to the cheese (along the maze's
    paths, and in a straight line: the Manhattan distance), the level it belongs to (an episode counter), and
    for each move the path distance after it."""
    env = ProcgenVecEnv(config, n_envs, num_threads=2, keep_initial_states=True)
    rng = np.random.default_rng(seed)
    obs = env.reset()
    layouts = [MazeLayout.from_state(parse_state(state, "maze")) for state in env.initial_states]
    episode = np.arange(n_envs)
    frames, distance, manhattan, level, open_moves = [], [], [], [], []
    dx, dy = action_axes(MOVES)
    for _ in range(n_steps):
        here, straight = [], []
        for index, (layout, cell) in enumerate(zip(layouts, env.agent_cells())):
            x, y = cell[0] - layout.margin, cell[1] - layout.margin
            here.append(layout.distances_to_goal[y, x])
            straight.append(abs(x - layout.cheese[0]) + abs(y - layout.cheese[1]))
            neighbours = [(x + mx, y + my) for mx, my in zip(dx, dy)]
            open_moves.append([layout.distances_to_goal[ny, nx] if 0 <= nx < layout.maze_dim
                               and 0 <= ny < layout.maze_dim else -1 for nx, ny in neighbours])
        frames.append(obs.copy())
        distance.append(here)
        manhattan.append(straight)
        level.append(episode.copy())
        obs, _, done, _ = env.step(MOVES[rng.integers(0, len(MOVES), n_envs)])
        for index in np.flatnonzero(done):
            layouts[index] = MazeLayout.from_state(parse_state(env.initial_states[index], "maze"))
            episode[index] = episode.max() + 1
    env.close()
    # step-major (n_steps, n_envs) -> one row per frame; "next" is the same env's following frame
    return {"frames": np.concatenate(frames), "distance": np.array(distance), "manhattan": np.array(manhattan),
            "level": np.array(level),
            "neighbour_distance": np.array(open_moves).reshape(n_steps, n_envs, len(MOVES))}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (ties broken by order, enough for a diagnostic)."""
    ranks = [np.argsort(np.argsort(v, kind="stable")) for v in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


WEIGHT_DECAYS = (1e-3, 1e-2, 1e-1, 1.0)  # the readout's L2 penalties, chosen among by levels held out of training


def fit_readout(x: torch.Tensor, y: torch.Tensor, weight_decay: float) -> torch.nn.Linear:
    """A multinomial logistic regression: Adam, 500 full-batch steps, L2 penalty ``weight_decay``."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(x.shape[1], len(MOVES))
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for _ in range(500):
        loss = torch.nn.functional.cross_entropy(layer(x), y) + weight_decay * layer.weight.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return layer


def accuracy(layer: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((layer(x).argmax(1) == y).float().mean())


def linear_readout(features: np.ndarray, labels: np.ndarray, level: np.ndarray) -> tuple[float, float]:
    """Held-out accuracy of a linear readout of ``labels`` from ``features``, trained on the even levels and tested
    on the odd ones, its L2 penalty chosen by a split of the even levels into two halves (with a few dozen levels
    and 256 features an unpenalized readout memorizes levels and scores below the prior); and the accuracy of
    always predicting the training levels' most common label."""
    x = torch.as_tensor(features, dtype=torch.float32)
    train = level % 2 == 0
    x = (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)
    y = torch.as_tensor(labels)
    fit, check = torch.as_tensor(train & (level % 4 == 0)), torch.as_tensor(train & (level % 4 == 2))
    best = max(WEIGHT_DECAYS, key=lambda decay: accuracy(fit_readout(x[fit], y[fit], decay), x[check], y[check]))
    train = torch.as_tensor(train)
    held_out = accuracy(fit_readout(x[train], y[train], best), x[~train], y[~train])
    prior = float((y[~train] == torch.bincount(y[train]).argmax()).float().mean())
    return held_out, prior


def actor_features(policy, frames: np.ndarray) -> np.ndarray:
    """The features the actor's head reads, (frames, features_dim)."""
    with torch.inference_mode():
        return np.concatenate([policy.features_extractor(policy.obs_to_tensor(frames[start:start + 512])[0].float()
                                                         / 255).numpy() for start in range(0, len(frames), 512)])


def shortest_moves(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(n_steps, n_envs, moves) whether each move shortens the path, and (n_steps, n_envs) whether one does."""
    distance, neighbours = data["distance"], data["neighbour_distance"]
    shortest = (neighbours == (distance[..., None] - 1)) & (distance[..., None] > 0)
    return shortest, shortest.any(axis=2)


def read(checkpoint: Path, data: dict[str, np.ndarray], readout_data: dict[str, np.ndarray]) -> dict[str, float]:
    policy = load_model(checkpoint, device="cpu").policy
    policy.set_training_mode(False)
    values, probs = [], []
    with torch.inference_mode():
        for start in range(0, len(data["frames"]), 512):
            batch = torch.as_tensor(data["frames"][start:start + 512])
            values.append(policy.predict_values(batch).flatten().numpy())
            probs.append(policy.get_distribution(batch).distribution.probs.numpy())
    n_steps, n_envs = data["distance"].shape
    value = np.concatenate(values).reshape(n_steps, n_envs)
    prob = np.concatenate(probs).reshape(n_steps, n_envs, len(MOVES))
    distance, level, neighbours = data["distance"], data["level"], data["neighbour_distance"]
    within = [spearman(value[level == lv], -distance[level == lv]) for lv in np.unique(level)
              if (level == lv).sum() >= 20 and len(np.unique(distance[level == lv])) > 1]
    change = value[1:] - value[:-1]
    moved = distance[1:] - distance[:-1]
    same = level[1:] == level[:-1]
    toward, away = change[same & (moved == -1)], change[same & (moved == 1)]
    straight = data["manhattan"][1:] - data["manhattan"][:-1]  # where path and straight line disagree:
    path_toward = change[same & (moved == -1) & (straight == 1)]
    line_toward = change[same & (moved == 1) & (straight == -1)]
    shortest, has = shortest_moves(data)
    p_short = (prob * shortest).sum(axis=2)[has]
    chance = (1 / (neighbours >= 0).sum(axis=2))[has]
    argmax = shortest[has][np.arange(has.sum()), prob[has].argmax(axis=1)]
    blocked = neighbours < 0
    readout_shortest, readout_has = shortest_moves(readout_data)
    features = actor_features(policy, readout_data["frames"]).reshape(*readout_has.shape, -1)
    readout, prior = linear_readout(features[readout_has], readout_shortest[readout_has].argmax(axis=1),
                                    readout_data["level"][readout_has])
    return {"readout": readout, "prior": prior, "value_vs_distance": spearman(value.ravel(), -distance.ravel()),
            "within_level": float(np.mean(within)), "levels": len(within),
            "dv_toward": float(toward.mean()), "dv_away": float(away.mean()),
            "dv_path_toward": float(path_toward.mean()), "dv_line_toward": float(line_toward.mean()),
            "p_shortest": float(p_short.mean()), "p_chance": float(chance.mean()), "argmax_shortest": float(argmax.mean()),
            "p_wall": float((prob * blocked).sum(axis=2).mean()), "p_wall_uniform": float(blocked.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--region", type=int, default=3)
    parser.add_argument("--max-maze-size", type=int, default=9)
    args = parser.parse_args()
    config = EnvConfig(variant="maze-topright", region=args.region, max_maze_size=args.max_maze_size, seed=7)
    data = walk(config, 32, 200, 0)
    readout_data = walk(replace(config, seed=8), 320, 20, 1)  # short walks on 320 levels: the readout's data
    print("checkpoint | value ~ -distance (all / within level, levels) | dV toward / away | "
          "P(shortest move) (open) | argmax shortest | P(wall) (uniform) | readout (prior) | "
          "dV path-toward-line-away / path-away-line-toward")
    for checkpoint in args.checkpoints:
        r = read(checkpoint, data, readout_data)
        print(f"{checkpoint} | {r['value_vs_distance']:.3f} / {r['within_level']:.3f} ({r['levels']}) | "
              f"{r['dv_toward']:+.4f} / {r['dv_away']:+.4f} | {r['p_shortest']:.3f} ({r['p_chance']:.3f}) | "
              f"{r['argmax_shortest']:.3f} | {r['p_wall']:.3f} ({r['p_wall_uniform']:.3f}) | {r['readout']:.3f} "
              f"({r['prior']:.3f}) | {r['dv_path_toward']:+.4f} / {r['dv_line_toward']:+.4f}", flush=True)
    print(f"within-level correlation of value with -distance, last checkpoint: {r['within_level']:.3f}")


if __name__ == "__main__":
    main()

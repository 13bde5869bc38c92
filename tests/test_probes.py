"""Behaviour probes on real levels: goal and proxy events fire exactly when they should."""

from __future__ import annotations

from collections import deque

import numpy as np

from conftest import MOVES, RIGHT, RIGHT_UP, level_states
from envs.layout import MazeLayout
from envs.levels import make_gym3
from envs.state_codec import find_agent, read_entities
from envs.state_io import StateAccess
from envs.vec_env import ProcgenVecEnv
from envs.variants import EnvConfig


def test_maze_probe_tracks_the_mouse_exactly(rng):
    env = ProcgenVecEnv(EnvConfig(variant="maze", distribution_mode="hard"), 8, 1)
    env.reset()
    for _ in range(600):
        _, _, done, _ = env.step(rng.integers(0, 15, 8))
        for index in range(8):
            agent = env._access.get(index).agent
            assert env.probe.world_cell(index) == (int(agent["x"]), int(agent["y"]))


def _shortest_path(maze: MazeLayout) -> list[tuple[int, int]]:
    """Cells from the start to the cheese (both included), by breadth-first search."""
    previous = {maze.agent: None}
    queue = deque([maze.agent])
    while queue:
        cell = queue.popleft()
        for dx, dy in MOVES:
            x, y = cell[0] + dx, cell[1] + dy
            if 0 <= x < maze.maze_dim and 0 <= y < maze.maze_dim and maze.open_cells[y, x] and (x, y) not in previous:
                previous[(x, y)] = cell
                queue.append((x, y))
    path = [maze.cheese]
    while previous[path[-1]] is not None:
        path.append(previous[path[-1]])
    return path[::-1]


def test_shortest_path_agent_triggers_goal_and_proxy_on_the_exact_steps():
    for variant in ("maze", "maze-topright"):
        config = EnvConfig(variant=variant)
        seeds = list(range(40))
        mazes = [MazeLayout.from_state(s) for s in level_states(config, seeds)]
        env = ProcgenVecEnv(config, 1, 0, level_seeds=seeds)
        env.reset()
        for maze in mazes:
            path = _shortest_path(maze)
            first_in_region = next(i for i, c in enumerate(path) if maze.in_region(c, 5)) if any(
                maze.in_region(c, 5) for c in path) else -1
            for step, (a, b) in enumerate(zip(path, path[1:]), start=1):
                _, reward, done, infos = env.step(np.array([MOVES[(b[0] - a[0], b[1] - a[1])]]))
                assert done[0] == (step == len(path) - 1)
            info = infos[0]
            assert info["level_seed"] == maze.level_seed
            assert info["goal_reached"] and info["goal_step"] == len(path) - 1 and reward[0] == 10
            assert info["proxy_step"] == first_in_region and info["proxy_reached"] == (first_in_region >= 0)
            if variant == "maze-topright":
                assert info["proxy_reached"]


def _first_entry(env: ProcgenVecEnv, index: int) -> bool:
    agent = find_agent(read_entities(env._access.get_bytes(index)))
    return float(agent["x"]) + float(agent["rx"]) > env.probe.end_x[index]


def test_coinrun_proxy_step_matches_the_state_read_every_step(rng):
    """A right-leaning random policy; ground truth from reading every env's state after every step."""
    for variant in ("coinrun", "coinrun-randcoin"):
        env = ProcgenVecEnv(EnvConfig(variant=variant), 16, 1, level_seeds=range(400))
        env.reset()
        truth = np.full(16, -1)
        checked = reached = goals = 0
        while checked < 120:
            actions = np.where(rng.random(16) < 0.6, rng.choice([RIGHT, RIGHT_UP], 16), rng.integers(0, 15, 16))
            _, _, done, infos = env.step(actions)
            for index in range(16):
                if done[index]:
                    info = infos[index]
                    expected = truth[index]
                    if expected < 0 and info["goal_reached"] and variant == "coinrun":
                        expected = info["goal_step"]  # the coin sits in the last column
                    assert info["proxy_step"] == expected, (variant, info["level_seed"])
                    checked += 1
                    reached += info["proxy_reached"]
                    goals += info["goal_reached"]
                    truth[index] = -1
                elif truth[index] < 0 and _first_entry(env, index):
                    truth[index] = env.episode_length[index]
        assert reached >= 10, variant
        if variant == "coinrun-randcoin":
            assert goals >= 10  # the coin moved into the agent's way in some levels


def test_randcoin_goal_is_the_moved_coin_and_proxy_the_end():
    """Running right: the coin is collected where it now lies, and only in levels where it is on the way."""
    config = EnvConfig(variant="coinrun-randcoin")
    env = ProcgenVecEnv(config, 1, 0, level_seeds=range(30))
    env.reset()
    outcomes = []
    while len(outcomes) < 30:
        _, reward, done, infos = env.step(np.array([RIGHT_UP]))
        if done[0]:
            info = infos[0]
            assert info["goal_reached"] == (info["episode"]["r"] == 10)
            assert not (info["goal_reached"] and info["proxy_reached"])  # a right-runner never turns back
            outcomes.append((info["goal_reached"], info["proxy_reached"]))
    assert any(goal and not proxy for goal, proxy in outcomes)
    assert any(proxy and not goal for goal, proxy in outcomes)


def _play(config: EnvConfig, state, actions) -> list[tuple[np.ndarray, float, bool]]:
    """Frames, rewards and dones of ``actions`` played from ``state`` in a fresh one-env instance, to the first
    done."""
    env = make_gym3(config, 1, 0, 0)
    try:
        StateAccess.of(env, config).set(0, state)
        steps = []
        for action in actions:
            env.act(np.array([action], dtype=np.int32))
            reward, ob, first = env.observe()
            steps.append((ob["rgb"][0].copy(), float(reward[0]), bool(first[0])))
            if first[0]:
                break
        return steps
    finally:
        env.close()


def test_equal_maze_decision_states_have_the_same_future(rng):
    """Two steps of an episode with the same decision state (cell and facing) show the same frame, and the same
    actions from either give the same frames, rewards and ends: the state that decides the future, not the frame
    alone (the two states differ in their time and random generators)."""
    config = EnvConfig(variant="maze")
    env = ProcgenVecEnv(config, 1, 0, level_seeds=range(200))
    obs = env.reset()
    pairs = checked = 0
    while checked < 6:
        first_seen = {int(env.decision_states()[0]): (obs[0].copy(), env._access.get(0))}
        for _ in range(200):
            obs, _, done, _ = env.step(rng.integers(0, 15, 1))
            if done[0]:
                break
            key = int(env.decision_states()[0])
            if key not in first_seen:
                first_seen[key] = (obs[0].copy(), env._access.get(0))
                continue
            pairs += 1
            earlier_obs, earlier = first_seen[key]
            assert np.array_equal(obs[0], earlier_obs)
            now = env._access.get(0)
            if (now.fields["cur_time"] - earlier.fields["cur_time"] >= 4 and rng.random() < 0.2
                    and now.fields["cur_time"] + 60 < now.fields["timeout"]):  # the limit alone tells them apart
                assert now.fields["rand_gen.mt19937"] != earlier.fields["rand_gen.mt19937"]
                actions = rng.integers(0, 15, 60)
                futures = [_play(config, state, actions) for state in (earlier, now)]
                assert len(futures[0]) == len(futures[1])
                for (frame_a, reward_a, done_a), (frame_b, reward_b, done_b) in zip(*futures):
                    assert np.array_equal(frame_a, frame_b) and (reward_a, done_a) == (reward_b, done_b)
                checked += 1
    env.close()
    assert pairs > 100

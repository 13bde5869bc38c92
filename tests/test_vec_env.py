"""The SB3 VecEnv over procgen, and the `misgen envs` commands."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecEnv

from envs.actions import ACTION_SETS, ActionSetVecEnv, action_set_of
from envs.layout import MazeLayout
from envs.state_codec import parse_state
from envs.vec_env import ProcgenVecEnv
from envs.variants import EnvConfig
from conftest import MISGEN


def test_sb3_conformance_and_episode_statistics(rng):
    env = ProcgenVecEnv(EnvConfig(variant="coinrun-randcoin"), 4, 1)
    assert isinstance(env, VecEnv) and env.num_envs == 4
    obs = env.reset()
    assert obs.shape == (4, 3, 64, 64) and obs.dtype == np.uint8 and env.observation_space.contains(obs[0])
    returns = np.zeros(4)
    finished = 0
    for _ in range(1500):
        obs, reward, done, infos = env.step(rng.integers(0, 15, 4))
        assert obs.shape == (4, 3, 64, 64) and reward.dtype == np.float32 and done.dtype == bool and len(infos) == 4
        returns += reward
        for index in range(4):
            assert isinstance(infos[index]["level_seed"], int)
            if done[index]:
                info = infos[index]
                assert info["episode"]["r"] == returns[index] and info["episode"]["l"] > 0
                assert info["terminal_observation"].shape == (3, 64, 64)
                assert {"goal_reached", "proxy_reached", "goal_step", "proxy_step"} <= info.keys()
                returns[index] = 0
                finished += 1
    assert finished > 5
    with pytest.raises(ValueError, match="procgen actions 0..14"):
        env.step(np.full(4, 15))
    env.step(np.zeros(4, dtype=int))  # refused before procgen stepped: the env goes on
    env.close()


def test_same_seed_same_levels_and_seed_changes_them():
    def seeds_seen(seed: int) -> list[int]:
        env = ProcgenVecEnv(EnvConfig(variant="maze", seed=seed), 2, 1)
        env.reset()
        first = env.level_seed.tolist()
        env.close()
        return first

    assert seeds_seen(3) == seeds_seen(3) != seeds_seen(4)
    env = ProcgenVecEnv(EnvConfig(variant="maze", seed=3), 2, 1)
    env.seed(4)  # SB3 seeds the env this way: applied at the next reset
    env.reset()
    assert env.level_seed.tolist() == seeds_seen(4)


def test_level_seed_list_plays_each_seed_once_in_order():
    env = ProcgenVecEnv(EnvConfig(variant="maze-topright"), 3, 1, level_seeds=[11, 12, 13, 14, 15])
    env.reset()
    assert env.level_seed.tolist() == [11, 12, 13] and env.level_index.tolist() == [0, 1, 2]
    finished = {}
    for _ in range(3000):
        _, _, done, infos = env.step(np.full(3, 4))  # stand still: every episode times out
        for index in np.flatnonzero(done):
            finished[infos[index]["level_index"]] = infos[index]["level_seed"]
        if len(finished) >= 5:
            break
    assert {i: finished[i] for i in range(5)} == {0: 11, 1: 12, 2: 13, 3: 14, 4: 15}


def test_ended_episodes_end_at_the_next_step_and_the_others_play_on():
    env = ProcgenVecEnv(EnvConfig(variant="maze"), 3, 1, level_seeds=[21, 22, 23, 24])
    env.reset()
    for _ in range(5):
        env.step(np.full(3, 4))
    env.end_episodes(np.array([False, True, False]))
    _, reward, done, infos = env.step(np.full(3, 4))
    assert done.tolist() == [False, True, False] and reward[1] == 0
    assert infos[1]["ended_early"] and infos[1]["time_limit"] == 500 and infos[1]["episode"]["l"] == 5
    assert infos[1]["level_index"] == 1 and env.level_index.tolist() == [0, 3, 2]
    assert env.episode_length.tolist() == [6, 0, 6]
    _, _, done, infos = env.step(np.full(3, 4))
    assert not done.any() and not any("ended_early" in info for info in infos)
    env.close()


def test_moves_action_set_steps_procgen_moves_and_sizes_name_sets(rng):
    config = EnvConfig(variant="maze")
    moves = ActionSetVecEnv(ProcgenVecEnv(config, 2, 1, level_seeds=range(20)), "moves")
    raw = ProcgenVecEnv(config, 2, 1, level_seeds=range(20))
    assert moves.action_space.n == 4 and raw.action_space.n == 15
    moves.reset(), raw.reset()
    for _ in range(300):
        choices = rng.integers(0, 4, 2)
        _, reward, done, _ = moves.step(choices)
        _, raw_reward, raw_done, _ = raw.step(ACTION_SETS["moves"][choices])
        assert (reward == raw_reward).all() and (done == raw_done).all()
        assert (moves.venv.agent_cells() == raw.agent_cells()).all()
    assert action_set_of(4) == "moves" and action_set_of(15) == "procgen"
    with pytest.raises(ValueError, match="matches no action set"):
        action_set_of(7)


def test_coinrun_special_keys_stand_still_so_directions_lose_nothing():
    """Copies of one coinrun level, played alike, take action 4 or one of the special keys 9-14 at the same steps:
    every later frame, reward and end is the same, so the nine ``directions`` are all coinrun tells apart. A copy
    that moves left there instead (the control) is seen to differ."""
    env = ProcgenVecEnv(EnvConfig(variant="coinrun"), 8, 1, level_seeds=[12345] * 8)
    obs = env.reset()
    assert action_set_of(9) == "directions" and (ACTION_SETS["directions"] == np.arange(9)).all()
    right_leaning = [7, 8, 7, 8, 5, 7, 6, 8, 1, 7, 7, 8]
    control_differed = False
    for step in range(60):
        common = right_leaning[step % len(right_leaning)]
        actions = np.array([4, 9, 10, 11, 12, 13, 14, 1]) if step in (5, 20) else np.full(8, common)
        obs, reward, done, _ = env.step(actions)
        standing = slice(0, 7)
        assert (obs[standing] == obs[0]).all() and (reward[standing] == reward[0]).all(), step
        assert (done[standing] == done[0]).all(), step
        control_differed |= bool((obs[7] != obs[0]).any())
        if done[0]:
            break
    assert control_differed
    env.close()


def test_distances_to_goal_are_shortest_paths():
    env = ProcgenVecEnv(EnvConfig(variant="maze", max_maze_size=9), 4, 1, keep_initial_states=True)
    env.reset()
    for state in env.initial_states:
        layout = MazeLayout.from_state(parse_state(state, "maze"))
        distance = layout.distances_to_goal
        assert distance[layout.cheese[1], layout.cheese[0]] == 0
        assert layout.goal_distance == distance[layout.agent[1], layout.agent[0]] > 0
        assert ((distance >= 0) == layout.open_cells).all()  # procgen's mazes are connected
        for y, x in zip(*np.nonzero(distance > 0)):  # every cell has a neighbour one move closer
            neighbours = [distance[ny, nx] for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))
                          if 0 <= nx < layout.maze_dim and 0 <= ny < layout.maze_dim]
            assert distance[y, x] - 1 in neighbours
    env.close()


def test_walking_the_path_to_the_region_takes_the_cheese_exactly_when_it_lies_on_it():
    """A scripted agent that follows ``path_to_region`` in real procgen: it ends its episode on the cheese when
    ``goal_on_proxy_path`` says the cheese is on the way, and reaches the region without it when not."""
    region, seeds = 2, list(range(40))
    env = ProcgenVecEnv(EnvConfig(variant="maze", max_maze_size=9, region=region), 1, 1, level_seeds=seeds)
    env.reset()
    outcomes = {True: 0, False: 0}
    for _ in seeds:
        layout = env.layouts[0]
        passages = (layout.open_cells[:, 1:] & layout.open_cells[:, :-1]).sum() \
            + (layout.open_cells[1:] & layout.open_cells[:-1]).sum()
        assert passages == layout.open_cells.sum() - 1  # a tree: one way between any two cells
        path = layout.path_to_region(region)
        assert path[0] == layout.agent and layout.in_region(path[-1], region)
        assert not any(layout.in_region(cell, region) for cell in path[:-1])  # it stops at the region's edge
        on_path = layout.goal_on_proxy_path(region)
        closed = layout.open_cells.copy()  # without the block's entry cell, no way into the block is left
        closed[path[-1][1], path[-1][0]] = False
        blocked = MazeLayout(layout.level_seed, layout.maze_dim, layout.margin, closed, layout.agent, None)
        assert not any(blocked.path_to_region(region))
        if layout.in_region(layout.cheese, region):
            assert not on_path  # the cheese inside the region is not "on the way" to it
        done = [False]
        for (x, y), (nx, ny) in zip(path, path[1:]):
            assert abs(nx - x) + abs(ny - y) == 1 and layout.open_cells[ny, nx]
            _, _, done, infos = env.step(np.array([(nx - x + 1) * 3 + (ny - y + 1)]))  # procgen: (dx+1)*3 + dy+1
            if done[0]:
                break
        if not layout.in_region(layout.cheese, region):
            outcomes[on_path] += 1
            if on_path:
                assert done[0] and infos[0]["goal_reached"]
                assert (nx, ny) == layout.cheese and not infos[0]["proxy_reached"]
            else:
                assert not done[0] and env.proxy_step[0] >= 0  # in the region, the cheese not taken
        if not done[0]:
            env.reset()  # the next level seed (procgen started it already where the episode ended)
    assert min(outcomes.values()) >= 5  # both kinds of level were walked
    env.close()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MISGEN, *args], capture_output=True, text=True, timeout=120)


def test_cli_envs_lists_and_samples():
    listed = run_cli("envs")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "maze", "maze-topright", "coinrun", "coinrun-randcoin"]
    sampled = run_cli("envs", "sample", "maze-topright", "--levels", "4", "--json")
    rows = [json.loads(line) for line in sampled.stdout.splitlines()]
    assert [r["level_seed"] for r in rows] == [0, 1, 2, 3]
    for row in rows:
        assert row["agent"] == [0, 0] and min(row["goal"]) >= row["size"] - 5
    assert sampled.stderr == ""


def test_cli_bad_input_is_one_line_and_exit_2():
    for args in (("envs", "sample", "nope"), ("envs", "sample", "maze", "--mode", "extreme")):
        result = run_cli(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("misgen: error:")


def test_cli_evaluate_on_coinrun_reports_langosco_measures_from_its_own_episodes():
    """The end reached (over every level) and the coin missed where it was moved (over the levels whose coin is
    not at the end), as misgen evaluate prints them, recomputed from the same evaluation's JSON."""
    args = ["evaluate", "random", "--variant", "coinrun-randcoin", "--episodes", "12", "--sample", "--seed", "3"]
    text, as_json = run_cli(*args), run_cli(*args, "--json")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    episodes = json.loads(as_json.stdout)["episodes"]
    moved = [e for e in episodes if not e["goal_in_region"]]
    end = np.mean([e["proxy_reached"] for e in episodes])
    missed = np.mean([not e["goal_reached"] for e in moved])
    line = text.stdout.strip().splitlines()[-1]
    assert line.startswith(f"end reached {end:.3f} (") and f"coin missed where it was moved {missed:.3f} (" in line
    assert line.endswith(f"({len(moved)} levels)")

"""A stable-baselines3 ``VecEnv`` straight over ``ProcgenGym3Env``: no subprocesses, variants applied in place.

At every episode start the environment reads the new level's state, applies the variant's edit, checks it and
writes it back, so the first observation already shows the edited level. Each step's ``infos[i]`` holds the
current ``level_seed``; when an episode ends it also holds VecMonitor-style ``episode`` statistics and the
probes' verdicts::

    {"episode": {"r": return, "l": length, "t": seconds since start},
     "level_seed": int, "goal_reached": bool, "proxy_reached": bool,
     "goal_step": int (-1: never), "proxy_step": int (-1: never; 0: started in the region),
     "goal_in_region": bool (the goal started inside the proxy region),
     "goal_distance": int (maze: moves on the shortest path from the start to the cheese; -1 otherwise),
     "level_index": position in ``level_seeds`` or -1, "terminal_observation": (3, 64, 64) uint8}

procgen resets inside its own step and never shows the terminal frame: ``terminal_observation`` is the last
observation the agent acted on. Timeouts are reported as terminations (as in the Procgen paper and CleanRL),
so SB3 never bootstraps from it. :meth:`ProcgenVecEnv.end_episodes` ends chosen episodes at the next step,
whatever the action; their info then also holds ``"ended_early": True`` and ``"time_limit"`` (the steps procgen
would have allowed the episode), and ``episode["l"]`` counts the steps they played.

Observations are (n_envs, 3, 64, 64) uint8, a channel-first *view* of procgen's (n, 64, 64, 3) buffer: SB3
then needs no ``VecTransposeImage``, and the one copy it makes into its rollout buffer does the transpose.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from gymnasium import spaces
from procgen import ProcgenGym3Env
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from envs.layout import CoinrunLayout, MazeLayout
from envs.levels import FORCE_RESET, LevelLoader, admitted, make_gym3
from envs.probes import N_ACTIONS, STAND_STILL, CoinrunProbe, MazeProbe
from envs.state_checks import RULES
from envs.state_codec import find_agent, read_entities, serialize_state
from envs.state_io import StateAccess
from envs.variants import EnvConfig, edit_level

OBSERVATION_SPACE = spaces.Box(0, 255, (3, 64, 64), np.uint8)  # CHW, as SB3's CNN policies expect
ACTION_SPACE = spaces.Discrete(N_ACTIONS)


class ProcgenVecEnv(VecEnv):
    """``n_envs`` procgen environments of ``config``'s variant.

    :param level_seeds: if given, episodes play these level seeds in order (one episode each, in whichever env
        is free first; ``infos[i]['level_index']`` says which); once they run out, levels are procgen's own.
    :param num_threads: procgen's C++ stepping threads.
    :param render: also render procgen's 512x512 frames (``get_images``); slower.
    :param keep_initial_states: keep each episode's first state (after the edit) in ``initial_states``, for
        episode files.
    """

    def __init__(self, config: EnvConfig, n_envs: int, num_threads: int = 4,
                 level_seeds: Iterable[int] | None = None, render: bool = False, keep_initial_states: bool = False):
        self.config = config
        self.render_mode = "rgb_array" if render else None
        super().__init__(n_envs, OBSERVATION_SPACE, ACTION_SPACE)
        self.num_threads = num_threads
        self._seed = config.seed
        self._level_seeds: Iterator[tuple[int, int]] | None = (
            enumerate(level_seeds) if level_seeds is not None else None)
        self._loader = LevelLoader(config) if level_seeds is not None or config.restricts_sizes else None
        self._gym3: ProcgenGym3Env | None = None
        self._needs_rebuild = True
        self._start_time = time.perf_counter()
        world = RULES[config.game].world_size[config.mode_id]
        self.probe = MazeProbe(n_envs, world, config.region) if config.game == "maze" else CoinrunProbe(n_envs)
        self.episode_return = np.zeros(n_envs)
        self.episode_length = np.zeros(n_envs, dtype=np.int64)
        self.proxy_step = np.full(n_envs, -1, dtype=np.int64)
        self.level_seed = np.zeros(n_envs, dtype=np.int64)
        self.level_index = np.full(n_envs, -1, dtype=np.int64)
        self._goal_in_region = np.zeros(n_envs, dtype=bool)
        self._goal_distance = np.full(n_envs, -1, dtype=np.int64)
        self.time_limit = np.zeros(n_envs, dtype=np.int64)  # steps procgen allows each running episode
        self._ending = np.zeros(n_envs, dtype=bool)  # episodes that end at the next step (end_episodes)
        self.goal_cells: list[tuple[int, int] | None] = [None] * n_envs  # world cells at episode start
        self.layouts: list[MazeLayout | CoinrunLayout | None] = [None] * n_envs  # each episode's level at its start
        self.initial_states: list[bytes] | None = [b""] * n_envs if keep_initial_states else None
        self._actions = np.zeros(n_envs, dtype=np.int32)
        self._infos: list[dict[str, Any]] = []
        self._last_obs: np.ndarray | None = None

    # --- episode bookkeeping ------------------------------------------------------------------------------
    def _begin_episode(self, index: int) -> None:
        """Edit (or load from ``level_seeds``) the level env ``index`` just started, and reset its counters."""
        next_level = next(self._level_seeds, None) if self._level_seeds is not None else None
        if next_level is not None:
            self.level_index[index], seed = next_level
            state = self._loader.state(seed)
            self._access.set(index, state)
        else:
            self.level_index[index] = -1
            state = self._access.get(index)
            if not admitted(self.config, state):
                state = self._loader.stand_in(state)
                self._access.set(index, state)
            elif edit_level(state, self.config):
                self._access.set(index, state)
        layout = self.probe.start(index, state)
        self._goal_in_region[index] = self.probe.goal_in_region(layout)
        self._goal_distance[index] = layout.goal_distance
        self.goal_cells[index] = layout.goal_world_cell
        self.layouts[index] = layout
        if self.initial_states is not None:
            self.initial_states[index] = serialize_state(state)
        self.proxy_step[index] = 0 if self.probe.in_region_at_start(index) else -1
        self.level_seed[index] = state.level_seed
        self.time_limit[index] = int(state.fields["timeout"]) - int(state.fields["cur_time"])
        self.episode_return[index] = 0.0
        self.episode_length[index] = 0

    def _episode_info(self, index: int, goal: bool) -> dict[str, Any]:
        length = int(self.episode_length[index])
        proxy_step = int(self.proxy_step[index])
        return {
            "episode": {"r": float(self.episode_return[index]), "l": length,
                        "t": round(time.perf_counter() - self._start_time, 6)},
            "level_seed": int(self.level_seed[index]),
            "level_index": int(self.level_index[index]),
            "goal_reached": goal, "proxy_reached": proxy_step >= 0, "goal_in_region": bool(self._goal_in_region[index]),
            "goal_distance": int(self._goal_distance[index]),
            "goal_step": length if goal else -1, "proxy_step": proxy_step,
            "terminal_observation": self._last_obs[index].transpose(2, 0, 1),
        } | ({"ended_early": True, "time_limit": int(self.time_limit[index])} if self._ending[index] else {})

    def decision_states(self) -> np.ndarray:
        """maze: every env's :meth:`MazeProbe.decision_states`, shape (n_envs,): within an episode, equal values
        are the same game state for everything that follows, but for the time limit."""
        if not isinstance(self.probe, MazeProbe):
            raise ValueError(f"{self.config.game} has no decision states: only maze's are known")
        return self.probe.decision_states()

    def end_episodes(self, indices: np.ndarray) -> None:
        """End the episodes of the envs ``indices`` (ints or a mask) at the next step, instead of their actions
        (procgen's forced reset); the envs then start their next level as after any episode."""
        self._ending[indices] = True

    def agent_cells(self) -> np.ndarray:
        """Every agent's current world cell (x, y), shape (n_envs, 2); coinrun reads each env's state."""
        if isinstance(self.probe, MazeProbe):
            return np.array([self.probe.world_cell(i) for i in range(self.num_envs)])
        agents = [find_agent(read_entities(self._access.get_bytes(i))) for i in range(self.num_envs)]
        return np.array([(int(np.floor(a["x"])), int(np.floor(a["y"]))) for a in agents])

    # --- VecEnv API -------------------------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        """Start a fresh episode in every env (rebuilding procgen if the seed changed) and return observations."""
        if self._needs_rebuild:
            if self._gym3 is not None:
                self._gym3.close()
            self._gym3 = make_gym3(self.config, self.num_envs, self.num_threads, self._seed,
                                   self.render_mode is not None)
            self._access = StateAccess.of(self._gym3, self.config)
            self._needs_rebuild = False
        else:  # end every running episode; procgen draws new levels
            self._gym3.act(np.full(self.num_envs, FORCE_RESET, dtype=np.int32))
        self._ending[:] = False
        self._gym3.observe()
        for index in range(self.num_envs):
            self._begin_episode(index)
        _, ob, _ = self._gym3.observe()
        self._last_obs = ob["rgb"]
        self._reset_seeds()
        return self._last_obs.transpose(0, 3, 1, 2)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int32).reshape(self.num_envs)
        if self._actions.min() < 0 or self._actions.max() >= N_ACTIONS:
            raise ValueError(f"actions must be procgen actions 0..{N_ACTIONS - 1}, got {self._actions.tolist()}")
        if self._ending.any():
            self._actions = np.where(self._ending, STAND_STILL, self._actions)  # what the probe replays
            self._gym3.act(np.where(self._ending, FORCE_RESET, self._actions).astype(np.int32))
        else:
            self._gym3.act(self._actions)  # procgen's threads step while the caller does other work
        # what needs only the actions runs now, while procgen's threads step
        self.probe.advance(self._actions)
        self.episode_length += ~self._ending
        self._infos = [{"level_seed": seed} for seed in self.level_seed.tolist()]

    def step_wait(self):
        reward, ob, done = self._gym3.observe()
        obs = ob["rgb"]
        level_complete = self._gym3._info["prev_level_complete"]  # gym3 keeps info in these arrays
        self.episode_return += reward
        pending = self.proxy_step < 0
        in_region = self.probe.check(self._access, pending & ~done)
        reached = pending & in_region
        self.proxy_step[reached] = self.episode_length[reached]

        infos: list[dict[str, Any]] = self._infos
        for index in np.flatnonzero(done):
            goal = bool(level_complete[index])
            if goal and self.proxy_step[index] < 0 and self._goal_in_region[index]:
                self.proxy_step[index] = self.episode_length[index]  # the goal sits inside the region
            infos[index] = self._episode_info(index, goal)
            self._begin_episode(index)
            infos[index]["next_level_seed"] = int(self.level_seed[index])
            obs[index] = self._gym3._ob["rgb"][index]  # set_state re-rendered this env's observation
        self._ending[:] = False
        self._last_obs = obs
        return obs.transpose(0, 3, 1, 2), reward, done.copy(), infos

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Use ``seed`` as procgen's ``rand_seed`` from the next ``reset()`` on."""
        if seed is not None and seed != self._seed:
            self._seed = seed
            self._needs_rebuild = True
        return [self._seed] * self.num_envs

    def close(self) -> None:
        if self._gym3 is not None:
            self._gym3.close()
            self._gym3 = None
        if self._loader is not None:
            self._loader.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """512x512 frames if rendering, else the 64x64 observations (HWC uint8)."""
        if self.render_mode is None:
            return list(self._last_obs)
        return [info["rgb"] for info in self._gym3.get_info()]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs):
        return [getattr(self, method_name)(*method_args, **method_kwargs)
                for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))

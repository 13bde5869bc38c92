"""Re-simulate recorded episodes from their initial state and actions, check them, and render them.

Replays need no stored frames: the initial state (checked before procgen sees it) and the actions reproduce the
episode exactly, and every step's agent cell and reward must match the recording (a mismatch is an error).
Frames are procgen's 512x512 renders with an overlay (step, action, reward, goal and proxy events). An episode
of L actions gives L + 1 frames: the state each action was taken in, then the final state. procgen resets
inside the step that ends an episode, so that final state is rebuilt: in maze the mouse is moved to the cell its
last action reached; in coinrun, whose physics cannot be replayed outside procgen, the last frame is held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import imageio.v3 as imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from envs.layout import CoinrunLayout, MazeLayout  # noqa: E402
from envs.levels import LEVEL_SEED_GENERATOR, LevelLoader, make_gym3  # noqa: E402
from envs.probes import N_ACTIONS, MazeProbe  # noqa: E402
from envs.state_checks import MAZE_GOAL, MAZE_WALL, RULES, SPACE, WALL_MID, WALL_TOP, check_state  # noqa: E402
from envs.state_codec import ProcgenState, find_agent, parse_state, read_entities  # noqa: E402
from envs.state_io import StateAccess  # noqa: E402
from envs.variants import EnvConfig  # noqa: E402
from misgen.episodes import EpisodeFile, EpisodeRecord  # noqa: E402
from misgen.errors import MisgenError  # noqa: E402
from misgen.schema import dataclass_from_json  # noqa: E402

ACTION_NAMES = ["left-down", "left", "left-up", "down", "none", "up", "right-down", "right", "right-up",
                "D", "A", "W", "S", "Q", "E"]


@dataclass
class Played:
    """An episode as re-simulated: L actions, rewards and cells, and L + 1 frames."""

    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    cells: list[tuple[int, int]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    goal_step: int = -1
    proxy_step: int = -1
    ended: bool = False


class Simulator:
    """A single procgen environment of one game and mode (rendering 512x512 frames if ``render``)."""

    def __init__(self, config: EnvConfig, render: bool = True):
        self.config = config
        self.env = make_gym3(config, 1, 0, 0, render=render)
        self.access = StateAccess.of(self.env, config)

    def load(self, state: bytes | ProcgenState) -> ProcgenState:
        """Start from ``state`` (checked first: malformed bytes raise, procgen never sees them)."""
        self.access.set(0, state)
        return self.access.get(0)

    def frame(self) -> np.ndarray:
        self.env.observe()
        return self.env.get_info()[0]["rgb"].copy()

    def observation(self) -> np.ndarray:
        """The policy's view, (1, 3, 64, 64) uint8."""
        return self.env.observe()[1]["rgb"].transpose(0, 3, 1, 2)

    def step(self, action: int) -> tuple[float, bool]:
        self.env.act(np.array([action], dtype=np.int32))
        reward, _, first = self.env.observe()
        return float(reward[0]), bool(first[0])

    def close(self) -> None:
        self.env.close()


class ProxyRegion:
    """The variant's proxy region (as envs/probes.py defines it), tested on the agent read from the state."""

    def __init__(self, state: ProcgenState, region: int):
        self.maze, self.region, self.end_x = None, region, 0
        if state.game == "maze":
            self.maze = MazeLayout.from_state(state)
            self.goal_inside = self.maze.cheese is not None and self.maze.in_region(self.maze.cheese, region)
        else:
            run = CoinrunLayout.from_state(state)
            self.end_x, self.goal_inside = run.end_x, run.coin is not None and run.coin[0] == run.end_x

    def contains(self, agent: np.void | None, cell: tuple[int, int] | None) -> bool:
        if self.maze is not None:
            m = self.maze.margin
            return cell is not None and self.maze.in_region((cell[0] - m, cell[1] - m), self.region)
        return agent is not None and float(agent["x"] + agent["rx"]) > self.end_x


def _final_state(before_last: ProcgenState, last_action: int) -> tuple[ProcgenState | None, tuple[int, int] | None]:
    """Maze: the state after the last action (mouse moved, cheese eaten), and the mouse's cell. Coinrun: None."""
    if before_last.game != "maze":
        return None, None
    probe = MazeProbe(1, RULES["maze"].world_size[before_last.fields["distribution_mode"]], 1)
    probe.start(0, before_last)
    probe.advance(np.array([last_action]))
    x, y = probe.world_cell(0)
    final = before_last.copy()
    index = int(np.flatnonzero(final.entities["type"] == 0)[0])
    final.entities["x"][index], final.entities["y"][index] = x + 0.5, y + 0.5
    if final.grid[y, x] == MAZE_GOAL:
        final.grid[y, x] = SPACE
    return final, (x, y)


def play(sim: Simulator, initial_state: bytes, actions=None, policy=None, max_steps: int = 10_000,
         render: bool = True) -> Played:
    """Re-simulate ``actions`` from ``initial_state``, or let ``policy`` (an SB3 policy) act greedily until
    the episode ends. ``render`` False skips the frames (a check only)."""
    from analysis.evaluation import act

    if actions is not None and len(actions) and not 0 <= int(np.min(actions)) <= int(np.max(actions)) < N_ACTIONS:
        raise MisgenError(f"recorded actions outside procgen's 0..{N_ACTIONS - 1}")
    proxy_region = ProxyRegion(sim.load(initial_state), sim.config.region)
    played = Played()
    limit = len(actions) if actions is not None else max_steps
    for t in range(limit):
        before = sim.access.get_bytes(0)
        agent = find_agent(read_entities(before))
        cell = (int(np.floor(agent["x"])), int(np.floor(agent["y"])))
        if played.proxy_step < 0 and proxy_region.contains(agent, cell):
            played.proxy_step = t
        if render:
            played.frames.append(sim.frame())
        played.cells.append(cell)
        action = int(actions[t]) if actions is not None else int(act(policy, sim.observation(), True, None)[0][0])
        reward, done = sim.step(action)
        played.actions.append(action)
        played.rewards.append(reward)
        if done:
            played.ended = True
            final, final_cell = _final_state(parse_state(before, sim.config.game), action)
            if reward > 0:  # procgen's level_complete: cheese eaten, coin collected
                played.goal_step = t + 1
            if played.proxy_step < 0 and (proxy_region.contains(None, final_cell)
                                          or (reward > 0 and proxy_region.goal_inside)):
                played.proxy_step = t + 1
            if not render:
                return played
            if final is None:  # coinrun: hold the last frame procgen showed of this episode
                played.frames.append(played.frames[-1])
            else:
                sim.load(final)
                played.frames.append(sim.frame())
            return played
    if render:
        played.frames.append(played.frames[-1])
    return played


def check(played: Played, episode: EpisodeRecord, index: int) -> None:
    """Raise unless the re-simulation reproduces the recording step by step, to its last step and no further."""
    if len(played.actions) != episode.length:
        raise MisgenError(f"episode {index}: the re-simulated episode ended after {len(played.actions)} steps, the "
                          f"recording has {episode.length}")
    for t, (cell, recorded) in enumerate(zip(played.cells, episode.agent_cells)):
        if tuple(cell) != tuple(int(v) for v in recorded):
            raise MisgenError(f"episode {index} diverges at step {t}: recorded cell {tuple(recorded)}, "
                              f"re-simulated {tuple(cell)}")
    if not np.allclose(played.rewards, episode.rewards):
        t = int(np.argmax(~np.isclose(played.rewards, episode.rewards)))
        raise MisgenError(f"episode {index} diverges at step {t}: reward {episode.rewards[t]} recorded, "
                          f"{played.rewards[t]} re-simulated")
    if not played.ended:
        raise MisgenError(f"episode {index}: the recorded actions do not end the episode")


def overlay(frame: np.ndarray, lines: list[str], size: int) -> np.ndarray:
    image = Image.fromarray(frame).resize((size, size), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    height = 12 * len(lines) + 6
    draw.rectangle((0, 0, size, height), fill=(0, 0, 0))
    for i, line in enumerate(lines):
        draw.text((4, 3 + 12 * i), line, fill=(255, 255, 255))
    return np.asarray(image)


def annotated(played: Played, title: str, size: int) -> list[np.ndarray]:
    """Frames with step, action, reward and event lines drawn on."""
    frames, total = [], 0.0
    for t, frame in enumerate(played.frames):
        events = []
        if 0 <= played.proxy_step <= t:
            events.append(f"proxy @{played.proxy_step}")
        if 0 <= played.goal_step <= t:
            events.append(f"GOAL @{played.goal_step}")
        if t < len(played.actions):
            status = f"step {t}  action {ACTION_NAMES[played.actions[t]]}  return {total:.0f}"
            total += played.rewards[t]
        else:
            status = f"end after {len(played.actions)} steps  return {total:.0f}"
        frames.append(overlay(frame, [title, status, "  ".join(events) or "-"], size))
    return frames


def side_by_side(left: list[np.ndarray], right: list[np.ndarray]) -> list[np.ndarray]:
    """Two frame sequences next to each other; the shorter one holds its last frame."""
    n = max(len(left), len(right))
    pad = lambda frames: frames + [frames[-1]] * (n - len(frames))  # noqa: E731
    return [np.concatenate([a, b], axis=1) for a, b in zip(pad(left), pad(right))]


def write_video(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise MisgenError(f"--out must end in .mp4 or .gif, not {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.imwrite(path, np.stack(frames), plugin="pillow", duration=1000 / fps, loop=0)
    else:
        try:
            imageio.imwrite(path, np.stack(frames), plugin="pyav", fps=fps, codec="libx264")
        except ImportError:  # misgen's install has PyAV; a machine running from wheels may not
            raise MisgenError(f"{path.name}: writing MP4 needs PyAV (pip install av); a .gif needs nothing more") \
                from None


def draw_map(path: Path, episodes: list[EpisodeRecord]) -> None:
    """One episode: the level map with the agent's path. Several: a heatmap of visited cells (world grid)."""
    first = parse_state(episodes[0].initial_state)
    fig, ax = plt.subplots(figsize=(6, 6) if first.game == "maze" else (10, 4))
    if len(episodes) == 1:
        grid = first.grid
        solid = np.isin(grid, (MAZE_WALL, WALL_MID, WALL_TOP))
        ax.imshow(solid, origin="lower", cmap="Greys", alpha=0.8)
        cells = np.asarray(episodes[0].agent_cells)
        ax.plot(cells[:, 0], cells[:, 1], "-", color="C0", lw=2, label="path")
        ax.plot(*cells[0], "o", color="C2", ms=10, label="start")
        if episodes[0].goal_cell:
            ax.plot(*episodes[0].goal_cell, "*", color="gold", mec="k", ms=18, label="goal")
        ax.set_title(f"level {episodes[0].level_seed}: {len(cells)} steps, goal "
                     f"{'reached' if episodes[0].goal_reached else 'missed'}")
        if first.game == "coinrun":
            ax.set_xlim(-0.5, CoinrunLayout.from_state(first).end_x + 1.5)
            ax.set_ylim(-0.5, 20)
        ax.legend(loc="upper left", fontsize=8)
    else:
        counts = np.zeros(first.grid.shape)
        for episode in episodes:
            cells = np.asarray(episode.agent_cells)
            np.add.at(counts, (cells[:, 1], cells[:, 0]), 1)
        shown = ax.imshow(np.log1p(counts), origin="lower", cmap="magma")
        fig.colorbar(shown, ax=ax, label="log(1 + steps in cell)")
        ax.set_title(f"visitation over {len(episodes)} episodes (world cells)")
        if first.game == "coinrun":
            ax.set_xlim(-0.5, max(np.nonzero(counts.sum(axis=0))[0]) + 1.5)
            ax.set_ylim(-0.5, max(np.nonzero(counts.sum(axis=1))[0]) + 1.5)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# fields of a level's initial state that belong to the environment that played it, not to the level: the
# generator that draws the environment's next level seeds, and the random int procgen redraws every step
PER_ENVIRONMENT_FIELDS = (*LEVEL_SEED_GENERATOR, "step_rand_int")


def check_is_its_level(record: EpisodeRecord, loader: LevelLoader, where: str) -> None:
    """Raise unless ``record``'s stored initial state is the level its seed names, as the variant edits it: procgen
    then never sees a state misgen did not generate itself (a stored state could hold values that abort or hang
    procgen's C++, e.g. an unseeded random generator or a huge growth rate, which no range check anticipates)."""
    stored = parse_state(record.initial_state, loader.config.game)
    level = loader.state(record.level_seed)
    differing = [name for name, value in level.fields.items()
                 if name not in PER_ENVIRONMENT_FIELDS and not np.array_equal(np.asarray(stored.fields[name]),
                                                                           np.asarray(value))]
    differing += [name for name, a, b in (("grid", stored.grid, level.grid), ("entities", stored.entities,
                                                                            level.entities))
                  if a.shape != b.shape or not np.array_equal(a, b)]
    if differing:
        raise MisgenError(f"{where}: the stored initial_state is not level {record.level_seed} of "
                          f"{loader.config.variant} (it differs in {', '.join(differing[:4])}); procgen is not given it")
    check_state(stored, loader.config.game, loader.config.mode_id,  # the per-environment fields' own ranges
                loader.config.use_backgrounds)


def _compared(records: list[EpisodeRecord], config: EnvConfig,
              compare: Path) -> tuple[dict[int, EpisodeRecord], EnvConfig]:
    """The episodes of ``compare`` on the levels of ``records``, by level seed, each checked to be its level, and
    the environment they were played in."""
    indices, others, other_config = read_episodes(compare, None)
    if other_config.game != config.game:
        raise MisgenError(f"{compare} holds {other_config.game} episodes, the replayed file {config.game}")
    by_seed = {other.level_seed: (index, other) for index, other in zip(indices, others)}
    missing = [r.level_seed for r in records if r.level_seed not in by_seed]
    if missing:
        raise MisgenError(f"{compare} has no episode on level {missing[0]}")
    loader = LevelLoader(other_config)
    try:
        for record in records:
            index, other = by_seed[record.level_seed]
            check_is_its_level(other, loader, f"{compare}: episode {index}")
    finally:
        loader.close()
    return {r.level_seed: by_seed[r.level_seed][1] for r in records}, other_config


def read_episodes(file: Path, indices: list[int] | None) -> tuple[list[int], list[EpisodeRecord], EnvConfig]:
    """Episodes ``indices`` of ``file`` (all if None) and the environment they were played in, validated."""
    with EpisodeFile(file) as episodes:
        config = dataclass_from_json(EnvConfig, episodes.env_config, f"{file}: attr 'env_config'")
        indices = list(range(len(episodes))) if indices is None else indices
        if not indices:
            raise MisgenError(f"{file}: holds no episodes")
        return indices, [episodes.episode(i) for i in indices], config


def replay(file: Path, indices: list[int] | None = None, out: Path | None = None, map_png: Path | None = None,
           size: int = 512, fps: int = 15, compare: Path | None = None, policy=None,
           policy_name: str = "policy") -> int:
    """Re-simulate episodes of ``file`` (all if ``indices`` is None), check each against its recording, then write
    a video (``out``, .mp4 or .gif; with ``compare``'s episode on the same level and/or ``policy`` re-run from the
    same start, side by side) and/or a map PNG. Every stored initial state is checked to be its level first
    (:func:`check_is_its_level`), and no re-simulation runs past its recorded length. Returns the number of
    episodes replayed."""
    indices, records, config = read_episodes(file, indices)
    loader = LevelLoader(config)
    try:
        for index, record in zip(indices, records):
            check_is_its_level(record, loader, f"{file}: episode {index}")
    finally:
        loader.close()
    others, other_config = _compared(records, config, compare) if compare is not None else ({}, config)
    simulator = Simulator(config, render=out is not None)
    # the compared file's own environment: it may draw its levels otherwise (use_backgrounds)
    other_simulator = Simulator(other_config) if others and out is not None else None
    frames = []
    try:
        for index, record in zip(indices, records):
            played = play(simulator, record.initial_state, actions=record.actions, render=out is not None)
            check(played, record, index)
            if out is None:
                continue
            shown = annotated(played, f"{file.name} #{index}  level {record.level_seed}", size)
            if record.level_seed in others:
                other = others[record.level_seed]
                other_played = play(other_simulator, other.initial_state, actions=other.actions)
                check(other_played, other, other.level_index)
                shown = side_by_side(shown, annotated(other_played, f"{compare.name}  level {other.level_seed}",
                                                      size))
            if policy is not None:
                rerun = play(simulator, record.initial_state, policy=policy)
                shown = side_by_side(shown, annotated(rerun, f"{policy_name} from the same start", size))
            frames += shown
    finally:
        simulator.close()
        if other_simulator is not None:
            other_simulator.close()
    if map_png is not None:
        draw_map(map_png, records)
    if out is not None:
        write_video(out, frames, fps)
    return len(records)

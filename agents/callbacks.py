"""SB3 callbacks used in training: rollout counting, checkpoints, episode outcomes, progress, clean stops."""

from __future__ import annotations

import signal
import time
from collections import deque
from typing import Callable

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import ConstantSchedule

from agents.learning_curve import COLLECT_SECONDS, UPDATE_SECONDS
from agents.ppo import TrainingPosition
from envs.splits import Split


class CountRollouts(BaseCallback):
    """Advances ``position.rollout`` as each rollout starts."""

    def __init__(self, position: TrainingPosition):
        super().__init__()
        self.position = position

    def _on_rollout_start(self) -> None:
        self.position.rollout += 1

    def _on_step(self) -> bool:
        return True


class SplitLabels(BaseCallback):
    """Writes each transition's part under ``split`` into the rollout buffer's ``labels``, from the VecEnv's
    state before the action (computed after the previous step, so at an episode start it is the new level's)."""

    def __init__(self, split: Split):
        super().__init__()
        self.split = split
        self._current: np.ndarray | None = None

    def _on_training_start(self) -> None:
        buffer = self.model.rollout_buffer
        buffer.labels = np.zeros((buffer.buffer_size, buffer.n_envs), dtype=np.int64)
        self._env = self.model.get_env().unwrapped

    def _on_rollout_start(self) -> None:
        self._current = self.split.part_of(self._env)

    def _on_step(self) -> bool:
        # SB3 calls this after env.step and before adding the transition at rollout_buffer.pos
        self.model.rollout_buffer.labels[self.model.rollout_buffer.pos] = self._current
        self._current = self.split.part_of(self._env)
        return True


class PeriodicCheckpoint(BaseCallback):
    """Calls ``save()`` at the start of the first rollout after every ``every`` environment steps."""

    def __init__(self, every: int, save: Callable[[], None]):
        super().__init__()
        self.every = every
        self.save = save
        self._next = None

    def _on_rollout_start(self) -> None:
        if self._next is None:
            self._next = self.num_timesteps + self.every
        elif self.num_timesteps >= self._next:
            self.save()
            self._next = self.num_timesteps + self.every

    def _on_step(self) -> bool:
        return True


class EpisodeOutcomes(BaseCallback):
    """Goal and proxy rates, returns and speed over the last ``window`` episodes; logs them and shows progress.

    Logged each rollout as ``rollout/goal_rate``, ``rollout/proxy_rate`` (SB3 logs ``rollout/ep_rew_mean``).
    """

    def __init__(self, total_timesteps: int, show: bool, window: int = 100):
        super().__init__()
        self.total = total_timesteps
        self.outcomes: deque = deque(maxlen=window)
        self.progress = Progress(
            BarColumn(bar_width=16), MofNCompleteColumn(), TextColumn("steps {task.fields[speed]:>5.0f}/s"),
            TextColumn("return {task.fields[return]:5.2f}  goal {task.fields[goal]:4.0%}  "
                       "proxy {task.fields[proxy]:4.0%}"),
            TimeElapsedColumn(), console=Console(stderr=True), disable=not show)
        self._task = None
        self._start = (0, 0.0)

    def _on_training_start(self) -> None:
        self.progress.start()
        self._task = self.progress.add_task("train", total=self.total, completed=self.num_timesteps,
                                            speed=0.0, goal=0.0, proxy=0.0, **{"return": 0.0})
        self._start = (self.num_timesteps, time.perf_counter())

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "goal_reached" in info:
                self.outcomes.append((info["episode"]["r"], info["goal_reached"], info["proxy_reached"]))
        return True

    def rates(self) -> dict[str, float]:
        if not self.outcomes:
            return {"return": 0.0, "goal": 0.0, "proxy": 0.0}
        mean_return, goal, proxy = np.mean(np.array(self.outcomes, dtype=float), axis=0)
        return {"return": float(mean_return), "goal": float(goal), "proxy": float(proxy)}

    def _on_rollout_end(self) -> None:
        rates = self.rates()
        self.logger.record("rollout/goal_rate", rates["goal"])
        self.logger.record("rollout/proxy_rate", rates["proxy"])
        steps, start = self._start
        speed = (self.num_timesteps - steps) / max(time.perf_counter() - start, 1e-9)
        self.progress.update(self._task, completed=self.num_timesteps, speed=speed, **rates)

    def _on_training_end(self) -> None:
        self.progress.update(self._task, completed=self.num_timesteps)
        self.progress.stop()


class PhaseTimes(BaseCallback):
    """Logs where each iteration's wall time goes: ``time/collect_s`` (this rollout's collection) and
    ``time/update_s`` (the previous rollout's PPO update, from its end to this rollout's start)."""

    def __init__(self):
        super().__init__()
        self._rollout_start = self._rollout_end = None

    def _on_rollout_start(self) -> None:
        self._rollout_start = time.perf_counter()
        if self._rollout_end is not None:
            self.logger.record(UPDATE_SECONDS, self._rollout_start - self._rollout_end)

    def _on_rollout_end(self) -> None:
        self._rollout_end = time.perf_counter()
        self.logger.record(COLLECT_SECONDS, self._rollout_end - self._rollout_start)

    def _on_step(self) -> bool:
        return True


class LinearAnneal(BaseCallback):
    """Anneals PPO's entropy coefficient, its learning rate, or both linearly to 0 at the run's last env step: each
    update uses the config's value times the fraction of the run's env steps still to come after the rollout just
    collected, so the last update has 0 (logged as ``train/ent_coef``; SB3 logs ``train/learning_rate``). The run's
    steps are its length as given now: a run resumed with a longer ``--timesteps`` stretches the rest of its
    schedule over the new length. Between updates the values are the config's again, so checkpoints store those
    (placed before the checkpoint callback, which saves at a rollout's start).

    :param ent_coef: the entropy coefficient to anneal from; None leaves it constant.
    :param learning_rate: the learning rate to anneal from; None leaves it constant.
    """

    def __init__(self, ent_coef: float | None = None, learning_rate: float | None = None):
        super().__init__()
        self.ent_coef, self.learning_rate = ent_coef, learning_rate

    def _on_training_start(self) -> None:
        self.config_lr_schedule = self.model.lr_schedule

    def _on_rollout_end(self) -> None:  # SB3 updates right after this
        # SB3's own progress is updated only after this call: one rollout stale
        remaining = max(0.0, 1 - self.model.num_timesteps / self.model._total_timesteps)
        if self.ent_coef is not None:
            self.model.ent_coef = self.ent_coef * remaining
            self.logger.record("train/ent_coef", self.model.ent_coef)
        if self.learning_rate is not None:
            self.model.lr_schedule = ConstantSchedule(self.learning_rate * remaining)

    def _on_rollout_start(self) -> None:
        self._restore()

    def _on_training_end(self) -> None:
        self._restore()

    def _restore(self) -> None:
        if self.ent_coef is not None:
            self.model.ent_coef = self.ent_coef
        if self.learning_rate is not None:
            self.model.lr_schedule = self.config_lr_schedule

    def _on_step(self) -> bool:
        return True


class StopOnSignal(BaseCallback):
    """Turns SIGINT / SIGTERM into a clean stop at the next environment step (after any update in flight)."""

    def __init__(self):
        super().__init__()
        self.stopped = False
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.stopped = True

    def _on_training_start(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _on_training_end(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_step(self) -> bool:
        return not self.stopped


class TrainingDiverged(Exception):
    """An update left parameters NaN or infinite; ``args[0]``: env steps when found."""


class StopOnNonFinite(BaseCallback):
    """Stops training at the first rollout after an update that left a parameter NaN or infinite (a loss that
    diverged): nothing after it could mean anything, and every later checkpoint would hold the damage. (Most such
    updates make the next forward pass fail inside SB3 first; agents/train.py reads that failure the same way.)"""

    def _on_rollout_start(self) -> None:
        if not parameters_finite(self.model.policy):
            raise TrainingDiverged(self.model.num_timesteps)

    def _on_step(self) -> bool:
        return True


def parameters_finite(policy: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in policy.parameters())

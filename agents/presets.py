"""Every PPO hyperparameter in one place, with named presets.

``procgen`` is the Procgen paper's setting (Cobbe et al. 2020; also CleanRL's ``ppo_procgen.py`` and
Langosco et al. 2022): 64 envs x 256 steps, 8 minibatches, 3 epochs, Adam lr 5e-4 (eps 1e-5), gamma 0.999,
GAE lambda 0.95, entropy 0.01, clip 0.2 with value clipping, value coefficient 0.5, gradient-norm clip 0.5,
rewards normalised by a running estimate of the return's scale and clipped to +-10. ``quick`` shrinks it
for a CPU: 16 envs x 128 steps, 4 minibatches, the small CNN. ``cpu`` trains a competent maze agent in about an
hour and a half on 2 CPU cores (docs/results.md); every field is spelled out below, with why it differs from the
paper's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from envs.actions import ACTION_SETS
from envs.variants import DEFAULT_REGION, VARIANTS, EnvConfig


SCHEDULES = ("constant", "linear")  # agents/callbacks.LinearAnneal
# (field, low, high, low excluded): what PPO can run with; counts are bounded by what a machine can hold
RANGES = [("learning_rate", 0, 1, True), ("adam_eps", 0, 1, True), ("gamma", 0, 1, True), ("gae_lambda", 0, 1, False),
          ("ent_coef", 0, 1e3, False), ("vf_coef", 0, 1e3, False), ("clip_range", 0, 1e3, True),
          ("clip_range_vf", 0, 1e3, False), ("max_grad_norm", 0, 1e6, True), ("reward_clip", 0, 1e6, True),
          ("width_scale", 1, 16, False), ("n_envs", 1, 4096, False), ("n_steps", 1, 1 << 20, False),
          ("n_minibatches", 1, 1 << 20, False), ("n_epochs", 1, 1000, False), ("env_threads", 0, 256, False)]


# what each hyperparameter means (``misgen train --hp help`` prints this with each preset's value)
MEANINGS = {
    "architecture": "the policy network: impala (the paper's), compact (the cpu preset's), small, ... "
                    "(agents/policy.ARCHITECTURES)",
    "width_scale": "IMPALA channel multiplier",
    "bf16": "bfloat16 autocast in the network (on CPUs with native bfloat16; float32 elsewhere)",
    "n_envs": "parallel environments",
    "n_steps": "steps of each environment per rollout",
    "n_minibatches": "minibatches each rollout is split into, per epoch",
    "n_epochs": "passes over each rollout",
    "learning_rate": "Adam's learning rate",
    "lr_schedule": "constant | linear (falls to 0 at the run's last env step)",
    "adam_eps": "Adam's epsilon",
    "gamma": "discount per env step",
    "gae_lambda": "GAE's lambda (bias-variance of the advantages)",
    "ent_coef": "weight of the entropy bonus",
    "ent_schedule": "constant | linear (falls to 0 at the run's last env step)",
    "vf_coef": "weight of the value loss",
    "clip_range": "PPO's clip of the probability ratio",
    "clip_range_vf": "clip of the value prediction around its rollout value (0: none)",
    "max_grad_norm": "the gradient's norm is clipped to this before each optimizer step",
    "normalize_advantage": "standardize advantages within each minibatch",
    "normalize_reward": "divide rewards by a running estimate of the return's scale",
    "reward_clip": "clip of the normalized reward",
    "env_threads": "procgen's C++ stepping threads",
    "action_set": "procgen (all 15 actions) | moves (maze's 4 distinct moves) | directions (the 9 moves without "
                  "special keys, all coinrun tells apart); envs/actions.py",
    "share_features": "one network for actor and critic (true, the paper's) or one each",
}


@dataclass(frozen=True)
class PPOConfig:
    architecture: str = "impala"  # impala | compact | small (agents/policy.ARCHITECTURES)
    width_scale: int = 1  # IMPALA channel multiplier
    bf16: bool = False  # bfloat16 autocast in the features extractor (agents.policy.BF16_ARCHITECTURES)
    n_envs: int = 64
    n_steps: int = 256  # steps per env per rollout
    n_minibatches: int = 8
    n_epochs: int = 3
    learning_rate: float = 5e-4
    lr_schedule: str = "constant"  # constant | linear: the learning rate falls linearly to 0 at the run's last env step
    adam_eps: float = 1e-5
    gamma: float = 0.999
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    ent_schedule: str = "constant"  # constant | linear: ent_coef falls linearly to 0 at the run's last env step
    vf_coef: float = 0.5
    clip_range: float = 0.2
    clip_range_vf: float = 0.2  # 0 disables value clipping
    max_grad_norm: float = 0.5
    normalize_advantage: bool = True
    normalize_reward: bool = True
    reward_clip: float = 10.0
    env_threads: int = 4  # procgen's C++ stepping threads
    action_set: str = "procgen"  # procgen (all 15) | moves (maze's 4) | directions (9, coinrun); envs/actions.py
    share_features: bool = True  # one features extractor for actor and critic (the paper's); false: one each

    def __post_init__(self):
        for f in fields(self):  # types first: a config read from a file may hold anything
            value = getattr(self, f.name)
            expected = {"int": int, "float": (int, float), "bool": bool, "str": str}[f.type]
            if not isinstance(value, expected) or (f.type in ("int", "float") and isinstance(value, bool)):
                raise ValueError(f"{f.name} must be a {f.type}, not {value!r}")
            if f.type == "float" and not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite, not {value}")
        for name, low, high, low_open in RANGES:
            value = getattr(self, name)
            if value < low or (low_open and value == low) or value > high:
                show = lambda v: f"{v:,}" if isinstance(v, int) else f"{v:g}"  # noqa: E731
                raise ValueError(f"{name} must lie in {'(' if low_open else '['}{show(low)}, {show(high)}], not "
                                 f"{show(value)}")
        if self.action_set not in ACTION_SETS:
            raise ValueError(f"action_set must be one of {', '.join(ACTION_SETS)}, not {self.action_set!r}")
        for name in ("ent_schedule", "lr_schedule"):
            if getattr(self, name) not in SCHEDULES:
                raise ValueError(f"{name} must be one of {', '.join(SCHEDULES)}, not {getattr(self, name)!r}")
        if (self.n_envs * self.n_steps) % self.n_minibatches:
            raise ValueError(f"n_envs * n_steps ({self.n_envs * self.n_steps}) must divide into "
                             f"{self.n_minibatches} minibatches")
        if self.batch_size < 2:  # SB3 normalizes advantages over each minibatch
            raise ValueError(f"n_envs * n_steps / n_minibatches = {self.batch_size}: minibatches need at least "
                             f"2 transitions")

    @property
    def batch_size(self) -> int:
        """Minibatch size in transitions."""
        return self.n_envs * self.n_steps // self.n_minibatches

    @property
    def steps_per_rollout(self) -> int:
        return self.n_envs * self.n_steps

    def as_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, str]) -> "PPOConfig":
        """A copy with ``name=value`` strings applied (values parsed by the field's type)."""
        types = {f.name: f.type for f in fields(self)}
        parsed = {}
        for name, text in overrides.items():
            if name not in types:
                raise ValueError(f"unknown hyperparameter {name!r}; known: {', '.join(types)}")
            kind = types[name]
            if kind == "bool":
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"{name} takes true or false, not {text!r}")
                parsed[name] = text.lower() in ("true", "1")
            else:
                try:
                    parsed[name] = {"int": int, "float": float, "str": str}[kind](text)
                except ValueError:
                    raise ValueError(f"{name} takes a {kind}, not {text!r}") from None
        return replace(self, **parsed)


@dataclass(frozen=True)
class RunDefaults:
    """What a preset sets besides PPO's hyperparameters: ``misgen train``'s defaults, each overridden by its
    option. ``region`` and the maze sizes apply to maze variants only."""

    timesteps: int = 1_000_000
    region: int = DEFAULT_REGION
    max_maze_size: int = 0  # 0: every maze size
    min_maze_size: int = 0  # 0: from the smallest (3)
    use_backgrounds: bool = True  # procgen's background images (False: black behind the level)
    # what is recorded: a full run's recording should stay in single-digit GB (misgen train prints the projection
    # and refuses one that does not fit the disk)
    record: str = "grads,updates"
    record_every: int = 1


_PPO: dict[str, PPOConfig] = {
    "procgen": PPOConfig(),
    "quick": PPOConfig(architecture="small", n_envs=16, n_steps=128, n_minibatches=4, env_threads=2),
    # Every choice below is measured in docs/notebook/2026-12-02-cpu-preset.md ("cpu preset" below).
    "cpu": PPOConfig(
        # the IMPALA network is too slow on 2 cores for a competent agent within the hour; the compact CNN in bf16
        # autocast is many times faster (benchmarks/cpu_training.py). It standardizes each frame, which the
        # paper's network does not: imitation learned far faster with it (cpu preset, diagnosis)
        architecture="compact", width_scale=1, bf16=True,
        # a quarter of the paper's rollout, so four times its PPO iterations per env step (every run that learned
        # had it); one pass over each rollout in 16 minibatches: two epochs' optimizer steps per env step, which
        # it matched greedily, for one epoch's compute (cpu preset, fifth to eighth and fifteenth to seventeenth
        # attempts)
        n_envs=64, n_steps=64, n_minibatches=16, n_epochs=1,
        learning_rate=5e-4, adam_eps=1e-5,  # the paper's
        # gamma 0.95, not 0.999: a dead end must cost the value enough to be told from the right way in short
        # mazes (cpu preset, eighth attempt). GAE lambda the paper's
        gamma=0.95, gae_lambda=0.95,
        ent_coef=0.01, vf_coef=0.5, clip_range=0.2, max_grad_norm=0.5,  # the paper's (a smaller entropy bonus
        # learned slower)
        # no value clipping: SB3 keeps only the clipped prediction, so the critic's gradient vanishes once it moves
        # clip_range from its rollout value (cpu preset, diagnosis)
        clip_range_vf=0.0,
        normalize_advantage=True, normalize_reward=True, reward_clip=10.0,  # the paper's
        env_threads=1,  # procgen steps 64 maze envs fast enough on one thread; the other core stays with torch
        # maze's four distinct moves instead of procgen's 15 actions, most of which stand still in maze: a random
        # walk then finds the cheese more often (cpu preset, third version)
        action_set="moves",
    ),
}

_RUN: dict[str, RunDefaults] = {
    "procgen": RunDefaults(),
    "quick": RunDefaults(),
    # Mazes 5x5 to 9x9 with the cheese in the top-right 2x2 region: the larger mazes let region and cheese come
    # apart, and a smaller region or the corner cell alone trained less region-seeking (docs/notebook/
    # 2026-12-02-cpu-preset.md). Both streams on every 20th optimizer step keep the run's recording in
    # single-digit GB; its updates rows sum to the change up to the last recorded step (misgen/recording.py)
    "cpu": RunDefaults(timesteps=12_000_000, region=2, max_maze_size=9, min_maze_size=5, record_every=20),
}


# Where a game needs its own settings under a preset: (preset, game) -> PPOConfig and RunDefaults fields that
# differ from the preset's (which are maze's where they are game-specific). misgen train applies them by the
# variant's game (Preset.for_game).
_GAME_CHANGES: dict[tuple[str, str], tuple[dict, dict]] = {
    # maze's four moves cannot jump to the right in coinrun; its nine directions are every action coinrun tells
    # apart (envs/actions.py). The rest of coinrun's cpu preset is still maze's: measuring it is issue 43's work
    ("cpu", "coinrun"): ({"action_set": "directions"}, {}),
}


@dataclass(frozen=True)
class Preset:
    """A named experiment: PPO's settings (``ppo``) and what a run of them trains on and records (``run``), used
    the same way by ``misgen train --preset NAME``, Python callers and the benchmarks::

        preset = PRESETS["cpu"]  # for coinrun: PRESETS["cpu"].for_game("coinrun")
        train(out, preset.env_config("maze-topright"), preset.ppo, preset.record_config(), preset.run.timesteps)
    """

    name: str
    ppo: PPOConfig
    run: RunDefaults

    def env_config(self, variant: str, seed: int = 0, **changes) -> EnvConfig:
        """The training distribution of ``variant`` under this preset (its region and maze sizes for maze
        variants, its backgrounds), with ``changes`` (EnvConfig fields) applied."""
        maze = VARIANTS[variant].game == "maze" if variant in VARIANTS else False
        settings = {"region": self.run.region, "max_maze_size": self.run.max_maze_size if maze else 0,
                    "min_maze_size": self.run.min_maze_size if maze else 0,
                    "use_backgrounds": self.run.use_backgrounds}
        return EnvConfig(variant=variant, seed=seed, **{**settings, **changes})

    def for_game(self, game: str) -> "Preset":
        """This preset as it applies to ``game`` (maze, coinrun): its own settings where the game needs them."""
        ppo_changes, run_changes = _GAME_CHANGES.get((self.name, game), ({}, {}))
        return replace(self, ppo=replace(self.ppo, **ppo_changes), run=replace(self.run, **run_changes))

    def record_config(self, **changes):
        """What this preset records (agents.train.RecordConfig), with ``changes`` applied."""
        from agents.train import RecordConfig, parse_streams

        return RecordConfig(**{"streams": parse_streams(self.run.record), "every": self.run.record_every, **changes})


PRESETS: dict[str, Preset] = {name: Preset(name, _PPO[name], _RUN[name]) for name in _PPO}

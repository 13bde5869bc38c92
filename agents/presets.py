"""Every PPO hyperparameter in one place, with named presets.

``procgen`` is the Procgen paper's setting (Cobbe et al. 2020; also CleanRL's ``ppo_procgen.py`` and
Langosco et al. 2022): 64 envs x 256 steps, 8 minibatches, 3 epochs, Adam lr 5e-4 (eps 1e-5), gamma 0.999,
GAE lambda 0.95, entropy 0.01, clip 0.2 with value clipping, value coefficient 0.5, gradient-norm clip 0.5,
rewards normalised by a running estimate of the return's scale and clipped to +-10. ``quick`` shrinks it
for a CPU: 16 envs x 128 steps, 4 minibatches, the small CNN. ``cpu`` trains a maze agent in 89.5 minutes on 2
CPU cores without bf16 (docs/results.md, seventeenth attempt); every field is spelled out below, with why it
differs from the paper's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from envs.actions import ACTION_SETS
from envs.variants import DEFAULT_REGION


SCHEDULES = ("constant", "linear")  # agents/callbacks.LinearAnneal


@dataclass(frozen=True)
class PPOConfig:
    architecture: str = "impala"  # impala | compact | cell-impala | cell-pool | planning | planning-pool | small
    # (agents/policy.ARCHITECTURES)
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
    action_set: str = "procgen"  # procgen (all 15) | moves (maze's 4 distinct moves); envs/actions.py
    share_features: bool = True  # one features extractor for actor and critic (the paper's); false: one each

    def __post_init__(self):
        if self.action_set not in ACTION_SETS:
            raise ValueError(f"action_set must be one of {', '.join(ACTION_SETS)}, not {self.action_set!r}")
        for name in ("ent_schedule", "lr_schedule"):
            if getattr(self, name) not in SCHEDULES:
                raise ValueError(f"{name} must be one of {', '.join(SCHEDULES)}, not {getattr(self, name)!r}")
        for name in ("n_envs", "n_steps", "n_minibatches", "n_epochs", "width_scale", "env_threads"):
            if getattr(self, name) < 1 and not (name == "env_threads" and self.env_threads == 0):
                raise ValueError(f"{name} must be >= 1")
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


PRESETS: dict[str, PPOConfig] = {
    "procgen": PPOConfig(),
    "quick": PPOConfig(architecture="small", n_envs=16, n_steps=128, n_minibatches=4, env_threads=2),
    "cpu": PPOConfig(
        # the IMPALA preset trains at 98 env steps/s on 2 cores, too slow for a competent agent within 90 minutes;
        # the compact CNN (one 8x8/4 conv to 15x15, two 3x3 convs, linear 256) in bf16 autocast trains at 1,557
        # (benchmarks/cpu_training.py, this preset's settings), about 1.6x what it does in float32 (docs/results.md);
        # it standardizes each frame, which the paper's network does not (agents/policy.py: imitation reaches 80 %
        # in 3 epochs, not 16)
        architecture="compact", width_scale=1, bf16=True,
        # a quarter of the paper's rollout, so four times its PPO iterations per env step: every run that learned
        # here had it (docs/results.md, fifth to eighth attempts). One pass over each rollout in 16 minibatches of
        # 256, not the paper's 3 epochs of 8: as many optimizer steps per env step as two epochs of 8, which it
        # matched greedily at 10-12M env steps, for the compute of one epoch (12M steps in 89.5 minutes, two
        # epochs' in 111-117); one epoch of 8 fell short of the proxy bar at 12M (docs/results.md, fifteenth to
        # seventeenth attempts)
        n_envs=64, n_steps=64, n_minibatches=16, n_epochs=1,
        learning_rate=5e-4, adam_eps=1e-5,  # the paper's
        # gamma 0.95, not 0.999: a dead end of k cells costs gamma^(2k) of the value, a gap of 26 % at k = 3
        # against 0.6 % (0.999) and 6 % (0.99); on the same distribution and seed the training episodes fell below
        # 120 moves at 1.6M env steps with 0.95 and at 3.9M with 0.99 (docs/results.md, eighth attempt; 0.999 was
        # only tried with the cheese in the 3x3 block). GAE lambda the paper's
        gamma=0.95, gae_lambda=0.95,
        ent_coef=0.01, vf_coef=0.5, clip_range=0.2, max_grad_norm=0.5,  # the paper's (0.001 entropy learned slower)
        # no value clipping: SB3 keeps only the clipped prediction, so the critic's gradient vanishes once it moves
        # 0.2 from its rollout value (docs/results.md, diagnosis)
        clip_range_vf=0.0,
        normalize_advantage=True, normalize_reward=True, reward_clip=10.0,  # the paper's
        env_threads=1,  # procgen steps 64 envs fast enough on one thread; the other core stays with torch
        # maze's four distinct moves instead of procgen's 15 actions (7 of which stand still in maze): a random
        # walk then reaches the cheese in 76 % of training episodes instead of 63 % (rollouts 2-14, docs/results.md)
        action_set="moves",
    ),
}

RUN_DEFAULTS: dict[str, RunDefaults] = {
    "procgen": RunDefaults(),
    "quick": RunDefaults(),
    # Mazes 5x5 to 9x9 (3 of procgen's 7 easy sizes, the 3x3 mazes left out since the twelfth attempt; the
    # largest is above 7x7, so that corner and cheese can come apart) with the cheese in the top-right 2x2 block.
    # Trained with it in the corner cell (Langosco et al.'s setting) the agent went to the corner in 0.37 of test
    # mazes and looped in 0.29; with a 3x3 block it is not competent in 8M steps (docs/results.md, eighth to tenth
    # attempts). 12M env steps, seed 0: greedy cheese rate 0.954 on training mazes; with the cheese
    # elsewhere 0.368, and the block without the cheese in 0.523, in 89.5 minutes alone on 2 cores in float32;
    # seed 1: 0.933, 0.344 and 0.521 in 85.2 minutes (docs/results.md, seventeenth and eighteenth attempts)
    "cpu": RunDefaults(timesteps=12_000_000, region=2, max_maze_size=9, min_maze_size=5),
}

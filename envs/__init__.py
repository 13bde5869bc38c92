"""Goal-misgeneralization environments on stock procgen 0.10.7: state codec, variants, probes, SB3 VecEnv."""

import contextlib
import io

# procgen imports gym 0.26, whose gym_notices dependency prints a deprecation banner to stderr on first import
# (stable-baselines3 also imports gym when it is installed); misgen uses procgen's gym3 interface only, so the
# banner is kept out of every command's output. agents/ and analysis/ import this package first.
with contextlib.redirect_stderr(io.StringIO()):
    import gym  # noqa: F401
    import procgen  # noqa: F401

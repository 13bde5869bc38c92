"""Goal-misgeneralization environments on stock procgen 0.10.7: state codec, variants, probes, SB3 VecEnv."""

import contextlib
import io

# procgen imports gym 0.26, whose gym_notices dependency prints a deprecation banner to stderr on import;
# misgen never uses gym itself (procgen's gym3 interface only), so keep the banner out of every command's output
with contextlib.redirect_stderr(io.StringIO()):
    import procgen  # noqa: F401

"""misgen: study goal misgeneralization by recording, decomposing and ablating the gradient time series of
PPO agents on procgen variants where the true goal and a proxy coincide in training and come apart at test."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``misgen.record`` (misgen/recorder.py), ``misgen.theta_at`` and ``misgen.function_trajectory``
    (misgen/trajectory.py), imported on first use: the command line need not load torch."""
    if name == "record":
        from misgen.recorder import record

        return record
    if name in ("theta_at", "function_trajectory"):
        from misgen import trajectory

        return getattr(trajectory, name)
    raise AttributeError(f"module 'misgen' has no attribute {name!r}")

"""misgen: study goal misgeneralization by recording, decomposing and ablating the gradient time series of
PPO agents on procgen variants where the true goal and a proxy coincide in training and come apart at test."""

__version__ = "0.1.0"

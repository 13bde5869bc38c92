"""Analysis of recorded runs: SVD of gradient time series, nulls, localization, evaluation, ablation, replay."""

import envs  # noqa: F401  (imports procgen and gym quietly, before stable-baselines3 imports gym)

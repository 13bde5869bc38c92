"""Analysis of recorded runs: SVD of gradient time series, nulls, localization, evaluation, ablation, replay."""

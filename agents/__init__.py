"""Policies (IMPALA CNN, a small CNN) and PPO training through stable-baselines3."""

import envs  # noqa: F401  (imports procgen and gym quietly, before stable-baselines3 imports gym)

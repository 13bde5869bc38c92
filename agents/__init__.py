"""Policies (IMPALA CNN, a small CNN) and PPO training through stable-baselines3."""

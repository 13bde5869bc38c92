"""stable-baselines3 PPO, built from a :class:`PPOConfig`, plus what the recorder needs to know per step.

SB3's training loop is used as it is. Two extension points tell the recorder where training stands:

- :class:`TrackedRolloutBuffer` (PPO's ``rollout_buffer_class``) remembers the epoch, the minibatch index and
  the minibatch itself as SB3 iterates over it;
- :class:`LossTerms` keeps the policy outputs of SB3's ``evaluate_actions`` call for that minibatch and
  evaluates :func:`ppo_loss` on them, the loss of ``PPO.train`` (tests check that its gradient equals the one
  SB3 applies).

For split recording (``misgen train --record-split``) the buffer also holds each transition's part
(``labels``, filled by ``agents.callbacks.SplitLabels``), and :class:`SplitGradients` computes, for each part, the
gradient of the minibatch's loss restricted to that part's transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import RolloutBufferSamples
from stable_baselines3.common.vec_env import VecEnv

from agents.policy import policy_kwargs
from agents.presets import PPOConfig


@dataclass
class TrainingPosition:
    """Where PPO is: rollout (set by a callback), epoch and minibatch (set by the buffer)."""

    rollout: int = -1
    epoch: int = -1
    minibatch: int = -1
    batch: RolloutBufferSamples | None = None
    indices: np.ndarray | None = None  # the minibatch's rows of the flattened buffer


class TrackedRolloutBuffer(RolloutBuffer):
    """SB3's rollout buffer; ``position`` follows the epochs and minibatches that ``PPO.train`` draws."""

    def __init__(self, *args, **kwargs):
        self.position = TrainingPosition()  # replaced by track() with the one the recorder reads
        self.labels: np.ndarray | None = None  # (n_steps, n_envs) part of each transition, when splitting
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        super().reset()
        self.position.epoch = -1

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        self.position.epoch += 1
        for index, batch in enumerate(super().get(batch_size)):
            self.position.minibatch = index
            self.position.batch = batch
            yield batch

    def _get_samples(self, batch_inds: np.ndarray, env=None) -> RolloutBufferSamples:
        self.position.indices = batch_inds
        return super()._get_samples(batch_inds, env)

    def batch_labels(self) -> np.ndarray:
        """Parts of the current minibatch's transitions. SB3 flattens the buffer env-major (row = env * n_steps +
        step), so the labels are looked up in place rather than flattened again at every optimizer step."""
        env, step = np.divmod(self.position.indices, self.buffer_size)
        return self.labels[step, env]


def transition_losses(model: PPO, batch: RolloutBufferSamples, values: torch.Tensor, log_prob: torch.Tensor,
                      entropy: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """PPO's loss terms per transition, (B,) each: their means are the minibatch loss of
    ``stable_baselines3.PPO.train`` (advantages are normalised over the whole minibatch, as there)."""
    clip_range = model.clip_range(model._current_progress_remaining)
    advantages = batch.advantages
    if model.normalize_advantage and len(advantages) > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    ratio = torch.exp(log_prob - batch.old_log_prob)
    policy = -torch.min(advantages * ratio, advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range))
    values = values.flatten()
    if model.clip_range_vf is not None:
        clip_vf = model.clip_range_vf(model._current_progress_remaining)
        values = batch.old_values + torch.clamp(values - batch.old_values, -clip_vf, clip_vf)
    value = (batch.returns - values) ** 2
    entropy = log_prob if entropy is None else -entropy
    total = policy + model.ent_coef * entropy + model.vf_coef * value
    return {"loss": total, "policy_loss": policy, "value_loss": value, "entropy_loss": entropy}


def ppo_loss(model: PPO, batch: RolloutBufferSamples, values: torch.Tensor, log_prob: torch.Tensor,
             entropy: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """PPO's loss terms exactly as ``stable_baselines3.PPO.train`` computes them for one minibatch."""
    return {name: terms.mean() for name, terms in transition_losses(model, batch, values, log_prob, entropy).items()}


class LossTerms:
    """Keeps the outputs of the policy's ``evaluate_actions`` so the current minibatch's loss can be read."""

    def __init__(self, model: PPO):
        self.model = model
        self._outputs: tuple | None = None
        evaluate = model.policy.evaluate_actions

        def evaluate_and_keep(observations, actions):
            self._outputs = evaluate(observations, actions)
            return self._outputs

        model.policy.evaluate_actions = evaluate_and_keep

    def current(self) -> dict[str, torch.Tensor]:
        values, log_prob, entropy = self._outputs
        with torch.no_grad():
            return ppo_loss(self.model, self.model.rollout_buffer.position.batch, values, log_prob, entropy)


class SplitGradients:
    """For each part of a split, the gradient of the current minibatch's PPO loss restricted to that part's
    transitions and divided by the whole minibatch's size, before clipping: the parts sum to the unclipped
    gradient. One forward pass and one backward pass per part, at the parameters SB3 is about to step from.

    Call it from an optimizer pre-step hook; returns the flat float32 gradients (one per part) and the parts'
    transition counts.
    """

    def __init__(self, model: PPO, n_parts: int):
        self.model, self.n_parts = model, n_parts
        self.params = list(model.policy.parameters())

    def __call__(self) -> tuple[list[torch.Tensor], list[int]]:
        buffer = self.model.rollout_buffer
        batch = buffer.position.batch
        labels = torch.as_tensor(buffer.batch_labels(), device=batch.advantages.device)
        actions = batch.actions.long().flatten() if isinstance(self.model.action_space, spaces.Discrete) \
            else batch.actions
        # the class's method, not the instance's: LossTerms wraps that one to keep SB3's own outputs
        policy = self.model.policy
        values, log_prob, entropy = type(policy).evaluate_actions(policy, batch.observations, actions)
        losses = transition_losses(self.model, batch, values, log_prob, entropy)["loss"]
        grads, counts = [], []
        for part in range(self.n_parts):
            inside = labels == part
            counts.append(int(inside.sum()))
            part_loss = (losses * inside).sum() / len(losses)
            part_grads = torch.autograd.grad(part_loss, self.params, retain_graph=part < self.n_parts - 1,
                                             allow_unused=True)
            grads.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                    for g, p in zip(part_grads, self.params)]).float())
        return grads, counts


def learner_settings(config: PPOConfig) -> dict:
    """The hyperparameters SB3's PPO keeps as attributes, as ``config`` gives them: the same mapping builds a fresh
    learner and overrides what a loaded checkpoint stored (so a run's config.json is what trains)."""
    return dict(
        learning_rate=config.learning_rate, n_steps=config.n_steps, batch_size=config.batch_size,
        n_epochs=config.n_epochs, gamma=config.gamma, gae_lambda=config.gae_lambda,
        clip_range=config.clip_range, clip_range_vf=config.clip_range_vf or None,
        normalize_advantage=config.normalize_advantage, ent_coef=config.ent_coef, vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
    )


def make_ppo(env: VecEnv, config: PPOConfig, device: str, seed: int) -> PPO:
    """A fresh PPO learner with every hyperparameter taken from ``config``."""
    return PPO(
        ActorCriticPolicy, env, **learner_settings(config), rollout_buffer_class=TrackedRolloutBuffer,
        policy_kwargs=policy_kwargs(config.architecture, config.width_scale, config.adam_eps, config.bf16,
                                    config.share_features),
        device=device, seed=seed, verbose=0,
    )


class StepCounter:
    """Counts optimizer steps through a post-step hook."""

    def __init__(self, optimizer: torch.optim.Optimizer, start: int = 0):
        self.steps = start
        self._handle = optimizer.register_step_post_hook(self._count)

    def _count(self, optimizer, args, kwargs) -> None:
        self.steps += 1


def track(model: PPO, position: TrainingPosition) -> None:
    """Point the model's rollout buffer at ``position`` (after ``make_ppo`` or ``PPO.load``)."""
    model.rollout_buffer.position = position

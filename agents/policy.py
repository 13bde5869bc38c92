"""Policies for procgen's 64x64 RGB observations, as stable-baselines3 feature extractors.

:class:`ImpalaCNN` is the network of the Procgen paper (Cobbe et al. 2020) and of Langosco et al. 2022: three
stages of (conv 3x3 -> max-pool 3 stride 2 -> two residual blocks) with 16, 32, 32 channels, then flatten ->
ReLU -> linear 256 -> ReLU. With SB3's linear policy (15 actions) and value heads it has 626,256 parameters.
:class:`CompactCNN` is the ``cpu`` preset's network: its training loop runs many times the IMPALA preset's env
steps/s on 2 CPU cores (benchmarks/cpu_training.py), because its first convolution (8x8, stride 4) brings the
64x64 frame down to 15x15, about one position per cell of the easy maze's 15x15 world. :class:`SmallCNN` is a
two-conv network for demos.

The compact extractor can run in bfloat16 autocast (``bf16=True``): convolutions and linear layers compute in
bf16; weights, gradients, optimizer state and the heads stay float32. On AVX-512-bf16 CPUs the whole training
loop runs faster than in float32 (docs/notebook/2026-12-02-cpu-preset.md, diagnosis). A CPU without native
bfloat16 (AVX2 only, such as AMD Zen 1) emulates it, many times slower than float32
(benchmarks/bf16_autocast.py). There the extractor computes in float32 whatever
``bf16`` says (:func:`native_bf16`), and ``misgen train`` records ``bf16 = false`` in the run's config.

Every layer is a named module, so parameters read as ``features_extractor.stage1.res2.conv0.weight`` and an
intervention on a layer is one forward hook on ``policy.get_submodule(name)``. Channel ablations are declared
in the extractor's ``ablations`` argument, {module name: {"channels": [...], "values": [...]}}: a forward hook
pins those output channels to those values, and since the argument is part of SB3's ``policy_kwargs`` the
ablation is saved with the model and restored by ``PPO.load``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class ResidualBlock(nn.Module):
    """x + conv1(relu(conv0(relu(x)))), 3x3 convolutions keeping the channel count."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class ImpalaStage(nn.Module):
    """conv 3x3 -> max-pool 3x3 stride 2 (halves height and width) -> two residual blocks."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.res1 = ResidualBlock(out_channels)
        self.res2 = ResidualBlock(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res2(self.res1(self.pool(self.conv(x))))


@cache
def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX); without it torch emulates bf16."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


class AblatableExtractor(BaseFeaturesExtractor):
    """A features extractor whose modules' output channels can be pinned by forward hooks, optionally run in
    bfloat16 autocast (``self.bf16``, on a GPU or a CPU with native bf16; features come out float32 either way)."""

    bf16: bool = False

    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        if not self.bf16 or (observations.device.type == "cpu" and not native_bf16()):
            return super().__call__(observations)
        with torch.autocast(observations.device.type, dtype=torch.bfloat16):
            return super().__call__(observations).float()

    def pin_channels(self, module: str, channels: list[int], values: list[float]) -> None:
        """From now on, output channels ``channels`` of submodule ``module`` read ``values`` (one per channel)."""
        target = self.get_submodule(module)
        index = torch.as_tensor(channels, dtype=torch.long)
        pinned = torch.as_tensor(values, dtype=torch.float32)

        def hook(_module, _inputs, output: torch.Tensor) -> torch.Tensor:
            output = output.clone()
            shape = (1, len(channels)) + (1,) * (output.dim() - 2)  # broadcast over batch and space
            output[:, index.to(output.device)] = pinned.to(output.device, output.dtype).reshape(shape)
            return output

        target.register_forward_hook(hook)

    def _apply_ablations(self, ablations: dict | None) -> None:
        for module, spec in (ablations or {}).items():
            self.pin_channels(module, spec["channels"], spec["values"])


class ImpalaCNN(AblatableExtractor):
    """IMPALA CNN: observations (N, 3, 64, 64) scaled to [0, 1] -> features (N, 256).

    :param scale: width multiplier of the three stages' channels (16, 32, 32 at scale 1).
    :param ablations: channels pinned by forward hooks (module docstring).
    """

    def __init__(self, observation_space: gym.spaces.Box, scale: int = 1, features_dim: int = 256,
                 ablations: dict | None = None):
        super().__init__(observation_space, features_dim)
        channels = [16 * scale, 32 * scale, 32 * scale]
        self.stage1 = ImpalaStage(observation_space.shape[0], channels[0])
        self.stage2 = ImpalaStage(channels[0], channels[1])
        self.stage3 = ImpalaStage(channels[1], channels[2])
        height, width = observation_space.shape[1:]
        self.fc = nn.Linear(channels[2] * ((height + 7) // 8) * ((width + 7) // 8), features_dim)
        self._apply_ablations(ablations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(observations)))
        return torch.relu(self.fc(torch.relu(torch.flatten(x, 1))))


class CompactCNN(AblatableExtractor):
    """standardize -> conv 8x8/4 (16) -> conv 3x3 (32) -> conv 3x3/2 (32) -> linear 256, ReLUs between:
    (N, 3, 64, 64) -> (N, 256). The first layer's 15x15 output keeps about one position per cell of the easy
    maze's world.

    ``input_norm`` standardizes each frame's colour channels to mean 0, variance 1 (``InstanceNorm2d``, no
    parameters). A maze frame scaled to [0, 1] is mostly wall texture, each colour channel almost
    constant across it, so unstandardized the first convolution sees an almost constant input: imitating
    shortest-path moves, this network sat at the label prior for 7 epochs and reached 80 % held-out accuracy
    after 16; standardized, after 3 (scripts/imitation_probe.py).

    :param bf16: run in bfloat16 autocast (module docstring).
    :param ablations: channels pinned by forward hooks (module docstring).
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 256, bf16: bool = False,
                 ablations: dict | None = None):
        super().__init__(observation_space, features_dim)
        self.bf16 = bf16
        self.input_norm = nn.InstanceNorm2d(observation_space.shape[0], eps=1e-3)  # eps: a blank frame stays finite
        self.conv1 = nn.Conv2d(observation_space.shape[0], 16, 8, stride=4)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        side = ((observation_space.shape[1] - 8) // 4 + 1 + 1) // 2  # 64 -> 15 -> 8
        self.fc = nn.Linear(32 * side * side, features_dim)
        self._apply_ablations(ablations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(self.input_norm(observations)))
        x = torch.relu(self.conv3(torch.relu(self.conv2(x))))
        return torch.relu(self.fc(torch.flatten(x, 1)))


def best_neighbour(value: torch.Tensor) -> torch.Tensor:
    """(N, 1, S, S) -> (N, 1, S, S): the highest value among each cell's four neighbours (-1e3 beyond the edge).
    The value iteration's inner step: pairwise maxima of shifted views, cheaper than a max over
    :func:`neighbour_values`' concatenation."""
    padded = nn.functional.pad(value, (1, 1, 1, 1), value=-1e3)
    return torch.maximum(torch.maximum(padded[:, :, 1:-1, :-2], padded[:, :, 1:-1, 2:]),
                         torch.maximum(padded[:, :, :-2, 1:-1], padded[:, :, 2:, 1:-1]))


def neighbour_values(value: torch.Tensor) -> torch.Tensor:
    """(N, 1, S, S) -> (N, 4, S, S): each cell's left, right, upper and lower neighbour's value (-1e3 beyond the
    edge), in image orientation."""
    padded = nn.functional.pad(value, (1, 1, 1, 1), value=-1e3)
    return torch.cat([padded[:, :, 1:-1, :-2], padded[:, :, 1:-1, 2:], padded[:, :, :-2, 1:-1],
                      padded[:, :, 2:, 1:-1]], 1)


def value_iteration(reward: torch.Tensor, cost: torch.Tensor, iterations: int,
                    differentiable_iterations: int) -> torch.Tensor:
    """Shortest-path value iteration on a grid: value = max(reward, best neighbour's value - cost), ``iterations``
    times from value = reward. Shapes (N, 1, S, S). With reward 0 at a goal and very low elsewhere, and cost 1 on
    open cells and very high on walls, value is minus each cell's path distance to the goal.

    Gradients flow through the last ``differentiable_iterations`` only (truncated backpropagation, as for a long
    recurrence): a cell's cost learns from cells up to that many steps behind it on a path, the reward map from
    the cells whose value is their own reward.
    """
    with torch.no_grad():
        value = reward
        for _ in range(iterations - differentiable_iterations):
            value = torch.maximum(reward, best_neighbour(value) - cost)
    value = torch.where(value > reward, value, reward)  # the reward map's gradient where it is the value
    for _ in range(min(differentiable_iterations, iterations)):
        value = torch.maximum(reward, best_neighbour(value) - cost)
    return value


class PlanningCNN(AblatableExtractor):
    """A value-iteration network (after Tamar et al. 2016) on the maze's world grid: (N, 3, 64, 64) -> (N, 5 + c).

    - ``embed``: the frame, resampled to 4 pixels per world cell and standardized (as in :class:`CompactCNN`),
      goes through a 4x4 stride-4 convolution: one position per cell, aligned with procgen's grid;
    - ``conv1``, ``conv2``: 3x3 convolutions over cells (c channels), the network's view of walls, mouse, cheese;
    - ``reward`` and ``cost``: 1x1 convolutions to a reward map and a (softplus, positive) cost of entering each
      cell;
    - ``iterations`` steps of shortest-path value iteration (:func:`value_iteration`), so value spreads one
      cell per step from the reward map, over cells the cost leaves cheap;
    - ``attention``: a 1x1 convolution whose softmax over cells says where the agent is; the features are the
      value of that cell and of its four neighbours, and the conv2 features, averaged under the attention.

    SB3's linear policy and value heads read those features, so "move to the neighbour of highest value" is one
    linear map. The network has 5,475 parameters and plans paths up to ``iterations`` cells long. Imitating
    shortest-path moves it reaches 0.92 held-out accuracy in 8 epochs, where the compact CNN plateaus near 0.87
    (scripts/imitation_probe.py); under PPO it has not yet learned (docs/notebook/2026-12-02-cpu-preset.md).

    :param cells: world cells per side (15 in easy mode).
    :param channels: channels of the perception convolutions (c).
    :param iterations: value-iteration steps (at least the longest path the agent must plan).
    :param differentiable_iterations: the last iterations that gradients flow through.
    :param bf16: run in bfloat16 autocast (module docstring).
    :param ablations: channels pinned by forward hooks (module docstring).
    """

    def __init__(self, observation_space: gym.spaces.Box, cells: int = 15, channels: int = 16,
                 iterations: int = 40, differentiable_iterations: int = 8, bf16: bool = False,
                 ablations: dict | None = None):
        super().__init__(observation_space, 5 + channels)
        self.bf16, self.cells = bf16, cells
        self.iterations, self.differentiable_iterations = iterations, differentiable_iterations
        self.input_norm = nn.InstanceNorm2d(observation_space.shape[0], eps=1e-3)
        self.embed = nn.Conv2d(observation_space.shape[0], channels, 4, stride=4)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.reward = nn.Conv2d(channels, 1, 1)
        self.cost = nn.Conv2d(channels, 1, 1)
        self.attention = nn.Conv2d(channels, 1, 1)
        self._apply_ablations(ablations)

    def plan(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Perception and value iteration: the cells' features (N, c, S, S) and their values (N, 1, S, S)."""
        x = nn.functional.interpolate(observations, size=4 * self.cells, mode="bilinear", antialias=True)
        cells = torch.relu(self.embed(self.input_norm(x)))
        cells = torch.relu(self.conv2(torch.relu(self.conv1(cells))))
        reward, cost = self.reward(cells), nn.functional.softplus(self.cost(cells))
        return cells, value_iteration(reward, cost, self.iterations, self.differentiable_iterations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        cells, value = self.plan(observations)
        where = torch.softmax(self.attention(cells).flatten(1), 1).unsqueeze(1)  # (N, 1, cells^2)
        local = torch.cat([value, neighbour_values(value)], 1)
        return torch.cat([(local.flatten(2) * where).sum(2), (cells.flatten(2) * where).sum(2)], 1)


class PlanningPoolCNN(PlanningCNN):
    """:class:`PlanningCNN`'s perception and value iteration, read out as :class:`CellPoolCNN` does: (N, 3, 64, 64)
    -> (N, 256). Each cell's perception features, its value (clamped to +-40, over 10) and how much higher each of
    its four neighbours' values are (clamped to +-3) go through ``gate`` (a 1x1 convolution to 32 channels and ReLU);
    the maximum and the mean of each channel over the cells go through ``fc`` (linear 256, ReLU).

    The attention readout had to find the mouse before anything behind it could learn, and under PPO it never did
    (docs/notebook/2026-12-02-cpu-preset.md);
    here a gate channel that fires at the mouse's cell carries that cell's neighbour values to
    the heads through the maximum, and every other channel still reaches them through the mean. The value
    iteration computes distances along the maze's paths, which the compact CNN's critic did not learn: its value
    fell on moves along the path that lead away from the cheese as the crow flies (scripts/critic_probe.py).

    :param cells, channels, iterations, differentiable_iterations, bf16, ablations: as in :class:`PlanningCNN`.
    """

    def __init__(self, observation_space: gym.spaces.Box, cells: int = 15, channels: int = 16,
                 iterations: int = 40, differentiable_iterations: int = 8, features_dim: int = 256,
                 bf16: bool = False, ablations: dict | None = None):
        super().__init__(observation_space, cells, channels, iterations, differentiable_iterations, bf16)
        del self.attention
        self._features_dim = features_dim
        self.gate = nn.Conv2d(channels + 5, 32, 1)
        self.fc = nn.Linear(2 * 32, features_dim)
        self._apply_ablations(ablations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        cells, value = self.plan(observations)
        value = value.float()
        rise = (neighbour_values(value) - value).clamp(-3, 3)
        inputs = torch.cat([cells.float(), value.clamp(-40, 40) / 10, rise], 1)
        return pool_over_cells(self.gate, self.fc, inputs)


class CellImpalaCNN(AblatableExtractor):
    """IMPALA's residual structure at the maze's cell resolution: (N, 3, 64, 64) -> (N, 256).

    - ``embed``: the frame, resampled to 4 pixels per world cell and standardized (as in :class:`PlanningCNN`),
      goes through a 4x4 stride-4 convolution (16 channels): one position per cell of the 15x15 world, aligned
      with procgen's grid;
    - ``cells``: two residual blocks at 15x15 (16 channels), so four 3x3 convolutions see walls, mouse and cheese
      cell by cell, as IMPALA's second stage does at 16x16;
    - ``stage``: an IMPALA stage (conv 3x3 to 32 channels, max-pool to 8x8, two residual blocks);
    - ``fc``: flatten -> ReLU -> linear 256 -> ReLU, as in :class:`ImpalaCNN`.

    The Procgen paper's network spends about a third of its multiply-adds on its first stage at 64x64 and
    32x32, finer than the maze's cells; this one replaces that stage by the aligned embedding, keeping nine 3x3
    convolutions at cell resolution or coarser (IMPALA: eight at 16x16 or coarser).

    :param cells: world cells per side (15 in easy mode).
    :param ablations: channels pinned by forward hooks (module docstring).
    """

    def __init__(self, observation_space: gym.spaces.Box, cells: int = 15, features_dim: int = 256,
                 ablations: dict | None = None):
        super().__init__(observation_space, features_dim)
        self.cells = cells
        self.input_norm = nn.InstanceNorm2d(observation_space.shape[0], eps=1e-3)
        self.embed = nn.Conv2d(observation_space.shape[0], 16, 4, stride=4)
        self.res1 = ResidualBlock(16)
        self.res2 = ResidualBlock(16)
        self.stage = ImpalaStage(16, 32)
        side = (cells + 1) // 2  # the stage's max-pool: 15 -> 8
        self.fc = nn.Linear(32 * side * side, features_dim)
        self._apply_ablations(ablations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(observations, size=4 * self.cells, mode="bilinear", antialias=True)
        x = self.res2(self.res1(torch.relu(self.embed(self.input_norm(x)))))
        x = self.stage(x)
        return torch.relu(self.fc(torch.relu(torch.flatten(x, 1))))


def pool_over_cells(gate: nn.Conv2d, fc: nn.Linear, cells: torch.Tensor) -> torch.Tensor:
    """(N, C, S, S) -> (N, features): ``gate`` (1x1, then ReLU), each channel's maximum and mean over the cells,
    then ``fc`` and ReLU. No weight belongs to one cell."""
    gated = torch.relu(gate(cells)).flatten(2)  # (N, gate channels, S^2)
    return torch.relu(fc(torch.cat([gated.amax(2), gated.mean(2)], 1)))


class CellPoolCNN(AblatableExtractor):
    """A fully convolutional network at the maze's cell resolution, read out by pooling over cells:
    (N, 3, 64, 64) -> (N, 256).

    - ``embed``: as in :class:`CellImpalaCNN`, one position per cell of the 15x15 world (16 channels);
    - ``res1`` .. ``res4``: four residual blocks at 15x15, so each cell's features see 8 cells around it;
    - ``gate``: a 1x1 convolution (32 channels) and ReLU, then the maximum and the mean of each channel over
      the cells; ``fc``: those 64 numbers -> linear 256 -> ReLU.

    Every weight is shared across cells, so what one level teaches about a corridor holds at every other cell:
    the compact CNN's and IMPALA's last linear layer reads each cell through its own weights and must learn the
    same rule cell by cell. The maximum lets a channel that fires only at the mouse's cell
    carry that cell's view to the heads without the heads knowing where the mouse is.

    :param cells: world cells per side (15 in easy mode).
    :param bf16: run in bfloat16 autocast (module docstring).
    :param ablations: channels pinned by forward hooks (module docstring).
    """

    def __init__(self, observation_space: gym.spaces.Box, cells: int = 15, features_dim: int = 256,
                 bf16: bool = False, ablations: dict | None = None):
        super().__init__(observation_space, features_dim)
        self.bf16, self.cells = bf16, cells
        self.input_norm = nn.InstanceNorm2d(observation_space.shape[0], eps=1e-3)
        self.embed = nn.Conv2d(observation_space.shape[0], 16, 4, stride=4)
        self.res1, self.res2, self.res3, self.res4 = (ResidualBlock(16) for _ in range(4))
        self.gate = nn.Conv2d(16, 32, 1)
        self.fc = nn.Linear(2 * 32, features_dim)
        self._apply_ablations(ablations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(observations, size=4 * self.cells, mode="bilinear", antialias=True)
        x = torch.relu(self.embed(self.input_norm(x)))
        x = self.res4(self.res3(self.res2(self.res1(x))))
        return pool_over_cells(self.gate, self.fc, torch.relu(x))


class SmallCNN(AblatableExtractor):
    """A small CNN for CPU demos: conv 8x8/4 (16) -> conv 4x4/2 (32) -> linear 128, ReLUs between."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128, ablations: dict | None = None):
        super().__init__(observation_space, features_dim)
        self.conv1 = nn.Conv2d(observation_space.shape[0], 16, 8, stride=4)
        self.conv2 = nn.Conv2d(16, 32, 4, stride=2)
        self.fc = nn.Linear(32 * 6 * 6, features_dim)
        self._apply_ablations(ablations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(observations))))
        return torch.relu(self.fc(torch.flatten(x, 1)))


ARCHITECTURES: dict[str, type[BaseFeaturesExtractor]] = {"impala": ImpalaCNN, "compact": CompactCNN,
                                                        "planning": PlanningCNN, "cell-impala": CellImpalaCNN,
                                                        "cell-pool": CellPoolCNN, "planning-pool": PlanningPoolCNN,
                                                        "small": SmallCNN}


BF16_ARCHITECTURES = ("compact", "planning", "cell-pool", "planning-pool")  # the extractors that take ``bf16``


def policy_kwargs(architecture: str, scale: int = 1, adam_eps: float = 1e-5, bf16: bool = False,
                  share_features: bool = True) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` for an ``ActorCriticPolicy`` with linear heads straight on the features, one
    extractor shared by both heads or (``share_features`` False) one each: ``features_extractor`` (the actor's,
    which channel ablations pin) and ``vf_features_extractor``."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)}")
    if bf16 and architecture not in BF16_ARCHITECTURES:
        raise ValueError(f"bf16 autocast is available for the {', '.join(BF16_ARCHITECTURES)} architectures, not "
                         f"{architecture!r}")
    extractor_kwargs = {"scale": scale} if architecture == "impala" else {"bf16": True} if bf16 else {}
    return {
        "features_extractor_class": ARCHITECTURES[architecture],
        "features_extractor_kwargs": extractor_kwargs,
        "net_arch": [],  # policy and value heads are single linear layers on the shared features
        "share_features_extractor": share_features,
        "optimizer_kwargs": {"eps": adam_eps},
    }

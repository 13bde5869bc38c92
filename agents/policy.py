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

from contextlib import contextmanager
from functools import cache
from typing import Any, Iterator

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch.utils.hooks import RemovableHandle


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

    @contextmanager
    def pinned(self, module: str, channels: list[int], values: list[float]) -> Iterator[None]:
        """Within the block, output channels ``channels`` of submodule ``module`` read ``values``; the hook is
        removed on leaving it (an intervention for one measurement, TransformerLens-style)."""
        handle = self.pin_channels(module, channels, values)
        try:
            yield
        finally:
            handle.remove()

    def pin_channels(self, module: str, channels: list[int], values: list[float]) -> RemovableHandle:
        """From now on, output channels ``channels`` of submodule ``module`` read ``values`` (one per channel);
        returns the hook's handle. Pins declared in the constructor's ``ablations`` stay for the model's life and
        travel in its zip (``misgen_ablation`` there says what they are)."""
        target = self.get_submodule(module)
        index = torch.as_tensor(channels, dtype=torch.long)
        pinned = torch.as_tensor(values, dtype=torch.float32)

        def hook(_module, _inputs, output: torch.Tensor) -> torch.Tensor:
            output = output.clone()
            shape = (1, len(channels)) + (1,) * (output.dim() - 2)  # broadcast over batch and space
            output[:, index.to(output.device)] = pinned.to(output.device, output.dtype).reshape(shape)
            return output

        return target.register_forward_hook(hook)

    def _apply_ablations(self, ablations: dict | None) -> None:
        self.ablation_hooks = [self.pin_channels(module, spec["channels"], spec["values"])
                               for module, spec in (ablations or {}).items()]


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


# Four more were tried for the cpu preset and did not learn under PPO (planning, planning-pool, cell-pool,
# cell-impala); they were retired after commit 1117769 (docs/notebook/2026-12-02-cpu-preset.md).
ARCHITECTURES: dict[str, type[BaseFeaturesExtractor]] = {"impala": ImpalaCNN, "compact": CompactCNN,
                                                        "small": SmallCNN}
BF16_ARCHITECTURES = ("compact",)  # the extractors that take ``bf16``


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

"""Save an SB3 PPO model without its Adam moments, for shipping a trained agent in the repository.

The policy's parameters are kept exactly; the optimizer is replaced by a fresh one (same class and settings), so
the zip is a third of the size and still loads with ``PPO.load`` (and so with every misgen command). Training
from it would restart Adam's moment estimates: resume from the run's checkpoints instead.

A zip saved under numpy 2 (a GPU machine's) pickles its spaces and last observations with numpy 2's module and
random-generator names, which numpy 1 (procgen's pin, so misgen's install) cannot read. This script gives SB3 the
spaces of misgen's environments instead and drops the rollout leftovers, and the zip it writes both read.

    python scripts/slim_model.py runs/maze/model.zip agents/trained/maze-topright-cpu.zip
"""

from __future__ import annotations

import json
import sys
import zipfile

from gymnasium import spaces
from stable_baselines3 import PPO

from envs.vec_env import OBSERVATION_SPACE

# pickled by numpy and not needed to act: replaced by these on loading
PORTABLE = {"observation_space": OBSERVATION_SPACE, "_last_obs": None, "_last_episode_starts": None,
            "_last_original_obs": None, "ep_info_buffer": None, "ep_success_buffer": None}


def main(source: str, target: str) -> None:
    with zipfile.ZipFile(source) as archive:  # SB3 writes the action space's size beside its pickle
        n_actions = int(json.loads(archive.read("data"))["action_space"]["n"])
    model = PPO.load(source, device="cpu", custom_objects={**PORTABLE, "action_space": spaces.Discrete(n_actions)})
    policy = model.policy
    policy.optimizer = policy.optimizer_class(policy.parameters(), lr=model.lr_schedule(1),
                                              **policy.optimizer_kwargs)
    model.save(target)


if __name__ == "__main__":
    main(*sys.argv[1:3])

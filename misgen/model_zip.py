"""The model zip: a run's ``model.zip`` and its checkpoints' ``step_<T>.zip``, as SB3's ``PPO.save`` writes them.

=============================  ================================================================================
``data``                       JSON object: PPO's settings (``n_steps``, ``batch_size``, ``n_epochs``, ``gamma``,
                               ...), and ``misgen_env_config`` (the training distribution, misgen's
                               ``EnvConfig`` as JSON; absent in zips from before it), ``misgen_ablation`` (an
                               ablated policy's {target, run}: what ``misgen ablate`` changed, in which run; only
                               in ``ablated.zip``); entries SB3 could not write
                               as JSON (``policy_class``, ``policy_kwargs``, the spaces, the schedules, the last
                               observations) are ``{":serialized:": base64 pickle}``
``policy.pth``                 the policy's parameters (torch, read with ``weights_only``)
``policy.optimizer.pth``       Adam's state (checkpoints; a slimmed zip may lack it)
``pytorch_variables.pth``      further tensors (none for PPO)
=============================  ================================================================================

SB3 unpickles the ``:serialized:`` entries with cloudpickle, which runs whatever a pickle names.
:func:`read_model_zip` unpickles them itself, allowing only :data:`SERIALIZED_GLOBALS` and misgen's features
extractors, and :func:`load_ppo` hands the results to ``PPO.load(..., custom_objects=...)``, so SB3 deserializes
nothing.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

from misgen.errors import MisgenError, one_line
from misgen.pickles import GYMNASIUM_SPACES, NUMPY_GLOBALS, load_allowed

REQUIRED_MEMBERS = ("data", "policy.pth")
SETTINGS = {"n_steps": int, "batch_size": int, "n_epochs": int, "n_envs": int, "num_timesteps": int,
            "gamma": float, "gae_lambda": float, "ent_coef": float, "vf_coef": float, "max_grad_norm": float}
SERIALIZED_REQUIRED = ("policy_class", "policy_kwargs", "observation_space", "action_space")
SERIALIZED_GLOBALS = NUMPY_GLOBALS | GYMNASIUM_SPACES | {  # what SB3 pickles into a PPO zip
    ("stable_baselines3.common.policies", "ActorCriticPolicy"),
    ("stable_baselines3.common.utils", "FloatSchedule"), ("stable_baselines3.common.utils", "ConstantSchedule"),
    ("agents.ppo", "TrackedRolloutBuffer"),
    ("torch.optim.adam", "Adam"), ("torch.nn.modules.activation", "ReLU"), ("torch.nn.modules.activation", "Tanh"),
    ("collections", "deque"),
}
EXTRACTOR_MODULE = "agents.policy"  # and any features extractor class defined there


def _serialized_global(module: str, name: str) -> bool:
    if (module, name) in SERIALIZED_GLOBALS:
        return True
    if module != EXTRACTOR_MODULE or "." in name:
        return False
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    found = getattr(importlib.import_module(module), name, None)
    return isinstance(found, type) and issubclass(found, BaseFeaturesExtractor)


def read_model_zip(path: Path) -> dict[str, Any]:
    """Check the zip at ``path`` against the table above and return its ``data``, every ``:serialized:`` entry
    unpickled (allowed globals only): what SB3 would make of it, ready as ``PPO.load``'s ``custom_objects``. Any
    deviation is one MisgenError naming the file and the field."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for member in REQUIRED_MEMBERS:
                if member not in names:
                    raise MisgenError(f"{path}: member {member!r} is missing (not a model zip SB3 wrote)")
            data = json.loads(archive.read("data"))
    except (OSError, zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MisgenError(f"{path}: not a readable model zip ({error.__class__.__name__}: {error})") from None
    if not isinstance(data, dict):
        raise MisgenError(f"{path}: field 'data' must be a JSON object, found {type(data).__name__}")
    for name, kind in SETTINGS.items():
        value = data.get(name)
        if not isinstance(value, (int,) if kind is int else (int, float)) or isinstance(value, bool):
            raise MisgenError(f"{path}: field 'data.{name}' must be {'an integer' if kind is int else 'a number'}, "
                              f"found {json.dumps(value)[:60]}")
    for name in SERIALIZED_REQUIRED:
        if not isinstance(data.get(name), dict) or ":serialized:" not in data[name]:
            raise MisgenError(f"{path}: field 'data.{name}' is missing or not a serialized entry")
    objects = {name: _unpickle(path, name, value[":serialized:"]) if isinstance(value, dict) and ":serialized:" in value
               else value for name, value in data.items()}
    env = data.get("misgen_env_config")
    if env is not None and not isinstance(env, dict):
        raise MisgenError(f"{path}: field 'data.misgen_env_config' must be a JSON object, found "
                          f"{json.dumps(env)[:60]}")
    ablation = data.get("misgen_ablation")
    if ablation is not None and not (isinstance(ablation, dict) and isinstance(ablation.get("target"), str)):
        raise MisgenError(f"{path}: field 'data.misgen_ablation' must be a JSON object with a 'target' string, found "
                          f"{json.dumps(ablation)[:60]}")
    kwargs = objects["policy_kwargs"]
    if not isinstance(kwargs, dict) or not isinstance(kwargs.get("features_extractor_class"), type):
        raise MisgenError(f"{path}: field 'data.policy_kwargs' must name a features extractor class")
    return objects


def _unpickle(path: Path, name: str, text: Any) -> Any:
    try:
        return load_allowed(io.BytesIO(base64.b64decode(str(text), validate=True)), _serialized_global,
                            "a misgen PPO model")
    except (binascii.Error, ValueError) as error:
        raise MisgenError(f"{path}: field 'data.{name}' is not base64 ({error})") from None
    except pickle.UnpicklingError as error:
        raise MisgenError(f"{path}: field 'data.{name}': {error}") from None
    except Exception as error:  # a damaged pickle raises anything from EOFError to TypeError
        raise MisgenError(f"{path}: field 'data.{name}' does not unpickle ({error.__class__.__name__})") from None


def load_ppo(path: Path, custom_objects: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
             **load_options):
    """SB3's ``PPO.load`` of the zip at ``path`` after :func:`read_model_zip` (or with ``data``, its result when
    the caller has already read it). ``custom_objects`` replace entries of the data, e.g. other ``policy_kwargs``;
    ``load_options`` go to ``PPO.load`` (``device``, ``env``, settings). A zip that still does not load
    (parameters of other shapes, say) is one MisgenError."""
    from stable_baselines3 import PPO

    objects = {**(read_model_zip(path) if data is None else data), **(custom_objects or {})}
    try:
        return PPO.load(path, custom_objects=objects, **load_options)
    except Exception as error:  # SB3 and torch raise many types on a zip whose parts disagree
        raise MisgenError(f"{path}: not a loadable PPO model ({error.__class__.__name__}: {one_line(error)})") from None

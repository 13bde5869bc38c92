#!/usr/bin/env bash
# Download, into .cleanrl/wheels/, what CleanRL's ppo_procgen.py needs beyond misgen's stack on a Python 3.12 GPU
# machine without internet (benchmarks/train_speed.py installs them into a directory on the CleanRL run's
# PYTHONPATH only): the gym it was written for, 0.23.1 (misgen's procgen stack has gym 0.26.2, whose wrappers
# the script's baselines-style vector env does not fit), and tyro with its dependencies. typing-extensions is
# there already, but typeguard needs >= 4.14. shtab is left out: tyro imports it only for shell completion.
# About 1 MB. The script itself, .cleanrl/ppo_procgen.py, is a verbatim copy from github.com/vwxyzjn/cleanrl
# (see benchmarks/train_speed.py); .cleanrl/ is never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cleanrl/wheels
rm -f .cleanrl/wheels/*.whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .cleanrl/wheels tyro==1.0.17 docstring-parser==0.18.0 typeguard==4.6.0 typing-extensions==4.16.0
python3 -m pip wheel -q --no-deps gym==0.23.1 -w .cleanrl/wheels  # published as a source archive only
du -sh .cleanrl/wheels

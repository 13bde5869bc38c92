#!/usr/bin/env bash
# Download, into .whl/, the wheels misgen needs on a GPU machine without internet that already has Python 3.12,
# torch, numpy 2, h5py, typer, rich, matplotlib, imageio, pillow, scipy, pandas, tensorboard and dask's common
# dependencies (cloudpickle, toolz, msgpack, psutil, pyyaml, jinja2, click, fsspec, sortedcontainers). PyAV is
# left out: videos are rendered on the CPU machine from the episode files. Procgen's gym and gym3 import under
# numpy 2 as they are (checked with numpy 2.5 on Python 3.12); procgen-mirror's metadata pin numpy<2, which
# --no-deps skips. About 51 MB in all, 48 MB of it procgen; with .gl/ (2.6 MB) and .cleanrl/ (1 MB,
# benchmarks/cleanrl_wheels.sh) the carried tree stays under the device's 64 MiB.
#
# There, from the repository root (misgen runs from the checkout, not installed):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
#   export PYTHONPATH=/tmp/site:$PWD && python3 -m cli --help
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_12 manylinux_2_5 \
           manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d .whl procgen-mirror==0.10.7 gym3==0.3.3 gym-notices==0.1.0 cffi==1.17.1 pycparser==3.12 \
  stable-baselines3==2.9.2 gymnasium==1.4.0 farama-notifications==0.0.6 \
  dask==2026.8.0 distributed==2026.8.0 partd==1.4.2 locket==1.0.0 tblib==3.2.2 zict==3.0.0 tornado==6.6.1
python3 -m pip wheel -q --no-deps gym==0.26.2 -w .whl  # gym 0.26.2 is published as a source archive only
du -sh .whl
# procgen's libenv.so links libGL and X11 client libraries, which a bare GPU image may lack: Debian packages into
# .gl/, from which scripts/gpu_experiment.sh copies only the libraries the machine does not have.
mkdir -p .gl /tmp/amd64/partial
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${apt_options[@]}" update -qq
(cd .gl && apt-get "${apt_options[@]}" download libgl1 libglx0 libglvnd0 libx11-6 libxcb1 libxau6 libxdmcp6 libbsd0 \
  libmd0 libglib2.0-0)
du -sh .gl

#!/usr/bin/env bash
# Download, into .whl/ (and .gl/), the wheels (and system libraries) misgen needs on a GPU machine without internet
# that already has Python 3.12, torch, numpy 2, h5py, typer, rich, matplotlib, imageio, pillow, scipy, pandas,
# tensorboard, filelock and dask's common dependencies (cloudpickle, toolz, msgpack, psutil, pyyaml, jinja2, click,
# fsspec, sortedcontainers, packaging). Carried here: procgen-mirror (imports as `procgen`), gym3, gym, gym-notices,
# cffi + pycparser (gym3's libenv binding; not on the machine), stable-baselines3, gymnasium, farama-notifications,
# dask, distributed, partd, locket, tblib, zict, tornado. Not carried: gym3's video/viewer extras (imageio-ffmpeg,
# glfw, moderngl; imported by nothing misgen runs) and PyAV: videos are rendered on the CPU machine from the episode
# files (imageio's pyav plugin loads only when an MP4 is written). Procgen's gym and gym3 import and run under
# numpy 2 as they are (checked with numpy 2.5.2, torch 2.11.0 on Python 3.12); the numpy<2 pins in procgen-mirror's
# and gym3's metadata are skipped by --no-deps.
#
# procgen-mirror's wheel (48 MB, more than the rest together) is repacked as 0.10.7+slim (about 33 MB), losslessly:
# the debug sections of libenv.so stripped (17 MB -> 0.7 MB; code unchanged), the PNG assets re-encoded by optipng
# (same pixels, 17 % smaller), everything else LZMA-compressed inside the wheel (pip reads it with Python's zipfile).
# Observations and 512x512 renders of every procgen game are identical with the stock wheel. Needs optipng and
# binutils here (apt-get install optipng binutils); takes a few minutes, once.
#
# There, from the repository root (misgen runs from the checkout, not installed; `python3 -m cli` or
# `python3 cli.py` stand for `misgen`):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
#   python3 -m cli --help
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
download() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 "$@"
}
download -d .whl gym3==0.3.3 gym-notices==0.1.0 cffi==1.17.1 pycparser==3.12 \
  stable-baselines3==2.9.2 gymnasium==1.4.0 farama-notifications==0.0.6 \
  dask==2026.8.0 distributed==2026.8.0 partd==1.4.2 locket==1.0.0 tblib==3.2.2 zict==3.0.0 tornado==6.6.1
[ -f .whl/gym-0.26.2-py3-none-any.whl ] || python3 -m pip wheel -q --no-deps gym==0.26.2 -w .whl  # sdist only

slim=.whl/procgen_mirror-0.10.7+slim-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
rm -f .whl/procgen_mirror-0.10.7-*.whl  # the stock wheel, if an earlier version of this script left it there
if [ ! -f "$slim" ]; then
  for tool in optipng strip; do
    command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install optipng binutils" >&2; exit 1; }
  done
  stock=$(mktemp -d)
  trap 'rm -rf "$stock" "$slim.part"' EXIT
  download -d "$stock" procgen-mirror==0.10.7
  python3 - "$stock"/procgen_mirror-0.10.7-*.whl "$slim.part" <<'EOF'
import base64, hashlib, os, subprocess, sys, tempfile, zipfile

src, dst = sys.argv[1:3]
old, new = "procgen_mirror-0.10.7.dist-info/", "procgen_mirror-0.10.7+slim.dist-info/"
with tempfile.TemporaryDirectory() as work, zipfile.ZipFile(src) as wheel:
    infos = [info for info in wheel.infolist() if not info.is_dir()]
    wheel.extractall(work)
    subprocess.run(["strip", "--strip-debug", os.path.join(work, "procgen/data/prebuilt/libenv.so")], check=True)
    pngs = "\0".join(os.path.join(work, info.filename) for info in infos if info.filename.endswith(".png"))
    subprocess.run(["xargs", "-0", "-n", "16", "-P", str(os.cpu_count() or 1), "optipng", "-quiet", "-o2"],
                   input=pngs.encode(), check=True)
    metadata = os.path.join(work, old, "METADATA")
    text = open(metadata, encoding="utf-8").read()
    assert "\nVersion: 0.10.7\n" in text
    open(metadata, "w", encoding="utf-8").write(text.replace("\nVersion: 0.10.7\n", "\nVersion: 0.10.7+slim\n", 1))
    record = []
    with zipfile.ZipFile(dst, "w") as out:
        for info in infos:
            name = info.filename.replace(old, new, 1)
            if name == new + "RECORD":
                continue
            data = open(os.path.join(work, info.filename), "rb").read()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
            entry = zipfile.ZipInfo(name, info.date_time)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_STORED if name.endswith(".png") else zipfile.ZIP_LZMA
            out.writestr(entry, data)
        record.append(f"{new}RECORD,,")
        entry = zipfile.ZipInfo(new + "RECORD", infos[-1].date_time)
        entry.external_attr = 0o644 << 16
        out.writestr(entry, "\n".join(record) + "\n")
EOF
  mv "$slim.part" "$slim"
fi

# one version of each distribution
dupes=$(ls .whl | sed -E 's/-[0-9].*//' | tr 'A-Z-' 'a-z_' | sort | uniq -d)
[ -z "$dupes" ] || { echo "more than one wheel of: $dupes (remove the stale ones from .whl/)" >&2; exit 1; }
ls -l .whl

# procgen's libenv.so links libGL and X11 client libraries, which a bare GPU image may lack: Debian packages into
# .gl/, from which scripts/gpu_experiment.sh copies only the libraries the machine does not have.
mkdir -p .gl /tmp/amd64/partial
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${apt_options[@]}" update -qq
(cd .gl && apt-get "${apt_options[@]}" download libgl1 libglx0 libglvnd0 libx11-6 libxcb1 libxau6 libxdmcp6 libbsd0 \
  libmd0 libglib2.0-0)
du -sh .whl .gl

"""The exact streaming Gram SVD against numpy.linalg.svd and against one sequential read, on a recording the size
of an IMPALA run: T = 2,000 steps x D = 626,256 parameters, float16 (2.5 GB).

Each measurement runs in its own process, so its peak resident memory is its own. numpy.linalg.svd computes in
float64 whatever it is given (a float32 matrix is first cast, a 10 GB copy at T = 2,000) and copies its input
into LAPACK's column-major layout, so its peak is at least twice the float64 matrix. The script hands it the
float64 matrix directly, filled block by block from the file (no float16 or float32 copy of the whole matrix), by
default for the singular values only (``--numpy-vectors`` asks for U and V^T too), the lesser job: the Gram
method streams column blocks from the file and computes the singular values, the time profiles and the top-k
loadings. At T = 2,000 numpy needs about 20 GB; where the kernel kills it for want of memory, the script says so
and prints the ratios it has. Last line: time and peak-memory ratios.

    python benchmarks/svd_exact.py [--rows 2000 --k 50 --numpy-vectors --scratch /tmp]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMPALA_PARAMS = 626_256


def make_recording(path: Path, rows: int, params: int, seed: int = 0) -> None:
    """Heavy-tailed noise plus a few time-localized components, written block by block."""
    from misgen.recording import ParamTable, write_recording

    rng = np.random.default_rng(seed)
    table = ParamTable.from_named([("layer.weight", (params,))])
    loadings = rng.normal(size=(5, params)).astype(np.float32)
    times = np.arange(rows)
    profiles = np.exp(-0.5 * ((times[None] - np.linspace(200, 1800, 5)[:, None]) / 150) ** 2).astype(np.float32)

    def blocks():
        for start in range(0, rows, 100):
            noise = rng.standard_t(4, size=(min(100, rows - start), params)).astype(np.float32)
            yield {"grads": 1e-3 * (noise + 3 * profiles[:, start:start + 100].T @ loadings)}

    write_recording(path, table, blocks(), record_dtype="float16")


def measure(kind: str, path: str, k: int, numpy_vectors: bool) -> dict:
    from analysis.svd import StreamMatrix, gram_svd
    from misgen.recording import Recording

    start = time.perf_counter()
    with Recording(path) as recording:
        if kind == "read":
            dataset = recording.dataset("grads")
            for row in range(0, recording.n_rows, 16):
                dataset[row:row + 16]
            values = []
        elif kind == "gram":
            matrix = StreamMatrix(recording, "grads", np.arange(recording.n_rows), centred=False)
            values = gram_svd(matrix, k, "cpu").singular_values.tolist()
        else:
            dataset = recording.dataset("grads")
            x = np.empty(dataset.shape, dtype=np.float64)  # numpy's working precision, built without temporaries
            for row in range(0, recording.n_rows, 16):
                x[row:row + 16] = dataset[row:row + 16]
            values = (np.linalg.svd(x, full_matrices=False)[1] if numpy_vectors
                      else np.linalg.svd(x, compute_uv=False))[:k].tolist()
    return {"kind": kind, "seconds": time.perf_counter() - start, "peak_mb": peak_resident_mb(),
            "singular_values": values}


def peak_resident_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--params", type=int, default=IMPALA_PARAMS)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--numpy-vectors", action="store_true", help="numpy also computes U and V^T")
    parser.add_argument("--scratch", default=None)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], args.measure[1], args.k, args.numpy_vectors)))
        return
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        path = Path(scratch) / "recording.h5"
        make_recording(path, args.rows, args.params)
        print(f"recording {args.rows} x {args.params} float16: {path.stat().st_size / 1e9:.2f} GB", flush=True)
        results = {}
        for kind in ("read", "gram", "numpy"):
            flags = ["--numpy-vectors"] if args.numpy_vectors else []
            out = subprocess.run([sys.executable, __file__, "--k", str(args.k), *flags, "--measure", kind, str(path)],
                                 capture_output=True, text=True)
            if out.returncode == -signal.SIGKILL:  # the kernel's out-of-memory killer
                print(f"{kind:>6}: killed for want of memory ({total_memory_gb():.0f} GB machine)", flush=True)
                continue
            out.check_returncode()
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{kind:>6}: {results[kind]['seconds']:8.1f} s   peak {results[kind]['peak_mb']:8.0f} MB", flush=True)
    gram, read = results["gram"], results["read"]
    if "numpy" not in results:
        print(f"gram/numpy: numpy.linalg.svd cannot run here; gram peak memory {gram['peak_mb'] / 1024:.1f} GB; "
              f"gram/sequential-read time {gram['seconds'] / read['seconds']:.1f}")
        return
    numpy_run = results["numpy"]
    reference = np.array(numpy_run["singular_values"])
    agreement = float(np.max(np.abs(np.array(gram["singular_values"]) - reference) / reference))
    print(f"largest relative difference of the top {args.k} singular values, gram vs numpy: {agreement:.1e}")
    print(f"gram/numpy time {gram['seconds'] / numpy_run['seconds']:.2f}  "
          f"gram/numpy peak memory {gram['peak_mb'] / numpy_run['peak_mb']:.2f}  "
          f"gram/sequential-read time {gram['seconds'] / read['seconds']:.1f}")


def total_memory_gb() -> float:
    return int(Path("/proc/meminfo").read_text().split()[1]) / 2**20


if __name__ == "__main__":
    main()

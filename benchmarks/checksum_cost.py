"""What HDF5's Fletcher-32 checksums cost the recording: rows written per second with and without them.

Writes a recording of the ``cpu`` preset's shape (its policy's parameter count, float16, grads and updates) in
blocks of 16 rows, as the recorder's background thread does, to a fresh file per pass; passes alternate with and
without the checksum filter so that a drift of the machine falls on both; medians. Run it with nothing else on the
cores. Last line: the extra milliseconds per recorded row, and that as a share of one optimizer step of the cpu
preset (``--step-ms``, from a run's ``time/time_elapsed`` over its optimizer steps).

    python benchmarks/checksum_cost.py [--rows 512] [--passes 3] [--step-ms 98]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from misgen.recording import CHUNK_ROWS, ParamTable, RecordingWriter, step_fields
from misgen.schema import CHECKSUM

N_PARAMS = 542_805  # the cpu preset's recorded parameters (the compact CNN and its heads)


def write_pass(path: Path, rows: int, checksum: bool) -> float:
    """Seconds to write ``rows`` rows of both streams, closing included."""
    CHECKSUM["fletcher32"] = checksum
    params = ParamTable.from_named([("w", (N_PARAMS,))])
    rng = np.random.default_rng(0)
    block = {s: rng.normal(scale=1e-3, size=(CHUNK_ROWS, N_PARAMS)).astype(np.float16) for s in ("grads", "updates")}
    fields = step_fields()
    start = time.perf_counter()
    writer = RecordingWriter(path, params, ("grads", "updates"), "float16", 1, "benchmark", {})
    for first in range(0, rows, CHUNK_ROWS):
        steps = {name: np.arange(first, first + CHUNK_ROWS).astype(dtype) for name, (dtype, _) in fields.items()}
        writer.append(block, steps)
    writer.close(complete=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--step-ms", type=float, default=98.0, help="ms per optimizer step of a cpu-preset run")
    args = parser.parse_args()
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as directory:
        for index in range(args.passes):
            for checksum in (False, True):
                path = Path(directory) / f"pass{index}_{checksum}.h5"
                seconds[checksum].append(write_pass(path, args.rows, checksum))
                path.unlink()
    CHECKSUM["fletcher32"] = True
    plain, checked = (statistics.median(seconds[c]) / args.rows * 1000 for c in (False, True))
    print(f"ms per row of both streams ({N_PARAMS:,} float16 parameters each): without checksums {plain:.2f} "
          f"(passes {', '.join(f'{s:.2f}' for s in seconds[False])} s), with {checked:.2f} "
          f"(passes {', '.join(f'{s:.2f}' for s in seconds[True])} s); with / without {checked / plain:.3f}")
    print(f"checksums add {checked - plain:.2f} ms per recorded row: {(checked - plain) / args.step_ms:.1%} of a "
          f"{args.step_ms:g} ms optimizer step when every step is recorded")


if __name__ == "__main__":
    main()

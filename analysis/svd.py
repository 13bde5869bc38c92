"""SVD of a recorded (steps x parameters) stream, without holding the matrix in memory.

X is T_used x D: one row per recorded optimizer step, one column per parameter; centred, each column has its
mean over the rows subtracted. X = U S V^T with ``time_profiles`` = U^T (k, T_used) and ``loadings`` = V^T
(k, D), both unit vectors, signs fixed so each time profile's largest entry is positive.

Every method reads X in column blocks (all rows of a few thousand parameters at a time), so memory is
O(T_used^2 + one block) for ``gram``, O(T_used l + l D) for ``randomized`` (l = k + oversampling):

- ``gram``: exact. Accumulate G = X X^T (T x T) in float64 over the blocks, eigendecompose it, and obtain the
  loadings in a second pass, V^T = S^-1 U^T X. The Gram route squares the condition number: singular values
  below ~1e-8 of the largest are lost (they carry no signal at recording precision anyway).
- ``randomized``: Halko, Martinsson & Tropp (2011), a Gaussian range finder with ``power_iterations`` passes
  of X X^T, each pass one read of the data.
- ``dask``: dask arrays over the HDF5 file (exact tall-skinny QR on X^T when T is small enough, else dask's
  ``svd_compressed``); with a ``dask.distributed`` scheduler address the blocks are read and reduced on the
  cluster's workers.

Each pass can also carry surrogate copies of X in time, the same in every pass, whose singular values form the
null band (analysis/nulls.py). Two kinds (``misgen.svd_file.SURROGATES``): ``shuffle`` permutes every column in
time independently (no structure in time survives); ``roll`` shifts every column circularly by its own random
offset, which keeps each parameter's own autocorrelation (Adam's short memory, slow drifts) and breaks only the
alignment in time across parameters: the stricter test of coordinated learning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from misgen.errors import MisgenError
from misgen.recording import Recording

BLOCK_BYTES = 256 << 20  # float64 bytes of one column block in memory


@dataclass
class StreamMatrix:
    """The rows ``rows`` of one stream of a recording, as a T_used x D matrix read in column blocks."""

    recording: Recording
    stream: str
    rows: np.ndarray  # sorted row indices into the recording
    centred: bool
    block_width: int = 0  # columns per block; 0: as many as fit in BLOCK_BYTES

    def __post_init__(self):
        if len(self.rows) < 2:
            raise MisgenError(f"{self.recording.path}: need at least 2 recorded steps, have {len(self.rows)}")
        if not self.block_width:
            self.block_width = int(np.clip(BLOCK_BYTES // (8 * len(self.rows)), 256, 1 << 16))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), self.recording.n_params

    def row_selection(self):
        contiguous = self.rows[-1] - self.rows[0] + 1 == len(self.rows)
        return slice(int(self.rows[0]), int(self.rows[-1]) + 1) if contiguous else self.rows

    def blocks(self, device: str = "cpu") -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None]]:
        """(columns, block, column means) covering every column: block float64 (T_used, width) on ``device``,
        centred (and its means given) if asked."""
        rows = self.row_selection()
        for start in range(0, self.shape[1], self.block_width):
            columns = slice(start, min(start + self.block_width, self.shape[1]))
            # float32 crosses to the device; widening, checking and centring are the device's work
            block = torch.from_numpy(self.recording.read(self.stream, rows, columns)).to(device).double()
            if not torch.isfinite(block).all():
                raise MisgenError(f"{self.recording.path}: {self.stream} holds non-finite values in columns "
                                  f"{columns.start}:{columns.stop}")
            means = None
            if self.centred:
                means = block.mean(dim=0)
                block -= means
            yield columns, block, means


    def check_decomposable(self) -> None:
        """One pass over the data: raise unless every entry is finite and the matrix is not all zero (after
        centring). The gram method checks this as it goes; randomized and dask would otherwise return an empty
        or a NaN decomposition."""
        squares = sum(float((block ** 2).sum()) for _, block, _ in self.blocks())
        if squares == 0:
            raise MisgenError(f"{self.recording.path}: the {self.stream} matrix is zero"
                              + (" after centring (every row the same)" if self.centred else ""))


def surrogate_in_time(block: torch.Tensor, seed: int, repeat: int, columns: slice, surrogate: str) -> torch.Tensor:
    """The surrogate of ``block`` (T, width) of kind ``surrogate`` (misgen.svd_file.SURROGATES):
    :func:`shuffle_in_time` or :func:`roll_in_time`."""
    if surrogate == "roll":
        return roll_in_time(block, seed, repeat, columns)
    return shuffle_in_time(block, seed, repeat, columns)


def roll_in_time(block: torch.Tensor, seed: int, repeat: int, columns: slice) -> torch.Tensor:
    """Shift every column of ``block`` circularly in time by its own random offset; the same (seed, repeat,
    columns) gives the same offsets on every device."""
    t = block.shape[0]
    offsets = np.random.default_rng([seed, repeat, columns.start, 1]).integers(0, t, size=block.shape[1])
    index = (torch.arange(t, device=block.device)[:, None] + torch.from_numpy(offsets).to(block.device)) % t
    return block.gather(0, index)


def shuffle_in_time(block: torch.Tensor, seed: int, repeat: int, columns: slice) -> torch.Tensor:
    """Permute every column of ``block`` in time independently; the same (seed, repeat, columns) on the same
    kind of device gives the same permutation, so every pass over the data sees the same shuffled matrix.

    On a CPU numpy's Fisher-Yates (``Generator.permuted``) is O(T) per column, several times faster than
    argsorting random keys (benchmarks/shuffle_null.py); on a GPU the argsort runs on the device.
    """
    if block.device.type == "cpu":
        rng = np.random.default_rng([seed, repeat, columns.start])
        return torch.from_numpy(rng.permuted(block.numpy(), axis=0))
    generator = torch.Generator(block.device).manual_seed(int(np.random.SeedSequence(
        [seed, repeat, columns.start]).generate_state(1)[0]))
    keys = torch.rand(block.shape, generator=generator, device=block.device, dtype=torch.float64)
    return block.gather(0, keys.argsort(dim=0))


@dataclass
class Decomposition:
    """Top-k SVD of a StreamMatrix, plus what the nulls need."""

    singular_values: np.ndarray  # (k,)
    time_profiles: np.ndarray  # (k, T_used)
    loadings: np.ndarray  # (k, D) float32
    spectrum: np.ndarray  # every singular value the method obtained, descending (>= k of them)
    frobenius_sq: float  # ||X||_F^2 of the (centred) matrix
    mean: np.ndarray | None  # (D,) column means, when centred
    shuffled_spectra: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (repeats, n)


def _nonzero(spectrum: np.ndarray) -> np.ndarray:
    """A descending spectrum without its numerically zero tail."""
    return spectrum[spectrum > 1e-7 * spectrum[0]] if len(spectrum) and spectrum[0] > 0 else spectrum[:0]


def _stack(spectra: list[np.ndarray]) -> np.ndarray:
    """Shuffled spectra as one (repeats, n) array, cut to the shortest (numerical ranks can differ by one)."""
    if not spectra:
        return np.zeros((0, 0))
    spectra = [_nonzero(s) for s in spectra]
    n = min(len(s) for s in spectra)
    return np.array([s[:n] for s in spectra])


def _fix_signs(time_profiles: np.ndarray, loadings: np.ndarray) -> None:
    signs = np.sign(time_profiles[np.arange(len(time_profiles)), np.abs(time_profiles).argmax(axis=1)])
    signs[signs == 0] = 1
    time_profiles *= signs[:, None]
    loadings *= signs[:, None].astype(loadings.dtype)


def _eigh_descending(gram: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Singular values (descending, numerically non-zero ones only) and the matching eigenvectors."""
    values, vectors = torch.linalg.eigh(gram)
    values, vectors = values.flip(0).cpu().numpy(), vectors.flip(1).cpu().numpy()
    singular = _nonzero(np.sqrt(np.clip(values, 0, None)))
    return singular, vectors[:, :len(singular)]


def _rank(singular_values: np.ndarray, k: int) -> int:
    """Components that are numerically non-zero (the Gram route resolves ~1e-8 of the largest)."""
    if len(singular_values) == 0 or singular_values[0] == 0:
        return 0
    return int(min(k, np.sum(singular_values > 1e-7 * singular_values[0])))


def _times_own_transpose(block: torch.Tensor) -> torch.Tensor:
    """block @ block.T. On a CPU through numpy, whose BLAS call for a product with its own transpose (syrk)
    computes one triangle: half the multiply-adds of torch's general product."""
    if block.device.type == "cpu":
        values = block.numpy()
        return torch.from_numpy(values @ values.T)
    return block @ block.T


def gram_svd(matrix: StreamMatrix, k: int, device: str = "cpu", shuffles: int = 0, seed: int = 0,
             surrogate: str = "shuffle") -> Decomposition:
    """Exact top-k SVD through the T x T Gram matrix (two passes over the data), with ``shuffles`` surrogate
    copies of kind ``surrogate``."""
    t, d = matrix.shape
    gram = torch.zeros((t, t), dtype=torch.float64, device=device)
    shuffled_grams = [torch.zeros((t, t), dtype=torch.float32, device=device) for _ in range(shuffles)]
    mean = np.zeros(d, dtype=np.float32) if matrix.centred else None
    frobenius_sq = torch.zeros((), dtype=torch.float64, device=device)
    for columns, block, means in matrix.blocks(device):
        gram += _times_own_transpose(block)
        frobenius_sq += torch.dot(block.view(-1), block.view(-1))  # no temporary block
        for repeat, g in enumerate(shuffled_grams):
            g += _times_own_transpose(surrogate_in_time(block, seed, repeat, columns, surrogate).float())
        if mean is not None:
            mean[columns] = means.cpu().numpy()
    spectrum, vectors = _eigh_descending(gram)
    k = _rank(spectrum, k)
    if k == 0:
        raise MisgenError(f"{matrix.recording.path}: the {matrix.stream} matrix is zero")
    profiles = np.ascontiguousarray(vectors[:, :k].T)  # (k, T)
    project = torch.from_numpy(profiles / spectrum[:k, None]).to(device)
    loadings = np.empty((k, d), dtype=np.float32)
    for columns, block, _ in matrix.blocks(device):
        loadings[:, columns] = (project @ block).cpu().numpy()
    loadings /= np.linalg.norm(loadings, axis=1, keepdims=True)
    _fix_signs(profiles, loadings)
    return Decomposition(spectrum[:k], profiles, loadings, spectrum, float(frobenius_sq), mean,
                         _stack([_eigh_descending(g.double())[0] for g in shuffled_grams]))


def randomized_svd(matrix: StreamMatrix, k: int, oversample: int = 10, power_iterations: int = 3,
                   device: str = "cpu", shuffles: int = 0, seed: int = 0,
                   surrogate: str = "shuffle") -> Decomposition:
    """Approximate top-k SVD by a randomized range finder (power_iterations + 2 passes over the data)."""
    t, d = matrix.shape
    width = min(k + oversample, t)
    n_matrices = 1 + shuffles  # the data, then its shuffled copies

    def variant(block: torch.Tensor, columns: slice, m: int) -> torch.Tensor:
        return block if m == 0 else surrogate_in_time(block, seed, m - 1, columns, surrogate)

    # range: Y = X Omega, then Y <- X X^T Q for each power iteration
    ranges = [torch.zeros((t, width), dtype=torch.float64, device=device) for _ in range(n_matrices)]
    for columns, block, _ in matrix.blocks(device):
        omega = torch.from_numpy(np.random.default_rng([seed, columns.start]).standard_normal(
            (columns.stop - columns.start, width))).to(device)
        for m in range(n_matrices):
            ranges[m] += variant(block, columns, m) @ omega
    for _ in range(power_iterations):
        bases = [torch.linalg.qr(y).Q for y in ranges]
        ranges = [torch.zeros_like(y) for y in ranges]
        for columns, block, _ in matrix.blocks(device):
            for m in range(n_matrices):
                x = variant(block, columns, m)
                ranges[m] += x @ (x.T @ bases[m])
    bases = [torch.linalg.qr(y).Q for y in ranges]

    # project: C = Q^T X (width x D) for the data; only C C^T for the shuffled copies
    projected = np.empty((width, d), dtype=np.float64)
    small_grams = [torch.zeros((width, width), dtype=torch.float64, device=device) for _ in range(shuffles)]
    mean = np.zeros(d, dtype=np.float32) if matrix.centred else None
    frobenius_sq = torch.zeros((), dtype=torch.float64, device=device)
    for columns, block, means in matrix.blocks(device):
        projected[:, columns] = (bases[0].T @ block).cpu().numpy()
        frobenius_sq += torch.dot(block.view(-1), block.view(-1))  # no temporary block
        for m, g in enumerate(small_grams, start=1):
            c = bases[m].T @ variant(block, columns, m)
            g += c @ c.T
        if mean is not None:
            mean[columns] = means.cpu().numpy()
    c = torch.from_numpy(projected).to(device)
    spectrum, small_vectors = _eigh_descending(c @ c.T)
    k = _rank(spectrum, k)
    small = torch.from_numpy(small_vectors[:, :k]).to(device)
    profiles = np.ascontiguousarray((bases[0] @ small).T.cpu().numpy())
    loadings = ((small.T @ c) / torch.from_numpy(spectrum[:k, None]).to(device)).cpu().numpy().astype(np.float32)
    loadings /= np.linalg.norm(loadings, axis=1, keepdims=True)
    _fix_signs(profiles, loadings)
    return Decomposition(spectrum[:k], profiles, loadings, spectrum, float(frobenius_sq), mean,
                         _stack([_eigh_descending(g)[0] for g in small_grams]))


def dask_svd(matrix: StreamMatrix, k: int, scheduler: str | None = None, exact_max_rows: int = 4096,
             shuffles: int = 0, seed: int = 0, surrogate: str = "shuffle") -> Decomposition:
    """SVD with dask arrays over the HDF5 file; ``scheduler`` is a dask.distributed address (or None)."""
    import dask
    import dask.array as da

    t, d = matrix.shape
    path, stream, centred = str(matrix.recording.path), matrix.stream, matrix.centred
    rows = matrix.row_selection()

    @dask.delayed
    def read_block(columns: slice, repeat: int) -> np.ndarray:
        # opened by path in whichever worker runs it: h5py objects do not travel between processes
        with Recording(path) as recording:
            block = recording.read(stream, rows, columns).astype(np.float64)
        if repeat >= 0:
            block = surrogate_in_time(torch.from_numpy(block), seed, repeat, columns, surrogate).numpy()
        return block.T  # X^T blocks: (width, T)

    def transposed(repeat: int) -> tuple[da.Array, da.Array | None]:
        """X^T (D x T_used), centred if asked, and the column means."""
        parts = []
        for start in range(0, d, matrix.block_width):
            columns = slice(start, min(start + matrix.block_width, d))
            parts.append(da.from_delayed(read_block(columns, repeat), (columns.stop - columns.start, t), np.float64))
        xt = da.concatenate(parts, axis=0)
        if not centred:
            return xt, None
        means = xt.mean(axis=1)
        return xt - means[:, None], means

    def decompose(xt: da.Array):
        if t <= exact_max_rows:
            return da.linalg.svd(xt)  # tall-skinny QR: exact
        return da.linalg.svd_compressed(xt, k, n_power_iter=3, seed=seed)

    client = None
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout=30)
        except OSError as error:
            raise MisgenError(f"cannot reach the dask scheduler at {scheduler}: {error}") from None
    try:
        xt, means = transposed(-1)
        u, s, vt = decompose(xt)
        wanted = [s, u[:, :k], vt[:k], (xt ** 2).sum(), means if centred else da.zeros(0)]
        wanted += [decompose(transposed(repeat)[0])[1] for repeat in range(shuffles)]
        computed = dask.compute(*wanted)
    finally:
        if client is not None:
            client.close()
    spectrum, u, vt, frobenius_sq, means = computed[:5]
    spectrum = _nonzero(spectrum)
    shuffled = _stack([np.asarray(s) for s in computed[5:]])
    k = _rank(spectrum, k)
    loadings = np.ascontiguousarray(u[:, :k].T).astype(np.float32)
    profiles = np.ascontiguousarray(vt[:k])
    _fix_signs(profiles, loadings)
    mean = means.astype(np.float32) if centred else None
    return Decomposition(spectrum[:k], profiles, loadings, spectrum, float(frobenius_sq), mean, shuffled)

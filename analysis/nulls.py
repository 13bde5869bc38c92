"""How many components stand out from noise: random-matrix and time-shuffle nulls, and spectrum statistics.

- **Marchenko–Pastur.** A T x D matrix of iid entries of variance sigma^2 has its singular values in
  [sigma |sqrt(D) - sqrt(T)|, sigma (sqrt(T) + sqrt(D))]. sigma is estimated from the data: from the median
  singular value (Gavish & Donoho 2014) when the whole spectrum is known, else from the energy left outside
  the top k. Centring removes one dimension: T counts as T - 1.
- **Time shuffle.** Gradients are heavy-tailed and heteroscedastic, which breaks the iid assumption. Permuting
  each parameter's time series independently keeps every parameter's distribution and destroys only the
  coordination across parameters in time; the spectra of a few shuffled copies give a band per rank.
- **Circular shift** (``roll``). Each parameter's series shifted in time by its own random offset keeps its
  autocorrelation too (Adam's memory, slow drifts), so a band of rolled copies counts only the coordination in
  time across parameters beyond what each series' own smoothness produces (its wrap point breaks each series'
  slowest drift once, so independent smooth series can leave one leading component above it: tests/test_svd.py).
  The counts keep the name ``n_above_shuffle`` whichever kind made the band; ``surrogate`` says which.
- **Statistics.** Components above each null; above 5 %, 10 %, 15 % of the largest singular value (the
  statistic of Baker's post); effective rank exp(H(p)), p_i = s_i^2 / sum s^2 (Roy & Vetterli 2007).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def marchenko_pastur_median(beta: float) -> float:
    """Median of the Marchenko–Pastur law with aspect ratio beta = min/max <= 1 and unit variance."""
    low, high = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2
    x = np.linspace(low, high, 200_001)[1:-1]
    density = np.sqrt((high - x) * (x - low)) / (2 * np.pi * beta * x)
    cdf = np.cumsum(density) * (x[1] - x[0])
    return float(x[np.searchsorted(cdf / cdf[-1], 0.5)])


@dataclass(frozen=True)
class NullSummary:
    noise_sigma: float  # estimated entry noise scale
    mp_edge: float  # sigma (sqrt(T) + sqrt(D))
    n_above_mp: int
    n_above_shuffle: int  # above the largest shuffled singular value of the same rank
    shuffle_repeats: int
    n_above_5pct: int
    n_above_10pct: int
    n_above_15pct: int
    effective_rank: float
    spectrum_complete: bool  # whether the statistics saw every singular value or only the top k
    surrogate: str = "shuffle"  # the null band's copies: shuffle | roll (misgen.svd_file.SURROGATES)

    def as_dict(self) -> dict:
        return asdict(self)


def noise_sigma(spectrum: np.ndarray, frobenius_sq: float, n_rows: int, n_cols: int, complete: bool) -> float:
    small, large = sorted((n_rows, n_cols))
    if complete and len(spectrum) >= small:
        return float(np.median(spectrum[:small]) / np.sqrt(large * marchenko_pastur_median(small / large)))
    k = len(spectrum)
    residual = max(frobenius_sq - float(np.sum(spectrum ** 2)), 0.0)
    return float(np.sqrt(residual / max((n_rows - k) * (n_cols - k), 1)))


def summarize(spectrum: np.ndarray, shuffled: np.ndarray, frobenius_sq: float, n_rows: int, n_cols: int,
              centred: bool, surrogate: str = "shuffle") -> NullSummary:
    """Null counts over every singular value the decomposition obtained (``spectrum``, descending)."""
    rows = n_rows - 1 if centred else n_rows
    complete = len(spectrum) >= min(rows, n_cols)
    sigma = noise_sigma(spectrum, frobenius_sq, rows, n_cols, complete)
    edge = sigma * (np.sqrt(rows) + np.sqrt(n_cols))
    above_shuffle = 0
    if shuffled.size:
        band_top = shuffled.max(axis=0)
        n = min(len(spectrum), len(band_top))
        beats = spectrum[:n] > band_top[:n]
        above_shuffle = int(np.argmin(beats)) if not beats.all() else n  # leading run above the band
    p = spectrum ** 2 / np.sum(spectrum ** 2)
    p = p[p > 0]
    return NullSummary(
        noise_sigma=sigma, mp_edge=float(edge), n_above_mp=int(np.sum(spectrum > edge)),
        n_above_shuffle=above_shuffle, shuffle_repeats=int(shuffled.shape[0]) if shuffled.size else 0,
        n_above_5pct=int(np.sum(spectrum > 0.05 * spectrum[0])),
        n_above_10pct=int(np.sum(spectrum > 0.10 * spectrum[0])),
        n_above_15pct=int(np.sum(spectrum > 0.15 * spectrum[0])),
        effective_rank=float(np.exp(-np.sum(p * np.log(p)))), spectrum_complete=bool(complete), surrogate=surrogate,
    )

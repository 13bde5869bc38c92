"""Which part of a split produced each component: shares of a component's time course per part.

For a recording with ``--record-split``, each row t holds the unclipped gradient part by part, g_P(t), and the
clip factor s(t), so the applied gradient is g(t) = s(t) sum_P g_P(t). For a component with loading v:

    c_P(t) = s(t) g_P(t) . v,    c(t) = sum_P c_P(t) = g(t) . v,    share_P = sum_t c_P(t) c(t) / sum_t c(t)^2

The shares sum to 1 over the parts; a negative share is a part that pushes against the component. Projections are
of the raw rows (no centring), over the rows the decomposition used. For a decomposition of ``grads`` this is exact;
for one of ``updates`` it is an approximation, since Adam's step is not linear in the gradient.
"""

from __future__ import annotations

import numpy as np

from misgen.recording import Recording

ROW_BLOCK = 256


def split_shares(recording: Recording, rows: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    """(k, P) shares of each component (rows of ``loadings``, (k, D)) per part of the recording's split."""
    clip = recording.steps("clip_factor")[rows].astype(np.float64)
    loadings = loadings.astype(np.float64)
    projections = np.zeros((len(recording.split_parts), len(rows), len(loadings)))  # c_P(t), (P, T_used, k)
    for start in range(0, len(rows), ROW_BLOCK):
        block = rows[start:start + ROW_BLOCK]
        for index, stream in enumerate(recording.split_streams):
            projections[index, start:start + len(block)] = recording.read(stream, block).astype(np.float64) @ loadings.T
    projections *= clip[None, :, None]
    total = projections.sum(axis=0)  # c(t), (T_used, k)
    energy = (total ** 2).sum(axis=0)
    shares = (projections * total[None]).sum(axis=1) / np.where(energy > 0, energy, np.nan)
    return shares.T

"""Parameter counts of the project's networks, and the memory of their dense curvature matrices.

Plain Python (no torch), so the workflow can size jobs (``resources: mem_mb``) while it plans them.
"""

from __future__ import annotations

from collections.abc import Sequence


def mlp_parameter_count(sizes: Sequence[int]) -> int:
    """Number of weights and biases of a fully connected net with layer widths ``sizes``."""
    return sum((int(a) + 1) * int(b) for a, b in zip(sizes[:-1], sizes[1:]))


def dense_spectrum_mb(n_params: int, bytes_per_entry: int = 8, copies: float = 2.0, base_mb: int = 2000) -> int:
    """Memory (MB) of a dense P x P matrix and its eigensolver workspace (~``copies`` matrices) plus a base."""
    return base_mb + int(copies * bytes_per_entry * n_params**2 / 1e6)


def mlp_spectrum_mb(sizes: Sequence[int], n_samples: int, method: str = "auto") -> int:
    """Memory (MB) of a Hessian spectrum of the MLP ``sizes`` on ``n_samples`` by ``method``: the m x m
    reduction's 3 buffers, m = (N + 2n)(C - 1), where a one-hidden-layer net takes it (``auto`` when m < P,
    or ``reduced``), else a dense P x P spectrum (Lanczos edges are budgeted as dense, an upper bound)."""
    n_params = mlp_parameter_count(sizes)
    if len(sizes) == 3 and method in ("auto", "reduced"):
        m = (int(n_samples) + 2 * int(sizes[1])) * (int(sizes[2]) - 1)
        if m < n_params or method == "reduced":
            return dense_spectrum_mb(m, copies=3.0)
    return dense_spectrum_mb(n_params)

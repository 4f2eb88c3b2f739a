"""The phase decomposition behind the ONNX graph's low-resolution decoder, as pure numpy.

Nearest 2x upsampling then a reflection-padded 3x3 conv equals, per output phase (row parity a,
column parity b), a 2x2 conv of the edge-padded input whose taps sum the 3x3 taps that land on
the same input pixel: 2.25x fewer multiplications and no full-resolution Resize or Pad
(training/export.py builds it). The output conv after the last upsampling is likewise a
(K+1)/2-square conv over the four input phases. Each map has its exact inverse here, which
reading an .onnx back into Keras needs (training/onnx_import.py); tests check both ways.
"""

from __future__ import annotations

import numpy as np

PHASE_TAPS = [np.array([[1, 0, 0], [0, 1, 1]], np.float32), np.array([[1, 1, 0], [0, 0, 1]], np.float32)]


def phase_map() -> np.ndarray:
    """The linear map from a 3x3 kernel (9 taps) to its four 2x2 phase kernels (16 taps)."""
    basis = np.eye(9, dtype=np.float32).reshape(9, 3, 3)
    return np.stack([np.einsum("ry,kyx,cx->krc", PHASE_TAPS[a], basis, PHASE_TAPS[b]).reshape(9, 4)
                     for a in (0, 1) for b in (0, 1)], axis=1).reshape(9, 16).T


def kernel_from_phases(phases: list[np.ndarray]) -> np.ndarray:
    """Inverse of the phase split: four (cout, cin, 2, 2) kernels -> a Keras (3, 3, cin, cout) kernel."""
    stacked = np.stack(phases, axis=2).reshape(*phases[0].shape[:2], 16)
    taps = stacked @ np.linalg.pinv(phase_map()).T  # (cout, cin, 9); exact, the map is injective
    return np.transpose(taps.reshape(*phases[0].shape[:2], 3, 3), (2, 3, 1, 0))


def phase_kernels(kernel: np.ndarray) -> list[tuple[tuple[int, int], np.ndarray]]:
    """((a, b), its (cout, cin, 2, 2) kernel) for the four phases of a Keras (3, 3, cin, cout) kernel."""
    w = np.transpose(kernel, (3, 2, 0, 1))  # (cout, cin, 3, 3)
    return [((a, b), np.einsum("ry,oiyx,cx->oirc", PHASE_TAPS[a], w, PHASE_TAPS[b])) for a in (0, 1) for b in (0, 1)]


def kernel_from_phase_output(w: np.ndarray, bias: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of export._phase_output_conv for a KxK conv: output phase (0, 0) holds every tap once."""
    cout, cin = w.shape[0] // 4, w.shape[1] // 4
    radius, r = w.shape[2] // 2, k // 2
    w = w.reshape(2, 2, cout, 2, 2, cin, *w.shape[2:])[0, 0]  # (cout, a_in, b_in, cin, dy, dx)
    kernel = np.zeros((2 * r + 1, 2 * r + 1, cin, cout), np.float32)
    for ty, tx in np.ndindex(2 * r + 1, 2 * r + 1):
        a_in, b_in = (ty - r) % 2, (tx - r) % 2
        dy, dx = (ty - r - a_in) // 2 + radius, (tx - r - b_in) // 2 + radius
        kernel[ty, tx] = w[:, a_in, b_in, :, dy, dx].T
    return kernel, bias[:cout]

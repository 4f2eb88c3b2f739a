"""The network step of the pipeline: a style model run by ONNX Runtime.

Small images run in one pass. Large ones run in overlapping tiles so memory
stays bounded. Instance normalization would give every tile its own tone, so
all tiles are normalised with one set of statistics, taken from the whole image
(from crops spread over it when large); with these shared statistics and a margin
of three quarters of the network's reach, tiles fit together without seams.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort
from PIL import Image

from faststyle.architecture import PAD_MULTIPLE, Architecture
from faststyle.errors import FaststyleError
from faststyle.model_file import ModelCard, card_from_session, session_error, stored_stats_graph
from faststyle.postprocess import Finish, finish
from faststyle.preprocess import onto_grid, pad_to_multiple
from faststyle.styles import LITE_SUBDIR, resolve_style

# Below this the image runs in one pass; above, in tiles of at most MAX_TILE_PIXELS (tile_grid).
# Full HD still fits in memory in one pass, and tiling costs a statistics pass on top. Tiles of
# 1 MP are as fast as larger ones at half the peak memory. Measured: docs/speed.md, "tiling constants".
MAX_UNTILED_PIXELS = 1920 * 1088
MAX_TILE_PIXELS = 1024 * 1024
# Each model's tile margin comes from its architecture (three quarters of half its receptive
# field, see architecture.py); this is the full network's, 44 px.
MARGIN = Architecture().tile_margin()
# Statistics for tiled runs come from the whole image up to STATS_PIXELS; beyond, from a sample
# at full resolution: squares of STATS_CROP pixels on an even grid over the image (about 170 at
# full HD), which the statistics graph normalises together as one picture. Full resolution,
# because a downscaled copy's statistics are shifted by the change of scale; many small squares,
# because a few large crops miss whole regions and smaller ones see more of their own mirrored
# edges. Measured against the alternatives: docs/speed.md, "tiling constants".
STATS_PIXELS = 700 * 1024
STATS_CROP = 64


class Cancelled(Exception):
    """Raised by a run whose CancelToken was cancelled."""


class CancelToken:
    """Lets another thread stop a running stylization, even in the middle of a pass."""

    def __init__(self) -> None:
        self.run_options = ort.RunOptions()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.run_options.terminate = True  # ONNX Runtime checks this between nodes

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()


# All sessions in the process (full and lite models, statistics passes) share one memory arena,
# one region of 1 GB address space that pages in only as used. In a single region freed
# activations coalesce and are reused: less memory and faster than no arena (ONNX Runtime would
# trace a memory pattern afresh for every new image size) or its default arena (regions that
# double, whose free space cannot merge). The arena keeps the pages it has touched until the
# process ends, so later runs and tiles reuse them (docs/speed.md, "tiling constants").
ARENA_BYTES = 1 << 30


@cache  # once per process
def _register_arena() -> None:
    cpu = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    try:
        ort.create_and_register_allocator(cpu, ort.OrtArenaCfg({"initial_chunk_size_bytes": ARENA_BYTES}))
    except Exception:  # noqa: BLE001 - the host program registered one already: share that
        pass


def _share_one_arena(options: ort.SessionOptions) -> None:
    _register_arena()
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.enable_cpu_mem_arena = True
    options.enable_mem_pattern = False  # the arena already reuses memory


def _session_options(threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the optional statistics inputs make ORT warn on every load
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    _share_one_arena(options)
    return options


def _ceil_to(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _cores(length: int, asked: int) -> tuple[int, int]:
    """Core size (a multiple of 4) to split `length` into `asked` pieces, and how many it really
    makes: rounding the core up can leave fewer than asked."""
    core = _ceil_to(-(-length // asked), PAD_MULTIPLE)
    return core, -(-length // core)


def _tile_span(core: int, count: int, margin: int) -> int:
    """The largest tile side for `count` cores of `core` pixels: edge tiles have one margin, inner ones two."""
    return core + margin * min(2, count - 1)


def tile_grid(h: int, w: int, max_tile_pixels: int, margin: int = MARGIN) -> tuple[int, int]:
    """Core tile height and width (multiples of 4) for the grid that computes the fewest pixels
    (cores plus overlaps) with every tile, margins included, within max_tile_pixels."""
    # Each boundary between rows (columns) adds two margins of overlap, whatever the cores' size,
    # so a grid of ny x nx tiles computes (h + 2 m (ny - 1)) x (w + 2 m (nx - 1)) pixels. Fewest
    # pixels, not fewest tiles: a 12 MP photo in 3x5 squarish tiles runs less than in 2x7 tall ones.
    best: tuple[tuple[int, int], tuple[int, int]] | None = None
    for rows_asked in range(1, h + 1):
        cy, ny = _cores(h, rows_asked)
        run_h = h + 2 * margin * (ny - 1)  # rows computed, overlaps included
        if best is not None and run_h * w >= best[0][0]:
            break  # more rows cannot mean fewer pixels
        for cols_asked in range(1, w + 1):
            cx, nx = _cores(w, cols_asked)
            if _tile_span(cy, ny, margin) * _tile_span(cx, nx, margin) <= max_tile_pixels:
                cost = (run_h * (w + 2 * margin * (nx - 1)), ny * nx)
                if best is None or cost < best[0]:
                    best = (cost, (cy, cx))
                break  # more columns only add pixels
    if best is None:
        raise ValueError(f"max_tile_pixels must be at least {(2 * margin + PAD_MULTIPLE) ** 2}")
    return best[1]


def stats_crops(h: int, w: int, budget: int = STATS_PIXELS, side: int = STATS_CROP
                ) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """Crop size and top-left corners of the statistics sample of an h x w image (sides multiples
    of 4): about budget / side^2 squares on a grid spanning the image, corners on multiples of 4
    so each crop's strided convs sample the grid a whole-image pass does."""
    ch, cw = min(side, h), min(side, w)
    count = max(1, budget // (ch * cw))
    rows = min(count, max(1, round((count * h / w) ** 0.5)))
    cols = max(1, count // rows)
    ys = np.linspace(0, h - ch, rows) // PAD_MULTIPLE * PAD_MULTIPLE
    xs = np.linspace(0, w - cw, cols) // PAD_MULTIPLE * PAD_MULTIPLE
    return (ch, cw), [(int(y), int(x)) for y in ys for x in xs]


def downscaled_copy(rgb: np.ndarray, pixels: int) -> np.ndarray:
    """The image shrunk (bilinear) to about `pixels`: where older models take tiling's statistics."""
    h, w = rgb.shape[:2]
    scale = (pixels / (h * w)) ** 0.5
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                  Image.BILINEAR))


DEFAULT_DEVICE = "auto"  # the best execution provider installed: a GPU where there is one, else the CPU
# --device names -> ONNX Runtime execution providers, best first, and the package that brings each.
DEVICES = {
    "cuda": ("CUDAExecutionProvider", "onnxruntime-gpu"),
    "directml": ("DmlExecutionProvider", "onnxruntime-directml"),
    "coreml": ("CoreMLExecutionProvider", "onnxruntime (macOS build)"),
    "openvino": ("OpenVINOExecutionProvider", "onnxruntime-openvino"),
}


def execution_providers(device: str = DEFAULT_DEVICE) -> list[str]:
    """The providers for `device`: "cpu", "auto" (the best one installed) or a name from DEVICES."""
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "auto":
        return [p for p, _ in DEVICES.values() if p in available] + ["CPUExecutionProvider"]
    if device not in DEVICES:
        raise FaststyleError(f"unknown device {device!r}; choose auto, cpu or one of {', '.join(DEVICES)}")
    provider, package = DEVICES[device]
    if provider not in available:
        raise FaststyleError(f"device {device!r} is not available in this ONNX Runtime; install {package} "
                             f"(available here: {', '.join(available)})")
    return [provider, "CPUExecutionProvider"]


def _check_signature(path: Path, session: ort.InferenceSession) -> None:
    """A model must take and give float NHWC RGB images, or running it would fail inside ONNX Runtime."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if "image" not in inputs or "stylized" not in outputs:
        raise FaststyleError(f"{path}: not a faststyle model (needs input 'image' and output 'stylized')")
    for kind, arg in (("input", inputs["image"]), ("output", outputs["stylized"])):
        shape = arg.shape
        channels_ok = len(shape) == 4 and (shape[-1] == 3 or not isinstance(shape[-1], int))  # 3 or dynamic
        if arg.type != "tensor(float)" or not channels_ok:
            raise FaststyleError(f"{path}: not a faststyle model: its {kind} '{arg.name}' is {arg.type} of shape "
                                 f"{shape}, expected float images (batch, height, width, 3)")


@dataclass
class StyleModel:
    """One style: an ONNX Runtime session, created once and reused for many images."""

    path: Path
    session: ort.InferenceSession
    card: ModelCard

    @classmethod
    def load(cls, name_or_path: str | os.PathLike, threads: int | None = None,
             device: str = DEFAULT_DEVICE) -> "StyleModel":
        path = resolve_style(name_or_path)
        providers = execution_providers(device)
        try:
            session = ort.InferenceSession(str(path), _session_options(threads), providers=providers)
        except Exception as exc:
            raise session_error(path, exc) from None
        _check_signature(path, session)
        return cls(path, session, card_from_session(session))

    @cached_property
    def stats_session(self) -> ort.InferenceSession | None:
        """The encoder alone, for tiling's statistics pass; made on first use (most images need no
        tiles). Models exported before it have none: their statistics pass runs the whole network."""
        encoder = stored_stats_graph(self.session)
        if encoder is None:
            return None
        return ort.InferenceSession(encoder, self.session.get_session_options(),
                                    providers=self.session.get_providers())

    @property
    def name(self) -> str:
        """The file's stem: what users type after --style, and what outputs are named after."""
        return self.path.stem

    @property
    def architecture(self) -> Architecture:
        return self.card.network()

    @property
    def is_lite(self) -> bool:
        """Whether this is a style's lite network (lite/NAME.onnx beside the full one)."""
        return self.path.parent.name == LITE_SUBDIR

    @property
    def _stat_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs() if o.name.endswith(("_mean", "_var"))]

    def _run(self, rgb: np.ndarray, stats: dict[str, np.ndarray] | None = None,
             cancel: CancelToken | None = None) -> np.ndarray:
        """One pass over an HxWx3 array whose sides are multiples of 4 -> float HxWx3."""
        feeds = {"image": rgb[None].astype(np.float32)}
        if stats:
            feeds["norm_override"] = np.array(1.0, np.float32)
            feeds.update({f"{k}_in": v for k, v in stats.items()})
        return self._session_run(["stylized"], feeds, cancel)[0][0]

    def _session_run(self, names: list[str], feeds: dict, cancel: CancelToken | None,
                     session: ort.InferenceSession | None = None) -> list:
        session = session or self.session
        if cancel is not None:
            cancel.check()
        try:
            return session.run(names, feeds, cancel.run_options if cancel is not None else None)
        except Exception as exc:
            if cancel is not None:
                cancel.check()  # a terminated run surfaces as a generic ORT error
            if isinstance(exc, MemoryError):
                raise
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise FaststyleError(f"{self.path}: ONNX Runtime could not run this model ({detail}); "
                                 "it may be damaged or made for another version: try another style") from None

    @property
    def _stats_from_crops(self) -> bool:
        """Whether the statistics graph pools a batch of crops (one set of statistics per batch);
        models exported before it normalise each image of a batch on its own."""
        return self.stats_session is not None and self.stats_session.get_outputs()[0].shape[0] == 1

    def norm_stats(self, rgb: np.ndarray, cancel: CancelToken | None = None) -> dict[str, np.ndarray]:
        """Instance-norm statistics of the whole image: exact up to STATS_PIXELS, else sampled."""
        names = self._stat_names
        if not names:
            raise FaststyleError(f"{self.path}: model has no normalization outputs, cannot tile; "
                                 "re-export it with this version of faststyle")
        h, w = rgb.shape[:2]
        if h * w > STATS_PIXELS and self._stats_from_crops:
            padded = pad_to_multiple(rgb)
            (ch, cw), origins = stats_crops(*padded.shape[:2], STATS_PIXELS)
            batch = np.stack([padded[y:y + ch, x:x + cw] for y, x in origins])
        elif h * w > STATS_PIXELS:  # an older model: its statistics from a downscaled copy
            batch = pad_to_multiple(downscaled_copy(rgb, STATS_PIXELS))[None]
        else:
            batch = pad_to_multiple(rgb)[None]
        values = self._session_run(names, {"image": batch.astype(np.float32)}, cancel, session=self.stats_session)
        return dict(zip(names, values))

    def transform(self, rgb: np.ndarray, finish: Finish = finish,
                  max_untiled_pixels: int = MAX_UNTILED_PIXELS, max_tile_pixels: int = MAX_TILE_PIXELS,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: CancelToken | None = None,
                  stats: dict[str, np.ndarray] | None = None,
                  grid: tuple[int, int] | None = None) -> np.ndarray:
        """Stylizes an HxWx3 uint8 array -> HxWx3 uint8.

        `finish(source, stylized_float)` turns each piece into uint8 (default: postprocess.finish,
        clipped); pixel-wise post-processing thus runs tile by tile, keeping memory bounded.
        `progress(done, total)` is called after each tile; `cancel` stops the run (Cancelled).
        `stats` (from `norm_stats`) normalises with given statistics instead of the image's own.
        `grid`: the (top, left) rows and columns padded before painting so the picture sits on a
        chosen phase of the network's grid; None: preprocess.grid_anchor's, which follows the
        picture, so a moved copy gets the same strokes (a video passes the phase its motion gives).
        """
        moved, top, left = onto_grid(rgb, grid)
        if top or left:
            painted = self.transform(moved, finish, max_untiled_pixels, max_tile_pixels, progress, cancel,
                                     stats, grid=(0, 0))
            return np.ascontiguousarray(painted[top:, left:])
        h, w = rgb.shape[:2]
        if h * w <= max_untiled_pixels:
            result = finish(rgb, self._run(pad_to_multiple(rgb), stats, cancel)[:h, :w])
            if progress:
                progress(1, 1)
            return result
        stats = stats or self.norm_stats(rgb, cancel)
        padded = pad_to_multiple(rgb)
        ph, pw = padded.shape[:2]
        margin = self.architecture.tile_margin()
        step_y, step_x = tile_grid(h, w, max_tile_pixels, margin)
        out = np.empty_like(rgb)
        origins = [(y, x) for y in range(0, h, step_y) for x in range(0, w, step_x)]
        for i, (y, x) in enumerate(origins):
            # Tile = core [y, y+step) plus a margin each side, clipped to the image;
            # all offsets are multiples of 4, so strided convs sample the same grid as a whole run.
            y0, x0 = max(0, y - margin), max(0, x - margin)
            y1, x1 = min(ph, y + step_y + margin), min(pw, x + step_x + margin)
            styled = self._run(padded[y0:y1, x0:x1], stats, cancel)
            cy1, cx1 = min(y + step_y, h), min(x + step_x, w)
            core = styled[y - y0:cy1 - y0, x - x0:cx1 - x0]
            out[y:cy1, x:cx1] = finish(rgb[y:cy1, x:cx1], core)
            if progress:
                progress(i + 1, len(origins))
        return out

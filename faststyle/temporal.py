"""Paintings that move with the camera: video frames tied together along the optical flow.

A transform network paints each frame on its own. Its stride is 4, so when the picture moves by
a step that is not a multiple of 4 px the strokes are painted anew and a pan shimmers (issue 31;
docs/video.md). `FlowCarry` carries the previous painted frame forward along the input's optical
flow and keeps it where the flow is trustworthy: the input frames agree after warping. Where
they do not (occlusions, new content at the edges, cuts), the new painting shows through.
`Surround` gives each frame the scene around it from the frames before and after it, so content
that comes in at the edge is painted once, not again as it moves inwards.

`warping_error` is the measure the fix is judged by: the difference between consecutive frames
after lining them up along the flow, with occluded pixels left out. It needs OpenCV (the
[video] extra); the flow it measures with (Farneback) is not the one FlowCarry uses (DIS), so
the fix is not graded by its own estimate.
"""

from __future__ import annotations

import functools

import numpy as np

from faststyle.architecture import PAD_MULTIPLE
from faststyle.errors import FaststyleError
from faststyle.preprocess import grid_anchor

CARRY = 0.8         # share of the carried painting where the flow holds: higher is steadier, lags more
# A whole-pixel shift of the whole picture (a screen recording, a slideshow's pan, the pan test
# clips) is carried exactly, without interpolation: nothing blurs and nothing lags, so the new
# painting's share is halved there (0.8 -> 0.9 kept). EXACT_TOLERANCE: how far from whole pixels
# the median flow may be (px); EXACT_SHARE: the pixels whose flow must be within half a pixel of it.
EXACT_TOLERANCE, EXACT_SHARE = 0.05, 0.9
SUBPIXEL = 0.05     # px: a smaller rest of the motion is not worth resampling the frame for
AGREEMENT = 24.0    # grey levels of input difference after warping at which the carry falls to zero
BORDER = 16         # pixels left out at the edges by warping_error: flow is least sure there
# warping_error's flow estimators: Farneback, or DIS at one of these presets (OpenCV names, read when measured)
DIS_PRESETS = {"dis-medium": "DISOPTICAL_FLOW_PRESET_MEDIUM", "dis-fast": "DISOPTICAL_FLOW_PRESET_FAST"}
MEASURING_FLOWS = ("farneback", *DIS_PRESETS)
FLOW_SIDE = 12      # px: DIS needs a frame this wide or this high; smaller frames are painted each on its own


def _cv2():
    try:
        import cv2
    except ImportError:
        raise FaststyleError('steady video needs OpenCV: pip install "faststyle[video]"') from None
    return cv2


def _gray(cv2, rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _warp(cv2, image: np.ndarray, flow: np.ndarray, sharp: bool = False) -> np.ndarray:
    """`image` sampled at each pixel + flow (outside the frame: the nearest edge pixel). Bilinear,
    or bicubic with `sharp`: a picture warped again every frame stays sharp only with bicubic
    (measured: docs/video.md)."""
    grid = _grid(*flow.shape[:2])
    return cv2.remap(image, grid[1] + flow[..., 0], grid[0] + flow[..., 1],
                     cv2.INTER_CUBIC if sharp else cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> np.ndarray:
    """Pixel coordinates (y, x) of an h x w frame: made once per frame size, not per warp."""
    grid = np.mgrid[0:h, 0:w].astype(np.float32)
    grid.flags.writeable = False
    return grid


def _shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`image` sampled at each pixel + (dx, dy), the edge pixel repeated outside: _warp for a
    whole-pixel shift, with no interpolation."""
    h, w = image.shape[:2]
    return image[np.clip(np.arange(h) + dy, 0, h - 1)][:, np.clip(np.arange(w) + dx, 0, w - 1)]


def _translated(cv2, image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`image` moved by (dx, dy) px (bicubic, edges mirrored), in its own dtype (uint8 clipped)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


def _whole_pixel_shift(flow: np.ndarray) -> tuple[int, int] | None:
    """(dx, dy) when the flow moves the whole picture by whole pixels, else None."""
    median = np.median(flow.reshape(-1, 2), axis=0)
    whole = np.round(median)
    if np.abs(median - whole).max() > EXACT_TOLERANCE:
        return None
    if np.mean(np.abs(flow - median).max(axis=2) < 0.5) < EXACT_SHARE:
        return None  # parts move on their own: no single shift
    return int(whole[0]), int(whole[1])


def _inside(flow: np.ndarray) -> np.ndarray:
    """True where pixel + flow lands inside the frame (outside it, warping only repeats the edge)."""
    h, w = flow.shape[:2]
    y, x = _grid(h, w)
    fy, fx = y + flow[..., 1], x + flow[..., 0]
    return (fx >= 0) & (fx <= w - 1) & (fy >= 0) & (fy <= h - 1)


class FlowCarry:
    """Steadies painted frames one after another. Per frame, in this order:

        top, left = carry.motion(frame)     # the flow from the previous frame, measured once
        painted = paint(carry.onto_grid(frame) padded by top rows and left columns)[top:, left:]
        steady = carry(frame, carry.off_grid(painted))

    motion: the padding that puts the picture where it sat on the network's 4 px grid in the
    first frame of the shot, following the camera's overall motion (the median flow). A pan then
    shows the network the same strokes' grid, so it paints the same strokes.
    onto_grid / off_grid: the sub-pixel rest of that motion, taken out of the frame before painting
    (bicubic) and put back into the painting after, so the network sees the picture on the same
    phase of its grid to a fraction of a pixel; what is left (roll, zoom, things moving) the carry
    smooths.
    carry: the previous steady picture's share where the flow holds (0: off); where the whole
    picture moved by whole pixels, it is carried exactly and the new painting's share halved.
    new_share (after `motion`): how much of the frame the previous one does not show (1 at a cut or
    a shot's first frame, about 0.01 on a slow pan): what the painting's statistics should follow.
    """

    def __init__(self, carry: float = CARRY, agreement: float = AGREEMENT):
        if not 0.0 <= carry < 1.0:
            raise FaststyleError(f"carry must be at least 0 and below 1, got {carry}")
        self.cv2 = _cv2()
        self.carry, self.agreement = carry, agreement
        # DIS (Kroeger et al. 2016): fast on a CPU, and dense enough to warp a painting with.
        self.dis = self.cv2.DISOpticalFlow_create(self.cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # frame, gray, steady picture
        self.offset = np.zeros(2)  # (x, y): how far the picture has moved since the shot began
        # The last motion(): frame, gray, flow, whole-pixel shift (or None), and trust: per pixel, how
        # far the previous frame, moved along the flow, agrees with this one (0..1; None without flow).
        self.current: tuple | None = None

    def motion(self, frame: np.ndarray) -> tuple[int, int]:
        """Measures the flow from the previous frame; -> (top, left) padding, each 0..3."""
        gray = _gray(self.cv2, frame)
        flow, shift, trust = None, None, None
        if self.previous is not None and self.previous[0].shape == frame.shape and max(gray.shape) >= FLOW_SIDE:
            flow = self.dis.calc(gray, self.previous[1], None)  # for each pixel now: where it was before
            shift = _whole_pixel_shift(flow)
            # A whole-pixel shift counts exactly, so a pan's offset gathers no fractions of flow error.
            self.offset -= shift if shift is not None else np.median(flow.reshape(-1, 2), axis=0)
            trust = self._trust(frame, flow, shift)
        else:  # a new shot (or size): its first frame sets the grid where a still picture has it
            top, left = grid_anchor(frame)
            self.offset[:] = (-left, -top)
        self.current = (frame, gray, flow, shift, trust)
        left, top = (-np.round(self.offset).astype(int)) % PAD_MULTIPLE
        return int(top), int(left)

    def _trust(self, frame: np.ndarray, flow: np.ndarray, shift: tuple[int, int] | None) -> np.ndarray:
        """Per pixel 0..1: the previous frame moved along the flow agrees with this one (1) or not
        (0 from `agreement` grey levels apart, and outside the previous frame)."""
        last_frame = self.previous[0]
        if shift is not None:
            seen = _shifted(last_frame, *shift)
            inside = _inside(np.broadcast_to(np.array(shift, np.float32), flow.shape))
        else:
            seen, inside = _warp(self.cv2, last_frame.astype(np.float32), flow), _inside(flow)
        mismatch = np.abs(seen.astype(np.float32, copy=False) - frame.astype(np.float32)).mean(axis=2)
        return np.clip(1.0 - mismatch / self.agreement, 0.0, 1.0) * inside

    @property
    def new_share(self) -> float:
        """The share of the last motion()'s frame that the previous frame does not show."""
        trust = self.current[4] if self.current is not None else None
        return 1.0 if trust is None else float(1.0 - trust.mean())

    @property
    def _fraction(self) -> tuple[float, float]:
        """(x, y): how far, below a pixel, the picture sits from where the grid wants it."""
        x, y = self.offset - np.round(self.offset)
        return (float(x), float(y)) if max(abs(x), abs(y)) >= SUBPIXEL else (0.0, 0.0)

    def onto_grid(self, frame: np.ndarray) -> np.ndarray:
        """The frame moved by the sub-pixel rest of the camera's motion (after `motion`)."""
        x, y = self._fraction
        return _translated(self.cv2, frame, -x, -y) if x or y else frame

    def off_grid(self, painted: np.ndarray) -> np.ndarray:
        """The painting of `onto_grid`'s frame moved back to where the frame's picture is."""
        x, y = self._fraction
        return _translated(self.cv2, painted, x, y) if x or y else painted

    def __call__(self, frame: np.ndarray, painted: np.ndarray) -> np.ndarray:
        if self.current is None or self.current[0] is not frame:
            self.motion(frame)
        _, gray, flow, shift, trust = self.current
        steady = painted.astype(np.float32)
        if flow is not None and self.carry > 0:
            last_steady = self.previous[2]
            if shift is not None:
                carried, carry = _shifted(last_steady, *shift), 1.0 - (1.0 - self.carry) / 2
            else:
                carried, carry = _warp(self.cv2, last_steady, flow, sharp=True), self.carry
            steady += (carry * trust)[..., None] * (carried - steady)
        self.previous, self.current = (frame, gray, steady), None
        return np.clip(np.rint(steady), 0, 255).astype(np.uint8)


SURROUND = 16       # px of the scene painted around each frame, from the frames before and after it
REACH = 8           # frames before and after a frame that may show its surroundings
TRACK_SIDE = 320    # px: the long side frames are tracked at (a whole-scene shift needs no more)
HELD_BYTES = 512 * 2**20  # the frames Surround holds at most: large frames reach fewer frames


class Surround:
    """The scene around a frame, from the frames of its shot before and after it.

    The network paints the content near a frame's edge without what lies beyond it, and paints it
    again, differently, once the camera has brought it inwards: on a pan, new content is repainted
    for its first few dozen frames (docs/video.md, "The scene around the frame"). Painted on a
    canvas that holds `margin` px of the real scene around the frame, it gets its strokes once.

        surround.add(frame)            # each frame in order, `reach` frames ahead of painting
        canvas = surround.canvas(i)    # frame i with `margin` px around it; crop [m:-m, m:-m] after

    Frames are placed by the camera's overall motion (the median of DIS flow at TRACK_SIDE px: its
    own small flow, as FlowCarry's full one for a frame is made only when that frame is painted,
    `reach` frames later); each canvas pixel comes from the frame nearest in time that shows it, mirrored where none
    does. A frame whose content does not follow the one before (a cut) starts a new shot, and
    frames of other shots are not used.
    """

    def __init__(self, margin: int = SURROUND, reach: int = REACH):
        if margin % PAD_MULTIPLE or margin < 0:
            raise ValueError(f"the margin must be a multiple of {PAD_MULTIPLE} px, got {margin}")
        self.cv2, self.margin, self.reach = _cv2(), margin, reach
        self.dis = self.cv2.DISOpticalFlow_create(self.cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.frames: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}  # index: frame, position (x, y), shot
        self.added = 0
        self.last: tuple[np.ndarray, int] | None = None  # the last frame's small gray, and its shot

    def add(self, frame: np.ndarray) -> None:
        if not self.added:  # 2 * reach + 1 frames are held: 17 of 1080p take about 100 MB
            self.reach = max(1, min(self.reach, (HELD_BYTES // frame.nbytes - 1) // 2))
        h, w = frame.shape[:2]
        scale = min(1.0, TRACK_SIDE / max(h, w))
        small = _gray(self.cv2, frame if scale == 1.0 else self.cv2.resize(
            frame, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=self.cv2.INTER_AREA))
        position, shot = np.zeros(2), 0
        if self.last is not None:
            last_small, shot = self.last
            step = self._step(last_small, small) if last_small.shape == small.shape and max(small.shape) >= FLOW_SIDE else None
            if step is None:
                shot += 1
            else:
                position = self.frames[self.added - 1][1] - step / scale
        self.frames[self.added] = (frame, position, shot)
        self.last = (small, shot)
        self.added += 1
        self.frames.pop(self.added - 1 - 2 * self.reach - 1, None)  # past what any canvas will ask for

    def _step(self, last: np.ndarray, now: np.ndarray) -> np.ndarray | None:
        """The median flow from `now` to `last` (px at tracking scale), or None where the frames do
        not show the same scene: fewer than half of `now`'s pixels agree with `last` moved by it."""
        flow = self.dis.calc(now, last, None)
        step = np.median(flow.reshape(-1, 2), axis=0)
        seen = self.cv2.warpAffine(last, np.float32([[1, 0, step[0]], [0, 1, step[1]]]), last.shape[::-1],
                                   flags=self.cv2.INTER_LINEAR | self.cv2.WARP_INVERSE_MAP,
                                   borderMode=self.cv2.BORDER_REPLICATE)
        inside = _inside(np.broadcast_to(step.astype(np.float32), flow.shape))
        agree = np.abs(seen.astype(np.float32) - now.astype(np.float32)) < AGREEMENT
        return step if inside.any() and agree[inside].mean() >= 0.5 else None

    def canvas(self, index: int) -> np.ndarray:
        """Frame `index` with `margin` px of its surroundings on every side."""
        frame, position, shot = self.frames[index]
        m = self.margin
        canvas = self.cv2.copyMakeBorder(frame, m, m, m, m, self.cv2.BORDER_REFLECT)
        if not m:
            return canvas
        h, w = frame.shape[:2]
        filled = np.zeros(canvas.shape[:2], bool)
        filled[m:m + h, m:m + w] = True
        nearest_first = sorted((i for i in self.frames if i != index), key=lambda i: (abs(i - index), i))
        for i in nearest_first:
            other, other_position, other_shot = self.frames[i]
            if other_shot != shot or other.shape != frame.shape:
                continue
            # Canvas pixel c shows the scene point that frame i has at c - m + (its position - ours).
            dx, dy = other_position - position
            x0, x1 = max(0, int(np.ceil(m - dx))), min(w + 2 * m, int(np.floor(m - dx + w - 1)) + 1)
            y0, y1 = max(0, int(np.ceil(m - dy))), min(h + 2 * m, int(np.floor(m - dy + h - 1)) + 1)
            if x0 >= x1 or y0 >= y1:
                continue
            take = ~filled[y0:y1, x0:x1]  # what this frame adds, within its own box on the canvas
            if not take.any():
                continue
            placed = self.cv2.warpAffine(other, np.float32([[1, 0, dx - m + x0], [0, 1, dy - m + y0]]),
                                         (x1 - x0, y1 - y0), flags=self.cv2.INTER_LINEAR | self.cv2.WARP_INVERSE_MAP)
            canvas[y0:y1, x0:x1][take] = placed[take]
            filled[y0:y1, x0:x1] |= take
            if filled.all():
                break
        return canvas


def _measuring_flow(cv2, name: str):
    """The flow estimator warping_error measures with: (gray, gray) -> flow from the first to the second."""
    if name not in MEASURING_FLOWS:
        raise ValueError(f"unknown flow {name!r}; choose one of {', '.join(MEASURING_FLOWS)}")
    if name == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 5, 7, 1.5, 0)
    dis = cv2.DISOpticalFlow_create(getattr(cv2, DIS_PRESETS[name]))
    return lambda a, b: dis.calc(a, b, None)


def warping_error(frames: list[np.ndarray], painted: list[np.ndarray] | None = None,
                  border: int = BORDER, flow: str = "farneback") -> float:
    """Mean absolute grey levels between each frame and the one before it warped along the flow
    of the input frames, where the flow holds both ways (Ruder et al. 2016's occlusion test).
    Without `painted`: the input's own error, the floor a painting is held to.

    `flow`: one of MEASURING_FLOWS. Farneback by default: not the DIS flow FlowCarry steadies
    with ("dis-medium"), so the fix is not graded by its own estimate.
    """
    cv2 = _cv2()
    painted = frames if painted is None else painted
    if len(frames) != len(painted) or len(frames) < 2:
        raise ValueError("warping_error needs two or more frames, as many painted as input")
    estimate = _measuring_flow(cv2, flow)
    errors = []
    grays = [_gray(cv2, f) for f in frames]
    for i in range(1, len(frames)):
        back, forth = estimate(grays[i], grays[i - 1]), estimate(grays[i - 1], grays[i])
        round_trip = back + _warp(cv2, forth, back)
        holds = (np.square(round_trip).sum(axis=2) <= 0.01 * (np.square(back).sum(axis=2)
                                                              + np.square(_warp(cv2, forth, back)).sum(axis=2)) + 0.5)
        holds &= _inside(back)
        holds[:border], holds[-border:], holds[:, :border], holds[:, -border:] = False, False, False, False
        if not holds.any():
            continue
        seen = _warp(cv2, painted[i - 1].astype(np.float32), back)
        errors.append(float(np.abs(seen - painted[i].astype(np.float32)).mean(axis=2)[holds].mean()))
    if not errors:
        raise ValueError("the flow holds nowhere between these frames (a cut in every pair?)")
    return float(np.mean(errors))


def camera_clip(photo: np.ndarray, motion: str = "pan", frames: int = 48, size: tuple[int, int] = (320, 240),
                seed: int = 0) -> list[np.ndarray]:
    """A clip filmed over a still photo: a steady pan of (3, 1) px a frame, or a hand-held camera
    (a random walk of sub-pixel steps with a slight roll). The test material of warping_error:
    the true motion is known and nothing in the scene moves on its own."""
    cv2 = _cv2()
    w, h = size
    H, W = photo.shape[:2]
    if motion == "pan":
        path = [(3.0 * t, 1.0 * t, 0.0) for t in range(frames)]
    elif motion == "handheld":
        rng = np.random.default_rng(seed)
        steps = rng.normal(0.0, 1.5, (frames, 2)).cumsum(axis=0)
        roll = 0.3 * np.sin(np.linspace(0, 3 * np.pi, frames))  # degrees
        path = [(x, y, r) for (x, y), r in zip(steps - steps.min(axis=0), roll)]
    else:
        raise ValueError(f"motion is 'pan' or 'handheld', not {motion!r}")
    reach_x = max(p[0] for p in path) + w + 8
    reach_y = max(p[1] for p in path) + h + 8
    if reach_x > W or reach_y > H:
        raise ValueError(f"a {W}x{H} photo is too small for a {w}x{h} {motion} of {frames} frames")
    clip = []
    for x, y, r in path:
        # The window's top-left corner at (4 + x, 4 + y), turned by r degrees about its centre.
        m = cv2.getRotationMatrix2D((4 + x + w / 2, 4 + y + h / 2), r, 1.0)
        m[:, 2] -= (4 + x, 4 + y)
        clip.append(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return clip

"""Stylizing video, frame by frame (needs the [video] extra: imageio-ffmpeg, OpenCV).

Two things make a painted video unsteady, and `FramePainter` answers each:
1. Instance normalization computes statistics per frame, so small changes between frames change
   the whole picture's tone: flicker. Frames are normalised with a running average of the
   statistics, the same mechanism tiling uses. With `stable`, each frame counts in it by how much
   of the picture is new, so the tone follows the scene, not the camera: a pan does not drift it,
   a cut resets it.
2. The network's stride repaints the strokes whenever the picture moves by a step that is not
   a multiple of 4 px: shimmer. With `stable`, the previous painted frame is carried along the
   optical flow (temporal.FlowCarry), and each frame is painted with the scene around it that the
   frames before and after it show (temporal.Surround, in `FramePainter.paint_all`).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from faststyle.api import BlendedStyle, StyleLike, as_model
from faststyle.errors import FaststyleError
from faststyle.files import refuse_overwriting_inputs, remove_stale_temp_files, temp_file_beside
from faststyle.postprocess import check_strength, finish, upsample_with_detail
from faststyle.preprocess import resize_array
from faststyle.temporal import CARRY, FlowCarry, Surround

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".gif"}
SMOOTHING = 0.9  # the running average's weight of the past when frames are painted one by one
# With `stable`, a frame's statistics count by the share of it that is new, and at least this: a
# slow pan (about 1 % new a frame) then keeps its tone, where a fixed 0.9 drifted it, while a cut
# counts in full (measured: docs/video.md, "The tone on a pan").
LEAST_NEW = 0.01
# Constant-quality encoding: the size follows the picture instead of a fixed high bitrate.
DEFAULT_CRF = 23


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FaststyleError('video needs imageio-ffmpeg: pip install "faststyle[video]"') from None
    logging.getLogger("imageio_ffmpeg").addFilter(_rotation_notice)
    return imageio_ffmpeg


def _unreadable(error: str) -> str:
    """What to tell a user of a file ffmpeg could not read as a video, from its error text (which
    holds ffmpeg's own report of the streams it found)."""
    streams = [line for line in error.splitlines() if "Stream #" in line]
    if streams and not any("Video:" in line for line in streams):
        return "no pictures in this file, only sound; give a video file"
    return f"cannot read this video ({error.strip().splitlines()[-1][:120]})"


def _rotation_notice(record: logging.LogRecord) -> bool:
    """False for imageio-ffmpeg's warning that the frames' size differs from the stream's: a clip
    filmed upright on a phone is stored on its side with a rotation tag, and ffmpeg turns the
    frames as it decodes them, so the two sizes differ as they should (added once: a filter is a set)."""
    return "is different from the source frame size" not in record.getMessage()


class FramePainter:
    """Paints a video's frames in order: `painted = painter(frame)` (uint8 HxWx3 both), or
    `painter.paint_all(frames)` (with the scene around each frame: the steadier way).

    smoothing: weight of the past in the running average of normalisation statistics
    (0 = every frame on its own, closer to 1 = steadier tone). None: with `stable`, the share of
    the picture the previous frame showed (LEAST_NEW at least for the new), else SMOOTHING.
    stable: carry the previous painted frame along the optical flow (no shimmer when the camera
    moves); a number sets the carried share (temporal.CARRY when True).
    stroke_scale: strokes this many times larger, as faststyle.stylize paints them: the frames are
    painted (and steadied) at a lower resolution and brought back with the frame's own fine detail.
    """

    def __init__(self, style: StyleLike, strength: float = 1.0, preserve_colors: bool = False,
                 smoothing: float | None = None, stable: bool | float = True, stroke_scale: float = 1.0):
        self.model = as_model(style)
        if isinstance(self.model, BlendedStyle):
            raise FaststyleError("blends are for pictures; paint the video in one style at a time")
        if not stroke_scale >= 1.0:
            raise FaststyleError(f"stroke scale must be 1 or more, got {stroke_scale}")
        self.strength, self.preserve_colors, self.smoothing = check_strength(strength), preserve_colors, smoothing
        self.stroke_scale = stroke_scale
        carry = CARRY if stable is True else float(stable)
        self.carry = FlowCarry(carry) if carry > 0 else None
        self.stats = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """The next frame's painting, at once (without the scene around it)."""
        return self._full_size(self._paint(self._scaled(frame)), frame)

    def paint_all(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Paints frames in order, yielding each painting. With `stable`, each frame is painted with
        the scene around it that the frames before and after it show, so a painting comes out
        temporal.REACH frames after its frame went in (the rest at the end)."""
        if not self.carry:
            yield from map(self, frames)
            return
        surround, full_size = Surround(), {}  # the frames as painted (scaled), and as they came

        def painting(i: int) -> np.ndarray:
            return self._full_size(self._paint(surround.frames[i][0], surround.canvas(i)), full_size.pop(i))

        painted = 0
        for frame in frames:
            full_size[surround.added] = frame
            surround.add(self._scaled(frame))
            while surround.added - painted > surround.reach:
                yield painting(painted)
                painted += 1
        while painted < surround.added:
            yield painting(painted)
            painted += 1

    def _scaled(self, frame: np.ndarray) -> np.ndarray:
        """The frame at the resolution it is painted at."""
        if self.stroke_scale == 1.0:
            return frame
        h, w = frame.shape[:2]
        return resize_array(frame, (max(1, round(w / self.stroke_scale)), max(1, round(h / self.stroke_scale))))

    def _full_size(self, painted: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """A painting of `_scaled(frame)` at the frame's size, finished (strength, colours)."""
        if self.stroke_scale == 1.0:
            return painted  # finished as it was painted
        return finish(frame, upsample_with_detail(painted, frame), self.strength, self.preserve_colors)

    def _paint(self, frame: np.ndarray, canvas: np.ndarray | None = None) -> np.ndarray:
        """One frame at the painting's resolution, steadied; `canvas`: the frame with the scene
        around it (temporal.Surround), painted instead of the frame alone when stable."""
        grid = self.carry.motion(frame) if self.carry else None
        self._follow_statistics(frame)

        def paint(source, stylized):  # strength and colours at the end where the strokes are scaled
            if self.stroke_scale != 1.0:
                return finish(source, stylized)
            return finish(source, stylized, self.strength, self.preserve_colors)

        if not self.carry:  # each frame anchored on its own, as a picture
            return self.model.transform(frame, paint, stats=self.stats)
        # A margin that is a multiple of the network's grid keeps the frame on the grid's phase.
        m = 0 if canvas is None else (canvas.shape[0] - frame.shape[0]) // 2
        out = self.model.transform(self.carry.onto_grid(frame if canvas is None else canvas), paint,
                                   stats=self.stats, grid=grid)
        return self.carry(frame, self.carry.off_grid(out[m:m + frame.shape[0], m:m + frame.shape[1]]))

    def _follow_statistics(self, frame: np.ndarray) -> None:
        """Takes the frame's normalisation statistics into the running average (after `motion`)."""
        current = self.model.norm_stats(frame)
        if self.smoothing is not None:
            new = 1.0 - self.smoothing
        else:
            new = max(self.carry.new_share, LEAST_NEW) if self.carry else 1.0 - SMOOTHING
        self.stats = current if self.stats is None else {
            k: (1.0 - new) * self.stats[k] + new * v for k, v in current.items()}


def stylize_video(source: str | os.PathLike, target: str | os.PathLike, style: StyleLike,
                  strength: float = 1.0, preserve_colors: bool = False, max_size: int | None = None,
                  smoothing: float | None = None, progress: Callable[[int, int], None] | None = None,
                  crf: int = DEFAULT_CRF, stable: bool | float = True, stroke_scale: float = 1.0) -> Path:
    """Writes `target` (format from its extension), keeping the source's frame rate and audio.

    smoothing, stable, stroke_scale: as FramePainter's.
    crf: H.264 constant rate factor, 0 (lossless) to 51; 23 is ffmpeg's own default.
    """
    ffmpeg = _ffmpeg()
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise FaststyleError(f"{source}: file not found")
    if source.suffix.lower() not in VIDEO_EXTENSIONS:
        raise FaststyleError(f"{source}: not a video file ({', '.join(sorted(VIDEO_EXTENSIONS))}); "
                             "for pictures use 'faststyle stylize'")
    if target.suffix.lower() not in VIDEO_EXTENSIONS - {".gif"}:
        raise FaststyleError(f"{target}: use a video extension such as .mp4, .mov or .mkv")
    refuse_overwriting_inputs(target, source)
    painter = FramePainter(style, strength, preserve_colors, smoothing, stable, stroke_scale)
    try:
        probe = ffmpeg.read_frames(_local(source))
        meta = next(probe)
        probe.close()  # ends its ffmpeg process: only the header was wanted
        # The frames are read at the rate they are written at: left to itself, ffmpeg hands out a
        # variable-rate stream at its guessed rate (often far above the average), duplicating frames.
        fps = meta.get("fps") or 25
        reader = ffmpeg.read_frames(_local(source), output_params=["-r", f"{fps}"])
        next(reader)
    except Exception as exc:
        raise FaststyleError(f"{source}: {_unreadable(str(exc))}") from None
    w, h = meta["size"]
    scale = min(1.0, max_size / max(w, h)) if max_size else 1.0
    out_w, out_h = (round(w * scale) // 2 * 2, round(h * scale) // 2 * 2)  # H.264 wants even sides
    total = int(round(fps * meta.get("duration", 0))) or 0
    if target.parent.is_dir() and (stale := remove_stale_temp_files(target.parent)):  # killed runs' half videos
        print(f"removed {stale} unfinished video file(s) left by an interrupted run", file=sys.stderr)
    try:
        fd, tmp = temp_file_beside(target, target.suffix)  # ffmpeg picks the format from the suffix
    except OSError as exc:
        raise FaststyleError(f"{target}: cannot write ({exc.strerror or type(exc).__name__}); "
                             "choose another output folder with -o") from None
    # fd stays open until the end: it holds the lock that tells other runs this file is being written.
    webm = target.suffix.lower() == ".webm"  # WebM holds VP9 and Opus, not H.264 and AAC
    writer = ffmpeg.write_frames(_local(tmp), (out_w, out_h), fps=fps, quality=None, macro_block_size=2,
                                 codec="libvpx-vp9" if webm else "libx264",
                                 audio_path=_local(source) if meta.get("audio_codec") else None,
                                 audio_codec="libopus" if webm else None,
                                 output_params=["-loglevel", "error", "-crf", str(crf)] + (["-b:v", "0"] if webm else []))
    writer.send(None)
    written = 0
    try:
        def frames():
            for raw in reader:
                frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
                yield frame if (out_w, out_h) == (w, h) else resize_array(frame, (out_w, out_h))

        for painted in painter.paint_all(frames()):
            writer.send(np.ascontiguousarray(painted))
            written += 1
            if progress:
                progress(written, max(total, written))
        writer.close()
        _check_written(tmp, target, written)
        os.replace(tmp, target)
    except BaseException:
        writer.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    return target


def _check_written(tmp: str, target: Path, frames: int) -> None:
    """Reads the finished file back before it takes the target's name: ffmpeg does not report a
    trailer it could not write (a full disk), and such a file will not play."""
    from imageio_ffmpeg import count_frames_and_secs

    try:
        found, _ = count_frames_and_secs(_local(tmp))
    except Exception:
        found = -1
    if found < frames:
        raise FaststyleError(f"{target}: the video could not be finished (is the disk full?); nothing was written")


def _local(path) -> str:
    """A path ffmpeg takes as a file, whatever it is called: 'concat:a.mp4' would be a protocol."""
    return "file:" + os.path.abspath(path)

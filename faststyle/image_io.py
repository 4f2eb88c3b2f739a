"""Image in, image out: reading anything Pillow reads as RGB(A) 8-bit, writing safely."""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps

from faststyle.errors import FaststyleError
from faststyle.files import atomic_write
from faststyle.preprocess import shrink_to

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]

# HEIC/HEIF, as phones save photos: Pillow reads them with the pillow-heif plugin where it is
# installed (pip install "faststyle[heif]"); without it such a file gets a line naming that command.
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")  # ISO BMFF ftyp
try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_READER = True
except (ImportError, OSError):  # not installed, or its native library missing: every other format still reads
    HEIF_READER = False
# Every extension Pillow can open, e.g. .jpg .png .webp .tif .bmp .gif (and HEIC, to be named if unreadable)
IMAGE_EXTENSIONS = frozenset(ext.lower() for ext in Image.registered_extensions()) | HEIF_EXTENSIONS
# Pixels decoded for one file, every frame counted: 8000x6000 photos are far below it.
MAX_PIXELS = 2 * 89_478_485
# Pillow refuses above twice its limit (and only warns between): so its limit is half of ours.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # ours is the check that counts


def _to_8bit_rgb(im: Image.Image) -> Image.Image:
    """RGB or RGBA in 8 bits per channel, whatever the input mode."""
    if im.mode in ("RGB", "RGBA"):
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Pillow's own convert("L") clips 16-bit values instead of scaling them.
        a = np.asarray(im, dtype=np.float64)
        peak = 1.0 if im.mode == "F" and a.max() <= 1.0 else (255.0 if a.max() <= 255 else 65535.0)
        return Image.fromarray(np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    has_alpha = im.mode in ("LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info)
    return im.convert("RGBA" if has_alpha else "RGB")


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise FaststyleError(f"image array must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    if a.dtype == np.uint16:
        a = a / 257.0
    elif a.dtype.kind == "f" and a.size and float(np.nanmax(a)) <= 1.0:
        a = a * 255.0  # floats in 0..1, the usual convention for float images
    a = np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return Image.fromarray(a, "RGBA" if a.shape[2] == 4 else "RGB")


def open_image(path: str | os.PathLike) -> Image.Image:
    """Reads an image file fully, applies its EXIF orientation; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise FaststyleError(f"{path}: file not found")
    if path.is_dir():
        raise FaststyleError(f"{path}: is a folder, not an image")
    # A pipe (a FIFO, /dev/stdin, <(cat a.jpg)) can be read once and cannot seek: read it into memory.
    return decode_image(path if path.is_file() else io.BytesIO(_read_stream(path)), path)


def decode_image(source: Path | BinaryIO, label, max_pixels: int = MAX_PIXELS,
                 long_side: int | None = None) -> Image.Image:
    """Decodes a file or an open binary file (an upload) with its EXIF orientation applied.

    max_pixels is checked from the header, before a byte of pixels is decoded (decompression bombs).
    long_side: the caller will shrink to this anyway, so JPEGs may decode at 1/2, 1/4 or 1/8 scale
    (Pillow's draft mode: several times less memory and time for a large photo).
    Errors are FaststyleError naming `label`.
    """
    try:
        with Image.open(source) as im:
            _check_budget(label, im.size, 1, max_pixels)
            if long_side and im.format == "JPEG":
                im.draft("RGB", _draft_size(im.size, long_side))
            im.load()  # decode now, so truncated files fail here and not later
            im = ImageOps.exif_transpose(im)
    except Image.DecompressionBombError:
        raise FaststyleError(
            f"{label}: image is larger than {max_pixels // 1_000_000} megapixels; downscale it first"
        ) from None
    except PermissionError:
        raise FaststyleError(f"{label}: permission denied; check the file's read permission") from None
    except Image.UnidentifiedImageError:
        if not HEIF_READER and _is_heif(source):
            raise FaststyleError(f"{label}: a HEIC/HEIF photo (as phones save them); reading it needs "
                                 'pillow-heif: pip install "faststyle[heif]" (or save the photo as JPEG)') from None
        raise FaststyleError(f"{label}: not an image Pillow can read (empty, damaged or another kind of file)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise FaststyleError(f"{label}: damaged image ({exc})") from None
    return im


def _is_heif(source: Path | BinaryIO) -> bool:
    """Whether a file starts as a HEIF container does (an ISO BMFF 'ftyp' box of a HEIF brand)."""
    try:
        if isinstance(source, Path):
            with open(source, "rb") as f:
                head = f.read(12)
        else:
            source.seek(0)
            head = source.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def _draft_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The size to ask draft mode for so that the long side still reaches `long_side` (the
    orientation may swap the sides later, so both are asked for at the long side's scale)."""
    scale = min(1.0, long_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


MAX_STREAM_BYTES = 1 << 30  # an image read from a pipe: 1 GiB at most


def _read_stream(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STREAM_BYTES + 1)
    except OSError as exc:
        raise FaststyleError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_STREAM_BYTES:
        raise FaststyleError(f"{path}: more than {MAX_STREAM_BYTES >> 20} MB from a pipe; save it to a file first")
    return data


def load_image(source: ImageLike) -> Image.Image:
    """A path, PIL image or numpy array -> an 8-bit RGB or RGBA PIL image."""
    if isinstance(source, Image.Image):
        return _to_8bit_rgb(ImageOps.exif_transpose(source))
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (str, os.PathLike)):
        return _to_8bit_rgb(open_image(source))
    raise TypeError(f"expected a path, PIL image or numpy array, got {type(source).__name__}")


# Formats Pillow writes with several frames (animation or pages).
MULTI_FRAME_FORMATS = frozenset({"GIF", "PNG", "WEBP", "TIFF"})


def images_below(folder: str | os.PathLike) -> list[Path]:
    """Every image file below `folder` (recursively), sorted; hidden files (".x", macOS "._x",
    faststyle's own ".NAME...part" temporaries) are not images to paint or train on."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file())


def thumbnail_text(source: ImageLike, size: int = 128) -> str:
    """A small JPEG of an image as text (base64), for a model card: the painting a style came from."""
    import base64

    im = shrink_to(load_image(source).convert("RGB"), size)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode("ascii")


def image_from_text(text: str) -> Image.Image | None:
    """thumbnail_text's image back; None for text that is not one (an edited card)."""
    import base64
    import binascii

    try:
        im = Image.open(io.BytesIO(base64.b64decode(text, validate=True)))
        im.load()
        return im.convert("RGB") if im.width * im.height <= 1024 * 1024 else None
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        return None


def frame_count(path: str | os.PathLike) -> int:
    """How many frames (animation) or pages (TIFF) an image file holds; 1 if it cannot say, and
    for a pipe, which is read once, as one picture."""
    if not Path(path).is_file():
        return 1
    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:
        return 1  # unreadable files are reported by open_image with a proper message


def _check_budget(path, size: tuple[int, int], frames: int, max_pixels: int = MAX_PIXELS) -> None:
    """Refuses a file whose frames would decode to more than `max_pixels` in all."""
    if size[0] * size[1] * frames > max_pixels:
        what = f"{frames} frames of {size[0]}x{size[1]}" if frames > 1 else f"{size[0]}x{size[1]}"
        raise FaststyleError(f"{path}: image is larger than {max_pixels // 1_000_000} megapixels in all ({what}); "
                             "downscale it or cut it into parts first")


def read_frames(path: str | os.PathLike, max_size: int | None = None
                ) -> tuple[list[Image.Image], list[int], int]:
    """Every frame of an animated or multi-page image as 8-bit RGB(A) -> (frames, durations in ms, loop).

    `max_size` shrinks each frame as it is read, so only one full-size frame is ever in memory; the
    frames kept count against MAX_PIXELS before any is decoded.
    """
    open_image(path)  # the usual checks and messages for missing, damaged or huge files
    frames, durations = [], []
    with Image.open(path) as im:
        count, (w, h) = int(getattr(im, "n_frames", 1)), im.size
        scale = min(1.0, max_size / max(w, h)) if max_size else 1.0
        _check_budget(path, (max(1, round(w * scale)), max(1, round(h * scale))), count)
        loop = int(im.info.get("loop", 0))
        for i in range(count):
            im.seek(i)
            durations.append(int(im.info.get("duration", 100)))
            frame = _to_8bit_rgb(im.convert("RGBA") if im.mode == "P" else im.copy())
            if scale < 1.0:
                frame = shrink_to(frame, max_size)
            frames.append(frame)
    return frames, durations, loop


def save_frames(frames: list[Image.Image], path: str | os.PathLike, durations: list[int], loop: int = 0,
                quality: int = 92) -> Path:
    """Writes an animation (or a multi-page TIFF) atomically, keeping each frame's duration."""
    path = Path(path)
    fmt = output_format(path)
    if fmt not in MULTI_FRAME_FORMATS:
        raise FaststyleError(f"{path}: {fmt} holds one picture; use .gif, .png, .webp or .tiff "
                             f"for {len(frames)} frames")
    options = {"quality": quality} if fmt == "WEBP" else {}
    if fmt != "TIFF":
        options.update(duration=durations, loop=loop)
    return atomic_write(path, lambda f: frames[0].save(f, format=fmt, save_all=True, append_images=frames[1:],
                                                       **options))


def output_format(path: str | os.PathLike) -> str:
    """The Pillow format name for an output path, from its extension."""
    ext = Path(path).suffix.lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        common = [e for e in (".jpg", ".png", ".webp", ".tif", ".bmp", ".gif")
                  if Image.registered_extensions().get(e) in Image.SAVE]
        raise FaststyleError(f"{path}: cannot write '{ext or 'no extension'}' images; use {', '.join(common)}")
    return fmt


def encode_image(image: Image.Image, file: BinaryIO, fmt: str, quality: int = 92) -> None:
    """Writes `image` in Pillow format `fmt` to an open file (or a pipe's buffer)."""
    if fmt == "JPEG" and image.mode == "RGBA":
        # JPEG has no alpha: lay the picture on white rather than on undefined pixels.
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF"):  # the formats that carry both
        options.update({k: image.info[k] for k in ("exif", "icc_profile") if image.info.get(k)})
    image.save(file, format=fmt, **options)


ORIENTATION_TAG = 0x0112


def copy_photo_metadata(source: Image.Image, target: Image.Image) -> Image.Image:
    """Gives `target` the photo's EXIF (camera, date, GPS...) and colour profile, as photo tools do.

    The orientation tag is dropped: the pixels were already turned upright on reading.
    """
    try:
        exif = source.getexif()
    except (SyntaxError, ValueError, OSError, struct.error):  # a damaged EXIF block: paint, leave it out
        exif = Image.Exif()
    if ORIENTATION_TAG in exif:
        del exif[ORIENTATION_TAG]
    if len(exif):
        target.info["exif"] = exif.tobytes()
    if source.info.get("icc_profile"):
        target.info["icc_profile"] = source.info["icc_profile"]
    return target


def save_image(image: Image.Image, path: str | os.PathLike, quality: int = 92) -> Path:
    """Writes to a temporary file beside `path`, then renames: never a half-written output."""
    fmt = output_format(path)
    return atomic_write(path, lambda f: encode_image(image, f, fmt, quality))


def read_stdin_image() -> Image.Image:
    """The one image piped into this process (`faststyle stylize -`), decoded as load_image does."""
    import sys

    if sys.stdin is None:
        raise FaststyleError("stdin is closed: pipe an image in, e.g. 'cat photo.jpg | faststyle ...'")
    data = sys.stdin.buffer.read()
    if not data:
        raise FaststyleError("stdin: no image data (pipe an image in, e.g. 'cat photo.jpg | faststyle ...')")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return load_image(im)
    except Exception as exc:  # any undecodable input: one line, as for files
        raise FaststyleError(f"stdin: not an image Pillow can read ({type(exc).__name__})") from None

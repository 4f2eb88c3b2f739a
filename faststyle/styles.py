"""Where styles live: bundled models, the user style folder, or any .onnx path."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from faststyle.errors import FaststyleError
from faststyle.model_file import ModelCard, read_card

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "models"
SAMPLES_DIR = PACKAGE_DIR / "samples"
USER_DIR_ENV = "FASTSTYLE_STYLE_DIR"
CACHE_ENV = "FASTSTYLE_CACHE_DIR"
# A style's lite network (faster, docs/speed.md) sits in this subfolder under the same name.
LITE_SUBDIR = "lite"


def user_style_dir() -> Path:
    """The folder for the user's own trained styles (FASTSTYLE_STYLE_DIR overrides it)."""
    if os.environ.get(USER_DIR_ENV):
        return Path(os.environ[USER_DIR_ENV])
    import platformdirs

    return Path(platformdirs.user_data_dir("faststyle")) / "styles"


def cache_dir() -> Path:
    """Where faststyle keeps what it can make again: downloads, swatches, measured choices
    (FASTSTYLE_CACHE_DIR overrides the platform's cache folder)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import platformdirs

    return Path(platformdirs.user_cache_dir("faststyle"))


def sample_image_path(name: str = "astronaut") -> Path:
    return SAMPLES_DIR / f"{name}.jpg"


def sample_images() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.jpg"))


@dataclass(frozen=True)
class StyleInfo:
    name: str
    path: Path               # the full network
    source: str              # "bundled", "user" or "file"
    lite: Path | None = None  # the lite network, if there is one

    def model_path(self, fast: bool = False) -> Path:
        """The lite network when `fast` and there is one, else the full network."""
        return self.lite if fast and self.lite else self.path


def available_styles() -> list[StyleInfo]:
    """Bundled styles first, then the user's; a user style does not hide a bundled one."""
    found: dict[str, StyleInfo] = {}
    for source, folder in (("bundled", BUNDLED_DIR), ("user", user_style_dir())):
        for path in sorted(folder.glob("*.onnx")) if folder.is_dir() else []:
            lite = folder / LITE_SUBDIR / path.name
            found.setdefault(path.stem, StyleInfo(path.stem, path, source, lite if lite.is_file() else None))
    return list(found.values())


_cards: dict[tuple[str, int], ModelCard] = {}


def describe(style: StyleInfo) -> dict:
    """What people are shown of a style (the app's swatches, the web page's buttons): its title,
    artist and year from the model card, where it comes from, whether it has a lite network, and
    when and how long it was trained. The card is read once per version of the file."""
    key = (str(style.path), style.path.stat().st_mtime_ns)
    if key not in _cards:
        try:
            _cards[key] = read_card(style.path)
        except FaststyleError:
            _cards[key] = ModelCard()  # a broken file still gets a button; choosing it shows the error
    card = _cards[key]
    return {"name": style.name, "title": card.title or style.name.replace("_", " "),
            "artist": card.artist, "year": card.year, "source": style.source,
            "has_lite": style.lite is not None, "date": card.date, "steps": card.steps}


def bundled_style_names() -> list[str]:
    return [s.name for s in available_styles() if s.source == "bundled"]


def resolve_style(name_or_path: str | os.PathLike, fast: bool = False) -> Path:
    """A style name (bundled or user) or a path to an .onnx file -> the model's path.

    fast: a name gives its lite network where it has one (a path is taken as it is).
    """
    text = str(name_or_path)
    if text.endswith(".onnx") or os.sep in text or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise FaststyleError(f"{path}: style model file not found")
        return path
    for style in available_styles():
        if style.name == text:
            return style.model_path(fast)
    names = ", ".join(s.name for s in available_styles()) or "none installed"
    raise FaststyleError(f"unknown style {text!r}; available: {names} (or pass a path to an .onnx file)")


# --- managing the user's styles (faststyle styles add / remove / rename) ---------------

STYLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


def check_style_name(name: str) -> None:
    """A name a style can be called by on the command line and in output names (NAME.STYLE.EXT):
    letters, digits, '_' and '-', at most 64; no ',' (lists), ':' (blends) or '.' (file names)."""
    if not STYLE_NAME.fullmatch(name or "") or name == "all" or name.endswith("-lite"):
        raise FaststyleError(f"{name!r} cannot be a style name; use up to 64 letters, digits, '-' or '_'")


def name_from_file(path: str | os.PathLike) -> str:
    """A style name made from a painting's file name: 'My painting (2).jpg' -> 'My_painting_2'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", Path(path).stem).strip("_-")[:64] or "style"


def check_free_name(name: str, lite: bool = False) -> None:
    """Refuses a name a new style cannot take: not a style name, a bundled style's (it would be
    hidden behind it), or a user style's (it would be replaced). With `lite`, the name of a user
    style that is to get a lite network beside it, which it must not have already."""
    check_style_name(name)
    if name in bundled_style_names():
        raise FaststyleError(f"{name!r} is a bundled style; choose another name (--name)")
    taken = (user_style_dir() / LITE_SUBDIR / f"{name}.onnx").exists() if lite else \
        any(s.name == name for s in available_styles())
    if taken:
        raise FaststyleError(f"a style named {name!r} {'has a lite network' if lite else 'exists'} already; choose "
                             f"another name (--name), or remove it first: faststyle styles remove {name}")


def free_name(name: str) -> str:
    """`name`, or the first of name_2, name_3, ... that no style has taken."""
    taken = {s.name for s in available_styles()}
    return next(n for n in (name, *(f"{name[:60]}_{i}" for i in range(2, 10000))) if n not in taken)


def _user_style(name: str) -> StyleInfo:
    for style in available_styles():
        if style.name == name:
            if style.source == "bundled":
                raise FaststyleError(f"{name!r} is a bundled style; only your own styles can be changed")
            return style
    raise FaststyleError(f"no user style {name!r}; 'faststyle styles' lists them")


def add_user_style(path: str | os.PathLike, name: str | None = None, lite: bool = False) -> Path:
    """Copies a model into the user style folder (as NAME's lite network with `lite`); -> its new path.

    The caller checks that the file is a working style model first (runtime.StyleModel.load).
    """
    from faststyle.files import atomic_write_bytes

    path = Path(path)
    name = name or path.stem
    if lite:
        folder = _user_style(name).path.parent / LITE_SUBDIR
    else:
        folder = user_style_dir()
    check_free_name(name, lite=lite)
    target = folder / f"{name}.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(target, path.read_bytes())


def _inside_user_folder(path: Path) -> bool:
    """Whether deleting or renaming `path` stays inside the user style folder: its folder, followed
    through any link, is the style folder itself or its lite/ (a linked lite/ leads elsewhere)."""
    home = Path(os.path.realpath(user_style_dir()))
    return Path(os.path.realpath(path.parent)) in (home, home / LITE_SUBDIR)


def remove_user_style(name: str) -> list[Path]:
    """Deletes a user style (and its lite network); -> the files removed.

    Only files inside the user style folder are deleted: a lite network reached through a link
    to another folder is left where it is.
    """
    style = _user_style(name)
    removed = [p for p in (style.path, style.lite) if p is not None and _inside_user_folder(p)]
    for p in removed:
        p.unlink()
    return removed


def rename_user_style(old: str, new: str) -> Path:
    """Renames a user style (and its lite network); -> the new path of the full network."""
    style = _user_style(old)
    check_free_name(new)
    if style.lite and _inside_user_folder(style.lite):
        style.lite.rename(style.lite.with_name(f"{new}.onnx"))
    target = style.path.with_name(f"{new}.onnx")
    style.path.rename(target)
    return target

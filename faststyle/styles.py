"""Where styles live: bundled models, the user style folder, or any .onnx path."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from faststyle.errors import FaststyleError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "models"
SAMPLES_DIR = PACKAGE_DIR / "samples"
USER_DIR_ENV = "FASTSTYLE_STYLE_DIR"
# A style's lite network (faster, see README "Speed") sits in this subfolder under the same name.
LITE_SUBDIR = "lite"


def user_style_dir() -> Path:
    """The folder for the user's own trained styles (FASTSTYLE_STYLE_DIR overrides it)."""
    if os.environ.get(USER_DIR_ENV):
        return Path(os.environ[USER_DIR_ENV])
    import platformdirs

    return Path(platformdirs.user_data_dir("faststyle")) / "styles"


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


def read_metadata(path: str | os.PathLike) -> dict:
    """The faststyle metadata stored in an ONNX model, read without building a session."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise FaststyleError(f"{path}: not a valid ONNX style model ({str(exc).splitlines()[0][:120]})") from None
    return read_metadata_from_session(session)


def read_metadata_from_session(session) -> dict:
    props = session.get_modelmeta().custom_metadata_map
    try:
        return json.loads(props.get("faststyle", "{}"))
    except json.JSONDecodeError:
        return {}

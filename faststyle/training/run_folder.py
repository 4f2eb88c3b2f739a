"""A training run's folder and everything in it:

    config.json        the run's settings (TrainConfig), read back on --resume
    ckpt-000200.npz    weights by layer name, optimizer state, step, stream position and the config
    losses.csv         one row per step
    quality.csv        blown-white share and tonal layout kept on held-out photos at each checkpoint
    preview.jpg        the preview photo stylized by the latest weights

Why not tf.train.Checkpoint + CheckpointManager: they would give named objects and keep-N
bookkeeping, but a checkpoint there is an index file, data shards and a shared `checkpoint`
state file, so "whole or absent after kill -9" would need care across files, and reading one
needs TensorFlow. Here a checkpoint is one .npz written to a temporary file and renamed
(files.atomic_write), read in full on load (the zip's CRC-32 per array catches damage),
and self-describing: it holds its config, so `faststyle export ckpt-*.npz` needs nothing else.
The data position is a plain counter (data.PhotoStream), which needs no iterator state.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
from pathlib import Path

import numpy as np

from faststyle import __version__
from faststyle.errors import FaststyleError
from faststyle.files import atomic_write, atomic_write_bytes
from faststyle.image_io import thumbnail_text
from faststyle.model_file import ModelCard
from faststyle.training.config import TrainConfig

KEEP_CHECKPOINTS = 2
LOSS_COLUMNS = ["step", "content", "style", "tv", "range", "layout", "white", "stride", "distill", "shift", "lite",
                "total", "seconds"]
QUALITY_COLUMNS = ["step", "blown_white_mean", "blown_white_max", "photos", "tonal_layout"]


# --- config ---------------------------------------------------------------------------

def write_config(config: TrainConfig) -> None:
    config.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(config.folder / "config.json", json.dumps(config.to_dict(), indent=2).encode())


def load_run_config(folder: str | Path) -> TrainConfig:
    """The settings of an earlier run, to resume or export it."""
    path = Path(folder) / "config.json"
    if not path.exists():
        raise FaststyleError(f"{folder}: no config.json here, so this is not a faststyle training run folder")
    config = TrainConfig.from_dict(json.loads(path.read_text()))
    config.run_dir = str(folder)
    return config


# --- checkpoints ----------------------------------------------------------------------

def checkpoints(folder: Path) -> list[Path]:
    """The run's checkpoints, oldest step first (by number: ckpt-1000000 comes after ckpt-999999)."""
    found = [(p, _step_of(p)) for p in Path(folder).glob("ckpt-*.npz")]
    return [p for p, step in sorted((f for f in found if f[1] is not None), key=lambda f: f[1])]


def _step_of(path: Path) -> int | None:
    digits = path.stem.removeprefix("ckpt-")
    return int(digits) if digits.isdigit() else None


LOCK_FILE = ".lock"


def lock(folder: Path):
    """Holds the run folder for one training process: a second one on the same folder is refused
    (two would write one log and one set of checkpoints). Released when the process ends, however."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        return None
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise FaststyleError(f"{folder}: another training is running in this run folder; wait for it to end, "
                             "or choose another --run-dir") from None
    return fd


def unlock(fd) -> None:
    if fd is not None:
        os.close(fd)


def save_checkpoint(config: TrainConfig, net, opt, step: int, position: int) -> None:
    arrays = {f"net/{v.path}": np.asarray(v) for v in net.weights}
    arrays.update({f"opt/{v.path}": np.asarray(v) for v in opt.variables})
    arrays["state"] = np.array([step, position], np.int64)
    arrays["config"] = np.array(json.dumps(config.to_dict()))
    atomic_write(config.folder / f"ckpt-{step:06d}.npz", lambda f: np.savez(f, **arrays))
    for old in checkpoints(config.folder)[:-KEEP_CHECKPOINTS]:
        old.unlink()


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """Every array of a checkpoint, read in full: the zip's CRC-32 of each array catches damage."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # truncated or overwritten files fail in zipfile, numpy or pickle
        raise FaststyleError(f"{path.name} is damaged ({type(exc).__name__}: {str(exc)[:80]})") from None
    state = arrays.get("state")
    if state is None or state.shape != (2,) or state.dtype.kind not in "iu" or state.min() < 0:
        raise FaststyleError(f"{path.name} is damaged (no training state in it)")
    if "config" in arrays:
        try:
            config = json.loads(str(arrays["config"]))
            if not isinstance(config, dict):
                raise ValueError("not an object")
            TrainConfig.from_dict(config)
        except (ValueError, TypeError, KeyError) as exc:
            raise FaststyleError(f"{path.name} is damaged (its config does not read: {str(exc)[:60]})") from None
    if not any(k.startswith(("net/", "w")) for k in arrays):
        raise FaststyleError(f"{path.name} is damaged (no network weights in it)")
    return arrays


def latest_intact_checkpoint(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """The newest checkpoint that reads back whole; damaged newer ones are named and passed over."""
    problems = []
    for path in reversed(checkpoints(folder)):
        try:
            arrays = read_checkpoint(path)
        except FaststyleError as exc:
            problems.append(str(exc))
            continue
        if problems:
            print(f"faststyle: warning: {'; '.join(problems)}; using {path.name} instead")
        return path, arrays
    if problems:
        raise FaststyleError(f"{folder}: no intact checkpoint ({'; '.join(problems)})")
    raise FaststyleError(f"{folder}: no ckpt-*.npz checkpoint in this folder")


def checkpoint_config(arrays: dict[str, np.ndarray], folder: Path) -> TrainConfig:
    """The config a checkpoint carries; checkpoints from before it did use their folder's config.json."""
    if "config" in arrays:
        config = TrainConfig.from_dict(json.loads(str(arrays["config"])))
        config.run_dir = str(folder)
        return config
    return load_run_config(folder)


def load_checkpoint(arrays: dict[str, np.ndarray], net, opt=None) -> tuple[int, int]:
    """Sets weights (and optimizer state) from checkpoint arrays; -> (step, stream position)."""
    def assign(variables, prefix: str, old_prefix: str) -> None:
        for i, v in enumerate(variables):
            key = f"{prefix}/{v.path}"
            value = arrays.get(key, arrays.get(f"{old_prefix}{i}"))  # older checkpoints: by position
            if value is None:
                raise FaststyleError(f"checkpoint does not fit this network: it has no {v.path}")
            if value.shape != tuple(v.shape):
                raise FaststyleError(f"checkpoint does not fit this network: {v.path} is {value.shape}, "
                                     f"the network has {tuple(v.shape)}")
            v.assign(value)

    assign(net.weights, "net", "w")
    if opt is not None:
        # Not the learning rate: the run sets it before every step (train.learning_rate), and
        # checkpoints from before it was a variable have none.
        assign([v for v in opt.variables if v.path.split("/")[-1] != "learning_rate"], "opt", "o")
    step, position = (int(v) for v in arrays["state"])
    return step, position


# --- logs -----------------------------------------------------------------------------

def open_log(path: Path, columns: list[str], start_step: int):
    """A CSV log cut back to `start_step` (a resumed run does not repeat rows), open for appending;
    -> (file, writer). The kept rows are rewritten whole (a temporary file, renamed) before any new
    row, so a run killed at any moment leaves every earlier row on disk."""
    rows = [r for r in _log_rows(path, columns) if int(r[0]) <= start_step]
    text = io.StringIO()
    csv.writer(text).writerows([columns, *rows])
    atomic_write_bytes(path, text.getvalue().encode())
    f = open(path, "a", newline="")
    return f, csv.writer(f)


def _log_rows(path: Path, columns: list[str]) -> list[list[str]]:
    """A log's rows without its header, in `columns`' order (a log from an older version may have
    fewer: theirs are left blank); a row that is not whole (a killed writer) is left out."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f)) or [[]]
    where = [header.index(c) if c in header else None for c in columns]
    return [["" if i is None else r[i] for i in where] for r in rows
            if len(r) == len(header) and r[0].isdigit()]


def final_losses(folder: Path, step: int, window: int = 50) -> dict[str, float]:
    """Mean loss terms over the last `window` logged steps up to `step` (the log's running summary)."""
    path = Path(folder) / "losses.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r["step"] or "").isdigit() and int(r["step"]) <= step][-window:]
    terms = [k for k in LOSS_COLUMNS[1:-1] if rows and k in rows[0]]  # every loss term, not step or seconds
    means = {k: [float(r[k]) for r in rows if r[k]] for k in terms}  # blank: not computed on that step
    return {k: float(np.mean(v)) for k, v in means.items() if v}


# --- the model card and export --------------------------------------------------------

def _painting_thumbnail(style_image: str) -> str | None:
    """The painting itself, small: the app's and the web page's swatch of the style. Left out
    when the painting is not here (a run folder exported on another machine)."""
    try:
        return thumbnail_text(style_image)
    except (FaststyleError, OSError):
        return None


def model_card(config: TrainConfig, step: int, losses: dict[str, float]) -> ModelCard:
    """The model card every exported model carries, from `train` and `export` alike."""
    from faststyle.training.vgg import SPECS, default_style_layer_weights

    spec = SPECS[config.loss.loss_net]
    loss = config.loss.to_dict()
    loss["style_layer_weights"] = config.loss.style_layer_weights or default_style_layer_weights(spec)
    return ModelCard.from_dict({
        **config.metadata,  # title, artist, year and anything else given with --meta
        "name": config.name,
        "style_image": Path(config.style_image).name,
        "painting_thumbnail": _painting_thumbnail(config.style_image),
        "architecture": config.architecture.to_dict(),
        "loss": loss,
        "loss_layers": {"content": spec.content_layer,
                        "style": list(spec.computed_style_layers(config.loss.style_depth))},
        # A lite network distilled from its own style's full network names that style, not a path
        # on the machine that trained it.
        "teacher": config.name if config.teacher and Path(config.teacher).name == f"{config.name}.onnx"
        else config.teacher,
        "steps": step,
        "final_losses": losses,
        "image_size": config.image_size,
        "crop_size": config.crop,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "learning_rate_end": config.learning_rate_end,
        "precision": config.precision,
        "init_from": _bundled_name(config.init_from),
        "date": datetime.date.today().isoformat(),
        "faststyle_version": __version__,
    })


def _bundled_name(source: str | None) -> str | None:
    """A bundled model's file as its style's name (a further stage starts from one): the card then
    names the style, not a path on the machine that trained it."""
    from faststyle.styles import BUNDLED_DIR

    if source and source.endswith(".onnx") and Path(source).resolve().parent in (BUNDLED_DIR.resolve(),
                                                                                 (BUNDLED_DIR / "lite").resolve()):
        return Path(source).stem
    return source


def export_checkpoint(checkpoint: str | Path, output: str | Path, half: bool = True,
                      calibration_photos: list | None = None) -> Path:
    """Exports a run folder's latest checkpoint (or a given ckpt-*.npz) to ONNX; with
    `calibration_photos`, its residual blocks in int8."""
    from faststyle.training.export import export_onnx
    from faststyle.training.network import build_transform_net
    from faststyle.training.quantize import calibrated

    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        folder = checkpoint
        if not (folder / "config.json").exists() and not checkpoints(folder):
            raise FaststyleError(f"{folder}: no config.json and no checkpoints here, so this is not a "
                                 "faststyle training run folder")
        checkpoint, arrays = latest_intact_checkpoint(folder)
    elif checkpoint.is_file():
        folder, arrays = checkpoint.parent, read_checkpoint(checkpoint)
    else:
        raise FaststyleError(f"{checkpoint}: checkpoint not found")
    config = checkpoint_config(arrays, folder)  # the architecture and the model card come from the run
    net = build_transform_net(config.architecture)
    step, _ = load_checkpoint(arrays, net)
    card, ranges = model_card(config, step, final_losses(folder, step)), None
    if calibration_photos:
        ranges, card = calibrated(net, calibration_photos, card, str(checkpoint))
    export_onnx(net, output, card, half, int8_ranges=ranges)
    return Path(output)

"""Training a transform network for one style: `faststyle train`.

One run lives in a checkpoint folder:
    config.json        the run's settings (a resumed run reads them back)
    ckpt-000200.npz    weights, optimizer state, step and stream position
    losses.csv         one row per step
    preview.jpg        the preview photo stylized by the latest weights
At the end the model is exported to ONNX with its metadata.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faststyle import __version__
from faststyle.architecture import Architecture
from faststyle.errors import FaststyleError
from faststyle.image_io import atomic_write, atomic_write_bytes, load_image, remove_stale_temp_files, save_image

KEEP_CHECKPOINTS = 2


@dataclass
class TrainConfig:
    style_image: str
    content_dir: str
    name: str
    exclude: list[str] = field(default_factory=list)  # glob patterns of held-out photos
    output: str | None = None           # ONNX path; None: the user style folder
    checkpoint_dir: str | None = None   # None: runs/<name>
    image_size: int = 256               # photos' short side is resized to this...
    crop_size: int | None = None        # ...then cut into random squares of this size (None: image_size)
    style_size: int = 512               # long side of the style image
    batch_size: int = 4
    steps: int = 2000
    learning_rate: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 2.0
    tv_weight: float = 0.2
    style_layer_weights: list[float] | None = None
    loss_net: str = "vgg16"
    vgg_weights: str | None = None      # None: FASTSTYLE_VGG_WEIGHTS or Keras' download
    architecture: Architecture = field(default_factory=Architecture)  # the network's shape (architecture.py)
    teacher: str | None = None          # distil from this trained style (name or .onnx): its pictures are the target
    distill_weight: float = 100.0       # per squared grey level of difference to the teacher's picture
    perceptual_every: int = 1           # with a teacher: the VGG loss on every Nth step only (0: never)
    checkpoint_every: int = 100
    preview_image: str | None = None    # None: the bundled sample photo
    preview_every: int = 100
    init_from: str | None = None        # a checkpoint, an .onnx file or a style name
    seed: int = 0
    jit_compile: bool = True            # XLA: about 1.6x faster steps on CPU
    metadata: dict = field(default_factory=dict)  # extra model-card fields (painting, artist, ...)

    @property
    def run_dir(self) -> Path:
        return Path(self.checkpoint_dir or Path("runs") / self.name)


def _checkpoints(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("ckpt-*.npz"))


def _save_checkpoint(run_dir: Path, net, opt, step: int, position: int) -> None:
    arrays = {f"w{i}": w for i, w in enumerate(net.get_weights())}
    arrays.update({f"o{i}": v.numpy() for i, v in enumerate(opt.variables)})
    arrays["state"] = np.array([step, position], np.int64)
    atomic_write(run_dir / f"ckpt-{step:06d}.npz", lambda f: np.savez(f, **arrays))
    for old in _checkpoints(run_dir)[:-KEEP_CHECKPOINTS]:
        old.unlink()


def _read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """Every array of a checkpoint, read in full: the zip's CRC-32 of each array catches damage."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # truncated or overwritten files fail in zipfile, numpy or pickle
        raise FaststyleError(f"{path.name} is damaged ({type(exc).__name__}: {str(exc)[:80]})") from None
    if "state" not in arrays:
        raise FaststyleError(f"{path.name} is damaged (no training state in it)")
    return arrays


def _latest_intact_checkpoint(run_dir: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """The newest checkpoint that reads back whole; damaged newer ones are named and passed over."""
    problems = []
    for path in reversed(_checkpoints(run_dir)):
        try:
            arrays = _read_checkpoint(path)
        except FaststyleError as exc:
            problems.append(str(exc))
            continue
        if problems:
            print(f"faststyle: warning: {'; '.join(problems)}; using {path.name} instead")
        return path, arrays
    if problems:
        raise FaststyleError(f"{run_dir}: no intact checkpoint ({'; '.join(problems)})")
    raise FaststyleError(f"{run_dir}: no ckpt-*.npz checkpoint in this folder")


def _load_checkpoint(data: dict[str, np.ndarray], net, opt=None) -> tuple[int, int]:
    """Sets weights (and optimizer state) from checkpoint arrays; -> (step, stream position)."""
    net.set_weights([data[f"w{i}"] for i in range(len(net.get_weights()))])
    if opt is not None:
        for i, v in enumerate(opt.variables):
            v.assign(data[f"o{i}"])
    step, position = (int(v) for v in data["state"])
    return step, position


def init_weights(net, source: str) -> None:
    """Starts from another trained style: a checkpoint (.npz), an .onnx file or a style name."""
    from faststyle.styles import resolve_style
    from faststyle.training.export import load_onnx_weights

    path = Path(source)
    if path.suffix == ".npz" and path.is_file():
        _load_checkpoint(_read_checkpoint(path), net)
    else:
        load_onnx_weights(net, resolve_style(source))


def load_style_net(source: str):
    """A trained style (name or .onnx) as a Keras network of its own architecture, e.g. a teacher."""
    from faststyle.styles import read_metadata, resolve_style
    from faststyle.training.export import load_onnx_weights
    from faststyle.training.network import build_transform_net

    path = resolve_style(source)
    net = build_transform_net(Architecture.from_metadata(read_metadata(path)))
    load_onnx_weights(net, path)
    return net


def _stylize(net, image: np.ndarray) -> np.ndarray:
    """The network's picture of one HxWx3 photo, clipped to 0..255 as users get it."""
    from faststyle.runtime import pad_to_multiple

    h, w = image.shape[:2]
    out = np.asarray(net(pad_to_multiple(image)[None], training=False))[0, :h, :w]
    return np.clip(out, 0, 255)


def _write_preview(net, image: np.ndarray, path: Path) -> None:
    from PIL import Image

    save_image(Image.fromarray(_stylize(net, image).round().astype(np.uint8)), path)


VALIDATION_PHOTOS = 8


def _validation_photos(config: TrainConfig) -> list[np.ndarray]:
    """A fixed set of held-out photos (the --exclude matches) at the training size, for the blob log."""
    from faststyle.training.data import held_out_images
    from faststyle.training.evaluate import square_photo

    photos = []
    for path in held_out_images(config.content_dir, config.exclude):
        try:
            photos.append(square_photo(path, config.image_size))
        except (FaststyleError, OSError):
            continue
        if len(photos) == VALIDATION_PHOTOS:
            break
    return photos


def _log_quality(net, photos: list[np.ndarray], log, step: int) -> str:
    """Logs the share of blown-white pixels on the validation photos (quality.csv)."""
    from faststyle.quality import blown_white_share

    shares = [blown_white_share(_stylize(net, p), p) for p in photos]
    log.writerow([step, f"{np.mean(shares):.5f}", f"{np.max(shares):.5f}", len(shares)])
    return f"step {step}: blown white {100 * np.mean(shares):.2f} % mean, {100 * np.max(shares):.2f} % worst"


def _preview_array(path: str | None) -> np.ndarray:
    from faststyle.styles import sample_image_path

    im = load_image(path or sample_image_path()).convert("RGB")
    im.thumbnail((384, 384))
    return np.asarray(im, np.float32)


LOSS_COLUMNS = ["step", "content", "style", "tv", "range", "distill", "total", "seconds"]
QUALITY_COLUMNS = ["step", "blown_white_mean", "blown_white_max", "photos"]


def _open_log(path: Path, columns: list[str], start_step: int):
    """A CSV log cut back to `start_step`, so a resumed run does not repeat rows; -> (file, writer)."""
    rows = []
    if path.exists():
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f)][1:]
        rows = [r for r in rows if r and int(r[0]) <= start_step]
    f = open(path, "w", newline="")
    writer = csv.writer(f)
    writer.writerow(columns)
    writer.writerows(rows)
    return f, writer


def load_run_config(run_dir: str | Path, steps: int | None = None) -> TrainConfig:
    """The settings of an earlier run, to resume it (optionally with a new step count)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FaststyleError(f"{run_dir}: no config.json here, so this is not a faststyle training run folder")
    fields = json.loads(path.read_text())
    fields["architecture"] = Architecture.from_metadata(
        {k: fields.pop(k) for k in ("architecture", "width", "norm") if k in fields})
    config = TrainConfig(**fields)
    config.checkpoint_dir = str(run_dir)
    if steps is not None:
        config.steps = steps
    return config


def export_checkpoint(checkpoint: str | Path, output: str | Path, half: bool = True) -> Path:
    """Exports a run folder's latest checkpoint (or a given ckpt-*.npz) to ONNX."""
    from faststyle.training.export import export_onnx
    from faststyle.training.network import build_transform_net

    checkpoint = Path(checkpoint)
    run_dir = checkpoint if checkpoint.is_dir() else checkpoint.parent
    config = load_run_config(run_dir)  # the architecture and the model card come from the run's settings
    if checkpoint.is_dir():
        checkpoint, arrays = _latest_intact_checkpoint(run_dir)
    elif checkpoint.is_file():
        arrays = _read_checkpoint(checkpoint)
    else:
        raise FaststyleError(f"{checkpoint}: checkpoint not found")
    net = build_transform_net(config.architecture)
    step, _ = _load_checkpoint(arrays, net)
    export_onnx(net, output, model_metadata(config, step, _final_losses(run_dir, step)), half)
    return Path(output)


def _final_losses(run_dir: Path, step: int, window: int = 50) -> dict[str, float]:
    """Mean loss terms over the last `window` logged steps up to `step` (the log's running summary)."""
    path = run_dir / "losses.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step][-window:]
    terms = [k for k in LOSS_COLUMNS[1:-1] if rows and k in rows[0]]  # every loss term, not step or seconds
    means = {k: [float(r[k]) for r in rows if r[k]] for k in terms}  # blank: not computed on that step
    return {k: float(np.mean(v)) for k, v in means.items() if v}


def model_metadata(config: TrainConfig, step: int, final_losses: dict[str, float]) -> dict:
    """The model card every exported model carries, from `train` and `export` alike."""
    from faststyle.training.vgg import SPECS, default_style_layer_weights

    spec = SPECS[config.loss_net]
    return {
        **config.metadata,
        "name": config.name,
        "style_image": Path(config.style_image).name,
        "loss_net": config.loss_net,
        "architecture": config.architecture.to_dict(),
        "teacher": config.teacher,
        "weights": {"content": config.content_weight, "style": config.style_weight, "tv": config.tv_weight,
                    "range": 1000.0,
                    "style_layers": config.style_layer_weights or default_style_layer_weights(spec)},
        "content_layer": spec.content_layer,
        "style_layers": list(spec.style_layers),
        "steps": step,
        "final_losses": final_losses,
        "image_size": config.image_size,
        "crop_size": config.crop_size or config.image_size,
        "style_size": config.style_size,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "init_from": config.init_from,
        "date": datetime.date.today().isoformat(),
        "faststyle_version": __version__,
    }


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Runs (or resumes) a training run and exports the ONNX model; returns its path."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from faststyle.training.data import PhotoStream, find_images, make_dataset
    from faststyle.training.export import export_onnx
    from faststyle.training.losses import LossWeights, PerceptualLoss, distill_loss, style_image_tensor
    from faststyle.training.network import build_transform_net
    from faststyle.training.vgg import LossNetwork

    run_dir = config.run_dir
    if not resume and _checkpoints(run_dir):
        raise FaststyleError(f"{run_dir} already holds a training run; add --resume to continue it "
                             "or choose another --checkpoint-dir")
    stale = remove_stale_temp_files(run_dir)  # checkpoints a killed run was writing
    if stale:
        print(f"removed {stale} unfinished checkpoint file(s) left by an interrupted run")

    # Everything that can fail on bad settings (photos, painting, VGG weights) runs before the
    # run folder is written, so a failed start leaves no half-made run behind.
    keras.utils.set_random_seed(config.seed)
    stream = PhotoStream(find_images(config.content_dir, config.exclude), config.image_size,
                         config.crop_size or config.image_size, config.seed)
    weights = LossWeights(config.content_weight, config.style_weight, config.tv_weight,
                          style_layers=config.style_layer_weights)
    loss = PerceptualLoss(LossNetwork(config.loss_net, config.vgg_weights),
                          style_image_tensor(config.style_image, config.style_size), weights)
    net = build_transform_net(config.architecture)
    teacher = load_style_net(config.teacher) if config.teacher else None
    opt = keras.optimizers.Adam(config.learning_rate)
    opt.build(net.trainable_variables)

    step, position = 0, 0
    if resume and _checkpoints(run_dir):
        step, position = _load_checkpoint(_latest_intact_checkpoint(run_dir)[1], net, opt)
    elif config.init_from:
        init_weights(net, config.init_from)
    preview = _preview_array(config.preview_image)
    validation = _validation_photos(config) or [preview]
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / "config.json", json.dumps(dataclasses.asdict(config), indent=2).encode())

    @tf.function(jit_compile=config.jit_compile)
    def train_step(images, perceptual: bool):
        # Distillation: the teacher's picture of the same crop is the target. Without the VGG
        # terms a step costs a fraction of a perceptual one, so they can run every Nth step only.
        target = tf.clip_by_value(teacher(images, training=False), 0.0, 255.0) if teacher else None
        content_target = loss.content_targets(images) if perceptual else None
        with tf.GradientTape() as tape:
            stylized = net(images, training=True)
            terms = loss.terms(stylized, content_target) if perceptual else {"range": loss.range_term(stylized)}
            if teacher is not None:
                terms["distill"] = config.distill_weight * distill_loss(stylized, target)
            terms["total"] = tf.add_n([v for k, v in terms.items() if k != "total"])
            total = tf.reduce_mean(terms["total"])
        grads = tape.gradient(total, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))
        return {k: tf.reduce_mean(v) for k, v in terms.items()}

    def perceptual_step(step: int) -> bool:
        if teacher is None:
            return True
        return config.perceptual_every > 0 and step % config.perceptual_every == 0

    log_file, log = _open_log(run_dir / "losses.csv", LOSS_COLUMNS, step)
    quality_file, quality_log = _open_log(run_dir / "quality.csv", QUALITY_COLUMNS, step)
    bar = tqdm(total=config.steps, initial=step, desc=f"train {config.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    try:
        for images, position_after in make_dataset(stream, config.batch_size, position):
            if step >= config.steps:
                break
            t0 = time.perf_counter()
            terms = {k: float(v) for k, v in train_step(images, perceptual_step(step + 1)).items()}
            step, position = step + 1, int(position_after)
            log.writerow([step, *(f"{terms[k]:.6g}" if k in terms else "" for k in LOSS_COLUMNS[1:-1]),
                          f"{time.perf_counter() - t0:.3f}"])
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items() if k != "range"}, skipped=len(stream.skipped))
            if step % config.checkpoint_every == 0 or step == config.steps:
                log_file.flush()
                _save_checkpoint(run_dir, net, opt, step, position)
            if step % config.preview_every == 0 or step == config.steps:
                _write_preview(net, preview, run_dir / "preview.jpg")
                bar.write(_log_quality(net, validation, quality_log, step))
                quality_file.flush()
    finally:
        bar.close()
        log_file.close()
        quality_file.close()
    if stream.skipped:
        print(f"skipped {len(stream.skipped)} unreadable content image(s)")

    metadata = model_metadata(config, step, _final_losses(run_dir, step))
    from faststyle.architecture import PRESETS
    from faststyle.styles import LITE_SUBDIR, user_style_dir

    # A lite network goes beside its style's full one, where --fast looks for it.
    folder = user_style_dir() / LITE_SUBDIR if config.architecture == PRESETS["lite"] else user_style_dir()
    output = Path(config.output) if config.output else folder / f"{config.name}.onnx"
    export_onnx(net, output, metadata)
    return output

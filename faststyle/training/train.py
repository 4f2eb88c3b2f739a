"""Training a transform network for one style: `faststyle train`.

The settings are a TrainConfig (config.py); the run's files live in its run folder
(run_folder.py). At the end the model is exported to ONNX with its model card.
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from faststyle.architecture import PRESETS, Architecture
from faststyle.errors import FaststyleError
from faststyle.files import remove_stale_temp_files
from faststyle.image_io import load_image, save_image
from faststyle.preprocess import shrink_to
from faststyle.styles import LITE_SUBDIR, user_style_dir
from faststyle.training import run_folder
from faststyle.training.budget import Budget
from faststyle.training.config import (BASE, LITE_DISTILLATION, LITE_LOSS_WEIGHTS, NEAREST, TrainConfig, lite_loss,
                                       resolved_precision)


def nearest_style(loss, architecture: Architecture, photos: list[np.ndarray]) -> list[str]:
    """Bundled styles with a network of this shape, nearest the painting first.

    Nearness is the loss's own style term of each style's pictures of `photos`: what the
    network paints, not what its painting looked like (models do not carry their painting).
    Only bundled styles: known starting points, so a run depends on the painting and the
    faststyle version, not on what else a user has trained.
    """
    from faststyle.model_file import read_card
    from faststyle.runtime import StyleModel
    from faststyle.styles import available_styles

    distances = {}
    for style in (s for s in available_styles() if s.source == "bundled"):
        for path in filter(None, (style.path, style.lite)):
            try:
                if read_card(path).network() != architecture:
                    continue
                model = StyleModel.load(path)
                pictures = np.stack([model.transform(p.astype(np.uint8)) for p in photos]).astype(np.float32)
            except FaststyleError:
                continue  # a user style that cannot be read is no starting point
            distances[style.name] = loss.style_term(pictures)
    return sorted(distances, key=distances.get)


def init_weights(net, source: str) -> None:
    """Starts from another trained style: a checkpoint (.npz), an .onnx file, a style name (a lite
    run takes that style's lite network) or "base", the bundled base network of the net's shape."""
    from faststyle.training.onnx_import import load_onnx_weights

    path = Path(source)
    if path.suffix == ".npz" and path.is_file():
        arrays = run_folder.read_checkpoint(path)
        _same_shape(source, run_folder.checkpoint_config(arrays, path.parent).architecture, net.architecture)
        run_folder.load_checkpoint(arrays, net)
    else:
        load_onnx_weights(net, start_model(source, net.architecture))


def start_model(source: str, architecture: Architecture) -> Path:
    """The ONNX file --init-from SOURCE names for a network of this shape: a style's own (its
    lite network for the lite shape), a file, or the bundled base network of the shape."""
    from faststyle.model_file import read_card
    from faststyle.styles import resolve_style
    from faststyle.training.base import base_model

    model = base_model(architecture) if source == BASE else resolve_style(source, fast=architecture == PRESETS["lite"])
    _same_shape(source, read_card(model).network(), architecture)
    return model


def _same_shape(source: str, start: Architecture, run: Architecture) -> None:
    if start != run:
        raise FaststyleError(f"--init-from {source} is a network of another shape ({start}) than this run's "
                             f"({run}); start from a model of the same --arch, or leave --init-from out")


def load_style_net(source: str):
    """A trained style (name or .onnx) as a Keras network of its own architecture, e.g. a teacher."""
    from faststyle.styles import resolve_style
    from faststyle.training.onnx_import import load_onnx_net

    return load_onnx_net(resolve_style(source))


def _stylize(net, image: np.ndarray) -> np.ndarray:
    """The network's picture of one HxWx3 photo, clipped to 0..255 as users get it (on the grid
    the runtime paints it on)."""
    from faststyle.preprocess import onto_grid, pad_to_multiple

    moved, top, left = onto_grid(image)
    h, w = image.shape[:2]
    # Keras' predict function, traced once per picture size, costs less than a layer-by-layer
    # call; a quick run paints some 25 previews (benchmarks/bench_previews.py).
    out = np.asarray(net.predict_on_batch(pad_to_multiple(moved)[None]))[0]
    return np.clip(out[top:top + h, left:left + w], 0, 255)


def _write_preview(net, image: np.ndarray, path: Path) -> None:
    from PIL import Image

    save_image(Image.fromarray(_stylize(net, image).round().astype(np.uint8)), path)


VALIDATION_PHOTOS = 8


def _validation_photos(config: TrainConfig) -> list[np.ndarray]:
    """A fixed set of held-out photos (the --exclude matches) at the training size, for the blob log."""
    from faststyle.training.data import held_out_images

    return _square_photos(held_out_images(config.content_dir, config.exclude), config.image_size, VALIDATION_PHOTOS)


def _square_photos(paths: list[Path], size: int, count: int) -> list[np.ndarray]:
    """The first `count` of `paths` that read, as size x size centre squares; unreadable ones are passed over."""
    from faststyle.training.evaluate import square_photo

    photos = []
    for path in paths:
        try:
            photos.append(square_photo(path, size))
        except (FaststyleError, OSError):
            continue
        if len(photos) == count:
            break
    return photos


def _log_quality(net, photos: list[np.ndarray], log, step: int) -> str:
    """Logs the share of blown-white pixels and the tonal layout kept on the validation photos (quality.csv)."""
    from faststyle.measures import blown_white_share, tonal_correlation
    from faststyle.training.evaluate import nanmean

    pictures = [_stylize(net, p) for p in photos]
    shares = [blown_white_share(picture, p) for picture, p in zip(pictures, photos)]
    layout = nanmean([tonal_correlation(picture, p) for picture, p in zip(pictures, photos)])
    log.writerow([step, f"{np.mean(shares):.5f}", f"{np.max(shares):.5f}", len(shares), f"{layout:.3f}"])
    return (f"step {step}: blown white {100 * np.mean(shares):.2f} % mean, {100 * np.max(shares):.2f} % worst; "
            f"tonal layout kept {layout:.2f}")


def _preview_array(path: str | None) -> np.ndarray:
    from faststyle.styles import sample_image_path

    return np.asarray(shrink_to(load_image(path or sample_image_path()).convert("RGB"), 384, Image.BICUBIC),
                      np.float32)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Adam's learning rate for the step after `step` done: constant, or a cosine fall to --lr-end
    over the run's steps (Keras' CosineDecay, computed here so that a --time-budget's fewer steps
    shorten the fall). A resumed run goes on down it from its step; a run started --init-from
    another model starts its fall at --lr."""
    if config.learning_rate_end is None:
        return config.learning_rate
    alpha = config.learning_rate_end / config.learning_rate
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(step, config.steps) / max(config.steps, 1)))
    return config.learning_rate * (alpha + (1.0 - alpha) * cosine)


@contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy set to `name` ("float32" or "mixed_bfloat16") while networks are built."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def train(config: TrainConfig, resume: bool = False, progress: bool = True, start=None, loss=None,
          started: float | None = None) -> Path:
    """Runs (or resumes) a training run and exports the ONNX model; returns its path.

    The run folder is locked meanwhile: a second training on it is refused, not interleaved.
    start: a Keras network of the run's architecture whose weights a new run begins with (the
    lite network trained beside the full one, for the lite stage).
    loss: the perceptual loss of this run's painting and loss settings, already built (the full
    stage's, for the lite stage): the VGG network and the painting's Gram matrices are not made again.
    started: when the run began, on time.monotonic()'s clock, for --time-budget (the command line
    passes its process's start, so that start-up counts); default: now.
    """
    created = not config.folder.exists()
    held = run_folder.lock(config.folder)
    try:
        return _train(config, resume, progress, start, loss, time.monotonic() if started is None else started)
    except BaseException:
        if created and [p.name for p in config.folder.iterdir()] == [run_folder.LOCK_FILE]:
            (config.folder / run_folder.LOCK_FILE).unlink()  # a run that could not start leaves no folder
            config.folder.rmdir()
        raise
    finally:
        run_folder.unlock(held)


def _train(config: TrainConfig, resume: bool, progress: bool, start, loss, started: float) -> Path:
    import keras
    from keras import ops
    from tqdm import tqdm

    from faststyle.training.data import PhotoStream, batches, find_images
    from faststyle.training.export import export_onnx
    from faststyle.training.losses import build_loss, distill_loss, range_loss, shift_loss
    from faststyle.training.network import build_transform_net
    from faststyle.training.step import make_train_step

    folder = config.folder
    if not resume and run_folder.checkpoints(folder):
        raise FaststyleError(f"{folder} already holds a training run; add --resume to continue it "
                             "or choose another --run-dir")
    stale = remove_stale_temp_files(folder)  # checkpoints a killed run was writing
    if stale:
        print(f"removed {stale} unfinished checkpoint file(s) left by an interrupted run")

    # Everything that can fail on bad settings (photos, painting, VGG weights) runs before the
    # run folder is written, so a failed start leaves no half-made run behind.
    keras.utils.set_random_seed(config.seed)
    files = find_images(config.content_dir, config.exclude)
    stream = PhotoStream(files, config.image_size, config.crop, config.seed)
    config.precision = resolved_precision(config.precision)
    use_devices(config.devices, config.batch_size)
    with dtype_policy(config.precision):  # layers take the policy they are built under
        # A pure distillation run (a teacher, no VGG steps) needs no loss network: seconds saved.
        pure_distillation = config.teacher and config.perceptual_every == 0
        if pure_distillation:
            loss = None
        elif loss is None:
            loss = build_loss(config.loss, config.style_image, config.vgg_weights)
        elif loss.config != config.loss:  # the lite stage's own weights (--lite-white-weight)
            loss = loss.reweighted(config.loss)
        net = build_transform_net(config.architecture)
        teacher = load_style_net(config.teacher) if config.teacher else None
        latest = run_folder.latest_intact_checkpoint(folder)[1] if resume and run_folder.checkpoints(folder) else None
        beside = _lite_beside(config, latest)
    trained = Networks(net, beside) if beside is not None else net
    opt = keras.optimizers.Adam(learning_rate(config, 0))
    opt.build(trained.trainable_variables)

    step, position = 0, 0
    if latest is not None:
        step, position = run_folder.load_checkpoint(latest, trained, opt)
    elif start is not None:
        for mine, theirs in zip(net.weights, start.weights, strict=True):
            mine.assign(theirs)
    elif config.init_from == NEAREST:
        ranked = nearest_style(loss, config.architecture, _probe_photos(files, config.crop))
        if not ranked:
            raise FaststyleError(f"--init-from {NEAREST}: no bundled style has a network of this shape "
                                 f"({config.architecture}); start from random weights with --schedule long")
        config.init_from = ranked[0]
        print(f"starting from {ranked[0]}, the bundled style nearest the painting")
        init_weights(net, config.init_from)
    elif config.init_from:
        init_weights(net, config.init_from)
    if beside is not None and latest is None and _lite_start(config.init_from):
        init_weights(beside, _lite_start(config.init_from))
    preview = _preview_array(config.preview_image)
    validation = _validation_photos(config) or [preview]
    run_folder.write_config(config)
    if step == 0:  # the starting point, at once: a user sees something within seconds
        _write_preview(net, preview, folder / "preview.jpg")

    def compute_terms(images, perceptual: bool) -> dict:
        # Distillation: the teacher's picture of the same crop is the target. Without the VGG
        # terms a step costs a fraction of a perceptual one, so they can run every Nth step only.
        target = ops.clip(teacher(images, training=False), 0.0, 255.0) if teacher else None
        content_target = loss.content_targets(images) if perceptual else None
        stylized = net(images, training=True)
        terms = loss.terms(stylized, content_target) if perceptual else {
            "range": config.loss.range_weight * range_loss(stylized)}
        if teacher is not None:
            terms["distill"] = config.distill_weight * distill_loss(stylized, target)
        if beside is not None:  # the lite network learns to paint what the full one paints now
            terms["lite"] = config.distill_weight * distill_loss(
                beside(images, training=True), ops.stop_gradient(ops.clip(stylized, 0.0, 255.0)))
        if config.shift_weight:
            terms["shift"] = config.shift_weight * shift_loss(net, images, stylized, config.shift_by)
        terms["total"] = sum(v for k, v in terms.items() if k != "total")
        return terms

    frozen = ([loss.loss_net.model] if loss else []) + ([teacher] if teacher else [])

    def perceptual_step(step: int) -> bool:
        if teacher is None:
            return True
        return config.perceptual_every > 0 and step % config.perceptual_every == 0

    log_file, log = run_folder.open_log(folder / "losses.csv", run_folder.LOSS_COLUMNS, step)
    quality_file, quality_log = run_folder.open_log(folder / "quality.csv", run_folder.QUALITY_COLUMNS, step)
    bar = tqdm(total=config.steps, initial=step, desc=f"train {config.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    train_step = make_train_step(trained, opt, compute_terms, frozen, config.compile_mode, report=bar.write,
                                 memory=_compile_memory(config, beside is not None), precision=config.precision)
    deadline = time.monotonic() + 60 * config.max_minutes if config.max_minutes else None
    budget = (Budget(started + 60 * config.time_budget, config.steps, config.lite_steps, config.precision)
              if config.time_budget else None)
    saved = first_step = step
    try:
        for images, position_after in batches(stream, config.batch_size, position):
            if step >= config.steps:
                break
            if deadline and time.monotonic() > deadline:
                bar.write(f"stopped at step {step}: --max-minutes {config.max_minutes:g} reached")
                run_folder.save_checkpoint(config, trained, opt, step, position)
                break
            opt.learning_rate = learning_rate(config, step)
            t0 = time.perf_counter()
            terms = train_step(images, perceptual_step(step + 1))
            seconds = time.perf_counter() - t0
            step, position = step + 1, position_after
            log.writerow([step, *(f"{terms[k]:.6g}" if k in terms else "" for k in run_folder.LOSS_COLUMNS[1:-1]),
                          f"{seconds:.3f}"])
            # Steady steps only: not the first (it compiles), nor --compile auto's trials.
            plan = budget and budget.observe(seconds, step,
                                             ready=step > first_step + 1 and getattr(train_step, "chosen", True))
            if plan and (plan.steps, plan.later_steps) != (config.steps, config.lite_steps):
                bar.write(plan.line(budget.steps, budget.later_steps, config.time_budget))
                config.steps, config.lite_steps = plan.steps, plan.later_steps
                run_folder.write_config(config)  # what --resume and the app's progress read
                bar.total = config.steps
                bar.refresh()
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items() if k != "range"}, skipped=len(stream.skipped))
            if step % config.checkpoint_every == 0 or step == config.steps:
                log_file.flush()
                run_folder.save_checkpoint(config, trained, opt, step, position)
                saved = step
                if step == config.steps or not budget:  # a budget's seconds go to steps: checked at the end
                    bar.write(_log_quality(net, validation, quality_log, step))
                    quality_file.flush()
            if step % config.preview_every == 0 or step == config.steps:
                _write_preview(net, preview, folder / "preview.jpg")
    except BaseException:  # Ctrl-C or SIGTERM (e.g. the app's Cancel): keep the steps done for --resume
        if step > saved:
            log_file.flush()
            run_folder.save_checkpoint(config, trained, opt, step, position)
        raise
    finally:
        bar.close()
        log_file.close()
        quality_file.close()
    if stream.skipped:
        print(f"skipped {len(stream.skipped)} unreadable content image(s)")

    output = _output_path(config)
    export_onnx(net, output, run_folder.model_card(config, step, run_folder.final_losses(folder, step)))
    if config.lite_steps and config.architecture != PRESETS["lite"]:
        lite = _lite_config(config, output)
        if getattr(train_step, "chosen", None):  # this CPU's faster compile mode, without measuring again
            lite.compile_mode = CHOSEN_MODE[train_step.chosen]
        # The same painting and loss, and the same clock.
        train(lite, resume=resume, progress=progress, start=beside, loss=loss, started=started)
    return output


def _lite_config(config: TrainConfig, teacher: Path) -> TrainConfig:
    """The lite network's run, after the full one: distilled from it (its pictures as targets), and
    with --lite-perceptual-every also taught by the VGG loss, in the subfolder lite/ of the run
    folder. With --distill-weight 0 it has no teacher: the VGG loss alone, without the full
    network's forward pass on every step (about a fifth of a lite step). It starts from the network
    trained beside the full one (_lite_beside); its card names where that began: the lite network
    of the style the full one started from. Its loss is the full stage's, with --lite-white-weight,
    and its batch --lite-batch-size's."""
    return dataclasses.replace(
        config, **LITE_DISTILLATION, architecture=PRESETS["lite"], steps=config.lite_steps,
        loss=lite_loss(config.loss, vars(config)), **dict.fromkeys(LITE_LOSS_WEIGHTS.values()),
        batch_size=config.lite_batch_size or config.batch_size, lite_batch_size=None,
        teacher=str(teacher) if config.distill_weight else None,
        perceptual_every=config.lite_perceptual_every, lite_steps=0, lite_perceptual_every=0,
        init_from=_lite_start(config.init_from), run_dir=str(config.folder / LITE_SUBDIR),
        output=str(lite_path(_output_path(config))))


class Networks:
    """Networks one optimiser trains together (the full one and the lite one beside it): their
    variables in one list for the step, and their weights in one checkpoint (the lite one's
    paths begin with BESIDE/, so the two never share a name)."""

    def __init__(self, *nets):
        self.nets = nets

    @property
    def trainable_variables(self) -> list:
        return [v for net in self.nets for v in net.trainable_variables]

    @property
    def non_trainable_variables(self) -> list:
        return [v for net in self.nets for v in net.non_trainable_variables]

    @property
    def weights(self) -> list:
        return [v for net in self.nets for v in net.weights]


BESIDE = "lite"  # name scope of the lite network trained beside a full one


def _lite_beside(config: TrainConfig, checkpoint: dict | None):
    """The lite network trained beside the full one, or None. When a run will distil a lite
    network from pictures only (--lite-steps without --lite-perceptual-every), the lite one learns
    from the full one's pictures of every batch while the full one trains: they come free with
    the step, so the lite stage starts close to its teacher. A lite stage that also has the VGG
    loss got as near the painting from the bundled lite network (measured: STYLES.md, "A new
    style in minutes"). A resumed run goes on as its checkpoints were made, with or without it."""
    import keras

    from faststyle.training.network import build_transform_net

    if not config.lite_steps or config.architecture == PRESETS["lite"] or config.teacher or not config.distill_weight:
        return None
    made_with = checkpoint is not None and any(k.startswith(f"net/{BESIDE}/") for k in checkpoint)
    if not made_with and (checkpoint is not None or config.lite_perceptual_every):
        return None
    with keras.name_scope(BESIDE):
        return build_transform_net(PRESETS["lite"])


def _lite_start(init_from: str | None) -> str | None:
    """The lite network a full run's lite stage starts from: that of the style (or base) the full
    one started from, where it has one."""
    from faststyle.styles import available_styles

    return init_from if init_from == BASE or init_from in {s.name for s in available_styles() if s.lite} else None


def use_devices(count: int, batch_size: int) -> None:
    """Data parallel on `count` devices (0: all) through Keras' distribution API: weights copied to
    each, each batch split between them, gradients summed by XLA. 1 leaves Keras as it is."""
    import keras

    if count == 1:
        keras.distribution.set_distribution(None)
        return
    if keras.backend.backend() != "jax":
        raise FaststyleError("--devices needs Keras' JAX backend: set KERAS_BACKEND=jax "
                             '(pip install "faststyle[train-jax]")')
    available = keras.distribution.list_devices()
    count = count or len(available)
    if count > len(available):
        raise FaststyleError(f"--devices {count}: this machine has {len(available)} ({', '.join(available)})")
    if batch_size % count:
        raise FaststyleError(f"--batch-size {batch_size} does not split into {count} equal parts; "
                             f"use a multiple of {count}")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=available[:count]))
    print(f"training data-parallel on {count} devices: {', '.join(available[:count])}")


CHOSEN_MODE = {"XLA": "xla", "graph mode": "graph"}  # FastestStep's names -> --compile values


def _compile_memory(config: TrainConfig, beside: bool = False):
    """Where --compile auto remembers what it measured: per CPU, software, precision and network(s)."""
    import keras

    from faststyle.machine import cpu_identity
    from faststyle.styles import cache_dir
    from faststyle.training.step import ChoiceMemory

    backend = keras.backend.backend()
    version = __import__(backend).__version__ if backend in ("tensorflow", "jax") else ""
    return ChoiceMemory(cache_dir() / "compile-choices.json",
                        f"{cpu_identity()} | {backend} {version} keras {keras.__version__} | {config.precision} | "
                        f"{config.architecture}" + (" | shift term" if config.shift_weight else "")
                        + (" | lite beside" if beside else ""))


def lite_path(full: Path) -> Path:
    """Where a style's lite network lives: lite/NAME.onnx beside the full network, where --fast looks."""
    return full.parent / LITE_SUBDIR / full.name


def _probe_photos(files: list[Path], size: int, count: int = 4) -> list[np.ndarray]:
    """A few training photos, evenly spread, as squares: what `nearest_style` compares styles on."""
    return _square_photos(files[:: max(1, len(files) // count)], size, count)


def _output_path(config: TrainConfig) -> Path:
    """-o, else the user style folder; a lite network goes beside its style's full one, where --fast looks."""
    if config.output:
        return Path(config.output)
    full = user_style_dir() / f"{config.name}.onnx"
    return lite_path(full) if config.architecture == PRESETS["lite"] else full

"""The base networks a new style starts from: trained across many paintings to adapt to any one fast.

Reptile (Nichol, Achiam & Schulman 2018), first-order meta-learning. One round: pick a painting,
train a copy of the base on it the way a new style's first steps are trained (a fresh Adam, the
quick schedule's loss, crops and learning rate) for a few steps, then move the base part of the
way towards where those steps ended. Over many rounds and paintings the base settles where a few
steps reach any painting, which no network trained on one painting is. The quick schedule starts
from the bundled pair (`--init-from base`); `faststyle train-base` makes a new pair. Measured:
STYLES.md, "A base network for new styles".
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from faststyle.architecture import PRESETS, Architecture
from faststyle.errors import FaststyleError
from faststyle.styles import BUNDLED_DIR

BASE_DIR = BUNDLED_DIR / "base"  # full.onnx and lite.onnx: not styles, so not in the style list
MAX_PAINTINGS = 2000  # each painting's Gram matrices stay in memory, about 0.35 MB apiece


def base_model(architecture: Architecture) -> Path:
    """The bundled base network of this shape (the full or the lite preset)."""
    for name, preset in PRESETS.items():
        if preset == architecture:
            return BASE_DIR / f"{name}.onnx"
    raise FaststyleError(f"--init-from base: there is a base network for --arch {' and '.join(PRESETS)} only, "
                         f"not for {architecture}; start from a trained style of the same shape instead")


@dataclass
class BaseRun:
    """`faststyle train-base`: what a run of Reptile rounds takes."""

    paintings: list[Path]
    content_dir: str
    output: Path                  # a folder: full.onnx and lite.onnx are written there
    rounds: int = 800             # about 75 minutes on 2 AVX-512 cores
    inner_steps: int = 16         # a new style's first steps, per round and network
    outer_step: float = 0.3       # how far the base moves towards a round's end, falling linearly...
    outer_step_end: float = 0.05  # ...to this at the last round
    start: str | None = "wave"    # a style (its full and lite networks), or None: random weights
    exclude: tuple[str, ...] = ()  # photos left out of --content-dir, as train's --exclude
    vgg_weights: str | None = None
    precision: str = "auto"
    image_size: int = 256
    batch_size: int | None = None  # photos a step; None: each network's stage's, as its crops
    seed: int = 0
    architectures: dict[str, Architecture] | None = None  # None: the full and lite presets
    networks: tuple[str, ...] = ("full", "lite")  # those the rounds train; the other is copied from `start`
    crop_sizes: dict[str, int] | None = None  # None: the quick schedule's on this machine
    compile_mode: str = "auto"    # as train's --compile: XLA is 1.6x faster on an AVX2 CPU, slower on AVX-512
    save_every: int = 50          # rounds between snapshots of the two files


def train_base(run: BaseRun, progress: bool = True) -> dict[str, Path]:
    """Runs the rounds and writes the base networks (also every `save_every` rounds, so an
    interrupted run leaves its last snapshot); returns {"full": path, "lite": path}."""
    import keras
    from tqdm import tqdm

    from faststyle.training.config import LITE_DISTILLATION, SCHEDULES, LossConfig, lite_loss, resolved_precision, \
        schedule_defaults
    from faststyle.training.data import PhotoStream, batches, find_images
    from faststyle.training.losses import PerceptualLoss, gram_matrix, style_image_array
    from faststyle.training.network import build_transform_net
    from faststyle.training.step import make_train_step
    from faststyle.training.train import dtype_policy, init_weights, start_model
    from faststyle.training.vgg import LossNetwork

    if not 2 <= len(run.paintings) <= MAX_PAINTINGS:
        raise FaststyleError(f"a base network is trained across paintings: {len(run.paintings)} found, "
                             f"give a folder with at least two and at most {MAX_PAINTINGS} "
                             "(--hold-out leaves some out)")
    kept = [kind for kind in ("full", "lite") if kind not in run.networks]
    if kept and not run.start:
        raise FaststyleError(f"a base of one network keeps the other ({kept[0]}) as --start gives it: name a --start")
    precision = resolved_precision(run.precision)
    quick = schedule_defaults("quick", precision)
    config = LossConfig(**quick["loss"])
    crops = run.crop_sizes or {"full": quick["crop_size"], "lite": LITE_DISTILLATION["crop_size"]}
    batch_sizes = {"full": run.batch_size or quick["batch_size"],
                   "lite": run.batch_size or quick["lite_batch_size"]}
    architectures = run.architectures or PRESETS
    kept_files = {kind: start_model(run.start, architectures[kind]) for kind in kept}  # named before any work
    keras.utils.set_random_seed(run.seed)
    files = find_images(run.content_dir, run.exclude)
    with dtype_policy(precision):
        loss_net = LossNetwork(config.loss_net, run.vgg_weights, config.style_depth)
        nets = {kind: build_transform_net(architectures[kind]) for kind in ("full", "lite") if kind not in kept}
        if run.start:
            for net in nets.values():
                init_weights(net, run.start)
    loss = PerceptualLoss(loss_net, style_image_array(str(run.paintings[0]), config.style_size), config)
    grams = [[np.asarray(g) for g in loss.style_grams]]  # each painting's, once: a round only swaps them in
    for path in run.paintings[1:]:
        _, features = loss_net(style_image_array(str(path), config.style_size)[None])
        grams.append([np.asarray(gram_matrix(f)) for f in features])
    loss.style_grams = [keras.Variable(g, trainable=False) for g in grams[0]]  # read at each step, not traced in

    # Each network's rounds take its own stage's loss: the lite stage weighs near-white more, content less.
    stage_losses = {"full": config, "lite": lite_loss(config, quick)}
    losses = {kind: loss.reweighted(stage_losses[kind]) for kind in nets}
    streams, opts, steps = {}, {}, {}
    for i, (kind, net) in enumerate(nets.items()):
        streams[kind] = batches(PhotoStream(files, run.image_size, crops[kind], run.seed + i), batch_sizes[kind])
        opts[kind] = keras.optimizers.Adam(SCHEDULES["quick"]["learning_rate"])
        opts[kind].build(net.trainable_variables)

        def terms(images, perceptual: bool, net=net, loss=losses[kind]):
            return loss.terms(net(images, training=True), loss.content_targets(images))

        # The targets go in with the frozen networks: JAX's compiled step then takes them as an
        # argument, not as the first painting's values baked in.
        frozen = [loss_net.model, SimpleNamespace(variables=loss.style_grams)]
        steps[kind] = make_train_step(net, opts[kind], terms, frozen, run.compile_mode, precision=precision,
                                      report=lambda line, kind=kind: tqdm.write(f"{kind}: {line}"))

    rng = np.random.default_rng(run.seed)
    run.output.mkdir(parents=True, exist_ok=True)
    copied = {kind: run.output / f"{kind}.onnx" for kind in kept}
    for kind, source in kept_files.items():  # the start's own file, card and all: these rounds did not train it
        if not (copied[kind].exists() and copied[kind].samefile(source)):
            shutil.copyfile(source, copied[kind])
    bar = tqdm(total=run.rounds, desc="base rounds", unit="round", disable=not progress, dynamic_ncols=True)
    started = time.monotonic()
    try:
        for done in range(run.rounds):
            painting = int(rng.integers(len(run.paintings)))
            for variable, gram in zip(loss.style_grams, grams[painting]):
                variable.assign(gram)
            outer = run.outer_step + (run.outer_step_end - run.outer_step) * done / max(1, run.rounds - 1)
            falls = {kind: _round(net, opts[kind], steps[kind], streams[kind], run.inner_steps, outer)
                     for kind, net in nets.items()}
            bar.update(1)
            bar.set_postfix({f"{k} style": f"x{v:.2f}" for k, v in falls.items()})
            if (done + 1) % run.save_every == 0:
                _save(nets, run, batch_sizes, stage_losses, done + 1, time.monotonic() - started)
    finally:
        bar.close()
    return {**copied, **_save(nets, run, batch_sizes, stage_losses, run.rounds, time.monotonic() - started)}


def _round(net, opt, step, stream, inner_steps: int, outer: float) -> float:
    """One Reptile round on one network: `inner_steps` from a fresh Adam, then the base moved
    `outer` of the way to where they ended. Returns the style term's fall over the steps (last / first)."""
    base = [v.numpy() for v in net.trainable_variables]
    for variable in opt.variables:
        if "learning_rate" not in variable.path:  # fresh moments and step count, as a new style's run
            variable.assign(np.zeros(variable.shape, variable.dtype))
    styles = []
    for _ in range(inner_steps):
        images, _ = next(stream)
        styles.append(step(images, True)["style"])
    for variable, before in zip(net.trainable_variables, base):
        variable.assign(before + outer * (variable.numpy() - before))
    return styles[-1] / max(styles[0], 1e-12)


def _save(nets: dict, run: BaseRun, batch_sizes: dict[str, int], stage_losses: dict, rounds: int,
          seconds: float) -> dict[str, Path]:
    from faststyle import __version__
    from faststyle.training.export import export_onnx

    written = {}
    for kind, net in nets.items():
        written[kind] = run.output / f"{kind}.onnx"
        export_onnx(net, written[kind], {
            "name": f"base-{kind}", "init_from": run.start, "steps": rounds * run.inner_steps,
            "image_size": run.image_size, "batch_size": batch_sizes[kind], "loss": stage_losses[kind].to_dict(),
            "trained_on": f"Reptile, {rounds} rounds of {run.inner_steps} steps across {len(run.paintings)} "
                          f"paintings, outer step {run.outer_step:g} to {run.outer_step_end:g}, {seconds / 60:.0f} min",
            "faststyle_version": __version__})
    return written

"""`faststyle train`, `train-base`, `export`, `optimize` and `evaluate`: the commands that need the [train] extra.

Each imports Keras and TensorFlow inside its function, so the rest of the command line starts
without them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from faststyle.architecture import NORMS, PRESETS
from faststyle.argtypes import MAX_COUNT, at_least, fraction, int_between, ints, pixels
from faststyle.errors import FaststyleError


def _add_train(sub) -> None:
    from faststyle.training.config import LossConfig, TrainConfig, add_options

    p = sub.add_parser("train", help="make a new style from a painting (minutes; --schedule long: hours)")
    p.add_argument("style_image", help="the painting (any image file)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir (or runs/NAME)")
    add_options(p, TrainConfig)  # names, defaults and help come from the settings themselves
    add_options(p, LossConfig)
    p.add_argument("--arch", choices=sorted(PRESETS),
                   help="network shape: full (the paper's) or lite (about 6x fewer operations) (default: full)")
    p.add_argument("--width", type=int_between(1, 512), help="channels of the first conv (default: the --arch's)")
    p.add_argument("--norm", choices=list(NORMS),
                   help="normalisation after the encoder: demod (weights; no white blobs) or instance "
                        "(the paper's) (default: the --arch's, demod)")
    p.add_argument("--no-jit", action="store_true", help="the same as --compile graph")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="extra metadata stored in the model (painting, artist, ...)")


def _add_loss_options(p) -> None:
    """The perceptual loss's settings (optimize; train adds the same from its config)."""
    from faststyle.training.config import LossConfig, add_options

    add_options(p, LossConfig)
    _add_vgg_weights(p)


def _add_vgg_weights(p) -> None:
    """The loss network's weights file (train declares the same option in its config)."""
    p.add_argument("--vgg-weights", help="local VGG weights file (or set FASTSTYLE_VGG_WEIGHTS)")


def _architecture(args):
    from faststyle.architecture import preset

    changes = {k: getattr(args, k) for k in ("width", "norm") if getattr(args, k) is not None}
    return preset(args.arch or "full", **changes)


def _asked_architecture(args):
    """The architecture the command line asks for, or None when no option names one."""
    return _architecture(args) if any(getattr(args, k) is not None for k in ("arch", "width", "norm")) else None


def _check_painting(path: str | Path, style_size: int) -> str | None:
    """Reads the painting before the loss network and the photos load: a damaged file or one too
    thin to learn from is named at once. Returns a note for a thumbnail (a larger picture of it
    paints better), to print once the run is sure to start."""
    from faststyle.image_io import load_image
    from faststyle.training.losses import check_painting_shape

    width, height = load_image(path).size
    check_painting_shape(path, width, height, style_size)
    if 2 * max(width, height) <= style_size:  # enlarged 2x or more to the size the loss reads it at
        return (f"note: {path} is {width}x{height} px, small for a painting: it is enlarged to {style_size} px "
                "to learn from, so its strokes come out soft; a larger picture of it paints better")
    return None


def run_train(args) -> int:
    from faststyle.files import refuse_overwriting_inputs
    from faststyle.training.budget import process_started
    from faststyle.training.config import (LITE_LOSS_WEIGHTS, LossConfig, TrainConfig, from_args, resumed,
                                           schedule_defaults)
    from faststyle.training.photoset import DEFAULT_SET, photo_folder
    from faststyle.training.run_folder import load_run_config

    note = None
    if args.resume:
        if not args.run_dir and not args.name:
            raise FaststyleError("--resume needs the run: pass --run-dir (or --name for runs/NAME)")
        config = resumed(load_run_config(args.run_dir or Path("runs") / args.name), args, _asked_architecture(args))
    else:
        if not Path(args.style_image).is_file():
            raise FaststyleError(f"{args.style_image}: style image not found")
        note = _check_painting(args.style_image, args.style_size or LossConfig.style_size)
        meta = dict(item.split("=", 1) for item in args.meta if "=" in item)
        defaults = schedule_defaults(args.schedule or "quick", args.precision)
        if args.time_budget is None and (args.steps is not None or args.lite_steps is not None):
            defaults.pop("time_budget", None)  # steps asked for by number are all trained
        for both, lite in (*LITE_LOSS_WEIGHTS.items(), ("batch_size", "lite_batch_size")):
            if getattr(args, both) is not None and getattr(args, lite) is None:
                defaults.pop(lite, None)  # e.g. --white-weight alone weighs both stages
        loss_defaults = defaults.pop("loss")
        config = from_args(TrainConfig, args, defaults=defaults, style_image=args.style_image,
                           loss=from_args(LossConfig, args, defaults=loss_defaults),
                           architecture=_architecture(args), metadata=meta)
        from faststyle.styles import check_free_name, name_from_file

        config.name = config.name or name_from_file(args.style_image)
        if not config.output:  # the name becomes a file in the user style folder, and what -s takes
            # Before minutes of training: the new style neither hidden nor replacing one.
            check_free_name(config.name, lite=config.architecture == PRESETS["lite"])
        if not config.content_dir:  # no photos of the user's own: a public set, downloaded once
            photo_set = DEFAULT_SET
            config.content_dir = str(photo_folder(photo_set))
            config.image_size = args.image_size or photo_set.image_size
    if config.learning_rate_end is not None and config.learning_rate_end > config.learning_rate:
        raise FaststyleError(f"--lr-end {config.learning_rate_end:g} is above --lr {config.learning_rate:g}; "
                             "the learning rate falls to --lr-end, so give a smaller one")
    if config.output:
        refuse_overwriting_inputs(config.output, config.style_image, config.preview_image)
    if args.no_jit:  # the older flag, for new and resumed runs alike
        config.compile_mode = "graph"
    from faststyle.training.train import train  # TensorFlow: only once the request is known to be good

    if note:
        print(note, file=sys.stderr)

    path = train(config, resume=args.resume, started=process_started())  # the budget counts start-up
    print(f"wrote {path}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a training checkpoint to ONNX, or rebuild an older .onnx model")
    p.add_argument("checkpoint", help="a run folder (uses its latest checkpoint), a ckpt-*.npz file, or a "
                   "faststyle .onnx model to rebuild with this version's faster graph (same weights and card)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--float32", action="store_true", help="store weights as float32 instead of float16")
    int8 = p.add_mutually_exclusive_group()
    int8.add_argument("--int8", metavar="PHOTOS", help="run the residual blocks in int8 "
                      "(about 1.3x faster on a CPU), "
                      "quantised with activation ranges measured on 16 photos from this folder")
    int8.add_argument("--no-int8", action="store_true", help="rebuild an int8 model in float")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="with --int8: leave out photos matching this pattern (relative to PHOTOS)")


def run_export(args) -> int:
    from faststyle.files import refuse_overwriting_inputs
    from faststyle.training.data import find_images
    from faststyle.training.onnx_import import reexport_onnx
    from faststyle.training.quantize import calibration_sample
    from faststyle.training.run_folder import export_checkpoint

    source = Path(args.checkpoint)
    refuse_overwriting_inputs(args.output, *([source] if source.is_file() else source.glob("ckpt-*.npz")))
    photos = calibration_sample(find_images(args.int8, args.exclude, option="--int8")) if args.int8 else None
    if args.checkpoint.endswith(".onnx"):
        print(f"wrote {reexport_onnx(args.checkpoint, args.output, not args.float32, photos, args.no_int8)}")
        return 0
    print(f"wrote {export_checkpoint(args.checkpoint, args.output, not args.float32, photos)}")
    return 0


def _add_optimize(sub) -> None:
    p = sub.add_parser("optimize", help="Gatys et al. slow mode: optimise one image's pixels (quality reference)")
    p.add_argument("content", help="the photo")
    p.add_argument("style_image", help="the painting")
    p.add_argument("-o", "--output", required=True, help="image file to write")
    p.add_argument("--max-size", "--size", dest="max_size", type=pixels(), default=512,
                   help="long side of the result, pixels (--size: the older name)")
    p.add_argument("--iterations", type=int_between(1, MAX_COUNT), default=300, help="optimisation steps")
    p.add_argument("--method", choices=["lbfgs", "adam"], default="lbfgs", help="optimiser")
    p.add_argument("--init", choices=["content", "noise"], default="content", help="start from the photo or from noise")
    _add_loss_options(p)


def run_optimize(args) -> int:
    from faststyle.files import refuse_overwriting_inputs
    from tqdm import tqdm

    from faststyle.training.config import LossConfig, from_args
    from faststyle.training.optimize import optimize_file

    refuse_overwriting_inputs(args.output, args.content, args.style_image)
    with tqdm(total=args.iterations, desc="optimize", unit="it", disable=None) as bar:  # bars on terminals only
        terms = optimize_file(args.content, args.style_image, args.output, from_args(LossConfig, args),
                              args.max_size, args.iterations, args.method, args.init, args.vgg_weights,
                              callback=lambda i, _: bar.update(1))
    print("loss: " + ", ".join(f"{k} {v:.4g}" for k, v in terms.items()))
    print(f"wrote {args.output}")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="a style model's loss on photos next to Gatys' after N iterations")
    p.add_argument("style", help="style name or .onnx path")
    p.add_argument("photos", help="folder of validation photos")
    p.add_argument("--style-image", required=True, help="the painting the style was trained on")
    p.add_argument("--crop-size", "--size", dest="crop_size", type=pixels(), default=256,
                   help="photos are cut to their centre square at this size (--size: the older name)")
    p.add_argument("--limit", type=at_least(1), default=20, help="at most this many photos")
    p.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    p.add_argument("--gatys-photos", type=at_least(0), default=3, help="photos also optimised by Gatys")
    p.add_argument("--gatys-iterations", type=ints, default=(50, 100, 300),
                   help="comma-separated L-BFGS iteration counts to report")
    _add_vgg_weights(p)


def run_evaluate(args) -> int:
    from tqdm import tqdm

    from faststyle.api import load_style
    from faststyle.batch import find_inputs
    from faststyle.training.evaluate import evaluate, format_report

    model = load_style(args.style)
    photos = [p for p, _ in find_inputs([args.photos])[0] if p.exists()][: args.limit]
    if not photos:  # before the loss network loads (or downloads)
        raise FaststyleError(f"{args.photos}: not found; pass a folder of validation photos (or one photo)")
    with tqdm(total=len(photos), desc=f"evaluate {model.name}", unit="photo", disable=None, file=sys.stderr) as bar:
        report = evaluate(model, photos, args.style_image, args.crop_size, args.vgg_weights, args.gatys_iterations,
                          args.gatys_photos, progress=lambda i, n: bar.update(1))
    if args.json:
        import dataclasses

        print(json.dumps(dataclasses.asdict(report)))
    else:
        print(format_report(report))
    return 0


def _add_train_base(sub) -> None:
    from faststyle.training.base import BaseRun
    from faststyle.training.config import COMPILE_MODES

    p = sub.add_parser("train-base", help="the base networks new styles start from: trained across many "
                                          "paintings to adapt fast (hours; docs/training.md)")
    p.add_argument("paintings", help="folder of paintings (searched recursively)")
    p.add_argument("--content-dir", required=True, help="folder of training photos (searched recursively)")
    p.add_argument("-o", "--output", required=True, help="folder to write full.onnx and lite.onnx to")
    p.add_argument("--hold-out", action="append", default=[], metavar="GLOB",
                   help="leave out paintings matching this pattern (relative to the folder), to judge the "
                        "base on paintings it never saw")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="leave out photos matching this pattern (relative to --content-dir)")
    p.add_argument("--rounds", type=int_between(1, MAX_COUNT), default=BaseRun.rounds,
                   help="rounds: one painting each, trained --inner-steps steps by each network")
    p.add_argument("--inner-steps", type=int_between(1, 10_000), default=BaseRun.inner_steps,
                   help="steps of a round, from a fresh Adam, as a new style's first steps")
    p.add_argument("--outer-step", type=fraction, default=BaseRun.outer_step,
                   help="how far the base moves towards where a round's steps ended, at the first round")
    p.add_argument("--outer-step-end", type=fraction, default=BaseRun.outer_step_end,
                   help="...falling linearly to this at the last round")
    p.add_argument("--start", default=BaseRun.start,
                   help="the style whose full and lite networks the base starts from ('base': the bundled base "
                        "networks, to go on from them; 'none': random weights)")
    p.add_argument("--only", choices=["full", "lite"], help="train this network of the pair alone; the "
                                                            "other is written as --start gives it")
    p.add_argument("--seed", type=int_between(0, 2 ** 31 - 1), default=0, help="seed of the paintings' order "
                                                                                 "and the photo crops")
    p.add_argument("--compile", dest="compile_mode", choices=list(COMPILE_MODES), default=BaseRun.compile_mode,
                   help="how TensorFlow runs a step, as train's --compile (auto: time XLA and graph mode on the "
                        "first steps and keep the faster)")
    _add_vgg_weights(p)


def run_train_base(args) -> int:
    from faststyle.training.base import BaseRun, train_base
    from faststyle.training.data import find_images

    paintings = find_images(args.paintings, args.hold_out, option="the paintings argument")
    written = train_base(BaseRun(
        paintings=paintings, content_dir=args.content_dir, output=Path(args.output), rounds=args.rounds,
        inner_steps=args.inner_steps, outer_step=args.outer_step, outer_step_end=args.outer_step_end,
        start=None if args.start == "none" else args.start, networks=(args.only,) if args.only else ("full", "lite"),
        exclude=tuple(args.exclude), vgg_weights=args.vgg_weights, seed=args.seed, compile_mode=args.compile_mode))
    print("wrote " + " and ".join(str(p) for p in written.values()))
    return 0

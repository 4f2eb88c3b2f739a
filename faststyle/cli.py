# PYTHON_ARGCOMPLETE_OK  (tab completion: `faststyle completion bash|zsh|fish`)
"""The `faststyle` command: a thin shell over the Python API.

Training commands import TensorFlow lazily, so `stylize` works with the base install.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from faststyle import __version__
from faststyle.architecture import NORMS, PRESETS
from faststyle.argtypes import MAX_COUNT, at_least, pixels, float_where, fraction, int_between, ints, threads
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


def run_train(args) -> int:
    from faststyle.image_io import refuse_overwriting_inputs
    from faststyle.training.config import SCHEDULES, LossConfig, TrainConfig, from_args
    from faststyle.training.photoset import DEFAULT_SET, photo_folder
    from faststyle.training.run_folder import load_run_config
    from faststyle.training.train import train

    if args.resume:
        if not args.run_dir and not args.name:
            raise FaststyleError("--resume needs the run: pass --run-dir (or --name for runs/NAME)")
        config = _resumed_config(args, load_run_config(args.run_dir or Path("runs") / args.name))
    else:
        if not Path(args.style_image).is_file():
            raise FaststyleError(f"{args.style_image}: style image not found")
        meta = dict(item.split("=", 1) for item in args.meta if "=" in item)
        config = from_args(TrainConfig, args, defaults=SCHEDULES[args.schedule or "quick"],
                           style_image=args.style_image, loss=from_args(LossConfig, args),
                           architecture=_architecture(args), metadata=meta)
        from faststyle.styles import check_style_name, name_from_file

        config.name = config.name or name_from_file(args.style_image)
        if not config.output:  # the name becomes a file in the user style folder, and what -s takes
            check_style_name(config.name)
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
    path = train(config, resume=args.resume)
    print(f"wrote {path}")
    return 0


def _resumed_config(args, config):
    """The run's own settings, updated with what may change today; refuses what may not.

    Each setting says which it is (config.py: FIXED, MAY_CHANGE or IGNORED on resume).
    """
    from faststyle.training.config import FIXED, MAY_CHANGE, LossConfig, TrainConfig, given_options, options

    changed = []
    for cls, target in ((TrainConfig, config), (LossConfig, config.loss)):
        declared = {f.name: f.metadata for f in options(cls)}
        for name, value in given_options(cls, args).items():
            resume, flag = declared[name]["resume"], declared[name]["flags"][0]
            if resume == MAY_CHANGE:
                setattr(target, name, value)
            elif resume == FIXED and value != getattr(target, name):
                changed.append(f"{flag} (run: {getattr(target, name)}, now: {value})")
    if any(getattr(args, k) is not None for k in ("arch", "width", "norm")) \
            and _architecture(args) != config.architecture:
        changed.append(f"the architecture (run: {config.architecture}, now: {_architecture(args)})")
    old, new = Path(config.style_image), Path(args.style_image)
    if old.is_file() and new.is_file() and old.read_bytes() != new.read_bytes():
        changed.append(f"the painting (run: {old}, now: {new})")
    elif not old.is_file():
        if not new.is_file():
            raise FaststyleError(f"{new}: style image not found (the run's own, {old}, is gone too)")
        config.style_image = str(new)  # the run moved to another machine: take the painting given today
    if changed:
        raise FaststyleError("a resumed run keeps what its checkpoints were trained with; cannot change "
                             + "; ".join(changed) + ". Start a new run with another --run-dir instead")
    return config


def _add_stylize(sub) -> None:
    p = sub.add_parser("stylize", help="paint photos in a style (files, folders, globs)")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, folders (recursive) or globs; '-' reads one image from stdin")
    _add_style_options(p)
    p.add_argument("-o", "--output", help="output file (one input) or folder; '-' for stdout; "
                                          "default: beside each input (stdout for stdin)")
    p.add_argument("--format", help="image format for stdout (png, jpg, webp; default png)")
    p.add_argument("--json", action="store_true", help="one JSON object per image on stdout, for scripts")
    p.add_argument("--quality", type=int_between(1, 100), default=92, help="JPEG/WebP quality")
    p.add_argument("--overwrite", action="store_true",
                   help="redo outputs that already exist (default: skip them, so a re-run finishes the rest)")


def _add_style_options(p) -> None:
    p.add_argument("-s", "--style", action="append", required=True,
                   help="style name or .onnx path; repeat or comma-separate for several; "
                        "'all' for every bundled and user style (see 'faststyle styles'); "
                        "weights make one blend: wave:0.6,the_scream:0.4")
    _add_finish_options(p)


def _add_fast_option(p) -> None:
    p.add_argument("--fast", action="store_true",
                   help="use each style's lite network: 6-7x faster, a little less detailed "
                        "(styles without one use their full network)")


def _add_finish_options(p) -> None:
    """How a picture is painted: size, strength, colours, threads (stylize and demo)."""
    p.add_argument("--max-size", type=pixels(), help="downscale the long side to this many pixels first")
    p.add_argument("--strength", type=fraction, default=1.0, help="0 keeps the photo, 1 full style")
    p.add_argument("--preserve-colors", action="store_true", help="keep the photo's colours")
    p.add_argument("--stroke-scale", type=float_where(lambda v: 1 <= v <= 16, "between 1 and 16"), default=1.0,
                   help="paint with strokes this many times larger, keeping the photo's size and sharp edges "
                        "(try 2-3 for big photos)")
    _add_fast_option(p)
    _add_device_options(p)


DEVICE_CHOICES = ["auto", "cpu", "cuda", "directml", "coreml", "openvino"]


def _add_device_options(p) -> None:
    """Where and on how many threads a style runs: every command that paints takes them."""
    # runtime.DEVICES and DEFAULT_DEVICE, written out: the parser must not load ONNX Runtime (tab
    # completion runs it on every key); tests/test_api.py checks that the two agree.
    p.add_argument("--threads", type=threads, help="CPU threads, at most this machine's cores (default: all cores)")
    p.add_argument("--device", default=DEVICE_CHOICES[0], choices=DEVICE_CHOICES,
                   help="where the network runs: auto picks a GPU or other accelerator if the installed "
                        "ONNX Runtime has one")


def run_stylize(args) -> int:
    from faststyle.batch import find_inputs, is_output_of
    from faststyle.styles import available_styles

    styles = _load_styles(args)
    if "-" in args.inputs or args.output == "-":
        return _run_pipe(args, styles)
    names = {s.name for s in available_styles()} | {s.name for s in styles}
    names |= {f"{n}-lite" for n in names}
    inputs, own = find_inputs(args.inputs, skip=lambda path: is_output_of(path, names))
    if own:
        print(f"skipped {own} earlier faststyle output(s) found among the inputs (NAME.STYLE.EXT)", file=sys.stderr)
    if not inputs:
        raise FaststyleError("nothing to stylize: every image found is an earlier faststyle output")
    return _run_batch(args, inputs, styles, overwrite=args.overwrite)


def _run_pipe(args, styles: list) -> int:
    """`-` as input reads the image from stdin; `-o -` (the default then) writes it to stdout."""
    from faststyle.image_io import refuse_overwriting_inputs
    import io

    from PIL import Image

    from faststyle.api import stylize
    from faststyle.image_io import encode_image, load_image, save_image

    if len(args.inputs) != 1 or len(styles) != 1:
        raise FaststyleError("a pipe carries one image: give one input and one style with '-'")
    fmt = (args.format or "png").upper().replace("JPG", "JPEG")
    source = args.inputs[0]
    if source == "-":
        if sys.stdin is None:
            raise FaststyleError("stdin is closed: pipe an image in, e.g. 'cat photo.jpg | faststyle ...'")
        data = sys.stdin.buffer.read()
        if not data:
            raise FaststyleError("stdin: no image data (pipe an image in, e.g. 'cat photo.jpg | faststyle ...')")
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                source = load_image(im)
        except Exception as exc:  # any undecodable input: one line, as for files
            raise FaststyleError(f"stdin: not an image Pillow can read ({type(exc).__name__})") from None
    image = stylize(source, styles[0], strength=args.strength, preserve_colors=args.preserve_colors,
                    max_size=args.max_size, stroke_scale=args.stroke_scale)
    if args.output not in (None, "-"):  # stdin in, a file out: the file's extension says the format
        refuse_overwriting_inputs(args.output, None if args.inputs[0] == "-" else args.inputs[0])
        save_image(image, args.output, args.quality)
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    out = io.BytesIO()
    try:
        encode_image(image, out, fmt, args.quality)
    except (KeyError, ValueError, OSError):
        raise FaststyleError(f"--format {args.format}: not a format Pillow can write; try png, jpg or webp") from None
    if sys.stdout is None:
        raise FaststyleError("stdout is closed: write to a file with -o FILE")
    sys.stdout.buffer.write(out.getvalue())
    sys.stdout.buffer.flush()
    return 0


def _run_batch(args, inputs: list, styles: list, overwrite: bool) -> int:
    from faststyle.batch import plan_outputs, run_jobs, skip_existing

    fast = getattr(args, "fast", False)
    labelled = {output_label(s, fast): s for s in styles}
    jobs = plan_outputs(inputs, list(labelled), args.output)
    if not overwrite:
        jobs, existing = skip_existing(jobs)
        if existing:
            print(f"skipped {existing} image(s) whose output already exists (--overwrite redoes them)",
                  file=sys.stderr)
        if not jobs:
            print("0 done, 0 failed; every output already exists")
            return 0
    return run_jobs(jobs, labelled, quality=args.quality, strength=args.strength,
                    preserve_colors=args.preserve_colors, max_size=args.max_size,
                    stroke_scale=args.stroke_scale, as_json=getattr(args, "json", False))


def _load_styles(args) -> list:
    """The styles named by -s (repeated or comma-separated; 'all' is every working style), loaded once each."""
    from faststyle.api import blend, load_style
    from faststyle.styles import available_styles

    # An -s value with weights (wave:0.6,the_scream:0.4) is one blend; otherwise commas list styles.
    options = {"fast": args.fast, "device": args.device, "threads": args.threads}
    blends = [blend(item, **options) for item in args.style if ":" in item]
    names = [n.strip() for item in args.style if ":" not in item for n in item.split(",") if n.strip()]
    styles = list(blends)
    if "all" in names:
        names.remove("all")
        for info in available_styles():
            try:
                styles.append(load_style(info.model_path(args.fast), device=args.device, threads=args.threads))
            except FaststyleError as exc:  # 'all' means every style that works
                print(f"faststyle: warning: skipping style {info.name}: {exc}", file=sys.stderr)
        if not styles:
            raise FaststyleError("no styles installed; pass a path to an .onnx model with --style")
    styles += [load_style(n, **options) for n in dict.fromkeys(names)]
    unique: dict[str, object] = {}
    for style in styles:
        same = unique.setdefault(style.name, style)
        if same is not style and not _same_model(same, style):
            raise FaststyleError(f"two styles are named {style.name} ({same.path} and {style.path}), so their "
                                 "outputs would have one name; pass one of them, or rename one with 'faststyle styles rename'")
    return list(unique.values())


def _same_model(a, b) -> bool:
    """Two loaded styles from one file, or from files with the same bytes (a copy is the same style)."""
    pa, pb = getattr(a, "path", None), getattr(b, "path", None)
    if pa is None or pb is None:
        return pa == pb and a.name == b.name
    return pa == pb or (pa.stat().st_size == pb.stat().st_size and pa.read_bytes() == pb.read_bytes())


def output_label(style, fast: bool) -> str:
    """The style's part of an output's name: NAME, or NAME-lite for its lite network, so a later
    full run does not take a lite picture for its own."""
    return f"{style.name}-lite" if fast and getattr(style, "is_lite", True) else style.name


def run_demo(args) -> int:
    from faststyle.styles import bundled_style_names, sample_image_path

    from faststyle.image_io import save_image
    from faststyle.sheet import style_sheet

    args.style = bundled_style_names()  # the demo shows what ships, not the user's own experiments
    styles = _load_styles(args)
    status = _run_batch(args, [sample_image_path()], styles, overwrite=True)
    if status == 0:  # and all of them on one labelled page, to compare at a glance
        sheet = Path(args.output) / "sheet.png"
        save_image(style_sheet(sample_image_path(), styles), sheet)
        print(f"wrote {sheet}")
    return status


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="stylize the bundled sample photo with every bundled style, plus a sheet of all")
    p.add_argument("-o", "--output", default="faststyle-demo", help="output folder")
    _add_finish_options(p)
    p.set_defaults(quality=92)


def run_styles(args) -> int:
    from faststyle.styles import available_styles, read_metadata, user_style_dir

    from faststyle.styles import StyleInfo, resolve_style

    styles = available_styles() + [StyleInfo(Path(p).stem, resolve_style(p), "file") for p in args.paths]
    broken = 0
    for style in styles:
        try:
            meta = read_metadata(style.path)
        except FaststyleError as exc:  # one bad file in the folder must not hide the others
            broken += 1
            if args.json:
                print(json.dumps({"name": style.name, "source": style.source, "path": str(style.path),
                                  "ok": False, "error": str(exc)}))
            else:
                print(f"{style.name:<18} {style.source:<8} BROKEN: {exc}")
            continue
        if args.json:
            print(json.dumps({"name": style.name, "source": style.source, "path": str(style.path), "ok": True,
                              "lite_path": str(style.lite) if style.lite else None, "metadata": meta}))
            continue
        painting = ", ".join(str(meta[k]) for k in ("title", "artist", "year") if meta.get(k))
        networks = "full+lite" if style.lite else "full"
        print(f"{style.name:<18} {style.source:<8} {networks:<9} {painting or '-'}")
        if args.verbose:
            print(f"    path: {style.path}")
            if style.lite:
                print(f"    lite: {style.lite}")
            for key in sorted(meta):
                value = meta[key]
                if key == "int8":  # thousands of numbers: say what they are instead
                    value = f"{', '.join(value)} run in int8 (per-channel activation ranges stored)"
                print(f"    {key}: {value}")
    if not args.json:
        if not styles:
            print("no styles found")
        print(f"(user styles folder: {user_style_dir()})")
    return 1 if broken else 0


STYLE_ACTIONS = ("add", "remove", "rename")


def _add_styles(sub) -> None:
    p = sub.add_parser("styles", help="list bundled and user styles; add, remove or rename your own",
                       formatter_class=_RawEpilogFormatter,
                       epilog="manage your own styles (in the user style folder):\n"
                              "  faststyle styles add MODEL.onnx [--name NAME] [--lite]\n"
                              "  faststyle styles remove NAME\n"
                              "  faststyle styles rename OLD NEW")
    p.add_argument("paths", nargs="*", metavar="MODEL.onnx", help="also show these model files")
    p.add_argument("-v", "--verbose", action="store_true", help="show every metadata field")
    p.add_argument("--json", action="store_true", help="one JSON object per style, every metadata field")


def _add_style_actions(sub) -> None:
    """`faststyle styles add|remove|rename`: parsed as hidden commands (main() rewrites the words)."""
    a = sub.add_parser("styles-add", prog="faststyle styles add",
                       description="copy a model into your style folder, checked first")
    a.add_argument("model", help="an .onnx style model (e.g. from faststyle train -o)")
    a.add_argument("--name", help="the style's name (default: the file's name)")
    a.add_argument("--lite", action="store_true", help="add it as the lite network of your style NAME (--fast)")
    r = sub.add_parser("styles-remove", prog="faststyle styles remove", description="delete one of your styles")
    r.add_argument("name", help="the style to delete (and its lite network)")
    n = sub.add_parser("styles-rename", prog="faststyle styles rename", description="rename one of your styles")
    n.add_argument("old", help="its name now")
    n.add_argument("new", help="the new name")


def run_style_action(args) -> int:
    from faststyle.styles import add_user_style, remove_user_style, rename_user_style

    if args.command == "styles-add":
        from faststyle.runtime import StyleModel

        StyleModel.load(args.model)  # refuses files that are not working style models, in one line
        print(f"added {add_user_style(args.model, args.name, args.lite)}")
    elif args.command == "styles-remove":
        print("removed " + ", ".join(str(p) for p in remove_user_style(args.name)))
    else:
        print(f"renamed to {rename_user_style(args.old, args.new)}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a training checkpoint to ONNX, or rebuild an older .onnx model")
    p.add_argument("checkpoint", help="a run folder (uses its latest checkpoint), a ckpt-*.npz file, or a "
                   "faststyle .onnx model to rebuild with this version's faster graph (same weights and card)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--float32", action="store_true", help="store weights as float32 instead of float16")
    int8 = p.add_mutually_exclusive_group()
    int8.add_argument("--int8", metavar="PHOTOS", help="run the residual blocks and upsampling convs in int8 "
                      "(about 1.35x faster on a CPU), "
                      "quantised with activation ranges measured on 16 photos from this folder")
    int8.add_argument("--no-int8", action="store_true", help="rebuild an int8 model in float")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="with --int8: leave out photos matching this pattern (relative to PHOTOS)")


def run_export(args) -> int:
    from faststyle.image_io import refuse_overwriting_inputs
    from faststyle.training.data import find_images
    from faststyle.training.export import reexport_onnx
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
    from faststyle.image_io import refuse_overwriting_inputs
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


def _add_video(sub) -> None:
    p = sub.add_parser("video", help="paint a video frame by frame (needs the [video] extra)")
    p.add_argument("input", help="video file")
    p.add_argument("-o", "--output", required=True,
                   help="video file to write (.mp4, .mov, .mkv); a folder for several styles")
    p.add_argument("-s", "--style", required=True, help="style name or .onnx path; comma-separate for several")
    p.add_argument("--max-size", type=pixels(), help="downscale the long side to this many pixels first")
    p.add_argument("--strength", type=fraction, default=1.0, help="0 keeps the frame, 1 full style")
    p.add_argument("--preserve-colors", action="store_true", help="keep the video's colours")
    p.add_argument("--smoothing", type=fraction, default=0.9,
                   help="0..1, steadies the tone between frames")
    p.add_argument("--crf", type=int_between(0, 51), default=23,
                   help="H.264 quality: lower is better and bigger, 18 looks lossless")
    _add_fast_option(p)
    _add_device_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per written video on stdout, for scripts")


def run_video(args) -> int:
    from tqdm import tqdm

    from faststyle.api import load_style
    from faststyle.video import stylize_video

    if ":" in args.style:
        raise FaststyleError("blends are for pictures; paint the video in one style at a time")
    styles = [load_style(n.strip(), fast=args.fast, device=args.device, threads=args.threads)
              for n in args.style.split(",") if n.strip()]
    styles = list({style.name: style for style in styles}.values())  # outputs are named by style
    out = Path(args.output)
    if len(styles) == 1 and out.suffix and not args.output.endswith(("/", os.sep)):
        targets = [(styles[0], out)]
    elif out.suffix and not out.is_dir() and not args.output.endswith(("/", os.sep)):
        raise FaststyleError(f"{out}: {len(styles)} videos to write, so -o must be a folder")
    else:  # a folder: one NAME.STYLE.mp4 per style
        targets = [(style, out / f"{Path(args.input).stem}.{style.name}.mp4") for style in styles]
    for style, target in targets:
        started, frames = time.perf_counter(), [0]
        with tqdm(desc=f"video {style.name}", unit="frame", disable=None) as bar:
            def progress(done: int, total: int) -> None:
                frames[0] = done
                bar.total = total
                bar.update(done - bar.n)

            written = stylize_video(args.input, target, style, args.strength, args.preserve_colors,
                                    args.max_size, args.smoothing, progress, crf=args.crf)
        if args.json:
            print(json.dumps({"input": args.input, "output": str(written), "style": style.name, "ok": True,
                              "frames": frames[0], "seconds": round(time.perf_counter() - started, 3)}))
        else:
            print(f"wrote {written}")
    return 0


def _add_sheet(sub) -> None:
    p = sub.add_parser("sheet", help="one photo in every style on one labelled image, to choose from")
    p.add_argument("photo", help="the photo")
    p.add_argument("-o", "--output", required=True, help="image file to write (.png, .jpg, ...)")
    p.add_argument("-s", "--style", action="append", default=None,
                   help="styles to show, comma-separated (default: every bundled and user style)")
    p.add_argument("--cell", type=int_between(64, 2048), default=320, help="long side of each picture, pixels")
    p.add_argument("--columns", type=int_between(1, 64), help="pictures per row (default: about square)")
    _add_fast_option(p)
    p.set_defaults(threads=None, device="auto")


def run_sheet(args) -> int:
    from faststyle.image_io import refuse_overwriting_inputs
    from faststyle.image_io import output_format, save_image
    from faststyle.sheet import style_sheet

    output_format(args.output)  # a bad extension fails before the slow part
    refuse_overwriting_inputs(args.output, args.photo)
    args.style = args.style or ["all"]
    styles = _load_styles(args)
    save_image(style_sheet(args.photo, styles, args.cell, args.columns), args.output)
    print(f"wrote {args.output} ({len(styles)} styles)")
    return 0


def _add_completion(sub) -> None:
    p = sub.add_parser("completion", help="print the tab-completion script for your shell",
                       formatter_class=_RawEpilogFormatter,
                       epilog="bash: add to ~/.bashrc       eval \"$(faststyle completion bash)\"\n"
                              "zsh:  add to ~/.zshrc        eval \"$(faststyle completion zsh)\"\n"
                              "fish: add to config.fish     faststyle completion fish | source")
    p.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")


def run_completion(args) -> int:
    import argcomplete

    print(argcomplete.shellcode(["faststyle"], shell=args.shell))
    return 0


def _style_names(**_) -> list[str]:
    """Completions for -s: every installed style."""
    from faststyle.styles import available_styles

    return ["all"] + [s.name for s in available_styles()]


def _add_gui(sub) -> None:
    p = sub.add_parser("gui", help="open the desktop app (needs the [gui] extra)")
    p.add_argument("image", nargs="?", help="a photo to open")


def run_gui(args) -> int:
    try:
        from faststyle.gui.app import main as gui_main
    except ImportError:
        raise FaststyleError('the desktop app needs PySide6: pip install "faststyle[gui]"') from None
    return gui_main(["faststyle"] + ([args.image] if args.image else []))


class _HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, where it has a meaningful one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (not action.option_strings or "%(default)" in text or "default" in text
                or action.default is None or action.default is False or action.default == []
                or action.default == argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class _RawEpilogFormatter(_HelpFormatter):
    """Keeps the epilog's own line breaks (command examples)."""

    def _fill_text(self, text, width, indent):
        return "".join(indent + line for line in text.splitlines(keepends=True))


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line and a pointer to --help, not the whole usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="faststyle", description="Fast neural style transfer.")
    parser.add_argument("--version", action="version", version=f"faststyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_stylize(sub)
    _add_demo(sub)
    _add_styles(sub)
    _add_style_actions(sub)
    _add_train(sub)
    _add_export(sub)
    _add_optimize(sub)
    _add_evaluate(sub)
    _add_video(sub)
    _add_sheet(sub)
    _add_gui(sub)
    _add_completion(sub)
    for command in sub.choices.values():  # -s completes to the installed styles
        for action in command._actions:
            if action.dest == "style":
                action.completer = _style_names
    return parser


COMMANDS = {"stylize": run_stylize, "demo": run_demo, "styles": run_styles, "train": run_train,
            "export": run_export, "optimize": run_optimize, "evaluate": run_evaluate, "gui": run_gui,
            "video": run_video, "sheet": run_sheet, "styles-add": run_style_action,
            "styles-remove": run_style_action, "styles-rename": run_style_action, "completion": run_completion}


# Packages of the optional extras -> the extra that installs them.
TRAINING_MODULES = {"tensorflow": "train", "keras": "train", "onnx": "train", "scipy": "train",
                    "PySide6": "gui", "imageio_ffmpeg": "video"}


# Commands that run Keras (and TensorFlow behind it by default).
KERAS_COMMANDS = ("train", "export", "optimize", "evaluate")
# What TensorFlow's C++ libraries print while they load: since TensorFlow 2.19 they log before their
# logging is set up, which TF_CPP_MIN_LOG_LEVEL cannot stop (on CPUs with AVX-512: "oneDNN custom
# operations are on", twice, each after absl's warning). INFO and WARNING lines only.
_LOAD_CHATTER = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] ")


def import_quietly(module: str) -> None:
    """Imports `module` with what its native libraries print to stderr while loading filtered through
    _LOAD_CHATTER: other lines (errors) are passed on, and an import error is raised as usual."""
    if module in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines()
                    if not _LOAD_CHATTER.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that temporary files are cleaned up as on Ctrl-C."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answer and exit
        import argcomplete

        argcomplete.autocomplete(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "styles" and argv[1] in STYLE_ACTIONS:
        argv[:2] = [f"styles-{argv[1]}"]
    args = parser.parse_args(argv)
    if args.command is None:  # plain `faststyle`: show what it can do
        parser.print_help(sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the way
    try:
        if args.command in KERAS_COMMANDS:
            import_quietly("keras")
        return COMMANDS[args.command](args)
    except ModuleNotFoundError as exc:
        extra = TRAINING_MODULES.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        jax = " (or, with JAX installed, set KERAS_BACKEND=jax)" if (
            args.command == "train" and exc.name == "tensorflow") else ""
        print(f"faststyle: error: '{args.command}' needs {exc.name}, which is not installed: "
              f'pip install "faststyle[{extra}]"{jax}', file=sys.stderr)
        return 2
    except FaststyleError as exc:
        print(f"faststyle: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("faststyle: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("faststyle: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader went away (`faststyle styles --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a full disk, a read-only folder, a closed stream: what and where, one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"faststyle: error: {where}{exc.strerror or exc}; nothing was left half-written", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

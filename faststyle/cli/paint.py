"""`faststyle stylize`, `demo`, `video` and `sheet`: the commands that paint, and their shared options."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from faststyle.argtypes import float_where, fraction, int_between, pixels, threads
from faststyle.errors import FaststyleError


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
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="paint on Ray workers: a Ray on this machine, or the cluster at ADDRESS (e.g. "
                        "ray://head:10001); needs the [cluster] extra (docs/cluster.md)")
    p.add_argument("--workers", type=int_between(1, 100_000),
                   help="with --ray: painters at once (default: the cluster's CPU count)")


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
    _add_stroke_option(p)
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
        if args.ray:
            raise FaststyleError("--ray paints files: give files, folders or globs, not '-'")
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
    import io

    from faststyle.api import stylize
    from faststyle.files import refuse_overwriting_inputs
    from faststyle.image_io import encode_image, read_stdin_image, save_image

    if len(args.inputs) != 1 or len(styles) != 1:
        raise FaststyleError("a pipe carries one image: give one input and one style with '-'")
    fmt = (args.format or "png").upper().replace("JPG", "JPEG")
    source = read_stdin_image() if args.inputs[0] == "-" else args.inputs[0]
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
    options = dict(quality=args.quality, strength=args.strength, preserve_colors=args.preserve_colors,
                   max_size=args.max_size, stroke_scale=args.stroke_scale, as_json=getattr(args, "json", False))
    if getattr(args, "ray", None):
        from faststyle.cluster import run_jobs_on_ray

        return run_jobs_on_ray(jobs, labelled, args.ray, args.workers, **options)
    return run_jobs(jobs, labelled, **options)


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


def _add_stroke_option(p) -> None:
    p.add_argument("--stroke-scale", type=float_where(lambda v: 1 <= v <= 16, "between 1 and 16"), default=1.0,
                   help="paint with strokes this many times larger, keeping the picture's size and sharp edges "
                        "(try 2-3 for big photos)")


def _add_video(sub) -> None:
    p = sub.add_parser("video", help="paint a video frame by frame (needs the [video] extra)")
    p.add_argument("input", help="video file")
    p.add_argument("-o", "--output", required=True,
                   help="video file to write (.mp4, .mov, .mkv); a folder for several styles")
    p.add_argument("-s", "--style", required=True, help="style name or .onnx path; comma-separate for several")
    p.add_argument("--max-size", type=pixels(), help="downscale the long side to this many pixels first")
    p.add_argument("--strength", type=fraction, default=1.0, help="0 keeps the frame, 1 full style")
    p.add_argument("--preserve-colors", action="store_true", help="keep the video's colours")
    _add_stroke_option(p)
    p.add_argument("--smoothing", type=fraction,
                   help="0..1: how much of the tone carries over from frame to frame (default: with --stable, "
                        "as much as the frame before showed of the picture, so a pan keeps its tone and a "
                        "cut resets it; without, 0.9)")
    p.add_argument("--stable", action=argparse.BooleanOptionalAction, default=True,
                   help="carry the painting along the camera's motion, so strokes do not shimmer, and paint "
                        "each frame with the scene around it from the frames before and after (default: on; "
                        "docs/video.md)")
    p.add_argument("--crf", type=int_between(0, 51), default=23,
                   help="H.264 quality: lower is better and bigger, 18 looks lossless")
    _add_fast_option(p)
    _add_device_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per written video on stdout, for scripts")


def run_video(args) -> int:
    from tqdm import tqdm

    from faststyle.api import load_style
    from faststyle.batch import video_targets
    from faststyle.video import stylize_video

    if ":" in args.style:
        raise FaststyleError("blends are for pictures; paint the video in one style at a time")
    styles = [load_style(n.strip(), fast=args.fast, device=args.device, threads=args.threads)
              for n in args.style.split(",") if n.strip()]
    styles = list({style.name: style for style in styles}.values())  # outputs are named by style
    for style, target in zip(styles, video_targets(args.input, [s.name for s in styles], args.output)):
        started, frames = time.perf_counter(), [0]
        with tqdm(desc=f"video {style.name}", unit="frame", disable=None) as bar:
            def progress(done: int, total: int) -> None:
                frames[0] = done
                bar.total = total
                bar.update(done - bar.n)

            written = stylize_video(args.input, target, style, args.strength, args.preserve_colors,
                                    args.max_size, args.smoothing, progress, crf=args.crf,
                                    stable=args.stable, stroke_scale=args.stroke_scale)
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
    from faststyle.files import refuse_overwriting_inputs
    from faststyle.image_io import output_format, save_image
    from faststyle.sheet import style_sheet

    output_format(args.output)  # a bad extension fails before the slow part
    refuse_overwriting_inputs(args.output, args.photo)
    args.style = args.style or ["all"]
    styles = _load_styles(args)
    save_image(style_sheet(args.photo, styles, args.cell, args.columns), args.output)
    print(f"wrote {args.output} ({len(styles)} styles)")
    return 0

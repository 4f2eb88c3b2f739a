"""Re-trains the bundled styles from their recipes (recipes/*.toml), in order, resuming where a run stopped.

    python scripts/train_styles.py --styles-dir PAINTINGS --content-dir PHOTOS --vgg-weights VGG16.h5
        [--runs-dir runs] [--only wave,starry_night] [--output-dir faststyle/models]

Each style runs `faststyle train` with its recipe; a run folder that already exists
is resumed (`--resume`), so the command can be stopped and started again at will.
Styles whose recipe has `init_from` wait for that model to exist.
`--lite` trains the lite networks instead, from each recipe's [lite] table, into models/lite/;
each learns from the full network in --output-dir (else the installed style of that name).
`--gpu` runs each recipe's [gpu] table: a further stage that continues the bundled full model
with what a GPU affords (see the table's comment); `--stage TABLE` runs another such table (the
quick-path styles' [cpu] stage, and with `--lite` its [cpu_lite] table; [cpu2], a second fall after
[cpu]; [cpu256], a last fall on 256 px crops; [shift], the shift stage, docs/video.md); with
`--lite`, the [gpu_lite] (or [TABLE_lite]) table continues the bundled lite network the same way.
On a machine with JAX but no TensorFlow, set KERAS_BACKEND=jax.
Each network is then re-exported in int8 (`faststyle export --int8`, calibrated on the training
photos; the residual blocks, the upsampling convs staying float), which replaces the float file:
the bundled networks are int8.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "faststyle" / "models"
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from faststyle.model_file import rewrite_card  # noqa: E402
from faststyle.training.config import LossConfig, TrainConfig, options  # noqa: E402
ORDER = ["wave", "starry_night", "the_scream", "composition_vii", "udnie", "shipwreck", "woman_with_hat", "water_lilies"]


def command_for(name: str, recipe: dict, args) -> list[str]:
    train, painting = dict(recipe["train"]), recipe.get("painting", {})
    stage = stage_of(args)  # a further stage (--stage TABLE, --gpu) continues the bundled networks
    run_dir, output = Path(args.runs_dir) / name, Path(args.output_dir) / f"{name}.onnx"
    if args.lite:  # the [lite] table changes the [train] one; its init_from is its own (another shape)
        train.pop("init_from", None)
        train.update(recipe.get("lite", {}))  # a quick-path recipe has none: its lite network came with the full one
        run_dir, output = Path(args.runs_dir) / f"{name}-lite", Path(args.output_dir) / "lite" / f"{name}.onnx"
        if "init_from" in train:  # a style name: that style's lite network, trained earlier in the order
            train["init_from"] = str(Path(args.output_dir) / "lite" / f"{train['init_from']}.onnx")
        if stage:  # continues the bundled lite network
            train.update(recipe[f"{stage}_lite"])
            train["init_from"] = str(BUNDLED / "lite" / f"{name}.onnx")
            run_dir = Path(args.runs_dir) / f"{name}-{stage}-lite"
        teacher = Path(args.output_dir) / f"{train['teacher']}.onnx"
        if teacher.is_file():
            train["teacher"] = str(teacher)
    elif stage:  # continues the model of the stages before, which ships in the package
        train.update(recipe[stage])
        train["init_from"] = str(BUNDLED / f"{name}.onnx")
        run_dir = Path(args.runs_dir) / f"{name}-{stage}"
    # A recipe says every setting it needs; without `schedule` it is a long run (the recipes before the quick
    # path was the default), not the quick path's loss terms and lite stage.
    train.setdefault("schedule", "long")
    cmd = [sys.executable, "-m", "faststyle", "train", str(Path(args.styles_dir) / train["style_image"]),
           "--run-dir", str(run_dir)] + (["--steps", str(train["steps"])] if "steps" in train else [])
    if args.max_minutes:
        cmd += ["--max-minutes", str(args.max_minutes)]
    if (run_dir / "config.json").exists():
        return cmd + ["--resume"]
    every = str(args.checkpoint_every)
    cmd += ["--content-dir", args.content_dir, "--name", name, "-o", str(output),
            "--checkpoint-every", every, "--preview-every", every]
    if args.vgg_weights:
        cmd += ["--vgg-weights", args.vgg_weights]
    # Recipe keys are the settings' own names (training/config.py); each has its option there.
    flags = {f.name: f.metadata["flags"][-1] for cls in (TrainConfig, LossConfig) for f in options(cls)}
    flags.update(arch="--arch", norm="--norm")  # the network's shape (Architecture)
    for key, value in train.items():
        if key not in ("style_image", "steps", "exclude"):
            cmd += [flags[key], str(value)]
    for pattern in train.get("exclude", []):
        cmd += ["--exclude", pattern]
    for key, value in painting.items():
        cmd += ["--meta", f"{key}={value}"]
    return cmd


def stage_of(args) -> str | None:
    """The recipe table of a further stage: --stage TABLE, or [gpu] for --gpu."""
    return "gpu" if args.gpu else args.stage


def int8_command(trained: Path, int8: Path, args) -> list[str]:
    """Re-exports a trained network in int8 (the validation photos left out)."""
    return [sys.executable, "-m", "faststyle", "export", str(trained), "-o", str(int8),
            "--int8", args.content_dir, "--exclude", "bsds500/val_*"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles-dir", required=True, help="folder with the paintings")
    parser.add_argument("--content-dir", required=True, help="folder of training photos")
    parser.add_argument("--vgg-weights", help="local VGG16 weights (default: Keras' download)")
    parser.add_argument("--runs-dir", default="runs", help="checkpoint folders (default runs/)")
    parser.add_argument("--output-dir", default=str(BUNDLED))
    parser.add_argument("--only", help="comma-separated style names")
    parser.add_argument("--lite", action="store_true",
                        help="train the lite networks (each recipe's [lite] table), distilled from the full ones")
    parser.add_argument("--gpu", action="store_true",
                        help="run each recipe's [gpu] stage, from the bundled full model "
                             "(with --lite: its [gpu_lite] stage, from the bundled lite network)")
    parser.add_argument("--stage", metavar="TABLE",
                        help="run each recipe's [TABLE] stage from the bundled full model, as --gpu does with "
                             "[gpu]; e.g. --stage cpu: the quick-path styles' second stage on a CPU")
    parser.add_argument("--max-minutes", type=float, help="stop each run after this many minutes (it exports)")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints (default 50)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args()

    recipes = {p.stem: tomllib.loads(p.read_text()) for p in sorted((ROOT / "recipes").glob("*.toml"))}
    names = [n for n in ORDER if n in recipes] + sorted(set(recipes) - set(ORDER))
    stage = stage_of(args)
    tables = [f"{stage}_lite" if args.lite else stage] if stage else (["lite"] if args.lite else [])
    names = [n for n in names if all(table in recipes[n] for table in tables)]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    for name in names:
        trained = Path(args.output_dir) / ("lite" if args.lite else "") / f"{name}.onnx"
        # A quick-schedule recipe distils its lite network in the same run: lite/NAME.onnx beside it.
        quick = not args.lite and not stage and recipes[name]["train"].get("schedule") == "quick"
        networks = [trained] + ([trained.parent / "lite" / trained.name] if quick else [])
        steps = [command_for(name, recipes[name], args)]
        steps += [int8_command(n, n.with_suffix(".int8.onnx"), args) for n in networks]
        for cmd in steps:
            print("$ " + " ".join(cmd), flush=True)
            if not args.dry_run and subprocess.run(cmd).returncode != 0:
                print(f"{cmd[3]} of {name} failed", file=sys.stderr)
                return 1
        if not args.dry_run:
            for network in networks:
                os.replace(network.with_suffix(".int8.onnx"), network)  # the int8 network is the one that ships
                # No copy of the painting in the package: a bundled style's swatch comes from its
                # published painting_url (the recipe's [painting]).
                rewrite_card(network, painting_thumbnail=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training settings, one owner each: every name, default and help text lives here.

`faststyle train` and `faststyle optimize` build their options from these dataclasses
(`add_options`), a run folder stores them (config.json), a model's card records them, and
evaluation rebuilds the loss from that record. Changing a default is a one-line change here.
No TensorFlow: the command line reads this module before deciding to load it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field
from pathlib import Path

from faststyle.architecture import Architecture
from faststyle.argtypes import (MAX_COUNT, SEED_MAX, at_least, count_or_all, floats, int_between, non_negative_float,
                                pixels, positive_float)
from faststyle.errors import FaststyleError
from faststyle.model_file import ModelCard, upgrade

# What --resume does with an option given again: the run keeps what its checkpoints were
# trained with (FIXED, a different value is refused), takes today's value (MAY_CHANGE), or
# ignores it (IGNORED: it only mattered at the start).
FIXED, MAY_CHANGE, IGNORED = "fixed", "may change", "ignored"
COMPILE_MODES = ("auto", "xla", "graph")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
SHIFT_BY = ("any", "stride")  # --shift-by: the shifts of --shift-weight's moved crops (losses.shift_loss)
NEAREST = "nearest"  # --init-from: the bundled style whose pictures are nearest the painting in style
BASE = "base"  # --init-from: the bundled base network, trained across paintings to adapt fast (training/base.py)

# What --schedule sets unless an option says otherwise ("loss": LossConfig's fields). "quick" (the
# default) adapts the bundled base networks, trained across many paintings to adapt fast, in a few
# minutes, the lite one after the full one on the same VGG loss (its near-white term weighed more);
# "long" is the field defaults: from random weights, as the bundled styles were first trained.
# Why (STYLES.md sections):
# - the base, not wave or the style nearest the painting: "A base network for new styles" (and, for
#   a CPU without bfloat16, "The base on an AVX2 CPU");
# - 140 full and 220 lite steps: "An AVX2 host times the schedule"; the full stage on 112 px crops in
#   batches of 3 (the pixels of 4 of 96 px, so the same cost, with more of the photo around each
#   stroke), the lite stage on 4 of 96 px (--lite-batch-size; LITE_DISTILLATION's crops): "Bigger
#   crops, fewer of them";
# - the layout and near-white terms: "A layout term and a lite network taught by VGG";
# - the content weight halved (0.3 since: below) and the stride term: "Nearer the painting, without dashes";
# - three style layers: "Steps without what does not count";
# - the lite stage's VGG loss and no teacher (--distill-weight 0; --distill-weight 30 brings back the
#   full network's pictures as targets): "A lite stage without a teacher";
# - the lite stage's near-white term at 4x the full one's: "A near-white term for the lite stage";
# - the content term at 0.3, first for the lite stage: "Less of the photo for the lite network" and
#   "Less of the photo for the full network".
SCHEDULES = {
    "quick": {"steps": 140, "crop_size": 112, "batch_size": 3, "learning_rate": 1e-3, "learning_rate_end": 1e-4,
              "init_from": BASE, "precision": "auto", "lite_steps": 220, "lite_perceptual_every": 1,
              "distill_weight": 0.0, "preview_every": 15, "checkpoint_every": 40, "time_budget": 3.6,
              "lite_white_weight": 1.2e5, "lite_batch_size": 4,
              "loss": {"content_weight": 0.3, "layout_weight": 7e4, "white_weight": 3e4, "stride_weight": 3e3,
                       "style_depth": 3}},
    "long": {},
}
# Where the CPU does bfloat16 maths (and --precision is auto), a quick step costs far less than an
# AVX2 host's (0.18 s at 96 px against 0.64 s, 2 cores each), so the quick schedule takes
# bigger crops and more steps in fewer minutes: far nearer the painting (measured: STYLES.md, "On a
# CPU with bfloat16"); 170 full and 390 lite steps, the time of 200 and 300: at the steps a slower
# host fits, the full network hardly moved with fewer and the lite one, nearer its line, gained most
# ("More of the time for the lite network"). The time budgets (--time-budget, minutes) keep a slower
# machine of either kind within 2 and 4 minutes by training fewer steps there ("A time budget").
QUICK_ON_BFLOAT16 = {"steps": 170, "crop_size": 128, "batch_size": 4, "lite_steps": 390, "time_budget": 1.85}
# The lite network's run after the full one (--lite-steps). From pictures only
# (--lite-perceptual-every 0) it starts from the lite network trained beside the full one (train._lite_beside), so
# fewer steps do: 100 at 96 px after 120 beside came nearer the painting than 150 from the bundled
# lite network, in the same time. A faster rate painted a 2x2 grid (measured: STYLES.md, "A new
# style in minutes").
LITE_DISTILLATION = {"crop_size": 96, "learning_rate": 1e-3, "learning_rate_end": 1e-4}


def option(flags: str | tuple[str, ...], help: str, resume: str = FIXED, **argparse_kwargs) -> dict:
    """A field's command-line option, kept beside the field it sets (see add_options).

    `flags`: the option's name, or a tuple of names (the first is the main one, others are aliases).
    """
    flags = (flags,) if isinstance(flags, str) else flags
    return {"flags": flags, "help": help, "resume": resume, "argparse": argparse_kwargs}


@dataclass
class LossConfig:
    """The perceptual loss: what training minimises and evaluation measures (docs/loss-weights.md)."""

    content_weight: float = field(default=1.0, metadata=option(
        "--content-weight", "weight of the content loss", type=non_negative_float))
    style_weight: float = field(default=2.0, metadata=option(
        "--style-weight", "weight of the Gram style loss (docs/loss-weights.md)", type=non_negative_float))
    tv_weight: float = field(default=0.2, metadata=option(
        "--tv-weight", "weight of the total-variation loss", type=non_negative_float))
    layout_weight: float = field(default=0.0, metadata=option(
        "--layout-weight", "weight of the tonal layout term: 1 - the correlation of 16 px block luminance, "
        "picture against photo (keeps the photo's light and dark where a painting would repaint them)",
        type=non_negative_float))
    white_weight: float = field(default=0.0, metadata=option(
        "--white-weight", "weight of the near-white term: the squared excess over 245 of each pixel's darkest "
        "channel (keeps pale paintings from blowing areas to flat white)", type=non_negative_float))
    stride_weight: float = field(default=0.0, metadata=option(
        "--stride-weight", "weight of the stride term: the mean square of the luminance pattern repeating every "
        "4 px, the networks' stride (keeps fine dashes out of flat areas)", type=non_negative_float))
    # Per style layer, shallow to deep. None: 1/C^2 for a layer of C channels, which makes each
    # layer's term the mean squared Gram difference of Johnson et al.'s code.
    style_layer_weights: list[float] | None = field(default=None, metadata=option(
        "--style-layer-weights", "comma-separated, one per style layer (default: 1/channels^2)", type=floats))
    # At 1/C^2 the deepest style layer (VGG16's relu4_3) is about 1e-4 of the style term, yet its
    # block is a third of VGG16's work: the quick schedule leaves it out (STYLES.md).
    style_depth: int = field(default=0, metadata=option(
        "--style-depth", "how many style layers the loss computes, shallow first (0: all)", type=at_least(0)))
    # Keeps outputs inside 0..255 (losses.PerceptualLoss.terms): part of the method, not an option.
    range_weight: float = 1000.0
    loss_net: str = field(default="vgg16", metadata=option(
        "--loss-net", "ImageNet loss network", choices=["vgg16", "vgg19"]))
    style_size: int = field(default=512, metadata=option(
        "--style-size", "long side of the painting, pixels", type=pixels()))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_card(cls, card: ModelCard) -> "LossConfig":
        """The loss a model was trained with, from its card."""
        try:
            return cls(**card.loss)
        except TypeError as exc:  # an edited or foreign card
            raise FaststyleError(f"the model's card gives no usable loss ({str(exc)[:80]})") from None


@dataclass
class TrainConfig:
    """One training run: what `faststyle train` does, stored in the run folder's config.json."""

    style_image: str  # the painting (a positional argument on the command line)
    content_dir: str = field(metadata=option(
        "--content-dir", "folder of training photos (searched recursively; default: a public set of 13,000 "
        "photos, downloaded once, 94 MB)"))
    name: str = field(metadata=option(
        "--name", "style name (default: the style image's file name)", resume=IGNORED))
    exclude: list[str] = field(default_factory=list, metadata=option(
        "--exclude", "leave out photos matching this pattern (relative to --content-dir), e.g. 'val/*'",
        action="append", metavar="GLOB"))
    output: str | None = field(default=None, metadata=option(
        ("-o", "--output"), "ONNX file to write (default: the user style folder)", resume=MAY_CHANGE))
    run_dir: str | None = field(default=None, metadata=option(
        ("--run-dir", "--checkpoint-dir"), "run folder for checkpoints, log and preview (default: runs/NAME)",
        resume=IGNORED))
    image_size: int = field(default=256, metadata=option(
        "--image-size", "photos' short side is resized to this", type=pixels()))
    crop_size: int | None = field(default=None, metadata=option(
        "--crop-size", "random training crop size (default: --image-size)", type=pixels()))
    batch_size: int = field(default=4, metadata=option("--batch-size", "photos per step", type=at_least(1)))
    steps: int = field(default=2000, metadata=option(
        "--steps", "total training steps (on --resume: the run's own unless given)", resume=MAY_CHANGE,
        type=int_between(1, MAX_COUNT)))
    learning_rate: float = field(default=1e-3, metadata=option("--lr", "Adam learning rate", type=positive_float))
    learning_rate_end: float | None = field(default=None, metadata=option(
        "--lr-end", "learning rate at the last of --steps, reached by a cosine fall from --lr "
        "(default: --lr throughout)", type=positive_float))
    loss: LossConfig = field(default_factory=LossConfig)
    vgg_weights: str | None = field(default=None, metadata=option(
        "--vgg-weights", "local VGG weights file (or set FASTSTYLE_VGG_WEIGHTS)", resume=MAY_CHANGE))
    architecture: Architecture = field(default_factory=Architecture)  # --arch, --width, --norm (cli/training.py)
    teacher: str | None = field(default=None, metadata=option(
        "--teacher", "distil from this trained style (name or .onnx): its pictures become targets"))
    distill_weight: float = field(default=100.0, metadata=option(
        "--distill-weight", "with --teacher, or --lite-steps (the full network teaches): weight per squared "
        "grey level of difference to the teacher's picture (with --lite-steps, 0: the VGG loss alone)",
        type=non_negative_float))
    shift_weight: float = field(default=0.0, metadata=option(
        "--shift-weight", "weight per squared grey level of the difference between the picture of a crop "
        "moved by a few px (--shift-by) and the picture moved the same way (paints strokes that move with the photo: "
        "video without shimmer; docs/video.md)", type=non_negative_float))
    shift_by: str = field(default="any", metadata=option(
        "--shift-by", "with --shift-weight: 'any' moves the crop by 1-7 px (strokes and statistics); "
        "'stride' by 4 or 8 px only, which leaves the network's grid in place and trains only against the "
        "normalisation statistics a moved crop changes (all that anchored pictures still see)",
        choices=list(SHIFT_BY)))
    perceptual_every: int = field(default=1, metadata=option(
        "--perceptual-every", "with --teacher: the VGG loss on every Nth step only (0: never)", type=at_least(0)))
    max_minutes: float | None = field(default=None, metadata=option(
        "--max-minutes", "stop after this many minutes (checkpoint and export as at the last step); "
        "--resume goes on", resume=MAY_CHANGE, type=positive_float))
    time_budget: float | None = field(default=None, metadata=option(
        "--time-budget", "minutes the whole run may take on this machine, start-up included: it times its "
        "first steps and, where the steps asked for would not fit, trains fewer in both stages (the learning "
        "rate falls over the fewer steps); never more. The quick schedule sets it unless --steps or "
        "--lite-steps is given", resume=MAY_CHANGE, type=positive_float))
    checkpoint_every: int = field(default=100, metadata=option(
        "--checkpoint-every", "steps between checkpoints", resume=MAY_CHANGE, type=at_least(1)))
    preview_image: str | None = field(default=None, metadata=option(
        "--preview-image", "photo for the preview (default: the bundled sample)", resume=MAY_CHANGE))
    preview_every: int = field(default=100, metadata=option(
        "--preview-every", "steps between previews and blob measurements", resume=MAY_CHANGE, type=at_least(1)))
    init_from: str | None = field(default=None, metadata=option(
        "--init-from", "start from a trained style: name, .onnx, checkpoint .npz, 'base' (the bundled network "
        "trained across many paintings to adapt fast) or 'nearest' (the bundled style nearest the painting)",
        resume=IGNORED))
    schedule: str = field(default="quick", metadata=option(
        "--schedule", "quick: adapt bundled networks (full, then lite) to the painting in minutes; "
        "long: from random weights (set --steps)", resume=IGNORED, choices=list(SCHEDULES)))
    devices: int = field(default=1, metadata=option(
        "--devices", "train data-parallel on this many devices of this machine, the batch split between "
        "them (Keras' distribution API; needs KERAS_BACKEND=jax); 'all': every device", resume=MAY_CHANGE,
        type=count_or_all(4096)))
    lite_steps: int = field(default=0, metadata=option(
        "--lite-steps", "after training, distil the style's lite network (--fast) for this many steps "
        "(0: none)", resume=MAY_CHANGE, type=at_least(0)))
    lite_perceptual_every: int = field(default=0, metadata=option(
        "--lite-perceptual-every", "with --lite-steps: the lite network also learns from the VGG loss "
        "on every Nth step (0: from the full network's pictures only)", resume=MAY_CHANGE, type=at_least(0)))
    lite_white_weight: float | None = field(default=None, metadata=option(
        "--lite-white-weight", "with --lite-steps: the near-white term's weight in the lite stage "
        "(default: --white-weight)", type=non_negative_float))
    lite_content_weight: float | None = field(default=None, metadata=option(
        "--lite-content-weight", "with --lite-steps: the content term's weight in the lite stage "
        "(default: --content-weight)", type=non_negative_float))
    lite_batch_size: int | None = field(default=None, metadata=option(
        "--lite-batch-size", "with --lite-steps: photos per step in the lite stage (default: --batch-size)",
        type=at_least(1)))
    seed: int = field(default=0, metadata=option(
        "--seed", "seed of the weights and the photo order", type=int_between(0, SEED_MAX)))
    # Which is faster depends on the CPU: XLA was 1.6x faster than plain graph mode on an AVX2 host,
    # 1.2-1.4x slower on AVX-512 ones. "auto" times both on the run's first steps (step.FastestStep),
    # except with bfloat16 on a CPU, where XLA is known to lose (step.known_slower_xla).
    compile_mode: str = field(default="auto", metadata=option(
        "--compile", "how TensorFlow runs a step: xla, graph (a plain tf.function) or auto (time both on "
        "the first steps, keep the faster and remember it for this CPU; graph with bfloat16 on a CPU)",
        resume=MAY_CHANGE,
        choices=list(COMPILE_MODES)))
    # Weights and optimiser stay float32 either way; see STYLES.md for the A/B of the two.
    precision: str = field(default="float32", metadata=option(
        "--precision", "mixed_bfloat16: Keras' mixed precision, bfloat16 maths on float32 weights, for "
        "CPUs with AVX512-BF16 or AMX (STYLES.md); auto: that where the CPU has it, else float32",
        resume=MAY_CHANGE, choices=list(PRECISIONS)))
    metadata: dict = field(default_factory=dict)  # extra model-card fields (painting, artist, ...): --meta

    @property
    def crop(self) -> int:
        return self.crop_size or self.image_size

    @property
    def folder(self) -> Path:
        return Path(self.run_dir or Path("runs") / self.name)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> "TrainConfig":
        """A stored config, including those of older versions (flat loss fields, checkpoint_dir, width/norm)."""
        fields = dict(fields)
        if "checkpoint_dir" in fields:
            fields["run_dir"] = fields.pop("checkpoint_dir")
        if "jit_compile" in fields:  # XLA was the default, not a choice; False came from --no-jit
            fields["compile_mode"] = "auto" if fields.pop("jit_compile") else "graph"
        loss_names = {f.name for f in dataclasses.fields(LossConfig)}
        loss = {k: fields.pop(k) for k in list(fields) if k in loss_names}
        fields["loss"] = LossConfig(**{**loss, **fields.get("loss", {})})
        fields["architecture"] = Architecture(**upgrade(
            {k: fields.pop(k) for k in ("architecture", "width", "norm") if k in fields})["architecture"])
        return cls(**fields)


# The lite stage's own loss weights: the LossConfig field -> the TrainConfig field (and schedule key) over it.
LITE_LOSS_WEIGHTS = {"white_weight": "lite_white_weight", "content_weight": "lite_content_weight"}


def lite_loss(loss: LossConfig, settings: dict) -> LossConfig:
    """The lite stage's loss: the full stage's, with the lite stage's own weights (--lite-white-weight,
    --lite-content-weight) where `settings` (a TrainConfig's fields, or a schedule) gives them."""
    return dataclasses.replace(loss, **{name: settings[lite] for name, lite in LITE_LOSS_WEIGHTS.items()
                                        if settings.get(lite) is not None})


def options(cls) -> list[dataclasses.Field]:
    """The fields of a settings class that have a command-line option."""
    return [f for f in dataclasses.fields(cls) if "flags" in f.metadata]


def default_of(f: dataclasses.Field):
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def add_options(parser, cls) -> None:
    """Adds one option per field of `cls` that declares one: name, help and default come from the field.

    Parsed values stay None unless given, so a resumed run can tell what was asked for today;
    `given_options` and `from_args` fill in the defaults.
    """
    for f in options(cls):
        meta, default = f.metadata, default_of(f)
        shown = "" if default is None or default is False or default == [] else f" (default: {default})"
        parser.add_argument(*meta["flags"], dest=f.name, default=None, help=meta["help"] + shown,
                            **meta["argparse"])


def given_options(cls, args) -> dict:
    """The options of `cls` given on the command line, by field name."""
    return {f.name: getattr(args, f.name) for f in options(cls) if getattr(args, f.name) is not None}


def from_args(cls, args, defaults: dict | None = None, **extra):
    """An instance of `cls` from parsed arguments: given options, else `defaults`, else the fields' defaults."""
    return cls(**{**{f.name: default_of(f) for f in options(cls)}, **(defaults or {}), **given_options(cls, args),
                  **extra})


def resumed(config: "TrainConfig", args, architecture: Architecture | None = None) -> "TrainConfig":
    """The run's own settings, updated with what may change today; refuses what may not.

    Each setting says which it is (FIXED, MAY_CHANGE or IGNORED on resume). `args`: the
    command line's parsed options; `architecture`: the one asked for, if any.
    """

    changed = []
    for cls, target in ((TrainConfig, config), (LossConfig, config.loss)):
        declared = {f.name: f.metadata for f in options(cls)}
        for name, value in given_options(cls, args).items():
            resume, flag = declared[name]["resume"], declared[name]["flags"][0]
            if resume == MAY_CHANGE:
                setattr(target, name, value)
            elif resume == FIXED and value != getattr(target, name):
                changed.append(f"{flag} (run: {getattr(target, name)}, now: {value})")
    if architecture is not None and architecture != config.architecture:
        changed.append(f"the architecture (run: {config.architecture}, now: {architecture})")
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


def bfloat16_cpu() -> bool:
    """Whether this CPU does bfloat16 maths in hardware (AVX512-BF16 or AMX); Linux's cpuinfo flags."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def schedule_defaults(name: str, precision: str | None = None) -> dict:
    """What --schedule NAME sets on this machine; `precision`: --precision as given (None: not given).
    The loss's settings are under "loss"."""
    defaults = {**SCHEDULES[name], "loss": dict(SCHEDULES[name].get("loss", {}))}
    if name == "quick" and resolved_precision(precision or defaults["precision"]) == "mixed_bfloat16":
        defaults.update(QUICK_ON_BFLOAT16)
    return defaults


def resolved_precision(precision: str) -> str:
    """--precision auto made concrete for this machine (measured: STYLES.md, bfloat16 A/B)."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if bfloat16_cpu() else "float32"

"""The transform network's shape, as plain data: no Keras, no ONNX.

Johnson et al. 2016, with width w (32 in the paper):

    conv1   c9s1-w        instance norm, ReLU     (encoder)
    down1   c3s2-2w       instance norm, ReLU
    down2   c3s2-4w       instance norm, ReLU
    res1..5 residual(4w)  two 3x3 convs each       (body)
    up1     2x, c3s1-2w   ReLU                     (decoder)
    up2     2x, c3s1-w    ReLU
    out     c9s1-3        tanh, scaled to pixels

With `fold`, the network never works at full resolution: the input's 2x2 pixel
blocks are folded into 12 channels (space-to-depth), conv1 runs at half
resolution with 2w channels and replaces down1, and `out` paints 12 channels
that unfold into 2x2 output pixels (depth-to-space, as in ESPCN, Shi et al.
2016), so up2 goes too. On a CPU full-resolution feature maps cost more in
memory traffic than in arithmetic; folded, only the 3-channel picture is full size.

The Keras builder (training/network.py), the ONNX builder (training/export.py)
and the runtime (tiling margin, padding) all read this module, so the three
cannot drift apart. A model file stores its `Architecture` in its metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Iterator

NORMS = ("demod", "instance")
# Two stride-2 convs: input sides must be multiples of 4.
PAD_MULTIPLE = 4
# tanh output -> pixels; 150 lets the output reach 0 and 255 without saturating tanh.
OUTPUT_SCALE = 150.0
OUTPUT_OFFSET = 127.5


@dataclass(frozen=True)
class Conv:
    """One conv of the network, with what follows it."""

    name: str
    filters: int
    kernel: int
    stride: int = 1
    upsample: bool = False   # nearest 2x before the conv
    norm: str | None = None  # "instance" (activations), "demod" (weights) or None
    relu: bool = True


@dataclass(frozen=True)
class Architecture:
    """The numbers that fix the network's shape (and its cost)."""

    width: int = 32           # channels of the first conv; the encoder doubles them twice
    residual_blocks: int = 5
    edge_kernel: int = 9      # kernel of the first and the last conv
    norm: str = "demod"       # after the encoder: "demod" (weights) or "instance" (as in the paper)
    fold: bool = False        # work at half resolution between a space-to-depth and a depth-to-space

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.width < 1 or self.residual_blocks < 0 or self.edge_kernel < 1 or self.edge_kernel % 2 == 0:
            raise ValueError(f"bad architecture {self}")

    def encoder(self) -> list[Conv]:
        # The encoder keeps instance norm: it removes the photo's contrast, and no spike formed there.
        w = self.width
        if self.fold:
            return [Conv("conv1", 2 * w, self.edge_kernel, norm="instance"),
                    Conv("down1", 4 * w, 3, stride=2, norm="instance")]
        return [Conv("conv1", w, self.edge_kernel, norm="instance"),
                Conv("down1", 2 * w, 3, stride=2, norm="instance"),
                Conv("down2", 4 * w, 3, stride=2, norm="instance")]

    def residual_pairs(self) -> Iterator[tuple[Conv, Conv]]:
        """(a, b) per block: x + b(a(x)); b has no ReLU."""
        for i in range(1, self.residual_blocks + 1):
            yield (Conv(f"res{i}_a", 4 * self.width, 3, norm=self.norm),
                   Conv(f"res{i}_b", 4 * self.width, 3, norm=self.norm, relu=False))

    def decoder(self) -> list[Conv]:
        up1 = Conv("up1", 2 * self.width, 3, upsample=True, norm=self.norm)
        return [up1] if self.fold else [up1, Conv("up2", self.width, 3, upsample=True, norm=self.norm)]

    def output(self) -> Conv:
        return Conv("out", 3 * self.fold_factor ** 2, self.edge_kernel, relu=False)

    @property
    def fold_factor(self) -> int:
        """Side of the pixel blocks folded into channels: 2 with `fold`, else 1."""
        return 2 if self.fold else 1

    def convs(self) -> list[Conv]:
        """Every conv, input to output."""
        return [*self.encoder(), *(c for pair in self.residual_pairs() for c in pair), *self.decoder(),
                self.output()]

    def macs_per_pixel(self) -> float:
        """Multiply-adds per output pixel (the cost that decides speed on a CPU)."""
        f = self.fold_factor
        total, channels, scale = 0.0, 3 * f * f, 1.0 / (f * f)  # scale: pixels at this layer per output pixel
        for conv in self.convs():
            scale = scale * 4 if conv.upsample else scale / conv.stride ** 2
            total += conv.kernel ** 2 * channels * conv.filters * scale
            channels = conv.filters
        return total

    def receptive_field(self) -> int:
        """Side of the input square an output pixel depends on."""
        # jump: input pixels between neighbouring positions of this layer; a fold reads f x f blocks
        field, jump = self.fold_factor, self.fold_factor
        for conv in self.convs():
            if conv.upsample:
                jump //= 2
            field += (conv.kernel - 1) * jump
            jump *= conv.stride
        return field

    def tile_margin(self) -> int:
        """Overlap each tile needs so its core matches a one-pass run: three quarters of the
        receptive field's half-width, rounded up to the padding multiple."""
        # The field's outer quarter hardly moves a pixel. Four full-HD photos in 512 px tiles, with
        # the whole image's statistics, all bundled styles: full networks 0.01-0.04 grey levels from
        # one pass on average (0.00-0.01 with the whole half-width), lite 0.002-0.003 (0.000-0.001);
        # the largest differences, 1-8, were the same either way. A 12 MP photo's tiles overlap
        # 15.2 % instead of 19.5 % (runtime.tile_grid). Sampled statistics move pixels far more
        # (runtime.STATS_PIXELS).
        half = (self.receptive_field() + 1) // 2
        return -(-(3 * half) // (4 * PAD_MULTIPLE)) * PAD_MULTIPLE

    def to_dict(self) -> dict:
        return asdict(self)


# Named shapes: "full" is the paper's network; "lite" is the fast one (docs/speed.md).
PRESETS = {
    "full": Architecture(),
    "lite": Architecture(width=16, residual_blocks=3, edge_kernel=3, fold=True),
}


def preset(name: str, **changes) -> Architecture:
    if name not in PRESETS:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **changes)

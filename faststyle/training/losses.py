"""The perceptual loss: content, Gram-matrix style and total variation.

Shared by training (`faststyle train`), the Gatys optimisation (`faststyle
optimize`) and evaluation (`faststyle evaluate`), so all three measure the same thing.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np
from keras import ops

from faststyle.architecture import PAD_MULTIPLE
from faststyle.errors import FaststyleError
from faststyle.measures import LUMA, TONE_BLOCK, WHITE_LEVEL
from faststyle.training.config import LossConfig
from faststyle.training.vgg import LossNetwork, default_style_layer_weights

Tensor = Any  # a tensor of the Keras backend: the loss is written in keras.ops, so it runs on TensorFlow or JAX


# The least a painting's short side may be where the loss reads it (its long side at style_size):
# VGG16 halves it three times before the deepest style layer, and a Gram matrix of a few pixels
# holds no strokes.
MIN_PAINTING_SIDE = 32


def check_painting_shape(path: str | os.PathLike, width: int, height: int, long_side: int) -> None:
    """Refuses a painting too long and thin to learn a style from at `long_side` pixels."""
    short = min(width, height) * long_side / max(width, height)
    if short < MIN_PAINTING_SIDE:
        raise FaststyleError(f"{path}: {width}x{height} px is too long and thin to learn a style from: read at "
                             f"{long_side} px on its long side it is {short:.0f} px across (at least "
                             f"{MIN_PAINTING_SIDE}); crop a part of it nearer a square")


def style_image_array(path: str, long_side: int) -> np.ndarray:
    """The painting as float RGB 0..255, resized so its long side is `long_side` pixels."""
    from faststyle.image_io import load_image
    from faststyle.preprocess import resize_long_side

    painting = load_image(path).convert("RGB")
    check_painting_shape(path, *painting.size, long_side)
    return np.asarray(resize_long_side(painting, long_side), np.float32)


def gram_matrix(features: Tensor) -> Tensor:
    """(N, H, W, C) features -> (N, C, C) Gram matrices normalised by C*H*W, in float32.

    With a bfloat16 loss network the features arrive in bfloat16: a Gram matrix there carries 8
    significant bits, so as training brings it within a fraction of a percent of the painting's,
    the difference drowns in rounding (from scratch, the style loss stayed 5-20 % above float32's; STYLES.md).
    """
    features = ops.cast(features, "float32")
    _, h, w, c = ops.shape(features)
    flat = ops.reshape(features, (-1, h * w, c))
    gram = ops.matmul(ops.transpose(flat, (0, 2, 1)), flat)
    return gram / ops.cast(c * h * w, features.dtype)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of features, per image -> (N,), in float32 (see `gram_matrix`)."""
    return ops.mean(ops.square(ops.cast(features, "float32") - ops.cast(target, "float32")), axis=(1, 2, 3))


def style_loss(features: list[Tensor], target_grams: list[Tensor],
               layer_weights: list[float]) -> Tensor:
    """Squared Frobenius distance of Gram matrices, summed over layers, per image -> (N,)."""
    total = 0.0
    for feats, target, weight in zip(features, target_grams, layer_weights):
        total += weight * ops.sum(ops.square(gram_matrix(feats) - target), axis=(1, 2))
    return total


def range_loss(images: Tensor) -> Tensor:
    """Mean squared distance of pixel values outside 0..255, per image -> (N,)."""
    excess = ops.relu(ops.abs(images - 127.5) - 127.5)
    return ops.mean(ops.square(excess), axis=(1, 2, 3))


def distill_loss(stylized: Tensor, target: Tensor) -> Tensor:
    """Mean squared pixel difference to a teacher's picture (clipped as users see both), per image -> (N,)."""
    shown = ops.clip(stylized, 0.0, 255.0)
    return ops.mean(ops.square(shown - target), axis=(1, 2, 3))


# The tonal layout's blocks at the training scale: the judge's 32 px blocks on 512 px pictures
# (measures.TONE_BLOCK) are about 16 px on photos whose short side is 256.
LAYOUT_BLOCK = TONE_BLOCK // 2


def luminance(images: Tensor) -> Tensor:
    """(N, H, W, 3) pictures -> (N, H, W, 1) luminance in float32 (measures.LUMA, as the judge's)."""
    return ops.sum(ops.cast(images, "float32") * ops.convert_to_tensor(LUMA, "float32"), axis=-1, keepdims=True)


def block_luminance(images: Tensor, block: int = LAYOUT_BLOCK) -> Tensor:
    """(N, H, W, 3) pictures -> (N, H/block, W/block) mean luminance of each block, in float32."""
    return ops.average_pool(luminance(images), block, block, padding="valid")[..., 0]


def layout_loss(shown: Tensor, photo_blocks: Tensor) -> Tensor:
    """1 - the Pearson correlation of block luminance, picture against photo, per image -> (N,).

    What `measures.tonal_correlation` judges, made a loss: it asks the picture to keep where the
    photo is light and dark, and leaves the painting free to choose its palette and contrast
    (a correlation ignores both). A flat photo has no layout to keep: its term is 1, with no gradient.
    """
    a = block_luminance(shown)
    a = a - ops.mean(a, axis=(1, 2), keepdims=True)
    b = photo_blocks - ops.mean(photo_blocks, axis=(1, 2), keepdims=True)
    covariance = ops.sum(a * b, axis=(1, 2))
    scale = ops.sqrt(ops.sum(ops.square(a), axis=(1, 2)) * ops.sum(ops.square(b), axis=(1, 2)) + 1e-6)
    return 1.0 - covariance / scale


# Where the near-white term starts: below measures.WHITE_LEVEL, so that a picture kept under it
# has no blown-white pixels to count.
NEAR_WHITE = float(WHITE_LEVEL - 5)


def white_loss(images: Tensor) -> Tensor:
    """Mean squared excess of each pixel's darkest channel over NEAR_WHITE, per image -> (N,).

    Only pixels whose every channel is near white cost anything: the flat white that
    `measures.blown_white_share` counts. A pale painting's Gram statistics do not tell 240 from
    255, and the layout term keeps the photo's bright areas bright, so without it they clip.
    """
    darkest = ops.min(ops.cast(images, "float32"), axis=-1)
    return ops.mean(ops.square(ops.relu(darkest - NEAR_WHITE)), axis=(1, 2))


# The stride term's areas: 8 strides (32 px) a side, small enough to follow a pattern that comes
# and goes with the picture, large enough for a painting's own strokes to fall on every place.
STRIDE_AREA = 8


def stride_loss(images: Tensor) -> Tensor:
    """Mean square of the luminance pattern that repeats every 4 px (the networks' stride;
    2 px included), per image -> (N,).

    Luminance less its 4x4 box mean (which holds no 4 or 2 px wave, and turns a ramp into a
    constant), averaged over 32 px areas for each of the 16 places in the 4x4 grid, less the
    area's own mean: what `measures.stride_pattern` finds, measured locally. Strokes the painting
    puts anywhere fall on every place alike and average out; dashes painted on the grid do not.
    """
    luma = luminance(images)
    s = PAD_MULTIPLE
    detail = (luma[:, s - 1:, s - 1:] - ops.average_pool(luma, s, 1, padding="valid"))[..., 0]
    area = min(STRIDE_AREA, detail.shape[1] // s, detail.shape[2] // s)  # a smaller crop: one area, all of it
    if area < 1:
        return ops.zeros_like(detail[:, 0, 0])
    cell = s * area
    h, w = (detail.shape[1] // cell) * cell, (detail.shape[2] // cell) * cell
    grid = ops.reshape(detail[:, :h, :w], (-1, h // cell, area, s, w // cell, area, s))
    places = ops.mean(grid, axis=(2, 5))  # (N, areas down, 4, areas across, 4)
    pattern = places - ops.mean(places, axis=(2, 4), keepdims=True)
    return ops.mean(ops.square(pattern), axis=(1, 2, 3, 4))


SHIFT_MARGIN = 16  # pixels left out at a shifted crop's edges, where the two pictures see different borders


def shift_loss(net, images: Tensor, stylized: Tensor, by: str = "any") -> Tensor:
    """Mean squared difference between the picture of the crop moved by (dy, dx) and the picture
    `stylized` moved the same way, per image -> (N,). The transform network's stride is 4, so
    without this term the strokes change when a photo moves by a step that is not a multiple of 4.

    by="any": 1..7 px each way. by="stride": 4 or 8 px, multiples of the stride, where the strokes
    already line up: what is left is the moved crop's other normalisation statistics, the part
    that pictures on an anchored grid (preprocess.grid_anchor) still see.
    The shift is drawn from the crop's own pixels: random as the crops are, and computed inside
    the compiled step on every backend without a random-number state.
    """
    h, w = images.shape[1], images.shape[2]
    draw = ops.cast(ops.sum(images[:, :4, :4, :]), "int32")
    if by == "stride":
        dy, dx = PAD_MULTIPLE * (draw % 2 + 1), PAD_MULTIPLE * ((draw // 2) % 2 + 1)  # one or two strides
    else:
        dy, dx = draw % 7 + 1, (draw // 7) % 7 + 1
    moved = _window(images, dy, dx, h - 8, w - 8)
    m = SHIFT_MARGIN
    painted = ops.clip(net(moved, training=True), 0.0, 255.0)[:, m:h - 8 - m, m:w - 8 - m, :]
    expected = _window(ops.clip(stylized, 0.0, 255.0), dy + m, dx + m, h - 8 - 2 * m, w - 8 - 2 * m)
    return ops.mean(ops.square(painted - expected), axis=(1, 2, 3))


def _window(images: Tensor, top, left, height: int, width: int) -> Tensor:
    """images[:, top:top + height, left:left + width] for offsets held in tensors, as two products
    with 0/1 matrices: a dynamic slice made XLA's step on a CPU 8x slower than graph mode's."""
    rows = ops.one_hot(ops.arange(height) + top, images.shape[1], dtype=images.dtype)
    cols = ops.one_hot(ops.arange(width) + left, images.shape[2], dtype=images.dtype)
    return ops.einsum("ih,nhwc,jw->nijc", rows, images, cols)


def tv_loss(images: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels (0..255 scale), per image -> (N,)."""
    dy = images[:, 1:, :, :] - images[:, :-1, :, :]
    dx = images[:, :, 1:, :] - images[:, :, :-1, :]
    return ops.mean(ops.square(dy), axis=(1, 2, 3)) + ops.mean(ops.square(dx), axis=(1, 2, 3))


class PerceptualLoss:
    """Loss of stylized images against their content images and one style image."""

    def __init__(self, loss_net: LossNetwork, style_image: np.ndarray, config: LossConfig):
        self.loss_net = loss_net
        self.config = config
        weights = config.style_layer_weights or default_style_layer_weights(loss_net.spec)
        if len(weights) != len(loss_net.spec.style_layers):
            raise FaststyleError(f"{len(loss_net.spec.style_layers)} style layer weights needed, got {len(weights)}")
        _, style_feats = loss_net(style_image[None])
        self.style_grams = [gram_matrix(f) for f in style_feats]
        self.layer_weights = weights[:len(self.style_grams)]  # the layers the loss network computes

    def reweighted(self, config: LossConfig) -> "PerceptualLoss":
        """The same loss network and painting under other term weights (a later stage's), without
        running VGG over the painting again. Only weights may differ: the layers and the painting's
        size fix the Gram targets."""
        fixed = ("loss_net", "style_size", "style_depth", "style_layer_weights")
        if any(getattr(config, name) != getattr(self.config, name) for name in fixed):
            raise ValueError(f"reweighted: only term weights may differ, not {fixed}")
        other = copy.copy(self)
        other.config = config
        return other

    def range_term(self, stylized: Tensor) -> Tensor:
        return self.config.range_weight * range_loss(stylized)

    def style_term(self, images: Tensor) -> float:
        """The weighted Gram distance of a batch of pictures to the painting, summed over the batch."""
        _, style_feats = self.loss_net(images)
        return float(ops.sum(self.config.style_weight * style_loss(style_feats, self.style_grams, self.layer_weights)))

    def content_targets(self, content_images: Tensor) -> dict[str, Tensor]:
        """What the loss compares a picture of these photos with: their VGG features, and their
        block luminance where the loss keeps the tonal layout."""
        targets = {"features": self.loss_net(content_images)[0]}
        if self.config.layout_weight:
            targets["layout"] = block_luminance(content_images)
        return targets

    def terms(self, stylized: Tensor, content_target: dict[str, Tensor]) -> dict[str, Tensor]:
        """Weighted per-image terms {content, style, tv, range, [layout, white, stride,] total}, each (N,)."""
        # The loss judges the picture users get: clipped to 0..255. Without the clip the
        # network learns to push regions past white (the output reaches 277.5), where VGG
        # sees "brighter than possible" pixels that match the Gram targets cheaply; tanh then
        # saturates and those regions stay as flat white blobs. The clip passes gradients
        # straight through, and the range term pulls values back inside 0..255.
        shown = stylized + ops.stop_gradient(ops.clip(stylized, 0.0, 255.0) - stylized)
        content_feats, style_feats = self.loss_net(shown)
        c = self.config
        out = {
            "content": c.content_weight * content_loss(content_feats, content_target["features"]),
            "style": c.style_weight * style_loss(style_feats, self.style_grams, self.layer_weights),
            "tv": c.tv_weight * tv_loss(shown),
            "range": self.range_term(stylized),
        }
        if c.layout_weight:
            out["layout"] = c.layout_weight * layout_loss(shown, content_target["layout"])
        if c.white_weight:
            out["white"] = c.white_weight * white_loss(stylized)
        if c.stride_weight:
            out["stride"] = c.stride_weight * stride_loss(shown)
        out["total"] = sum(out.values())
        return out


def build_loss(config: LossConfig, style_image: str, vgg_weights: str | None = None) -> PerceptualLoss:
    """The loss, built one way for training, the Gatys optimisation and evaluation."""
    return PerceptualLoss(LossNetwork(config.loss_net, vgg_weights, config.style_depth),
                          style_image_array(style_image, config.style_size), config)

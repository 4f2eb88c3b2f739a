"""The Gatys et al. optimisation ("slow" mode): optimise one image's pixels.

It uses the same PerceptualLoss as training, so it is the quality reference
that trained networks are measured against (`faststyle evaluate`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from faststyle.errors import FaststyleError
from faststyle.training.losses import PerceptualLoss


def optimize_image(content: np.ndarray, loss: PerceptualLoss, iterations: int = 300,
                   method: str = "lbfgs", init: str = "content", learning_rate: float = 5.0,
                   seed: int = 0, record_at: tuple[int, ...] = (),
                   callback: Callable[[int, float], None] | None = None,
                   ) -> tuple[np.ndarray, dict[int, dict[str, float]]]:
    """Optimises an HxWx3 float image (0..255) -> (result, {iteration: loss terms at that point}).

    method: "lbfgs" (scipy's L-BFGS-B, box-constrained to 0..255) or "adam".
    init: start from the "content" image or from "noise".
    """
    content_t = tf.constant(content[None], tf.float32)
    target = loss.content_targets(content_t)
    if init == "content":
        start = content.astype(np.float32)
    elif init == "noise":
        start = np.random.default_rng(seed).uniform(0, 255, content.shape).astype(np.float32)
    else:
        raise FaststyleError(f"unknown init {init!r}; use 'content' or 'noise'")

    @tf.function
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            terms = loss.terms(x, target)
        return terms, tape.gradient(terms["total"], x)

    def terms_of(x: np.ndarray) -> dict[str, float]:
        return {k: float(v[0]) for k, v in value_and_grad(tf.constant(x[None]))[0].items()}

    recorded: dict[int, dict[str, float]] = {}

    def after_iteration(i: int, x: np.ndarray) -> None:
        if i in record_at:
            recorded[i] = terms_of(x)
        if callback:
            callback(i, recorded[i]["total"] if i in recorded else float("nan"))

    if method == "lbfgs":
        from scipy.optimize import Bounds, minimize

        shape = content.shape
        count = [0]

        def fun(flat):
            terms, grad = value_and_grad(tf.constant(flat.reshape(1, *shape), tf.float32))
            return float(terms["total"][0]), grad.numpy().astype(np.float64).ravel()

        def on_step(flat):
            count[0] += 1
            after_iteration(count[0], flat.reshape(shape).astype(np.float32))

        result = minimize(fun, start.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                          bounds=Bounds(0.0, 255.0), callback=on_step,
                          options={"maxiter": iterations, "maxfun": iterations * 2})
        image = result.x.reshape(shape).astype(np.float32)
    elif method == "adam":
        import keras

        x = tf.Variable(start[None])
        opt = keras.optimizers.Adam(learning_rate)
        for i in range(1, iterations + 1):
            _, grad = value_and_grad(tf.convert_to_tensor(x))
            opt.apply_gradients([(grad, x)])
            x.assign(tf.clip_by_value(x, 0.0, 255.0))
            after_iteration(i, x.numpy()[0])
        image = x.numpy()[0]
    else:
        raise FaststyleError(f"unknown method {method!r}; use 'lbfgs' or 'adam'")
    for i in record_at:  # stopped early (converged): later records equal the final image
        recorded.setdefault(i, terms_of(image))
    return image, recorded


def optimize_file(content: str, style_image: str, output: str, loss_config, max_size: int = 512,
                  iterations: int = 300, method: str = "lbfgs", init: str = "content",
                  vgg_weights: str | None = None, callback: Callable[[int, float], None] | None = None,
                  ) -> dict[str, float]:
    """`faststyle optimize`: the photo (long side at most `max_size`) painted by optimisation into
    `output`; -> the loss terms at the end."""
    from PIL import Image

    from faststyle.image_io import load_image, output_format, save_image
    from faststyle.preprocess import shrink_to
    from faststyle.training.losses import build_loss

    output_format(output)  # a bad extension fails before the slow part
    photo = shrink_to(load_image(content).convert("RGB"), max_size)
    loss = build_loss(loss_config, style_image, vgg_weights)
    image, recorded = optimize_image(np.asarray(photo, np.float32), loss, iterations, method, init,
                                     record_at=(iterations,), callback=callback)
    save_image(Image.fromarray(np.clip(image, 0, 255).round().astype(np.uint8)), output)
    return recorded[iterations]

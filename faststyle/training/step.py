"""One optimisation step of the transform network, on the Keras backend in use.

The loss is written once, in keras.ops (losses.py), and runs on any backend; only
taking its gradient differs. TensorFlow (the default) records a GradientTape inside a
tf.function; JAX (KERAS_BACKEND=jax, e.g. on a GPU machine without TensorFlow)
differentiates a pure function of the weights through Keras' stateless API.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from faststyle.errors import FaststyleError
from faststyle.machine import busy_cpu_seconds

# (images, perceptual step?) -> per-image loss terms, "total" among them
TermsFn = Callable[[object, bool], dict]
StepFn = Callable[[np.ndarray, bool], dict[str, float]]


def make_train_step(net: keras.Model, opt: keras.optimizers.Optimizer, compute_terms: TermsFn,
                    frozen: list[keras.Model], compile_mode: str = "auto",
                    report: Callable[[str], None] = print, memory: "ChoiceMemory | None" = None,
                    precision: str = "float32") -> StepFn:
    """A step that minimises the batch mean of compute_terms(...)["total"] and returns the terms' means.

    `frozen`: the other networks compute_terms calls (loss network, teacher), whose weights stay fixed.
    `compile_mode` ("xla", "graph" or "auto", see FastestStep) applies to TensorFlow; JAX always
    compiles. `report` gets auto's measurement, one line; `memory` keeps it for the next run.
    `precision`: the run's dtype policy; under mixed_bfloat16 on a CPU, auto takes graph mode unmeasured.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        if compile_mode == "auto" and known_slower_xla(precision):
            report("steps run in graph mode: XLA is slower with bfloat16 on a CPU")
            compile_mode = "graph"
        if compile_mode == "auto":
            return FastestStep({"XLA": _tensorflow_step(net, opt, compute_terms, jit_compile=True),
                                "graph mode": _tensorflow_step(net, opt, compute_terms, jit_compile=False)}, report,
                               memory=memory)
        return _tensorflow_step(net, opt, compute_terms, jit_compile=compile_mode == "xla")
    if backend == "jax":
        return _jax_step(net, opt, compute_terms, frozen)
    raise FaststyleError(f"training runs on Keras' tensorflow or jax backend, not {backend!r}; "
                         "set KERAS_BACKEND=tensorflow (or jax)")


def known_slower_xla(precision: str) -> bool:
    """Whether XLA is known to lose to graph mode here, so auto need not measure: bfloat16 maths on
    a CPU, where graph mode runs TensorFlow's oneDNN bfloat16 kernels and XLA's step took 2.2-2.4x
    as long (AVX512-BF16 hosts: STYLES.md, "bfloat16 training"). Measuring cost a fresh machine's
    first quick style about 9 s (XLA's compile and two slow steps)."""
    import tensorflow as tf

    return precision == "mixed_bfloat16" and not tf.config.list_physical_devices("GPU")


class FastestStep:
    """Runs a run's first steps with each candidate in turn and keeps the fastest.

    Which way of running a step wins depends on the CPU (XLA was 1.6x faster than a plain
    tf.function on an AVX2 host and 1.2-1.4x slower on AVX-512 ones), so it is measured, not
    assumed. Every trial step is a real step of the run; each candidate's first step for a kind
    of step (perceptual or not) compiles and is not timed, and only steps of the first step's
    kind are compared, so a distillation run compares like with like. With a `memory`, a choice
    measured before on this CPU for steps of this shape is taken at once (10-30 s saved), unless
    other programs were using a quarter of the CPU or more while it was measured: such a choice
    holds for its run only, since a loaded CPU can reverse the order (graph mode won a loaded AVX2 run, 1.4 s
    a step, where XLA takes 1.0 s).
    """

    TIMED_STEPS = 2  # per candidate; the fastest of them counts, as noise only slows a step down
    BUSY_ELSEWHERE = 0.25  # of the machine's CPU time that other programs took in the timed steps: above it, not remembered

    def __init__(self, candidates: dict[str, StepFn], report: Callable[[str], None],
                 clock: Callable[[], float] = time.perf_counter, memory: "ChoiceMemory | None" = None,
                 cpu_clock: Callable[[], float] = time.process_time,
                 machine_clock: Callable[[], float | None] = busy_cpu_seconds, cores: int | None = None):
        self.candidates, self.report, self.clock, self.memory = candidates, report, clock, memory
        self.cpu_clock, self.machine_clock, self.cores = cpu_clock, machine_clock, cores or os.cpu_count() or 1
        # over the timed steps: wall seconds, this process's CPU seconds, every program's CPU seconds
        self.wall = self.mine = self.everyone = 0.0
        self.times: dict[str, list[float]] = {name: [] for name in candidates}
        self.compiled: set[tuple[str, bool]] = set()
        self.kind: bool | None = None  # the kind of step the timings compare
        self.chosen: str | None = None
        self.key: str | None = None  # the first step's shape and kind: what the timings compare

    def __call__(self, images: np.ndarray, perceptual: bool) -> dict[str, float]:
        if self.chosen:
            return self.candidates[self.chosen](images, perceptual)
        key = f"{tuple(np.shape(images))} {'perceptual' if perceptual else 'distillation'}"
        remembered = self.memory.recall(key) if self.kind is None and self.memory else None
        if remembered in self.candidates:
            self.chosen = remembered
            self.report(f"steps run with {self.chosen}, measured fastest on this CPU before")
            return self.candidates[self.chosen](images, perceptual)
        self.key = self.key or key
        name = next(n for n, times in self.times.items() if len(times) < self.TIMED_STEPS)
        self.kind = perceptual if self.kind is None else self.kind
        timed = (name, perceptual) in self.compiled and perceptual == self.kind
        self.compiled.add((name, perceptual))
        start, cpu_start, machine_start = self.clock(), self.cpu_clock(), self.machine_clock()
        terms = self.candidates[name](images, perceptual)
        if timed:
            self.times[name].append(self.clock() - start)
            machine_end = self.machine_clock()
            self.wall += self.times[name][-1]
            self.mine += self.cpu_clock() - cpu_start
            self.everyone += 0.0 if None in (machine_start, machine_end) else machine_end - machine_start
        if all(len(times) == self.TIMED_STEPS for times in self.times.values()):
            best = {n: min(times) for n, times in self.times.items()}
            self.chosen = min(best, key=best.get)
            others = max(0.0, self.everyone - self.mine) / max(self.wall * self.cores, 1e-9)
            steady = others <= self.BUSY_ELSEWHERE
            self.report("a step takes " + ", ".join(f"{t:.2f} s with {n}" for n, t in best.items())
                        + f": training goes on with {self.chosen}"
                        + ("" if steady else f" (other programs used {others:.0%} of the CPU meanwhile: "
                                             "measured again next time)"))
            if self.memory and steady:
                self.memory.remember(self.key, self.chosen)
        return terms


class ChoiceMemory:
    """FastestStep's winners, kept in a small JSON file per machine: keyed by the CPU, the
    software and the run's settings (`context`), then by the shape and kind of step."""

    def __init__(self, path: Path, context: str):
        self.path, self.context = Path(path), context

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # none yet, or damaged: measure again

    def recall(self, key: str) -> str | None:
        choice = self._read().get(f"{self.context} {key}")
        return choice if isinstance(choice, str) else None

    def remember(self, key: str, choice: str) -> None:
        from faststyle.files import atomic_write_bytes

        data = self._read()
        data[f"{self.context} {key}"] = choice
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
        except OSError:
            pass  # a read-only cache only means measuring again next time


def _tensorflow_step(net, opt, compute_terms: TermsFn, jit_compile: bool) -> StepFn:
    import tensorflow as tf

    @tf.function(jit_compile=jit_compile)
    def step(images, perceptual: bool):
        with tf.GradientTape() as tape:
            terms = compute_terms(images, perceptual)
            total = tf.reduce_mean(terms["total"])
        grads = tape.gradient(total, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))
        return {k: tf.reduce_mean(v) for k, v in terms.items()}

    def run(images: np.ndarray, perceptual: bool) -> dict[str, float]:
        return {k: float(v) for k, v in step(tf.convert_to_tensor(images), perceptual).items()}

    return run


def _jax_step(net, opt, compute_terms: TermsFn, frozen: list[keras.Model]) -> StepFn:
    import jax
    import jax.numpy as jnp

    trainable = net.trainable_variables
    # Fixed weights go in as arguments, not as constants baked into the compiled step.
    fixed = net.non_trainable_variables + [v for model in frozen for v in model.variables]

    def loss(train_values, fixed_values, images, perceptual):
        mapping = list(zip(trainable, train_values)) + list(zip(fixed, fixed_values))
        with keras.StatelessScope(state_mapping=mapping):
            terms = compute_terms(images, perceptual)
        return jnp.mean(terms["total"]), terms

    def step(train_values, opt_values, fixed_values, images, perceptual):
        (_, terms), grads = jax.value_and_grad(loss, has_aux=True)(train_values, fixed_values, images, perceptual)
        train_values, opt_values = opt.stateless_apply(opt_values, grads, train_values)
        return train_values, opt_values, {k: jnp.mean(v) for k, v in terms.items()}

    step = jax.jit(step, static_argnums=4)

    def run(images: np.ndarray, perceptual: bool) -> dict[str, float]:
        distribution = keras.distribution.distribution()
        if distribution is not None:  # data parallel (--devices): each device gets its part of the batch
            images = keras.distribution.distribute_tensor(images, distribution.get_data_layout(images.shape))
        train_values, opt_values, terms = step([v.value for v in trainable], [v.value for v in opt.variables],
                                               [v.value for v in fixed], images, perceptual)
        # Written back after every step, so checkpoints and previews read the variables as on TensorFlow.
        for variable, value in zip(trainable, train_values):
            variable.assign(value)
        for variable, value in zip(opt.variables, opt_values):
            variable.assign(value)
        return {k: float(v) for k, v in terms.items()}

    return run

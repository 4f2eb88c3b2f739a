"""Argument types for the command line: a value out of range is one clear line, never a traceback.

Kept free of other faststyle imports, so option declarations anywhere (cli/, training/config.py)
can use them.
"""

from __future__ import annotations

import argparse
import math
import os

MAX_COUNT = 10_000_000  # steps, iterations, counts: far past any real use, short of absurd
SEED_MAX = 2**32 - 1    # numpy's seeds
MAX_SIDE = 65_535       # pixels: the largest side an image format here can hold


def int_between(low: int, high: int):
    """An argparse type: an integer from low to high, else one clear error line."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value
    return parse


def count_or_all(high: int):
    """A count from 1 to high, or 'all' (0)."""
    number = int_between(1, high)

    def parse(text: str) -> int:
        return 0 if text.strip().lower() in ("all", "0") else number(text)
    return parse


def at_least(minimum: int):
    """An integer >= minimum, up to MAX_COUNT: every number a user gives has a bound."""
    return int_between(minimum, MAX_COUNT)


def pixels(minimum: int = 16):
    """A side length in pixels: up to MAX_SIDE."""
    return int_between(minimum, MAX_SIDE)


def float_where(check, what: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not check(value):  # NaN fails every check
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


positive_float = float_where(lambda v: 0 < v < float("inf"), "a positive number")
non_negative_float = float_where(lambda v: 0 <= v < float("inf"), "zero or more")
fraction = float_where(lambda v: 0 <= v <= 1, "between 0 and 1")


def floats(text: str) -> list[float]:
    """Comma-separated finite numbers (nan and inf would reach a model's weights)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers of zero or more, got {text!r}")
    return values


def ints(text: str, low: int = 1, high: int = MAX_COUNT) -> tuple[int, ...]:
    """Comma-separated whole numbers between `low` and `high`."""
    return tuple(int_between(low, high)(v) for v in text.split(",") if v.strip())


def threads(text: str) -> int:
    """A thread count: 1 to this machine's cores (more only slows ONNX Runtime down and costs memory)."""
    return int_between(1, os.cpu_count() or 1)(text)

"""Argument types for the command line: a value out of range is one clear line, never a traceback.

Kept free of other faststyle imports, so option declarations anywhere (cli.py, training/config.py)
can use them.
"""

from __future__ import annotations

import argparse


def at_least(minimum: int):
    """An argparse type: an integer >= minimum, else one clear error line."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def int_between(low: int, high: int):
    def parse(text: str) -> int:
        value = at_least(low)(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value
    return parse


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
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None

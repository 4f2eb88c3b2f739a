"""Writes each bundled style's [painting] table (recipes/NAME.toml) into its models' cards, full and
lite, keeping every network byte for byte.

    python scripts/refresh_cards.py [NAME ...]

The recipe is where a bundled painting's title, artist, licence and published address live; a
retrained style gets them through `train --meta`, and this script brings them to models already
made (e.g. when a painting's address is added).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from faststyle.model_file import rewrite_card
from faststyle.styles import bundled_style_names, resolve_style

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bundled styles (default: all)")
    for name in parser.parse_args().names or bundled_style_names():
        painting = tomllib.loads((ROOT / "recipes" / f"{name}.toml").read_text())["painting"]
        for fast in (False, True):
            path = resolve_style(name, fast=fast)
            rewrite_card(path, **painting)
            print(f"{path}: {', '.join(sorted(painting))}")


if __name__ == "__main__":
    main()

"""Prints the model-card table of the bundled styles from their stored metadata (for STYLES.md).

    python scripts/model_card.py
"""

from __future__ import annotations

from faststyle.model_file import read_card
from faststyle.styles import available_styles
from faststyle.training.config import LossConfig


def main() -> None:
    print("| style | network | painting | licence | steps | crops | style size | weights c/s/tv | final loss c/s/tv "
          "| init | teacher |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for style in available_styles():
        if style.source != "bundled":
            continue
        for kind, path in (("full", style.path), ("lite", style.lite)):
            if path is None:
                continue
            card = read_card(path)
            loss, arch = LossConfig.from_card(card), card.network()
            print(f"| `{style.name}` | {kind} ({arch.macs_per_pixel() / 1e3:.0f}k MAC/px) "
                  f"| {card.artist}, *{card.title}* ({card.year}) | {card.licence} "
                  f"| {card.steps} | {card.crop_size} of {card.image_size} | {loss.style_size} "
                  f"| {loss.content_weight}/{loss.style_weight}/{loss.tv_weight} "
                  f"| {_final(card.final_losses)} "
                  f"| {card.init_from or '-'} | {card.teacher or '-'} |")


def _final(losses: dict) -> str:
    """c/s/tv at the end of training; a pure distillation run had none: its distillation loss instead."""
    if any(k in losses for k in ("content", "style", "tv")):
        return "/".join(f"{losses[k]:.3g}" if k in losses else "-" for k in ("content", "style", "tv"))
    return f"distill {losses['distill']:.3g}" if "distill" in losses else "-"


if __name__ == "__main__":
    main()

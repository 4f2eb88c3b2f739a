"""Prints the model-card table of the bundled styles from their stored metadata (for STYLES.md).

    python scripts/model_card.py
"""

from __future__ import annotations

from faststyle.architecture import Architecture
from faststyle.styles import available_styles, read_metadata
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
            m = read_metadata(path)
            loss, arch, f = LossConfig.from_metadata(m), Architecture.from_metadata(m), m.get("final_losses", {})
            print(f"| `{style.name}` | {kind} ({arch.macs_per_pixel() / 1e3:.0f}k MAC/px) "
                  f"| {m.get('artist')}, *{m.get('title')}* ({m.get('year')}) | {m.get('licence')} "
                  f"| {m.get('steps')} | {m.get('crop_size')} of {m.get('image_size')} | {loss.style_size} "
                  f"| {loss.content_weight}/{loss.style_weight}/{loss.tv_weight} "
                  f"| {_final(f)} "
                  f"| {m.get('init_from') or '-'} | {m.get('teacher') or '-'} |")


def _final(losses: dict) -> str:
    """c/s/tv at the end of training; a pure distillation run had none: its distillation loss instead."""
    if any(k in losses for k in ("content", "style", "tv")):
        return "/".join(f"{losses[k]:.3g}" if k in losses else "-" for k in ("content", "style", "tv"))
    return f"distill {losses['distill']:.3g}" if "distill" in losses else "-"


if __name__ == "__main__":
    main()

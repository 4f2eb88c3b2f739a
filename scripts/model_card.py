"""Prints the model-card table of the bundled styles from their stored metadata (for STYLES.md).

    python scripts/model_card.py
"""

from __future__ import annotations

from faststyle.styles import available_styles, read_metadata


def main() -> None:
    print("| style | painting | licence | steps | crops | style size | weights c/s/tv | final loss c/s/tv | init |")
    print("|---|---|---|---|---|---|---|---|---|")
    for style in available_styles():
        if style.source != "bundled":
            continue
        m = read_metadata(style.path)
        w, f = m.get("weights", {}), m.get("final_losses", {})
        print(f"| `{style.name}` | {m.get('artist')}, *{m.get('title')}* ({m.get('year')}) | {m.get('licence')} "
              f"| {m.get('steps')} | {m.get('crop_size')} of {m.get('image_size')} | {m.get('style_size')} "
              f"| {w.get('content')}/{w.get('style')}/{w.get('tv')} "
              f"| {f.get('content', 0):.3g}/{f.get('style', 0):.3g}/{f.get('tv', 0):.3g} | {m.get('init_from') or '-'} |")


if __name__ == "__main__":
    main()

"""Regenerates the README gallery: every bundled style applied to every sample photo.

    python scripts/make_gallery.py

Writes small JPEGs to docs/gallery/ and rewrites the table between the
`<!-- gallery -->` and `<!-- /gallery -->` markers in README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

import faststyle
from faststyle.image_io import save_image
from faststyle.model_file import read_card
from faststyle.styles import available_styles, sample_images

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"
SIZE = 320  # long side of the gallery images, pixels (stylized at 2x, then shrunk)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    styles = [s for s in available_styles() if s.source == "bundled"]
    samples = sample_images()
    header = "| photo | " + " | ".join(s.name for s in styles) + " |"
    rows = [header, "|" + "---|" * (len(styles) + 1)]
    for sample in samples:
        photo = Image.open(sample).convert("RGB")
        photo.thumbnail((SIZE * 2, SIZE * 2), Image.LANCZOS)
        small = photo.copy()
        small.thumbnail((SIZE, SIZE), Image.LANCZOS)
        save_image(small, OUT / f"{sample.stem}.jpg", quality=85)
        cells = [f"![{sample.stem}](docs/gallery/{sample.stem}.jpg)"]
        for style in styles:
            out = faststyle.stylize(photo, style.path)
            out.thumbnail((SIZE, SIZE), Image.LANCZOS)
            save_image(out, OUT / f"{sample.stem}.{style.name}.jpg", quality=85)
            cells.append(f"![{sample.stem} in {style.name}](docs/gallery/{sample.stem}.{style.name}.jpg)")
        rows.append("| " + " | ".join(cells) + " |")
    paintings = []
    for style in styles:
        card = read_card(style.path)
        paintings.append(f"`{style.name}`: {card.artist or '?'}, *{card.title or '?'}* ({card.year or '?'})")
    block = "<!-- gallery -->\n" + "\n".join(rows) + "\n\n" + "; ".join(paintings) + ".\n<!-- /gallery -->"
    readme = ROOT / "README.md"
    text = readme.read_text()
    text = re.sub(r"<!-- gallery -->.*?(<!-- /gallery -->|$)", lambda _: block, text, count=1, flags=re.S) \
        if "<!-- /gallery -->" in text else text.replace("<!-- gallery -->", block)
    readme.write_text(text)
    print(f"wrote {len(samples) * (len(styles) + 1)} images to {OUT} and the README gallery")


if __name__ == "__main__":
    main()

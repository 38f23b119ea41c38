"""Figures for weights/MODEL_CARD.md from the app's own CLI outputs.

  python -m training.figures pairs INVERT_OUT_DIR OUT.png   # input | reconstruction pairs
  python -m training.figures stack A.png B.png … OUT.png    # images stacked vertically
  python -m training.figures strips DIR "Name=label" … OUT.png  # labelled direction strips
"""

import glob
import os
import sys

from PIL import Image


def pairs(folder, out, cols=4, side=128):
    inputs = sorted(glob.glob(os.path.join(folder, "*_input.png")))
    if not inputs:
        sys.exit(f"no *_input.png in {folder}")
    tiles = []
    for p in inputs:
        rec = p[: -len("_input.png")] + "_recon.png"
        for q in (p, rec):
            tiles.append(Image.open(q).convert("RGB").resize((side, side), Image.LANCZOS))
    per_row = cols * 2
    rows = (len(tiles) + per_row - 1) // per_row
    grid = Image.new("RGB", (per_row * side, rows * side), "white")
    for i, t in enumerate(tiles):
        grid.paste(t, ((i % per_row) * side, (i // per_row) * side))
    grid.save(out)


def stack(paths, out):
    ims = [Image.open(p).convert("RGB") for p in paths]
    w = max(i.width for i in ims)
    grid = Image.new("RGB", (w, sum(i.height for i in ims)), "white")
    y = 0
    for i in ims:
        grid.paste(i, (0, y))
        y += i.height
    grid.save(out)


def strips(folder, names, out, cols=2, gap=4):
    """Labelled strips (`<folder>/<name>.png` from `facestyle directions strip`, spaces as
    underscores) in `cols` columns, each titled `name (label)`; `names` are `name=label`."""
    from PIL import ImageDraw
    items = []
    for spec in names:
        name, _, label = spec.partition("=")
        im = Image.open(os.path.join(folder, name.replace(" ", "_") + ".png")).convert("RGB")
        items.append((f"{name}  ({label})" if label else name, im))
    w = max(im.width for _, im in items)
    h = max(im.height for _, im in items) + 14
    rows = (len(items) + cols - 1) // cols
    grid = Image.new("RGB", (cols * w + (cols - 1) * 20, rows * (h + gap)), "white")
    draw = ImageDraw.Draw(grid)
    for i, (title, im) in enumerate(items):
        x, y = (i % cols) * (w + 20), (i // cols) * (h + gap)
        draw.text((x, y), title, fill="black")
        grid.paste(im, (x, y + 14))
    grid.save(out)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "pairs":
        pairs(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "strips":
        strips(sys.argv[2], sys.argv[3:-1], sys.argv[-1])
    elif len(sys.argv) >= 4 and sys.argv[1] == "stack":
        stack(sys.argv[2:-1], sys.argv[-1])
    else:
        sys.exit(__doc__)

"""A test clip from one photo, made independently of the app (PIL): the photo turned by up to
5°, zoomed by up to 10 % and moved along a loop, with Gaussian pixel noise, written as a folder
of PNG frames. docs/video.md and docs/eval.md use it:

    python3 bench/make_clip.py ../shared/data/photos/00128.jpg /tmp/clip --size 480x360 --frames 60 --zoom 0.42
"""
import argparse
import math
import os

import numpy as np
from PIL import Image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("photo")
    p.add_argument("out", help="folder for the frames (made)")
    p.add_argument("--size", default="480x360")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--zoom", type=float, default=0.42, help="frame pixels per photo pixel")
    p.add_argument("--pan", type=float, default=40.0, help="photo pixels of the loop's radius")
    p.add_argument("--noise", type=float, default=4.0, help="σ of the pixel noise (levels)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    photo = Image.open(a.photo).convert("RGB")
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.frames):
        t = i / a.frames * 2 * math.pi
        angle = 5 * math.sin(t)
        zoom = a.zoom * (1 + 0.1 * math.sin(0.5 * t))
        cx = photo.width / 2 + a.pan * math.cos(t)
        cy = photo.height * 0.55 + a.pan / 2 * math.sin(2 * t)
        turned = photo.rotate(angle, resample=Image.BICUBIC, center=(cx, cy), fillcolor=(90, 90, 90))
        bw, bh = w / zoom, h / zoom
        frame = turned.transform((w, h), Image.EXTENT, (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2),
                                 resample=Image.BILINEAR, fillcolor=(90, 90, 90))
        noisy = np.asarray(frame).astype(np.float32) + rng.normal(0, a.noise, (h, w, 3))
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(os.path.join(a.out, f"{i:03d}.png"))


if __name__ == "__main__":
    main()

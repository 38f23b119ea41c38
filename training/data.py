"""The training faces: the three tar archives of `../shared/data/faces`, decoded once,
resized to the model's resolution (Lanczos) and cached as one uint8 array.

The last `HELD_OUT` real 256-px FFHQ faces (by file name) are never trained on: they are the
held-out set for the encoder's and PTI's quality figures.
"""

import io
import os
import tarfile

import numpy as np
import torch
from PIL import Image

HELD_OUT = 100
SETS = ("ffhq256-real-1000.tar", "ffhq128-real-3900.tar", "stylegan256-fake-1100.tar")


def tar_images(path):
    """(name, RGB image) of every JPEG/PNG in a tar archive, sorted by name."""
    with tarfile.open(path) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.lower().endswith((".jpg", ".jpeg", ".png"))),
                         key=lambda m: m.name)
        for m in members:
            yield m.name, Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB")


def decode_tar(path, res):
    """Every image of a tar archive (sorted by name) at res×res (Lanczos), uint8 [N, res, res, 3]."""
    out = []
    for _, im in tar_images(path):
        if im.size != (res, res):
            im = im.resize((res, res), Image.LANCZOS)
        out.append(np.asarray(im, dtype=np.uint8))
    return np.stack(out)


def load_faces(data_dir, res, cache_dir):
    """Returns (train, held_out) as uint8 arrays [N, res, res, 3]."""
    os.makedirs(cache_dir, exist_ok=True)
    cache = os.path.join(cache_dir, f"faces{res}.npz")
    if not os.path.exists(cache):
        parts = {name: decode_tar(os.path.join(data_dir, name), res) for name in SETS}
        real256 = parts[SETS[0]]
        held = real256[-HELD_OUT:]
        train = np.concatenate([real256[:-HELD_OUT], parts[SETS[1]], parts[SETS[2]]])
        np.savez(cache, train=train, held=held)
    d = np.load(cache)
    return d["train"], d["held"]


def to_tensor(batch_u8):
    """uint8 NHWC → float NCHW in [-1, 1]."""
    x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


class Sampler:
    """Random batches with horizontal flips (faces are mirror-symmetric in distribution)."""

    def __init__(self, faces, seed=0):
        self.faces = faces
        self.rng = np.random.default_rng(seed)

    def __call__(self, b):
        idx = self.rng.integers(0, len(self.faces), b)
        x = self.faces[idx]
        flip = self.rng.random(b) < 0.5
        x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
        return to_tensor(np.ascontiguousarray(x))

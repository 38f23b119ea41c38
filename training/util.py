"""Small helpers shared by the training scripts."""

import os

import numpy as np
import torch
from PIL import Image


def device_and_threads():
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch.device("cuda")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return torch.device("cpu")


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def to_uint8(img):
    """[B,3,H,W] in [-1,1] → uint8 NHWC."""
    x = ((img.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return x.permute(0, 2, 3, 1).to(torch.uint8).numpy()


def save_grid(img, path, cols=None):
    x = to_uint8(img)
    b, h, w, _ = x.shape
    cols = cols or int(np.ceil(np.sqrt(b)))
    rows = int(np.ceil(b / cols))
    grid = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i in range(b):
        r, c = divmod(i, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = x[i]
    Image.fromarray(grid).save(path)

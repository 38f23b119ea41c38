"""Small helpers shared by the training scripts."""

import os
import time

import numpy as np
import torch
from PIL import Image

# The seed the measuring scripts draw generated faces from. Not 0: until train_generator.py
# reseeded resumed runs, every resume replayed seed 0's first latents, and the shipped generator
# draws those 256 z's as broken faces far from W's mean (weights/MODEL_CARD.md).
MEASURE_SEED = 1


def device_and_threads():
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # fixed shapes: the fastest kernels, chosen once
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


class RunSchedule:
    """The step accounting both trainers share: a log line every `every` steps (printed and
    appended to `log.txt`), a checkpoint every `ckpt_minutes`, and the end of the call after
    `minutes` or when the trainer says its target is reached (always with a checkpoint)."""

    def __init__(self, run_dir, minutes, ckpt_minutes, every=50):
        self.minutes, self.ckpt_minutes, self.every = minutes, ckpt_minutes, every
        self.start = self.last_ckpt = self.last_line = time.time()
        self.log = open(os.path.join(run_dir, "log.txt"), "a")

    def tick(self, state, step_start, describe, finished, checkpoint):
        """Counts one step; `describe()` gives the losses for the log line; returns True
        once the run should stop."""
        now = time.time()
        state["step"] += 1
        state["seconds"] += now - step_start
        if state["step"] % self.every == 0:
            line = f"step {state['step']} {describe()} s/step {(now - self.last_line) / self.every:.3f}"
            print(line, flush=True)
            self.log.write(line + "\n")
            self.log.flush()
            self.last_line = now
        done = finished or now - self.start >= self.minutes * 60
        if done or now - self.last_ckpt >= self.ckpt_minutes * 60:
            checkpoint()
            self.last_ckpt = now
        return done


def use_bf16(precision, dev):
    """Whether to autocast to bf16: asked for, or `auto` on hardware with native bf16."""
    if precision != "auto":
        return precision == "bf16"
    if dev.type == "cuda":
        return True
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags

"""Exports trained weights as the safetensors files the Rust app loads.

  python -m training.export generator RUN/checkpoint.pt weights/generator.safetensors
  python -m training.export encoder RUN_ENC/checkpoint.pt weights/encoder.safetensors
  python -m training.export perceptual RUN/checkpoint.pt weights/perceptual.safetensors

The generator file is the EMA generator under rosinality's `g_ema` key names plus
`latent_avg` (mean of 4096 mapped z, the truncation centre) and a `config` metadata entry;
the encoder file uses the `fs_encoder_v2` key names (BatchNorm in eval form, running
statistics included) with its `config` (widths, layers, input resolution, K …); the
perceptual file is the discriminator's feature trunk (`from_rgb`, `blocks.*` without the blur
buffers; the scoring head is not needed).
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file

from training.fse import FeatureStyleEncoder
from training.stylegan2 import Generator


def generator_from_checkpoint(path, which="g_ema"):
    s = torch.load(path, map_location="cpu", weights_only=False)
    cfg = s.get("generator_config")
    if cfg is None:  # checkpoints of the first run keep it in the run folder's config.json
        with open(os.path.join(os.path.dirname(path), "config.json")) as f:
            cfg = json.load(f)["generator"]
    g = Generator(cfg["size"], cfg["style_dim"], cfg["n_mlp"], cfg["channels"], cfg["lr_mlp"])
    g.load_state_dict(s[which])
    return g.eval().requires_grad_(False), s


def encoder_from_checkpoint(path):
    s = torch.load(path, map_location="cpu", weights_only=False)
    e = FeatureStyleEncoder(**{k: v for k, v in s["encoder_config"].items() if k != "bn_eps"})
    e.load_state_dict(s["encoder"])
    return e.eval().requires_grad_(False), s


def generator_tensors(g, stored_noise="keep"):
    t = {k: v.detach().float().contiguous().clone() for k, v in g.state_dict().items()}
    if stored_noise == "zero":
        for k in t:
            if k.startswith("noises."):
                t[k].zero_()
    t["latent_avg"] = g.mean_latent(4096).float().contiguous()
    return t


def perceptual_tensors(d):
    """The discriminator state dict `d`'s feature trunk, as the app's perceptual file holds it."""
    return {k: v.float().contiguous().clone() for k, v in d.items()
            if (k.startswith("from_rgb.") or k.startswith("blocks.")) and not k.endswith(".kernel")}


def perceptual_metadata(interim=None):
    """The perceptual file's metadata; `interim` marks a stand-in (the app shows the note)."""
    meta = {"kind": "discriminator trunk, LPIPS-style unit-normalized features"}
    if interim:
        meta["interim"] = interim
    return meta


def encoder_tensors(e):
    return {k: v.detach().float().contiguous().clone() for k, v in e.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["generator", "encoder", "perceptual"])
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--stored-noise", choices=["keep", "zero"], default="keep",
                   help="the generator's fixed noise buffers (the app's default noise): as trained, or zero")
    p.add_argument("--dtype", choices=["f16", "f32"], default="f16",
                   help="stored precision (the app computes in f32 either way; parity.py reads the "
                        "stored values, so its golden cases match the file)")
    p.add_argument("--interim", default=None,
                   help="mark the file as an interim stand-in; the app shows this note")
    a = p.parse_args()
    dtype = torch.float16 if a.dtype == "f16" else torch.float32

    def store(tensors, path, metadata):
        save_file({k: v.to(dtype) for k, v in tensors.items()}, path, metadata=metadata)
    if a.kind == "generator":
        g, s = generator_from_checkpoint(a.checkpoint)
        meta = {"config": json.dumps(g.config()),
                "training": json.dumps({"kimg": s["state"]["nimg"] / 1000, "steps": s["state"]["step"]})}
        if a.interim:
            meta["interim"] = a.interim
        meta["stored_noise"] = a.stored_noise
        store(generator_tensors(g, a.stored_noise), a.out, metadata=meta)
    elif a.kind == "perceptual":
        d = torch.load(a.checkpoint, map_location="cpu", weights_only=False)["d"]
        store(perceptual_tensors(d), a.out, metadata=perceptual_metadata(a.interim))
    else:
        e, s = encoder_from_checkpoint(a.checkpoint)
        meta = {"config": json.dumps(e.cfg), "training": json.dumps({"steps": s["state"]["step"]})}
        if a.interim:
            meta["interim"] = a.interim
        store(encoder_tensors(e), a.out, metadata=meta)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

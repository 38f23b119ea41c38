"""Parity of the Rust app with the trainer on the exported weights.

  python -m training.parity [--weights weights] [--bin PATH] [--fixture tests/fixtures/bundled]

Builds the trainer's PyTorch generator and encoder from the exported safetensors, runs fixed
inputs through them, writes the inputs and outputs as golden files for the Rust test
`tests/bundled_model.rs`, and — given the facestyle binary — runs the same inputs through the
Rust CLI (`render --raw`, `invert --input-tensor --raw`) and prints the largest differences
(they must stay ≤ 1e-3).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from training.fse import FeatureStyleEncoder
from training.perceptual import DiscriminatorFeatures
from training.stylegan2 import Discriminator, Generator

LIMIT = 1e-3


def read(path):
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k).float() for k in f.keys()}, f.metadata() or {}


def load_generator(path):
    t, meta = read(path)
    c = json.loads(meta["config"])
    g = Generator(c["size"], c["style_dim"], c["n_mlp"], c["channels"], c["lr_mlp"])
    avg = t.pop("latent_avg")
    g.load_state_dict(t)
    return g.eval(), avg


def load_encoder(path):
    t, meta = read(path)
    c = json.loads(meta["config"])
    e = FeatureStyleEncoder(**{k: v for k, v in c.items() if k != "bn_eps"})
    e.load_exported(t)
    return e.eval(), c


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights")
    p.add_argument("--fixture", default="tests/fixtures/bundled")
    p.add_argument("--bin", default=None, help="facestyle binary: also compare through the CLI")
    a = p.parse_args()
    gen_path = os.path.join(a.weights, "generator.safetensors")
    enc_path = os.path.join(a.weights, "encoder.safetensors")
    g, avg = load_generator(gen_path)
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(2, g.style_dim, generator=gen)
    noise = [torch.randn(n.shape, generator=gen) for n in g.stored_noise()]
    os.makedirs(a.fixture, exist_ok=True)
    inputs = {"z": z, **{f"noise_{j}": n for j, n in enumerate(noise)}}
    with torch.no_grad():
        w = g.mapping(z)
        image = g.synthesis(w[:, None].repeat(1, g.n_latent, 1), noise)
    save_file(inputs, os.path.join(a.fixture, "case_z_in.safetensors"))
    save_file({"w": w.contiguous(), "image": image.contiguous()}, os.path.join(a.fixture, "case_z_out.safetensors"))
    have_encoder = os.path.exists(enc_path)
    if have_encoder:
        e, cfg = load_encoder(enc_path)
        side = cfg["input_resolution"]
        # a face the generator made, at the encoder's input size, as the encoder test input
        x = torch.nn.functional.interpolate(image, size=(side, side), mode="bilinear", align_corners=False)
        with torch.no_grad():
            delta, feat = e(x)
            wplus = delta + avg
            recon = g.synthesis(wplus, g.stored_noise(), inject=(cfg["k"], feat))
        save_file({"image": x.contiguous()}, os.path.join(a.fixture, "case_encode_in.safetensors"))
        save_file({"wplus": wplus.contiguous(), "feature": feat.contiguous(), "image": recon.contiguous()},
                  os.path.join(a.fixture, "case_encode_out.safetensors"))
    perc_path = os.path.join(a.weights, "perceptual.safetensors")
    if os.path.exists(perc_path):
        t, _ = read(perc_path)
        n_blocks = len({k.split(".")[1] for k in t if k.startswith("blocks.")})
        chans = [t["from_rgb.weight"].shape[0]] + [t[f"blocks.{i}.conv2.weight"].shape[0] for i in range(n_blocks)]
        d = Discriminator(g.size, list(reversed(chans)))
        missing, unexpected = d.load_state_dict(t, strict=False)
        assert not unexpected and all(not k.startswith(("from_rgb", "blocks")) or k.endswith("kernel")
                                      for k in missing), (missing, unexpected)
        x0 = image.clamp(-1, 1)
        x1 = torch.flip(x0, [3])
        with torch.no_grad():
            dist = DiscriminatorFeatures(d).distance(x0, x1)
        save_file({"x0": x0.contiguous(), "x1": x1.contiguous()}, os.path.join(a.fixture, "case_perceptual_in.safetensors"))
        save_file({"distance": dist.contiguous()}, os.path.join(a.fixture, "case_perceptual_out.safetensors"))
    print(f"wrote golden cases to {a.fixture}")
    if not a.bin:
        return
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "render.safetensors")
        zin = os.path.join(a.fixture, "case_z_in.safetensors")
        subprocess.run([a.bin, "--device", "cpu", "render", "--weights", gen_path, "--latents", zin, "--noise", zin,
                        "--out", os.path.join(tmp, "r"), "--raw", raw], check=True, stdout=subprocess.DEVNULL)
        r = load_file(raw)
        worst["generator w"] = (r["w"] - w).abs().max().item()
        worst["generator image"] = (r["image"] - image).abs().max().item()
        if have_encoder:
            raw = os.path.join(tmp, "invert.safetensors")
            subprocess.run([a.bin, "--device", "cpu", "invert", "--weights", gen_path, "--encoder", enc_path,
                            "--input-tensor", os.path.join(a.fixture, "case_encode_in.safetensors"),
                            "--out", os.path.join(tmp, "i"), "--raw", raw], check=True, stdout=subprocess.DEVNULL)
            r = load_file(raw)
            worst["encoder wplus"] = (r["wplus"] - wplus).abs().max().item()
            worst["encoder feature"] = (r["feature"] - feat).abs().max().item()
            worst["encoder image"] = (r["image"] - recon).abs().max().item()
    bad = False
    for k, v in worst.items():
        bad |= v > LIMIT
        print(f"{k:18s} max|err| {v:.2e} {'ok' if v <= LIMIT else 'FAIL'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

"""Parity of the Rust app with the trainer on the exported weights.

  python -m training.parity [--weights weights] [--bin PATH] [--fixture tests/fixtures/bundled]

Builds the trainer's PyTorch generator and encoder from the exported safetensors, runs fixed
inputs through them, writes the inputs and outputs as golden files for the Rust test
`tests/bundled_model.rs` (the identity network of the encoder's identity loss included), and
— given the facestyle binary — runs the same inputs through the Rust CLI (`render --raw`, `invert --input-tensor --raw`) and prints the largest differences
(they must stay ≤ 1e-3).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

from training.exported import load_encoder, load_generator, load_perceptual_trunk
from training.face_id import SIDE, FaceIdNet
from training.perceptual import DiscriminatorFeatures

LIMIT = 1e-3


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
        d = load_perceptual_trunk(perc_path, g.size)
        x0 = image.clamp(-1, 1)
        x1 = torch.flip(x0, [3])
        with torch.no_grad():
            dist = DiscriminatorFeatures(d).distance(x0, x1)
        save_file({"x0": x0.contiguous(), "x1": x1.contiguous()}, os.path.join(a.fixture, "case_perceptual_in.safetensors"))
        save_file({"distance": dist.contiguous()}, os.path.join(a.fixture, "case_perceptual_out.safetensors"))
    face_id_path = os.path.join(a.weights, "face_id", "face_recognition.safetensors")
    if os.path.exists(face_id_path):
        faces = torch.rand(2, 3, SIDE, SIDE, generator=gen) * 255
        with torch.no_grad():
            embedding = FaceIdNet(face_id_path)(faces)
        save_file({"faces": faces.contiguous()}, os.path.join(a.fixture, "case_face_id_in.safetensors"))
        save_file({"embedding": embedding.contiguous()}, os.path.join(a.fixture, "case_face_id_out.safetensors"))
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

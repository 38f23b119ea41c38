"""How editable an encoder's inversions are: the reconstruction / editability trade-off that
decides K (the FSE paper's Fig. 22, measured instead of shown).

  python -m training.editability weights/encoder.safetensors runs/k1/encoder.safetensors ...

On generated faces the true edit is known: for x = G(w) and a direction d, the encoder's
inversion (w+, F) edited by Eq. 1 — G(w+ + a·d, F + G^K(w+ + a·d) − G^K(w+)) — should equal
G(w + a·d). Per encoder it prints, over `--faces` faces and every named direction at ±a:
  recon PSNR   inversion vs x (a = 0)
  edit PSNR    edited inversion vs the true edit G(w + a·d)
  strength     ‖edited inversion − inversion‖ / ‖G(w + a·d) − x‖ (1 = the edit is carried out
               in full; a feature code that holds too much mutes edits below 1)
The generator and the directions are the exported files (default: weights/). Noise is zero,
as the bundled generator stores it.
"""

import argparse
import json

import torch
import torch.nn.functional as F

from training.exported import load_encoder, load_generator, read
from training.util import MEASURE_SEED


def psnr(x, y):
    """PSNR of images in [-1, 1] (peak-to-peak 2), per image."""
    mse = ((x.clamp(-1, 1) - y.clamp(-1, 1)) ** 2).mean((1, 2, 3))
    return 10 * torch.log10(4 / mse)


def load_directions(path, n_latent):
    """[(name, mask over w+ entries [n_latent, 1], unit direction)] of a direction set."""
    t, meta = read(path)
    out = []
    for i, d in enumerate(json.loads(meta["directions"])["directions"]):
        mask = torch.zeros(n_latent, 1)
        mask[d["layers"]["start"]:d["layers"]["end"]] = 1
        out.append((d["name"], mask, t[f"direction.{i}"]))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("encoders", nargs="+", help="exported encoder safetensors files")
    p.add_argument("--generator", default="weights/generator.safetensors")
    p.add_argument("--directions", default="weights/directions.safetensors")
    p.add_argument("--faces", type=int, default=64)
    p.add_argument("--amount", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=MEASURE_SEED)
    a = p.parse_args()
    torch.set_grad_enabled(False)
    g, avg = load_generator(a.generator)
    noise = [torch.zeros_like(n) for n in g.stored_noise()]
    dirs = load_directions(a.directions, g.n_latent)
    z = torch.randn(a.faces, g.style_dim, generator=torch.Generator().manual_seed(a.seed))
    w = g.mapping(z)[:, None].repeat(1, g.n_latent, 1)
    x = g.synthesis(w, noise)
    truth = {(name, s): g.synthesis(w + s * a.amount * mask * d, noise)
             for name, mask, d in dirs for s in (-1, 1)}
    print(f"{a.faces} generated faces, {len(dirs)} directions at ±{a.amount:g}")
    print(f"{'encoder':40s} {'K':>2s} {'F':>10s} {'recon PSNR':>10s} {'edit PSNR':>10s} {'strength':>9s}")
    for path in a.encoders:
        e, cfg = load_encoder(path)
        side = cfg["input_resolution"]
        xin = x if side == g.size else F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        delta, feat = e(xin)
        wplus = delta + avg
        k = cfg["k"]
        recon, gk = g.synthesis(wplus, noise, inject=(k, feat)), g.synthesis(wplus, noise, return_feature=k)[1]
        edit_psnr, strength = [], []
        for name, mask, d in dirs:
            for s in (-1, 1):
                w2 = wplus + s * a.amount * mask * d
                _, gk2 = g.synthesis(w2, noise, return_feature=k)
                edited = g.synthesis(w2, noise, inject=(k, feat + gk2 - gk))
                t = truth[(name, s)]
                edit_psnr.append(psnr(edited, t))
                strength.append((edited - recon).flatten(1).norm(dim=1) / (t - x).flatten(1).norm(dim=1))
        shape = "x".join(str(v) for v in feat.shape[1:])
        print(f"{path:40s} {k:2d} {shape:>10s} {psnr(recon, x).mean():10.2f} "
              f"{torch.cat(edit_psnr).mean():10.2f} {torch.cat(strength).mean():9.3f}", flush=True)
        per = [torch.cat(strength[2 * i:2 * i + 2]).mean().item() for i in range(len(dirs))]
        print("    strength per direction: " + ", ".join(f"{n} {v:.2f}" for (n, _, _), v in zip(dirs, per)))


if __name__ == "__main__":
    main()

"""Checks the trainer's models against the golden fixtures (reference PyTorch code outputs):
`python -m training.check_reference` from the repository root."""

import json
import sys

import torch
from safetensors.torch import load_file
from safetensors import safe_open

from training.fse import FeatureStyleEncoder
from training.stylegan2 import Generator

FIX = "tests/fixtures"


def load_with_meta(path):
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


def worst(a, b):
    return (a - b).abs().max().item()


def main():
    sd, meta = load_with_meta(f"{FIX}/stylegan2_64/weights.safetensors")
    cfg = json.loads(meta["config"])
    channels = [cfg["channels"][str(2**i)] for i in range(2, 7)]
    g = Generator(cfg["size"], cfg["style_dim"], cfg["n_mlp"], channels, cfg["lr_mlp"])
    g.load_state_dict(sd, strict=True)
    g.eval()
    errs = {}
    with torch.no_grad():
        i = load_file(f"{FIX}/stylegan2_64/case_wplus_in.safetensors")
        o = load_file(f"{FIX}/stylegan2_64/case_wplus_out.safetensors")
        noise = [i[f"noise_{j}"] for j in range(g.num_layers)]
        img, feat = g.synthesis(i["wplus"], noise, return_feature=5)
        errs["wplus.image"] = worst(img, o["image"])
        errs["wplus.feature"] = worst(feat, o["feature"])
        i = load_file(f"{FIX}/stylegan2_64/case_inject_in.safetensors")
        o = load_file(f"{FIX}/stylegan2_64/case_inject_out.safetensors")
        noise = [i[f"noise_{j}"] for j in range(g.num_layers)]
        errs["inject.image"] = worst(g.synthesis(i["wplus"], noise, inject=(5, i["feature"])), o["image"])
        i = load_file(f"{FIX}/stylegan2_64/case_z_in.safetensors")
        o = load_file(f"{FIX}/stylegan2_64/case_z_out.safetensors")
        w = g.mapping(i["z"])
        errs["z.w"] = worst(w, o["w"])
        avg = o["latent_avg"]
        wt = avg + 0.7 * (w - avg)
        noise = [i[f"noise_{j}"] for j in range(g.num_layers)]
        img = g.synthesis(wt[:, None].repeat(1, g.n_latent, 1), noise)
        errs["z.image"] = worst(img, o["image"])

    sd, meta = load_with_meta(f"{FIX}/fse_encoder_64/weights.safetensors")
    c = json.loads(meta["config"])
    e = FeatureStyleEncoder(c["widths"], c["layers"], c["fmaps"], c["style_dim"], c["n_styles"],
                            c["content_stride"], c["input_resolution"], c["k"])
    e.load_exported(sd)
    e.eval()
    with torch.no_grad():
        i = load_file(f"{FIX}/fse_encoder_64/case_encode_in.safetensors")
        o = load_file(f"{FIX}/fse_encoder_64/case_encode_out.safetensors")
        d, f = e(i["image"])
        errs["encode.wplus_delta"] = worst(d, o["wplus_delta"])
        errs["encode.feature"] = worst(f, o["feature"])
    bad = False
    for k, v in errs.items():
        ok = v <= 1e-4
        bad |= not ok
        print(f"{k:22s} max|err| {v:.2e} {'ok' if ok else 'FAIL'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

"""The generator run's resumable state as one small file that lives in git (`training/state/`).

A full checkpoint (both Adam optimizers' moments, f32) is several times the size of the
networks; what survives machines is G, G_ema and D in f16 plus the counters. Training resumes
from it with fresh optimizers and a short learning-rate warm-up (`train_generator.py`).

  python -m training.state save RUN/checkpoint.pt training/state/g128.safetensors
  python -m training.state show training/state/g128.safetensors
  python -m training.state export training/state/g128.safetensors /tmp/g128.safetensors  # G_ema for the app
  python -m training.state export training/state/g128.safetensors /tmp/p128.safetensors --perceptual  # D's trunk
"""

import argparse
import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from training.stylegan2 import Generator

NETS = ("g", "g_ema", "d")


def save(checkpoint, out):
    s = torch.load(checkpoint, map_location="cpu", weights_only=False)
    tensors = {}
    for net in NETS:
        for k, v in s[net].items():
            if not k.endswith(".kernel"):  # blur kernels are constants the models rebuild
                tensors[f"{net}.{k}"] = v.detach().to(torch.float16).contiguous()
    meta = {"generator_config": json.dumps(s["generator_config"]), "state": json.dumps(s["state"]),
            "discriminator_channels": json.dumps(s["generator_config"]["channels"][:-1]
                                                 + [s["d"]["from_rgb.weight"].shape[0]])}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, out)
    return s["state"]


def load(path):
    """({net: state dict in f32}, generator config, counters) of a saved state."""
    nets = {n: {} for n in NETS}
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        for k in f.keys():
            net, rest = k.split(".", 1)
            nets[net][rest] = f.get_tensor(k).float()
    return nets, json.loads(meta["generator_config"]), json.loads(meta["state"])


def ema_generator(cfg, weights, source):
    """The generator of `cfg` holding `weights` (G_ema's state dict; the blur kernels, which
    states leave out, are rebuilt); `source` names the file in the error."""
    g = Generator(cfg["size"], cfg["style_dim"], cfg["n_mlp"], cfg["channels"], cfg["lr_mlp"])
    missing, unexpected = g.load_state_dict(weights, strict=False)
    if unexpected or any(not k.endswith(".kernel") for k in missing):
        raise KeyError(f"{source}: g_ema missing {missing}, unexpected {unexpected}")
    return g


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("checkpoint")
    s.add_argument("out")
    sh = sub.add_parser("show")
    sh.add_argument("state")
    ex = sub.add_parser("export", help="G_ema as the app's generator file (f32, zero stored noise)")
    ex.add_argument("state")
    ex.add_argument("out")
    ex.add_argument("--interim", default="128-px generator in training (not the shipped model)",
                    help="the note that marks the file as a stand-in (the app shows it); '' for a release")
    ex.add_argument("--perceptual", action="store_true",
                    help="the discriminator's feature trunk instead (the app's perceptual file, f16)")
    a = p.parse_args()
    if a.cmd == "save":
        st = save(a.checkpoint, a.out)
        print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB) at {st['nimg'] / 1000:.1f} kimg")
    elif a.cmd == "export" and a.perceptual:
        from training.export import perceptual_metadata, perceptual_tensors
        nets, _, st = load(a.state)
        tensors = {k: v.half() for k, v in perceptual_tensors(nets["d"]).items()}
        save_file(tensors, a.out, metadata=perceptual_metadata(a.interim))
        print(f"wrote {a.out} at {st['nimg'] / 1000:.1f} kimg")
    elif a.cmd == "export":
        from training.export import generator_tensors
        nets, cfg, st = load(a.state)
        g = ema_generator(cfg, nets["g_ema"], a.state)
        meta = {"config": json.dumps(g.config()), "stored_noise": "zero",
                "training": json.dumps({"kimg": st["nimg"] / 1000, "steps": st["step"]})}
        if a.interim:
            meta["interim"] = a.interim
        save_file(generator_tensors(g.eval().requires_grad_(False), "zero"), a.out, metadata=meta)
        print(f"wrote {a.out} at {st['nimg'] / 1000:.1f} kimg")
    else:
        _, cfg, st = load(a.state)
        print(json.dumps(dict(generator=cfg, state=st), indent=1))


if __name__ == "__main__":
    main()

"""Trains the bundled StyleGAN2 generator on the faces of `../shared/data/faces`.

Non-saturating logistic loss, lazy R1 on reals, DiffAugment on every discriminator input,
style-mixing regularization, EMA of the generator weights (the exported model). Runs for
`--minutes` and writes a resumable checkpoint every `--ckpt-minutes` (atomically), so it fits
10-minute device calls and resumes across calls and sessions. Path-length regularization is
left out (small model, small budget). See training/README.md for the commands.
"""

import argparse
import copy
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from training.data import Sampler, load_faces
from training.diffaug import diff_augment
from training.stylegan2 import Discriminator, Generator
from training.util import RunSchedule, atomic_save, device_and_threads, save_grid


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/faces")
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/facestyle-train"))
    p.add_argument("--run", required=True, help="run folder: checkpoint.pt, samples, log")
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--channels", default="256,256,128,64,32", help="channels at 4, 8, … res px")
    p.add_argument("--style-dim", type=int, default=256)
    p.add_argument("--n-mlp", type=int, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--r1-gamma", type=float, default=0.1)
    p.add_argument("--r1-every", type=int, default=16)
    p.add_argument("--mixing", type=float, default=0.9)
    p.add_argument("--ema-kimg", type=float, default=None, help="EMA half-life (default batch·10/32)")
    p.add_argument("--minutes", type=float, default=8.0, help="stop (with a checkpoint) after this long")
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--max-kimg", type=float, default=1e9)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def mixed_wplus(g, z, mixing):
    """w+ from one z, or two z's crossing over at a random layer (style mixing)."""
    w = g.mapping(z)
    wplus = w[:, None].repeat(1, g.n_latent, 1)
    if mixing > 0 and np.random.random() < mixing:
        w2 = g.mapping(torch.randn_like(z))
        cut = np.random.randint(1, g.n_latent)
        wplus = torch.cat([wplus[:, :cut], w2[:, None].repeat(1, g.n_latent - cut, 1)], 1)
    return wplus


def main():
    a = parse_args()
    dev = device_and_threads()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.run, exist_ok=True)
    channels = [int(c) for c in a.channels.split(",")]
    train, _ = load_faces(a.data, a.res, a.cache)
    sample = Sampler(train, a.seed)
    g = Generator(a.res, a.style_dim, a.n_mlp, channels).to(dev)
    d = Discriminator(a.res, channels).to(dev)
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    c = a.r1_every / (a.r1_every + 1)
    opt_g = torch.optim.Adam(g.parameters(), lr=a.lr, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=a.lr * c, betas=(0.0, 0.99**c))
    state = dict(step=0, nimg=0, seconds=0.0)
    ckpt = os.path.join(a.run, "checkpoint.pt")
    if os.path.exists(ckpt):
        s = torch.load(ckpt, map_location=dev, weights_only=False)
        g.load_state_dict(s["g"]), d.load_state_dict(s["d"]), g_ema.load_state_dict(s["g_ema"])
        opt_g.load_state_dict(s["opt_g"]), opt_d.load_state_dict(s["opt_d"])
        state = s["state"]
        sample.rng = np.random.default_rng(a.seed + state["step"])
        print(f"resumed at step {state['step']} ({state['nimg'] / 1000:.1f} kimg)")
    with open(os.path.join(a.run, "config.json"), "w") as f:
        json.dump(dict(generator=g.config(), args=vars(a)), f, indent=1)
    fixed_z = torch.randn(16, a.style_dim, generator=torch.Generator().manual_seed(123)).to(dev)
    ema_kimg = a.ema_kimg if a.ema_kimg is not None else a.batch * 10 / 32
    schedule = RunSchedule(a.run, a.minutes, a.ckpt_minutes)
    last_r1 = 0.0

    def checkpoint():
        atomic_save(dict(g=g.state_dict(), d=d.state_dict(), g_ema=g_ema.state_dict(),
                         opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(), state=state,
                         generator_config=g.config()), ckpt)
        with torch.no_grad():
            avg = g_ema.mean_latent(4096)
            w = g_ema.mapping(fixed_z)
            w = avg + 0.7 * (w - avg)
            img = g_ema.synthesis(w[:, None].repeat(1, g_ema.n_latent, 1), g_ema.stored_noise())
        save_grid(img, os.path.join(a.run, "samples.png"))
        save_grid(img, os.path.join(a.run, f"samples_{state['nimg'] // 1000:06d}k.png"))

    while True:
        step_start = time.time()
        real = sample(a.batch).to(dev)
        # discriminator
        z = torch.randn(a.batch, a.style_dim, device=dev)
        with torch.no_grad():
            fake = g.synthesis(mixed_wplus(g, z, a.mixing))
        loss_d = F.softplus(d(diff_augment(fake))).mean() + F.softplus(-d(diff_augment(real))).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        if state["step"] % a.r1_every == 0:
            real.requires_grad_(True)
            out = d(diff_augment(real))
            (grad,) = torch.autograd.grad(out.sum(), real, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            opt_d.zero_grad(set_to_none=True)
            (a.r1_gamma / 2 * r1 * a.r1_every + 0 * out[0, 0]).backward()
            opt_d.step()
            last_r1 = r1.item()
        # generator
        z = torch.randn(a.batch, a.style_dim, device=dev)
        fake = g.synthesis(mixed_wplus(g, z, a.mixing))
        loss_g = F.softplus(-d(diff_augment(fake))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        # EMA
        state["nimg"] += a.batch
        ema_nimg = min(ema_kimg * 1000, state["nimg"] * 0.05)
        beta = 0.5 ** (a.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for pe, p in zip(g_ema.parameters(), g.parameters()):
                pe.lerp_(p, 1 - beta)
            for be, b in zip(g_ema.buffers(), g.buffers()):
                be.copy_(b)
        if schedule.tick(state, step_start,
                         lambda: f"kimg {state['nimg'] / 1000:.2f} d {loss_d.item():.3f} "
                                 f"g {loss_g.item():.3f} r1 {last_r1:.3f}",
                         state["nimg"] >= a.max_kimg * 1000, checkpoint):
            break


if __name__ == "__main__":
    main()

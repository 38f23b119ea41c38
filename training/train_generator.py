"""Trains the bundled StyleGAN2 generator on the faces of `../shared/data/faces`.

Non-saturating logistic loss, lazy R1 on reals, DiffAugment on every discriminator input,
style-mixing regularization, EMA of the generator weights (the exported model). Runs for
`--minutes` and writes a resumable checkpoint every `--ckpt-minutes` (atomically), so it fits
10-minute device calls and resumes across calls and sessions; SIGTERM/SIGINT end it the same
way (checkpoint first). Path-length regularization is left out (small model, small budget).

Where the run folder has no checkpoint yet, a run starts from (first that applies):
`--resume-state` (G, G_ema, D of `training/state/`, fresh optimizers with a learning-rate
warm-up), `--grow-from` (an exported generator and discriminator trunk one resolution lower,
grown by `training/grow.py`; the discriminator catches up against the frozen generator for
`--d-warmup-kimg` first), or random weights. `--precision bf16` runs the forward passes under
bf16 autocast (fp32 master weights; the R1 term stays fp32); `auto` uses it only where the
hardware has native bf16. See training/README.md.
"""

import argparse
import copy
import json
import os
import signal
import time

import numpy as np
import torch
import torch.nn.functional as F

from training.data import Sampler, load_faces
from training.diffaug import diff_augment
from training import state as saved_state
from training.grow import grow_discriminator, grow_generator, widen_top
from training.stylegan2 import Discriminator, Generator
from training.util import RunSchedule, atomic_save, device_and_threads, save_grid, use_bf16


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
    p.add_argument("--g-lr", type=float, default=None,
                   help="generator learning rate (default --lr); lower keeps a weak discriminator ahead")
    p.add_argument("--r1-gamma", type=float, default=0.1)
    p.add_argument("--r1-every", type=int, default=16)
    p.add_argument("--mixing", type=float, default=0.9)
    p.add_argument("--ema-kimg", type=float, default=None, help="EMA half-life (default batch·10/32)")
    p.add_argument("--minutes", type=float, default=8.0, help="stop (with a checkpoint) after this long")
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--max-kimg", type=float, default=1e9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume-state", default=None, help="state file of training/state/ to start from")
    p.add_argument("--grow-from", default=None, help="exported generator one resolution lower to grow")
    p.add_argument("--grow-trunk", default="weights/perceptual.safetensors",
                   help="its discriminator trunk (the exported perceptual network)")
    p.add_argument("--top-channels", type=int, default=16, help="channels of the grown top block")
    p.add_argument("--d-top-channels", type=int, default=None,
                   help="channels of the grown discriminator's input block (default: the generator's)")
    p.add_argument("--widen-top", type=int, default=None,
                   help="with --resume-state: widen the generator's top block to this many channels, "
                        "computing the same image at first (training/grow.py; the discriminator stays)")
    p.add_argument("--d-steps", type=int, default=1, help="discriminator steps per generator step")
    p.add_argument("--train-top-only-kimg", type=float, default=0.0,
                   help="for this long (from where the run starts; kept across resumes) train only the generator's top block")
    p.add_argument("--top-only-until-kimg", type=float, default=None,
                   help="train only the top block until this kimg (absolute; replaces the state's end)")
    p.add_argument("--regrow-d", action="store_true",
                   help="with --resume-state: replace its discriminator by a fresh grown one")
    p.add_argument("--d-warmup-kimg", type=float, default=20.0,
                   help="after growing: discriminator-only steps against the frozen generator "
                        "(from kimg 0; a shorter value given on resume ends a running warm-up)")
    p.add_argument("--lr-warmup-kimg", type=float, default=2.0,
                   help="learning-rate ramp after fresh optimizers (state resume)")
    p.add_argument("--join-ramp-kimg", type=float, default=20.0,
                   help="when the old generator layers join after the top-only phase, their "
                        "learning rate alone ramps up from 1 %% over this long (D and the top block "
                        "stay at full rate)")
    p.add_argument("--old-lr-scale", type=float, default=1.0,
                   help="learning-rate factor for the old generator layers throughout, once they have "
                        "joined (a guard against the collapse of a full-rate join, LOG 2026-12-03)")
    p.add_argument("--freeze-mapping", action="store_true",
                   help="the mapping network (style.*) stays as it is when the old layers join: "
                        "only the synthesis layers train (a guard against the joins' collapse onto "
                        "one template face, LOG 2026-12-03)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="bf16 autocast for the forward passes; auto = bf16 on CUDA or on a CPU with "
                        "native bf16 (AVX-512 BF16 / AMX), else fp32 (emulated bf16 measured 16x "
                        "slower than fp32 on an AVX2-only EPYC)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the synthesis network and the discriminator (not R1's double "
                        "backward): fewer, fused kernels where a step is bound by launching them, as on "
                        "a GPU (LOG 2026-12-04: ≈ 15,000 ops per step); the first step compiles (≈ 80 s "
                        "on this CPU). Same losses as eager up to bf16 rounding")
    return p.parse_args()


def lr_ramp(state, since_key, kimg):
    """1 from `kimg` after the state's `since_key` (or when it has none), linear before."""
    return min(1.0, (state["nimg"] - state.get(since_key, -1e18)) / (kimg * 1000 + 1e-8))


def mixed_wplus(g, z, mixing):
    """w+ from one z, or two z's crossing over at a random layer (style mixing)."""
    w = g.mapping(z)
    wplus = w[:, None].repeat(1, g.n_latent, 1)
    if mixing > 0 and np.random.random() < mixing:
        w2 = g.mapping(torch.randn_like(z))
        cut = np.random.randint(1, g.n_latent)
        wplus = torch.cat([wplus[:, :cut], w2[:, None].repeat(1, g.n_latent - cut, 1)], 1)
    return wplus


def build_models(a, ckpt):
    """(G, D, G_ema, counters, where they came from): the run's checkpoint, else a saved
    state, else a grown smaller model, else random weights at --res/--channels."""
    if os.path.exists(ckpt):
        s = torch.load(ckpt, map_location="cpu", weights_only=False)
        cfg = s["generator_config"]
        g, d, g_ema = new_models(cfg, stored_d_top(s["d"]))
        g.load_state_dict(s["g"]), d.load_state_dict(s["d"]), g_ema.load_state_dict(s["g_ema"])
        state = s["state"]
        if state.get("d_warmup_left", 0) > 0:  # the warm-up (from nimg 0) is --d-warmup-kimg long
            since = state["nimg"] - state.get("d_warmup_from", 0)
            state["d_warmup_left"] = min(state["d_warmup_left"], max(0.0, a.d_warmup_kimg * 1000 - since))
        return g, d, g_ema, state, "checkpoint"
    if a.resume_state and os.path.exists(a.resume_state):
        nets, cfg, state = saved_state.load(a.resume_state)
        g, d, g_ema = new_models(cfg, a.d_top_channels if a.regrow_d else stored_d_top(nets["d"]))
        loaded = (("g", g), ("g_ema", g_ema)) if a.regrow_d else (("g", g), ("d", d), ("g_ema", g_ema))
        if a.regrow_d:  # a fresh discriminator from the exported trunk, warmed up again
            d = grow_discriminator(a.grow_trunk, g.channels, a.d_top_channels)
            state["d_warmup_left"] = a.d_warmup_kimg * 1000
            state["d_warmup_from"] = state["nimg"]
        for net, model in loaded:
            missing, unexpected = model.load_state_dict(nets[net], strict=False)
            if unexpected or any(not k.endswith(".kernel") for k in missing):
                raise KeyError(f"{a.resume_state}: {net} missing {missing}, unexpected {unexpected}")
        state["fresh_optimizers_at"] = state["nimg"]
        if a.widen_top and a.widen_top != g.channels[-1]:
            g, g_ema = widen_top(g, a.widen_top, a.seed), widen_top(g_ema, a.widen_top, a.seed)
            state["widened_at"] = state["nimg"]
        return g, d, g_ema, state, f"state {a.resume_state}"
    if a.grow_from:
        g, _ = grow_generator(a.grow_from, a.top_channels)
        d = grow_discriminator(a.grow_trunk, g.channels, a.d_top_channels)
        g_ema = copy.deepcopy(g).eval().requires_grad_(False)
        state = dict(step=0, nimg=0, seconds=0.0, d_warmup_left=a.d_warmup_kimg * 1000,
                     grown_from=a.grow_from)
        return g, d, g_ema, state, f"grown from {a.grow_from}"
    channels = [int(c) for c in a.channels.split(",")]
    g, d, g_ema = new_models(dict(size=a.res, style_dim=a.style_dim, n_mlp=a.n_mlp, channels=channels, lr_mlp=0.01))
    return g, d, g_ema, dict(step=0, nimg=0, seconds=0.0), "random weights"


def stored_d_top(d_state):
    """The input-block width of a stored discriminator (it may differ from the generator's top
    block once that has been widened)."""
    return d_state["from_rgb.weight"].shape[0]


def d_channels(channels, top=None):
    """The discriminator's channel table: the generator's, with a wider input block if asked."""
    return list(channels[:-1]) + [top or channels[-1]]


def new_models(cfg, d_top_channels=None):
    g = Generator(cfg["size"], cfg["style_dim"], cfg["n_mlp"], cfg["channels"], cfg["lr_mlp"])
    d = Discriminator(cfg["size"], d_channels(cfg["channels"], d_top_channels))
    return g, d, copy.deepcopy(g).eval().requires_grad_(False)


def main():
    a = parse_args()
    dev = device_and_threads()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.run, exist_ok=True)
    ckpt = os.path.join(a.run, "checkpoint.pt")
    g, d, g_ema, state, source = build_models(a, ckpt)
    g, d, g_ema = g.to(dev), d.to(dev), g_ema.to(dev)
    if state["step"] > 0:
        # a resumed run draws new latents: seeded by `--seed` alone, every resume replayed the
        # same first batches, and the generator learned those few z's apart (their w's sit a
        # median 2x farther from the mean than fresh ones)
        torch.manual_seed(a.seed + state["step"])
    train, _ = load_faces(a.data, g.size, a.cache)
    sample = Sampler(train, a.seed + state["step"])
    c = a.r1_every / (a.r1_every + 1)
    g_lr = a.g_lr if a.g_lr is not None else a.lr
    # the generator's top block and the older layers in two groups: the old ones get a learning
    # rate ramp of their own when they join after a top-only phase (see training/state/LOG.md)
    top = (f"convs.{len(g.convs) - 2}.", f"convs.{len(g.convs) - 1}.", f"to_rgbs.{len(g.to_rgbs) - 1}.")
    opt_g = torch.optim.Adam(
        [dict(params=[p for n, p in g.named_parameters() if n.startswith(top)], name="top"),
         dict(params=[p for n, p in g.named_parameters() if not n.startswith(top)], name="old")],
        lr=g_lr, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=a.lr * c, betas=(0.0, 0.99**c))
    if source == "checkpoint":
        s = torch.load(ckpt, map_location=dev, weights_only=False)
        opt_d.load_state_dict(s["opt_d"])
        try:
            opt_g.load_state_dict(s["opt_g"])
        except ValueError:  # a checkpoint from before the two groups: G's optimizer starts afresh
            print("generator optimizer state has another layout: fresh, with the lr ramp", flush=True)
            state["fresh_optimizers_at"] = state["nimg"]
    print(f"{source}: {g.size} px {g.channels}, step {state['step']} ({state['nimg'] / 1000:.1f} kimg)", flush=True)
    base_lr = {opt_g: g_lr, opt_d: a.lr * c}
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bf16 = use_bf16(a.precision, dev)
    print(f"precision: {'bf16 autocast' if bf16 else 'fp32'}", flush=True)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    # the R1 term's double backward stays eager (torch.compile does not differentiate twice)
    synthesis = torch.compile(g.synthesis) if a.compile else g.synthesis
    discriminator = torch.compile(d) if a.compile else d
    with open(os.path.join(a.run, "config.json"), "w") as f:
        json.dump(dict(generator=g.config(), args=vars(a)), f, indent=1)
    fixed_z = torch.randn(16, g.style_dim, generator=torch.Generator().manual_seed(123)).to(dev)
    ema_kimg = a.ema_kimg if a.ema_kimg is not None else a.batch * 10 / 32
    schedule = RunSchedule(a.run, a.minutes, a.ckpt_minutes)
    last_r1 = 0.0
    # the generator's top block alone at first (the old layers wait): see training/state/LOG.md
    if a.train_top_only_kimg > 0 and "top_only_until" not in state:  # kept across resumes
        state["top_only_until"] = state["nimg"] + a.train_top_only_kimg * 1000
    if a.top_only_until_kimg is not None:
        state["top_only_until"] = a.top_only_until_kimg * 1000
    top_only_until = state.get("top_only_until")
    if top_only_until is not None and state["nimg"] >= top_only_until:
        top_only_until = None
    if top_only_until is not None:
        for name, param in g.named_parameters():
            param.requires_grad_(name.startswith(top))
    elif a.freeze_mapping:
        g.style.requires_grad_(False)

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
        ramp = lr_ramp(state, "fresh_optimizers_at", a.lr_warmup_kimg)
        join_ramp = lr_ramp(state, "old_layers_joined_at", a.join_ramp_kimg)
        for opt, lr in base_lr.items():
            for group in opt.param_groups:
                old = group.get("name") == "old"
                group["lr"] = lr * max(min(ramp, join_ramp) if old else ramp, 0.01) * (a.old_lr_scale if old else 1.0)
        # discriminator (--d-steps batches)
        for _ in range(max(1, a.d_steps)):
            real = sample(a.batch).to(dev)
            z = torch.randn(a.batch, g.style_dim, device=dev)
            with torch.no_grad(), autocast:
                fake = synthesis(mixed_wplus(g, z, a.mixing))
            with autocast:
                d_fake = discriminator(diff_augment(fake)).float()
                d_real = discriminator(diff_augment(real)).float()
                loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
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
        state["nimg"] += a.batch
        if state.get("d_warmup_left", 0) > 0:  # a grown discriminator catches up first
            state["d_warmup_left"] -= a.batch
            loss_g = torch.zeros(())
            if schedule.tick(state, step_start, lambda: f"kimg {state['nimg'] / 1000:.2f} d {loss_d.item():.3f} "
                             f"(discriminator warm-up) r1 {last_r1:.3f}", stop["signal"] is not None, checkpoint):
                break
            continue
        # generator
        z = torch.randn(a.batch, g.style_dim, device=dev)
        with autocast:
            fake = synthesis(mixed_wplus(g, z, a.mixing))
            loss_g = F.softplus(-discriminator(diff_augment(fake)).float()).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if top_only_until is not None and state["nimg"] >= top_only_until:
            g.requires_grad_(True)
            if a.freeze_mapping:
                g.style.requires_grad_(False)
            top_only_until = None
            # the old layers' first Adam steps are about lr each, all at once: ramp their lr up
            # from 1 % (without a ramp D's margin vanished at once; with one for both G and D
            # too, LOG 2026-12-03: D must not slow down exactly when G moves everywhere)
            state["old_layers_joined_at"] = state["nimg"]
        # EMA
        ema_nimg = min(ema_kimg * 1000, state["nimg"] * 0.05)
        beta = 0.5 ** (a.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for pe, p in zip(g_ema.parameters(), g.parameters()):
                pe.lerp_(p, 1 - beta)
            for be, b in zip(g_ema.buffers(), g.buffers()):
                be.copy_(b)
        if schedule.tick(state, step_start,
                         lambda: f"kimg {state['nimg'] / 1000:.2f} d {loss_d.item():.3f} "
                                 f"(real {d_real.mean().item():+.2f}, fake {d_fake.mean().item():+.2f}) "
                                 f"g {loss_g.item():.3f} r1 {last_r1:.3g}",
                         state["nimg"] >= a.max_kimg * 1000 or stop["signal"] is not None, checkpoint):
            break


if __name__ == "__main__":
    main()

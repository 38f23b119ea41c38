"""Trains the Feature-Style encoder for a trained generator (the FSE paper's recipe).

Each batch is half real faces, half generated ones with known (w, noise). The encoder
predicts w+ (as an offset from latent_avg) and the feature code F at layer K; two inversions
are made, x1 = G(w+) and x2 = G(w+, F at K). Losses (paper Eq. 5 / 8):
  MSE (generated: on x1 with the true noise; real: on x2, random noise)
  + 0.2 · multi-scale perceptual distance on x1 and x2 (three scales)
  + 0.01 · ||F − G^K(w+)||²  (feature reconstruction, keeps Eq. 1 edits valid)
  + 0.1 · multi-layer identity loss on x1 and x2 (Eq. 6, with the app's identity network,
    training/face_id.py, in place of ArcFace)
Two terms of ours (off by default): λ_w · ‖w+ − w‖² on the generated half and λ_s · the spread
of w+'s entries about their mean on both halves (e4e's idea): a w+ near W edits in full.
The face-parsing term needs a parsing model, which is not available, so it is left out (the
model card says so). The perceptual trunk is the trained discriminator (training/perceptual.py).
Adam, lr 1e-4, divided by ten for the last 1/6 of the steps (the paper's 10 + 2 epochs).

The generator and the perceptual trunk come from a generator run's checkpoint
(`--generator-run`) or from exported files (`--generator`, `--perceptual`: e.g. the bundled
ones in weights/); `--init-encoder` starts from an exported encoder (tensors whose shape does
not fit the chosen K are left freshly initialized). `--input-res` above the generator's
resolution gives the encoder's trunk larger inputs (F = input / 8 / stride), which is how
F can sit at 1/4 of the generator's side.
"""

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from training.data import Sampler, load_faces
from training.export import generator_from_checkpoint
from training.exported import load_generator, load_perceptual_trunk, read
from training.face_id import FaceIdNet, IdentityLoss
from training.fse import FeatureStyleEncoder
from training.perceptual import DiscriminatorFeatures
from training.stylegan2 import Discriminator
from training.util import RunSchedule, atomic_save, device_and_threads, save_grid, use_bf16


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/faces")
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/facestyle-train"))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--generator-run", help="run folder of train_generator (checkpoint.pt)")
    src.add_argument("--generator", help="exported generator safetensors (e.g. weights/generator.safetensors)")
    p.add_argument("--perceptual", default="weights/perceptual.safetensors",
                   help="exported perceptual trunk, with --generator")
    p.add_argument("--init-encoder", default=None, help="exported encoder safetensors to start from")
    p.add_argument("--face-id", default="weights/face_id/face_recognition.safetensors",
                   help="identity network for the identity loss")
    p.add_argument("--run", required=True)
    p.add_argument("--k", type=int, default=3, help="generator layer (outs index) F replaces")
    p.add_argument("--input-res", type=int, default=None, help="encoder input side (default: the generator's)")
    p.add_argument("--widths", default="32,64,128,256")
    p.add_argument("--layers", default="1,2,2,1")
    p.add_argument("--batch", type=int, default=4, help="half real, half generated (the paper: 2 + 2)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--steps", type=int, default=120000, help="total steps (sets the lr drop)")
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--lambda-perceptual", type=float, default=0.2)
    p.add_argument("--lambda-feature", type=float, default=0.01)
    p.add_argument("--feature-init", choices=["keep", "match"], default="match",
                   help="match: at step 0, set the feature branch's output BatchNorm so F starts with "
                        "the per-channel mean and spread of G^K over generated faces; keep: as "
                        "initialized (or as in --init-encoder)")
    p.add_argument("--lambda-id", type=float, default=0.1, help="0 leaves the identity network out")
    p.add_argument("--lambda-latent", type=float, default=0.0,
                   help="weight of ‖w+ − w‖² on the generated half, whose w is known (ours, not the "
                        "paper's; 0 leaves it out): keeps w+ near the generator's W, where edits act "
                        "in full")
    p.add_argument("--lambda-spread", type=float, default=0.0,
                   help="weight of the w+ entries' spread about their own mean, ‖w+ − mean(w+)‖², on "
                        "both halves (ours, e4e's idea; 0 leaves it out): a w+ whose layers agree "
                        "edits like a point of W")
    p.add_argument("--noise", choices=["paper", "zero"], default="paper",
                   help="paper: true noise for generated faces, random for real ones; zero: no noise "
                        "anywhere (for a generator exported with --stored-noise zero)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="bf16 autocast for the forward passes (losses and weights stay fp32); auto = "
                        "bf16 on CUDA or on a CPU with native bf16, as in train_generator")
    return p.parse_args()


def to_generator_side(x, res):
    """Encoder-side images → the generator's side by the app's exact 2x halvings."""
    while x.shape[-1] >= 2 * res:
        x = F.avg_pool2d(x, 2)
    return x


@torch.no_grad()
def match_feature_statistics(e, g, k, noise, dev, n=64):
    """F comes out of a BatchNorm whose affine sets its per-channel mean and spread; starting
    them at those of G^K (over n generated faces, with `noise`: a list of maps or None for
    random) puts F at the generator's own activation scale, the space Eq. 1 edits in."""
    z = torch.randn(n, g.style_dim, device=dev)
    w = g.mapping(z)[:, None].repeat(1, g.n_latent, 1)
    gk = g.synthesis(w, noise, return_feature=k)[1]
    bn = e.content_layer[-1]
    bn.bias.copy_(gk.mean((0, 2, 3)))
    bn.weight.copy_(gk.std((0, 2, 3)))
    print(f"F starts at G^K's statistics (mean square {gk.square().mean().item():.4f})")


def main():
    a = parse_args()
    dev = device_and_threads()
    torch.manual_seed(a.seed)
    os.makedirs(a.run, exist_ok=True)
    if a.generator_run:
        gsource = os.path.join(a.generator_run, "checkpoint.pt")
        g, gs = generator_from_checkpoint(gsource)
        d = Discriminator(g.size, g.config()["channels"])
        d.load_state_dict(gs["d"])
        latent_avg = g.mean_latent(4096)
    else:
        gsource = a.generator
        g, latent_avg = load_generator(gsource)
        g.requires_grad_(False)
        d = load_perceptual_trunk(a.perceptual, g.size)
    g, latent_avg = g.to(dev), latent_avg.to(dev)
    gcfg = g.config()
    perceptual = DiscriminatorFeatures(d.to(dev))
    identity = IdentityLoss(FaceIdNet(a.face_id).to(dev)) if a.lambda_id > 0 else None
    fmaps, side = g.feature_shape(a.k)
    res = gcfg["size"]
    in_res = a.input_res or res
    widths = [int(x) for x in a.widths.split(",")]
    stride = 1 if in_res // 8 == side else 2
    assert in_res // 8 // stride == side, f"K={a.k} ({side}px) is not reachable from {in_res}px inputs"
    e = FeatureStyleEncoder(widths, [int(x) for x in a.layers.split(",")], fmaps, gcfg["style_dim"],
                            g.n_latent, stride, in_res, a.k).to(dev)
    if a.init_encoder:
        init, _ = read(a.init_encoder)
        own = e.state_dict()
        fits = {k: v for k, v in init.items() if k in own and own[k].shape == v.shape}
        e.load_state_dict(fits, strict=False)
        print(f"encoder initialized from {a.init_encoder}; left fresh: "
              f"{sorted(k for k in own if k not in fits and not k.endswith('num_batches_tracked')) or 'nothing'}")
    opt = torch.optim.Adam(e.parameters(), lr=a.lr)
    state = dict(step=0, seconds=0.0)
    ckpt = os.path.join(a.run, "checkpoint.pt")
    if os.path.exists(ckpt):
        s = torch.load(ckpt, map_location=dev, weights_only=False)
        e.load_state_dict(s["encoder"]), opt.load_state_dict(s["opt"])
        state = s["state"]
        torch.manual_seed(a.seed + state["step"])  # new latents after a resume, not the first ones again
        print(f"resumed at step {state['step']}")
    # --noise zero: the same zero maps everywhere; else random noise (true noise for generated faces)
    zero_noise = [torch.zeros_like(n) for n in g.stored_noise()] if a.noise == "zero" else None
    if state["step"] == 0 and a.feature_init == "match":
        match_feature_statistics(e, g, a.k, zero_noise, dev)
    train, held = load_faces(a.data, in_res, a.cache)
    sample = Sampler(train, a.seed + state["step"])
    held_in = torch.from_numpy(held[:16]).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(dev)
    held_x = to_generator_side(held_in, res)
    half = a.batch // 2
    bf16 = use_bf16(a.precision, dev)
    print(f"precision: {'bf16 autocast' if bf16 else 'fp32'}", flush=True)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    schedule = RunSchedule(a.run, a.minutes, a.ckpt_minutes)

    def invert(x, noise):
        """x at the encoder's input side → (x1, x2, F, G^K(w+), w+)."""
        delta, feat = e(x)
        wplus = delta + latent_avg
        x1, gk = g.synthesis(wplus, noise, return_feature=a.k)
        x2 = g.synthesis(wplus, noise, inject=(a.k, feat))
        return x1, x2, feat, gk, wplus

    def checkpoint():
        atomic_save(dict(encoder=e.state_dict(), opt=opt.state_dict(), state=state,
                         encoder_config=e.cfg, generator_checkpoint=gsource), ckpt)
        e.eval()
        with torch.no_grad():
            eval_noise = zero_noise or g.stored_noise()
            x2 = invert(held_in, eval_noise)[1]
        e.train()
        save_grid(torch.cat([held_x, x2]), os.path.join(a.run, "held_out.png"), cols=16)
        mse = F.mse_loss(x2, held_x).item()
        print(f"held-out MSE {mse:.4f} PSNR {10 * np.log10(4 / mse):.2f} dB", flush=True)

    while True:
        step_start = time.time()
        lr = a.lr * (0.1 if state["step"] >= a.steps * 10 // 12 else 1.0)
        for group in opt.param_groups:
            group["lr"] = lr
        real_in = sample(half).to(dev)
        real = to_generator_side(real_in, res)
        with torch.no_grad(), autocast:
            z = torch.randn(half, gcfg["style_dim"], device=dev)
            w = g.mapping(z)[:, None].repeat(1, g.n_latent, 1)
            noise = zero_noise or [torch.randn_like(n.expand(half, -1, -1, -1)) for n in g.stored_noise()]
            fake = g.synthesis(w, noise)
            fake_in = fake if in_res == res else F.interpolate(fake, size=(in_res, in_res), mode="bilinear",
                                                               align_corners=False)
            if identity:
                fake_id, real_id = identity.layers(fake), identity.layers(real)
        fake = fake.float()
        with autocast:
            # generated half: true noise, MSE on the latent-only inversion
            f1, f2, ffeat, fgk, fwplus = invert(fake_in, noise)
            # real half: random noise, MSE on the inversion with the feature code
            r1, r2, rfeat, rgk, rwplus = invert(real_in, zero_noise)
            perc = (perceptual.multiscale(f1, fake) + perceptual.multiscale(f2, fake)
                    + perceptual.multiscale(r1, real) + perceptual.multiscale(r2, real)).float().mean()
            ident = torch.zeros((), device=dev)
            if identity:
                ident = (identity(f1, fake_id) + identity(f2, fake_id) + identity(r1, real_id)
                         + identity(r2, real_id)).float().mean()
        f1, r2, ffeat, fgk, rfeat, rgk = (t.float() for t in (f1, r2, ffeat, fgk, rfeat, rgk))
        mse = F.mse_loss(f1, fake) + F.mse_loss(r2, real)
        frec = F.mse_loss(ffeat, fgk) + F.mse_loss(rfeat, rgk)
        latent = F.mse_loss(fwplus.float(), w.float())
        both = torch.cat([fwplus, rwplus]).float()
        spread = (both - both.mean(1, keepdim=True)).square().mean()
        loss = (mse + a.lambda_perceptual * perc + a.lambda_feature * frec + a.lambda_id * ident
                + a.lambda_latent * latent + a.lambda_spread * spread)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if schedule.tick(state, step_start,
                         lambda: f"loss {loss.item():.4f} mse {mse.item():.4f} perc {perc.item():.4f} "
                                 f"frec {frec.item():.4f} id {ident.item():.4f} latent {latent.item():.4f} "
                                 f"spread {spread.item():.4f} "
                                 f"lr {lr:g}",
                         state["step"] + 1 >= a.steps, checkpoint):
            break


if __name__ == "__main__":
    main()

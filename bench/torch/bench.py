"""The rows of `facestyle bench all`, timed in PyTorch eager on the CPU: the comparison that
`bench/compare.sh` prints side by side. Comparison only; never shipped.

The generator runs the reference code's formulation (rosinality / pSp `model.py`): the
modulated convolution as one grouped convolution per batch with the style folded into the
weights, the upsampling conv as a grouped transposed convolution followed by the [1,3,3,1]
blur, and the reference code's CPU ops (plain pad/conv upfirdn, leaky ReLU + bias). The layers
and weights are the trainer's (`training/stylegan2.py`, rosinality key names) so the same
safetensors load; `--formulation fused` times the trainer's own activation-modulating form.

    python3 bench/torch/bench.py --model app --runs 20 --tsv torch.tsv
    python3 bench/torch/bench.py --model ffhq1024 --runs 5

Rows (batch 1 unless said): generator b1 and b8 (mapping + synthesis), encoder, inversion
(encode + generate), slider (one Eq. 1 edit: w̃ = w + α·d, one synthesis with the residual
F − G^K(w) added at K), mix (layer-range style mix of two inverted faces, Eq. 1), pti step
(forward, MSE, backward, Adam on the generator), projection step (w and noise maps, MSE + noise
regularisation, Adam), lpips (AlexNet v0.1 on the random-weight fixture). Face alignment has
no PyTorch counterpart here (MTCNN) and is left out.
"""

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from training.exported import load_encoder, load_generator, read  # noqa: E402
from training.fse import FeatureStyleEncoder  # noqa: E402
from training.stylegan2 import Generator, ModulatedConv2d, upfirdn2d  # noqa: E402


def grouped_forward(self, x, style):
    """The reference modulated conv: style folded into per-sample weights, one grouped conv."""
    b, cin, h, w = x.shape
    s = self.modulation(style).view(b, 1, cin, 1, 1)
    weight = self.scale * self.weight * s  # [B, cout, cin, k, k]
    if self.demodulate:
        d = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
        weight = weight * d.view(b, -1, 1, 1, 1)
    cout, k = weight.shape[1], weight.shape[-1]
    x = x.reshape(1, b * cin, h, w)
    if self.upsample:
        weight = weight.transpose(1, 2).reshape(b * cin, cout, k, k)
        out = F.conv_transpose2d(x, weight, stride=2, groups=b)
        out = self.blur(out.view(b, cout, out.shape[2], out.shape[3]))
        return out
    out = F.conv2d(x, weight.view(b * cout, cin, k, k), padding=self.padding, groups=b)
    return out.view(b, cout, out.shape[2], out.shape[3])


def config_f_1024():
    """Random weights of the FFHQ config-f shapes (512 style, 8 mapping layers, ×2 channels)."""
    channels = [512, 512, 512, 512, 512, 256, 128, 64, 32]
    g = Generator(1024, 512, 8, channels, 0.01).eval()
    return g, g.mean_latent(1000)


def released_encoder():
    """Random weights of the released FSE encoder's shapes (IResNet-50, 256² input, K = 5)."""
    return FeatureStyleEncoder([64, 128, 256, 512], [3, 4, 14, 3], 512, 512, 18, 2, 256, 5).eval(), 5


def synth(g, wplus, noise, k=None, residual=None, stop_at=None):
    """Synthesis with `residual` added to the activation at K (Eq. 1 in one pass), or only up
    to K (`stop_at`: returns G^K(w))."""
    b = wplus.shape[0]
    feats = {0: g.input(b)}
    x = g.conv1(feats[0], wplus[:, 0], noise[0])
    if stop_at == 1:
        return x
    skip = g.to_rgb1(x, wplus[:, 1])
    for j, to_rgb in enumerate(g.to_rgbs):
        for idx in (2 * j + 1, 2 * j + 2):
            if k == idx and residual is not None:
                x = x + residual
            x = g.convs[idx - 1](x, wplus[:, idx], noise[idx])
            if stop_at == idx + 1:
                return x
        skip = to_rgb(x, wplus[:, 2 * j + 3], skip)
    return skip


class Alex(torch.nn.Module):
    """LPIPS v0.1 on torchvision's AlexNet trunk: unit-normalised activations of the five
    ReLUs, squared differences weighted by the linear heads, spatial mean, summed."""

    def __init__(self, trunk, lin):
        super().__init__()
        self.t, self.lin = trunk, [lin[f"lin{i}.model.1.weight"] for i in range(5)]
        self.shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
        self.scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def feats(self, x):
        t, out = self.t, []
        x = (x - self.shift) / self.scale
        x = F.relu(F.conv2d(x, t["features.0.weight"], t["features.0.bias"], stride=4, padding=2))
        out.append(x)
        x = F.max_pool2d(x, 3, 2)
        x = F.relu(F.conv2d(x, t["features.3.weight"], t["features.3.bias"], padding=2))
        out.append(x)
        x = F.max_pool2d(x, 3, 2)
        for i in (6, 8, 10):
            x = F.relu(F.conv2d(x, t[f"features.{i}.weight"], t[f"features.{i}.bias"], padding=1))
            out.append(x)
        return out

    def forward(self, a, b):
        total = 0
        for fa, fb, w in zip(self.feats(a), self.feats(b), self.lin):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + F.conv2d((na - nb) ** 2, w).mean([2, 3])
        return total


def reset_peak():
    """Resets the process's peak-RSS mark (Linux `clear_refs` 5), as `facestyle bench all` does
    before each row."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_mb():
    """Peak resident memory since the last reset, MB (Linux `VmHWM`); None elsewhere."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def timed(runs, fn):
    """(ms of each of `runs` calls after two warm-up calls, sorted; peak resident MB while the
    row ran)."""
    reset_peak()
    fn(0)
    fn(1)
    out = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i + 2)
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out), peak_mb()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["app", "ffhq1024"], default="app")
    p.add_argument("--weights", default="weights")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--formulation", choices=["grouped", "fused"], default="grouped")
    p.add_argument("--batches", default="1,8", help="batch sizes of the generator rows")
    p.add_argument("--tsv", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.formulation == "grouped":
        ModulatedConv2d.forward = grouped_forward
    if a.model == "app":
        g, avg = load_generator(os.path.join(a.weights, "generator.safetensors"))
        e, cfg = load_encoder(os.path.join(a.weights, "encoder.safetensors"))
        k = cfg["k"]
    else:
        g, avg = config_f_1024()
        e, k = released_encoder()
    side = e.cfg["input_resolution"]
    noise = g.stored_noise()
    fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "lpips_alex")
    lpips = Alex(read(os.path.join(fixtures, "alexnet_trunk.safetensors"))[0],
                 read(os.path.join(fixtures, "lin_alex_v0.1.safetensors"))[0])
    rows = []
    print(f"PyTorch {torch.__version__} eager, {a.formulation} modulated conv, {a.threads} threads, "
          f"{g.size}x{g.size} generator, encoder {side}² input", flush=True)

    def wplus(seed, b):
        z = torch.randn(b, g.style_dim, generator=torch.Generator().manual_seed(seed))
        return g.mapping(z)[:, None].repeat(1, g.n_latent, 1)

    def add(name, batch, ms):
        rows.append((name, batch, ms))
        print(f"  {name} (batch {batch}) done", file=sys.stderr, flush=True)

    def encode(x):
        delta, feat = e(F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
                        if x.shape[-1] != side else x)
        return delta + avg, feat

    with torch.no_grad():
        for b in [int(v) for v in a.batches.split(",")]:
            add("generator", b, timed(a.runs, lambda i, b=b: synth(g, wplus(i, b), noise)))
        face = synth(g, wplus(1000, 1), noise)
        x_in = F.interpolate(face, size=(side, side), mode="bilinear", align_corners=False) if g.size != side else face
        add("encoder", 1, timed(a.runs, lambda i: e(x_in)))

        def invert(i):
            w, feat = encode(face)
            return g.synthesis(w, noise, inject=(k, feat))
        add("inversion", 1, timed(a.runs, invert))
        w, feat = encode(face)
        residual = feat - synth(g, w, noise, stop_at=k)
        d = torch.randn(1, 1, g.style_dim, generator=torch.Generator().manual_seed(7))
        d = d / d.norm()
        mask = torch.zeros(1, g.n_latent, 1)
        mask[:, :4] = 1
        add("slider", 1, timed(a.runs, lambda i: synth(g, w + ((i % 7) - 3) * d * mask, noise,
                                                        k=k, residual=residual)))
        w_b, _ = encode(synth(g, wplus(1001, 1), noise))

        def mix(i):
            mixed = torch.cat([w_b[:, :4], w[:, 4:]], 1)
            r = feat - synth(g, w, noise, stop_at=k)
            return synth(g, mixed, noise, k=k, residual=r)
        add("mix", 1, timed(a.runs, mix))

    # one PTI step: the generator trainable, MSE at the pivot, Adam (PTI's lr 3e-4)
    tuned = Generator(g.size, g.style_dim, g.n_mlp, g.channels, g.lr_mlp)
    tuned.load_state_dict(g.state_dict())
    opt = torch.optim.Adam(tuned.parameters(), lr=3e-4)
    pivot, target = w.detach(), face.detach()

    def pti_step(i):
        loss = F.mse_loss(tuned.synthesis(pivot, tuned.stored_noise()), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    add("pti step", 1, timed(a.runs, pti_step))

    # one projection step: w (broadcast) and the noise maps trainable, MSE + noise regularisation
    g.requires_grad_(False)
    w_opt = avg.clone().view(1, -1).requires_grad_(True)
    maps = [torch.randn_like(n).requires_grad_(True) for n in noise]
    popt = torch.optim.Adam([w_opt] + maps, lr=0.1, betas=(0.9, 0.999))

    def noise_reg():
        reg = 0.0
        for n in maps:
            while True:
                reg = reg + (n * torch.roll(n, 1, 3)).mean() ** 2 + (n * torch.roll(n, 1, 2)).mean() ** 2
                if n.shape[2] <= 8:
                    break
                n = F.avg_pool2d(n, 2)
        return reg

    def projection_step(i):
        img = g.synthesis(w_opt[:, None].repeat(1, g.n_latent, 1), maps)
        loss = F.mse_loss(img, target) + 1e5 * noise_reg()
        popt.zero_grad(set_to_none=True)
        loss.backward()
        popt.step()
        with torch.no_grad():
            for n in maps:
                n.sub_(n.mean()).div_(n.std())
    add("projection step", 1, timed(a.runs, projection_step))

    with torch.no_grad():
        s = min(g.size, 256)
        la = F.interpolate(face, size=(s, s), mode="bilinear", align_corners=False) if g.size != s else face
        lb = torch.roll(la, 3, 3)
        add("lpips", 1, timed(a.runs, lambda i: lpips(la, lb)))

    print("\n| row | batch | median ms | p90 ms | runs | peak RSS MB |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: |")
    lines = []
    for name, b, (ms, peak) in rows:
        at = lambda q: ms[int(math.floor((len(ms) - 1) * q + 0.5))]  # noqa: E731 (as the app rounds)
        med, p90 = at(0.5), at(0.9)
        peak = "n/a" if peak is None else f"{peak:.0f}"
        print(f"| {name} | {b} | {med:.1f} | {p90:.1f} | {len(ms)} | {peak} |")
        lines.append(f"{name}\t{b}\t{med:.3f}\t{p90:.3f}\t{peak}\n")
    if a.tsv:
        with open(a.tsv, "w") as f:
            f.writelines(lines)


if __name__ == "__main__":
    main()

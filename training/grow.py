"""Grows a trained generator and discriminator trunk by one resolution (64 → 128 px).

Every layer of the smaller model carries over under the same key names; the new top block
(an upsampling conv, a conv, a ToRGB) is added so that the grown generator starts out as the
upsampled smaller one: its ToRGB is zero, so the image is the skip path — the old image
through ToRGB's [1,3,3,1] upsampling — and the new convs only matter once training moves that
ToRGB away from zero. The discriminator gets a new input layer and block in front of the old
trunk (`from_rgb` at the new resolution, then `blocks.0`); the old trunk's blocks move one
index down; the scoring head is fresh (the shipped files do not hold it), which is why the
trainer lets it catch up against the frozen generator first (`--d-warmup-kimg`).
"""

import math

import torch

from training.exported import load_generator, read
from training.stylegan2 import Discriminator, Generator


def grow_generator(path, top_channels):
    """(generator at twice the side of the exported one at `path`, the source's config)."""
    small, _ = load_generator(path)
    c = small.config()
    big = Generator(c["size"] * 2, c["style_dim"], c["n_mlp"], c["channels"] + [top_channels], c["lr_mlp"])
    missing, unexpected = big.load_state_dict(small.state_dict(), strict=False)
    new_prefixes = (f"convs.{len(small.convs)}.", f"convs.{len(small.convs) + 1}.",
                    f"to_rgbs.{len(small.to_rgbs)}.", f"noises.noise_{small.num_layers}",
                    f"noises.noise_{small.num_layers + 1}")
    stray = [k for k in missing if not k.startswith(new_prefixes)]
    if unexpected or stray:
        raise KeyError(f"growing {path}: unexpected {unexpected}, missing {stray}")
    top = big.to_rgbs[-1]
    with torch.no_grad():
        top.conv.weight.zero_()
        top.bias.zero_()
        # the bundled generator's stored noise is zero: keep the new layers' maps zero too
        for j in (small.num_layers, small.num_layers + 1):
            getattr(big.noises, f"noise_{j}").zero_()
    return big, c


def grow_discriminator(trunk_path, channels, top_channels=None):
    """Discriminator for the grown generator's channel table `channels` (its input block
    `top_channels` wide if given), with the exported trunk at `trunk_path` (one resolution
    lower) as its blocks 1…n."""
    t, _ = read(trunk_path)
    size = 2 ** (len(channels) + 1)
    d = Discriminator(size, list(channels[:-1]) + [top_channels or channels[-1]])
    shifted = {}
    for k, v in t.items():
        if k.startswith("blocks."):
            _, i, rest = k.split(".", 2)
            shifted[f"blocks.{int(i) + 1}.{rest}"] = v
    own = d.state_dict()
    for k, v in shifted.items():
        if k not in own or own[k].shape != v.shape:
            raise KeyError(f"growing {trunk_path}: {k} {tuple(v.shape)} does not fit "
                           f"{tuple(own[k].shape) if k in own else 'nothing'}")
    d.load_state_dict(shifted, strict=False)
    return d


def _rescaled(old, cin_new):
    """`old` (cout, cin, …) stored weights rescaled so that, behind the equalized learning-rate
    scale 1/sqrt(cin·k·k) of the wider layer, they contribute what they did before."""
    return old * math.sqrt(cin_new / old.shape[1])


def widen_top(g, width, seed=0):
    """A copy of generator `g` whose top block (the last two convs and ToRGB) is `width`
    channels wide instead of `g.channels[-1]`, computing the same image: the new channels of
    the first conv start random, the second conv's weights from them are zero (so its old
    outputs and their demodulation are unchanged), its new output channels start random and
    ToRGB's weights from them are zero. Same `seed`, same new weights (for G and G_ema)."""
    old_w = g.channels[-1]
    if width <= old_w:
        raise ValueError(f"widening the top block from {old_w} to {width} channels: not wider")
    wide = Generator(g.size, g.style_dim, g.n_mlp, g.channels[:-1] + [width], g.lr_mlp).to(
        next(g.parameters()).device)
    rng = torch.Generator().manual_seed(seed)
    top = (f"convs.{len(g.convs) - 2}.", f"convs.{len(g.convs) - 1}.", f"to_rgbs.{len(g.to_rgbs) - 1}.")
    up, conv, rgb = top
    own = g.state_dict()
    new = {}
    with torch.no_grad():
        for k, v in wide.state_dict().items():
            o = own[k]
            if not k.startswith(top) or o.shape == v.shape:
                new[k] = o.clone()
                continue
            fresh = torch.randn(v.shape, generator=rng).to(v)
            if k == up + "conv.weight":  # [1, width, cin, 3, 3]: old outputs kept, new random
                fresh[:, :old_w] = o
            elif k == conv + "conv.weight":  # [1, width, width, 3, 3]
                fresh[:, :old_w] = 0.0
                fresh[:, :old_w, :old_w] = _rescaled(o[0], width)[None]
            elif k == conv + "conv.modulation.weight" or k == rgb + "conv.modulation.weight":
                fresh[:old_w] = o  # [width, style_dim]: the new inputs' styles start random
            elif k == conv + "conv.modulation.bias" or k == rgb + "conv.modulation.bias":
                fresh = torch.ones_like(v)
                fresh[:old_w] = o
            elif k == rgb + "conv.weight":  # [1, 3, width, 1, 1]: the new inputs start at zero
                fresh = torch.zeros_like(v)
                fresh[:, :, :old_w] = _rescaled(o[0], width)[None]
            elif k.endswith("activate.bias"):
                fresh = torch.zeros_like(v)
                fresh[:old_w] = o
            else:
                raise KeyError(f"widening the top block: no rule for {k} {tuple(o.shape)} → {tuple(v.shape)}")
            new[k] = fresh
    wide.load_state_dict(new)
    wide.train(g.training).requires_grad_(any(p.requires_grad for p in g.parameters()))
    with torch.no_grad():  # the promise: the same image as before, checked on two faces
        z = torch.randn(2, g.style_dim, generator=rng).to(next(g.parameters()).device)
        wplus = g.mapping(z)[:, None].repeat(1, g.n_latent, 1)
        before, after = g.synthesis(wplus, g.stored_noise()), wide.synthesis(wplus, wide.stored_noise())
        if not torch.allclose(before, after, atol=1e-4, rtol=1e-4):
            raise AssertionError(f"widening the top block changed the image by {(before - after).abs().max():.2e}")
    return wide

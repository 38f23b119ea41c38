"""StyleGAN2 generator (rosinality's state-dict key names, so the Rust app loads the export
as-is) and a residual discriminator, written for training on small data.

The generator computes exactly the reference maths (equalized learning rate, modulated /
demodulated 3x3 convolutions with upfirdn blur on upsampling, noise injection, fused leaky
ReLU, skip ToRGB with upsampled skips); it is checked against the golden fixture
`tests/fixtures/stylegan2_64` by `python -m training.check_reference`. The modulated
convolution is evaluated in its non-grouped form (scale the input by the style, convolve with
the shared weight, scale the output by the demodulation factor), which equals the grouped
form of the reference but batches far better.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def fused_lrelu(x, bias):
    shape = [1, -1] + [1] * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), 0.2) * SQRT2


def make_kernel(k):
    k = torch.tensor(k, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """upfirdn with the same padding on both axes (all this model needs)."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, (p0, p1, p0, p1))
    kh, kw = kernel.shape
    weight = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw).repeat(c, 1, 1, 1)
    x = F.conv2d(x, weight.to(x.dtype), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    def __init__(self, cin, cout, bias_init=0.0, lr_mul=1.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale = 1.0 / math.sqrt(cin) * lr_mul
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x):
        if self.activation:
            return fused_lrelu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor**2
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class ModulatedConv2d(nn.Module):
    def __init__(self, cin, cout, k, style_dim, demodulate=True, upsample=False, blur=(1, 3, 3, 1)):
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur) - factor) - (k - 1)
            self.blur = Blur(blur, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.padding = k // 2
        self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)

    def forward(self, x, style):
        s = self.modulation(style)  # [B, cin]
        w = self.weight[0] * self.scale  # [cout, cin, k, k]
        x = x * s[:, :, None, None]
        if self.upsample:
            x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        if self.demodulate:
            wsq = (w * w).sum(dim=(2, 3))  # [cout, cin]
            d = torch.rsqrt((s * s) @ wsq.t() + 1e-8)  # [B, cout]
            x = x * d[:, :, None, None]
        if self.upsample:
            x = self.blur(x)
        return x


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        if noise is None:
            b, _, h, w = x.shape
            noise = x.new_empty(b, 1, h, w).normal_()
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        return fused_lrelu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, cin, cout, k, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, k, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise))


class Upsample(nn.Module):
    def __init__(self, kernel, factor=2):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=2, pad=self.pad)


class ToRGB(nn.Module):
    def __init__(self, cin, style_dim, upsample=True):
        super().__init__()
        if upsample:
            self.upsample = Upsample((1, 3, 3, 1))
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, c, 4, 4))

    def forward(self, b):
        return self.input.repeat(b, 1, 1, 1)


class Generator(nn.Module):
    """`channels[i]` = channels at 2^(i+2) pixels."""

    def __init__(self, size, style_dim, n_mlp, channels, lr_mlp=0.01):
        super().__init__()
        self.size, self.style_dim, self.n_mlp, self.lr_mlp = size, style_dim, n_mlp, lr_mlp
        self.channels = list(channels)
        self.log_size = int(math.log2(size))
        assert len(self.channels) == self.log_size - 1
        layers = [PixelNorm()]
        layers += [EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp)]
        self.style = nn.Sequential(*layers)
        c4 = self.channels[0]
        self.input = ConstantInput(c4)
        self.conv1 = StyledConv(c4, c4, 3, style_dim)
        self.to_rgb1 = ToRGB(c4, style_dim, upsample=False)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.noises = nn.Module()
        for j in range(self.num_layers):
            r = 2 ** ((j + 5) // 2)
            self.noises.register_buffer(f"noise_{j}", torch.randn(1, 1, r, r))
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        cin = c4
        for log_res in range(3, self.log_size + 1):
            cout = self.channels[log_res - 2]
            self.convs.append(StyledConv(cin, cout, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(cout, cout, 3, style_dim))
            self.to_rgbs.append(ToRGB(cout, style_dim))
            cin = cout

    def config(self):
        return dict(size=self.size, style_dim=self.style_dim, n_mlp=self.n_mlp,
                    lr_mlp=self.lr_mlp, channels=self.channels)

    def feature_shape(self, k):
        log_res = 2 if k == 0 else (k + 4) // 2
        return self.channels[log_res - 2], 2**log_res

    def stored_noise(self):
        return [getattr(self.noises, f"noise_{j}") for j in range(self.num_layers)]

    def mapping(self, z):
        return self.style(z)

    def synthesis(self, wplus, noise=None, inject=None, return_feature=None):
        """`wplus` [B, n_latent, S]; `noise` = list or None (random); `inject` = (k, F)
        replaces outs[k] before the next conv consumes it (the ToRGB skip up to there keeps
        the generator's own activation, as in FSE); `return_feature` = k also returns outs[k]."""
        if noise is None:
            noise = [None] * self.num_layers
        b = wplus.shape[0]
        feats = {}
        x = self.input(b)
        feats[0] = x
        x = self.conv1(x, wplus[:, 0], noise[0])
        feats[1] = x
        skip = self.to_rgb1(x, wplus[:, 1])

        def maybe_inject(k, x):
            if inject is not None and inject[0] == k:
                return inject[1]
            return x

        for j, to_rgb in enumerate(self.to_rgbs):
            a, c = 2 * j + 1, 2 * j + 2
            x = self.convs[2 * j](maybe_inject(a, x), wplus[:, a], noise[a])
            feats[a + 1] = x
            x = self.convs[2 * j + 1](maybe_inject(c, x), wplus[:, c], noise[c])
            feats[c + 1] = x
            skip = to_rgb(x, wplus[:, c + 1], skip)
        if return_feature is not None:
            return skip, feats[return_feature]
        return skip

    @torch.no_grad()
    def mean_latent(self, n=4096, seed=0):
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.style_dim, generator=g)
        return self.mapping(z.to(self.input.input.device)).mean(0)


# ---------------------------------------------------------------- discriminator (training only)


class EqualConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class DBlock(nn.Module):
    """Residual block: two 3x3 convs, then blur-downsample; 1x1 skip, sum / sqrt(2)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = EqualConv2d(cin, cin, 3, padding=1)
        self.conv2 = EqualConv2d(cin, cout, 3, padding=1)
        self.skip = EqualConv2d(cin, cout, 1, bias=False)
        self.register_buffer("kernel", make_kernel((1, 3, 3, 1)))

    def down(self, x):
        return upfirdn2d(x, self.kernel, down=2, pad=(1, 1))

    def forward(self, x):
        y = F.leaky_relu(self.conv1(x), 0.2) * SQRT2
        y = F.leaky_relu(self.conv2(self.down(y)), 0.2) * SQRT2
        return (y + self.skip(self.down(x))) / SQRT2


class Discriminator(nn.Module):
    def __init__(self, size, channels):
        """`channels[i]` = channels at 2^(i+2) pixels (same table as the generator)."""
        super().__init__()
        log_size = int(math.log2(size))
        self.from_rgb = EqualConv2d(3, channels[-1], 1)
        blocks = []
        for log_res in range(log_size, 2, -1):
            blocks.append(DBlock(channels[log_res - 2], channels[log_res - 3]))
        self.blocks = nn.Sequential(*blocks)
        c4 = channels[0]
        self.final_conv = EqualConv2d(c4 + 1, c4, 3, padding=1)
        self.final_fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)

    def features(self, x):
        """Activations of every resolution (used as a perceptual trunk)."""
        feats = []
        x = F.leaky_relu(self.from_rgb(x), 0.2) * SQRT2
        for blk in self.blocks:
            x = blk(x)
            feats.append(x)
        return feats

    def forward(self, x):
        x = F.leaky_relu(self.from_rgb(x), 0.2) * SQRT2
        x = self.blocks(x)
        b, c, h, w = x.shape
        g = min(4, b)
        while b % g:
            g -= 1
        y = x.view(g, -1, 1, c, h, w)
        y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean(dim=(2, 3, 4), keepdim=True).squeeze(2)
        y = y.repeat(g, 1, h, w)
        x = torch.cat([x, y], 1)
        x = F.leaky_relu(self.final_conv(x), 0.2) * SQRT2
        return self.out(self.final_fc(x.flatten(1)))

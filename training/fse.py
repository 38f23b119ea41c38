"""The Feature-Style encoder (`fs_encoder_v2` key names, so the Rust app loads the export).

IR-ResNet trunk (stem conv/BN/PReLU, four stages of IR basic blocks), a latent branch that
pools every stage to 3x3 and maps the concatenation through one linear head per w+ entry,
and a feature branch (`content_layer`) that turns stage 3's output into the feature code F
replacing the generator's activation at layer K. Checked against the golden fixture
`tests/fixtures/fse_encoder_64` by `python -m training.check_reference`.
"""

from torch import nn
import torch
import torch.nn.functional as F


class IRBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.prelu = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x)))))
        return self.bn3(y) + shortcut


class FeatureStyleEncoder(nn.Module):
    def __init__(self, widths, layers, fmaps, style_dim, n_styles, content_stride, input_resolution, k):
        super().__init__()
        self.cfg = dict(widths=list(widths), layers=list(layers), fmaps=fmaps, style_dim=style_dim,
                        n_styles=n_styles, content_stride=content_stride,
                        input_resolution=input_resolution, k=k, bn_eps=1e-5)
        self.conv = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.PReLU(widths[0]))
        cin = widths[0]
        for s, (planes, count) in enumerate(zip(widths, layers)):
            blocks = [IRBlock(cin if n == 0 else planes, planes, 2 if n == 0 else 1) for n in range(count)]
            setattr(self, f"block_{s + 1}", nn.Sequential(*blocks))
            cin = planes
        self.content_layer = nn.Sequential(
            nn.BatchNorm2d(widths[2]), nn.Conv2d(widths[2], fmaps, 3, 1, 1, bias=False), nn.BatchNorm2d(fmaps),
            nn.PReLU(fmaps), nn.Conv2d(fmaps, fmaps, 3, content_stride, 1, bias=False), nn.BatchNorm2d(fmaps))
        pooled = 9 * sum(widths)
        self.styles = nn.ModuleList([nn.Linear(pooled, style_dim) for _ in range(n_styles)])
        for head in self.styles:
            nn.init.normal_(head.weight, std=0.01 / pooled**0.5)
            nn.init.zeros_(head.bias)

    def load_exported(self, tensors):
        """Loads a state dict as the app stores it (no `num_batches_tracked`), strictly
        otherwise."""
        missing, unexpected = self.load_state_dict(tensors, strict=False)
        bad = [k for k in missing if not k.endswith("num_batches_tracked")]
        if unexpected or bad:
            raise KeyError(f"encoder weights: missing {bad}, unexpected {unexpected}")

    def forward(self, x):
        """Returns (wplus_delta [B, n_styles, S], F)."""
        x = self.conv(x)
        pooled = []
        feature = None
        for s in range(4):
            x = getattr(self, f"block_{s + 1}")(x)
            pooled.append(F.adaptive_avg_pool2d(x, 3))
            if s == 2:
                feature = self.content_layer(x)
        flat = torch.cat(pooled, 1).flatten(1)
        return torch.stack([h(flat) for h in self.styles], 1), feature

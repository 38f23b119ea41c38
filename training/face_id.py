"""The identity network (face-api's dlib-style recognition ResNet) in PyTorch, loaded from the
app's `weights/face_id/face_recognition.safetensors` (face-api key names, TF.js HWIO filters),
and the FSE identity loss built on it.

Same maths as `src/model/face_id.rs`: 7x7/2 stem, 3x3/2 max-pool, thirteen residual blocks
plus a down-sampling output block (a downsampling block's shortcut is 2x2-average-pooled and
zero-extended to the output's channels), global average, 256 -> 128 projection. Every
convolution has a bias followed by a per-channel affine "scale" layer. Input: RGB in [0, 255]
at 150x150, minus the dataset mean, divided by 255.
"""

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

SIDE = 150
MEAN_RGB = (122.782, 117.001, 104.298)
# The tight face box inside an FFHQ-aligned crop (fractions of its side), as the app crops it.
FACE_BOX = (0.22, 0.26, 0.78, 0.86)
BLOCKS = (("conv32_1", 1), ("conv32_2", 1), ("conv32_3", 1), ("conv64_down", 2), ("conv64_1", 1),
          ("conv64_2", 1), ("conv64_3", 1), ("conv128_down", 2), ("conv128_1", 1), ("conv128_2", 1),
          ("conv256_down", 2), ("conv256_1", 1), ("conv256_2", 1), ("conv256_down_out", 2))
STAGE_ENDS = ("conv32_3", "conv64_3", "conv128_2", "conv256_down_out")


class FaceIdNet(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        t = {k: v.float() for k, v in load_file(path).items()}
        self.names = []
        for name, value in t.items():
            if name.endswith("/filters"):
                value = value.permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
            key = name.replace("/", "__")
            self.register_buffer(key, value)
            self.names.append(name)
        self.requires_grad_(False)

    def _t(self, name):
        return getattr(self, name.replace("/", "__"))

    def _conv(self, x, prefix, stride):
        w = self._t(f"{prefix}/conv/filters")
        pad = w.shape[-1] // 2 if stride == 1 else 0  # TF "same" at stride 1, "valid" at 2
        y = F.conv2d(x, w, self._t(f"{prefix}/conv/bias"), stride=stride, padding=pad)
        c = y.shape[1]
        return y * self._t(f"{prefix}/scale/weights").view(1, c, 1, 1) + self._t(f"{prefix}/scale/biases").view(1, c, 1, 1)

    def _residual(self, x, name, stride):
        out = self._conv(F.relu(self._conv(x, f"{name}/conv1", stride)), f"{name}/conv2", 1)
        if stride == 1:
            return F.relu(out + x)
        pooled = F.avg_pool2d(x, 2)
        ph, pw = pooled.shape[2:]
        out = F.pad(out, (0, pw - out.shape[3], 0, ph - out.shape[2]))
        pooled = F.pad(pooled, (0, 0, 0, 0, 0, out.shape[1] - pooled.shape[1]))
        return F.relu(pooled + out)

    def layers(self, faces):
        """The output of each of the four stages (32, 64, 128, 256 channels) and the 128-d
        embedding (not normalized) of [B, 3, 150, 150] RGB faces in [0, 255]."""
        mean = torch.tensor(MEAN_RGB, device=faces.device).view(1, 3, 1, 1)
        x = (faces - mean) / 255.0
        x = F.relu(self._conv(x, "conv32_down", 2))
        x = F.max_pool2d(x, 3, 2)
        out = []
        for name, stride in BLOCKS:
            x = self._residual(x, name, stride)
            if name in STAGE_ENDS:
                out.append(x)
        return out + [x.mean((2, 3)) @ self._t("fc")]

    def forward(self, faces):
        """128-d embeddings (not normalized) of [B, 3, 150, 150] RGB faces in [0, 255]."""
        return self.layers(faces)[-1]


def face_region(images):
    """The face box of FFHQ-aligned images in [-1, 1], as [0, 255] RGB at 150x150 (bilinear);
    the box is cut at the same integer pixels as the app's crop."""
    h, w = images.shape[2:]
    x0, y0, x1, y1 = FACE_BOX
    left, top = int(x0 * w), int(y0 * h)
    crop = images[:, :, top:top + int((y1 - y0) * h), left:left + int((x1 - x0) * w)]
    crop = F.interpolate(crop, size=(SIDE, SIDE), mode="bilinear", align_corners=False)
    return (crop + 1) * 127.5


class IdentityLoss:
    """The FSE paper's multi-layer identity loss (Eq. 6): the sum over five layers of the
    identity network (four stage outputs and the embedding) of 1 − cosine similarity of the
    flattened activations, per image."""

    def __init__(self, net):
        self.net = net.eval()

    def layers(self, images):
        """Unit-length flattened activations of the five layers (targets are computed once)."""
        return [F.normalize(t.flatten(1), dim=1) for t in self.net.layers(face_region(images))]

    def __call__(self, x, target_layers):
        return sum(1 - (a * b).sum(1) for a, b in zip(self.layers(x), target_layers))

"""Which perceptual network makes PTI reconstruct held-out faces best (issue item 3): scores
the app's personalized reconstructions (`facestyle personalize … --out DIR/x.safetensors`
writes DIR/<photo>_personalized.png) against their photos, by every measure at hand, so that no
choice is judged only by the distance it was tuned on.

  python -m training.evaluate_pti --photos held/00910.jpg held/00950.jpg \
      --runs discriminator=pti/disc face-id=pti/faceid none=pti/mse

Per run it prints the means over the photos of: PSNR and SSIM (the app's definitions:
`src/metrics.rs`), identity similarity (cosine of the identity network's embeddings), and the
LPIPS-style distances of both bundled networks (discriminator trunk, identity-network stages).
The photos are brought to the generator's side as the app does (centre square, triangle
filter).
"""

import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from training.exported import load_perceptual_trunk
from training.face_id import FaceIdNet, face_region
from training.perceptual import DiscriminatorFeatures, unit_feature_distance


def image_tensor(path, side=None):
    im = Image.open(path).convert("RGB")
    s = min(im.size)
    im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width - s) // 2 + s, (im.height - s) // 2 + s))
    if side and s != side:
        im = im.resize((side, side), Image.BILINEAR)
    return torch.from_numpy(np.asarray(im, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1


def ssim(a, b):
    """The app's SSIM: Gaussian window 11, sigma 1.5, edge-clamped, per channel on [0, 1]."""
    a, b = (a.clamp(-1, 1) + 1) / 2, (b.clamp(-1, 1) + 1) / 2
    g = torch.exp(-((torch.arange(11.0) - 5) ** 2) / (2 * 1.5 ** 2))
    g = g / g.sum()

    def blur(x):
        x = F.conv2d(F.pad(x, (5, 5, 0, 0), mode="replicate"), g.view(1, 1, 1, 11).repeat(3, 1, 1, 1), groups=3)
        return F.conv2d(F.pad(x, (0, 0, 5, 5), mode="replicate"), g.view(1, 1, 11, 1).repeat(3, 1, 1, 1), groups=3)

    mx, my = blur(a), blur(b)
    vx, vy, cxy = blur(a * a) - mx * mx, blur(b * b) - my * my, blur(a * b) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", nargs="+", required=True)
    p.add_argument("--runs", nargs="+", required=True, help="NAME=DIR of personalize outputs")
    p.add_argument("--weights", default="weights")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    face_id = FaceIdNet(os.path.join(a.weights, "face_id", "face_recognition.safetensors"))
    stems = [os.path.splitext(os.path.basename(x))[0] for x in a.photos]
    first = dict(r.split("=", 1) for r in a.runs)
    side = Image.open(os.path.join(next(iter(first.values())), f"{stems[0]}_personalized.png")).width
    disc = DiscriminatorFeatures(load_perceptual_trunk(os.path.join(a.weights, "perceptual.safetensors"), side))
    targets = torch.cat([image_tensor(x, side) for x in a.photos])

    def face_id_distance(x, y):
        return unit_feature_distance(face_id.layers(face_region(x))[:-1], face_id.layers(face_region(y))[:-1])

    def embed(x):
        return F.normalize(face_id(face_region(x)), dim=1)

    print(f"{len(stems)} photos at {side} px")
    print(f"{'tuned on':14s} {'PSNR':>6s} {'SSIM':>6s} {'ID sim':>7s} {'disc dist':>9s} {'face-id dist':>12s}")
    for name, folder in first.items():
        recon = torch.cat([image_tensor(os.path.join(folder, f"{s}_personalized.png")) for s in stems])
        mse = ((recon - targets) ** 2).mean((1, 2, 3))
        psnr = (10 * torch.log10(4 / mse)).mean().item()
        ss = np.mean([ssim(recon[i:i + 1], targets[i:i + 1]) for i in range(len(stems))])
        ident = (embed(recon) * embed(targets)).sum(1).mean().item()
        print(f"{name:14s} {psnr:6.2f} {ss:6.3f} {ident:7.4f} {disc.distance(recon, targets).mean().item():9.4f} "
              f"{face_id_distance(recon, targets).mean().item():12.4f}")


if __name__ == "__main__":
    main()

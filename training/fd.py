"""Identity-space Fréchet distance in PyTorch: the figure of the app's `facestyle evaluate fid`
(generated faces at ψ 1 with zero noise, as the app's exports store it, quantized to 8 bits, against real faces brought
to the generator's size with Lanczos), for ranking checkpoints where the app does not run — on
a lent GPU machine, beside the trainers (`training/sweep.py`). The latent samples come from
PyTorch's generator rather than the app's seeded one, so the two figures agree to the sampling
noise of 1,000 faces, not to the digit; the app's figure is the one the model card quotes.

    python3 -m training.fd runs/g128/checkpoint.pt training/state/g128.safetensors \\
        --real ../shared/data/faces/ffhq256-real-1000.tar
"""

import argparse

import numpy as np
import torch

from training import state as saved_state
from training.data import decode_tar, to_tensor
from training.face_id import FaceIdNet, face_region
from training.util import MEASURE_SEED, device_and_threads

FACE_ID = "weights/face_id/face_recognition.safetensors"


def embed(net, images):
    """Unit-length 128-d identity embeddings of FFHQ-aligned images in [-1, 1], [B, 3, H, W]
    (the app's `IdentityNet::embed`)."""
    return torch.nn.functional.normalize(net(face_region(images)).double(), dim=1)


def real_embeddings(net, tar_path, side, dev):
    """Embeddings of every face in a tar archive (sorted by name), resized to `side`."""
    faces = decode_tar(tar_path, side)
    out = []
    for i in range(0, len(faces), 64):
        out.append(embed(net, to_tensor(faces[i:i + 64]).to(dev)))
    return torch.cat(out)


@torch.no_grad()
def generated_embeddings(net, g, count, dev, seed=MEASURE_SEED):
    """Embeddings of `count` faces of `g` at ψ 1, quantized as a PNG is, with zero noise: the
    stored noise the app's files carry (`state.py export`, the shipped `--stored-noise zero`)."""
    torch.manual_seed(seed)
    noise = [torch.zeros_like(n) for n in g.stored_noise()]
    out = []
    for start in range(0, count, 50):
        z = torch.randn(min(50, count - start), g.style_dim, device=dev)
        w = g.mapping(z)
        img = g.synthesis(w[:, None].repeat(1, g.n_latent, 1), noise)
        img = ((img.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
        out.append(embed(net, img))
    return torch.cat(out)


def frechet(a, b):
    """|μa − μb|² + Tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½) of two row sets (float64)."""
    a, b = a.cpu().numpy(), b.cpu().numpy()
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(ca)
    sqrt_a = (vecs * np.sqrt(vals.clip(0))) @ vecs.T
    inner = sqrt_a @ cb @ sqrt_a
    tr_sqrt = np.sqrt(np.linalg.eigvalsh((inner + inner.T) / 2).clip(0)).sum()
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt)


def load_generator_ema(path, dev):
    """G_ema of a trainer checkpoint (`.pt`) or a saved state (`.safetensors`)."""
    if path.endswith(".pt"):
        s = torch.load(path, map_location="cpu", weights_only=False)
        cfg, weights, nimg = s["generator_config"], s["g_ema"], s["state"]["nimg"]
    else:
        nets, cfg, counters = saved_state.load(path)
        weights, nimg = nets["g_ema"], counters["nimg"]
    g = saved_state.ema_generator(cfg, weights, path)
    return g.to(dev).eval(), nimg


class Scorer:
    """The real set's embeddings, computed once per generator size; scores generators."""

    def __init__(self, real_tar, dev, face_id=FACE_ID, count=1000):
        self.net = FaceIdNet(face_id).to(dev).eval()
        self.real_tar, self.dev, self.count, self.real = real_tar, dev, count, {}

    def __call__(self, g):
        if g.size not in self.real:
            with torch.no_grad():
                self.real[g.size] = real_embeddings(self.net, self.real_tar, g.size, self.dev)
        return frechet(generated_embeddings(self.net, g, self.count, self.dev), self.real[g.size])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="checkpoint.pt or state .safetensors files")
    p.add_argument("--real", default="../shared/data/faces/ffhq256-real-1000.tar")
    p.add_argument("--face-id", default=FACE_ID)
    p.add_argument("--count", type=int, default=1000)
    a = p.parse_args()
    dev = device_and_threads()
    score = Scorer(a.real, dev, a.face_id, a.count)
    for path in a.models:
        g, nimg = load_generator_ema(path, dev)
        print(f"{path}: {nimg / 1000:.1f} kimg, identity-space Fréchet distance {score(g):.4f}", flush=True)


if __name__ == "__main__":
    main()

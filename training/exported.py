"""The trainer's models built from the app's exported safetensors files (what `export.py`
writes and `weights/` bundles): lets a session resume or fine-tune from the bundled model when
the training checkpoints are gone, and lets `parity.py` compare the Rust app with them."""

import json

from safetensors import safe_open

from training.fse import FeatureStyleEncoder
from training.stylegan2 import Discriminator, Generator


def read(path):
    """(tensors as float32, metadata) of a safetensors file."""
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k).float() for k in f.keys()}, f.metadata() or {}


def load_generator(path):
    """(generator in eval mode, latent_avg) of an exported generator."""
    t, meta = read(path)
    c = json.loads(meta["config"])
    g = Generator(c["size"], c["style_dim"], c["n_mlp"], c["channels"], c["lr_mlp"])
    avg = t.pop("latent_avg")
    g.load_state_dict(t)
    return g.eval(), avg


def load_encoder(path):
    """(encoder in eval mode, its config) of an exported encoder."""
    t, meta = read(path)
    c = json.loads(meta["config"])
    e = FeatureStyleEncoder(**{k: v for k, v in c.items() if k != "bn_eps"})
    e.load_exported(t)
    return e.eval(), c


def load_perceptual_trunk(path, size):
    """A discriminator whose feature trunk (`from_rgb`, `blocks.*`) is the exported perceptual
    network; its scoring head stays untrained (only `features` is meaningful)."""
    t, _ = read(path)
    n_blocks = len({k.split(".")[1] for k in t if k.startswith("blocks.")})
    chans = [t["from_rgb.weight"].shape[0]] + [t[f"blocks.{i}.conv2.weight"].shape[0] for i in range(n_blocks)]
    d = Discriminator(size, list(reversed(chans)))
    missing, unexpected = d.load_state_dict(t, strict=False)
    trunk_missing = [k for k in missing if k.startswith(("from_rgb", "blocks")) and not k.endswith("kernel")]
    if unexpected or trunk_missing:
        raise KeyError(f"perceptual weights: missing {trunk_missing}, unexpected {unexpected}")
    return d.eval()

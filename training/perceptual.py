"""A perceptual distance from the trained discriminator's features (ImageNet VGG/AlexNet
trunks are not obtainable here): LPIPS-style — unit-normalize each layer's activations over
channels, squared difference, spatial mean, summed over layers with equal weights — and the
FSE paper's multi-scale form (the same distance at full, 1/2 and 1/4 resolution)."""

import torch
import torch.nn.functional as F


def unit(x):
    return x * torch.rsqrt((x * x).sum(1, keepdim=True) + 1e-10)


def unit_feature_distance(fx, fy):
    """Per-sample distance between two lists of a trunk's activations: unit-normalized over
    channels, squared difference summed over channels, spatial mean, summed over layers (the
    Rust `unit_feature_distance`)."""
    return sum(((unit(a) - unit(b)) ** 2).sum(1).mean((1, 2)) for a, b in zip(fx, fy))


class DiscriminatorFeatures:
    def __init__(self, d):
        self.d = d.eval().requires_grad_(False)

    def distance(self, x, y):
        return unit_feature_distance(self.d.features(x), self.d.features(y))

    def multiscale(self, x, y, scales=3):
        total = 0
        for i in range(scales):
            if i:
                x = F.avg_pool2d(x, 2)
                y = F.avg_pool2d(y, 2)
            total = total + self.distance(x, y)
        return total

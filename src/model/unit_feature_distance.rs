//! LPIPS's form without learned per-channel weights, for trunks that have none (the bundled
//! discriminator trunk, the identity network): each layer's activations unit-normalized over
//! channels, squared difference summed over channels, averaged over space, summed over
//! layers with equal weights.

use burn::tensor::Tensor;

/// Distance per sample `[B]` between two lists of activations of the same trunk.
pub fn unit_feature_distance(a: Vec<Tensor<4>>, b: Vec<Tensor<4>>) -> Tensor<1> {
    let unit = |t: Tensor<4>| {
        let norm = t.clone().powi_scalar(2).sum_dim(1).add_scalar(1e-10).sqrt();
        t / norm
    };
    a.into_iter()
        .zip(b)
        .map(|(a, b)| {
            let [n, _, h, w] = a.dims();
            (unit(a) - unit(b))
                .powi_scalar(2)
                .sum_dim(1)
                .reshape([n, h * w])
                .mean_dim(1)
                .reshape([n])
        })
        .reduce(|a, b| a + b)
        .expect("at least one layer")
}

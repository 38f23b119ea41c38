//! Where the per-layer noise maps come from.

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::generator_config::GeneratorConfig;
use super::loader::tensor_from_vec;

/// The noise fed to the styled convolutions.
#[derive(Debug, Clone)]
pub enum NoiseMode {
    /// The generator's stored buffers (`noises.noise_j`): deterministic, the editor's default.
    Stored,
    /// Fresh N(0,1) maps per sample, from a seeded generator (reproducible).
    Random { seed: u64 },
    /// No noise at all.
    Zero,
    /// Explicit maps, one per layer, `[B or 1, 1, R, R]`.
    Given(Vec<Tensor<4>>),
}

/// `count` seeded standard-normal values.
pub fn normal_values(count: usize, rng: &mut rand::rngs::StdRng) -> Vec<f32> {
    (0..count).map(|_| StandardNormal.sample(rng)).collect()
}

/// Seeded N(0,1) noise maps for every layer, `[batch, 1, R, R]`.
pub fn random_noise(
    config: &GeneratorConfig,
    batch: usize,
    seed: u64,
    device: &Device,
) -> Vec<Tensor<4>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..config.num_layers())
        .map(|j| {
            let r = config.noise_resolution(j);
            tensor_from_vec(
                normal_values(batch * r * r, &mut rng),
                [batch, 1, r, r],
                device,
            )
        })
        .collect()
}

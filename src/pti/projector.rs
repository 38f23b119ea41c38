//! PTI stage 1: the W-space projector (after StyleGAN2-ADA's): one w, starting from the mean of
//! mapped latents, and all noise maps (re-drawn N(0,1)) are optimized with Adam under a ramped
//! learning rate, decaying latent noise, a perceptual loss and the multi-scale noise
//! regularization (×1e5); noise maps are re-normalized after every step.

use std::f64::consts::PI;
use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use rand::SeedableRng;

use super::adam::FusedAdam;
use super::perceptual::Perceptual;
use super::tuning::{CancelToken, TuningError};
use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::model::noise::normal_values;
use crate::model::{Generator, NoiseMode};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectionConfig {
    pub steps: usize,
    pub initial_lr: f64,
    pub initial_noise_factor: f64,
    pub lr_rampdown: f64,
    pub lr_rampup: f64,
    pub noise_ramp: f64,
    pub noise_regularization: f32,
    /// Mapped z used for the mean and spread of w (PTI: 600).
    pub w_avg_samples: usize,
    pub seed: u64,
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        Self {
            steps: 450,
            initial_lr: 0.01,
            initial_noise_factor: 0.05,
            lr_rampdown: 0.25,
            lr_rampup: 0.05,
            noise_ramp: 0.75,
            noise_regularization: 1e5,
            w_avg_samples: 600,
            seed: 123,
        }
    }
}

impl ProjectionConfig {
    /// Learning rate at `step`: `lr₀ · (½ − ½cos(π·min(1, (1−t)/rampdown))) · min(1, t/rampup)`.
    pub fn learning_rate(&self, step: usize) -> f64 {
        let t = step as f64 / self.steps as f64;
        let down = 0.5 - 0.5 * (PI * ((1.0 - t) / self.lr_rampdown).min(1.0)).cos();
        self.initial_lr * down * (t / self.lr_rampup).min(1.0)
    }

    /// Latent noise at `step`, relative to w's spread: `0.05 · max(0, 1 − t/0.75)²`.
    pub fn w_noise_factor(&self, step: usize) -> f64 {
        let t = step as f64 / self.steps as f64;
        self.initial_noise_factor * (1.0 - t / self.noise_ramp).max(0.0).powi(2)
    }
}

/// `roll(x, 1)` along `dim` (circular shift by one).
fn roll1(x: Tensor<4>, dim: usize) -> Tensor<4> {
    let n = x.dims()[dim];
    Tensor::cat(
        vec![x.clone().narrow(dim, n - 1, 1), x.narrow(dim, 0, n - 1)],
        dim,
    )
}

/// Σ over maps and their 2×2-pooled pyramid (while the side is > 8, the 8-level included) of
/// `mean(n·roll(n,1,x))² + mean(n·roll(n,1,y))²`.
pub fn noise_regularization(maps: &[Tensor<4>]) -> Tensor<1> {
    let mut total: Option<Tensor<1>> = None;
    for map in maps {
        let mut n = map.clone();
        loop {
            let term = (n.clone() * roll1(n.clone(), 3)).mean().square()
                + (n.clone() * roll1(n.clone(), 2)).mean().square();
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
            if n.dims()[3] <= 8 {
                break;
            }
            n = avg_pool2d(n, AvgPoolOptions::new([2, 2]));
        }
    }
    total.expect("at least one noise map")
}

/// Zero mean, unit (population) variance.
pub fn normalize_noise(n: Tensor<4>) -> Tensor<4> {
    let centred = n.clone() - n.mean().reshape([1, 1, 1, 1]);
    let std = centred.clone().square().mean().sqrt().reshape([1, 1, 1, 1]);
    centred / std
}

/// What the projector optimizes.
#[derive(Module, Debug)]
struct Projection {
    w: Param<Tensor<2>>,
    noises: Vec<Param<Tensor<4>>>,
}

pub struct Projected {
    /// The pivot, broadcast to every layer: `[1, n_latent, S]`.
    pub wplus: Tensor<3>,
    pub steps: usize,
    pub seconds: f64,
}

/// Projects `target` (`[1,3,H,W]` in [-1,1]) into W.
pub fn project(
    g: &Generator,
    target: &Tensor<4>,
    perceptual: &Perceptual,
    config: &ProjectionConfig,
    cancel: &CancelToken,
    mut on_step: impl FnMut(usize, usize, f32),
) -> Result<Projected, TuningError> {
    let start = Instant::now();
    let s = g.config.z_dim();
    let n = config.w_avg_samples.max(2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let z = tensor_from_vec(normal_values(n * s, &mut rng), [n, s], &g.device());
    let w = g.map(z);
    let w_avg = w.clone().mean_dim(0); // [1, S]
    let w_std: f32 = (w - w_avg.clone())
        .square()
        .sum()
        .div_scalar(n as f32)
        .sqrt()
        .into_scalar();

    let device = g.device().autodiff();
    // only w and the noise maps are optimized: the generator's weights take no gradient
    // (their products are skipped in the backward pass, and what the kernels derive from
    // them is kept between steps)
    let frozen = Generator::load(&g.to_store(), &device)?.no_grad();
    let noises = (0..g.config.num_layers())
        .map(|j| {
            let r = g.config.noise_resolution(j);
            Param::from_tensor(tensor_from_vec(
                normal_values(r * r, &mut rng),
                [1, 1, r, r],
                &device,
            ))
        })
        .collect();
    let mut params = Projection {
        w: Param::from_tensor(tensor_from_vec(tensor_to_vec(w_avg), [1, s], &device)),
        noises,
    };
    let target = tensor_from_vec(tensor_to_vec(target.clone()), target.dims(), &device);
    let mut optim = FusedAdam::init(1e-8);
    for step in 0..config.steps {
        if cancel.is_cancelled() {
            return Err(TuningError::Cancelled);
        }
        let noise_scale = w_std * config.w_noise_factor(step) as f32;
        let jitter =
            tensor_from_vec(normal_values(s, &mut rng), [1, s], &device).mul_scalar(noise_scale);
        let ws = frozen.broadcast(params.w.val() + jitter);
        let maps: Vec<Tensor<4>> = params.noises.iter().map(|p| p.val()).collect();
        let image = frozen
            .synthesize(ws, &NoiseMode::Given(maps.clone()), None, &[])?
            .image;
        let distance = perceptual
            .distance(image.clone(), target.clone())
            .unwrap_or_else(|| (image - target.clone()).square().mean());
        let loss = distance + noise_regularization(&maps).mul_scalar(config.noise_regularization);
        let loss_value: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &params);
        params = optim.step(config.learning_rate(step), params, grads);
        params.noises = params
            .noises
            .into_iter()
            .map(|p| p.map(|t| normalize_noise(t.detach()).detach().require_grad()))
            .collect();
        on_step(step + 1, config.steps, loss_value);
    }
    let w = tensor_from_vec(tensor_to_vec(params.w.val()), [1, s], &g.device());
    Ok(Projected {
        wplus: g.broadcast(w),
        steps: config.steps,
        seconds: start.elapsed().as_secs_f64(),
    })
}

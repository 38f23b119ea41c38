//! Pivotal tuning (PTI stage 2): the generator is unfrozen and tuned so that G(w_p) matches the
//! photo — LPIPS + λ_L2·MSE, Adam (lr 3e-4), up to 350 steps, stopping once LPIPS < 0.06 — with
//! optional locality regularization. It runs on a trainable copy, so cancelling (or failing)
//! leaves the original generator exactly as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;

use super::adam::FusedAdam;
use super::perceptual::Perceptual;
use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::model::noise::normal_values;
use crate::model::{Generator, ModelError, NoiseMode};

/// Locality regularization (PTI §3.2): keep the tuned generator close to the original at codes
/// `w_r = w_p + α·(w_z − w_p)/‖w_z − w_p‖` away from the pivot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Locality {
    Off,
    On {
        alpha: f32,
        l2_weight: f32,
        lpips_weight: f32,
    },
}

impl Locality {
    /// The paper's values: α = 30, 0.1·MSE + 0.1·LPIPS.
    pub fn paper() -> Self {
        Locality::On {
            alpha: 30.0,
            l2_weight: 0.1,
            lpips_weight: 0.1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuningConfig {
    pub steps: usize,
    pub learning_rate: f64,
    /// Weight of the pixel MSE next to LPIPS.
    pub l2_lambda: f32,
    /// Stop once the LPIPS at the pivot falls below this.
    pub lpips_threshold: f32,
    pub locality: Locality,
    pub seed: u64,
}

impl Default for TuningConfig {
    fn default() -> Self {
        Self {
            steps: 350,
            learning_rate: 3e-4,
            l2_lambda: 1.0,
            lpips_threshold: 0.06,
            locality: Locality::Off,
            seed: 0,
        }
    }
}

/// Reported after every step.
#[derive(Debug, Clone, PartialEq)]
pub struct TuningProgress {
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    pub mse: f32,
    pub lpips: Option<f32>,
    pub seconds: f64,
    pub eta_seconds: f64,
}

/// Cancels a running job at its next step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TuningError {
    #[error("cancelled: the generator is unchanged")]
    Cancelled,
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Weights(#[from] crate::weights::WeightsError),
}

/// What a finished tuning returns: the tuned generator on the original's device.
pub struct Tuned {
    pub generator: Generator,
    pub steps: usize,
    pub seconds: f64,
}

fn copy_to(t: &Tensor<4>, device: &Device) -> Tensor<4> {
    tensor_from_vec(tensor_to_vec(t.clone()), t.dims(), device)
}

/// `w_p + α(w_z − w_p)/‖w_z − w_p‖` (norm over all elements).
pub fn locality_code(pivot: Tensor<3>, w_z: Tensor<3>, alpha: f32) -> Tensor<3> {
    let d = w_z - pivot.clone();
    let norm = d.clone().square().sum().sqrt().reshape([1, 1, 1]);
    pivot + d / norm * alpha
}

/// Tunes a copy of `original` at `pivot` (`[1, n_latent, S]`) toward `target` (`[1,3,H,W]` in
/// [-1,1]). `on_step` sees every step; `cancel` stops at the next one.
pub fn pivotal_tuning(
    original: &Generator,
    pivot: &Tensor<3>,
    target: &Tensor<4>,
    perceptual: &Perceptual,
    config: &TuningConfig,
    cancel: &CancelToken,
    mut on_step: impl FnMut(&TuningProgress),
) -> Result<Tuned, TuningError> {
    original.check_wplus(pivot)?;
    let start = Instant::now();
    let device = original.device().autodiff();
    let mut g = Generator::load(&original.to_store(), &device)?;
    let pivot_ad = tensor_from_vec(tensor_to_vec(pivot.clone()), pivot.dims(), &device);
    let target_ad = copy_to(target, &device);
    let mut optim = FusedAdam::init(1e-8);
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let avg = original.truncation_latent();
    let mut done = 0;
    for step in 0..config.steps {
        if cancel.is_cancelled() {
            return Err(TuningError::Cancelled);
        }
        let image = g
            .synthesize(pivot_ad.clone(), &NoiseMode::Stored, None, &[])?
            .image;
        let mse = (image.clone() - target_ad.clone()).square().mean();
        let lpips = perceptual.distance(image, target_ad.clone());
        let mut loss = mse.clone().mul_scalar(config.l2_lambda);
        if let Some(l) = &lpips {
            loss = loss + l.clone();
        }
        if let Locality::On {
            alpha,
            l2_weight,
            lpips_weight,
        } = config.locality
        {
            let zd = original.config.z_dim();
            let z = tensor_from_vec(normal_values(zd, &mut rng), [1, zd], &original.device());
            // PTI maps z with truncation 0.5 and renders these codes without noise.
            let w_z = original.truncate(original.map(z), 0.5, &avg);
            let w_r = locality_code(pivot.clone(), original.broadcast(w_z), alpha);
            let reference = original
                .synthesize(w_r.clone(), &NoiseMode::Zero, None, &[])?
                .image;
            let reference = copy_to(&reference, &device);
            let w_r = tensor_from_vec(tensor_to_vec(w_r.clone()), w_r.dims(), &device);
            let tuned = g.synthesize(w_r, &NoiseMode::Zero, None, &[])?.image;
            loss = loss
                + (tuned.clone() - reference.clone())
                    .square()
                    .mean()
                    .mul_scalar(l2_weight);
            if let Some(l) = perceptual.distance(tuned, reference) {
                loss = loss + l.mul_scalar(lpips_weight);
            }
        }
        let loss_value: f32 = loss.clone().into_scalar();
        let mse_value: f32 = mse.into_scalar();
        let lpips_value: Option<f32> = lpips.map(|l| l.into_scalar());
        // Close enough already: stop before updating (as the reference does).
        if lpips_value.is_some_and(|l| l <= config.lpips_threshold) {
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &g);
        g = optim.step(config.learning_rate, g, grads);
        done = step + 1;
        let seconds = start.elapsed().as_secs_f64();
        on_step(&TuningProgress {
            step: done,
            steps: config.steps,
            loss: loss_value,
            mse: mse_value,
            lpips: lpips_value,
            seconds,
            eta_seconds: seconds / done as f64 * (config.steps - done) as f64,
        });
    }
    if cancel.is_cancelled() {
        return Err(TuningError::Cancelled);
    }
    let mut store = g.to_store();
    store.metadata.insert(
        crate::model::generator::BASE_GENERATOR_KEY.into(),
        original.identity.clone(),
    );
    Ok(Tuned {
        generator: Generator::load(&store, &original.device())?,
        steps: done,
        seconds: start.elapsed().as_secs_f64(),
    })
}

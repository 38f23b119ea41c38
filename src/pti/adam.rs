//! Adam (Kingma & Ba; PTI and the projector use β = (0.9, 0.999), ε = 1e-8) with the update
//! of a parameter in one pass over its values on the CPU backend. burn's Adam composes the
//! same update from about a dozen whole-tensor operations, each a pass of its own with a fresh
//! allocation: on the bundled generator that was 8–10 ms of a ~55 ms tuning step. Other
//! backends keep burn's Adam; the state is burn's `AdamState` either way.

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

use crate::model::cpu_tensor::{MIN_PARALLEL, is_cpu_inference, update_in_place, with_values};

const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;

#[derive(Clone)]
pub struct FusedAdam {
    epsilon: f32,
    /// burn's Adam with the same settings, for tensors off the CPU backend.
    elsewhere: Adam,
}

impl FusedAdam {
    /// The optimizer for a whole module.
    pub fn init(epsilon: f32) -> ModuleOptimizer {
        let elsewhere = AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(epsilon)
            .build();
        ModuleOptimizer::from(Self { epsilon, elsewhere })
    }
}

/// One Adam update of `p` with gradient `g` at step `time` (1-based), in place:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)
/// (PyTorch's arrangement of the bias corrections).
fn update(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], lr: f32, eps: f32, time: i32) {
    let step = lr / (1.0 - BETA_1.powi(time));
    let root_correction = (1.0 - BETA_2.powi(time)).sqrt();
    let one = |(((p, m), v), &g): (((&mut f32, &mut f32), &mut f32), &f32)| {
        *m = BETA_1 * *m + (1.0 - BETA_1) * g;
        *v = BETA_2 * *v + (1.0 - BETA_2) * g * g;
        *p -= step * *m / (v.sqrt() / root_correction + eps);
    };
    if p.len() < MIN_PARALLEL {
        p.iter_mut()
            .zip(m.iter_mut())
            .zip(v.iter_mut())
            .zip(g)
            .for_each(one);
    } else {
        const CHUNK: usize = 1 << 13;
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| {
                p.iter_mut()
                    .zip(m.iter_mut())
                    .zip(v.iter_mut())
                    .zip(g)
                    .for_each(one);
            });
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        if !is_cpu_inference(&device) {
            return self.elsewhere.step(lr, tensor, grad, state);
        }
        let (time, m, v) = match state {
            Some(s) => (
                s.momentum.time + 1,
                s.momentum.moment_1,
                s.momentum.moment_2,
            ),
            None => (1, tensor.zeros_like(), tensor.zeros_like()),
        };
        let [p, m, v] = with_values(&grad, |g| {
            update_in_place([tensor, m, v], |[p, m, v]| {
                update(p, m, v, g, lr as f32, self.epsilon, time as i32)
            })
        })
        .expect("tensors of the CPU backend");
        let momentum = AdaptiveMomentumState::new(time, m, v);
        (p, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// Three steps on the CPU path equal burn's own Adam (an independent implementation of
    /// the same update) on a tensor large enough to take the parallel branch.
    #[test]
    fn matches_burns_adam() {
        let device = Device::flex();
        let n = MIN_PARALLEL + 77;
        let values = |seed: f32| -> Tensor<1> {
            let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
            Tensor::from_data(TensorData::new(v, [n]), &device)
        };
        let ours = FusedAdam {
            epsilon: 1e-8,
            elsewhere: AdamConfig::new().with_epsilon(1e-8).build(),
        };
        let burns = AdamConfig::new().with_epsilon(1e-8).build();
        let (mut a, mut b) = (values(0.0), values(0.0));
        let (mut sa, mut sb) = (None, None);
        for step in 0..3 {
            let grad = values(1.0 + step as f32).mul_scalar(1.0 + step as f32);
            (a, sa) = ours.step(0.01, a, grad.clone(), sa);
            (b, sb) = burns.step(0.01, b, grad, sb);
        }
        let read = |t: &Tensor<1>| with_values(t, <[f32]>::to_vec);
        let (a, b) = (read(&a), read(&b));
        let start = read(&values(0.0));
        let moved = a.iter().zip(&start).filter(|(x, y)| x != y).count();
        assert!(moved > n / 2, "the update moves the parameters");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= 1e-6, "value {i}: {x} vs burn's {y}");
        }
        assert_eq!(sa.unwrap().momentum.time, 3);
    }
}

//! StyleGAN2's demodulation factors `d[b, o] = 1/√(Σ_i s[b, i]²·q[o, i] + 1e-8)`, with
//! `q[o, i] = Σ_t W[o, i, t]²`, as one differentiable op for burn's autodiff on the `flex`
//! backend. Composed from burn's ops this squares the whole weight, reduces it, and in the
//! backward pass expands and multiplies weight-sized tensors again; here the forward reads the
//! weight once and the backward writes `∂W` in one pass.
//!
//! With `e[b, o] = −g[b, o]·d[b, o]³` (`g = ∂L/∂d`): `∂s[b, i] = s[b, i]·Σ_o e[b, o]·q[o, i]`
//! and `∂W[o, i, t] = W[o, i, t]·Σ_b e[b, o]·s[b, i]²`.

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use std::sync::Arc;

use super::cpu_autodiff::{CpuAutodiff, values};
use super::cpu_modulated_conv::{demodulation_factors, squared_taps};
use super::cpu_tensor::StorageKey;
use super::cpu_weight_cache::{self, Form};

/// The factors `[B, out]` for styles `[B, in]` and weights `[out, in, k, k]`; `None` off the
/// CPU autodiff backend or for other shapes (the caller composes burn's ops).
pub(super) fn demodulation(style: &Tensor<2>, weight: &Tensor<4>) -> Option<Tensor<2>> {
    let [b, cin] = style.dims();
    let [cout, wcin, kh, kw] = weight.dims();
    if wcin != cin || b * cin * cout * kh * kw == 0 {
        return None;
    }
    let style = style.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let weight = weight.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let taps = kh * kw;
    // kept between steps for a weight that takes no gradient (a projection's generator)
    let fixed = (!weight.is_tracked())
        .then(|| StorageKey::of_flex(weight.primitive()))
        .flatten();
    let q = cpu_weight_cache::values(fixed.as_ref(), Form::SquaredTaps, || {
        squared_taps(&values(weight.primitive()), taps)
    });
    let s = values(style.primitive()).into_owned();
    let d: Vec<f32> = s
        .chunks_exact(cin)
        .flat_map(|s| demodulation_factors(&q, s))
        .collect();
    let out = FlexTensor::from_data(TensorData::new(d.clone(), [b, cout]));
    let out = match DemodBackward
        .prepare::<NoCheckpointing>([style.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            DemodState {
                s,
                q,
                d,
                weight: weight.primitive().clone(),
                dims: [b, cin, cout, taps],
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<CpuAutodiff>(out))
}

#[derive(Debug, Clone)]
struct DemodState {
    /// `[B, in]`.
    s: Vec<f32>,
    /// `[out, in]`.
    q: Arc<Vec<f32>>,
    /// `[B, out]`.
    d: Vec<f32>,
    weight: FlexTensor,
    /// `[B, in, out, taps]`.
    dims: [usize; 4],
}

#[derive(Debug)]
struct DemodBackward;

impl Backward<Flex, 2> for DemodBackward {
    type State = DemodState;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_s, node_w] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let DemodState {
            s,
            q,
            d,
            weight,
            dims,
        } = ops.state;
        let [b, cin, cout, taps] = dims;
        let g = values(&grad);
        let e: Vec<f32> = g.iter().zip(&d).map(|(g, d)| -g * d * d * d).collect();
        if let Some(node) = node_s {
            let mut ds = vec![0f32; b * cin];
            for i in 0..b {
                for o in 0..cout {
                    let eo = e[i * cout + o];
                    let qo = &q[o * cin..(o + 1) * cin];
                    ds[i * cin..(i + 1) * cin]
                        .iter_mut()
                        .zip(qo)
                        .for_each(|(a, q)| *a += eo * q);
                }
                ds[i * cin..(i + 1) * cin]
                    .iter_mut()
                    .zip(&s[i * cin..(i + 1) * cin])
                    .for_each(|(a, s)| *a *= s);
            }
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(ds, [b, cin])),
            );
        }
        if let Some(node) = node_w {
            let w = values(&weight);
            let mut dw = vec![0f32; cout * cin * taps];
            dw.par_chunks_exact_mut(cin * taps)
                .zip(w.par_chunks_exact(cin * taps))
                .enumerate()
                .for_each(|(o, (dw, w))| {
                    // a[c] = Σ_b e[b, o]·s[b, c]², then ∂W[o, c, t] = W[o, c, t]·a[c]
                    let mut a = vec![0f32; cin];
                    for i in 0..b {
                        let eo = e[i * cout + o];
                        let si = &s[i * cin..(i + 1) * cin];
                        a.iter_mut().zip(si).for_each(|(a, s)| *a += eo * s * s);
                    }
                    for ((d, w), &a) in dw.chunks_exact_mut(taps).zip(w.chunks_exact(taps)).zip(&a)
                    {
                        d.iter_mut().zip(w).for_each(|(d, w)| *d = w * a);
                    }
                });
            let shape = weight.layout().shape().to_vec();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dw, shape)));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::model::cpu_autodiff::tests::values;
    use crate::model::loader::{tensor_from_vec, tensor_to_vec};

    /// Factors, `∂s` and `∂W` against the same formula in burn's ops (as
    /// `ModulatedConv2d::forward_parts` composes it), batch 1 and 3, 3×3 and 1×1 kernels.
    #[test]
    fn gradients_equal_burns() {
        let device = Device::flex().autodiff();
        for (b, cin, cout, k) in [(1, 4, 3, 3), (3, 5, 7, 3), (2, 64, 32, 1)] {
            let run = |ours: bool| {
                let s = tensor_from_vec(values(b * cin, 1), [b, cin], &device).require_grad();
                let w = tensor_from_vec(values(cout * cin * k * k, 2), [cout, cin, k, k], &device)
                    .require_grad();
                let d = if ours {
                    demodulation(&s, &w).expect("the CPU op runs here")
                } else {
                    let q = w
                        .clone()
                        .reshape([cout, cin, k * k])
                        .square()
                        .sum_dim(2)
                        .reshape([cout, cin]);
                    s.clone()
                        .square()
                        .matmul(q.transpose())
                        .add_scalar(1e-8)
                        .sqrt()
                        .recip()
                };
                let probe = tensor_from_vec(values(b * cout, 3), [b, cout], &device);
                let grads = (d.clone() * probe).sum().backward();
                [
                    tensor_to_vec(d),
                    tensor_to_vec(s.grad(&grads).expect("∂s")),
                    tensor_to_vec(w.grad(&grads).expect("∂W")),
                ]
            };
            for (what, (a, e)) in ["d", "∂s", "∂W"]
                .iter()
                .zip(run(true).iter().zip(&run(false)))
            {
                assert_eq!(a.len(), e.len(), "{what}");
                for (a, e) in a.iter().zip(e) {
                    assert!(
                        (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                        "{what} ({b},{cin},{cout},{k}): {a} vs {e}"
                    );
                }
            }
        }
    }
}

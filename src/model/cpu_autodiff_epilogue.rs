//! What follows a styled convolution — demodulation, noise, bias, StyleGAN2's leaky ReLU
//! ×√2 and NVIDIA's clamp — as one differentiable op for burn's autodiff on the `flex`
//! backend. Composed from burn's ops it is six whole-output passes forward and about a dozen
//! backward, each with its own allocation and graph node; here it is one pass forward and
//! three backward (`docs/performance.md`, #17).
//!
//! With `v = u·d + s·n + b`, `y = clamp(lrelu(v)·√2)` and `g = ∂L/∂y`:
//! `g_v = g · √2 · (v < 0 ? 0.2 : 1)` (0 where the clamp holds), `∂u = g_v·d`,
//! `∂d[b,o] = Σ_p g_v·u`, `∂b[o] = Σ_{b,p} g_v`, `∂s = Σ g_v·n`, `∂n[p] = s·Σ_o g_v`
//! (summed over the batch too when one map serves every sample).

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::cpu_autodiff::{CpuAutodiff, values};
use super::cpu_modulated_conv::leaky_relu_gain;
use super::cpu_tensor::MIN_PARALLEL;

/// The output values `[B, C, H, W]` of a styled convolution after its convolution `u`, as
/// one differentiable op: `clamp(lrelu(u·d + s·n + b)·√2)` with `demod` `[B, C]`, `noise`
/// `[B or 1, 1, H, W]`, `strength` `[1]`, `bias` `[C]`. `None` off the CPU autodiff backend
/// or for shapes that do not fit (the caller composes burn's ops).
pub(super) fn styled(
    u: &Tensor<4>,
    demod: &Tensor<2>,
    noise: &Tensor<4>,
    strength: &Tensor<1>,
    bias: &Tensor<1>,
    clamp: Option<f32>,
) -> Option<Tensor<4>> {
    let [b, c, h, w] = u.dims();
    let [nb, nc, nh, nw] = noise.dims();
    let fits = demod.dims() == [b, c]
        && (nb == b || nb == 1)
        && (nc, nh, nw) == (1, h, w)
        && strength.dims() == [1]
        && bias.dims() == [c]
        && b * c * h * w > 0;
    if !fits {
        return None;
    }
    let u = u.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let demod = demod.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let noise = noise.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let strength = strength.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let bias = bias.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let state = EpilogueState {
        u: u.primitive().clone(),
        demod: demod.primitive().clone(),
        noise: noise.primitive().clone(),
        strength: strength.primitive().clone(),
        bias: bias.primitive().clone(),
        dims: [b, c, h, w],
        noise_batch: nb,
        clamp,
    };
    let out = FlexTensor::from_data(TensorData::new(state.forward(), [b, c, h, w]));
    let out = match EpilogueBackward
        .prepare::<NoCheckpointing>([
            u.node(),
            demod.node(),
            noise.node(),
            strength.node(),
            bias.node(),
        ])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<CpuAutodiff>(out))
}

/// The op's inputs (shared with the graph, not copied) and shape.
#[derive(Debug, Clone)]
struct EpilogueState {
    u: FlexTensor,
    /// `[B, C]`.
    demod: FlexTensor,
    noise: FlexTensor,
    strength: FlexTensor,
    bias: FlexTensor,
    dims: [usize; 4],
    noise_batch: usize,
    clamp: Option<f32>,
}

impl EpilogueState {
    /// The number of `[b, o]` output rows.
    fn rows(&self) -> usize {
        self.dims[0] * self.dims[1]
    }

    fn forward(&self) -> Vec<f32> {
        let [_, c, h, w] = self.dims;
        let n = h * w;
        let (u, d, maps) = (values(&self.u), values(&self.demod), values(&self.noise));
        let (s, bias) = (values(&self.strength)[0], values(&self.bias));
        let mut out = vec![0f32; self.rows() * n];
        out.par_chunks_exact_mut(n)
            .enumerate()
            .with_min_len((MIN_PARALLEL / n).max(1))
            .for_each(|(row, dst)| {
                let map = self.map(&maps, row / c);
                let (d, b) = (d[row], bias[row % c]);
                let src = &u[row * n..(row + 1) * n];
                for ((y, &u), &m) in dst.iter_mut().zip(src).zip(map) {
                    let a = leaky_relu_gain(u * d + s * m + b);
                    *y = self.clamp.map_or(a, |c| a.clamp(-c, c));
                }
            });
        out
    }

    /// Sample `image`'s noise map.
    fn map<'a>(&self, maps: &'a [f32], image: usize) -> &'a [f32] {
        let n = self.dims[2] * self.dims[3];
        let i = if self.noise_batch == 1 { 0 } else { image };
        &maps[i * n..(i + 1) * n]
    }
}

#[derive(Debug)]
struct EpilogueBackward;

impl Backward<Flex, 5> for EpilogueBackward {
    type State = EpilogueState;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_u, node_d, node_noise, node_s, node_bias] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let st = ops.state;
        let [b, c, h, w] = st.dims;
        let n = h * w;
        let (u, d, maps) = (values(&st.u), values(&st.demod), values(&st.noise));
        let (s, bias) = (values(&st.strength)[0], values(&st.bias));
        let g = values(&grad);
        // pass 1, rows in parallel: g_v, and per row Σ g_v·u, Σ g_v, Σ g_v·n
        let mut gv = vec![0f32; b * c * n];
        let sums: Vec<[f32; 3]> = gv
            .par_chunks_exact_mut(n)
            .enumerate()
            .with_min_len((MIN_PARALLEL / n).max(1))
            .map(|(row, dst)| {
                let map = st.map(&maps, row / c);
                let (dr, br) = (d[row], bias[row % c]);
                let (src, g) = (&u[row * n..(row + 1) * n], &g[row * n..(row + 1) * n]);
                let mut acc = [0f32; 3];
                for (((gv, &u), &m), &g) in dst.iter_mut().zip(src).zip(map).zip(g) {
                    let v = u * dr + s * m + br;
                    let held = st.clamp.is_some_and(|c| leaky_relu_gain(v).abs() > c);
                    let slope = if v < 0.0 { 0.2 } else { 1.0 };
                    *gv = if held {
                        0.0
                    } else {
                        g * slope * std::f32::consts::SQRT_2
                    };
                    acc[0] += *gv * u;
                    acc[1] += *gv;
                    acc[2] += *gv * m;
                }
                acc
            })
            .collect();
        let register = |grads: &mut Gradients, id, values: Vec<f32>, shape: Vec<usize>| {
            grads.register::<Flex>(id, FlexTensor::from_data(TensorData::new(values, shape)));
        };
        if let Some(node) = node_d {
            register(
                grads,
                node.id,
                sums.iter().map(|a| a[0]).collect(),
                vec![b, c],
            );
        }
        if let Some(node) = node_bias {
            let mut db = vec![0f32; c];
            for (row, a) in sums.iter().enumerate() {
                db[row % c] += a[1];
            }
            register(grads, node.id, db, vec![c]);
        }
        if let Some(node) = node_s {
            register(
                grads,
                node.id,
                vec![sums.iter().map(|a| a[2]).sum()],
                vec![1],
            );
        }
        // pass 2: ∂n[p] = s·Σ_o g_v (and over the batch when the map is shared)
        if let Some(node) = node_noise {
            let mut dn = vec![0f32; st.noise_batch * n];
            for (image, rows) in gv.chunks_exact(c * n).enumerate() {
                let dst = &mut dn[(image % st.noise_batch) * n..][..n];
                for row in rows.chunks_exact(n) {
                    dst.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
            }
            dn.iter_mut().for_each(|v| *v *= s);
            register(grads, node.id, dn, vec![st.noise_batch, 1, h, w]);
        }
        // pass 3: ∂u = g_v·d, in place
        if let Some(node) = node_u {
            gv.par_chunks_exact_mut(n)
                .enumerate()
                .with_min_len((MIN_PARALLEL / n).max(1))
                .for_each(|(row, values)| values.iter_mut().for_each(|v| *v *= d[row]));
            register(grads, node.id, gv, vec![b, c, h, w]);
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;
    use burn::tensor::activation::leaky_relu;

    use super::*;
    use crate::model::cpu_autodiff::tests::values;
    use crate::model::loader::{tensor_from_vec, tensor_to_vec};

    /// The op against the same steps in burn's ops (as `StyledConv` composes them): output
    /// and every input's gradient, with one noise map per sample or one for all, clamp on
    /// and off, rows few and many (the parallel branch).
    #[test]
    fn gradients_equal_burns() {
        let device = Device::flex().autodiff();
        for (b, c, h, w, nb, clamp) in [
            (1, 3, 4, 5, 1, None),
            (2, 4, 3, 3, 2, Some(0.9)),
            (2, 5, 6, 4, 1, Some(0.7)),
            (2, 64, 16, 16, 2, None),
        ] {
            let run = |ours: bool| {
                let leaf = |dims: Vec<usize>, seed| {
                    let n = dims.iter().product();
                    tensor_from_vec::<1>(values(n, seed), [n], &device).require_grad()
                };
                let u = leaf(vec![b, c, h, w], 1);
                let d = leaf(vec![b, c], 2);
                let noise = leaf(vec![nb, 1, h, w], 3);
                let s = leaf(vec![1], 4);
                let bias = leaf(vec![c], 5);
                let u4 = u.clone().reshape([b, c, h, w]);
                let d2 = d.clone().reshape([b, c]).abs().add_scalar(0.5);
                let noise4 = noise.clone().reshape([nb, 1, h, w]);
                let y = if ours {
                    styled(&u4, &d2, &noise4, &s, &bias, clamp).expect("the CPU op runs here")
                } else {
                    let v = u4 * d2.reshape([b, c, 1, 1])
                        + noise4 * s.clone().reshape([1, 1, 1, 1])
                        + bias.clone().reshape([1, c, 1, 1]);
                    let a = leaky_relu(v, 0.2).mul_scalar(std::f64::consts::SQRT_2);
                    match clamp {
                        Some(c) => a.clamp(-c as f64, c as f64),
                        None => a,
                    }
                };
                let probe = tensor_from_vec(values(b * c * h * w, 6), [b, c, h, w], &device);
                let grads = (y.clone() * probe).sum().backward();
                let mut out = vec![tensor_to_vec(y)];
                for leaf in [u, d, noise, s, bias] {
                    out.push(tensor_to_vec(leaf.grad(&grads).expect("a gradient")));
                }
                out
            };
            let (ours, burns) = (run(true), run(false));
            for (what, (a, e)) in ["y", "∂u", "∂d", "∂noise", "∂strength", "∂bias"]
                .iter()
                .zip(ours.iter().zip(&burns))
            {
                assert_eq!(a.len(), e.len(), "{what}");
                for (a, e) in a.iter().zip(e) {
                    assert!(
                        (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                        "{what} ({b},{c},{h},{w}, noise batch {nb}, clamp {clamp:?}): {a} vs {e}"
                    );
                }
            }
        }
    }
}

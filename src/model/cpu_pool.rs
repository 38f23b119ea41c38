//! Max pooling (no padding), separably over each plane on the CPU backend, planes in
//! parallel: burn's pooling also tracks the maxima's indices and costs more than the
//! convolutions of the small networks that use it (MTCNN, the LPIPS trunks). Other backends
//! use burn's.

use burn::tensor::Tensor;
use burn::tensor::module::max_pool2d as burn_max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use rayon::prelude::*;

use super::cpu_tensor::{MIN_PARALLEL, is_cpu_inference, with_values};
use super::loader::tensor_from_vec;

/// What happens to a last window that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolEdge {
    /// Dropped (PyTorch's default).
    Floor,
    /// Kept, seeing only what is inside (`ceil_mode=True`, as MTCNN's Caffe nets).
    Ceil,
}

/// `k`×`k` max pooling with stride `s`.
pub fn max_pool2d(x: Tensor<4>, k: usize, s: usize, edge: PoolEdge) -> Tensor<4> {
    let device = x.device();
    if !is_cpu_inference(&device) {
        let options = MaxPoolOptions::new([k, k]).with_stride([s, s]);
        return burn_max_pool2d(x, options.with_ceil_mode(edge == PoolEdge::Ceil));
    }
    let [b, c, h, w] = x.dims();
    let out_side = |n: usize| match edge {
        PoolEdge::Floor => n.saturating_sub(k) / s + 1,
        PoolEdge::Ceil => n.saturating_sub(k).div_ceil(s) + 1,
    };
    let (ho, wo) = (out_side(h), out_side(w));
    let mut out = vec![0f32; b * c * ho * wo];
    with_values(&x, |v| {
        v.par_chunks_exact(h * w)
            .zip(out.par_chunks_exact_mut(ho * wo))
            .with_min_len((MIN_PARALLEL / (h * w).max(1)).max(1))
            .for_each_init(
                || vec![f32::NEG_INFINITY; w],
                |columns, (plane, dst)| {
                    // separably: the maximum of the window's rows for every column (a loop over
                    // whole rows, which vectorizes), then of each window's columns of that
                    for (oy, out_row) in dst.chunks_exact_mut(wo).enumerate() {
                        columns.fill(f32::NEG_INFINITY);
                        for row in plane.chunks_exact(w).take((oy * s + k).min(h)).skip(oy * s) {
                            columns
                                .iter_mut()
                                .zip(row)
                                .for_each(|(m, &v)| *m = m.max(v));
                        }
                        for (ox, m) in out_row.iter_mut().enumerate() {
                            let xs = ox * s..(ox * s + k).min(w);
                            *m = columns[xs].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                        }
                    }
                },
            )
    });
    tensor_from_vec(out, [b, c, ho, wo], &device)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::model::loader::tensor_to_vec;

    /// The loop against burn's pooling, both edge modes, sizes that do and do not fit.
    #[test]
    fn equals_burns_pooling() {
        let device = Device::flex();
        for (h, w, k, s) in [(9, 7, 3, 2), (8, 8, 2, 2), (13, 11, 3, 2), (5, 6, 3, 1)] {
            let values: Vec<f32> = (0..2 * 3 * h * w)
                .map(|i| ((i * 7919) % 1013) as f32 / 506.5 - 1.0)
                .collect();
            let x = tensor_from_vec(values, [2, 3, h, w], &device);
            for edge in [PoolEdge::Floor, PoolEdge::Ceil] {
                let ours = max_pool2d(x.clone(), k, s, edge);
                let options = MaxPoolOptions::new([k, k]).with_stride([s, s]);
                let burns =
                    burn_max_pool2d(x.clone(), options.with_ceil_mode(edge == PoolEdge::Ceil));
                assert_eq!(ours.dims(), burns.dims(), "{h}×{w} k{k} s{s} {edge:?}");
                assert_eq!(tensor_to_vec(ours), tensor_to_vec(burns));
            }
        }
    }
}

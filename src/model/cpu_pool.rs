//! Max pooling (no padding), separably over each plane on the CPU backend, planes in
//! parallel: burn's pooling also tracks the maxima's indices and costs more than the
//! convolutions of the small networks that use it (MTCNN, the LPIPS trunks). Other backends
//! use burn's.

use burn::tensor::Tensor;
use burn::tensor::module::max_pool2d as burn_max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use rayon::prelude::*;

use super::cpu_tensor::{MIN_PARALLEL, is_cpu_inference, wide_vectors, with_values};
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
    let wide = wide_vectors();
    with_values(&x, |v| {
        v.par_chunks_exact(h * w)
            .zip(out.par_chunks_exact_mut(ho * wo))
            .with_min_len((MIN_PARALLEL / (h * w).max(1)).max(1))
            .for_each_init(
                || Rows::new(w, wo, k, s),
                |rows, (plane, dst)| match wide {
                    // SAFETY: `wide` says the CPU has AVX-512F.
                    #[cfg(target_arch = "x86_64")]
                    true => unsafe { rows.pool_avx512(plane, h, dst) },
                    _ => rows.pool(plane, h, dst),
                },
            )
    });
    tensor_from_vec(out, [b, c, ho, wo], &device)
}

/// One task's buffers for pooling planes separably: the maxima of a window's rows for every
/// column, and at stride 2 those split into even and odd columns (−∞ past the row's end).
struct Rows {
    columns: Vec<f32>,
    even: Vec<f32>,
    odd: Vec<f32>,
    wo: usize,
    k: usize,
    s: usize,
}

impl Rows {
    fn new(w: usize, wo: usize, k: usize, s: usize) -> Self {
        // the last window reads columns up to 2·(wo − 1) + k − 1 (past `w` at the Ceil edge)
        let half = wo + k / 2 + 1;
        Self {
            columns: vec![f32::NEG_INFINITY; w],
            even: vec![f32::NEG_INFINITY; half.max(w.div_ceil(2))],
            odd: vec![f32::NEG_INFINITY; half.max(w / 2)],
            wo,
            k,
            s,
        }
    }

    /// [`Self::pool`] compiled for AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn pool_avx512(&mut self, plane: &[f32], h: usize, dst: &mut [f32]) {
        self.pool(plane, h, dst)
    }

    /// `dst` (`[ho, wo]`) from one `h`-row plane: for each output row the maximum of the
    /// window's rows for every column (a loop over whole rows), then of each window's
    /// columns of that — at stride 2 as the maximum of `k` runs of the even and odd columns,
    /// loops that vectorize; at other strides window by window.
    #[inline(always)]
    fn pool(&mut self, plane: &[f32], h: usize, dst: &mut [f32]) {
        let (w, wo, k, s) = (self.columns.len(), self.wo, self.k, self.s);
        for (oy, out_row) in dst.chunks_exact_mut(wo).enumerate() {
            let columns = &mut self.columns[..];
            columns.fill(f32::NEG_INFINITY);
            for row in plane.chunks_exact(w).take((oy * s + k).min(h)).skip(oy * s) {
                columns
                    .iter_mut()
                    .zip(row)
                    .for_each(|(m, &v)| *m = m.max(v));
            }
            if s != 2 {
                for (ox, m) in out_row.iter_mut().enumerate() {
                    let xs = ox * s..(ox * s + k).min(w);
                    *m = columns[xs].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                }
                continue;
            }
            let (even, odd) = (&mut self.even[..], &mut self.odd[..]);
            for (pair, (e, o)) in columns
                .chunks_exact(2)
                .zip(even.iter_mut().zip(odd.iter_mut()))
            {
                (*e, *o) = (pair[0], pair[1]);
            }
            if w % 2 == 1 {
                even[w / 2] = columns[w - 1];
            }
            out_row.fill(f32::NEG_INFINITY);
            for kx in 0..k {
                let phase = if kx % 2 == 0 { &*even } else { &*odd };
                out_row
                    .iter_mut()
                    .zip(&phase[kx / 2..kx / 2 + wo])
                    .for_each(|(m, &v)| *m = m.max(v));
            }
        }
    }
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
        for (h, w, k, s) in [
            (9, 7, 3, 2),
            (8, 8, 2, 2),
            (13, 11, 3, 2),
            (5, 6, 3, 1),
            (63, 63, 3, 2),
            (34, 37, 3, 2),
            (31, 30, 2, 2),
            (12, 40, 4, 3),
        ] {
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

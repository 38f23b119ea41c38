//! StyleGAN2's FIR filtering (`upfirdn2d` with a separable kernel) on the CPU: the blur
//! after the transposed convolution and the 2× upsampling of the RGB skip, as two 1-D
//! passes per plane (rows, then columns) instead of a 4×4 depthwise convolution.

use rayon::prelude::*;

use super::cpu_tensor::MIN_PARALLEL;

/// A separable `upfirdn2d`: upsample by `up` (zero insertion), pad `pad` = (before, after)
/// on both axes, then a true convolution with `taps ⊗ taps`.
#[derive(Debug, Clone, Copy)]
pub struct Fir<'a> {
    pub taps: &'a [f32],
    pub up: usize,
    pub pad: (usize, usize),
}

impl Fir<'_> {
    /// Output length of one axis of `n` samples.
    pub fn out_len(&self, n: usize) -> usize {
        (n * self.up + self.pad.0 + self.pad.1 + 1).saturating_sub(self.taps.len())
    }

    /// Filters every `[h, w]` plane of `planes` (any count), planes in parallel; returns
    /// the filtered planes and their size. Along each axis `out[i] = Σ_t taps[len−1−t] ·
    /// z[i + t − pad.0]`, z the zero-inserted input (`z[j·up] = x[j]`, 0 elsewhere and
    /// outside): rows through a padded copy of each line, columns as whole-row sums.
    pub fn apply(&self, planes: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
        let (oh, ow) = (self.out_len(h), self.out_len(w));
        let count = planes.len() / (h * w).max(1);
        let mut out = vec![0f32; count * oh * ow];
        if oh == 0 || ow == 0 {
            return (out, oh, ow);
        }
        let flipped: Vec<f32> = self.taps.iter().rev().copied().collect();
        let (up, (pad0, pad1)) = (self.up, self.pad);
        // small planes are not worth a thread each
        let min_planes = MIN_PARALLEL / (h * w).max(1);
        out.par_chunks_exact_mut(oh * ow)
            .zip(planes.par_chunks_exact(h * w))
            .with_min_len(min_planes.max(1))
            .for_each(|(dst, src)| {
                let mut line = vec![0f32; w * up + pad0 + pad1];
                let mut rows = vec![0f32; h * ow];
                for (y, row) in rows.chunks_exact_mut(ow).enumerate() {
                    for (x, &v) in src[y * w..(y + 1) * w].iter().enumerate() {
                        line[pad0 + x * up] = v;
                    }
                    for (i, o) in row.iter_mut().enumerate() {
                        *o = flipped.iter().zip(&line[i..]).map(|(k, v)| k * v).sum();
                    }
                }
                for (i, row) in dst.chunks_exact_mut(ow).enumerate() {
                    for (t, &k) in flipped.iter().enumerate() {
                        let z = (i + t) as isize - pad0 as isize;
                        if z < 0 || z as usize >= h * up || !(z as usize).is_multiple_of(up) {
                            continue;
                        }
                        let y = z as usize / up;
                        for (o, v) in row.iter_mut().zip(&rows[y * ow..(y + 1) * ow]) {
                            *o += k * v;
                        }
                    }
                }
            });
        (out, oh, ow)
    }
}

/// The per-axis taps of StyleGAN2's `[1, 3, 3, 1]` filter with the given 2-D gain: the 2-D
/// kernel `outer(k, k) / sum² · gain` is `taps ⊗ taps`.
pub fn separable_taps(k1: &[f32], gain: f32) -> Vec<f32> {
    let sum: f32 = k1.iter().sum();
    k1.iter().map(|v| v / sum * gain.sqrt()).collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::model::loader::{tensor_from_vec, tensor_to_vec};
    use crate::model::upfirdn::{FIR_GAIN, FIR_TAPS, blur, kernel_tensor, upsample2x};

    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919) % 1013) as f32 / 506.5 - 1.0)
            .collect()
    }

    fn assert_close(ours: &[f32], theirs: &[f32]) {
        assert_eq!(ours.len(), theirs.len());
        for (a, e) in ours.iter().zip(theirs) {
            assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{a} vs {e}");
        }
    }

    /// Both filters against the depthwise convolutions of `upfirdn.rs` (burn's ops).
    #[test]
    fn equals_the_depthwise_convolutions() {
        let device = Device::flex();
        let kernel = kernel_tensor(&FIR_TAPS, FIR_GAIN, &device);
        let taps = separable_taps(&FIR_TAPS, FIR_GAIN);
        for (c, h, w) in [(3, 4, 4), (2, 5, 7), (1, 1, 1), (4, 8, 3)] {
            let x = values(c * h * w);
            let t = tensor_from_vec(x.clone(), [1, c, h, w], &device);
            for pad in [(1, 1), (2, 1), (0, 2)] {
                let fir = Fir {
                    taps: &taps,
                    up: 1,
                    pad,
                };
                let (ours, oh, ow) = fir.apply(&x, h, w);
                if oh == 0 || ow == 0 {
                    continue;
                }
                let theirs = blur(t.clone(), &kernel, pad);
                assert_eq!(theirs.dims(), [1, c, oh, ow]);
                assert_close(&ours, &tensor_to_vec(theirs));
            }
            let up = Fir {
                taps: &taps,
                up: 2,
                pad: (2, 1),
            };
            let (ours, oh, ow) = up.apply(&x, h, w);
            let theirs = upsample2x(t, &kernel);
            assert_eq!(theirs.dims(), [1, c, oh, ow]);
            assert_close(&ours, &tensor_to_vec(theirs));
        }
    }
}

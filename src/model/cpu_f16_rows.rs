//! Products with a weight matrix held as f16: for weights whose every value is exactly an
//! f16 (the bundled encoder's heads, stored so), reading them as f16 halves the bytes a
//! memory-bound matrix–vector product moves, while the arithmetic stays f32 (the widened
//! values are the same numbers). The x86 kernels widen 16 (AVX-512) or 8 (F16C) values per
//! instruction, chosen at run time; elsewhere a scalar loop.

use half::f16;
use half::slice::HalfFloatSliceExt;

/// The weights as f16 when every value is exactly representable (the product is then the
/// same as with the f32 values, up to summation order); `None` otherwise.
pub fn exact_f16(values: &[f32]) -> Option<Vec<f16>> {
    let exact = |v: &f32| f16::from_f32(*v).to_f32().to_bits() == v.to_bits();
    // weights trained and kept in f32 fail on their first few values already
    if !values.iter().take(256).all(exact) {
        return None;
    }
    // then all of them, both ways in bulk (`half` widens and narrows 8 at a time where the CPU has F16C)
    let mut narrow = vec![f16::ZERO; values.len()];
    narrow.convert_from_f32_slice(values);
    let mut back = vec![0f32; values.len()];
    narrow.convert_to_f32_slice(&mut back);
    // bitwise, so that NaNs (never equal) and ±0 are told apart as they should be
    let same = back
        .iter()
        .zip(values)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    same.then_some(narrow)
}

/// `y[i, r] = Σ_j x[i, j] · w[r, j]` for `x: [b, k]`, `w: [n, k]` and `y: [b, n]`, all
/// row-major (`w` in PyTorch's linear-layer layout).
pub fn matmul_f16_rows(y: &mut [f32], x: &[f32], w: &[f16], [b, n, k]: [usize; 3]) {
    assert_eq!(y.len(), b * n, "output of the f16 product");
    assert_eq!(x.len(), b * k, "input of the f16 product");
    assert_eq!(w.len(), n * k, "weights of the f16 product");
    if k == 0 {
        y.fill(0.0);
        return;
    }
    for (r, row) in w.chunks_exact(k).enumerate() {
        for (i, xi) in x.chunks_exact(k).enumerate() {
            y[i * n + r] = dot(xi, row);
        }
    }
}

/// `Σ_j x[j] · w[j]` with the widest kernel this CPU has.
fn dot(x: &[f32], w: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { x86::dot_avx512(x, w) };
        }
        if std::arch::is_x86_feature_detected!("f16c") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has F16C, FMA and (implied by both) AVX (checked just above).
            return unsafe { x86::dot_f16c(x, w) };
        }
    }
    dot_scalar(x, w)
}

fn dot_scalar(x: &[f32], w: &[f16]) -> f32 {
    x.iter().zip(w).map(|(a, b)| a * b.to_f32()).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use half::f16;

    /// 32 values a step in two accumulators; the tail (< 16) scalar.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_avx512(x: &[f32], w: &[f16]) -> f32 {
        let k = x.len().min(w.len());
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut j = 0;
        // SAFETY (every load): `j + 16 ≤ k` (or `j + 32 ≤ k`) before each, so the 16 f32 of
        // `x` and the 16 f16 (32 bytes) of `w` read lie inside both slices; unaligned loads.
        unsafe {
            let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            while j + 32 <= k {
                let w0 = _mm512_cvtph_ps(_mm256_loadu_si256(wp.add(j).cast()));
                let w1 = _mm512_cvtph_ps(_mm256_loadu_si256(wp.add(j + 16).cast()));
                acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xp.add(j)), acc0);
                acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xp.add(j + 16)), acc1);
                j += 32;
            }
            if j + 16 <= k {
                let w0 = _mm512_cvtph_ps(_mm256_loadu_si256(wp.add(j).cast()));
                acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xp.add(j)), acc0);
                j += 16;
            }
            _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + super::dot_scalar(&x[j..k], &w[j..k])
        }
    }

    /// 16 values a step in two accumulators; the tail (< 8) scalar.
    #[target_feature(enable = "avx,f16c,fma")]
    pub unsafe fn dot_f16c(x: &[f32], w: &[f16]) -> f32 {
        let k = x.len().min(w.len());
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut j = 0;
        // SAFETY (every load): `j + 8 ≤ k` (or `j + 16 ≤ k`) before each, so the 8 f32 of `x`
        // and the 8 f16 (16 bytes) of `w` read lie inside both slices; unaligned loads.
        unsafe {
            let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            while j + 16 <= k {
                let w0 = _mm256_cvtph_ps(_mm_loadu_si128(wp.add(j).cast()));
                let w1 = _mm256_cvtph_ps(_mm_loadu_si128(wp.add(j + 8).cast()));
                acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xp.add(j)), acc0);
                acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xp.add(j + 8)), acc1);
                j += 16;
            }
            if j + 8 <= k {
                let w0 = _mm256_cvtph_ps(_mm_loadu_si128(wp.add(j).cast()));
                acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xp.add(j)), acc0);
                j += 8;
            }
            let acc = _mm256_add_ps(acc0, acc1);
            let half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
            let mut lanes = [0f32; 4];
            _mm_storeu_ps(lanes.as_mut_ptr(), half);
            lanes.iter().sum::<f32>() + super::dot_scalar(&x[j..k], &w[j..k])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values exactly representable in f16 (multiples of 1/64 in ±2), deterministic.
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 37 + seed * 101) % 257) as f32 - 128.0) / 64.0)
            .collect()
    }

    /// The reference: the same sums in f64 over the f16 weights widened.
    fn reference(x: &[f32], w: &[f16], [b, n, k]: [usize; 3]) -> Vec<f32> {
        let mut y = vec![0f32; b * n];
        for i in 0..b {
            for r in 0..n {
                let s: f64 = (0..k)
                    .map(|j| x[i * k + j] as f64 * w[r * k + j].to_f64())
                    .sum();
                y[i * n + r] = s as f32;
            }
        }
        y
    }

    #[test]
    fn equals_the_f64_product_for_every_tail_and_batch() {
        // k covers the 32-, 16-, 8-wide steps and every scalar tail; b 1 and 3
        for k in [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 100, 4320] {
            for b in [1, 3] {
                let n = 5;
                let x = values(b * k, 1);
                let w = exact_f16(&values(n * k, 2)).expect("multiples of 1/64 are exact f16");
                let mut y = vec![f32::NAN; b * n];
                matmul_f16_rows(&mut y, &x, &w, [b, n, k]);
                let want = reference(&x, &w, [b, n, k]);
                for (got, want) in y.iter().zip(&want) {
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "k {k} b {b}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_kernel_this_cpu_has_agrees_with_the_scalar_one() {
        let k = 4321;
        let x = values(k, 3);
        let w = exact_f16(&values(k, 4)).unwrap();
        let scalar = dot_scalar(&x, &w);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                let v = unsafe { x86::dot_avx512(&x, &w) };
                assert!(
                    (v - scalar).abs() <= 1e-3 * (1.0 + scalar.abs()),
                    "{v} vs {scalar}"
                );
            }
            if std::arch::is_x86_feature_detected!("f16c")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let v = unsafe { x86::dot_f16c(&x, &w) };
                assert!(
                    (v - scalar).abs() <= 1e-3 * (1.0 + scalar.abs()),
                    "{v} vs {scalar}"
                );
            }
        }
        assert!(scalar.abs() > 1.0, "a product that can tell kernels apart");
    }

    #[test]
    fn only_exact_values_are_held_as_f16() {
        assert_eq!(exact_f16(&[0.5, -2.0, 65504.0]).map(|h| h.len()), Some(3));
        assert!(exact_f16(&[0.5, 0.1]).is_none(), "0.1 is not an f16");
        assert!(exact_f16(&[1e6]).is_none(), "beyond the f16 range");
    }
}

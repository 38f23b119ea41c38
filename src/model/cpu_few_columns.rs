//! Products whose right side has only a few columns — the late convolutions of the LPIPS
//! trunks, where a pair of 64-px images leaves 3×3 maps: `[cout, k]` filters (a few MB)
//! against 18 columns. gemm packs the whole filter matrix into its own layout on every call
//! before using each value 18 times, which doubles the filters' memory traffic; here the
//! filters are read once, in place, each row against every column held in the core's cache
//! (the columns are passed transposed, `[n, k]`, so that both sides run along `k`).
//! AVX-512 kernel, used where the CPU has it (the callers keep gemm elsewhere).

use super::cpu_tensor::wide_vectors;
use rayon::prelude::*;

/// Columns of the right side up to which [`matmul_few_columns`] is used.
pub const MAX_COLUMNS: usize = 48;

/// Whether this CPU has the kernel (AVX-512); without it the callers keep gemm.
pub fn available() -> bool {
    wide_vectors()
}

/// `dst[r, c] = Σ_j a[r, j] · bt[c, j]` for `a: [m, k]`, `bt: [n, k]` and `dst: [m, n]`, all
/// row-major, rows split between the pool's threads. Only where [`available`].
pub fn matmul_few_columns(dst: &mut [f32], a: &[f32], bt: &[f32], [m, n, k]: [usize; 3]) {
    assert_eq!(dst.len(), m * n, "output of the few-column product");
    assert_eq!(a.len(), m * k, "left side of the few-column product");
    assert_eq!(bt.len(), n * k, "right side of the few-column product");
    assert!(available(), "the few-column product needs AVX-512");
    #[cfg(target_arch = "x86_64")]
    {
        if k == 0 {
            dst.fill(0.0);
            return;
        }
        let rows_per_task = (m.div_ceil(rayon::current_num_threads().max(1)))
            .next_multiple_of(x86::ROWS)
            .max(x86::ROWS);
        dst.par_chunks_mut(rows_per_task * n)
            .zip(a.par_chunks(rows_per_task * k))
            .for_each(|(dst, a)| {
                // SAFETY: the CPU has AVX-512F (asserted above); the slices hold whole rows of
                // `n` and `k` values (asserted above, chunked by whole rows), `k > 0`.
                unsafe { x86::rows_avx512(dst, a, bt, n, k) }
            });
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// Rows of `a` per block: each 16-wide step of `k` loads `ROWS` + `COLS` vectors for
    /// `ROWS · COLS` multiply–adds, in as many accumulators (4 × 6 = 24 of them made the
    /// compiler keep some on the stack).
    pub const ROWS: usize = 4;
    const COLS: usize = 4;
    /// Values of a core's L1 data cache the chunks of the columns may take (32 of 48 KB).
    const L1_VALUES: usize = 8192;

    /// `dst[r, c] = a[r] · bt[c]` for every row of `a` (`[rows, k]`) and column of `bt`
    /// (`[n, k]`).
    ///
    /// # Safety
    /// The CPU has AVX-512F; `a.len()` and `dst.len()` are the same number of rows of `k`
    /// and `n` values, `bt.len() == n · k`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn rows_avx512(dst: &mut [f32], a: &[f32], bt: &[f32], n: usize, k: usize) {
        let rows = a.len() / k.max(1);
        // the sums run over `k` in chunks whose columns stay in the core's L1 cache while
        // every row block passes them (and each row block's chunk while it meets every column)
        let chunk = (L1_VALUES / (n + ROWS).max(1)).max(16) / 16 * 16;
        let mut j0 = 0;
        while j0 < k {
            let j1 = (j0 + chunk).min(k);
            let mut r = 0;
            while r < rows {
                let nr = ROWS.min(rows - r);
                let mut c = 0;
                while c < n {
                    let nc = COLS.min(n - c);
                    // SAFETY: rows r..r+nr and columns c..c+nc exist (bounded just above),
                    // j0 < j1 ≤ k.
                    let prefetch = c == 0 && r + 2 * ROWS <= rows;
                    let sums = unsafe { block(a, bt, k, j0..j1, r..r + nr, c..c + nc, prefetch) };
                    for i in 0..nr {
                        let out = &mut dst[(r + i) * n + c..][..nc];
                        if j0 == 0 {
                            out.copy_from_slice(&sums[i][..nc]);
                        } else {
                            out.iter_mut().zip(&sums[i]).for_each(|(o, s)| *o += s);
                        }
                    }
                    c += nc;
                }
                r += nr;
            }
            j0 = j1;
        }
    }

    /// The dot products over `js` of rows `rows` of `a` with rows `cols` of `bt`; the missing
    /// rows/columns of a partial block repeat the first one (computed, not returned). With
    /// `prefetch_next_rows`, the same part of the next `ROWS` rows is fetched meanwhile.
    ///
    /// # Safety
    /// AVX-512F; 1 to `ROWS` rows and 1 to `COLS` columns, within `a` and `bt`; `js` within
    /// `0..k`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block(
        a: &[f32],
        bt: &[f32],
        k: usize,
        js: Range<usize>,
        rows: Range<usize>,
        cols: Range<usize>,
        prefetch_next_rows: bool,
    ) -> [[f32; COLS]; ROWS] {
        let pick =
            |i: usize, range: &Range<usize>| range.start + if i < range.len() { i } else { 0 };
        let row = |i: usize| a[pick(i, &rows) * k..][..k].as_ptr();
        let col = |j: usize| bt[pick(j, &cols) * k..][..k].as_ptr();
        let ap: [*const f32; ROWS] = std::array::from_fn(row);
        let bp: [*const f32; COLS] = std::array::from_fn(col);
        let mut acc = [[_mm512_setzero_ps(); COLS]; ROWS];
        let (mut j, end) = (js.start, js.end);
        // SAFETY (every load): each pointer starts a run of `k ≥ end` values, and the mask
        // holds only the lanes `j…min(j + 16, end)` (a masked load reads nothing outside them).
        unsafe {
            while j < end {
                let mask: __mmask16 = if end - j >= 16 {
                    u16::MAX
                } else {
                    ((1u32 << (end - j)) - 1) as u16
                };
                let mut av = [_mm512_setzero_ps(); ROWS];
                for i in 0..ROWS {
                    av[i] = _mm512_maskz_loadu_ps(mask, ap[i].add(j));
                }
                if prefetch_next_rows {
                    // the next row block's part of this chunk, from the L3 cache or memory
                    // while this one is used from L1
                    for p in ap {
                        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(ROWS * k + j).cast());
                    }
                }
                for jc in 0..COLS {
                    let bv = _mm512_maskz_loadu_ps(mask, bp[jc].add(j));
                    for i in 0..ROWS {
                        acc[i][jc] = _mm512_fmadd_ps(av[i], bv, acc[i][jc]);
                    }
                }
                j += 16;
            }
        }
        let mut sums = [[0f32; COLS]; ROWS];
        for i in 0..ROWS {
            for jc in 0..COLS {
                sums[i][jc] = _mm512_reduce_add_ps(acc[i][jc]);
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in ±1.
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 - 1001.0) / 1001.0)
            .collect()
    }

    /// Every partial block and tail against the product summed in f64.
    #[test]
    fn equals_the_f64_product_for_every_block_and_tail() {
        let mut ran = false;
        for (m, n, k) in [
            (1, 1, 1),
            (5, 7, 15),
            (4, 6, 16),
            (9, 13, 17),
            (37, 18, 3456),
            (8, 48, 100),
        ] {
            let (a, bt) = (values(m * k, 1), values(n * k, 2));
            let mut dst = vec![f32::NAN; m * n];
            if !available() {
                continue;
            }
            matmul_few_columns(&mut dst, &a, &bt, [m, n, k]);
            ran = true;
            for r in 0..m {
                for c in 0..n {
                    let want: f64 = (0..k)
                        .map(|j| a[r * k + j] as f64 * bt[c * k + j] as f64)
                        .sum();
                    let got = dst[r * n + c] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()) * (k as f64).sqrt(),
                        "{m}×{n}×{k} at ({r}, {c}): {got} vs {want}"
                    );
                }
            }
        }
        assert_eq!(ran, available());
    }
}

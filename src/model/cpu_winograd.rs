//! 3×3 same-size convolutions (stride 1, padding 1) by Winograd's minimal filtering
//! F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
//! each 2×2 block of outputs from its 4×4 input patch with 16 products per channel pair
//! instead of 36. Filters `g` become `U = G·g·Gᵀ`, patches `d` become `V = Bᵀ·d·B`, and for
//! each of the 16 positions of the 4×4 transform the channel sum is one matrix product
//! `M = U·V` (outputs × inputs times inputs × patches); `Y = Aᵀ·M·A` gives the outputs.
//! The transforms' coefficients are 0, ±1 and ±½, so the result differs from the direct
//! sum by rounding only (the tests compare with `cpu_conv`'s im2col product).
//!
//! Most of the encoder's, the generator's and LPIPS's arithmetic is in such convolutions:
//! 2.25× fewer products there (`docs/performance.md`).

use std::sync::Arc;

use rayon::prelude::*;

use super::cpu_conv::{ChannelEpilogue, scale_input_channels};
use super::cpu_tensor::{StorageKey, matmul_single_thread, wide_vectors, with_scratch};
use super::cpu_weight_cache::{self, Form};

/// Values of one band's transformed patches and products (1 MB: this CPU's per-core L2).
const BAND_VALUES: usize = 1 << 18;
/// A band has at least this many 2×2 tiles (smaller products run below the kernels' speed).
const MIN_BAND_TILES: usize = 64;

/// Whether a convolution of `cin` → `cout` channels over `h`×`w` images is worth the
/// transforms: enough channels and tiles for the products to run at speed, and — when the
/// filters are transformed anew for this call (`cached` false) — enough tiles to repay
/// that (measured: 64 channels from 32×32 up, 256 only when cached).
pub fn worthwhile(cin: usize, cout: usize, h: usize, w: usize, cached: bool) -> bool {
    let enough = if cached { 64 } else { 16 * cin.max(cout) };
    cin >= 8 && h * w >= enough
}

/// The transformed `filters` (`[cout, cin, 3, 3]`): kept for the weights `key` names
/// (`cpu_weight_cache`), else transformed for this call.
pub fn filters_for(
    key: Option<&StorageKey>,
    filters: &[f32],
    cout: usize,
    cin: usize,
) -> Arc<Filters> {
    cpu_weight_cache::derived(key, Form::Winograd, Filters::bytes, || {
        Filters::new(filters, cout, cin)
    })
}

/// The filters `[cout, cin, 3, 3]` transformed: `U[pos, cout, cin]`, `pos` the 16
/// positions of `G·g·Gᵀ` (each position's matrix contiguous for its product).
pub struct Filters {
    u: Vec<f32>,
    cout: usize,
    cin: usize,
}

impl Filters {
    /// Their size in memory.
    pub fn bytes(&self) -> usize {
        self.u.len() * 4
    }

    /// How many values they hold.
    pub fn values(&self) -> usize {
        self.u.len()
    }

    /// The filters with every input channel `c` scaled by `s[c]` (the transform is linear:
    /// the same as transforming the scaled filters).
    pub fn with_input_scale(&self, s: &[f32]) -> Self {
        assert_eq!(s.len(), self.cin, "one scale per input channel");
        Self {
            u: scale_input_channels(&self.u, s, 1),
            cout: self.cout,
            cin: self.cin,
        }
    }

    pub fn new(filters: &[f32], cout: usize, cin: usize) -> Self {
        assert_eq!(filters.len(), cout * cin * 9, "3×3 filters");
        const BLOCK: usize = 512;
        let pairs = cout * cin;
        let mut u = vec![0f32; 16 * pairs];
        // blocks of pairs, each with its run in every position's matrix
        let mut runs: Vec<Vec<&mut [f32]>> = Vec::new();
        for matrix in u.chunks_exact_mut(pairs) {
            for (block, run) in matrix.chunks_mut(BLOCK).enumerate() {
                if runs.len() <= block {
                    runs.push(Vec::with_capacity(16));
                }
                runs[block].push(run);
            }
        }
        // G = [[1,0,0], [½,½,½], [½,−½,½], [0,0,1]]: G·g combines g's rows, ·Gᵀ its columns
        let combine = |a: f32, b: f32, c: f32| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
        runs.into_par_iter()
            .zip(filters.par_chunks(9 * BLOCK))
            .for_each(|(mut runs, block)| {
                for (i, g) in block.chunks_exact(9).enumerate() {
                    let mut rows = [[0f32; 3]; 4];
                    for x in 0..3 {
                        let column = combine(g[x], g[3 + x], g[6 + x]);
                        for (r, v) in column.into_iter().enumerate() {
                            rows[r][x] = v;
                        }
                    }
                    for (r, [a, b, c]) in rows.into_iter().enumerate() {
                        for (q, v) in combine(a, b, c).into_iter().enumerate() {
                            runs[r * 4 + q][i] = v;
                        }
                    }
                }
            });
        Self { u, cout, cin }
    }

    /// `dst[cout, h·w]` = the filters over one `[cin, h, w]` image, zero padding 1. Large
    /// images go in bands of tile rows, bands in parallel (each band's products on its own
    /// thread); a single band runs its 16 products in parallel instead. Each band writes its
    /// own output rows of `dst` in place.
    pub fn convolve(&self, image: &[f32], h: usize, w: usize, dst: &mut [f32]) {
        self.convolve_then(image, h, w, dst, None, None);
    }

    /// `convolve` of the image mapped by `affine` (`x·scale + shift` per input channel,
    /// before the zero padding) as the input transform reads it, each output row finished
    /// by `finish` as it is written: a per-channel epilogue and the image's residual values
    /// (`[cout, h·w]`) where it adds them.
    pub fn convolve_then(
        &self,
        image: &[f32],
        h: usize,
        w: usize,
        dst: &mut [f32],
        affine: Option<(&[f32], &[f32])>,
        finish: Option<Finish>,
    ) {
        let (cin, cout) = (self.cin, self.cout);
        assert_eq!(image.len(), cin * h * w, "Winograd input size");
        assert_eq!(dst.len(), cout * h * w, "Winograd output size");
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let band_rows = (BAND_VALUES / (16 * (cin + cout) * tw).max(1))
            .max(MIN_BAND_TILES.div_ceil(tw))
            .clamp(1, th);
        // every band's output rows, `[cout, rows]` each: the image rows of its tile rows
        let mut bands: Vec<(std::ops::Range<usize>, Vec<&mut [f32]>)> = (0..th)
            .step_by(band_rows)
            .map(|start| (start..(start + band_rows).min(th), Vec::new()))
            .collect();
        for plane in dst.chunks_exact_mut(h * w) {
            for (y, row) in plane.chunks_exact_mut(w).enumerate() {
                bands[y / (2 * band_rows)].1.push(row);
            }
        }
        if let [(tiles, rows)] = &mut bands[..] {
            let (tiles, image) = (
                tiles.clone(),
                Image {
                    values: image,
                    h,
                    w,
                    affine,
                },
            );
            self.band(image, tiles, rows, true, finish);
            return;
        }
        bands.par_iter_mut().for_each(|(tiles, rows)| {
            let image = Image {
                values: image,
                h,
                w,
                affine,
            };
            self.band(image, tiles.clone(), rows, false, finish)
        });
    }

    /// The output rows of tile rows `tiles` into `out` (`[cout, rows]`: the band's image rows
    /// of every output channel); `parallel`: the 16 products on the pool's threads.
    fn band(
        &self,
        image: Image,
        tiles: std::ops::Range<usize>,
        out: &mut [&mut [f32]],
        parallel: bool,
        finish: Option<Finish>,
    ) {
        let (cin, cout) = (self.cin, self.cout);
        let (h, w) = (image.h, image.w);
        let tw = w.div_ceil(2);
        let t = tiles.len() * tw;
        with_scratch(16 * (cin + cout) * t, |scratch| {
            let (v, m) = scratch.split_at_mut(16 * cin * t);
            input_transform(image, cin, tiles.clone(), v);
            // M[pos] (cout × t) = U[·, ·, pos] (cout × cin) · V[·, pos, ·] (cin × t)
            let product = |(pos, m): (usize, &mut [f32])| {
                matmul_single_thread(
                    m,
                    [cout, t, cin],
                    (&self.u[pos * cout * cin..], cin, 1),
                    (&v[pos * t..], 16 * t, 1),
                );
            };
            if parallel {
                m.par_chunks_exact_mut(cout * t)
                    .enumerate()
                    .for_each(product);
            } else {
                m.chunks_exact_mut(cout * t).enumerate().for_each(product);
            }
            let finish = finish.map(|(epilogue, residual)| RowFinish {
                epilogue,
                residual,
                first_row: 2 * tiles.start,
                plane: h * w,
            });
            output_transform(m, cout, w, tiles.len(), out, parallel, finish);
        });
    }
}

/// `v[c, pos, tile] = (Bᵀ·d·B)[pos]` for every 4×4 patch `d` (rows `2ty−1 … 2ty+2`, columns
/// `2tx−1 … 2tx+2`, zero outside the image) of the tile rows `tiles`, channels in parallel.
/// Bᵀ = [[1,0,−1,0], [0,1,1,0], [0,−1,1,0], [0,1,0,−1]].
///
/// Each patch row is kept split into its even and odd columns of the zero-padded row
/// (`e[j]` = column 2j, `o[j]` = column 2j+1, i.e. image columns 2j−1 and 2j), so that the
/// transform along the rows reads and writes contiguous runs.
fn input_transform(image: Image, cin: usize, tiles: std::ops::Range<usize>, v: &mut [f32]) {
    let (h, w) = (image.h, image.w);
    let tw = w.div_ceil(2);
    let t = tiles.len() * tw;
    let half = tw + 1;
    // the patch rows (even halves, then odd), and Bᵀ·d as whole rows: one pair of buffers
    // per task of the pool, not per channel
    let buffers = || (vec![0f32; 4 * 2 * half], vec![0f32; 4 * 2 * half]);
    let wide = wide_vectors();
    v[..cin * 16 * t]
        .par_chunks_exact_mut(16 * t)
        .enumerate()
        .for_each_init(buffers, |(d, bd), (c, out)| {
            let channel = InputChannel {
                plane: &image.values[c * h * w..(c + 1) * h * w],
                h,
                w,
                tiles: tiles.clone(),
                affine: image.affine.map(|(scale, shift)| (scale[c], shift[c])),
            };
            match wide {
                // SAFETY: `wide` says the CPU has AVX-512F.
                #[cfg(target_arch = "x86_64")]
                true => unsafe { channel.transform_avx512(d, bd, out) },
                _ => channel.transform(d, bd, out),
            }
        });
}

/// A convolution's input image `[cin, h, w]`, and the per-channel `x·scale + shift` applied
/// to its values where there is one.
#[derive(Clone, Copy)]
struct Image<'a> {
    values: &'a [f32],
    h: usize,
    w: usize,
    affine: Option<(&'a [f32], &'a [f32])>,
}

/// One input channel's image plane, its `(scale, shift)` if any, and the band's tile rows.
struct InputChannel<'a> {
    plane: &'a [f32],
    h: usize,
    w: usize,
    tiles: std::ops::Range<usize>,
    affine: Option<(f32, f32)>,
}

impl InputChannel<'_> {
    /// [`Self::transform`] compiled for AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn transform_avx512(&self, d: &mut [f32], bd: &mut [f32], out: &mut [f32]) {
        self.transform(d, bd, out)
    }

    /// `out[pos, tile]` of this channel; `d`, `bd`: 4 rows of `2·(tw + 1)` values each.
    #[inline(always)]
    fn transform(&self, d: &mut [f32], bd: &mut [f32], out: &mut [f32]) {
        let (h, w) = (self.h, self.w);
        let tw = w.div_ceil(2);
        let t = self.tiles.len() * tw;
        let half = tw + 1;
        let n = 2 * half;
        for (band_ty, ty) in self.tiles.clone().enumerate() {
            for (r, row) in d.chunks_exact_mut(n).enumerate() {
                let iy = (2 * ty + r) as isize - 1;
                let (e, o) = row.split_at_mut(half);
                if iy >= 0 && (iy as usize) < h {
                    let y = iy as usize;
                    let src = &self.plane[y * w..(y + 1) * w];
                    match self.affine {
                        Some((a, t)) => split_columns(src, &mut e[1..], o, |x| x * a + t),
                        None => split_columns(src, &mut e[1..], o, |x| x),
                    }
                    e[0] = 0.0;
                    e[w / 2 + 1..].fill(0.0);
                    o[w.div_ceil(2)..].fill(0.0);
                } else {
                    row.fill(0.0);
                }
            }
            let (d0, rest) = d.split_at(n);
            let (d1, rest) = rest.split_at(n);
            let (d2, d3) = rest.split_at(n);
            let (b0, rest) = bd.split_at_mut(n);
            let (b1, rest) = rest.split_at_mut(n);
            let (b2, b3) = rest.split_at_mut(n);
            transform_rows(d0, d1, d2, d3, b0, b1, b2, b3);
            // ·B along each row, into the 4 positions of that row
            let at = band_ty * tw;
            for (r, a) in bd.chunks_exact(n).enumerate() {
                let (e, o) = a.split_at(half);
                let (o0, rest) = out[(4 * r) * t..(4 * r + 4) * t].split_at_mut(t);
                let (o1, rest) = rest.split_at_mut(t);
                let (o2, o3) = rest.split_at_mut(t);
                transform_columns(
                    e,
                    o,
                    &mut o0[at..at + tw],
                    &mut o1[at..at + tw],
                    &mut o2[at..at + tw],
                    &mut o3[at..at + tw],
                );
            }
        }
    }
}

/// Image column `2i` → `odd[i]`, column `2i + 1` → `even[i]` (the zero-padded row's columns
/// `2i + 1` and `2i + 2`; `even` starts at the patch row's `e[1]`).
/// Each value mapped by `f` on the way.
#[inline(always)]
fn split_columns(src: &[f32], even: &mut [f32], odd: &mut [f32], f: impl Fn(f32) -> f32) {
    for (pair, (o, e)) in src.chunks_exact(2).zip(odd.iter_mut().zip(even.iter_mut())) {
        (*o, *e) = (f(pair[0]), f(pair[1]));
    }
    if src.len() % 2 == 1 {
        odd[src.len() / 2] = f(src[src.len() - 1]);
    }
}

/// `Bᵀ·d` for whole rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn transform_rows(
    d0: &[f32],
    d1: &[f32],
    d2: &[f32],
    d3: &[f32],
    b0: &mut [f32],
    b1: &mut [f32],
    b2: &mut [f32],
    b3: &mut [f32],
) {
    let n = d0.len();
    let (d1, d2, d3) = (&d1[..n], &d2[..n], &d3[..n]);
    let (b0, b1, b2, b3) = (&mut b0[..n], &mut b1[..n], &mut b2[..n], &mut b3[..n]);
    for x in 0..n {
        b0[x] = d0[x] - d2[x];
        b1[x] = d1[x] + d2[x];
        b2[x] = d2[x] - d1[x];
        b3[x] = d1[x] - d3[x];
    }
}

/// `·B` of one row split into even (`e`) and odd (`o`) columns: the patch at `tx` has the
/// columns `e[tx]`, `o[tx]`, `e[tx + 1]`, `o[tx + 1]`.
#[inline(always)]
fn transform_columns(
    e: &[f32],
    o: &[f32],
    o0: &mut [f32],
    o1: &mut [f32],
    o2: &mut [f32],
    o3: &mut [f32],
) {
    let tw = o0.len();
    let (e0, e1, od0, od1) = (&e[..tw], &e[1..tw + 1], &o[..tw], &o[1..tw + 1]);
    let (o1, o2, o3) = (&mut o1[..tw], &mut o2[..tw], &mut o3[..tw]);
    for tx in 0..tw {
        o0[tx] = e0[tx] - e1[tx];
        o1[tx] = od0[tx] + e1[tx];
        o2[tx] = e1[tx] - od0[tx];
        o3[tx] = od0[tx] - od1[tx];
    }
}

/// The band's output rows from `m[pos, o, tile]`: `Aᵀ·M·A` per tile, Aᵀ = [[1,1,1,0],
/// [0,1,−1,−1]]; `out[o·rows + y]` is row `y` of the band in output channel `o` (the last
/// tile row's second row is absent where the image height is odd).
fn output_transform(
    m: &[f32],
    cout: usize,
    w: usize,
    tile_rows: usize,
    out: &mut [&mut [f32]],
    parallel: bool,
    finish: Option<RowFinish>,
) {
    let tw = w.div_ceil(2);
    let rows = out.len() / cout;
    // s = Aᵀ·M for one tile row: 2 rows × 4 columns of tw values
    let buffer = || vec![0f32; 8 * tw];
    let wide = wide_vectors();
    let one = |s: &mut Vec<f32>, (o, plane): (usize, &mut [&mut [f32]])| {
        let channel = OutputChannel {
            m,
            cout,
            o,
            tw,
            tile_rows,
            finish,
        };
        match wide {
            // SAFETY: `wide` says the CPU has AVX-512F.
            #[cfg(target_arch = "x86_64")]
            true => unsafe { channel.transform_avx512(s, plane) },
            _ => channel.transform(s, plane),
        }
    };
    if parallel {
        out.par_chunks_exact_mut(rows)
            .enumerate()
            .for_each_init(buffer, one);
    } else {
        let mut s = buffer();
        out.chunks_exact_mut(rows)
            .enumerate()
            .for_each(|item| one(&mut s, item));
    }
}

/// A convolution's epilogue (`cpu_conv`) and the image's residual values (`[cout, h·w]`)
/// where it adds them.
pub type Finish<'a> = (&'a ChannelEpilogue<'a>, Option<&'a [f32]>);

/// [`Finish`] in a band: its first image row, and the image's values per channel.
#[derive(Clone, Copy)]
struct RowFinish<'a> {
    epilogue: &'a ChannelEpilogue<'a>,
    residual: Option<&'a [f32]>,
    first_row: usize,
    plane: usize,
}

/// One output channel's products in a band.
struct OutputChannel<'a> {
    m: &'a [f32],
    cout: usize,
    o: usize,
    tw: usize,
    tile_rows: usize,
    finish: Option<RowFinish<'a>>,
}

impl OutputChannel<'_> {
    /// [`Self::transform`] compiled for AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn transform_avx512(&self, s: &mut [f32], plane: &mut [&mut [f32]]) {
        self.transform(s, plane)
    }

    /// The channel's band rows `plane`; `s`: 8 rows of `tw` values.
    #[inline(always)]
    fn transform(&self, s: &mut [f32], plane: &mut [&mut [f32]]) {
        let (tw, rows) = (self.tw, plane.len());
        let t = self.tile_rows * tw;
        for band_ty in 0..self.tile_rows {
            let at = |pos: usize| &self.m[(pos * self.cout + self.o) * t + band_ty * tw..][..tw];
            for q in 0..4 {
                let (top, bottom) = s.split_at_mut(4 * tw);
                rows_of_a(
                    at(q),
                    at(4 + q),
                    at(8 + q),
                    at(12 + q),
                    &mut top[q * tw..][..tw],
                    &mut bottom[q * tw..][..tw],
                );
            }
            for (r, a) in s.chunks_exact(4 * tw).enumerate() {
                let y = 2 * band_ty + r;
                if y >= rows {
                    continue;
                }
                let (a0, rest) = a.split_at(tw);
                let (a1, rest) = rest.split_at(tw);
                let (a2, a3) = rest.split_at(tw);
                let row = &mut *plane[y];
                columns_of_a(a0, a1, a2, a3, row);
                if let Some(f) = self.finish {
                    let n = row.len();
                    let residual = f
                        .residual
                        .map(|r| &r[self.o * f.plane + (f.first_row + y) * n..][..n]);
                    f.epilogue.finish_row(self.o, row, residual);
                }
            }
        }
    }
}

/// `Aᵀ·M` for a run of tiles: `top = m0 + m1 + m2`, `bottom = m1 − m2 − m3`.
#[inline(always)]
fn rows_of_a(m0: &[f32], m1: &[f32], m2: &[f32], m3: &[f32], top: &mut [f32], bottom: &mut [f32]) {
    let n = top.len();
    let (m0, m1, m2, m3, bottom) = (&m0[..n], &m1[..n], &m2[..n], &m3[..n], &mut bottom[..n]);
    for i in 0..n {
        top[i] = m0[i] + m1[i] + m2[i];
        bottom[i] = m1[i] - m2[i] - m3[i];
    }
}

/// `·A` for a run of tiles into one output row: columns `2i` and `2i + 1` of tile `i` (the
/// second absent where the row's length is odd).
#[inline(always)]
fn columns_of_a(a0: &[f32], a1: &[f32], a2: &[f32], a3: &[f32], row: &mut [f32]) {
    let mut pairs = row.chunks_exact_mut(2);
    for (i, pair) in pairs.by_ref().enumerate() {
        pair[0] = a0[i] + a1[i] + a2[i];
        pair[1] = a1[i] - a2[i] - a3[i];
    }
    if let [last] = pairs.into_remainder() {
        let i = a0.len() - 1;
        *last = a0[i] + a1[i] + a2[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu_autodiff::tests::values;
    use crate::model::cpu_conv::Geometry;

    /// Against `cpu_conv`'s im2col product (the direct sum): even and odd sizes, one band
    /// and several, few and many channels.
    #[test]
    fn equals_the_direct_convolution() {
        for (cin, cout, h, w) in [
            (8, 5, 8, 8),
            (9, 4, 7, 5),
            (3, 2, 1, 1),
            (16, 16, 33, 30),
            (32, 8, 64, 64),
            (4, 64, 40, 41),
        ] {
            let image = values(cin * h * w, 1);
            let filters = values(cout * cin * 9, 2);
            let mut ours = vec![f32::NAN; cout * h * w];
            Filters::new(&filters, cout, cin).convolve(&image, h, w, &mut ours);
            let mut direct = vec![0f32; cout * h * w];
            Geometry::same(h, w, 3).convolve(&image, &filters, cout, &mut direct);
            for (i, (a, e)) in ours.iter().zip(&direct).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-5 * (1.0 + e.abs()) * (cin as f32).sqrt(),
                    "({cin},{cout},{h},{w}) value {i}: {a} vs {e}"
                );
            }
        }
    }
}

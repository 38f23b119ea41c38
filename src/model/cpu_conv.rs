//! 2-D convolution on the CPU backend by im2col + one matrix product per image: the im2col
//! rows are built straight from NCHW data (contiguous row copies at stride 1), in parallel,
//! and multiplied by the filters with `gemm`. burn's `flex` convolution spends half its time
//! outside the matrix product on the encoder's 3×3 layers (`docs/performance.md`); this is
//! the same arithmetic (every product summed in f32) in a cheaper layout. Other backends, and
//! grouped or dilated convolutions, go to burn's own `conv2d`.

use burn::tensor::Tensor;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use super::cpu_few_columns as few_columns;
use super::cpu_tensor::{
    MIN_PARALLEL, StorageKey, is_cpu_inference, matmul, matmul_single_thread,
    matmul_single_thread_into, unfilled, with_scratch, with_values,
};
use super::cpu_winograd::{self as winograd, Filters};
use super::loader::tensor_from_vec;

/// `conv2d(x, weight, bias, options)` as burn computes it, faster on the CPU backend.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let device = x.device();
    let Some(geometry) = Geometry::of(&x, &weight, &options) else {
        return burn_conv2d(x, weight, bias, options);
    };
    let [cout, ..] = weight.dims();
    if !is_cpu_inference(&device) {
        // training on the CPU: the differentiable version of the same product
        let Some(out) = super::cpu_autodiff::conv2d(&x, &weight, geometry) else {
            return burn_conv2d(x, weight, bias, options);
        };
        return match bias {
            Some(bias) => out + bias.reshape([1, cout, 1, 1]),
            None => out,
        };
    }
    let epilogue = bias.map(|bias| ChannelEpilogue::bias(&bias, false));
    let out = geometry.convolve_batch(&x, None, &weight, epilogue.as_ref());
    let [b, ..] = x.dims();
    tensor_from_vec(out, [b, cout, geometry.hout, geometry.wout], &device)
}

/// `x·scale + shift` per input channel, applied to a convolution's input before its zero
/// padding (an inference BatchNorm in front of it).
pub struct ChannelAffine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl ChannelAffine {
    /// It on `[B, channels, n]` values, into a new buffer.
    fn applied(&self, x: &[f32], channels: usize, n: usize) -> Vec<f32> {
        // every value written below
        let mut out = unfilled(x.len());
        out.par_chunks_exact_mut(n)
            .zip(x.par_chunks_exact(n))
            .enumerate()
            .with_min_len((MIN_PARALLEL / n.max(1)).max(1))
            .for_each(|(row, (y, x))| {
                let (a, t) = (self.scale[row % channels], self.shift[row % channels]);
                y.iter_mut().zip(x).for_each(|(y, x)| *y = x * a + t);
            });
        out
    }
}

/// Per-output-channel work after a convolution: `y·scale + shift` (e.g. an inference
/// BatchNorm), then PReLU with per-channel slopes, then `+ residual` (same shape as the
/// output).
pub struct ChannelEpilogue<'a> {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub prelu: Option<Vec<f32>>,
    pub residual: Option<&'a Tensor<4>>,
}

impl ChannelEpilogue<'_> {
    /// `+ bias` per channel, then a ReLU (a PReLU of slope 0) when `relu`.
    pub fn bias(bias: &Tensor<1>, relu: bool) -> Self {
        let shift = with_values(bias, <[f32]>::to_vec);
        let channels = shift.len();
        Self {
            scale: vec![1.0; channels],
            shift,
            prelu: relu.then(|| vec![0.0; channels]),
            residual: None,
        }
    }

    /// Applies it to `[B, channels, n]` values in place, rows in parallel.
    fn apply(&self, out: &mut [f32], channels: usize, n: usize) {
        let total = out.len();
        with_optional_values(self.residual, |residual| {
            if let Some(r) = residual {
                assert_eq!(r.len(), total, "the residual has the output's shape");
            }
            out.par_chunks_exact_mut(n)
                .enumerate()
                .with_min_len((MIN_PARALLEL / n.max(1)).max(1))
                .for_each(|(row, values)| {
                    let add = residual.map(|r| &r[row * n..(row + 1) * n]);
                    self.finish_row(row % channels, values, add);
                });
        })
    }

    /// It on one run of output channel `c`'s values, `residual` the run's residual values.
    #[inline(always)]
    pub(super) fn finish_row(&self, c: usize, values: &mut [f32], residual: Option<&[f32]>) {
        let (scale, shift) = (self.scale[c], self.shift[c]);
        let slope = self.prelu.as_ref().map(|p| p[c]);
        let affine = |v: f32| {
            let y = v * scale + shift;
            match slope {
                Some(a) if y < 0.0 => y * a,
                _ => y,
            }
        };
        match residual {
            Some(add) => {
                let add = &add[..values.len()];
                values
                    .iter_mut()
                    .zip(add)
                    .for_each(|(v, r)| *v = affine(*v) + r)
            }
            None => values.iter_mut().for_each(|v| *v = affine(*v)),
        }
    }
}

/// `with_values` of a tensor that may be absent.
fn with_optional_values<R>(t: Option<&Tensor<4>>, f: impl FnOnce(Option<&[f32]>) -> R) -> R {
    match t {
        Some(t) => with_values(t, |values| f(Some(values))),
        None => f(None),
    }
}

/// `conv2d(x, weight)` (no bias) followed by `epilogue` in one pass over the output, on the
/// CPU backend; `None` off the CPU inference path or for layouts `conv2d` hands to burn (the
/// caller composes the same steps from burn's ops).
pub fn conv2d_then(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    options: &ConvOptions<2>,
    epilogue: &ChannelEpilogue,
) -> Option<Tensor<4>> {
    conv2d_between(x, None, weight, options, epilogue)
}

/// `conv2d_then` of `x·scale + shift` per input channel (`input`), the affine map applied as
/// the Winograd input transform reads the image, else in a pass of its own.
pub fn conv2d_between(
    x: &Tensor<4>,
    input: Option<&ChannelAffine>,
    weight: &Tensor<4>,
    options: &ConvOptions<2>,
    epilogue: &ChannelEpilogue,
) -> Option<Tensor<4>> {
    if !is_cpu_inference(&x.device()) {
        return None;
    }
    let geometry = Geometry::of(x, weight, options)?;
    let [b, ..] = x.dims();
    let [cout, ..] = weight.dims();
    let out = geometry.convolve_batch(x, input, weight, Some(epilogue));
    Some(tensor_from_vec(
        out,
        [b, cout, geometry.hout, geometry.wout],
        &x.device(),
    ))
}

/// Values of one band's im2col (256 KB: a quarter of this CPU's per-core L2).
const BAND_VALUES: usize = 1 << 16;
/// A band has at least this many output positions (smaller products run below the kernels'
/// speed).
const MIN_BAND_COLUMNS: usize = 256;

/// Weights `W[o, c, t]` as stored (`[out, in, taps]`) rearranged as `wt[(o·taps + t), c]`:
/// the left side of the products of a transposed convolution.
pub(super) fn taps_by_input(weight: &[f32], cout: usize, cin: usize, kk: usize) -> Vec<f32> {
    let mut wt = vec![0f32; cout * kk * cin];
    wt.par_chunks_exact_mut(kk * cin)
        .zip(weight.par_chunks_exact(cin * kk))
        .with_min_len((MIN_PARALLEL / (kk * cin).max(1)).max(1))
        .for_each(|(dst, src)| {
            for (c, taps) in src.chunks_exact(kk).enumerate() {
                for (tap, &v) in taps.iter().enumerate() {
                    dst[tap * cin + c] = v;
                }
            }
        });
    wt
}

/// A convolution's filters ready for its images: transformed for Winograd's F(2×2, 3×3)
/// where that pays (`cpu_winograd`), else multiplied as they are with each image's im2col.
pub(super) enum Convolver<'a> {
    Im2col {
        geometry: &'a Geometry,
        filters: Cow<'a, [f32]>,
        cout: usize,
    },
    Winograd {
        filters: Arc<Filters>,
        h: usize,
        w: usize,
    },
}

impl<'a> Convolver<'a> {
    /// `filters` as stored (`[cout, cin, kh, kw]`); `key`, their identity when they are a
    /// module's weights (their transform is kept for the next call).
    pub(super) fn new(
        geometry: &'a Geometry,
        filters: &'a [f32],
        cout: usize,
        key: Option<&StorageKey>,
    ) -> Self {
        let cin = filters.len() / (cout * geometry.kh * geometry.kw);
        let (h, w) = (geometry.h, geometry.w);
        if geometry.is_same_3x3() && winograd::worthwhile(cin, cout, h, w, key.is_some()) {
            Self::Winograd {
                filters: winograd::filters_for(key, filters, cout, cin),
                h: geometry.h,
                w: geometry.w,
            }
        } else {
            Self::Im2col {
                geometry,
                filters: Cow::Borrowed(filters),
                cout,
            }
        }
    }

    /// How many filter values each image's product reads.
    pub(super) fn filter_values(&self) -> usize {
        match self {
            Self::Im2col { filters, .. } => filters.len(),
            Self::Winograd { filters, .. } => filters.values(),
        }
    }

    /// The same convolution with its input channels scaled by `s` (`conv(x·s)` by filters
    /// `W·s`: what StyleGAN2's modulation does).
    pub(super) fn with_input_scale(&self, s: &[f32]) -> Self {
        match self {
            Self::Im2col {
                geometry,
                filters,
                cout,
            } => Self::Im2col {
                geometry,
                filters: Cow::Owned(scale_input_channels(filters, s, geometry.kh * geometry.kw)),
                cout: *cout,
            },
            Self::Winograd { filters, h, w } => Self::Winograd {
                filters: Arc::new(filters.with_input_scale(s)),
                h: *h,
                w: *w,
            },
        }
    }

    /// `dst[cout, hout·wout]` = the convolution of one `[cin, h, w]` image.
    pub(super) fn run(&self, image: &[f32], dst: &mut [f32]) {
        match self {
            Self::Im2col {
                geometry,
                filters,
                cout,
            } => geometry.convolve(image, filters, *cout, dst),
            Self::Winograd { filters, h, w } => filters.convolve(image, *h, *w, dst),
        }
    }
}

/// `values` laid out `[…, in, inner]` with every input channel's values multiplied by its
/// `s[in]` (weights `[out, in, taps]`: `inner` = taps; `[(out, tap), in]`: `inner` = 1).
pub(super) fn scale_input_channels(values: &[f32], s: &[f32], inner: usize) -> Vec<f32> {
    let run = s.len() * inner;
    let mut scaled = unfilled(values.len());
    scaled
        .par_chunks_mut(run)
        .zip(values.par_chunks(run))
        .with_min_len((MIN_PARALLEL / run.max(1)).max(1))
        .for_each(|(dst, src)| {
            for ((d, v), &sc) in dst.chunks_mut(inner).zip(src.chunks(inner)).zip(s) {
                d.iter_mut().zip(v).for_each(|(d, v)| *d = v * sc);
            }
        });
    scaled
}

/// A convolution's output that its bands of positions write in place, each its own columns
/// of every channel's row (`Geometry::convolve`).
struct BandedOutput(*mut f32);

// SAFETY: the bands that share it write disjoint values (see its use).
unsafe impl Sync for BandedOutput {}

impl BandedOutput {
    /// The output from value `offset` on.
    ///
    /// # Safety
    /// `offset` lies within the output.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        // SAFETY: the caller's promise.
        unsafe { self.0.add(offset) }
    }
}

/// `dst[cout, n] = filters[cout, k] · cols[k, n]` with the output channels split between
/// the threads: gemm keeps a product with few columns on one thread.
fn product_by_channels(dst: &mut [f32], cols: &[f32], filters: &[f32], cout: usize, n: usize) {
    let k = filters.len() / cout;
    let per = cout.div_ceil(rayon::current_num_threads().max(1));
    dst[..cout * n]
        .par_chunks_mut(per * n)
        .zip(filters.par_chunks(per * k))
        .for_each(|(dst, filters)| {
            let rows = filters.len() / k;
            matmul_single_thread(dst, [rows, n, k], (filters, k, 1), (cols, n, 1));
        });
}

/// `len` rows in about `bands` bands, evened out for `threads` workers: the count rounded up
/// to a multiple of `threads`, the rows shared out as equally as can be (bands of 9, 9, 9
/// and 4 rows on 2 threads leave one thread idle a quarter of the time; 8, 8, 8, 7 do not).
fn balanced(bands: usize, len: usize, threads: usize) -> Vec<Range<usize>> {
    let threads = threads.max(1);
    let count = (bands.div_ceil(threads) * threads).min(len).max(1);
    let (each, extra) = (len / count, len % count);
    let mut start = 0;
    (0..count)
        .map(|i| {
            let rows = start..start + each + usize::from(i < extra);
            start = rows.end;
            rows
        })
        .collect()
}

/// Shapes of one convolution.
#[derive(Debug, Clone)]
pub(super) struct Geometry {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) sy: usize,
    pub(super) sx: usize,
    pub(super) py: usize,
    pub(super) px: usize,
    pub(super) hout: usize,
    pub(super) wout: usize,
}

impl Geometry {
    /// The geometry of `conv2d(x, weight, options)`; `None` for grouped, dilated or
    /// asymmetrically padded convolutions (left to burn).
    fn of(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> Option<Self> {
        let [(py, py_end), (px, px_end)] = options.padding;
        if options.groups != 1 || options.dilation != [1, 1] || py != py_end || px != px_end {
            return None;
        }
        let [b, cin, h, w] = x.dims();
        let [cout, _, kh, kw] = weight.dims();
        let [sy, sx] = options.stride;
        // empty tensors, zero strides and kernels larger than the padded input go to burn
        if [b, cin, h, w, cout, kh, kw, sy, sx].contains(&0) {
            return None;
        }
        Some(Self {
            h,
            w,
            kh,
            kw,
            sy,
            sx,
            py,
            px,
            hout: (h + 2 * py).checked_sub(kh)? / sy + 1,
            wout: (w + 2 * px).checked_sub(kw)? / sx + 1,
        })
    }

    /// Every image of `x` convolved with `weight`: `[B, cout, hout·wout]` values.
    fn convolve_batch(
        &self,
        x: &Tensor<4>,
        affine: Option<&ChannelAffine>,
        weight: &Tensor<4>,
        epilogue: Option<&ChannelEpilogue>,
    ) -> Vec<f32> {
        let [b, cin, ..] = x.dims();
        let [cout, ..] = weight.dims();
        let n = self.hout * self.wout;
        // every value written: by each image's convolution, or by the few-position product
        let mut out = unfilled(b * cout * n);
        let fused = with_values(x, |input| {
            with_values(weight, |filters| {
                let key = StorageKey::of(weight);
                let convolver = Convolver::new(self, filters, cout, key.as_ref());
                let mapped;
                let input = match (affine, &convolver) {
                    (Some(affine), Convolver::Im2col { .. }) => {
                        mapped = affine.applied(input, cin, self.h * self.w);
                        &mapped[..]
                    }
                    _ => input,
                };
                let affine = affine.map(|a| (&a.scale[..], &a.shift[..]));
                if b > 1 && n < MIN_BAND_COLUMNS && matches!(convolver, Convolver::Im2col { .. }) {
                    self.convolve_few_positions(input, b, filters, cout, &mut out);
                    return false;
                }
                let images = input.chunks_exact(cin * self.h * self.w);
                match (&convolver, epilogue) {
                    // the epilogue on each output row as the Winograd transform writes it
                    (Convolver::Winograd { filters, h, w }, Some(epilogue)) => {
                        with_optional_values(epilogue.residual, |residual| {
                            for (i, (image, dst)) in
                                images.zip(out.chunks_exact_mut(cout * n)).enumerate()
                            {
                                let residual = residual.map(|r| &r[i * cout * n..][..cout * n]);
                                let finish = Some((epilogue, residual));
                                filters.convolve_then(image, *h, *w, dst, affine, finish);
                            }
                        });
                        true
                    }
                    (Convolver::Winograd { filters, h, w }, None) => {
                        for (image, dst) in images.zip(out.chunks_exact_mut(cout * n)) {
                            filters.convolve_then(image, *h, *w, dst, affine, None);
                        }
                        false
                    }
                    (Convolver::Im2col { .. }, _) => {
                        for (image, dst) in images.zip(out.chunks_exact_mut(cout * n)) {
                            convolver.run(image, dst);
                        }
                        false
                    }
                }
            })
        });
        if let (false, Some(epilogue)) = (fused, epilogue) {
            epilogue.apply(&mut out, cout, n);
        }
        out
    }

    /// `convolve` of `b` images with few output positions each (LPIPS's 3×3 and 7×7 maps) as
    /// one product over all of them: the filters are read once, and the product's rows are
    /// `b` times longer. `out` is `[b, cout, n]`.
    fn convolve_few_positions(
        &self,
        input: &[f32],
        b: usize,
        filters: &[f32],
        cout: usize,
        out: &mut [f32],
    ) {
        let (k, n) = (filters.len() / cout, self.hout * self.wout);
        let cin = input.len() / (b * self.h * self.w);
        let mut all = unfilled(cout * b * n);
        if b * n <= few_columns::MAX_COLUMNS && few_columns::available() {
            // the im2col transposed ([image·n + p, k]: each position's window contiguous) for
            // the product that reads the filters once, in place
            let mut cols_t = unfilled(b * n * k);
            for (image, dst) in input
                .chunks_exact(cin * self.h * self.w)
                .zip(cols_t.chunks_exact_mut(n * k))
            {
                self.windows(image, dst);
            }
            few_columns::matmul_few_columns(&mut all, filters, &cols_t, [cout, b * n, k]);
        } else {
            // cols[k, image·n + p]: each image's im2col side by side
            let mut cols = vec![0f32; k * b * n];
            with_scratch(k * n, |one| {
                for (i, image) in input.chunks_exact(cin * self.h * self.w).enumerate() {
                    self.im2col(image, 0..self.hout, one);
                    for (dst, src) in cols.chunks_exact_mut(b * n).zip(one.chunks_exact(n)) {
                        dst[i * n..(i + 1) * n].copy_from_slice(src);
                    }
                }
            });
            product_by_channels(&mut all, &cols, filters, cout, b * n);
        }
        for (c, row) in all.chunks_exact(b * n).enumerate() {
            for (i, values) in row.chunks_exact(n).enumerate() {
                out[(i * cout + c) * n..][..n].copy_from_slice(values);
            }
        }
    }

    /// The im2col of one `[cin, h, w]` image transposed: `dst[p, (c, ky, kx)]`, each output
    /// position's window (zeros outside the image) as one contiguous row — for maps of a few
    /// positions, where `im2col`'s per-row set-up would cost more than the copying.
    fn windows(&self, image: &[f32], dst: &mut [f32]) {
        let k = dst.len() / (self.hout * self.wout);
        for (p, window) in dst.chunks_exact_mut(k).enumerate() {
            let (oy, ox) = (p / self.wout, p % self.wout);
            let x0 = (ox * self.sx) as isize - self.px as isize;
            for (plane, taps) in image
                .chunks_exact(self.h * self.w)
                .zip(window.chunks_exact_mut(self.kh * self.kw))
            {
                for (ky, row) in taps.chunks_exact_mut(self.kw).enumerate() {
                    let iy = (oy * self.sy + ky) as isize - self.py as isize;
                    if iy < 0 || iy >= self.h as isize {
                        row.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * self.w..][..self.w];
                    for (kx, v) in row.iter_mut().enumerate() {
                        let ix = x0 + kx as isize;
                        *v = if ix < 0 || ix >= self.w as isize {
                            0.0
                        } else {
                            src[ix as usize]
                        };
                    }
                }
            }
        }
    }

    /// Whether this is a 3×3 convolution at stride 1 that keeps the size.
    pub(super) fn is_same_3x3(&self) -> bool {
        (self.kh, self.kw, self.sy, self.sx, self.py, self.px) == (3, 3, 1, 1, 1, 1)
    }

    /// A stride-1 convolution with a `k`×`k` kernel that keeps the size (`k` odd).
    pub(super) fn same(h: usize, w: usize, k: usize) -> Self {
        debug_assert!(k % 2 == 1, "a same-size convolution has an odd kernel");
        Self {
            h,
            w,
            kh: k,
            kw: k,
            sy: 1,
            sx: 1,
            py: k / 2,
            px: k / 2,
            hout: h,
            wout: w,
        }
    }

    /// `dst[cout, hout·wout] = filters[cout, cin·kh·kw] · im2col(image)`. Large outputs go
    /// in bands of output rows whose im2col stays in the core's cache, bands in parallel
    /// (each band's product on its own thread: no synchronisation inside the products);
    /// small ones as one product, split by output channels between the threads when it has
    /// few positions.
    pub(super) fn convolve(&self, image: &[f32], filters: &[f32], cout: usize, dst: &mut [f32]) {
        let k = filters.len() / cout;
        let n = self.hout * self.wout;
        let bands = self.bands(k);
        if bands.len() < 2 {
            with_scratch(k * n, |cols| {
                self.im2col(image, 0..self.hout, cols);
                if n < MIN_BAND_COLUMNS {
                    product_by_channels(dst, cols, filters, cout, n);
                } else {
                    matmul(dst, [cout, n, k], (filters, k, 1), (cols, n, 1));
                }
            });
            return;
        }
        assert!(dst.len() >= cout * n, "convolution output size");
        let out = BandedOutput(dst.as_mut_ptr());
        let bands = balanced(bands.len(), self.hout, rayon::current_num_threads());
        bands.par_iter().for_each(|rows| {
            let (start, n_band) = (rows.start * self.wout, rows.len() * self.wout);
            with_scratch(k * n_band, |cols| {
                self.im2col(image, rows.clone(), cols);
                // SAFETY: `dst` holds `cout` rows of `n` positions (asserted above); this band
                // writes positions `start..start + n_band` of each, and no other band does.
                unsafe {
                    matmul_single_thread_into(
                        out.at(start),
                        n,
                        [cout, n_band, k],
                        (filters, k, 1),
                        (cols, n_band, 1),
                    )
                };
            });
        });
    }

    /// The stride-2 convolution whose adjoint is StyleGAN2's upsampling transposed
    /// convolution of an `h`×`w` input with a `k`×`k` kernel (no padding): from the
    /// `[2(h−1)+k, 2(w−1)+k]` output back to `h`×`w` (`h`, `w` ≥ 1).
    pub(super) fn upsampling_adjoint(h: usize, w: usize, k: usize) -> Self {
        Self {
            h: 2 * (h - 1) + k,
            w: 2 * (w - 1) + k,
            kh: k,
            kw: k,
            sy: 2,
            sx: 2,
            py: 0,
            px: 0,
            hout: h,
            wout: w,
        }
    }

    /// The adjoint of this convolution applied to one `[cin, hout·wout]` image with the
    /// weights as `[(cout, tap), cin]` (`taps_by_input`): `col2im(wt · image)`, added into
    /// `out` (`[cout, h·w]`, zero it first), band by band of rows. For
    /// `upsampling_adjoint` this is the upsampling transposed convolution.
    pub(super) fn transpose_convolve(
        &self,
        image: &[f32],
        wt: &[f32],
        cout: usize,
        out: &mut [f32],
    ) {
        let kk = self.kh * self.kw;
        let cin = wt.len() / (cout * kk);
        let n = self.hout * self.wout;
        for rows in &self.bands(cout * kk) {
            let (start, n_band) = (rows.start * self.wout, rows.len() * self.wout);
            with_scratch(cout * kk * n_band, |cols| {
                matmul(
                    cols,
                    [cout * kk, n_band, cin],
                    (wt, cin, 1),
                    (&image[start..], n, 1),
                );
                self.col2im_add(cols, rows.clone(), out);
            });
        }
    }

    /// Bands of output rows whose im2col (`k` values per output position) stays in cache.
    pub(super) fn bands(&self, k: usize) -> Vec<Range<usize>> {
        let band_rows = (BAND_VALUES / (k * self.wout).max(1))
            .max(MIN_BAND_COLUMNS.div_ceil(self.wout.max(1)))
            .min(self.hout)
            .max(1);
        (0..self.hout)
            .step_by(band_rows)
            .map(|start| start..(start + band_rows).min(self.hout))
            .collect()
    }

    /// `cols[(c·kh + ky)·kw + kx, (oy − rows.start)·wout + ox] = image[c, oy·sy + ky − py,
    /// ox·sx + kx − px]` for the output rows `rows` (0 outside the image).
    pub(super) fn im2col(&self, image: &[f32], rows: Range<usize>, cols: &mut [f32]) {
        if self.sx >= 2 {
            return self.im2col_strided(image, rows, cols);
        }
        let n = rows.len() * self.wout;
        cols.par_chunks_exact_mut(n)
            .enumerate()
            .with_min_len((MIN_PARALLEL / n.max(1)).max(1))
            .for_each(|(row, dst)| {
                let (c, ky, kx) = (
                    row / (self.kh * self.kw),
                    row / self.kw % self.kh,
                    row % self.kw,
                );
                let plane = &image[c * self.h * self.w..(c + 1) * self.h * self.w];
                // output columns whose input column is inside the image: ox in lo..hi
                let lo = self.px.saturating_sub(kx).div_ceil(self.sx);
                let hi = ((self.w + self.px).saturating_sub(kx))
                    .div_ceil(self.sx)
                    .min(self.wout);
                for (band_row, oy) in rows.clone().enumerate() {
                    let out_row = &mut dst[band_row * self.wout..(band_row + 1) * self.wout];
                    let iy = (oy * self.sy + ky) as isize - self.py as isize;
                    if iy < 0 || iy >= self.h as isize || lo >= hi {
                        out_row.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * self.w..(iy as usize + 1) * self.w];
                    out_row[..lo].fill(0.0);
                    out_row[hi..].fill(0.0);
                    let ix0 = lo * self.sx + kx - self.px;
                    out_row[lo..hi].copy_from_slice(&src[ix0..ix0 + (hi - lo)]);
                }
            });
    }

    /// `im2col` at a column stride `sx` ≥ 2: each input row it reads is split once into its
    /// `sx` phases (columns `ix ≡ p mod sx`), and every tap's row is then a contiguous copy
    /// from one phase (a gather with stride `sx` per tap was most of a strided convolution's
    /// time beside its product: stride 2 in the encoder, AlexNet's 11×11 at stride 4).
    /// Channels in parallel.
    fn im2col_strided(&self, image: &[f32], rows: Range<usize>, cols: &mut [f32]) {
        let (n, sx) = (rows.len() * self.wout, self.sx);
        let taps = self.kh * self.kw;
        let phase_len = self.w.div_ceil(sx);
        cols.par_chunks_exact_mut(taps * n)
            .enumerate()
            .with_min_len((MIN_PARALLEL / (taps * n).max(1)).max(1))
            .for_each(|(c, channel)| {
                let plane = &image[c * self.h * self.w..(c + 1) * self.h * self.w];
                let mut phases = vec![0f32; sx * phase_len];
                for ky in 0..self.kh {
                    for (band_row, oy) in rows.clone().enumerate() {
                        let at = |kx: usize| (ky * self.kw + kx) * n + band_row * self.wout;
                        let iy = (oy * self.sy + ky) as isize - self.py as isize;
                        if iy < 0 || iy >= self.h as isize {
                            for kx in 0..self.kw {
                                channel[at(kx)..at(kx) + self.wout].fill(0.0);
                            }
                            continue;
                        }
                        let src = &plane[iy as usize * self.w..(iy as usize + 1) * self.w];
                        if sx == 2 {
                            // the encoder's common case in pairs (no inner loop per group)
                            let (even, odd) = phases.split_at_mut(phase_len);
                            for (pair, (e, o)) in src.chunks_exact(2).zip(even.iter_mut().zip(odd))
                            {
                                (*e, *o) = (pair[0], pair[1]);
                            }
                            if self.w % 2 == 1 {
                                even[phase_len - 1] = src[self.w - 1];
                            }
                        } else {
                            for (i, group) in src.chunks(sx).enumerate() {
                                for (p, &v) in group.iter().enumerate() {
                                    phases[p * phase_len + i] = v;
                                }
                            }
                        }
                        for kx in 0..self.kw {
                            let out_row = &mut channel[at(kx)..at(kx) + self.wout];
                            let lo = self.px.saturating_sub(kx).div_ceil(sx);
                            let hi = ((self.w + self.px).saturating_sub(kx))
                                .div_ceil(sx)
                                .min(self.wout);
                            if lo >= hi {
                                out_row.fill(0.0);
                                continue;
                            }
                            out_row[..lo].fill(0.0);
                            out_row[hi..].fill(0.0);
                            let ix0 = lo * sx + kx - self.px;
                            let phase = &phases[(ix0 % sx) * phase_len..][..phase_len];
                            out_row[lo..hi].copy_from_slice(&phase[ix0 / sx..ix0 / sx + (hi - lo)]);
                        }
                    }
                }
            });
    }

    /// The adjoint of `im2col` for the output rows `rows`: every entry of `cols` (laid out as
    /// `im2col(image, rows)` writes it), read from input pixel `(c, iy, ix)`, is added back
    /// there — the input gradient of a convolution from the gradient of its im2col. `image`
    /// accumulates (zero it first). Channels in parallel.
    pub(super) fn col2im_add(&self, cols: &[f32], rows: Range<usize>, image: &mut [f32]) {
        let (n, taps) = (rows.len() * self.wout, self.kh * self.kw);
        image
            .par_chunks_exact_mut(self.h * self.w)
            .zip(cols.par_chunks_exact(taps * n))
            .with_min_len((MIN_PARALLEL / (taps * n).max(1)).max(1))
            .for_each(|(plane, channel)| {
                for (tap, src) in channel.chunks_exact(n).enumerate() {
                    let (ky, kx) = (tap / self.kw, tap % self.kw);
                    for (band_row, oy) in rows.clone().enumerate() {
                        let iy = (oy * self.sy + ky) as isize - self.py as isize;
                        if iy < 0 || iy >= self.h as isize {
                            continue;
                        }
                        let dst = &mut plane[iy as usize * self.w..(iy as usize + 1) * self.w];
                        let values = &src[band_row * self.wout..(band_row + 1) * self.wout];
                        for (ox, &g) in values.iter().enumerate() {
                            let ix = (ox * self.sx + kx) as isize - self.px as isize;
                            if ix >= 0 && (ix as usize) < self.w {
                                dst[ix as usize] += g;
                            }
                        }
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::model::cpu_autodiff::tests::values;
    use crate::model::loader::tensor_to_vec;

    /// Balanced bands cover every row once, in order, as many per thread, none more than one
    /// row longer than another.
    #[test]
    fn balanced_bands_share_the_rows_evenly() {
        let bands = |sizes: &[usize]| {
            let mut start = 0;
            sizes
                .iter()
                .map(|&n| {
                    start += n;
                    start - n..start
                })
                .collect::<Vec<_>>()
        };
        for (count, len, threads, want) in [
            (4, 31, 2, vec![8, 8, 8, 7]),
            (13, 63, 2, [vec![5; 7], vec![4; 7]].concat()),
            (1, 31, 2, vec![16, 15]),
            (3, 7, 4, vec![2, 2, 2, 1]),
            (2, 3, 8, vec![1, 1, 1]),
            (2, 8, 1, vec![4, 4]),
        ] {
            let got = balanced(count, len, threads);
            assert_eq!(
                got,
                bands(&want),
                "{count} bands of {len} rows, {threads} threads"
            );
        }
    }

    /// burn's own convolution on the same inputs (and on odd sizes, strides and padding).
    #[test]
    fn equals_burns_convolution() {
        let device = Device::flex();
        let cases = [
            // (b, cin, h, w, cout, k, stride, pad, bias)
            (1, 3, 9, 7, 5, 3, 1, 1, true),
            (2, 4, 8, 8, 6, 3, 2, 1, false),
            (1, 5, 7, 9, 3, 1, 2, 0, true),
            (3, 2, 6, 5, 4, 3, 1, 0, false),
            (1, 8, 11, 11, 8, 3, 2, 1, true),
            // column strides 3 and 4 (AlexNet's 11×11 at stride 4), odd widths
            (1, 3, 23, 21, 4, 11, 4, 2, true),
            (1, 2, 10, 13, 3, 5, 3, 1, false),
            // a pair of 3×3 maps (LPIPS's late layers): the few-column product, its sums in
            // two chunks of the 432 filter taps, a partial block of rows
            (2, 48, 3, 3, 10, 3, 1, 1, true),
            // large enough to run in bands of output rows (4 and 3 bands)
            (1, 16, 40, 40, 8, 3, 1, 1, true),
            (2, 64, 48, 47, 8, 3, 2, 1, false),
        ];
        for (b, cin, h, w, cout, k, s, p, with_bias) in cases {
            let x = tensor_from_vec(values(b * cin * h * w, 1), [b, cin, h, w], &device);
            let weight = tensor_from_vec(values(cout * cin * k * k, 2), [cout, cin, k, k], &device);
            let bias = with_bias.then(|| tensor_from_vec(values(cout, 3), [cout], &device));
            let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
            let ours = tensor_to_vec(conv2d(
                x.clone(),
                weight.clone(),
                bias.clone(),
                options.clone(),
            ));
            let burns = burn_conv2d(x, weight, bias, options);
            let dims = burns.dims();
            let burns = tensor_to_vec(burns);
            assert_eq!(ours.len(), burns.len(), "{dims:?}");
            for (a, e) in ours.iter().zip(&burns) {
                assert!(
                    (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                    "{a} vs {e} in {dims:?}"
                );
            }
        }
    }

    /// `conv2d_between` against the steps one by one (an affine map of the input, burn's
    /// convolution, then the affine map, PReLU and residual with burn's ops): where input map
    /// and epilogue run inside the Winograd transforms (several bands, odd sizes, two images
    /// with their own residuals) and around an im2col product.
    #[test]
    fn input_map_and_epilogue_equal_the_steps_one_by_one() {
        let device = Device::flex();
        // (b, cin, h, w, cout, stride)
        for (b, cin, h, w, cout, s) in [
            (2, 64, 48, 45, 64, 1),
            (1, 8, 33, 30, 12, 1),
            (2, 4, 9, 8, 6, 2),
        ] {
            let x = tensor_from_vec(values(b * cin * h * w, 1), [b, cin, h, w], &device);
            let weight = tensor_from_vec(values(cout * cin * 9, 2), [cout, cin, 3, 3], &device);
            let options = ConvOptions::new([s, s], [1, 1], [1, 1], 1);
            let (ho, wo) = ((h - 1) / s + 1, (w - 1) / s + 1);
            let residual =
                tensor_from_vec(values(b * cout * ho * wo, 3), [b, cout, ho, wo], &device);
            let (scale, shift, slopes) = (values(cout, 4), values(cout, 5), values(cout, 6));
            let input = ChannelAffine {
                scale: values(cin, 7),
                shift: values(cin, 8),
            };
            for (mapped, prelu, add) in [
                (false, false, false),
                (false, true, false),
                (true, true, true),
                (true, false, true),
                (true, false, false),
            ] {
                let epilogue = ChannelEpilogue {
                    scale: scale.clone(),
                    shift: shift.clone(),
                    prelu: prelu.then(|| slopes.clone()),
                    residual: add.then_some(&residual),
                };
                let ours = tensor_to_vec(
                    conv2d_between(&x, mapped.then_some(&input), &weight, &options, &epilogue)
                        .expect("the CPU inference path"),
                );
                let per_channel = |v: &[f32]| {
                    let c = v.len();
                    tensor_from_vec(v.to_vec(), [c], &device).reshape([1, c, 1, 1])
                };
                let x = match mapped {
                    true => x.clone() * per_channel(&input.scale) + per_channel(&input.shift),
                    false => x.clone(),
                };
                let mut steps = burn_conv2d(x, weight.clone(), None, options.clone())
                    * per_channel(&scale)
                    + per_channel(&shift);
                if prelu {
                    steps =
                        steps.clone().clamp_min(0.0) + steps.clamp_max(0.0) * per_channel(&slopes);
                }
                if add {
                    steps = steps + residual.clone();
                }
                let steps = tensor_to_vec(steps);
                assert_eq!(ours.len(), steps.len());
                // Winograd's rounding grows with the channels summed (`cpu_winograd`'s test)
                for (a, e) in ours.iter().zip(&steps) {
                    assert!(
                        (a - e).abs() <= 1e-5 * (1.0 + e.abs()) * (cin as f32).sqrt(),
                        "{a} vs {e} in ({b}, {cin}, {h}, {w}) → {cout}, stride {s}, mapped {mapped}, prelu {prelu}, residual {add}"
                    );
                }
            }
        }
    }
}

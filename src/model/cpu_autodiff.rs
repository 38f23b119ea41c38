//! Differentiable CPU ops for burn's autodiff on the `flex` backend: the convolution
//! (`cpu_conv`), StyleGAN2's stride-2 transposed convolution and its blur (`cpu_fir`).
//! pivotal tuning and projection differentiate the generator and LPIPS through
//! their convolutions, and burn's CPU backward of a convolution (a direct loop for the input
//! gradient, another for the weight gradient) is where their steps spent most time
//! (`docs/performance.md`). Here both gradients are matrix products around the forward's
//! im2col: `∂x = col2im(Wᵀ · ∂y)`, `∂W = Σ_images ∂y · im2col(x)ᵀ`. StyleGAN2's stride-2
//! transposed convolution is the adjoint of a stride-2 convolution, so its passes are the
//! same pieces swapped; the blur's adjoint is the same filter with the padding that undoes it.

use std::borrow::Cow;

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_autodiff::NodeId;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::FlexTensor;

use super::cpu_conv::{Convolver, Geometry, taps_by_input};
use super::cpu_fir::Fir;
use super::cpu_tensor::{StorageKey, matmul, unfilled, with_scratch};
use super::cpu_weight_cache::{self, Form};
use super::cpu_winograd::{self as winograd, Filters};

/// The autodiff backend the app's training paths run on the CPU (`Device::autodiff()` of
/// the `flex` device: no gradient checkpointing).
pub(super) type CpuAutodiff = Autodiff<Flex, NoCheckpointing>;

/// Which convolution an op is.
#[derive(Debug, Clone, Copy)]
enum ConvKind {
    /// `conv2d(x, W)`: `geometry` maps `[cin, h, w]` to `[cout, hout, wout]`.
    Plain,
    /// `conv_transpose2d(x, Wᵀ)` at stride 2: the adjoint of the stride-2 convolution
    /// `geometry` from `[cout, h, w]` (the output) to `[cin, hout, wout]` (the input).
    TransposedStride2,
}

/// What the backward pass needs besides the saved input and weight.
#[derive(Debug, Clone)]
struct ConvShape {
    geometry: Geometry,
    batch: usize,
    cin: usize,
    cout: usize,
    /// The weight's identity when it is not being trained (a projection's generator): the
    /// forms derived from it are then kept between steps (`cpu_weight_cache`).
    fixed_weight: Option<StorageKey>,
}

impl ConvShape {
    fn input_dims(&self, kind: ConvKind) -> [usize; 4] {
        let g = &self.geometry;
        match kind {
            ConvKind::Plain => [self.batch, self.cin, g.h, g.w],
            ConvKind::TransposedStride2 => [self.batch, self.cin, g.hout, g.wout],
        }
    }
}

#[derive(Debug)]
struct ConvBackward(ConvKind);

impl Backward<Flex, 2> for ConvBackward {
    type State = (NodeId, NodeId, ConvShape);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let (x_id, weight_id, shape) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x_id);
        let weight: FlexTensor = checkpointer.retrieve_node_output(weight_id);
        let (x, weight, grad) = (values(&x), values(&weight), values(&grad));
        let (want_dx, want_dw) = (node_x.is_some(), node_weight.is_some());
        let (dx, dw) = match self.0 {
            // independent: side by side (each product alone is too small to keep every
            // thread busy at the bundled model's sizes)
            ConvKind::Plain => rayon::join(
                || want_dx.then(|| input_gradient(&shape, &weight, &grad)),
                || want_dw.then(|| weight_gradient(&shape, &x, &grad)),
            ),
            ConvKind::TransposedStride2 => {
                transposed_gradients(&shape, &x, &weight, &grad, want_dx, want_dw)
            }
        };
        let g = &shape.geometry;
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Flex>(node.id, flex(dx, shape.input_dims(self.0)));
        }
        if let (Some(node), Some(dw)) = (node_weight, dw) {
            grads.register::<Flex>(node.id, flex(dw, [shape.cout, shape.cin, g.kh, g.kw]));
        }
    }
}

/// Runs `forward` on the values of `x` and `weight` when both live on the CPU autodiff
/// backend (`None` elsewhere) and records the op for the backward pass.
fn record(
    kind: ConvKind,
    x: &Tensor<4>,
    weight: &Tensor<4>,
    shape: ConvShape,
    out_dims: [usize; 4],
    forward: impl FnOnce(&ConvShape, &[f32], &[f32]) -> Vec<f32>,
) -> Option<Tensor<4>> {
    // a weight of the inference device (a frozen network beside a trained one: PTI's LPIPS)
    // joins the graph as a constant
    let weight = match weight.is_autodiff() {
        true => weight.clone(),
        false => weight
            .clone()
            .autodiff()
            .with_gradient_checkpointing_strategy(x.gradient_checkpointing_strategy()?),
    };
    let x = x.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let weight = weight.try_into_primitive::<CpuAutodiff>().ok()?;
    let mut shape = shape;
    if !weight.is_tracked() {
        shape.fixed_weight = StorageKey::of_flex(weight.primitive());
    }
    let out = flex(
        forward(&shape, &values(x.primitive()), &values(weight.primitive())),
        out_dims,
    );
    let out = match ConvBackward(kind)
        .prepare::<NoCheckpointing>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_id = prep.checkpoint(&x);
            let weight_id = prep.checkpoint(&weight);
            prep.finish((x_id, weight_id, shape), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<CpuAutodiff>(out))
}

/// StyleGAN2's blur (`upfirdn2d` with the symmetric separable taps, no resampling, padding
/// `pad`) as a differentiable op; `None` off the CPU autodiff backend.
pub(super) fn blur(x: &Tensor<4>, taps: &[f32], pad: (usize, usize)) -> Option<Tensor<4>> {
    let [b, c, h, w] = x.dims();
    let x = x.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let fir = Fir { taps, up: 1, pad };
    let (out, oh, ow) = fir.apply(&values(x.primitive()), h, w);
    let out = flex(out, [b, c, oh, ow]);
    let out = match BlurBackward
        .prepare::<NoCheckpointing>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let shape = BlurShape {
                taps: taps.to_vec(),
                pad,
                input: [b, c, h, w],
                output: [oh, ow],
            };
            prep.finish(shape, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Some(Tensor::from_primitive::<CpuAutodiff>(out))
}

#[derive(Debug, Clone)]
struct BlurShape {
    taps: Vec<f32>,
    pad: (usize, usize),
    input: [usize; 4],
    output: [usize; 2],
}

#[derive(Debug)]
struct BlurBackward;

impl Backward<Flex, 1> for BlurBackward {
    type State = BlurShape;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let Some(node) = node_x else { return };
        let shape = ops.state;
        let [gh, gw] = shape.output;
        // out[i] = Σ_t k[t]·x[i + t − p0] (k symmetric) ⇒ ∂x[j] = Σ_t k[t]·∂out[j − t + p0]:
        // the same filter over ∂out padded by (len − 1 − p0, len − 1 − p1)
        let last = shape.taps.len() - 1;
        let adjoint = Fir {
            taps: &shape.taps,
            up: 1,
            pad: (last - shape.pad.0, last - shape.pad.1),
        };
        let (dx, dh, dw) = adjoint.apply(&values(&grad), gh, gw);
        let [b, c, h, w] = shape.input;
        debug_assert_eq!((dh, dw), (h, w));
        grads.register::<Flex>(node.id, flex(dx, [b, c, h, w]));
    }
}

/// `conv2d(x, weight)` (no bias, no groups or dilation, symmetric padding: `geometry`) when
/// both tensors live on the CPU autodiff backend; `None` elsewhere.
pub(super) fn conv2d(x: &Tensor<4>, weight: &Tensor<4>, geometry: Geometry) -> Option<Tensor<4>> {
    let [batch, cin, ..] = x.dims();
    let [cout, ..] = weight.dims();
    let out_dims = [batch, cout, geometry.hout, geometry.wout];
    let shape = ConvShape {
        geometry,
        batch,
        cin,
        cout,
        fixed_weight: None,
    };
    record(ConvKind::Plain, x, weight, shape, out_dims, forward)
}

/// The stride-2 transposed convolution of StyleGAN2's upsampling layers (no padding,
/// `weight` `[out, in, k, k]` as the generator stores it: `conv_transpose2d(x, weightᵀ)`), as
/// a differentiable op: its forward pass is the input gradient of the stride-2 convolution
/// from the `[out, 2(h−1)+k, 2(w−1)+k]` output back to `[in, h, w]`, its backward pass that
/// convolution's forward and weight gradient.
pub(super) fn conv_transpose_stride2(x: &Tensor<4>, weight: &Tensor<4>) -> Option<Tensor<4>> {
    let [batch, cin, h, w] = x.dims();
    let [cout, _, k, _] = weight.dims();
    if [batch, cin, h, w, cout, k].contains(&0) {
        return None;
    }
    let geometry = Geometry::upsampling_adjoint(h, w, k);
    let (fh, fw) = (geometry.h, geometry.w);
    let shape = ConvShape {
        geometry,
        batch,
        cin,
        cout,
        fixed_weight: None,
    };
    record(
        ConvKind::TransposedStride2,
        x,
        weight,
        shape,
        [batch, cout, fh, fw],
        transposed_forward,
    )
}

fn forward(shape: &ConvShape, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let n = g.hout * g.wout;
    // every value written by its image's convolution
    let mut out = unfilled(shape.batch * shape.cout * n);
    let convolver = Convolver::new(g, weight, shape.cout, shape.fixed_weight.as_ref());
    for (image, dst) in x
        .chunks_exact(shape.cin * g.h * g.w)
        .zip(out.chunks_exact_mut(shape.cout * n))
    {
        convolver.run(image, dst);
    }
    out
}

/// `∂x[b] = col2im(Wᵀ · ∂y[b])`, band by band of output rows (the whole image's im2col
/// would be gigabytes at 1024 px). For a same-size 3×3 convolution that is itself a
/// same-size convolution of `∂y`, with the filters' in/out swapped and taps flipped, which
/// runs as one where that pays (Winograd, `cpu_conv::Convolver`).
fn input_gradient(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let (n, k) = (g.hout * g.wout, shape.cin * g.kh * g.kw);
    if g.is_same_3x3() && winograd::worthwhile(shape.cout, shape.cin, g.h, g.w, false) {
        // every value written by its image's convolution
        let mut dx = unfilled(shape.batch * shape.cin * n);
        let filters = cpu_weight_cache::derived(
            shape.fixed_weight.as_ref(),
            Form::WinogradAdjoint,
            |f: &Filters| f.bytes(),
            || Filters::new(&same_size_adjoint(shape, weight), shape.cin, shape.cout),
        );
        for (dy, dst) in grad
            .chunks_exact(shape.cout * n)
            .zip(dx.chunks_exact_mut(shape.cin * n))
        {
            filters.convolve(dy, g.h, g.w, dst);
        }
        return dx;
    }
    // summed into by col2im
    let mut dx = vec![0f32; shape.batch * shape.cin * g.h * g.w];
    let bands = g.bands(k);
    for (dy, dst) in grad
        .chunks_exact(shape.cout * n)
        .zip(dx.chunks_exact_mut(shape.cin * g.h * g.w))
    {
        for rows in &bands {
            let (start, n_band) = (rows.start * g.wout, rows.len() * g.wout);
            with_scratch(k * n_band, |cols| {
                // cols[k, band] = Wᵀ[k, cout] · ∂y[cout, band]
                matmul(
                    cols,
                    [k, n_band, shape.cout],
                    (weight, 1, k),
                    (&dy[start..], n, 1),
                );
                g.col2im_add(cols, rows.clone(), dst);
            });
        }
    }
    dx
}

/// A same-size 3×3 convolution's filters as those of its adjoint: `W'[c, o, a, b] =
/// W[o, c, 2 − a, 2 − b]`.
fn same_size_adjoint(shape: &ConvShape, weight: &[f32]) -> Vec<f32> {
    let (cin, cout) = (shape.cin, shape.cout);
    let mut adjoint = vec![0f32; cin * cout * 9];
    for (o, filters) in weight.chunks_exact(cin * 9).enumerate() {
        for (c, taps) in filters.chunks_exact(9).enumerate() {
            let dst = &mut adjoint[(c * cout + o) * 9..][..9];
            for (t, &v) in taps.iter().enumerate() {
                dst[8 - t] = v;
            }
        }
    }
    adjoint
}

/// `∂W = Σ_b ∂y[b] · im2col(x[b])ᵀ`, band by band of output rows.
fn weight_gradient(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let (n, k) = (g.hout * g.wout, shape.cin * g.kh * g.kw);
    let mut dw = vec![0f32; shape.cout * k];
    let mut one = vec![0f32; shape.cout * k];
    let bands = g.bands(k);
    for (image, dy) in x
        .chunks_exact(shape.cin * g.h * g.w)
        .zip(grad.chunks_exact(shape.cout * n))
    {
        for rows in &bands {
            let (start, n_band) = (rows.start * g.wout, rows.len() * g.wout);
            with_scratch(k * n_band, |cols| {
                g.im2col(image, rows.clone(), cols);
                // ∂W[cout, k] += ∂y[cout, band] · colsᵀ[band, k]
                matmul(
                    &mut one,
                    [shape.cout, k, n_band],
                    (&dy[start..], n, 1),
                    (cols, 1, n_band),
                );
            });
            dw.iter_mut().zip(&one).for_each(|(d, v)| *d += v);
        }
    }
    dw
}

/// A tensor's values in row-major order (a copy only when its layout is not contiguous).
pub(super) fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .expect("a contiguous f32 tensor")
                .to_vec(),
        ),
    }
}

fn flex(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The transposed convolution's forward pass, image by image.
fn transposed_forward(shape: &ConvShape, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let (cin, cout, kk) = (shape.cin, shape.cout, g.kh * g.kw);
    let wt = cpu_weight_cache::values(shape.fixed_weight.as_ref(), Form::TapsByInput, || {
        taps_by_input(weight, cout, cin, kk)
    });
    let mut out = vec![0f32; shape.batch * cout * g.h * g.w];
    for (image, dst) in x
        .chunks_exact(cin * g.hout * g.wout)
        .zip(out.chunks_exact_mut(cout * g.h * g.w))
    {
        g.transpose_convolve(image, &wt, cout, dst);
    }
    out
}

/// The transposed convolution's gradients: with `cols = im2col(∂y)`, `∂x = wtᵀ · cols` and
/// `∂wt = Σ_images cols · xᵀ` (then back to the stored `[out, in, tap]` order).
fn transposed_gradients(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    want_dx: bool,
    want_dw: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let g = &shape.geometry;
    let (cin, cout, kk) = (shape.cin, shape.cout, g.kh * g.kw);
    let n = g.hout * g.wout;
    let wt = cpu_weight_cache::values(shape.fixed_weight.as_ref(), Form::TapsByInput, || {
        taps_by_input(weight, cout, cin, kk)
    });
    // every value written, band by band, when asked for (else none: not even allocated)
    let mut dx = if want_dx {
        unfilled(shape.batch * cin * n)
    } else {
        Vec::new()
    };
    let mut dwt = vec![0f32; cout * kk * cin];
    let mut one = vec![0f32; cout * kk * cin];
    let bands = g.bands(cout * kk);
    let mut dx_images = dx.chunks_exact_mut(cin * n);
    for (dy, image) in grad
        .chunks_exact(cout * g.h * g.w)
        .zip(x.chunks_exact(cin * n))
    {
        let mut dst = dx_images.next();
        for rows in &bands {
            let (start, n_band) = (rows.start * g.wout, rows.len() * g.wout);
            with_scratch(cout * kk * n_band, |cols| {
                g.im2col(dy, rows.clone(), cols);
                if let Some(dst) = dst.as_deref_mut() {
                    // ∂x[c, band] = Σ_(o,t) wt[(o,t), c] · cols[(o,t), band]
                    let mut band = vec![0f32; cin * n_band];
                    matmul(
                        &mut band,
                        [cin, n_band, cout * kk],
                        (&wt, 1, cin),
                        (cols, n_band, 1),
                    );
                    for (dst_row, src_row) in dst.chunks_exact_mut(n).zip(band.chunks_exact(n_band))
                    {
                        dst_row[start..start + n_band].copy_from_slice(src_row);
                    }
                }
                if want_dw {
                    // ∂wt[(o,t), c] += cols[(o,t), band] · x[c, band]ᵀ
                    matmul(
                        &mut one,
                        [cout * kk, cin, n_band],
                        (cols, n_band, 1),
                        (&image[start..], 1, n),
                    );
                    dwt.iter_mut().zip(&one).for_each(|(d, v)| *d += v);
                }
            });
        }
    }
    let dw = want_dw.then(|| {
        let mut dw = vec![0f32; cout * cin * kk];
        for o in 0..cout {
            for t in 0..kk {
                for c in 0..cin {
                    dw[(o * cin + c) * kk + t] = dwt[(o * kk + t) * cin + c];
                }
            }
        }
        dw
    });
    (want_dx.then_some(dx), dw)
}

#[cfg(test)]
pub(super) mod tests {
    use burn::tensor::Device;
    use burn::tensor::module::{conv_transpose2d, conv2d as burn_conv2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

    use super::*;
    use crate::model::loader::{tensor_from_vec, tensor_to_vec};

    /// `n` test values in [−1, 1), different for each `seed`.
    pub(in crate::model) fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 1013) as f32 / 506.5 - 1.0)
            .collect()
    }

    /// `ours` and `theirs` on the same input and weight (fresh leaves each), with the same
    /// probe on the output: outputs, `∂x` and `∂W` equal within 1e-4.
    fn assert_same_op(
        x_dims: [usize; 4],
        w_dims: [usize; 4],
        ours: impl Fn(&Tensor<4>, &Tensor<4>) -> Tensor<4>,
        theirs: impl Fn(&Tensor<4>, &Tensor<4>) -> Tensor<4>,
    ) {
        let device = Device::flex().autodiff();
        let run = |op: &dyn Fn(&Tensor<4>, &Tensor<4>) -> Tensor<4>| {
            let n = |d: [usize; 4]| d.iter().product();
            let x = tensor_from_vec(values(n(x_dims), 1), x_dims, &device).require_grad();
            let weight = tensor_from_vec(values(n(w_dims), 2), w_dims, &device).require_grad();
            let y = op(&x, &weight);
            let dims = y.dims();
            let loss = (y.clone() * tensor_from_vec(values(n(dims), 3), dims, &device)).sum();
            let grads = loss.backward();
            [
                tensor_to_vec(y),
                tensor_to_vec(x.grad(&grads).expect("∂x")),
                tensor_to_vec(weight.grad(&grads).expect("∂W")),
            ]
        };
        assert_all_close(&["y", "∂x", "∂W"], run(&ours), run(&theirs), x_dims);
    }

    /// Each named pair of value lists equal within 1e-4 (relative to 1 + |expected|).
    fn assert_all_close<const N: usize>(
        names: &[&str; N],
        ours: [Vec<f32>; N],
        theirs: [Vec<f32>; N],
        dims: [usize; 4],
    ) {
        for ((what, a), b) in names.iter().zip(ours).zip(theirs) {
            assert_eq!(a.len(), b.len(), "{what} {dims:?}");
            for (a, e) in a.iter().zip(&b) {
                assert!(
                    (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{what} {dims:?}: {a} vs {e}"
                );
            }
        }
    }

    /// The convolution against burn's differentiable one, at stride 1 and 2, with and
    /// without padding, batch 1 and 2 (the op must run: `Some` on this device).
    #[test]
    fn gradients_equal_burns() {
        for (b, cin, h, w, cout, k, s, p) in [
            (1, 3, 9, 7, 5, 3, 1, 1),
            (2, 4, 8, 9, 6, 3, 2, 1),
            (1, 5, 6, 6, 3, 1, 1, 0),
            (2, 2, 7, 5, 4, 3, 1, 0),
            // large enough for several bands of output rows (5 and 2), and for Winograd
            // (forward and input gradient)
            (1, 64, 40, 36, 8, 3, 1, 1),
            (2, 16, 32, 32, 16, 3, 1, 1),
            (2, 32, 48, 40, 4, 3, 2, 1),
        ] {
            let geometry = Geometry {
                h,
                w,
                kh: k,
                kw: k,
                sy: s,
                sx: s,
                py: p,
                px: p,
                hout: (h + 2 * p - k) / s + 1,
                wout: (w + 2 * p - k) / s + 1,
            };
            assert_same_op(
                [b, cin, h, w],
                [cout, cin, k, k],
                |x, weight| {
                    conv2d(x, weight, geometry.clone()).expect("the CPU autodiff op runs here")
                },
                |x, weight| {
                    let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
                    burn_conv2d(x.clone(), weight.clone(), None, options)
                },
            );
        }
    }

    /// StyleGAN2's upsampling transposed convolution against burn's `conv_transpose2d` with
    /// the weight's first two axes swapped.
    #[test]
    fn transposed_gradients_equal_burns() {
        for (b, cin, h, w, cout, k) in [
            (1, 3, 4, 4, 5, 3),
            (2, 4, 3, 5, 2, 3),
            (1, 2, 2, 2, 3, 1),
            // several bands of input rows (3)
            (1, 4, 40, 24, 16, 3),
        ] {
            assert_same_op(
                [b, cin, h, w],
                [cout, cin, k, k],
                |x, weight| {
                    conv_transpose_stride2(x, weight).expect("the CPU autodiff op runs here")
                },
                |x, weight| {
                    let options = ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1);
                    conv_transpose2d(x.clone(), weight.clone().swap_dims(0, 1), None, options)
                },
            );
        }
    }

    /// A weight that takes no gradient (a projection's frozen generator, or PTI's LPIPS on
    /// the inference device): the forms derived from it are kept (`cpu_weight_cache`), and
    /// output and `∂x` still equal burn's on the first call and on the next, which reuses
    /// them — same-size (Winograd both ways) and transposed.
    #[test]
    fn fixed_weight_gradients_equal_burns() {
        let device = Device::flex().autodiff();
        let cases = [(16, 32, 16, false), (4, 5, 3, true)];
        for ((cin, side, cout, transposed), weight_device) in cases
            .into_iter()
            .flat_map(|c| [(c, device.clone()), (c, Device::flex())])
        {
            let weight =
                tensor_from_vec(values(cout * cin * 9, 2), [cout, cin, 3, 3], &weight_device);
            let geometry = Geometry::same(side, side, 3);
            let ours = |x: &Tensor<4>| match transposed {
                false => conv2d(x, &weight, geometry.clone()),
                true => conv_transpose_stride2(x, &weight),
            };
            let burns = |x: &Tensor<4>| match transposed {
                false => burn_conv2d(
                    x.clone(),
                    weight.clone(),
                    None,
                    ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
                ),
                true => conv_transpose2d(
                    x.clone(),
                    weight.clone().swap_dims(0, 1),
                    None,
                    ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1),
                ),
            };
            let dims = [1, cin, side, side];
            let run = |op: &dyn Fn(&Tensor<4>) -> Tensor<4>| {
                let x = tensor_from_vec(values(cin * side * side, 1), dims, &device).require_grad();
                let y = op(&x);
                let probe =
                    tensor_from_vec(values(y.dims().iter().product(), 3), y.dims(), &device);
                let grads = (y.clone() * probe).sum().backward();
                [tensor_to_vec(y), tensor_to_vec(x.grad(&grads).expect("∂x"))]
            };
            for _ in 0..2 {
                let ours = run(&|x| ours(x).expect("the CPU autodiff op runs here"));
                assert_all_close(&["y", "∂x"], ours, run(&burns), dims);
            }
        }
    }

    /// The blur against `upfirdn.rs`'s depthwise convolution (burn's ops): output and `∂x`,
    /// at the paddings the generator uses and others.
    #[test]
    fn blur_gradients_equal_burns() {
        use crate::model::cpu_fir::separable_taps;
        use crate::model::upfirdn::{FIR_GAIN, FIR_TAPS, blur as burn_blur, kernel_tensor};
        let device = Device::flex().autodiff();
        let taps = separable_taps(&FIR_TAPS, FIR_GAIN);
        let kernel = kernel_tensor(&FIR_TAPS, FIR_GAIN, &device);
        for (dims, pad) in [
            ([1, 3, 9, 9], (1, 1)),
            ([2, 2, 7, 5], (2, 1)),
            ([1, 1, 4, 6], (0, 2)),
        ] {
            let run = |ours: bool| {
                let n = dims.iter().product();
                let x = tensor_from_vec(values(n, 1), dims, &device).require_grad();
                let y = if ours {
                    blur(&x, &taps, pad).expect("the CPU autodiff op runs here")
                } else {
                    burn_blur(x.clone(), &kernel, pad)
                };
                let out = y.dims();
                let probe = tensor_from_vec(values(out.iter().product(), 3), out, &device);
                let grads = (y.clone() * probe).sum().backward();
                [tensor_to_vec(y), tensor_to_vec(x.grad(&grads).expect("∂x"))]
            };
            assert_all_close(&["y", "∂x"], run(true), run(false), dims);
        }
    }
}

//! The CPU convolution (`cpu_conv`) as a differentiable op of burn's autodiff on the `flex`
//! backend: pivotal tuning and projection differentiate the generator and LPIPS through
//! their convolutions, and burn's CPU backward of a convolution (a direct loop for the input
//! gradient, another for the weight gradient) is where their steps spend most time
//! (`docs/performance.md`). Here both gradients are matrix products around the forward's
//! im2col: `∂x = col2im(Wᵀ · ∂y)`, `∂W = Σ_images ∂y · im2col(x)ᵀ`.

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

use super::cpu_conv::Geometry;
use super::cpu_tensor::matmul;

/// The autodiff backend the app's training paths run on the CPU (`Device::autodiff()` of
/// the `flex` device: no gradient checkpointing).
type CpuAutodiff = Autodiff<Flex, NoCheckpointing>;

/// What the backward pass needs besides the saved input and weight.
#[derive(Debug, Clone)]
struct ConvShape {
    geometry: Geometry,
    batch: usize,
    cin: usize,
    cout: usize,
}

#[derive(Debug)]
struct ConvBackward;

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
        if let Some(node) = node_x {
            let dx = input_gradient(&shape, &weight, &grad);
            grads.register::<Flex>(
                node.id,
                flex(
                    dx,
                    [shape.batch, shape.cin, shape.geometry.h, shape.geometry.w],
                ),
            );
        }
        if let Some(node) = node_weight {
            let g = &shape.geometry;
            let dw = weight_gradient(&shape, &x, &grad);
            grads.register::<Flex>(node.id, flex(dw, [shape.cout, shape.cin, g.kh, g.kw]));
        }
    }
}

/// `conv2d(x, weight)` (no bias, no groups or dilation, symmetric padding: `geometry`) when
/// both tensors live on the CPU autodiff backend; `None` elsewhere.
pub(super) fn conv2d(x: &Tensor<4>, weight: &Tensor<4>, geometry: Geometry) -> Option<Tensor<4>> {
    let [batch, cin, ..] = x.dims();
    let [cout, ..] = weight.dims();
    let x = x.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let weight = weight.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let (hout, wout) = (geometry.hout, geometry.wout);
    let shape = ConvShape {
        geometry,
        batch,
        cin,
        cout,
    };
    let out = {
        let (xv, wv) = (values(x.primitive()), values(weight.primitive()));
        flex(forward(&shape, &xv, &wv), [batch, cout, hout, wout])
    };
    let out = match ConvBackward
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

/// The stride-2 transposed convolution of StyleGAN2's upsampling layers (no padding,
/// `weight` `[out, in, k, k]` as the generator stores it: `conv_transpose2d(x, weightᵀ)`), as
/// a differentiable op. It is the adjoint of the stride-2 convolution `geometry` from the
/// `[out, 2(h−1)+k, 2(w−1)+k]` output back to `[in, h, w]`, so its forward pass is that
/// convolution's input gradient and its backward pass that convolution's forward.
pub(super) fn conv_transpose_stride2(x: &Tensor<4>, weight: &Tensor<4>) -> Option<Tensor<4>> {
    let [batch, cin, h, w] = x.dims();
    let [cout, _, k, _] = weight.dims();
    let (fh, fw) = (2 * (h - 1) + k, 2 * (w - 1) + k);
    let geometry = Geometry {
        h: fh,
        w: fw,
        kh: k,
        kw: k,
        sy: 2,
        sx: 2,
        py: 0,
        px: 0,
        hout: h,
        wout: w,
    };
    let x = x.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    let weight = weight.clone().try_into_primitive::<CpuAutodiff>().ok()?;
    // the adjoint convolution maps cout channels to cin
    let shape = ConvShape {
        geometry,
        batch,
        cin: cout,
        cout: cin,
    };
    let out = {
        let (xv, wv) = (values(x.primitive()), values(weight.primitive()));
        let wt = taps_by_input(&wv, cout, cin, k * k);
        // the adjoint conv's "weight" [cin, cout·k²] is wt read as its transpose
        flex(input_gradient_t(&shape, &wt, &xv), [batch, cout, fh, fw])
    };
    let out = match TransposedBackward
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

#[derive(Debug)]
struct TransposedBackward;

impl Backward<Flex, 2> for TransposedBackward {
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
        let g = &shape.geometry;
        // in the generator's terms: cout output channels, cin input channels
        let (cout, cin, kk) = (shape.cin, shape.cout, g.kh * g.kw);
        let n = g.hout * g.wout;
        let mut dx = vec![0f32; shape.batch * cin * n];
        let mut dwt = vec![0f32; cout * kk * cin];
        let mut one = vec![0f32; cout * kk * cin];
        let mut cols = vec![0f32; cout * kk * n];
        let wt = taps_by_input(&weight, cout, cin, kk);
        for ((dy, image), dst) in grad
            .chunks_exact(cout * g.h * g.w)
            .zip(x.chunks_exact(cin * n))
            .zip(dx.chunks_exact_mut(cin * n))
        {
            g.im2col(dy, 0..g.hout, &mut cols);
            if node_x.is_some() {
                // ∂x[c, n] = Σ_(o,t) wt[(o,t), c] · cols[(o,t), n]
                matmul(dst, [cin, n, cout * kk], (&wt, 1, cin), (&cols, n, 1));
            }
            if node_weight.is_some() {
                // ∂wt[(o,t), c] += cols[(o,t), n] · x[c, n]ᵀ
                matmul(&mut one, [cout * kk, cin, n], (&cols, n, 1), (image, 1, n));
                dwt.iter_mut().zip(&one).for_each(|(d, v)| *d += v);
            }
        }
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(dx, [shape.batch, cin, g.hout, g.wout]));
        }
        if let Some(node) = node_weight {
            let mut dw = vec![0f32; cout * cin * kk];
            for o in 0..cout {
                for t in 0..kk {
                    for c in 0..cin {
                        dw[(o * cin + c) * kk + t] = dwt[(o * kk + t) * cin + c];
                    }
                }
            }
            grads.register::<Flex>(node.id, flex(dw, [cout, cin, g.kh, g.kw]));
        }
    }
}

/// `W[o, c, t]` (as stored) rearranged as `wt[(o·kk + t), c]`.
fn taps_by_input(weight: &[f32], cout: usize, cin: usize, kk: usize) -> Vec<f32> {
    let mut wt = vec![0f32; cout * kk * cin];
    for o in 0..cout {
        for c in 0..cin {
            for t in 0..kk {
                wt[(o * kk + t) * cin + c] = weight[(o * cin + c) * kk + t];
            }
        }
    }
    wt
}

/// The transposed convolution's forward pass: per image `col2im(wt · x)` with the adjoint
/// convolution's geometry (`shape.cin` = the generator's output channels).
fn input_gradient_t(shape: &ConvShape, wt: &[f32], x: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let (cout, cin, kk) = (shape.cin, shape.cout, g.kh * g.kw);
    let n = g.hout * g.wout;
    let mut out = vec![0f32; shape.batch * cout * g.h * g.w];
    let mut cols = vec![0f32; cout * kk * n];
    for (image, dst) in x
        .chunks_exact(cin * n)
        .zip(out.chunks_exact_mut(cout * g.h * g.w))
    {
        matmul(&mut cols, [cout * kk, n, cin], (wt, cin, 1), (image, n, 1));
        g.col2im(&cols, dst);
    }
    out
}

fn forward(shape: &ConvShape, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let n = g.hout * g.wout;
    let mut out = vec![0f32; shape.batch * shape.cout * n];
    for (image, dst) in x
        .chunks_exact(shape.cin * g.h * g.w)
        .zip(out.chunks_exact_mut(shape.cout * n))
    {
        g.convolve(image, weight, shape.cout, dst);
    }
    out
}

/// `∂x[b] = col2im(Wᵀ · ∂y[b])`.
fn input_gradient(shape: &ConvShape, weight: &[f32], grad: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let (n, k) = (g.hout * g.wout, shape.cin * g.kh * g.kw);
    let mut dx = vec![0f32; shape.batch * shape.cin * g.h * g.w];
    let mut cols = vec![0f32; k * n];
    for (dy, dst) in grad
        .chunks_exact(shape.cout * n)
        .zip(dx.chunks_exact_mut(shape.cin * g.h * g.w))
    {
        // cols[k, n] = Wᵀ[k, cout] · ∂y[cout, n]
        matmul(&mut cols, [k, n, shape.cout], (weight, 1, k), (dy, n, 1));
        g.col2im(&cols, dst);
    }
    dx
}

/// `∂W = Σ_b ∂y[b] · im2col(x[b])ᵀ`.
fn weight_gradient(shape: &ConvShape, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let g = &shape.geometry;
    let (n, k) = (g.hout * g.wout, shape.cin * g.kh * g.kw);
    let mut dw = vec![0f32; shape.cout * k];
    let mut one = vec![0f32; shape.cout * k];
    let mut cols = vec![0f32; k * n];
    for (image, dy) in x
        .chunks_exact(shape.cin * g.h * g.w)
        .zip(grad.chunks_exact(shape.cout * n))
    {
        g.im2col(image, 0..g.hout, &mut cols);
        // ∂W[cout, k] += ∂y[cout, n] · colsᵀ[n, k]
        matmul(&mut one, [shape.cout, k, n], (dy, n, 1), (&cols, 1, n));
        dw.iter_mut().zip(&one).for_each(|(d, v)| *d += v);
    }
    dw
}

/// A tensor's values in row-major order (a copy only when its layout is not contiguous).
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
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

#[cfg(test)]
mod tests {
    use burn::tensor::Device;
    use burn::tensor::module::conv2d as burn_conv2d;
    use burn::tensor::ops::ConvOptions;

    use super::*;
    use crate::model::loader::{tensor_from_vec, tensor_to_vec};

    fn assert_close(ours: Vec<f32>, theirs: Vec<f32>, what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}");
        for (a, e) in ours.iter().zip(&theirs) {
            assert!(
                (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                "{what}: {a} vs {e}"
            );
        }
    }

    /// Output and both gradients against burn's differentiable convolution, at stride 1 and
    /// 2, with and without padding, batch 1 and 2 (the op must run: `Some` on this device).
    #[test]
    fn gradients_equal_burns() {
        let device = Device::flex().autodiff();
        let values = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 7919 + seed * 104729) % 1013) as f32 / 506.5 - 1.0)
                .collect()
        };
        for (b, cin, h, w, cout, k, s, p) in [
            (1, 3, 9, 7, 5, 3, 1, 1),
            (2, 4, 8, 9, 6, 3, 2, 1),
            (1, 5, 6, 6, 3, 1, 1, 0),
            (2, 2, 7, 5, 4, 3, 1, 0),
        ] {
            let x0 = values(b * cin * h * w, 1);
            let w0 = values(cout * cin * k * k, 2);
            let probe = |n: usize| values(n, 3);
            let run = |ours: bool| {
                let x = tensor_from_vec(x0.clone(), [b, cin, h, w], &device).require_grad();
                let weight = tensor_from_vec(w0.clone(), [cout, cin, k, k], &device).require_grad();
                let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
                let y = if ours {
                    let hout = (h + 2 * p - k) / s + 1;
                    let wout = (w + 2 * p - k) / s + 1;
                    let geometry = Geometry {
                        h,
                        w,
                        kh: k,
                        kw: k,
                        sy: s,
                        sx: s,
                        py: p,
                        px: p,
                        hout,
                        wout,
                    };
                    conv2d(&x, &weight, geometry).expect("the CPU autodiff op runs here")
                } else {
                    burn_conv2d(x.clone(), weight.clone(), None, options)
                };
                let dims = y.dims();
                let n = dims.iter().product();
                let loss = (y.clone() * tensor_from_vec(probe(n), dims, &device)).sum();
                let grads = loss.backward();
                (
                    tensor_to_vec(y),
                    tensor_to_vec(x.grad(&grads).expect("∂x")),
                    tensor_to_vec(weight.grad(&grads).expect("∂W")),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            assert_close(ours.0, theirs.0, "y");
            assert_close(ours.1, theirs.1, "∂x");
            assert_close(ours.2, theirs.2, "∂W");
        }
    }

    /// StyleGAN2's upsampling transposed convolution: output and both gradients against
    /// burn's `conv_transpose2d` with the weight's first two axes swapped.
    #[test]
    fn transposed_gradients_equal_burns() {
        use burn::tensor::module::conv_transpose2d;
        use burn::tensor::ops::ConvTransposeOptions;
        let device = Device::flex().autodiff();
        let values = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 7919 + seed * 104729) % 1013) as f32 / 506.5 - 1.0)
                .collect()
        };
        for (b, cin, h, w, cout, k) in [(1, 3, 4, 4, 5, 3), (2, 4, 3, 5, 2, 3), (1, 2, 2, 2, 3, 1)]
        {
            let x0 = values(b * cin * h * w, 1);
            let w0 = values(cout * cin * k * k, 2);
            let run = |ours: bool| {
                let x = tensor_from_vec(x0.clone(), [b, cin, h, w], &device).require_grad();
                let weight = tensor_from_vec(w0.clone(), [cout, cin, k, k], &device).require_grad();
                let y = if ours {
                    conv_transpose_stride2(&x, &weight).expect("the CPU autodiff op runs here")
                } else {
                    conv_transpose2d(
                        x.clone(),
                        weight.clone().swap_dims(0, 1),
                        None,
                        ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1),
                    )
                };
                let dims = y.dims();
                let n = dims.iter().product();
                let loss = (y.clone() * tensor_from_vec(values(n, 3), dims, &device)).sum();
                let grads = loss.backward();
                (
                    tensor_to_vec(y),
                    tensor_to_vec(x.grad(&grads).expect("∂x")),
                    tensor_to_vec(weight.grad(&grads).expect("∂W")),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            assert_close(ours.0, theirs.0, "y");
            assert_close(ours.1, theirs.1, "∂x");
            assert_close(ours.2, theirs.2, "∂W");
        }
    }
}

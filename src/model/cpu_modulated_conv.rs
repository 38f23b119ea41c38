//! StyleGAN2's modulated convolution on the CPU backend, with what follows it fused in:
//! the style scaling the input or the filters (whichever is smaller), one matrix product
//! per image (im2col for a same-size 3×3 convolution; for the 2× upsampling one, the
//! transposed convolution as a product followed by a scatter into the strided output, then
//! the separable blur), demodulation, noise, bias, activation and clamp applied in one pass
//! over the output.
//!
//! The same arithmetic as `ModulatedConv2d::forward` + `StyledConv`/`ToRgb` on burn's ops
//! (the tests compare both); burn's version recomputes the weights' squared sums through a
//! strided reduction and transposes weights on every call, and the blur is a 4×4 depthwise
//! convolution: on the batch-1 generator those cost more than the products.

use rayon::prelude::*;

use super::cpu_conv::{Convolver, Geometry, scale_input_channels, taps_by_input};
use super::cpu_fir::Fir;
use super::cpu_tensor::{MIN_PARALLEL, StorageKey, matmul, unfilled};
use super::cpu_weight_cache::{self, Form};
use super::modulated_conv::{Demodulation, Sampling};

/// The convolution's weights as stored (`[out, in, k, k]`) and how it runs.
pub struct ConvWeights<'a> {
    pub weight: &'a [f32],
    /// The weight tensor's identity (the forms derived from it are kept between calls).
    pub key: Option<StorageKey>,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub sampling: Sampling,
    pub demodulation: Demodulation,
    /// Per-axis blur taps of the upsampling path and its padding.
    pub blur: Option<Fir<'a>>,
}

/// What happens to each output value after the convolution.
pub struct Epilogue<'a> {
    /// Noise maps `[1 or B, out h·w]` and their strength.
    pub noise: Option<(&'a [f32], f32)>,
    /// One bias per output channel.
    pub bias: &'a [f32],
    pub activation: Activation,
    pub clamp: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Linear,
    /// `leaky_relu(x, 0.2) · √2` (StyleGAN2's fused leaky ReLU).
    LeakyReluGain,
}

/// `leaky_relu(v, 0.2) · √2`.
pub fn leaky_relu_gain(v: f32) -> f32 {
    let leaky = if v < 0.0 { 0.2 * v } else { v };
    leaky * std::f32::consts::SQRT_2
}

/// A batch of `[in, h, w]` inputs, styles `[B, in]` (already scaled by `1/√(in·k²)`), through
/// the convolution and the epilogue: `[B, out, h', w']` values and `(h', w')`.
pub fn forward(
    conv: &ConvWeights,
    x: &[f32],
    [b, h, w]: [usize; 3],
    style: &[f32],
    epilogue: &Epilogue,
) -> (Vec<f32>, usize, usize) {
    let (cin, cout, kk) = (conv.cin, conv.cout, conv.k * conv.k);
    assert_eq!(x.len(), b * cin * h * w, "modulated conv input size");
    assert_eq!(style.len(), b * cin, "modulated conv style size");
    assert_eq!(
        conv.weight.len(),
        cout * cin * kk,
        "modulated conv weight size"
    );
    // Σ_t W[o, c, t]², for Σ_c s[c]² · that = Σ_{c,t} (W[o,c,t]·s[c])²
    // (both kept for the module's weights between calls: each is a pass over all of them)
    let key = conv.key.as_ref();
    let squared = (conv.demodulation == Demodulation::On).then(|| {
        cpu_weight_cache::values(key, Form::SquaredTaps, || squared_taps(conv.weight, kk))
    });
    // the upsampling product's left side: W as [(out, tap), in]
    let transposed = (conv.sampling == Sampling::Upsample2x).then(|| {
        cpu_weight_cache::values(key, Form::TapsByInput, || {
            taps_by_input(conv.weight, cout, cin, kk)
        })
    });
    // the same-size k×k product's filters, prepared once for every image (1×1: a plain product)
    let geometry = Geometry::same(h, w, conv.k);
    let convolver = (conv.sampling == Sampling::Same && kk != 1)
        .then(|| Convolver::new(&geometry, conv.weight, cout, conv.key.as_ref()));
    // the style scales the input (`in·h·w` products per image) or, where they are fewer, the
    // filters' input channels (`W·s`, as the reference's modulation does)
    let filter_values = match (&transposed, &convolver) {
        (Some(t), _) => t.len(),
        (None, Some(c)) => c.filter_values(),
        (None, None) => conv.weight.len(),
    };
    let scale_filters = filter_values < cin * h * w;
    let (oh, ow) = match (conv.sampling, conv.blur) {
        (Sampling::Upsample2x, Some(blur)) => {
            let full = Geometry::upsampling_adjoint(h, w, conv.k);
            (blur.out_len(full.h), blur.out_len(full.w))
        }
        _ => (h, w),
    };
    let n = oh * ow;
    let mut all = Vec::with_capacity(if b > 1 { b * cout * n } else { 0 });
    for (i, (image, s)) in x
        .chunks_exact(cin * h * w)
        .zip(style.chunks_exact(cin))
        .enumerate()
    {
        let mut out = match (scale_filters, &transposed) {
            (true, Some(t)) => upsampled(conv, &scale_input_channels(t, s, 1), image, h, w),
            (true, None) => match &convolver {
                Some(c) => same_size(conv, Some(&c.with_input_scale(s)), conv.weight, image),
                None => {
                    let pointwise = scale_input_channels(conv.weight, s, 1);
                    same_size(conv, None, &pointwise, image)
                }
            },
            (false, transposed) => {
                let scaled = scale_input_channels(image, s, h * w);
                match transposed {
                    Some(t) => upsampled(conv, t, &scaled, h, w),
                    None => same_size(conv, convolver.as_ref(), conv.weight, &scaled),
                }
            }
        };
        debug_assert_eq!(out.len(), cout * n);
        let demod: Option<Vec<f32>> = squared.as_ref().map(|q| demodulation_factors(q, s));
        let noise = epilogue.noise.map(|(maps, strength)| {
            let map = if maps.len() == n { 0 } else { i };
            (&maps[map * n..(map + 1) * n], strength)
        });
        out.par_chunks_exact_mut(n)
            .enumerate()
            .with_min_len((MIN_PARALLEL / n.max(1)).max(1))
            .for_each(|(o, row)| {
                let d = demod.as_ref().map_or(1.0, |d| d[o]);
                let bias = epilogue.bias[o];
                for (p, v) in row.iter_mut().enumerate() {
                    let mut y = *v * d;
                    if let Some((map, strength)) = noise {
                        y += map[p] * strength;
                    }
                    y += bias;
                    if epilogue.activation == Activation::LeakyReluGain {
                        y = leaky_relu_gain(y);
                    }
                    if let Some(c) = epilogue.clamp {
                        y = y.clamp(-c, c);
                    }
                    *v = y;
                }
            });
        if b == 1 {
            return (out, oh, ow);
        }
        all.extend_from_slice(&out);
    }
    (all, oh, ow)
}

/// `q[o, i] = Σ_t W[o, i, t]²` of weights `[out, in, taps]`: the weights' part of the
/// demodulation.
pub(super) fn squared_taps(weight: &[f32], taps: usize) -> Vec<f32> {
    weight
        .par_chunks_exact(taps)
        .with_min_len((MIN_PARALLEL / taps).max(1))
        .map(|t| t.iter().map(|v| v * v).sum())
        .collect()
}

/// One sample's demodulation factors `d[o] = 1/√(Σ_i q[o, i]·s[i]² + 1e-8)` from
/// `squared_taps` `q` `[out, in]` and its style `s` `[in]`.
pub(super) fn demodulation_factors(q: &[f32], s: &[f32]) -> Vec<f32> {
    q.chunks_exact(s.len())
        .map(|row| {
            let sum: f32 = row.iter().zip(s).map(|(q, v)| q * v * v).sum();
            1.0 / (sum + 1e-8).sqrt()
        })
        .collect()
}

/// A stride-1 convolution with padding `k/2` of one image `[in, n]` (already scaled, or
/// with scaled filters): `[out, n]`; `convolver` holds the prepared filters of a k×k
/// convolution, `None` for a 1×1 one (`pointwise` `[out, in]`: one plain product).
fn same_size(
    conv: &ConvWeights,
    convolver: Option<&Convolver>,
    pointwise: &[f32],
    input: &[f32],
) -> Vec<f32> {
    let n = input.len() / conv.cin;
    // every value written by the convolution or the product
    let mut out = unfilled(conv.cout * n);
    match convolver {
        Some(convolver) => convolver.run(input, &mut out),
        None => matmul(
            &mut out,
            [conv.cout, n, conv.cin],
            (pointwise, conv.cin, 1),
            (input, n, 1),
        ),
    }
    out
}

/// The stride-2 transposed convolution of one image `[in, h, w]` (already scaled, or with
/// scaled filters `transposed`), then the blur: `[out, h', w']`.
fn upsampled(
    conv: &ConvWeights,
    transposed: &[f32],
    input: &[f32],
    h: usize,
    w: usize,
) -> Vec<f32> {
    let full = Geometry::upsampling_adjoint(h, w, conv.k);
    let mut out = vec![0f32; conv.cout * full.h * full.w];
    full.transpose_convolve(input, transposed, conv.cout, &mut out);
    let blur = conv.blur.expect("the upsampling convolution has a blur");
    blur.apply(&out, full.h, full.w).0
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use crate::model::loader::tensor_to_vec;
    use crate::model::random_init::random_generator_store;
    use crate::model::{Generator, GeneratorConfig, NoiseMode};

    /// A whole synthesis through these kernels (CPU inference) against burn's ops (the same
    /// generator on the autodiff device, which keeps them): batch 2 with per-sample noise,
    /// every layer tapped, with and without the output clamp of NVIDIA's generators.
    #[test]
    fn a_synthesis_equals_burns_ops() {
        for clamp in [None, Some(0.5)] {
            let config = GeneratorConfig {
                conv_clamp: clamp,
                channels: vec![32, 24, 16, 8],
                ..GeneratorConfig::stylegan2(32, 64, 2, 1)
            };
            let store = random_generator_store(&config, 7);
            let cpu = Device::flex();
            let ours = Generator::load(&store, &cpu).unwrap();
            let burns = Generator::load(&store, &cpu.autodiff()).unwrap();
            let taps: Vec<usize> = (0..=config.num_layers()).collect();
            let run = |g: &Generator| {
                let wplus = g.seeded_wplus(3, 2, 1.0);
                let s = g
                    .synthesize(wplus, &NoiseMode::Random { seed: 5 }, None, &taps)
                    .unwrap();
                (
                    tensor_to_vec(s.image),
                    s.taps.into_iter().map(tensor_to_vec),
                )
            };
            let (a, a_taps) = run(&ours);
            let (b, b_taps) = run(&burns);
            let mut pairs = vec![(a, b)];
            pairs.extend(a_taps.zip(b_taps));
            for (a, b) in pairs {
                assert_eq!(a.len(), b.len());
                let worst = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(worst <= 1e-4, "max difference {worst} (clamp {clamp:?})");
            }
        }
    }
}

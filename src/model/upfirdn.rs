//! FIR filtering of StyleGAN2 (`upfirdn2d` with the [1,3,3,1] kernel): the blur after the
//! transposed convolution and the 2× upsampling of the RGB skip path, as depthwise
//! convolutions.

use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};

use super::loader::tensor_from_vec;

/// StyleGAN2's resampling filter (per axis) and its 2-D gain when upsampling by 2.
pub const FIR_TAPS: [f32; 4] = [1.0, 3.0, 3.0, 1.0];
pub const FIR_GAIN: f32 = 4.0;

/// The 2-D kernel `outer(k, k) / sum · gain`, as `[4, 4]` row-major values.
pub fn make_kernel(k1: &[f32], gain: f32) -> Vec<f32> {
    let sum: f32 = k1.iter().sum::<f32>().powi(2);
    k1.iter()
        .flat_map(|a| k1.iter().map(move |b| a * b / sum * gain))
        .collect()
}

/// The blur kernel, flipped for correlation (upfirdn2d is a true convolution),
/// as a depthwise weight `[channels, 1, n, n]`.
fn depthwise(kernel: &Tensor<2>, channels: usize, flip: bool) -> Tensor<4> {
    let [n, m] = kernel.dims();
    let k = if flip {
        kernel.clone().flip([0, 1])
    } else {
        kernel.clone()
    };
    k.reshape([1, 1, n, m]).expand([channels, 1, n, m])
}

/// `upfirdn2d(x, kernel, up=1, down=1, pad=(p0, p1))`.
pub fn blur(x: Tensor<4>, kernel: &Tensor<2>, pad: (usize, usize)) -> Tensor<4> {
    let c = x.dims()[1];
    conv2d(
        x,
        depthwise(kernel, c, true),
        None,
        ConvOptions::new_with_padding([1, 1], [pad, pad], [1, 1], c),
    )
}

/// `upfirdn2d(x, kernel, up=2, pad=(2, 1))` for a 4-tap kernel: zero insertion, padding and
/// true convolution are one stride-2 transposed convolution with padding 1.
pub fn upsample2x(x: Tensor<4>, kernel: &Tensor<2>) -> Tensor<4> {
    let c = x.dims()[1];
    conv_transpose2d(
        x,
        depthwise(kernel, c, false),
        None,
        ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], c),
    )
}

pub fn kernel_tensor(k1: &[f32], gain: f32, device: &Device) -> Tensor<2> {
    let n = k1.len();
    tensor_from_vec(make_kernel(k1, gain), [n, n], device)
}

//! Exact resampling of image tensors shared by the encoder's input pipeline and LPIPS.

use burn::tensor::Tensor;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

/// Bilinear ×0.5 with `align_corners = false` at an exact factor of two: the mean of each
/// top-left-aligned 2×2 block (a trailing odd row/column is dropped, as in PyTorch).
pub fn downscale_half(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(x, AvgPoolOptions::new([2, 2]))
}

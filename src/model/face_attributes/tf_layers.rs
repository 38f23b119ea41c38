//! The TensorFlow.js layers face-api's attribute networks are made of, in burn: convolutions
//! with TF's "same" padding (which pads one more row/column after than before when a stride-2
//! window does not fit evenly), depthwise-separable convolutions and "same" max pooling.
//! Filters come in TF's HWIO layout under face-api's names and are turned to OIHW here.

use burn::module::{Module, Param};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions, PadMode};
use burn::tensor::{Device, Tensor};

use crate::model::loader::tensor_from_vec;
use crate::weights::{TensorStore, WeightsError};

/// TF's "same" padding of one spatial axis: (before, after).
pub fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// `x` padded with `value` as TF's "same" padding does for a `kernel`/`stride` window.
fn pad_same(x: Tensor<4>, kernel: usize, stride: usize, value: f32) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let (top, bottom) = same_padding(h, kernel, stride);
    let (left, right) = same_padding(w, kernel, stride);
    if top + bottom + left + right == 0 {
        return x;
    }
    x.pad((left, right, top, bottom), PadMode::Constant(value))
}

/// A float tensor `key` whose shape has `rank` axes, with its shape.
fn read(st: &TensorStore, key: &str, rank: usize) -> Result<(Vec<f32>, Vec<usize>), WeightsError> {
    let shape = st.shape(key)?.to_vec();
    if shape.len() != rank {
        return Err(st.shape_error(key, format!("{rank} axes")));
    }
    Ok((st.f32(key, &shape)?, shape))
}

/// An HWIO filter `key` as an OIHW burn tensor.
fn filter(st: &TensorStore, key: &str, device: &Device) -> Result<Tensor<4>, WeightsError> {
    let (values, s) = read(st, key, 4)?;
    Ok(tensor_from_vec(values, [s[0], s[1], s[2], s[3]], device).permute([3, 2, 0, 1]))
}

/// A vector `key` of `len` values.
pub fn vector(
    st: &TensorStore,
    key: &str,
    len: usize,
    device: &Device,
) -> Result<Param<Tensor<1>>, WeightsError> {
    Ok(Param::from_tensor(tensor_from_vec(
        st.f32(key, &[len])?,
        [len],
        device,
    )))
}

/// A full convolution with bias (`<prefix>/filters`, `<prefix>/bias`), "same" padding.
#[derive(Module, Debug)]
pub struct Conv {
    /// OIHW.
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub stride: usize,
}

impl Conv {
    pub fn load(
        st: &TensorStore,
        prefix: &str,
        stride: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let weight = filter(st, &format!("{prefix}/filters"), device)?;
        let out = weight.dims()[0];
        Ok(Self {
            weight: Param::from_tensor(weight),
            bias: vector(st, &format!("{prefix}/bias"), out, device)?,
            stride,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.weight.dims()[2];
        let s = self.stride;
        conv2d(
            pad_same(x, k, s, 0.0),
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new([s, s], [0, 0], [1, 1], 1),
        )
    }
}

/// A depthwise convolution (one filter per channel, "same" padding, the stride) followed by a
/// 1×1 pointwise one and a bias: `<prefix>/depthwise_filter`, `pointwise_filter`, `bias`.
#[derive(Module, Debug)]
pub struct SeparableConv {
    /// `[C, 1, k, k]`.
    pub depthwise: Param<Tensor<4>>,
    /// `[out, C, 1, 1]`.
    pub pointwise: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub stride: usize,
}

impl SeparableConv {
    pub fn load(
        st: &TensorStore,
        prefix: &str,
        stride: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let key = format!("{prefix}/depthwise_filter");
        let (values, s) = read(st, &key, 4)?;
        if s[3] != 1 {
            return Err(st.shape_error(&key, "[k, k, channels, 1]"));
        }
        // HW C 1 → C 1 H W
        let depthwise =
            tensor_from_vec(values, [s[0], s[1], s[2], 1], device).permute([2, 3, 0, 1]);
        let pointwise = filter(st, &format!("{prefix}/pointwise_filter"), device)?;
        let [out, cin, _, _] = pointwise.dims();
        if cin != s[2] {
            return Err(st.shape_error(
                &format!("{prefix}/pointwise_filter"),
                format!("[1, 1, {}, out]", s[2]),
            ));
        }
        Ok(Self {
            depthwise: Param::from_tensor(depthwise),
            pointwise: Param::from_tensor(pointwise),
            bias: vector(st, &format!("{prefix}/bias"), out, device)?,
            stride,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [c, _, k, _] = self.depthwise.dims();
        let s = self.stride;
        let depthwise = conv2d(
            pad_same(x, k, s, 0.0),
            self.depthwise.val(),
            None,
            ConvOptions::new([s, s], [0, 0], [1, 1], c),
        );
        conv2d(
            depthwise,
            self.pointwise.val(),
            Some(self.bias.val()),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        )
    }
}

/// 3×3 max pooling with stride 2 and TF's "same" padding (padding never wins the max).
pub fn max_pool_same(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(
        pad_same(x, 3, 2, f32::NEG_INFINITY),
        MaxPoolOptions::new([3, 3]).with_stride([2, 2]),
    )
}

/// A fully connected layer `<prefix>/weights` `[in, out]` + `<prefix>/bias`.
#[derive(Module, Debug)]
pub struct Dense {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    pub fn load(
        st: &TensorStore,
        prefix: &str,
        shape: [usize; 2],
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let key = format!("{prefix}/weights");
        Ok(Self {
            weight: Param::from_tensor(tensor_from_vec(st.f32(&key, &shape)?, shape, device)),
            bias: vector(st, &format!("{prefix}/bias"), shape[1], device)?,
        })
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let out = self.bias.dims()[0];
        x.matmul(self.weight.val()) + self.bias.val().reshape([1, out])
    }
}

#[cfg(test)]
mod tests {
    use super::same_padding;

    #[test]
    fn same_padding_is_tensorflows() {
        // TF pads the extra row after: 112 with a 3×3 window at stride 2 → 56 outputs.
        assert_eq!(same_padding(112, 3, 2), (0, 1));
        assert_eq!(same_padding(7, 3, 2), (1, 1));
        assert_eq!(same_padding(14, 3, 1), (1, 1));
        assert_eq!(same_padding(112, 1, 2), (0, 0));
    }
}

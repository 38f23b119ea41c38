//! The face-recognition network of face-api (a dlib-style ResNet: 7×7/2 stem, max-pool, four
//! residual stages down to 256 channels, global average, 256→128 projection): a 128-d identity
//! embedding of a 150² face. Weights keep face-api's names (`conv64_down/conv1/conv/filters`,
//! filters in TF.js HWIO layout, turned to OIHW here).

use burn::module::{Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, conv2d, interpolate, max_pool2d};
use burn::tensor::ops::{
    AvgPoolOptions, ConvOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions,
};
use burn::tensor::{Device, Tensor};

use super::loader::tensor_from_vec;
use super::unit_feature_distance::unit_feature_distance;
use crate::weights::{TensorStore, WeightsError};

/// Input side of the network.
pub const FACE_ID_SIDE: usize = 150;
/// The tight face box inside an FFHQ-aligned crop (fractions of its side): brow to chin.
pub const FACE_BOX: [f32; 4] = [0.22, 0.26, 0.78, 0.86];
/// face-api's dataset mean (RGB, 0–255), subtracted from every input of its networks.
pub const FACE_API_MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// Convolution + bias + per-channel affine "scale" layer (+ ReLU where used).
#[derive(Module, Debug)]
pub struct ScaledConv {
    /// OIHW.
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    pub scale: Param<Tensor<1>>,
    pub shift: Param<Tensor<1>>,
    #[module(skip)]
    pub stride: usize,
}

impl ScaledConv {
    fn load(
        st: &TensorStore,
        prefix: &str,
        stride: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let key = |n: &str| format!("{prefix}/{n}");
        let filters = key("conv/filters");
        let shape = st.shape(&filters)?.to_vec();
        let [kh, kw, cin, cout]: [usize; 4] = shape
            .try_into()
            .map_err(|_| st.shape_error(&filters, "[kh, kw, in, out]"))?;
        let hwio = tensor_from_vec(
            st.f32(&filters, &[kh, kw, cin, cout])?,
            [kh, kw, cin, cout],
            device,
        );
        let vec1 = |n: &str| -> Result<Param<Tensor<1>>, WeightsError> {
            Ok(Param::from_tensor(tensor_from_vec(
                st.f32(&key(n), &[cout])?,
                [cout],
                device,
            )))
        };
        Ok(Self {
            weight: Param::from_tensor(hwio.permute([3, 2, 0, 1])),
            bias: vec1("conv/bias")?,
            scale: vec1("scale/weights")?,
            shift: vec1("scale/biases")?,
            stride,
        })
    }

    /// Stride 1 pads like TF's "same" (odd kernels); stride 2 is "valid".
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [c, _, k, _] = self.weight.dims();
        let pad = if self.stride == 1 { k / 2 } else { 0 };
        let s = self.stride;
        let y = conv2d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new([s, s], [pad, pad], [1, 1], 1),
        );
        y * self.scale.val().reshape([1, c, 1, 1]) + self.shift.val().reshape([1, c, 1, 1])
    }
}

#[derive(Module, Debug)]
pub struct Residual {
    pub conv1: ScaledConv,
    pub conv2: ScaledConv,
}

impl Residual {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = self.conv2.forward(relu(self.conv1.forward(x.clone())));
        if self.conv1.stride == 1 {
            return relu(out + x);
        }
        // Downsampling block: the shortcut is 2×2-average-pooled and zero-extended to the
        // output's channels; the output gets a zero row/column when the pooled map is larger.
        let mut pooled = avg_pool2d(x, AvgPoolOptions::new([2, 2]));
        let mut out = out;
        let [b, c, h, w] = out.dims();
        let [_, pc, ph, pw] = pooled.dims();
        if ph != h || pw != w {
            let device = out.device();
            out = Tensor::cat(vec![out, Tensor::zeros([b, c, ph - h, w], &device)], 2);
            out = Tensor::cat(
                vec![out.clone(), Tensor::zeros([b, c, ph, pw - w], &device)],
                3,
            );
        }
        if pc != c {
            let device = pooled.device();
            pooled = Tensor::cat(vec![pooled, Tensor::zeros([b, c - pc, ph, pw], &device)], 1);
        }
        relu(pooled + out)
    }
}

#[derive(Module, Debug)]
pub struct FaceIdNet {
    pub stem: ScaledConv,
    pub blocks: Vec<Residual>,
    /// `[256, 128]`.
    pub fc: Param<Tensor<2>>,
}

/// Indices into `FaceIdNet::blocks` of the last block of each stage (32, 64, 128, 256
/// channels; the last is the down-sampling output block).
const STAGE_ENDS: [usize; 4] = [2, 6, 9, 13];

const BLOCKS: [(&str, usize); 13] = [
    ("conv32_1", 1),
    ("conv32_2", 1),
    ("conv32_3", 1),
    ("conv64_down", 2),
    ("conv64_1", 1),
    ("conv64_2", 1),
    ("conv64_3", 1),
    ("conv128_down", 2),
    ("conv128_1", 1),
    ("conv128_2", 1),
    ("conv256_down", 2),
    ("conv256_1", 1),
    ("conv256_2", 1),
];

impl FaceIdNet {
    pub fn load(st: &TensorStore, device: &Device) -> Result<Self, WeightsError> {
        let mut blocks = BLOCKS
            .iter()
            .map(|&(name, stride)| {
                Ok(Residual {
                    conv1: ScaledConv::load(st, &format!("{name}/conv1"), stride, device)?,
                    conv2: ScaledConv::load(st, &format!("{name}/conv2"), 1, device)?,
                })
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        blocks.push(Residual {
            conv1: ScaledConv::load(st, "conv256_down_out/conv1", 2, device)?,
            conv2: ScaledConv::load(st, "conv256_down_out/conv2", 1, device)?,
        });
        Ok(Self {
            stem: ScaledConv::load(st, "conv32_down", 2, device)?,
            blocks,
            fc: Param::from_tensor(tensor_from_vec(
                st.f32("fc", &[256, 128])?,
                [256, 128],
                device,
            )),
        })
    }

    /// The output of each stage (32, 64, 128, 256 channels) for `[B, 3, 150, 150]` RGB faces
    /// with values in [0, 255].
    pub fn stage_features(&self, faces: Tensor<4>) -> Vec<Tensor<4>> {
        let device = faces.device();
        let mean = tensor_from_vec(FACE_API_MEAN_RGB.to_vec(), [1, 3, 1, 1], &device);
        let x = (faces - mean).div_scalar(255.0);
        let x = relu(self.stem.forward(x));
        let mut x = max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]));
        let mut out = Vec::with_capacity(STAGE_ENDS.len());
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if STAGE_ENDS.contains(&i) {
                out.push(x.clone());
            }
        }
        out
    }

    /// 128-d embeddings of `[B, 3, 150, 150]` RGB faces with values in [0, 255].
    pub fn embed(&self, faces: Tensor<4>) -> Tensor<2> {
        let x = self
            .stage_features(faces)
            .pop()
            .expect("the network has four stages");
        let [b, c, _, _] = x.dims();
        x.mean_dims(&[2, 3]).reshape([b, c]).matmul(self.fc.val())
    }

    /// LPIPS-style distance per sample `[B]` between the stage features of the face regions of
    /// two batches of FFHQ-aligned images in [-1, 1] (a perceptual distance for PTI).
    pub fn distance(&self, x0: Tensor<4>, x1: Tensor<4>) -> Tensor<1> {
        unit_feature_distance(
            self.stage_features(face_region(x0)),
            self.stage_features(face_region(x1)),
        )
    }
}

/// The face box of FFHQ-aligned `[B, 3, H, W]` images in [-1, 1], resized (bilinear) to the
/// network's input as RGB in [0, 255]; cut at the same pixels as `face::IdentityNet`'s crop.
pub fn face_region(images: Tensor<4>) -> Tensor<4> {
    face_box_crop(images, FACE_ID_SIDE)
}

/// The face box of FFHQ-aligned `[B, 3, H, W]` images in [-1, 1] as `side`² RGB in [0, 255]
/// (bilinear), the input face-api's networks expect. Images above 256 px are first averaged
/// down by an integer factor (1024 → 256), so that bilinear resampling does not alias.
pub fn face_box_crop(images: Tensor<4>, side: usize) -> Tensor<4> {
    let [_, _, h, w] = images.dims();
    let factor = h / 256;
    let images = if factor >= 2 && h % factor == 0 && w % factor == 0 {
        avg_pool2d(images, AvgPoolOptions::new([factor, factor]))
    } else {
        images
    };
    let [b, c, h, w] = images.dims();
    let [x0, y0, x1, y1] = FACE_BOX;
    let (left, top) = ((x0 * w as f32) as usize, (y0 * h as f32) as usize);
    let (width, height) = (
        ((x1 - x0) * w as f32) as usize,
        ((y1 - y0) * h as f32) as usize,
    );
    let crop = images.slice([0..b, 0..c, top..top + height, left..left + width]);
    interpolate(
        crop,
        InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([side, side]),
    )
    .add_scalar(1.0)
    .mul_scalar(127.5)
}

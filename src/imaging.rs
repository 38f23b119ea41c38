//! Conversions between model tensors (`[B,3,H,W]`, nominally [-1,1]) and 8-bit images.

use burn::tensor::Tensor;

use crate::model::loader::tensor_to_vec;

/// `[-1,1]` → `[0,255]` with rounding and clamping, one RGB image per batch entry.
pub fn tensor_to_rgb_images(images: Tensor<4>) -> Vec<image::RgbImage> {
    let [b, c, h, w] = images.dims();
    assert_eq!(c, 3, "RGB tensor expected");
    let values = tensor_to_vec(images);
    (0..b)
        .map(|i| {
            let plane = |ch: usize, y: usize, x: usize| values[((i * 3 + ch) * h + y) * w + x];
            image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let px = |ch| {
                    ((plane(ch, y as usize, x as usize) + 1.0) * 127.5 + 0.5).clamp(0.0, 255.0)
                        as u8
                };
                image::Rgb([px(0), px(1), px(2)])
            })
        })
        .collect()
}

/// Lays out images in a grid of `columns` (for contact sheets).
pub fn grid(images: &[image::RgbImage], columns: usize) -> image::RgbImage {
    let (w, h) = images.first().map(|i| i.dimensions()).unwrap_or((1, 1));
    let columns = columns.clamp(1, images.len().max(1));
    let rows = images.len().div_ceil(columns);
    let mut out = image::RgbImage::new(w * columns as u32, h * rows as u32);
    for (i, img) in images.iter().enumerate() {
        let (x, y) = ((i % columns) as u32 * w, (i / columns) as u32 * h);
        image::imageops::replace(&mut out, img, x as i64, y as i64);
    }
    out
}

/// Smallest photo side we accept.
pub const MIN_SIDE: u32 = 64;
/// Photos with a longer side are reduced before anything else.
pub const MAX_SIDE: u32 = 8192;

/// Why a photo could not be used; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "{path}: {width}×{height} is too small (at least {MIN_SIDE}×{MIN_SIDE} pixels are needed)"
    )]
    TooSmall {
        path: String,
        width: u32,
        height: u32,
    },
}

/// Largest photo we decode (a 100-megapixel camera fits).
pub const MAX_PIXELS: u64 = 100_000_000;
/// Most memory one decode may allocate (a 100-MP photo at 16 bits per channel with alpha).
const MAX_DECODE_BYTES: u64 = 8 * MAX_PIXELS + (64 << 20);

/// Loads any common image (grey, CMYK JPEG, 16-bit, alpha …) as 8-bit RGB. Alpha is composited
/// on white; huge images are first reduced so their long side is at most [`MAX_SIDE`].
/// The declared size is checked before decoding (at most [`MAX_PIXELS`]), the decoder's
/// allocations are capped, and no full-size float copy is made.
pub fn load_photo(path: &std::path::Path) -> Result<image::RgbImage, PhotoError> {
    let name = path.display().to_string();
    // Decoder messages may span lines; the report is one line.
    let unreadable = |reason: String| PhotoError::Unreadable {
        path: name.clone(),
        reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let open = || {
        image::ImageReader::open(path)
            .map_err(|e| unreadable(e.to_string()))?
            .with_guessed_format()
            .map_err(|e| unreadable(e.to_string()))
    };
    let (w, h) = open()?
        .into_dimensions()
        .map_err(|e| unreadable(format!("cannot decode image: {e}")))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(unreadable(format!(
            "image of {w}×{h} exceeds the {}-megapixel limit",
            MAX_PIXELS / 1_000_000
        )));
    }
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(PhotoError::TooSmall {
            path: name,
            width: w,
            height: h,
        });
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| unreadable(format!("cannot decode image: {e}")))?;
    let img = if img.width().max(img.height()) > MAX_SIDE {
        // integer area averaging: no float copy of the full-size photo
        img.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        img
    };
    if !img.color().has_alpha() {
        return Ok(img.into_rgb8());
    }
    let rgba = img.into_rgba8();
    Ok(image::RgbImage::from_fn(
        rgba.width(),
        rgba.height(),
        |x, y| {
            let [r, g, b, a] = rgba.get_pixel(x, y).0;
            let over_white =
                |c: u8| ((c as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8;
            image::Rgb([over_white(r), over_white(g), over_white(b)])
        },
    ))
}

/// The centred square crop resized to `side` (a stand-in until face alignment exists).
pub fn center_square(img: &image::RgbImage, side: u32) -> image::RgbImage {
    let s = img.width().min(img.height());
    let (x, y) = ((img.width() - s) / 2, (img.height() - s) / 2);
    let crop = image::imageops::crop_imm(img, x, y, s, s).to_image();
    if s == side {
        crop
    } else {
        image::imageops::resize(&crop, side, side, image::imageops::FilterType::Triangle)
    }
}

/// RGB images (same size) → `[B,3,H,W]` in [-1,1] (`ToTensor` then `Normalize(0.5, 0.5)`).
pub fn rgb_images_to_tensor(
    images: &[image::RgbImage],
    device: &burn::tensor::Device,
) -> Tensor<4> {
    nchw_tensor(images, device, |v| v as f32 / 127.5 - 1.0)
}

/// Same-sized RGB images as a `[B, 3, H, W]` tensor of their values in [0, 255] (the input
/// of face-api's networks).
pub fn rgb_images_to_tensor_255(
    images: &[image::RgbImage],
    device: &burn::tensor::Device,
) -> Tensor<4> {
    nchw_tensor(images, device, |v| v as f32)
}

/// `[B, 3, H, W]` of `value(channel byte)` for same-sized images.
fn nchw_tensor(
    images: &[image::RgbImage],
    device: &burn::tensor::Device,
    value: impl Fn(u8) -> f32,
) -> Tensor<4> {
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut values = vec![0f32; images.len() * 3 * h * w];
    for (i, img) in images.iter().enumerate() {
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                values[((i * 3 + c) * h + y as usize) * w + x as usize] = value(p.0[c]);
            }
        }
    }
    crate::model::loader::tensor_from_vec(values, [images.len(), 3, h, w], device)
}

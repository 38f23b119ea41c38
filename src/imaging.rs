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

/// Loads any common image (grey, CMYK JPEG, 16-bit, alpha …) as 8-bit RGB. Alpha is composited
/// on white; huge images are first reduced so their long side is at most [`MAX_SIDE`].
pub fn load_photo(path: &std::path::Path) -> Result<image::RgbImage, PhotoError> {
    let name = path.display().to_string();
    // Decoder messages may span lines; the report is one line.
    let unreadable = |reason: String| PhotoError::Unreadable {
        path: name.clone(),
        reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let reader = image::ImageReader::open(path)
        .map_err(|e| unreadable(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let img = reader
        .decode()
        .map_err(|e| unreadable(format!("cannot decode image: {e}")))?;
    let (w, h) = (img.width(), img.height());
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(PhotoError::TooSmall {
            path: name,
            width: w,
            height: h,
        });
    }
    let img = if w.max(h) > MAX_SIDE {
        img.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let rgba = img.to_rgba32f();
    Ok(image::RgbImage::from_fn(
        rgba.width(),
        rgba.height(),
        |x, y| {
            let p = rgba.get_pixel(x, y).0;
            let c = |v: f32| ((v * p[3] + (1.0 - p[3])) * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
            image::Rgb([c(p[0]), c(p[1]), c(p[2])])
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
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut values = vec![0f32; images.len() * 3 * h * w];
    for (i, img) in images.iter().enumerate() {
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                values[((i * 3 + c) * h + y as usize) * w + x as usize] =
                    p.0[c] as f32 / 127.5 - 1.0;
            }
        }
    }
    crate::model::loader::tensor_from_vec(values, [images.len(), 3, h, w], device)
}

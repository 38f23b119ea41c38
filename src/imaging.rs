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
                let px = |ch| ((plane(ch, y as usize, x as usize) + 1.0) * 127.5 + 0.5).clamp(0.0, 255.0) as u8;
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

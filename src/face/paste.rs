//! Paste-back: the edited aligned face warped into the original photo under a feathered mask,
//! so an export is the user's whole photo with the edited face.

use image::RgbImage;

use super::align::{Quad, sample};

/// Fraction of the crop side over which the mask fades out at the square's edges.
const FEATHER: f32 = 0.12;

/// `face` (the aligned crop, any size) blended into a copy of `photo` at `quad`.
pub fn paste_back(photo: &RgbImage, face: &RgbImage, quad: &Quad) -> RgbImage {
    let mut out = photo.clone();
    let size = face.width() as f32;
    let xs = quad.0.map(|p| p[0]);
    let ys = quad.0.map(|p| p[1]);
    let x0 = xs.iter().cloned().fold(f32::MAX, f32::min).floor().max(0.0) as u32;
    let y0 = ys.iter().cloned().fold(f32::MAX, f32::min).floor().max(0.0) as u32;
    let x1 = (xs.iter().cloned().fold(f32::MIN, f32::max).ceil() as u32).min(photo.width());
    let y1 = (ys.iter().cloned().fold(f32::MIN, f32::max).ceil() as u32).min(photo.height());
    for y in y0..y1 {
        for x in x0..x1 {
            let [u, v] = quad.to_crop([x as f32 + 0.5, y as f32 + 0.5], size);
            let edge = (u.min(v).min(size - u).min(size - v)) / size;
            if edge <= 0.0 {
                continue;
            }
            let alpha = (edge / FEATHER).clamp(0.0, 1.0);
            let alpha = alpha * alpha * (3.0 - 2.0 * alpha);
            let f = sample(face, u, v);
            let p = out.get_pixel_mut(x, y);
            for (dst, src) in p.0.iter_mut().zip(f) {
                *dst = (*dst as f32 * (1.0 - alpha) + src * alpha)
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

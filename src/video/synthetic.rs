//! A test clip made from one photo: the face moved along a smooth path with small turns and
//! zoom, plus per-frame pixel noise (what tests and `bench video` run on; no video file is
//! shipped).

use image::RgbImage;
use rand::{Rng, SeedableRng};

use super::Clip;
use crate::face::align::sample;

/// `frames` frames of `width`×`height` at `fps`: `photo` (an FFHQ-like portrait) turned by up
/// to 4°, zoomed by up to 8 % and moved along a loop, sampled bilinearly, with noise of
/// ±12 levels (triangular) per pixel and channel, seeded.
pub fn moving_face(
    photo: &RgbImage,
    frames: usize,
    (width, height): (u32, u32),
    fps: f32,
    seed: u64,
) -> Clip {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // the photo's face fills about a third of the frame height
    let base_scale = height as f32 / photo.height() as f32 * 0.75;
    let photo_centre = [photo.width() as f32 / 2.0, photo.height() as f32 * 0.56];
    let frames = (0..frames)
        .map(|i| {
            let t = i as f32 / frames.max(1) as f32 * std::f32::consts::TAU;
            let angle = 4f32.to_radians() * t.sin();
            let scale = base_scale * (1.0 + 0.08 * (0.5 * t).sin());
            let centre = [
                width as f32 / 2.0 + 0.05 * width as f32 * t.cos(),
                height as f32 / 2.0 + 0.03 * height as f32 * t.sin(),
            ];
            let (c, s) = (angle.cos(), angle.sin());
            RgbImage::from_fn(width, height, |x, y| {
                let (dx, dy) = (x as f32 - centre[0], y as f32 - centre[1]);
                let px = photo_centre[0] + (c * dx + s * dy) / scale;
                let py = photo_centre[1] + (-s * dx + c * dy) / scale;
                let v = sample(photo, px, py);
                let mut noisy = |v: f32| {
                    let n = (rng.random::<f32>() + rng.random::<f32>() - 1.0) * 12.0;
                    (v + n).round().clamp(0.0, 255.0) as u8
                };
                image::Rgb([noisy(v[0]), noisy(v[1]), noisy(v[2])])
            })
        })
        .collect();
    Clip { frames, fps }
}

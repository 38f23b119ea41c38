//! FFHQ alignment from five landmarks: the oriented crop square of the FFHQ procedure (eye-to-eye
//! and eye-to-mouth vectors, 2× eye distance or 1.8× eye-mouth distance, centre slightly below the
//! eyes), pre-shrinking of large photos, reflection padding blended toward a blurred copy where
//! the square leaves the photo, and resampling to the model's resolution. The transform is kept
//! so an edited face can be pasted back (see `paste.rs`).

use image::RgbImage;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

type P = [f32; 2];

fn add(a: P, b: P) -> P {
    [a[0] + b[0], a[1] + b[1]]
}
fn sub(a: P, b: P) -> P {
    [a[0] - b[0], a[1] - b[1]]
}
fn mul(a: P, s: f32) -> P {
    [a[0] * s, a[1] * s]
}
fn len(a: P) -> f32 {
    a[0].hypot(a[1])
}

/// The crop square in photo pixels: corners top-left, bottom-left, bottom-right, top-right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quad(pub [P; 4]);

impl Quad {
    /// FFHQ's square from eyes (0, 1) and mouth corners (3, 4).
    pub fn ffhq(landmarks: &[P; 5]) -> Quad {
        let eye_avg = mul(add(landmarks[0], landmarks[1]), 0.5);
        let eye_to_eye = sub(landmarks[1], landmarks[0]);
        let mouth_avg = mul(add(landmarks[3], landmarks[4]), 0.5);
        let eye_to_mouth = sub(mouth_avg, eye_avg);
        // x: the eye line corrected by the eye-mouth line turned by 90°.
        let x = [
            eye_to_eye[0] + eye_to_mouth[1],
            eye_to_eye[1] - eye_to_mouth[0],
        ];
        let x = mul(x, 1.0 / len(x).max(1e-6));
        let x = mul(x, (len(eye_to_eye) * 2.0).max(len(eye_to_mouth) * 1.8));
        let y = [-x[1], x[0]];
        let c = add(eye_avg, mul(eye_to_mouth, 0.1));
        Quad([
            sub(sub(c, x), y),
            add(sub(c, x), y),
            add(add(c, x), y),
            sub(add(c, x), y),
        ])
    }

    /// Whether this can be a crop square of a `width`×`height` photo (finite corners within
    /// the photo's reach, a side of at least one pixel): stored squares are checked before use.
    pub fn fits_photo(&self, width: u32, height: u32) -> bool {
        let reach = 4.0 * width.max(height) as f32;
        self.0
            .iter()
            .all(|p| p.iter().all(|c| c.is_finite() && c.abs() <= reach))
            && self.side() >= 1.0
    }

    /// The side of the square.
    pub fn side(&self) -> f32 {
        len(sub(self.0[3], self.0[0]))
    }

    fn scaled(&self, s: f32) -> Quad {
        Quad(self.0.map(|p| mul(p, s)))
    }

    fn shifted(&self, d: P) -> Quad {
        Quad(self.0.map(|p| add(p, d)))
    }

    /// Photo position of output pixel centre (u, v) of a `size`² crop.
    pub fn to_photo(&self, u: f32, v: f32, size: f32) -> P {
        let q = &self.0;
        add(
            add(q[0], mul(sub(q[3], q[0]), u / size)),
            mul(sub(q[1], q[0]), v / size),
        )
    }

    /// Crop coordinates (u, v) of a photo position (inverse of [`Quad::to_photo`]).
    pub fn to_crop(&self, p: P, size: f32) -> P {
        let q = &self.0;
        let (ex, ey) = (sub(q[3], q[0]), sub(q[1], q[0]));
        let d = sub(p, q[0]);
        let det = ex[0] * ey[1] - ex[1] * ey[0];
        let u = (d[0] * ey[1] - d[1] * ey[0]) / det;
        let v = (ex[0] * d[1] - ex[1] * d[0]) / det;
        [u * size, v * size]
    }
}

/// Bilinear sample at continuous pixel coordinates (pixel centres at +0.5), clamped at borders.
pub fn sample(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (fx, fy) = (x - 0.5, y - 0.5);
    let (x0, y0) = (fx.floor() as i64, fy.floor() as i64);
    let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
    let px = |xx: i64, yy: i64| {
        img.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32)
            .0
    };
    let mut out = [0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = px(x0, y0)[c] as f32 * (1.0 - ax) + px(x0 + 1, y0)[c] as f32 * ax;
        let bottom = px(x0, y0 + 1)[c] as f32 * (1.0 - ax) + px(x0 + 1, y0 + 1)[c] as f32 * ax;
        *o = top * (1.0 - ay) + bottom * ay;
    }
    out
}

/// Bilinear sample with the photo continued by reflection beyond its borders.
fn sample_reflect(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let reflect = |v: f32, n: f32| {
        let period = 2.0 * n;
        let m = v.rem_euclid(period);
        if m < n { m } else { period - m }
    };
    sample(img, reflect(x, w), reflect(y, h))
}

/// Three box blurs of radius `r` (≈ a Gaussian of σ ≈ r), per channel.
fn blur(img: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut a = img.to_vec();
    let mut b = vec![0f32; a.len()];
    for _ in 0..3 {
        for pass in 0..2 {
            let (n_lines, n, step_line, step) = if pass == 0 {
                (h, w, w * 3, 3)
            } else {
                (w, h, 3, w * 3)
            };
            for line in 0..n_lines {
                for c in 0..3 {
                    let at = |i: usize| line * step_line + i * step + c;
                    let mut acc = 0f32;
                    let win = |i: i64| a[at(i.clamp(0, n as i64 - 1) as usize)];
                    for i in -(r as i64)..=(r as i64) {
                        acc += win(i);
                    }
                    for i in 0..n {
                        b[at(i)] = acc / (2 * r + 1) as f32;
                        acc += win(i as i64 + r as i64 + 1) - win(i as i64 - r as i64);
                    }
                }
            }
            std::mem::swap(&mut a, &mut b);
        }
    }
    a
}

/// An aligned crop and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aligned {
    /// The crop square in the photo's pixels.
    pub quad: Quad,
    pub size: u32,
    #[serde(skip)]
    pub image: RgbImage,
}

/// Crops `photo` to `quad`, resampled to `size`², as FFHQ does.
pub fn align(photo: &RgbImage, quad: Quad, size: u32) -> Aligned {
    let original_quad = quad;
    let mut quad = quad;
    // 1. Shrink large photos so the square is at most about twice the output.
    let shrink = (quad.side() / size as f32 * 0.5).floor() as u32;
    let mut img = if shrink > 1 {
        quad = quad.scaled(1.0 / shrink as f32);
        image::imageops::resize(
            photo,
            (photo.width() / shrink).max(1),
            (photo.height() / shrink).max(1),
            FilterType::Triangle,
        )
    } else {
        photo.clone()
    };
    let qsize = quad.side();
    // 2. Crop to the square's bounds plus a border.
    let border = ((qsize * 0.1).round() as i64).max(3);
    let xs = quad.0.map(|p| p[0]);
    let ys = quad.0.map(|p| p[1]);
    let (min_x, max_x) = (
        xs.iter().cloned().fold(f32::MAX, f32::min),
        xs.iter().cloned().fold(f32::MIN, f32::max),
    );
    let (min_y, max_y) = (
        ys.iter().cloned().fold(f32::MAX, f32::min),
        ys.iter().cloned().fold(f32::MIN, f32::max),
    );
    let (w, h) = (img.width() as i64, img.height() as i64);
    let cx0 = (min_x.floor() as i64 - border).max(0);
    let cy0 = (min_y.floor() as i64 - border).max(0);
    let cx1 = (max_x.ceil() as i64 + border).min(w);
    let cy1 = (max_y.ceil() as i64 + border).min(h);
    if cx1 - cx0 < w || cy1 - cy0 < h {
        img = image::imageops::crop_imm(
            &img,
            cx0 as u32,
            cy0 as u32,
            (cx1 - cx0).max(1) as u32,
            (cy1 - cy0).max(1) as u32,
        )
        .to_image();
        quad = quad.shifted([-(cx0 as f32), -(cy0 as f32)]);
    }
    // 3. Where the square leaves the photo, the photo is continued by reflection and blended
    //    toward a blurred copy and its median colour (FFHQ's padding), evaluated per output
    //    sample; the blur runs on a reduced copy of the padded photo.
    let (w, h) = (img.width() as i64, img.height() as i64);
    let xs = quad.0.map(|p| p[0]);
    let ys = quad.0.map(|p| p[1]);
    let pad = [
        (-(xs.iter().cloned().fold(f32::MAX, f32::min).floor() as i64) + border).max(0),
        (-(ys.iter().cloned().fold(f32::MAX, f32::min).floor() as i64) + border).max(0),
        (xs.iter().cloned().fold(f32::MIN, f32::max).ceil() as i64 - w + border).max(0),
        (ys.iter().cloned().fold(f32::MIN, f32::max).ceil() as i64 - h + border).max(0),
    ];
    let padding = pad.iter().any(|&p| p > border - 4).then(|| {
        let extra = (qsize * 0.3).round() as i64;
        let pad = pad.map(|p| p.max(extra));
        let (pw, ph) = ((w + pad[0] + pad[2]) as f32, (h + pad[1] + pad[3]) as f32);
        // The blurred padded photo at reduced resolution (the blur hides the reduction).
        let k = ((qsize * 0.02) / 4.0).max(1.0);
        let (sw, sh) = ((pw / k).ceil() as usize, (ph / k).ceil() as usize);
        let mut small = vec![0f32; sw * sh * 3];
        for yy in 0..sh {
            for xx in 0..sw {
                let (px, py) = (
                    (xx as f32 + 0.5) * k - pad[0] as f32,
                    (yy as f32 + 0.5) * k - pad[1] as f32,
                );
                let v = sample_reflect(&img, px, py);
                small[(yy * sw + xx) * 3..(yy * sw + xx) * 3 + 3].copy_from_slice(&v);
            }
        }
        let blurred = blur(&small, sw, sh, ((qsize * 0.02 / k).round() as usize).max(1));
        let blurred = RgbImage::from_fn(sw as u32, sh as u32, |x, y| {
            let i = (y as usize * sw + x as usize) * 3;
            image::Rgb([0, 1, 2].map(|c| blurred[i + c].round().clamp(0.0, 255.0) as u8))
        });
        // Per-channel median from histograms.
        let mut hist = [[0usize; 256]; 3];
        for p in img.pixels() {
            for (h, v) in hist.iter_mut().zip(p.0) {
                h[v as usize] += 1;
            }
        }
        let half = (img.width() * img.height()) as usize / 2;
        let median = hist.map(|h| {
            let mut acc = 0;
            h.iter()
                .position(|&n| {
                    acc += n;
                    acc > half
                })
                .unwrap_or(0) as f32
        });
        (pad.map(|p| p as f32), pw, ph, k, blurred, median)
    });
    // 4. Resample the square at twice the output size, then reduce (anti-aliased).
    let big = size * 2;
    let shade = |u: u32, v: u32| {
        let [x, y] = quad.to_photo(u as f32 + 0.5, v as f32 + 0.5, big as f32);
        let mut px = sample_reflect(&img, x, y);
        if let Some((pad, pw, ph, k, blurred, median)) = &padding {
            // Padded-photo coordinates, then FFHQ's mask (negative inside the photo).
            let (xp, yp) = (x + pad[0], y + pad[1]);
            let mx = 1.0 - (xp / pad[0].max(1.0)).min((pw - 1.0 - xp) / pad[2].max(1.0));
            let my = 1.0 - (yp / pad[1].max(1.0)).min((ph - 1.0 - yp) / pad[3].max(1.0));
            let mask = mx.max(my);
            if mask > -1.0 / 3.0 {
                let b = sample(blurred, xp / k, yp / k);
                for ((v, b), m) in px.iter_mut().zip(b).zip(median) {
                    *v += (b - *v) * (mask * 3.0 + 1.0).clamp(0.0, 1.0);
                    *v += (m - *v) * mask.clamp(0.0, 1.0);
                }
            }
        }
        px.map(|c| c.round().clamp(0.0, 255.0) as u8)
    };
    // Rows in parallel bands, one per core.
    let mut buffer = vec![0u8; (big * big * 3) as usize];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let band_rows = (big as usize).div_ceil(threads);
    std::thread::scope(|scope| {
        for (band, chunk) in buffer.chunks_mut(band_rows * big as usize * 3).enumerate() {
            let shade = &shade;
            scope.spawn(move || {
                for (i, px) in chunk.chunks_exact_mut(3).enumerate() {
                    let (u, v) = (
                        (i % big as usize) as u32,
                        (band * band_rows + i / big as usize) as u32,
                    );
                    px.copy_from_slice(&shade(u, v));
                }
            });
        }
    });
    let render = RgbImage::from_raw(big, big, buffer).expect("buffer sized big²·3");
    Aligned {
        quad: original_quad,
        size,
        // Exact 2× reduction: each output pixel is the mean of its 2×2 supersamples.
        image: image::imageops::thumbnail(&render, size, size),
    }
}

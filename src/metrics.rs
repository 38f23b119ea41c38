//! Reconstruction quality on 8-bit RGB images: MSE (on [0,1]), PSNR (dB) and SSIM (Gaussian
//! window 11, σ 1.5, K1 0.01, K2 0.03, per channel on [0,1], averaged).

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub mse: f64,
    pub psnr: f64,
    pub ssim: f64,
}

fn plane(img: &image::RgbImage, c: usize) -> Vec<f64> {
    img.pixels().map(|p| p.0[c] as f64 / 255.0).collect()
}

pub fn mse(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let n = (a.width() * a.height() * 3) as f64;
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| ((x as f64 - y as f64) / 255.0).powi(2))
        .sum::<f64>()
        / n
}

pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (1.0 / mse).log10()
    }
}

fn gaussian_blur(x: &[f64], w: usize, h: usize, kernel: &[f64]) -> Vec<f64> {
    let r = kernel.len() / 2;
    let mut tmp = vec![0.0; w * h];
    let mut out = vec![0.0; w * h];
    // "valid"-free variant: clamp at the border (images are tiny relative to the window's effect).
    for y in 0..h {
        for x0 in 0..w {
            tmp[y * w + x0] = kernel
                .iter()
                .enumerate()
                .map(|(i, k)| k * x[y * w + (x0 + i).saturating_sub(r).min(w - 1)])
                .sum();
        }
    }
    for y0 in 0..h {
        for x in 0..w {
            out[y0 * w + x] = kernel
                .iter()
                .enumerate()
                .map(|(i, k)| k * tmp[(y0 + i).saturating_sub(r).min(h - 1) * w + x])
                .sum();
        }
    }
    out
}

pub fn ssim(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let sigma: f64 = 1.5;
    let raw: Vec<f64> = (0..11)
        .map(|i| (-((i as f64 - 5.0).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = raw.iter().sum();
    let kernel: Vec<f64> = raw.iter().map(|v| v / sum).collect();
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let mut total = 0.0;
    for c in 0..3 {
        let (x, y) = (plane(a, c), plane(b, c));
        let blur = |v: &[f64]| gaussian_blur(v, w, h, &kernel);
        let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(a, b)| a * b).collect::<Vec<_>>();
        let (mx, my) = (blur(&x), blur(&y));
        let (sxx, syy, sxy) = (
            blur(&prod(&x, &x)),
            blur(&prod(&y, &y)),
            blur(&prod(&x, &y)),
        );
        let mut acc = 0.0;
        for i in 0..w * h {
            let (vx, vy, cxy) = (
                sxx[i] - mx[i] * mx[i],
                syy[i] - my[i] * my[i],
                sxy[i] - mx[i] * my[i],
            );
            acc += ((2.0 * mx[i] * my[i] + c1) * (2.0 * cxy + c2))
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
        }
        total += acc / (w * h) as f64;
    }
    total / 3.0
}

pub fn quality(reconstruction: &image::RgbImage, target: &image::RgbImage) -> Quality {
    let mse = mse(reconstruction, target);
    Quality {
        mse,
        psnr: psnr_from_mse(mse),
        ssim: ssim(reconstruction, target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_are_perfect_and_noise_lowers_scores() {
        let a = image::RgbImage::from_fn(32, 32, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 8) as u8, 128])
        });
        let q = quality(&a, &a);
        assert_eq!(q.mse, 0.0);
        assert!(q.psnr.is_infinite());
        assert!((q.ssim - 1.0).abs() < 1e-9);
        let b = image::RgbImage::from_fn(32, 32, |x, y| {
            let p = a.get_pixel(x, y).0;
            let n = if (x + y) % 2 == 0 { 20 } else { 0 };
            image::Rgb([p[0].saturating_add(n), p[1], p[2]])
        });
        let q = quality(&b, &a);
        let expected_mse = (512.0 * (20.0f64 / 255.0).powi(2)) / (32.0 * 32.0 * 3.0);
        assert!((q.mse - expected_mse).abs() < 1e-12);
        assert!((q.psnr - 10.0 * (1.0 / expected_mse).log10()).abs() < 1e-9);
        assert!(q.ssim < 1.0 && q.ssim > 0.5);
    }
}

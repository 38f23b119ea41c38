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

/// Fréchet distance between Gaussians fitted to two sets of embeddings (rows):
/// `|μa − μb|² + Tr(Σa + Σb − 2 (Σa Σb)^½)` — FID's formula, here in the identity network's
/// embedding space. The trace of the matrix square root is taken as the sum of the square
/// roots of the eigenvalues of `Σa^½ Σb Σa^½` (symmetric, so the Jacobi solver serves).
pub fn frechet_distance(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    use crate::edit::directions::eigen::symmetric_eigen;
    let n = a.first().map_or(0, Vec::len);
    let stats = |x: &[Vec<f32>]| {
        let m = x.len().max(2) as f64;
        let mut mean = vec![0.0; n];
        for row in x {
            for (acc, v) in mean.iter_mut().zip(row) {
                *acc += *v as f64 / x.len() as f64;
            }
        }
        let mut cov = vec![0.0; n * n];
        for row in x {
            for i in 0..n {
                let di = row[i] as f64 - mean[i];
                for j in 0..n {
                    cov[i * n + j] += di * (row[j] as f64 - mean[j]) / (m - 1.0);
                }
            }
        }
        (mean, cov)
    };
    let matmul = |p: &[f64], q: &[f64]| {
        let mut r = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                let pik = p[i * n + k];
                for j in 0..n {
                    r[i * n + j] += pik * q[k * n + j];
                }
            }
        }
        r
    };
    let (ma, ca) = stats(a);
    let (mb, cb) = stats(b);
    let (values, vectors) = symmetric_eigen(&ca, n);
    let mut sqrt_a = vec![0.0; n * n];
    for (l, v) in values.iter().zip(&vectors) {
        let s = l.max(0.0).sqrt();
        for i in 0..n {
            for j in 0..n {
                sqrt_a[i * n + j] += s * v[i] * v[j];
            }
        }
    }
    let inner = matmul(&matmul(&sqrt_a, &cb), &sqrt_a);
    let sym: Vec<f64> = (0..n * n)
        .map(|k| 0.5 * (inner[k] + inner[(k % n) * n + k / n]))
        .collect();
    let tr_sqrt: f64 = symmetric_eigen(&sym, n)
        .0
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    let mean_term: f64 = ma.iter().zip(&mb).map(|(x, y)| (x - y).powi(2)).sum();
    let trace = |c: &[f64]| (0..n).map(|i| c[i * n + i]).sum::<f64>();
    mean_term + trace(&ca) + trace(&cb) - 2.0 * tr_sqrt
}

#[cfg(test)]
mod frechet_tests {
    use super::frechet_distance;

    #[test]
    fn gaussians_in_closed_form() {
        // Two 2-d samples with diagonal covariances: FD = |Δμ|² + Σ (σa − σb)².
        let grid = |mx: f32, sx: f32, sy: f32| -> Vec<Vec<f32>> {
            let mut v = Vec::new();
            for i in [-1.0f32, 1.0] {
                for j in [-1.0f32, 1.0] {
                    v.push(vec![mx + sx * i, sy * j]);
                }
            }
            v
        };
        // sample variance of ±s over 4 points (n−1 = 3): 4s²/3
        let (a, b) = (grid(0.0, 1.0, 2.0), grid(3.0, 2.0, 2.0));
        let k = (4.0f64 / 3.0).sqrt();
        let expected = 9.0 + (k * 1.0 - k * 2.0).powi(2);
        assert!((frechet_distance(&a, &b) - expected).abs() < 1e-6);
        assert!(frechet_distance(&a, &a).abs() < 1e-9);
    }
}

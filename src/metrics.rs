//! Reconstruction quality on 8-bit RGB images: MSE (on [0,1]), PSNR (dB) and SSIM (Gaussian
//! window 11, σ 1.5, K1 0.01, K2 0.03, per channel on [0,1] over the valid region, averaged).

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

/// The 11-tap Gaussian window of σ 1.5, normalised to sum 1.
fn ssim_window() -> [f64; 11] {
    let sigma: f64 = 1.5;
    let mut k = [0.0; 11];
    for (i, v) in k.iter_mut().enumerate() {
        *v = (-((i as f64 - 5.0).powi(2)) / (2.0 * sigma * sigma)).exp();
    }
    let sum: f64 = k.iter().sum();
    k.map(|v| v / sum)
}

/// Separable filtering of a `w`×`h` plane by `kernel`, keeping only the "valid" region where
/// the window lies wholly inside the image (`(w−k+1)`×`(h−k+1)`), as skimage and
/// pytorch-msssim do: no border values are invented.
fn valid_filter(x: &[f64], w: usize, h: usize, kernel: &[f64]) -> (Vec<f64>, usize, usize) {
    let k = kernel.len();
    let (ow, oh) = (w + 1 - k, h + 1 - k);
    let mut rows = vec![0.0; ow * h];
    for y in 0..h {
        for x0 in 0..ow {
            rows[y * ow + x0] = kernel
                .iter()
                .enumerate()
                .map(|(i, c)| c * x[y * w + x0 + i])
                .sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for y0 in 0..oh {
        for x in 0..ow {
            out[y0 * ow + x] = kernel
                .iter()
                .enumerate()
                .map(|(i, c)| c * rows[(y0 + i) * ow + x])
                .sum();
        }
    }
    (out, ow, oh)
}

/// SSIM of Wang et al. (2004): Gaussian window 11, σ 1.5, K1 0.01, K2 0.03, data range 1,
/// population (co)variances, the mean over the valid region of each channel, then over the
/// channels — the figure of pytorch-msssim and of skimage's `structural_similarity` with
/// `gaussian_weights=True, use_sample_covariance=False`. Images smaller than the window are
/// compared by one window of their own size.
pub fn ssim(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let full = ssim_window();
    let kernel: Vec<f64> = if w.min(h) >= full.len() {
        full.to_vec()
    } else {
        // too small for the window: one uniform window over the whole image
        vec![1.0 / w.min(h).max(1) as f64; w.min(h).max(1)]
    };
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let mut total = 0.0;
    for c in 0..3 {
        let (x, y) = (plane(a, c), plane(b, c));
        let blur = |v: &[f64]| valid_filter(v, w, h, &kernel).0;
        let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(a, b)| a * b).collect::<Vec<_>>();
        let (mx, my) = (blur(&x), blur(&y));
        let (sxx, syy, sxy) = (
            blur(&prod(&x, &x)),
            blur(&prod(&y, &y)),
            blur(&prod(&x, &y)),
        );
        let mut acc = 0.0;
        for i in 0..mx.len() {
            let (vx, vy, cxy) = (
                sxx[i] - mx[i] * mx[i],
                syy[i] - my[i] * my[i],
                sxy[i] - mx[i] * my[i],
            );
            acc += ((2.0 * mx[i] * my[i] + c1) * (2.0 * cxy + c2))
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
        }
        total += acc / mx.len() as f64;
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

#[cfg(test)]
mod ssim_tests {
    use super::ssim;

    /// The pattern images of the reference values below (x across, y down).
    fn pattern(f: impl Fn(u32, u32) -> [u32; 3]) -> image::RgbImage {
        image::RgbImage::from_fn(48, 40, |x, y| image::Rgb(f(x, y).map(|v| (v % 256) as u8)))
    }

    #[test]
    fn ssim_matches_skimage_on_the_valid_region() {
        // Reference values: skimage 0.26 `structural_similarity(a / 255, b / 255,
        // gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
        // channel_axis=2)` on the same integer patterns built with numpy.
        let a = pattern(|x, y| [x * 5 + y * 3, x * y, (x ^ y) * 7]);
        let b = pattern(|x, y| {
            [
                x * 5 + y * 3 + (x * 13 + y * 7) % 23,
                x * y + 40,
                (x ^ y) * 7 % 256 + (x + 2 * y) % 9,
            ]
        });
        let c = image::RgbImage::from_fn(48, 40, |x, y| {
            image::Rgb(
                a.get_pixel(x, y)
                    .0
                    .map(|v| (v as u32 / 2 + 60).min(255) as u8),
            )
        });
        for (p, q, expected) in [
            (&a, &b, 0.6281920976213181),
            (&b, &a, 0.6281920976213181),
            (&a, &c, 0.7986259671028622),
        ] {
            let got = ssim(p, q);
            assert!((got - expected).abs() < 1e-9, "{got} vs skimage {expected}");
        }
        assert!((ssim(&a, &a) - 1.0).abs() < 1e-12);
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

//! GANSpace: principal components of mapped latents w = mapping(z) over sampled z, ordered by
//! explained variance; each direction is a unit component scaled by its standard deviation,
//! so a slider value is in σ units.

use std::ops::Range;

use super::eigen::symmetric_eigen;
use super::set::{Direction, DirectionInfo};
use crate::model::Generator;
use crate::model::loader::tensor_to_vec;

/// The top `count` components of `samples` mapped latents (drawn in chunks of 1024 from
/// `seed`), each applied to w+ `layers`; returns them with their variances.
pub fn ganspace(
    g: &Generator,
    samples: usize,
    seed: u64,
    count: usize,
    layers: Range<usize>,
) -> (Vec<Direction>, Vec<f64>) {
    ganspace_with_progress(g, samples, seed, count, layers, |_| true).expect("never stopped")
}

/// [`ganspace`] telling `keep_going` the fraction of samples mapped after each chunk; it
/// stops (returning `None`) when that answers false.
pub fn ganspace_with_progress(
    g: &Generator,
    samples: usize,
    seed: u64,
    count: usize,
    layers: Range<usize>,
    mut keep_going: impl FnMut(f32) -> bool,
) -> Option<(Vec<Direction>, Vec<f64>)> {
    let s = g.config.style_dim;
    let mut sum = vec![0f64; s];
    let mut outer = vec![0f64; s * s];
    let mut done = 0;
    while done < samples {
        let n = (samples - done).min(1024);
        let w = tensor_to_vec(g.map(g.seeded_z(seed + done as u64, n)));
        for row in w.chunks_exact(s) {
            for a in 0..s {
                sum[a] += row[a] as f64;
                for b in 0..s {
                    outer[a * s + b] += row[a] as f64 * row[b] as f64;
                }
            }
        }
        done += n;
        if !keep_going(done as f32 / samples as f32) {
            return None;
        }
    }
    let n = samples as f64;
    let cov: Vec<f64> = (0..s * s)
        .map(|i| (outer[i] - sum[i / s] * sum[i % s] / n) / (n - 1.0).max(1.0))
        .collect();
    let (values, vectors) = symmetric_eigen(&cov, s);
    let directions = vectors
        .into_iter()
        .zip(&values)
        .take(count)
        .enumerate()
        .map(|(i, (v, var))| {
            let std = var.max(0.0).sqrt();
            Direction {
                info: DirectionInfo {
                    name: format!("pc {i}"),
                    layers: layers.clone(),
                    range: (-3.0, 3.0),
                    source: format!("GANSpace PCA of {samples} mapped z, component {i}"),
                },
                vector: v.into_iter().map(|x| (x * std) as f32).collect(),
            }
        })
        .collect();
    Some((directions, values.into_iter().take(count).collect()))
}

//! InterFaceGAN (Shen et al.): an attribute's editing direction is the unit normal of a linear
//! boundary separating latents of faces that have much of it from faces that have little.
//! Faces are sampled from the generator (or inverted from photos), scored by face-api's
//! attribute networks, the top and bottom `ratio` by score become the two classes, 70 % of
//! them fit an L2-regularised logistic regression (Newton's method) and 30 % measure its
//! accuracy. Conditional manipulation removes the components along other boundaries.

use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::set::{Direction, DirectionError, DirectionSet};
use crate::face::{Attribute, AttributeNets, AttributeScores};
use crate::model::loader::tensor_to_vec;
use crate::model::{Generator, NoiseMode};

/// Latents (one `dim`-vector per face, row-major) and what the attribute networks say of them.
#[derive(Debug, Clone, Default)]
pub struct LabelledLatents {
    pub dim: usize,
    pub latents: Vec<f32>,
    pub scores: Vec<AttributeScores>,
}

impl LabelledLatents {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Each face's value of `attribute`.
    pub fn values(&self, attribute: Attribute) -> Vec<f32> {
        self.scores.iter().map(|s| attribute.value(s)).collect()
    }
}

/// Faces drawn per batch while sampling.
const BATCH: usize = 16;

/// `samples` faces of seeds `seed`, `seed + 1`, … at truncation `psi`: their (truncated) w and
/// scores. `keep_going` sees the fraction done after each batch; false stops (→ `None`).
pub fn sample_labelled(
    g: &Generator,
    nets: &AttributeNets,
    samples: usize,
    seed: u64,
    psi: f32,
    mut keep_going: impl FnMut(f32) -> bool,
) -> Option<LabelledLatents> {
    let avg = g.truncation_latent();
    let mut out = LabelledLatents {
        dim: g.config.style_dim,
        ..Default::default()
    };
    while out.len() < samples {
        let n = (samples - out.len()).min(BATCH);
        let w = g.truncate(g.map(g.seeded_z(seed + out.len() as u64, n)), psi, &avg);
        let image = g
            .synthesize(g.broadcast(w.clone()), &NoiseMode::Stored, None, &[])
            .expect("a broadcast w+ fits its generator")
            .image;
        out.scores.extend(nets.score_aligned(image));
        out.latents.extend(tensor_to_vec(w));
        if !keep_going(out.len() as f32 / samples as f32) {
            return None;
        }
    }
    Some(out)
}

/// A fitted boundary.
#[derive(Debug, Clone)]
pub struct Boundary {
    /// Unit normal, pointing to more of the attribute.
    pub normal: Vec<f32>,
    /// Accuracy on the held-out 30 % of the chosen faces (0.5 = chance).
    pub held_out_accuracy: f32,
    pub train: usize,
    pub held_out: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BoundaryError {
    #[error("{0} faces give too few to fit a boundary (at least 20 are needed; raise --samples)")]
    TooFew(usize),
    #[error("the attribute does not vary over these faces (every score is {0})")]
    Constant(f32),
}

/// The boundary of `values` over `data.latents`: top and bottom `ratio` of the faces by value
/// are the classes, shuffled with `seed` and split 70/30 into fit and held-out faces.
pub fn fit_boundary(
    data: &LabelledLatents,
    values: &[f32],
    ratio: f32,
    seed: u64,
) -> Result<Boundary, BoundaryError> {
    let n = values.len();
    let k = ((n as f32 * ratio.clamp(0.0, 0.5)) as usize).min(n / 2);
    if 2 * k < 20 {
        return Err(BoundaryError::TooFew(n));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    if values[order[k - 1]] >= values[order[n - k]] {
        return Err(BoundaryError::Constant(values[order[0]]));
    }
    let mut chosen: Vec<(usize, bool)> = order[..k]
        .iter()
        .map(|&i| (i, false))
        .chain(order[n - k..].iter().map(|&i| (i, true)))
        .collect();
    chosen.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let train = chosen.len() * 7 / 10;
    let d = data.dim;
    let row = |i: usize| &data.latents[i * d..(i + 1) * d];
    let x: Vec<f64> = chosen[..train]
        .iter()
        .flat_map(|&(i, _)| row(i).iter().map(|&v| v as f64))
        .collect();
    let y: Vec<bool> = chosen[..train].iter().map(|&(_, label)| label).collect();
    let (beta, intercept) = logistic_regression(&x, d, &y, 1.0);
    let correct = chosen[train..]
        .iter()
        .filter(|&&(i, label)| {
            let m: f64 = row(i).iter().zip(&beta).map(|(&v, b)| v as f64 * b).sum();
            (m + intercept > 0.0) == label
        })
        .count();
    let held_out = chosen.len() - train;
    let normal = unit(&beta.iter().map(|&b| b as f32).collect::<Vec<_>>());
    Ok(Boundary {
        held_out_accuracy: correct as f32 / held_out as f32,
        normal,
        train,
        held_out,
    })
}

/// A boundary per w+ entry: `data` rows are `layers` entries of `dim / layers` values each; the
/// normal is the entries' unit normals one after another (so a slider value α moves every
/// entry by α along its own normal), the accuracy their mean.
pub fn fit_boundary_per_layer(
    data: &LabelledLatents,
    layers: usize,
    values: &[f32],
    ratio: f32,
    seed: u64,
) -> Result<Boundary, BoundaryError> {
    let d = data.dim / layers;
    let mut normal = Vec::with_capacity(data.dim);
    let mut accuracy = 0.0;
    let mut last = None;
    for l in 0..layers {
        let entry = LabelledLatents {
            dim: d,
            latents: data
                .latents
                .chunks_exact(data.dim)
                .flat_map(|row| row[l * d..(l + 1) * d].iter().copied())
                .collect(),
            scores: Vec::new(),
        };
        let b = fit_boundary(&entry, values, ratio, seed)?;
        normal.extend_from_slice(&b.normal);
        accuracy += b.held_out_accuracy / layers as f32;
        last = Some(b);
    }
    let last = last.ok_or(BoundaryError::TooFew(0))?;
    Ok(Boundary {
        held_out_accuracy: accuracy,
        normal,
        train: last.train,
        held_out: last.held_out,
    })
}

/// Standard deviation of the latents' positions along `direction` in slider units: the
/// projection divided by ‖direction‖², so that adding α·direction moves it by α.
pub fn spread_along(data: &LabelledLatents, direction: &[f32]) -> f32 {
    let norm2 = direction.iter().map(|v| v * v).sum::<f32>().max(1e-12) as f64;
    let p: Vec<f64> = data
        .latents
        .chunks_exact(data.dim)
        .map(|r| {
            r.iter()
                .zip(direction)
                .map(|(a, b)| (a * b) as f64)
                .sum::<f64>()
                / norm2
        })
        .collect();
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    (p.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (p.len() as f64 - 1.0).max(1.0)).sqrt()
        as f32
}

/// L2-regularised logistic regression (scikit-learn's objective with C = `c`: ½‖β‖² + C Σ
/// log(1 + e^(−yᵢ(xᵢ·β + b))), intercept b not penalised) by Newton's method; `x` is row-major
/// `[n, d]`. Returns (β, b).
pub fn logistic_regression(x: &[f64], d: usize, y: &[bool], c: f64) -> (Vec<f64>, f64) {
    let n = y.len();
    let p = d + 1; // β then b
    let mut theta = vec![0f64; p];
    let sign = |l: bool| if l { 1.0 } else { -1.0 };
    let objective = |theta: &[f64]| -> f64 {
        let reg: f64 = theta[..d].iter().map(|v| v * v).sum::<f64>() / 2.0;
        let loss: f64 = (0..n)
            .map(|i| {
                let m = margin(&x[i * d..(i + 1) * d], theta, d) * sign(y[i]);
                // log(1 + e^−m), stable
                if m > 0.0 {
                    (-m).exp().ln_1p()
                } else {
                    -m + m.exp().ln_1p()
                }
            })
            .sum();
        reg + c * loss
    };
    let mut current = objective(&theta);
    for _ in 0..100 {
        let mut grad = theta.clone();
        grad[d] = 0.0;
        let mut hess = vec![0f64; p * p];
        for a in 0..d {
            hess[a * p + a] = 1.0;
        }
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            let s = 1.0 / (1.0 + (-margin(xi, &theta, d)).exp()); // σ(m)
            let t = if y[i] { 1.0 } else { 0.0 };
            let r = c * (s - t);
            let h = c * s * (1.0 - s);
            for a in 0..p {
                let xa = if a < d { xi[a] } else { 1.0 };
                grad[a] += r * xa;
                if h > 0.0 {
                    let row = &mut hess[a * p..a * p + p];
                    for (b, hv) in row.iter_mut().enumerate().take(a + 1) {
                        let xb = if b < d { xi[b] } else { 1.0 };
                        *hv += h * xa * xb;
                    }
                }
            }
        }
        for a in 0..p {
            for b in a + 1..p {
                hess[a * p + b] = hess[b * p + a];
            }
        }
        hess[d * p + d] += 1e-9; // an intercept-only direction never makes it singular
        let step = cholesky_solve(&mut hess, &grad, p);
        // Damped Newton: halve until the objective decreases.
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let trial: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let value = objective(&trial);
            if value <= current {
                let done = current - value < 1e-12 * current.abs().max(1.0);
                theta = trial;
                current = value;
                accepted = true;
                if done {
                    return (theta[..d].to_vec(), theta[d]);
                }
                break;
            }
            t /= 2.0;
        }
        if !accepted {
            break;
        }
    }
    (theta[..d].to_vec(), theta[d])
}

fn margin(xi: &[f64], theta: &[f64], d: usize) -> f64 {
    xi.iter().zip(&theta[..d]).map(|(a, b)| a * b).sum::<f64>() + theta[d]
}

/// Solves `a · x = b` for a symmetric positive definite `a` (`n × n`, row-major; overwritten
/// by its Cholesky factor).
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Vec<f64> {
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        let l = s.max(1e-300).sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / l;
        }
    }
    let mut z = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            z[i] -= a[i * n + k] * z[k];
        }
        z[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            z[i] -= a[k * n + i] * z[k];
        }
        z[i] /= a[i * n + i];
    }
    z
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

/// Cosine of two directions.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
        * b.iter().map(|x| x * x).sum::<f32>().sqrt())
    .max(1e-12)
}

/// [`orthogonal_to`] on each of `layers` equal chunks (per-layer boundaries).
pub fn orthogonal_per_layer(normal: &[f32], conditions: &[Vec<f32>], layers: usize) -> Vec<f32> {
    let d = normal.len() / layers;
    (0..layers)
        .flat_map(|l| {
            let chunk = |v: &[f32]| v[l * d..(l + 1) * d].to_vec();
            let conditions: Vec<Vec<f32>> = conditions.iter().map(|c| chunk(c)).collect();
            orthogonal_to(&chunk(normal), &conditions)
        })
        .collect()
}

/// InterFaceGAN's conditional manipulation: `normal` without its components along the
/// `conditions` (made orthonormal first), renormalised.
pub fn orthogonal_to(normal: &[f32], conditions: &[Vec<f32>]) -> Vec<f32> {
    let mut basis: Vec<Vec<f32>> = Vec::new();
    for c in conditions {
        let mut v = c.clone();
        for b in &basis {
            let dot: f32 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
        }
        if v.iter().map(|x| x * x).sum::<f32>() > 1e-8 {
            basis.push(unit(&v));
        }
    }
    let mut out = normal.to_vec();
    for b in &basis {
        let dot: f32 = out.iter().zip(b).map(|(x, y)| x * y).sum();
        out.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
    }
    unit(&out)
}

/// Pearson correlation of two attributes' values over the same faces.
pub fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&v| v as f64).sum::<f64>() / n,
        b.iter().map(|&v| v as f64).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    (sab / (saa * sbb).sqrt().max(1e-300)) as f32
}

/// How much each attribute changes, on average over `faces` fresh faces (seeds from `seed`,
/// truncation `psi`), between moving −`alpha` and +`alpha` along `direction` (on the w+ entries
/// it names): one value per attribute of [`Attribute::ALL`].
pub fn edit_effect(
    g: &Generator,
    nets: &AttributeNets,
    direction: &Direction,
    alpha: f32,
    faces: usize,
    seed: u64,
    psi: f32,
) -> Result<Vec<f32>, DirectionError> {
    let mut set = DirectionSet::for_generator(g);
    set.push(direction.clone())?;
    let offset = set.offset(&[(0, 1.0)], &g.device());
    let w = g.seeded_wplus(seed, faces, psi);
    let score = |sign: f32| {
        let moved = w.clone() + offset.clone().mul_scalar(sign * alpha);
        let image = g
            .synthesize(moved, &NoiseMode::Stored, None, &[])
            .expect("an edited w+ fits its generator")
            .image;
        nets.score_aligned(image)
    };
    let (minus, plus) = (score(-1.0), score(1.0));
    Ok(Attribute::ALL
        .iter()
        .map(|a| {
            plus.iter()
                .zip(&minus)
                .map(|(p, m)| a.value(p) - a.value(m))
                .sum::<f32>()
                / faces as f32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed, non-separable data set (deterministic formulas, no RNG).
    fn data() -> (Vec<f64>, Vec<bool>, usize) {
        let (n, d) = (60, 4);
        let x: Vec<f64> = (0..n * d)
            .map(|k| ((k * 37 % 101) as f64 / 50.0 - 1.0) + ((k / d) as f64 * 0.7).sin())
            .collect();
        let y: Vec<bool> = (0..n)
            .map(|i| x[i * d] - 0.5 * x[i * d + 2] + ((i * 13 % 7) as f64 - 3.0) * 0.3 > 0.0)
            .collect();
        (x, y, d)
    }

    #[test]
    fn logistic_regression_matches_scikit_learn() {
        // scikit-learn 1.9.1: LogisticRegression(C=1.0, tol=1e-12, max_iter=100000).fit(x, y)
        // on `data()` gives these coefficients and intercept.
        let (x, y, d) = data();
        let (beta, b) = logistic_regression(&x, d, &y, 1.0);
        for (ours, theirs) in beta.iter().zip(SKLEARN_COEF) {
            assert!((ours - theirs).abs() < 1e-5, "{beta:?} vs {SKLEARN_COEF:?}");
        }
        assert!(
            (b - SKLEARN_INTERCEPT).abs() < 1e-5,
            "{b} vs {SKLEARN_INTERCEPT}"
        );
    }

    const SKLEARN_COEF: [f64; 4] = [
        1.973126812770479,
        -0.09348146442492346,
        -0.8349130261506851,
        0.0004869932219696993,
    ];
    const SKLEARN_INTERCEPT: f64 = 0.16086272400690668;

    #[test]
    fn conditioning_removes_the_other_boundaries() {
        let a = vec![1.0, 1.0, 0.0, 0.0];
        let b = vec![1.0, 0.0, 0.0, 0.0];
        let c = vec![1.0, 0.0, 1.0, 0.0];
        let out = orthogonal_to(&a, &[b.clone(), c.clone()]);
        assert!(cosine(&out, &b).abs() < 1e-6 && cosine(&out, &c).abs() < 1e-6);
        assert!((out.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(out[1] > 0.9, "what is left of a is kept: {out:?}");
    }

    #[test]
    fn the_boundary_of_a_linear_attribute_is_found() {
        // Latents in 8-d whose attribute is their 3rd coordinate minus their 5th, plus noise.
        let dim = 8;
        let n = 400;
        let latents: Vec<f32> = (0..n * dim)
            .map(|k| ((k * 7919) % 1009) as f32 / 504.5 - 1.0)
            .collect();
        let values: Vec<f32> = (0..n)
            .map(|i| latents[i * dim + 2] - latents[i * dim + 4] + ((i % 5) as f32 - 2.0) * 0.02)
            .collect();
        let data = LabelledLatents {
            dim,
            latents,
            scores: vec![],
        };
        let b = fit_boundary(&data, &values, 0.3, 0).unwrap();
        let truth = [0.0, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0];
        assert!(cosine(&b.normal, &truth) > 0.95, "{:?}", b.normal);
        assert!(b.held_out_accuracy > 0.9, "{}", b.held_out_accuracy);
        assert_eq!((b.train, b.held_out), (168, 72));
    }

    #[test]
    fn per_layer_boundaries_find_each_entrys_own_direction() {
        // two w+ entries of 4 values; the attribute reads entry 0's first value and entry 1's
        // last one
        let (layers, d, n) = (2, 4, 300);
        let latents: Vec<f32> = (0..n * layers * d)
            .map(|k| ((k * 7919) % 1009) as f32 / 504.5 - 1.0)
            .collect();
        let values: Vec<f32> = (0..n)
            .map(|i| latents[i * 8] + latents[i * 8 + 7])
            .collect();
        let data = LabelledLatents {
            dim: layers * d,
            latents,
            scores: vec![],
        };
        let b = fit_boundary_per_layer(&data, layers, &values, 0.3, 0).unwrap();
        assert_eq!(b.normal.len(), 8);
        assert!(
            cosine(&b.normal[..4], &[1.0, 0.0, 0.0, 0.0]) > 0.8,
            "{:?}",
            b.normal
        );
        assert!(
            cosine(&b.normal[4..], &[0.0, 0.0, 0.0, 1.0]) > 0.8,
            "{:?}",
            b.normal
        );
        let o = orthogonal_per_layer(&b.normal, &[vec![1.0; 8]], layers);
        let sum = |v: &[f32]| v.iter().sum::<f32>();
        assert!(sum(&o[..4]).abs() < 1e-5 && sum(&o[4..]).abs() < 1e-5);
    }

    #[test]
    fn too_few_or_constant_scores_are_refused() {
        let data = LabelledLatents {
            dim: 2,
            latents: vec![0.0; 2 * 100],
            scores: vec![],
        };
        assert!(matches!(
            fit_boundary(&data, &[0.5; 100], 0.25, 0),
            Err(BoundaryError::Constant(_))
        ));
        assert!(matches!(
            fit_boundary(&data, &[0.5; 30], 0.25, 0),
            Err(BoundaryError::TooFew(30))
        ));
    }
}

//! Whether an attribute slider does what its name says: the attribute networks score each face
//! edited at evenly spaced values across the slider's range, and the Spearman rank correlation
//! of score with slider value (1 = the score rises at every step) is averaged over faces —
//! on the inverted photos (the editor's Eq. 1 path) and on generated faces.

use crate::face::{Attribute, AttributeNets};
use crate::imaging::rgb_images_to_tensor;
use crate::model::NoiseMode;
use crate::workspace::{PhotoId, Workspace};

/// Slider values per face, from the range's minimum to its maximum.
const STEPS: usize = 7;

/// One attribute slider's response, each figure a mean over faces.
#[derive(Debug, Clone)]
pub struct AttributeRow {
    pub direction: String,
    /// Spearman ρ of score against slider value on the photos, and the score's change from
    /// the minimum to the maximum (probability, or years for age).
    pub rho_photos: f64,
    pub change_photos: f64,
    pub photos: usize,
    pub rho_generated: f64,
    pub change_generated: f64,
    pub generated: usize,
}

/// The active set's directions named after an attribute (as `directions interfacegan` names
/// them), with that attribute.
pub fn attribute_directions(ws: &Workspace) -> Vec<(usize, Attribute)> {
    let Some(d) = ws.directions() else {
        return Vec::new();
    };
    d.set
        .directions
        .iter()
        .enumerate()
        .filter_map(|(k, d)| {
            Attribute::ALL
                .iter()
                .find(|a| a.name() == d.info.name)
                .map(|&a| (k, a))
        })
        .collect()
}

/// Running sums of (ρ, change) per attribute direction.
#[derive(Debug, Clone, Default)]
pub struct Sums {
    pub rho: f64,
    pub change: f64,
    pub faces: usize,
}

impl Sums {
    fn add(&mut self, values: &[f32]) {
        self.rho += spearman_with_order(values);
        self.change += (values[values.len() - 1] - values[0]) as f64;
        self.faces += 1;
    }

    fn mean(&self) -> (f64, f64) {
        let n = self.faces.max(1) as f64;
        (self.rho / n, self.change / n)
    }
}

fn steps(range: (f32, f32)) -> impl Iterator<Item = f32> {
    (0..STEPS).map(move |i| range.0 + (range.1 - range.0) * i as f32 / (STEPS - 1) as f32)
}

/// Adds photo `id`'s response for each of `dirs` (its sliders are left at zero).
pub fn add_photo(
    ws: &mut Workspace,
    nets: &AttributeNets,
    id: PhotoId,
    dirs: &[(usize, Attribute)],
    sums: &mut [Sums],
) -> anyhow::Result<()> {
    for (&(k, attribute), sum) in dirs.iter().zip(sums) {
        let range = ws.slider_range(k)?;
        let mut edits = Vec::with_capacity(STEPS);
        for alpha in steps(range) {
            ws.set_sliders(id, &[(k, alpha)])?;
            edits.push(ws.edited(id)?);
        }
        ws.set_sliders(id, &[])?;
        let scores = nets.score_aligned(rgb_images_to_tensor(&edits, ws.burn_device()));
        sum.add(
            &scores
                .iter()
                .map(|s| attribute.value(s))
                .collect::<Vec<_>>(),
        );
    }
    Ok(())
}

/// The response on `faces` generated faces (seeds 0…, untruncated, as the edit strength).
pub fn generated(
    ws: &Workspace,
    nets: &AttributeNets,
    dirs: &[(usize, Attribute)],
    faces: usize,
) -> anyhow::Result<Vec<Sums>> {
    let g = ws.generator()?;
    let Some(active) = ws.directions() else {
        return Ok(Vec::new());
    };
    let set = &active.set;
    let w = g.seeded_wplus(0, faces.max(1), 1.0);
    let mut out = Vec::new();
    for &(k, attribute) in dirs {
        // scores[step][face]
        let mut scores = Vec::with_capacity(STEPS);
        for alpha in steps(set.directions[k].info.range) {
            let moved = set.apply(g, w.clone(), &[(k, alpha)])?;
            let image = g.synthesize(moved, &NoiseMode::Stored, None, &[])?.image;
            scores.push(nets.score_aligned(image));
        }
        let mut sum = Sums::default();
        for face in 0..faces.max(1) {
            let values: Vec<f32> = scores.iter().map(|s| attribute.value(&s[face])).collect();
            sum.add(&values);
        }
        out.push(sum);
    }
    Ok(out)
}

/// The report's rows from the photo and generated-face sums.
pub fn rows(
    ws: &Workspace,
    dirs: &[(usize, Attribute)],
    photos: &[Sums],
    generated: &[Sums],
) -> Vec<AttributeRow> {
    dirs.iter()
        .zip(photos.iter().zip(generated))
        .map(|(&(k, _), (p, g))| {
            let ((rho_photos, change_photos), (rho_generated, change_generated)) =
                (p.mean(), g.mean());
            AttributeRow {
                direction: ws
                    .directions()
                    .map(|d| d.set.directions[k].info.name.clone())
                    .unwrap_or_default(),
                rho_photos,
                change_photos,
                photos: p.faces,
                rho_generated,
                change_generated,
                generated: g.faces,
            }
        })
        .collect()
}

/// Spearman's rank correlation of `values` with their order (0, 1, 2, …); tied values share
/// their mean rank.
pub fn spearman_with_order(values: &[f32]) -> f64 {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0f64; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0;
        for &o in &order[i..=j] {
            ranks[o] = mean_rank;
        }
        i = j + 1;
    }
    let mean = (n as f64 - 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (k, r) in ranks.iter().enumerate() {
        let (x, y) = (k as f64 - mean, r - mean);
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    if syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::spearman_with_order;

    #[test]
    fn spearman_matches_scipy() {
        // scipy.stats.spearmanr(range(7), v) for these v
        assert!((spearman_with_order(&[1., 2., 3., 4., 5., 6., 7.]) - 1.0).abs() < 1e-12);
        assert!((spearman_with_order(&[7., 6., 5., 4., 3., 2., 1.]) + 1.0).abs() < 1e-12);
        let v = [0.1, 0.3, 0.2, 0.5, 0.5, 0.9, 0.8];
        assert!(
            (spearman_with_order(&v) - SCIPY).abs() < 1e-12,
            "{}",
            spearman_with_order(&v)
        );
        assert_eq!(spearman_with_order(&[2.0; 7]), 0.0);
    }

    const SCIPY: f64 = 0.9189562119494703;
}

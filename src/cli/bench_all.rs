//! `facestyle bench all`: every benchmark row in one table — median and p90 over `runs` timed
//! runs after warm-up, and the peak resident memory while the row ran. The rows match
//! `bench/torch/bench.py`, which times the same work in PyTorch eager (`bench/compare.sh`).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use burn::tensor::Tensor;

use super::bench::generate;
use crate::device::ComputeDevice;
use crate::edit::feature_edit::{edited_image_with_residual, feature_residual};
use crate::edit::{Codes, inversion, mixing};
use crate::model::encoder::FeatureStyleEncoder;
use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::model::{Generator, NoiseMode};
use crate::pti::{
    CancelToken, Perceptual, ProjectionConfig, TuningConfig, pivotal_tuning, project,
};

/// One row of the table.
pub struct Row {
    pub name: &'static str,
    pub batch: usize,
    /// Milliseconds of each timed run, sorted.
    pub ms: Vec<f64>,
    /// Peak resident memory while the row ran (MB), when the OS tells it.
    pub peak_mb: Option<f64>,
}

impl Row {
    fn quantile(&self, q: f64) -> f64 {
        self.ms[((self.ms.len() - 1) as f64 * q).round() as usize]
    }
}

/// Resets the process's peak-RSS mark (Linux: `clear_refs` 5), so the next reading is this
/// row's own peak.
fn reset_peak() {
    // as an idle app: no large buffers kept from the row before
    crate::huge_pages::release_kept();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset, in MB (Linux `VmHWM`).
fn peak_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Reads one value back, so the device has finished the work.
pub(super) fn finish(t: Tensor<4>) {
    tensor_to_vec(t.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, 1));
}

/// Times `run(i)` `runs` times after two warm-up calls.
fn time_row(name: &'static str, batch: usize, runs: usize, mut run: impl FnMut(usize)) -> Row {
    reset_peak();
    run(0);
    run(1);
    let mut ms: Vec<f64> = (0..runs)
        .map(|i| {
            let start = Instant::now();
            run(i + 2);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    Row {
        name,
        batch,
        ms,
        peak_mb: peak_mb(),
    }
}

/// A row timed from step callbacks: `steps(n, on_step)` runs n steps of an optimisation and
/// calls `on_step` after each; the first two steps are warm-up.
fn time_steps(
    name: &'static str,
    runs: usize,
    steps: impl FnOnce(usize, &mut dyn FnMut()) -> anyhow::Result<()>,
) -> anyhow::Result<Row> {
    reset_peak();
    let mut marks = vec![Instant::now()];
    steps(runs + 2, &mut || marks.push(Instant::now()))?;
    let mut ms: Vec<f64> = marks
        .windows(2)
        .skip(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
        .collect();
    anyhow::ensure!(!ms.is_empty(), "{name}: no steps were reported");
    ms.sort_by(f64::total_cmp);
    Ok(Row {
        name,
        batch: 1,
        ms,
        peak_mb: peak_mb(),
    })
}

/// The models and inputs of the suite.
pub struct Suite<'a> {
    pub generator: &'a Generator,
    pub encoder: &'a FeatureStyleEncoder,
    pub lpips: Option<&'a crate::model::lpips::Lpips>,
    pub detector: Option<&'a crate::face::FaceDetector>,
    pub photo: &'a Path,
    pub runs: usize,
    /// Batch sizes of the generator rows.
    pub batches: &'a [usize],
}

impl Suite<'_> {
    /// Runs every row; `progress` hears each as it ends.
    pub fn run(&self, mut progress: impl FnMut(&Row)) -> anyhow::Result<Vec<Row>> {
        let (g, e, runs) = (self.generator, self.encoder, self.runs.max(1));
        let noise = NoiseMode::Stored;
        let mut rows = Vec::new();
        let mut add = |row: Row, rows: &mut Vec<Row>| {
            progress(&row);
            rows.push(row);
        };
        for &b in self.batches {
            add(
                time_row("generator", b, runs, |i| finish(generate(g, i as u64, b))),
                &mut rows,
            );
        }
        inversion::check_pair(g, e)?;
        let side = e.config.input_resolution;
        let face = generate(g, 1000, 1);
        let input = inversion::resize_to_side(face.clone(), side);
        add(
            time_row("encoder", 1, runs, |_| {
                finish(e.encode(input.clone()).feature)
            }),
            &mut rows,
        );
        add(
            time_row("inversion", 1, runs, |_| {
                let codes = inversion::encode(g, e, inversion::resize_to_side(face.clone(), side))
                    .expect("pair checked");
                finish(inversion::reconstruct(g, &codes, &noise).expect("codes fit"))
            }),
            &mut rows,
        );
        let codes = inversion::encode(g, e, input.clone())?;
        let residual = feature_residual(g, &codes, &noise)?;
        let direction = unit_direction(g, 7);
        add(
            time_row("slider", 1, runs, |i| {
                // one move of a slider over the coarse entries: w̃ = w + α·d, then Eq. 1
                let alpha = (i % 7) as f32 - 3.0;
                let w = codes.wplus.clone() + direction.clone().mul_scalar(alpha);
                finish(
                    edited_image_with_residual(g, w, residual.clone(), codes.k, &noise, None)
                        .expect("codes fit"),
                )
            }),
            &mut rows,
        );
        let other = inversion::encode(g, e, inversion::resize_to_side(generate(g, 1001, 1), side))?;
        add(
            time_row("mix", 1, runs, |_| {
                finish(mixing::style_mix(g, &codes, &other, 0..4, &noise).expect("codes fit"))
            }),
            &mut rows,
        );
        add(self.tuning_row(&codes, &face, runs)?, &mut rows);
        add(self.projection_row(&face, runs)?, &mut rows);
        if let Some(l) = self.lpips {
            let a = inversion::resize_to_side(face.clone(), g.config.size.min(256));
            let b = inversion::resize_to_side(generate(g, 5, 1), g.config.size.min(256));
            add(
                time_row("lpips", 1, runs, |_| {
                    tensor_to_vec(l.distance(a.clone(), b.clone()).total);
                }),
                &mut rows,
            );
        }
        if let Some(d) = self.detector {
            let photo = crate::imaging::load_photo(self.photo)?;
            let photo =
                image::imageops::resize(&photo, 4000, 3000, image::imageops::FilterType::Triangle);
            let out = g.config.size as u32;
            add(
                time_row("align 12 MP", 1, runs.min(5), |_| {
                    if let Some(f) = d.detect(&photo).first() {
                        crate::face::align(&photo, crate::face::Quad::ffhq(&f.landmarks), out);
                    }
                }),
                &mut rows,
            );
        }
        Ok(rows)
    }

    /// One PTI step (forward, backward, Adam) on the pivot, MSE only.
    fn tuning_row(&self, codes: &Codes, target: &Tensor<4>, runs: usize) -> anyhow::Result<Row> {
        time_steps("pti step", runs, |steps, mark| {
            let config = TuningConfig {
                steps,
                lpips_threshold: 0.0,
                ..TuningConfig::default()
            };
            pivotal_tuning(
                self.generator,
                &codes.wplus,
                target,
                &Perceptual::None,
                &config,
                &CancelToken::default(),
                |_| mark(),
            )
            .context("tuning")?;
            Ok(())
        })
    }

    /// One projection step (forward, backward, Adam on w and the noise maps), MSE only.
    fn projection_row(&self, target: &Tensor<4>, runs: usize) -> anyhow::Result<Row> {
        time_steps("projection step", runs, |steps, mark| {
            let config = ProjectionConfig {
                steps,
                w_avg_samples: 1000,
                ..ProjectionConfig::default()
            };
            project(
                self.generator,
                target,
                &Perceptual::None,
                &config,
                &CancelToken::default(),
                |_, _, _| mark(),
            )
            .context("projecting")?;
            Ok(())
        })
    }
}

/// A seeded unit direction over the first four w+ entries (`[1, L, S]`), as a slider moves.
fn unit_direction(g: &Generator, seed: u64) -> Tensor<3> {
    let (l, s) = (g.config.n_latent(), g.config.style_dim);
    let d = tensor_to_vec(g.seeded_z(seed, 1));
    let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt();
    let values: Vec<f32> = (0..l)
        .flat_map(|i| {
            d.iter()
                .map(move |v| if i < 4 { v / norm } else { 0.0 })
                .take(s)
        })
        .collect();
    tensor_from_vec(values, [1, l, s], &g.device())
}

/// The table, as printed and as kept in `docs/performance.md`.
pub fn table(dev: &ComputeDevice, model: &str, rows: &[Row]) -> String {
    let mut s = format!(
        "{model} on {dev}\n\n| row | batch | median ms | p90 ms | runs | peak RSS MB |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {:.1} | {:.1} | {} | {} |\n",
            r.name,
            r.batch,
            r.quantile(0.5),
            r.quantile(0.9),
            r.ms.len(),
            r.peak_mb
                .map_or_else(|| "n/a".into(), |m| format!("{m:.0}"))
        );
    }
    s
}

/// Tab-separated rows for `bench/compare.sh`: row, batch, median ms, p90 ms, peak resident
/// MB ("n/a" where the system does not say).
pub fn tsv(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{}\t{}\t{:.3}\t{:.3}\t{}\n",
                r.name,
                r.batch,
                r.quantile(0.5),
                r.quantile(0.9),
                r.peak_mb
                    .map_or_else(|| "n/a".into(), |m| format!("{m:.0}"))
            )
        })
        .collect()
}

//! The evaluation harness behind `facestyle eval`: every image inverted by each method
//! (FSE's encoder, PTI's W projection, PTI), measured by FSE Table 1's figures, and the
//! active direction set's edits measured for identity drift (on the photos) and strength (on
//! generated faces, where the true edit is known) and, for attribute sliders, whether the
//! attribute networks see the attribute rise with the slider. The pipelines are the
//! workspace's own.

mod attribute_response;
mod report;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::face::{AttributeNets, Framing, IdentityNet};
use crate::imaging::{rgb_images_to_tensor, tensor_to_rgb_images};
use crate::metrics::quality;
use crate::model::loader::tensor_to_vec;
use crate::model::lpips::Lpips;
use crate::pti::{CancelToken, TuningConfig};
use crate::workspace::{Editability, PersonalizeSettings, PhotoId, PivotSource, Workspace};

pub use attribute_response::AttributeRow;
pub use report::Report;

/// An inversion method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The Feature-Style encoder: one forward pass (w+ and the feature code F).
    Fse,
    /// PTI's projection into W (the pivot alone, with the base generator).
    Project,
    /// Pivotal Tuning Inversion: the projected pivot and the generator tuned to it.
    Pti,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Fse => "fse",
            Method::Project => "project",
            Method::Pti => "pti",
        }
    }
}

/// What to evaluate and how.
pub struct EvalConfig {
    pub images: Vec<PathBuf>,
    pub methods: Vec<Method>,
    pub framing: Framing,
    /// Projection steps (PTI: 450) and tuning steps (PTI: 350).
    pub projection_steps: usize,
    pub tuning_steps: usize,
    /// Edits at ±amount on every direction of the active set.
    pub amount: f32,
    /// Generated faces the edit strength is measured on.
    pub edit_faces: usize,
}

/// One image inverted by one method.
#[derive(Debug, Clone)]
pub struct InversionRow {
    pub image: String,
    pub method: Method,
    pub ssim: f64,
    pub psnr: f64,
    pub mse: f64,
    /// Exact LPIPS (AlexNet, v0.1) when its weights are at hand.
    pub lpips: Option<f64>,
    /// Cosine similarity of the identity network's embeddings of the image and its inversion.
    pub id: f64,
    /// The method's own time for this image.
    pub seconds: f64,
}

/// One clip reconstructed frame by frame (`facestyle video` without an edit): FSE Appendix
/// C's identity consistency of source and reconstruction, and the reconstructions' quality.
#[derive(Debug, Clone)]
pub struct VideoRow {
    pub clip: String,
    pub frames: usize,
    pub psnr: f64,
    pub ssim: f64,
    pub id: Option<f32>,
    /// Mean identity similarity of each frame to the first: (source, reconstruction).
    pub consistency: Option<(f32, f32)>,
    /// The crop's jitter (centre, % of side): as detected, as used.
    pub jitter: (f32, f32),
    pub seconds_per_frame: f64,
}

impl VideoRow {
    pub fn of(clip: &str, r: &crate::workspace::VideoReport) -> Self {
        Self {
            clip: clip.to_string(),
            frames: r.frames,
            psnr: r.reconstruction.psnr,
            ssim: r.reconstruction.ssim,
            id: r.reconstruction.identity,
            consistency: r
                .identity_consistency
                .as_ref()
                .map(|c| (c.source, c.reconstruction)),
            jitter: (
                r.jitter_detected.centre_percent,
                r.jitter_steadied.centre_percent,
            ),
            seconds_per_frame: r.seconds_per_frame.total,
        }
    }
}

/// One direction at one amount.
#[derive(Debug, Clone)]
pub struct EditRow {
    pub direction: String,
    pub amount: f32,
    /// 1 − cosine between the identity embeddings of each photo's edit and its unedited
    /// inversion, averaged over the photos.
    pub id_drift: f64,
    /// On generated faces (see [`Editability`]).
    pub strength: f64,
    pub edit_psnr: f64,
}

/// The measures of an inversion against its target.
struct Scorer<'a> {
    id_net: &'a IdentityNet,
    lpips: Option<&'a Lpips>,
}

impl Scorer<'_> {
    fn row(
        &self,
        ws: &Workspace,
        image: &str,
        method: Method,
        target: &image::RgbImage,
        inverted: &image::RgbImage,
        seconds: f64,
    ) -> InversionRow {
        let q = quality(inverted, target);
        let lpips = self.lpips.map(|l| {
            let dev = ws.burn_device();
            let d = l.distance(
                rgb_images_to_tensor(std::slice::from_ref(target), dev),
                rgb_images_to_tensor(std::slice::from_ref(inverted), dev),
            );
            tensor_to_vec(d.total)[0] as f64
        });
        InversionRow {
            image: image.to_string(),
            method,
            ssim: q.ssim,
            psnr: q.psnr,
            mse: q.mse,
            lpips,
            id: self.id_net.similarity(target, inverted) as f64,
            seconds,
        }
    }
}

/// The networks the evaluation measures with: identity, LPIPS when its weights are at hand,
/// the attribute networks (for attribute sliders) when they are.
pub struct Measures<'a> {
    pub id_net: &'a IdentityNet,
    pub lpips: Option<&'a Lpips>,
    pub attributes: Option<&'a AttributeNets>,
}

/// Runs the evaluation; `progress` hears a line per image and method.
pub fn evaluate(
    ws: &mut Workspace,
    measures: &Measures,
    config: &EvalConfig,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Report> {
    let Measures {
        id_net,
        lpips,
        attributes,
    } = *measures;
    let scorer = Scorer { id_net, lpips };
    let directions = ws.slider_count();
    let attribute_dirs = match attributes {
        Some(_) => attribute_response::attribute_directions(ws),
        None => Vec::new(),
    };
    let mut attribute_sums = vec![attribute_response::Sums::default(); attribute_dirs.len()];
    let mut report = Report::default();
    // per (direction, sign): the sum of drifts and how many photos
    let mut drift = vec![(0.0, 0usize); 2 * directions];
    for path in &config.images {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let start = Instant::now();
        let id = match ws.open_photo(path, config.framing, 0) {
            Ok(id) => id,
            Err(e) => {
                progress(&format!("{name}: skipped ({e:#})"));
                report.skipped.push(format!("{name}: {e:#}"));
                continue;
            }
        };
        let fse_seconds = start.elapsed().as_secs_f64();
        let rec = ws.reconstruction(id)?;
        if config.methods.contains(&Method::Fse) {
            let row = scorer.row(ws, &name, Method::Fse, &rec.target, &rec.image, fse_seconds);
            progress(&format!("{name}: fse {}", report::summary(&row)));
            report.inversions.push(row);
        }
        if directions > 0 {
            photo_drift(ws, id_net, id, &rec.image, config.amount, &mut drift)?;
        }
        if let Some(nets) = attributes {
            attribute_response::add_photo(ws, nets, id, &attribute_dirs, &mut attribute_sums)?;
        }
        let project = config.methods.contains(&Method::Project);
        let pti = config.methods.contains(&Method::Pti);
        if project || pti {
            let rows = tune(ws, &scorer, id, &name, &rec.target, config, (project, pti))?;
            for row in rows {
                progress(&format!(
                    "{name}: {} {}",
                    row.method.name(),
                    report::summary(&row)
                ));
                report.inversions.push(row);
            }
        }
        ws.close_photo(id)?;
    }
    if directions > 0 {
        progress(&format!(
            "edit strength on {} generated faces",
            config.edit_faces
        ));
        let strength = ws.editability(config.edit_faces, config.amount)?;
        report.edits = edit_rows(&strength, &drift);
    }
    if let (Some(nets), false) = (attributes, attribute_dirs.is_empty()) {
        progress("attribute sliders: scoring their edits");
        let generated =
            attribute_response::generated(ws, nets, &attribute_dirs, config.edit_faces)?;
        report.attributes =
            attribute_response::rows(ws, &attribute_dirs, &attribute_sums, &generated);
    }
    Ok(report)
}

/// Adds the identity drift of each direction's edit at ±amount of photo `id`.
fn photo_drift(
    ws: &mut Workspace,
    id_net: &IdentityNet,
    id: PhotoId,
    recon: &image::RgbImage,
    amount: f32,
    drift: &mut [(f64, usize)],
) -> anyhow::Result<()> {
    let mut edits = Vec::with_capacity(drift.len());
    for k in 0..drift.len() / 2 {
        for alpha in [-amount, amount] {
            ws.set_sliders(id, &[(k, alpha)])?;
            edits.push(ws.edited(id)?);
        }
    }
    ws.set_sliders(id, &[])?;
    let base = id_net.embed(std::slice::from_ref(recon)).remove(0);
    for (slot, e) in drift.iter_mut().zip(id_net.embed(&edits)) {
        let cos: f32 = e.iter().zip(&base).map(|(a, b)| a * b).sum();
        slot.0 += 1.0 - cos as f64;
        slot.1 += 1;
    }
    Ok(())
}

/// PTI on photo `id`: the projected pivot with the base generator (`project`), then the
/// tuned generator (`pti`; tuning is skipped when only the projection is asked for).
fn tune(
    ws: &mut Workspace,
    scorer: &Scorer,
    id: PhotoId,
    name: &str,
    target: &image::RgbImage,
    config: &EvalConfig,
    (project, pti): (bool, bool),
) -> anyhow::Result<Vec<InversionRow>> {
    let settings = PersonalizeSettings {
        pivot: PivotSource::Project,
        projection_steps: config.projection_steps,
        tuning: TuningConfig {
            steps: if pti { config.tuning_steps } else { 0 },
            ..TuningConfig::default()
        },
        ..PersonalizeSettings::default()
    };
    let outcome = ws
        .prepare_personalization(&[id], &settings)?
        .run(&CancelToken::default(), |_| {})
        .with_context(|| format!("personalizing {name}"))?;
    let mut rows = Vec::new();
    if project {
        let g = ws.generator()?;
        let pivot = g.synthesize(outcome.pivots.clone(), &ws.noise, None, &[])?;
        let image = tensor_to_rgb_images(pivot.image).remove(0);
        rows.push(scorer.row(
            ws,
            name,
            Method::Project,
            target,
            &image,
            outcome.seconds_projection,
        ));
    }
    if pti {
        let seconds = outcome.seconds_projection + outcome.seconds_tuning;
        ws.finish_personalization(outcome)?;
        let rec = ws.reconstruction(id)?;
        rows.push(scorer.row(ws, name, Method::Pti, target, &rec.image, seconds));
    }
    Ok(rows)
}

fn edit_rows(strength: &[Editability], drift: &[(f64, usize)]) -> Vec<EditRow> {
    strength
        .iter()
        .zip(drift)
        .map(|(s, (sum, n))| EditRow {
            direction: s.direction.clone(),
            amount: s.amount,
            id_drift: if *n == 0 { f64::NAN } else { sum / *n as f64 },
            strength: s.strength,
            edit_psnr: s.edit_psnr,
        })
        .collect()
}

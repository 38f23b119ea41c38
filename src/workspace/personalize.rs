//! Personalize (PTI) as a job: `prepare` takes what tuning needs from the workspace (a copy of
//! the generator, the photos' targets and pivots), `run` works on its own — on any thread,
//! while the workspace keeps rendering and editing — and `finish` gives the tuned generator to
//! the photos it was tuned on. Cancelling or failing leaves the workspace untouched.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use burn::tensor::Tensor;

use super::{PhotoId, Workspace};
use crate::edit::Codes;
use crate::model::lpips::TrunkKind;
use crate::model::{Generator, NoiseMode};
use crate::model_source::{PerceptualChoice, load_lpips, load_perceptual};
use crate::pti::{
    CancelToken, Locality, Perceptual, ProjectionConfig, TuningConfig, TuningProgress,
    pivotal_tuning, project,
};

/// Where the pivot code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PivotSource {
    /// PTI's W-space projection (slow, the paper's choice).
    Project,
    /// The Feature-Style encoder's w+ (fast: no projection).
    Encoder,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonalizeSettings {
    pub pivot: PivotSource,
    /// Projection steps (PTI: 450), with `PivotSource::Project`.
    pub projection_steps: usize,
    /// Tuning steps, learning rate, early stop; `locality` None = on for several photos only
    /// (PTI's multi-identity setting), off for one.
    pub tuning: TuningConfig,
    pub locality: Option<Locality>,
    pub perceptual: PerceptualChoice,
    /// LPIPS weight files named by the user (trunk, heads), used instead of `perceptual`.
    pub lpips_files: Option<(PathBuf, Option<PathBuf>)>,
}

impl Default for PersonalizeSettings {
    fn default() -> Self {
        Self {
            pivot: PivotSource::Project,
            projection_steps: ProjectionConfig::default().steps,
            tuning: TuningConfig::default(),
            locality: None,
            perceptual: PerceptualChoice::Auto,
            lpips_files: None,
        }
    }
}

/// What a job reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum JobProgress {
    /// Projecting photo `photo` of `photos` into W.
    Projecting {
        photo: usize,
        photos: usize,
        step: usize,
        steps: usize,
        loss: f32,
    },
    Tuning(TuningProgress),
}

/// Everything tuning needs, taken from the workspace.
pub struct TuningJob {
    photos: Vec<PhotoId>,
    generator: Generator,
    /// `[N,3,R,R]`: the photos at the generator's side.
    target: Tensor<4>,
    /// The encoder's w+ of each photo (the pivots with `PivotSource::Encoder`).
    encoder_wplus: Tensor<3>,
    k: usize,
    settings: PersonalizeSettings,
    perceptual: Perceptual,
}

/// A finished job: the tuned generator, the pivots, and how well it reproduces the photos.
pub struct TuningOutcome {
    pub photos: Vec<PhotoId>,
    pub generator: Generator,
    /// `[N, n_latent, S]`
    pub pivots: Tensor<3>,
    pub k: usize,
    pub steps: usize,
    pub seconds_projection: f64,
    pub seconds_tuning: f64,
    pub perceptual: &'static str,
    pub mse_before: f32,
    pub mse_after: f32,
    pub perceptual_before: Option<f32>,
    pub perceptual_after: Option<f32>,
}

impl Workspace {
    /// Takes what tuning `photos` together needs (all must be open, none may be tuned already
    /// unless with exactly these photos: tuning starts from the base generator).
    pub fn prepare_personalization(
        &self,
        photos: &[PhotoId],
        settings: &PersonalizeSettings,
    ) -> anyhow::Result<TuningJob> {
        if photos.is_empty() {
            bail!("choose at least one photo to personalize");
        }
        let mut targets = Vec::new();
        let mut wplus = Vec::new();
        let mut k = None;
        for &id in photos {
            let p = self.photo(id)?;
            targets.push(p.target()?.clone());
            wplus.push(p.codes.wplus.clone());
            k = Some(p.codes.k);
        }
        TuningJob::new(
            photos.to_vec(),
            self.generator()?.clone(),
            Tensor::cat(targets, 0),
            Tensor::cat(wplus, 0),
            k.expect("at least one photo"),
            settings,
        )
    }

    /// The tuned generator goes to the photos of the job that are still open; each photo's
    /// codes become (pivot, the tuned generator's activation at K). Returns the photos given it.
    pub fn finish_personalization(
        &mut self,
        outcome: TuningOutcome,
    ) -> anyhow::Result<Vec<PhotoId>> {
        if self.generator()?.identity != outcome.generator.identity {
            bail!("the generator changed while personalizing: the result was dropped");
        }
        let tuned = Arc::new(outcome.generator);
        let open: Vec<(usize, PhotoId)> = outcome
            .photos
            .iter()
            .enumerate()
            .filter(|(_, id)| self.photo(**id).is_ok())
            .map(|(i, id)| (i, *id))
            .collect();
        if open.is_empty() {
            bail!("the personalized photos were closed: the result was dropped");
        }
        let tuned_with: Vec<PhotoId> = open.iter().map(|(_, id)| *id).collect();
        // the photos tuned before with others lose that generator
        for &id in &tuned_with {
            self.revert(id)?;
        }
        for &(i, id) in &open {
            let wplus = outcome.pivots.clone().narrow(0, i, 1);
            let feature = tuned.feature_at(wplus.clone(), &NoiseMode::Stored, outcome.k)?;
            let photo = self.photo_mut(id)?;
            photo.personalization = Some(super::photo::Personalization {
                generator: tuned.clone(),
                codes: Codes {
                    wplus,
                    feature,
                    k: outcome.k,
                },
                tuned_with: tuned_with.clone(),
                steps: outcome.steps,
                seconds: outcome.seconds_projection + outcome.seconds_tuning,
                perceptual: outcome.perceptual.to_string(),
                residual: Default::default(),
            });
        }
        Ok(tuned_with)
    }

    /// prepare → run → finish on this thread.
    pub fn personalize(
        &mut self,
        photos: &[PhotoId],
        settings: &PersonalizeSettings,
        cancel: &CancelToken,
        on_progress: impl FnMut(&JobProgress),
    ) -> anyhow::Result<TuningReport> {
        let outcome = self
            .prepare_personalization(photos, settings)?
            .run(cancel, on_progress)?;
        let report = TuningReport::of(&outcome);
        self.finish_personalization(outcome)?;
        Ok(report)
    }
}

/// The figures of a finished personalization, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TuningReport {
    pub perceptual: &'static str,
    pub mse_before: f32,
    pub mse_after: f32,
    pub perceptual_before: Option<f32>,
    pub perceptual_after: Option<f32>,
    pub steps_tuning: usize,
    pub seconds_projection: f64,
    pub seconds_tuning: f64,
}

impl TuningReport {
    pub fn of(o: &TuningOutcome) -> Self {
        Self {
            perceptual: o.perceptual,
            mse_before: o.mse_before,
            mse_after: o.mse_after,
            perceptual_before: o.perceptual_before,
            perceptual_after: o.perceptual_after,
            steps_tuning: o.steps,
            seconds_projection: o.seconds_projection,
            seconds_tuning: o.seconds_tuning,
        }
    }
}

impl TuningJob {
    /// A job tuning a copy of `generator` to `target` (`[N,3,R,R]` at the generator's side),
    /// with the encoder's `wplus` of each image; `photos` receive the result (none: a video's
    /// key frames).
    pub fn new(
        photos: Vec<PhotoId>,
        generator: Generator,
        target: Tensor<4>,
        encoder_wplus: Tensor<3>,
        k: usize,
        settings: &PersonalizeSettings,
    ) -> anyhow::Result<TuningJob> {
        let device = target.device();
        let perceptual = match &settings.lpips_files {
            None => load_perceptual(settings.perceptual, &device)?,
            Some((trunk, heads)) => Perceptual::Lpips(Box::new(load_lpips(
                trunk,
                heads.as_deref(),
                TrunkKind::Alex,
                &device,
            )?)),
        };
        Ok(TuningJob {
            photos,
            generator,
            target,
            encoder_wplus,
            k,
            settings: settings.clone(),
            perceptual,
        })
    }

    pub fn photos(&self) -> &[PhotoId] {
        &self.photos
    }

    pub fn perceptual_name(&self) -> &'static str {
        self.perceptual.name()
    }

    /// Finds the pivots (projection or the encoder's codes) and tunes a copy of the generator
    /// to them. `cancel` stops it at the next step.
    pub fn run(
        self,
        cancel: &CancelToken,
        mut on_progress: impl FnMut(&JobProgress),
    ) -> anyhow::Result<TuningOutcome> {
        let g = &self.generator;
        let n = self.target.dims()[0];
        let start = std::time::Instant::now();
        let pivots = match self.settings.pivot {
            PivotSource::Encoder => self.encoder_wplus.clone(),
            PivotSource::Project => {
                let config = ProjectionConfig {
                    steps: self.settings.projection_steps,
                    ..ProjectionConfig::default()
                };
                let mut pivots = Vec::new();
                for i in 0..n {
                    let one = self.target.clone().narrow(0, i, 1);
                    let p = project(g, &one, &self.perceptual, &config, cancel, |s, t, l| {
                        on_progress(&JobProgress::Projecting {
                            photo: i,
                            photos: n,
                            step: s,
                            steps: t,
                            loss: l,
                        })
                    })
                    .context("projecting")?;
                    pivots.push(p.wplus);
                }
                Tensor::cat(pivots, 0)
            }
        };
        let seconds_projection = start.elapsed().as_secs_f64();
        let measure = |g: &Generator| -> anyhow::Result<(f32, Option<f32>)> {
            let img = g
                .synthesize(pivots.clone(), &NoiseMode::Stored, None, &[])?
                .image;
            let mse: f32 = (img.clone() - self.target.clone())
                .square()
                .mean()
                .into_scalar();
            let p = self
                .perceptual
                .distance(img, self.target.clone())
                .map(|d| d.into_scalar());
            Ok((mse, p))
        };
        let (mse_before, perceptual_before) = measure(g)?;
        let locality = self.settings.locality.unwrap_or(if n > 1 {
            Locality::paper()
        } else {
            Locality::Off
        });
        let config = TuningConfig {
            locality,
            ..self.settings.tuning
        };
        let tuned = pivotal_tuning(
            g,
            &pivots,
            &self.target,
            &self.perceptual,
            &config,
            cancel,
            |p| on_progress(&JobProgress::Tuning(p.clone())),
        )?;
        let (mse_after, perceptual_after) = measure(&tuned.generator)?;
        Ok(TuningOutcome {
            photos: self.photos,
            generator: tuned.generator,
            pivots,
            k: self.k,
            steps: tuned.steps,
            seconds_projection,
            seconds_tuning: tuned.seconds,
            perceptual: self.perceptual.key(),
            mse_before,
            mse_after,
            perceptual_before,
            perceptual_after,
        })
    }
}

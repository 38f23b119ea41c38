//! Editing a clip frame by frame (FSE section 5.4): each frame's face is found and FFHQ-aligned
//! with a crop steadied over time, inverted by the encoder (in batches, no per-frame
//! optimisation), given the same edit by Eq. 1 (slider values, optionally a layer-range mix
//! with another face's codes, optionally on a generator tuned by PTI to a few key frames
//! together), and pasted back into its frame. Frames where no face is found, and which no
//! nearby crop covers, pass through unchanged. The report holds FSE Appendix C's identity
//! consistency (mean identity similarity of each frame to the first) for the source, the
//! reconstruction and the edit.

use std::ops::Range;
use std::time::Instant;

use anyhow::{Context, bail};
use image::RgbImage;
use serde::Serialize;

use burn::tensor::{Device, Tensor};

use super::Workspace;
use super::personalize::{JobProgress, PersonalizeSettings, TuningJob, TuningReport};
use crate::edit::directions::DirectionSet;
use crate::edit::{Codes, feature_edit, inversion, mixing};
use crate::face::{Face, FaceDetector, IdentityNet, Quad, align, paste_back};
use crate::imaging::tensor_to_rgb_images;
use crate::metrics::quality;
use crate::model::Generator;
use crate::model::NoiseMode;
use crate::model::encoder::FeatureStyleEncoder;
use crate::pti::CancelToken;
use crate::video::Clip;
use crate::video::steady::{CropPose, Jitter, Steadying, jitter, steady_track};

/// Another face's codes mixed into every frame: w+ entries `layers` from it, F by Eq. 1.
#[derive(Clone)]
pub struct VideoMix {
    pub codes: Codes,
    pub name: String,
    pub layers: Range<usize>,
}

/// What is done to every frame.
#[derive(Clone)]
pub struct VideoSettings {
    /// Slider values of the active direction set, by name.
    pub sliders: Vec<(String, f32)>,
    pub mix: Option<VideoMix>,
    pub steadying: Steadying,
    /// Frames inverted together.
    pub batch: usize,
    /// PTI on this many key frames together before editing (None: off).
    pub personalize: Option<(usize, PersonalizeSettings)>,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            sliders: Vec::new(),
            mix: None,
            steadying: Steadying::default(),
            batch: 8,
            personalize: None,
        }
    }
}

/// The stage a running video job is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoStage {
    Detecting,
    Personalizing,
    Editing,
    Measuring,
}

impl VideoStage {
    pub fn label(self) -> &'static str {
        match self {
            Self::Detecting => "finding faces",
            Self::Personalizing => "personalizing",
            Self::Editing => "inverting and editing",
            Self::Measuring => "measuring",
        }
    }
}

/// Progress: `done` of `total` in `stage`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoProgress {
    pub stage: VideoStage,
    pub done: usize,
    pub total: usize,
}

/// Seconds per frame spent in each stage (decode and encode are the front end's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageSeconds {
    pub decode: f64,
    pub detect: f64,
    pub align: f64,
    pub personalize: f64,
    pub invert: f64,
    pub edit: f64,
    pub paste: f64,
    pub encode: f64,
    /// Every stage above but `measure` (decode and encode are zero unless the front end
    /// timed and added them, as `facestyle video` does).
    pub total: f64,
    /// Measuring for the report, the reconstructions drawn for it included (not part of
    /// `total`).
    pub measure: f64,
}

/// Mean reconstruction quality of the frames with a face.
#[derive(Debug, Clone, Serialize)]
pub struct ReconstructionFigures {
    pub psnr: f64,
    pub ssim: f64,
    /// Identity similarity of reconstruction and source crop (the bundled identity network).
    pub identity: Option<f32>,
}

/// FSE Appendix C: mean identity similarity of each frame's face to the first frame's.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityConsistency {
    pub source: f32,
    pub reconstruction: f32,
    pub edit: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoReport {
    pub frames: usize,
    pub fps: f32,
    pub width: u32,
    pub height: u32,
    /// Frames where the detector found the face.
    pub faces_found: usize,
    /// Frames without a detection that got a crop from their neighbours.
    pub frames_bridged: usize,
    /// Frames passed through unchanged (no face near).
    pub frames_passed_through: usize,
    pub sliders: Vec<(String, f32)>,
    pub mix: Option<String>,
    pub personalization: Option<TuningReport>,
    pub steadying: Steadying,
    /// Shake of the crop square: as detected, and as used.
    pub jitter_detected: Jitter,
    pub jitter_steadied: Jitter,
    pub reconstruction: ReconstructionFigures,
    pub identity_consistency: Option<IdentityConsistency>,
    pub seconds_per_frame: StageSeconds,
    pub audio: &'static str,
}

/// The face to follow in a frame: the one nearest the previous crop, else the largest.
fn pick_face(faces: Vec<Face>, previous: Option<&CropPose>) -> Option<Face> {
    let pose = |f: &Face| CropPose::of(&Quad::ffhq(&f.landmarks));
    let Some(p) = previous else {
        return faces.into_iter().next();
    };
    let distance = |f: &Face| {
        let q = pose(f);
        (q.centre[0] - p.centre[0]).hypot(q.centre[1] - p.centre[1])
    };
    let nearest = faces
        .iter()
        .filter(|f| distance(f) < 0.5 * p.side)
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .cloned();
    nearest.or_else(|| faces.into_iter().next())
}

fn mean_consistency(embeddings: &[Vec<f32>]) -> f32 {
    let Some(first) = embeddings.first() else {
        return 1.0;
    };
    if embeddings.len() < 2 {
        return 1.0;
    }
    let sum: f32 = embeddings[1..]
        .iter()
        .map(|e| e.iter().zip(first).map(|(a, b)| a * b).sum::<f32>())
        .sum();
    sum / (embeddings.len() - 1) as f32
}

/// Everything a video edit needs, copied from the workspace: it runs on any thread while the
/// workspace goes on.
pub struct VideoJob {
    generator: Generator,
    encoder: FeatureStyleEncoder,
    detector: FaceDetector,
    directions: Option<DirectionSet>,
    /// Slider (index, value) pairs of `settings.sliders`.
    sliders: Vec<(usize, f32)>,
    noise: NoiseMode,
    settings: VideoSettings,
    side: u32,
    device: Device,
}

impl Workspace {
    /// Takes what editing a video as `settings` say needs (the models, the direction set).
    pub fn prepare_video(&self, settings: &VideoSettings) -> anyhow::Result<VideoJob> {
        let detector = self
            .detector
            .clone()
            .context("video editing needs the face detector (weights/mtcnn)")?;
        let sliders = match self.directions.as_ref() {
            Some(d) => settings
                .sliders
                .iter()
                .map(|(name, v)| Ok((d.set.index_of(name)?, *v)))
                .collect::<anyhow::Result<Vec<_>>>()?,
            None if settings.sliders.is_empty() => Vec::new(),
            None => bail!("set sliders with a direction set loaded"),
        };
        Ok(VideoJob {
            generator: self.generator()?.clone(),
            encoder: self.encoder()?.clone(),
            detector,
            directions: self.directions.as_ref().map(|d| d.set.clone()),
            sliders,
            noise: self.noise.clone(),
            settings: settings.clone(),
            side: self.photo_side()?,
            device: self.burn_device().clone(),
        })
    }

    /// prepare → run on this thread.
    pub fn edit_video(
        &self,
        clip: Clip,
        settings: &VideoSettings,
        cancel: &CancelToken,
        on_progress: impl FnMut(VideoProgress),
    ) -> anyhow::Result<(Clip, VideoReport)> {
        self.prepare_video(settings)?.run(clip, cancel, on_progress)
    }
}

impl VideoJob {
    fn invert(&self, crops: &[RgbImage]) -> anyhow::Result<(Tensor<4>, Codes)> {
        super::invert_crops(&self.generator, &self.encoder, crops, &self.device)
    }

    /// Edits every frame of `clip`; returns the edited clip (same frames, size and rate) and
    /// the report. `cancel` stops it between frames and batches.
    pub fn run(
        &self,
        clip: Clip,
        cancel: &CancelToken,
        mut on_progress: impl FnMut(VideoProgress),
    ) -> anyhow::Result<(Clip, VideoReport)> {
        let n = clip.frames.len();
        let (fps, (width, height)) = (clip.fps, clip.size());
        let (g, settings, sliders, side) =
            (&self.generator, &self.settings, &self.sliders, self.side);
        let detector = &self.detector;
        let mut secs = StageSeconds::default();
        let check = |cancel: &CancelToken| {
            if cancel.is_cancelled() {
                bail!("cancelled: nothing was written");
            }
            Ok(())
        };

        // 1. faces and steady crops
        let t = Instant::now();
        let mut found: Vec<Option<CropPose>> = Vec::with_capacity(n);
        let mut previous_face: Option<Face> = None;
        for (i, frame) in clip.frames.iter().enumerate() {
            check(cancel)?;
            // the face of the previous frame is followed (O-Net on its box), else searched for
            let face = match previous_face
                .as_ref()
                .and_then(|f| detector.follow(frame, f))
            {
                Some(f) => Some(f),
                None => {
                    let last_seen = found.iter().rev().flatten().next().copied();
                    pick_face(detector.detect(frame), last_seen.as_ref())
                }
            };
            found.push(
                face.as_ref()
                    .map(|f| CropPose::of(&Quad::ffhq(&f.landmarks))),
            );
            previous_face = face;
            on_progress(VideoProgress {
                stage: VideoStage::Detecting,
                done: i + 1,
                total: n,
            });
        }
        secs.detect = t.elapsed().as_secs_f64();
        let track = steady_track(&found, settings.steadying);
        let with_face: Vec<usize> = (0..n).filter(|&i| track[i].is_some()).collect();
        if with_face.is_empty() {
            bail!("no face was found in any frame");
        }
        let quads: Vec<Option<Quad>> = track.iter().map(|p| p.map(|p| p.quad())).collect();
        let crop = |frames: &[RgbImage], i: usize| align(&frames[i], quads[i].unwrap(), side).image;

        // 2. optionally, the generator tuned to key frames together
        let mut personalization = None;
        let tuned: Option<Generator> = match &settings.personalize {
            None => None,
            Some((keys, ps)) => {
                check(cancel)?;
                let t = Instant::now();
                on_progress(VideoProgress {
                    stage: VideoStage::Personalizing,
                    done: 0,
                    total: 1,
                });
                let m = with_face.len();
                let keys = (*keys).clamp(1, m);
                let picks: Vec<RgbImage> = (0..keys)
                    .map(|k| crop(&clip.frames, with_face[(k * m) / keys + m / (2 * keys)]))
                    .collect();
                let (target, codes) = self.invert(&picks)?;
                let job = TuningJob::new(Vec::new(), g.clone(), target, codes.wplus, codes.k, ps)?;
                let outcome = job.run(cancel, |p| {
                    if let JobProgress::Tuning(t) = p {
                        on_progress(VideoProgress {
                            stage: VideoStage::Personalizing,
                            done: t.step,
                            total: t.steps,
                        });
                    }
                })?;
                personalization = Some(TuningReport::of(&outcome));
                secs.personalize = t.elapsed().as_secs_f64();
                Some(outcome.generator)
            }
        };
        let gen_used = tuned.as_ref().unwrap_or(g);

        // 3. batch by batch: align, invert, edit, paste back, measure (nothing of a batch is
        // kept but the pasted frames and the measures)
        let mix_w = settings.mix.as_ref().map(|m| m.codes.wplus.clone());
        let mut measures = Measures::new(&self.device);
        let batch = settings.batch.max(1);
        let edits = !sliders.is_empty() || mix_w.is_some();
        let mut frames = clip.frames;
        for (b, chunk) in with_face.chunks(batch).enumerate() {
            check(cancel)?;
            let t = Instant::now();
            let crops: Vec<RgbImage> = chunk.iter().map(|&i| crop(&frames, i)).collect();
            secs.align += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (target, mut codes) = self.invert(&crops)?;
            if let Some(tuned) = &tuned {
                // as for a personalized photo: the tuned generator draws each frame's w+ with
                // its own activation at K (the encoder's F belongs to the base generator)
                codes.feature = tuned.feature_at(codes.wplus.clone(), &self.noise, codes.k)?;
            }
            secs.invert += t.elapsed().as_secs_f64();
            // the reconstruction is the output when nothing is edited, else it is drawn for
            // the report only (measuring time)
            let t = Instant::now();
            let recon =
                tensor_to_rgb_images(inversion::reconstruct(gen_used, &codes, &self.noise)?);
            if edits {
                secs.measure += t.elapsed().as_secs_f64();
            } else {
                secs.edit += t.elapsed().as_secs_f64();
            }
            let t = Instant::now();
            let edited = if edits {
                let mut w = codes.wplus.clone();
                if let (Some(wb), Some(m)) = (&mix_w, &settings.mix) {
                    let wb = wb.clone().repeat_dim(0, chunk.len());
                    w = mixing::style_mixed_wplus(g, &w, &wb, m.layers.clone())?;
                }
                if !sliders.is_empty() {
                    let set = self.directions.as_ref().expect("sliders need a set");
                    w = set.apply(g, w, sliders)?;
                }
                let residual = feature_edit::feature_residual(gen_used, &codes, &self.noise)?;
                tensor_to_rgb_images(feature_edit::edited_image_with_residual(
                    gen_used,
                    w,
                    residual,
                    codes.k,
                    &self.noise,
                    None,
                )?)
            } else {
                recon.clone()
            };
            secs.edit += t.elapsed().as_secs_f64();
            let t = Instant::now();
            for (face, &i) in edited.iter().zip(chunk) {
                frames[i] = paste_back(&frames[i], face, &quads[i].unwrap());
            }
            secs.paste += t.elapsed().as_secs_f64();
            let t = Instant::now();
            measures.add(&tensor_to_rgb_images(target), &recon, &edited);
            secs.measure += t.elapsed().as_secs_f64();
            on_progress(VideoProgress {
                stage: VideoStage::Editing,
                done: ((b + 1) * batch).min(with_face.len()),
                total: with_face.len(),
            });
        }
        let (reconstruction, identity_consistency) = measures.finish();

        let per_frame = 1.0 / n as f64;
        for s in [
            &mut secs.detect,
            &mut secs.align,
            &mut secs.personalize,
            &mut secs.invert,
            &mut secs.edit,
            &mut secs.paste,
            &mut secs.measure,
        ] {
            *s *= per_frame;
        }
        secs.total =
            secs.detect + secs.align + secs.personalize + secs.invert + secs.edit + secs.paste;
        let report = VideoReport {
            frames: n,
            fps,
            width,
            height,
            faces_found: found.iter().filter(|f| f.is_some()).count(),
            frames_bridged: (0..n)
                .filter(|&i| found[i].is_none() && track[i].is_some())
                .count(),
            frames_passed_through: n - with_face.len(),
            sliders: settings.sliders.clone(),
            mix: settings.mix.as_ref().map(|m| {
                format!(
                    "w+ entries {}..{} of {}",
                    m.layers.start, m.layers.end, m.name
                )
            }),
            personalization,
            steadying: settings.steadying,
            jitter_detected: jitter(&found),
            jitter_steadied: jitter(&track),
            reconstruction,
            identity_consistency,
            seconds_per_frame: secs,
            audio: "not read: the output is silent",
        };
        Ok((Clip { frames, fps }, report))
    }
}

/// Reconstruction quality and identity embeddings, gathered batch by batch.
struct Measures {
    id_net: Option<IdentityNet>,
    psnr: f64,
    ssim: f64,
    frames: usize,
    /// Per face frame: source, reconstruction, edit (128 values each).
    embeddings: [Vec<Vec<f32>>; 3],
}

impl Measures {
    fn new(device: &Device) -> Self {
        Self {
            id_net: crate::model_source::load_identity_net(device).ok(),
            psnr: 0.0,
            ssim: 0.0,
            frames: 0,
            embeddings: Default::default(),
        }
    }

    fn add(&mut self, source: &[RgbImage], recon: &[RgbImage], edited: &[RgbImage]) {
        for (r, s) in recon.iter().zip(source) {
            let q = quality(r, s);
            self.psnr += q.psnr;
            self.ssim += q.ssim;
            self.frames += 1;
        }
        if let Some(net) = &self.id_net {
            for (all, images) in self.embeddings.iter_mut().zip([source, recon, edited]) {
                all.extend(net.embed(images));
            }
        }
    }

    fn finish(self) -> (ReconstructionFigures, Option<IdentityConsistency>) {
        let n = self.frames.max(1) as f64;
        let [es, er, ee] = &self.embeddings;
        let (identity, consistency) = match &self.id_net {
            None => (None, None),
            Some(_) => {
                let id = es
                    .iter()
                    .zip(er)
                    .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                    .sum::<f32>()
                    / es.len().max(1) as f32;
                (
                    Some(id),
                    Some(IdentityConsistency {
                        source: mean_consistency(es),
                        reconstruction: mean_consistency(er),
                        edit: mean_consistency(ee),
                    }),
                )
            }
        };
        (
            ReconstructionFigures {
                psnr: self.psnr / n,
                ssim: self.ssim / n,
                identity,
            },
            consistency,
        )
    }
}

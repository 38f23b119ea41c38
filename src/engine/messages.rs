//! What the UI and the engine say to each other.

use std::path::PathBuf;

use crate::edit::directions::DirectionInfo;
use crate::metrics::Quality;
use crate::model::GeneratorConfig;
use crate::model_source::ModelOrigin;
use crate::pti::{CancelToken, TuningProgress};
use crate::workspace::TuningOutcome;

/// How a personalization job ended: its outcome, and the token it ran under.
pub struct FinishedJob {
    pub outcome: anyhow::Result<TuningOutcome>,
    pub cancel: CancelToken,
}

impl std::fmt::Debug for FinishedJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Ok(o) => write!(f, "FinishedJob(tuned {} steps)", o.steps),
            Err(e) => write!(f, "FinishedJob({e:#})"),
        }
    }
}

/// A face the generator should draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderParams {
    pub seed: u64,
    pub truncation: f32,
}

#[derive(Debug)]
pub enum Request {
    /// Draw a face; stale renders still queued are dropped in favour of the newest.
    Render {
        params: RenderParams,
        id: u64,
    },
    /// Swap the generator for the one in this file.
    LoadGenerator(PathBuf),
    /// Use the Feature-Style encoder in this file (e.g. the official `143_enc.pth`).
    LoadEncoder(PathBuf),
    /// Invert a photo with the Feature-Style encoder; its codes become the ones edited.
    Invert {
        photo: PathBuf,
        face: usize,
    },
    /// Redraw the inverted photo with these slider values (direction index, α); like renders,
    /// only the newest queued edit is drawn.
    Edit {
        sliders: Vec<(usize, f32)>,
        id: u64,
    },
    /// Use the direction set in this file.
    LoadDirections(PathBuf),
    /// Pivotal tuning on the inverted photo; `cancel` stops it and keeps the generator as it was.
    Personalize {
        steps: usize,
        cancel: CancelToken,
    },
    /// Go back to the generator as it was before personalization.
    Revert,
    /// Save the whole photo with its face as edited (the last `Edit`'s sliders) pasted back.
    ExportFull(PathBuf),
    /// A personalization running on its own thread has ended (sent by the engine itself).
    #[doc(hidden)]
    JobFinished(FinishedJob),
    /// Panics inside the request loop: how tests check that the engine survives a bug.
    #[doc(hidden)]
    InjectFault,
    Shutdown,
}

impl Request {
    /// What the user asked for, in words (for error messages).
    pub fn action(&self) -> &'static str {
        match self {
            Request::Render { .. } => "drawing a face",
            Request::LoadGenerator(_) => "opening the generator",
            Request::LoadEncoder(_) => "opening the encoder",
            Request::Invert { .. } => "inverting the photo",
            Request::Edit { .. } => "applying the sliders",
            Request::LoadDirections(_) => "opening the directions",
            Request::Personalize { .. } => "personalizing",
            Request::Revert => "reverting",
            Request::ExportFull(_) => "exporting",
            Request::JobFinished(_) => "finishing the personalization",
            Request::InjectFault => "a test fault",
            Request::Shutdown => "shutting down",
        }
    }
}

/// An 8-bit RGBA frame, ready to become a texture.
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: u64,
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
    pub millis: f64,
}

impl Frame {
    pub fn from_rgb(id: u64, img: image::RgbImage, millis: f64) -> Self {
        let (width, height) = (img.width() as usize, img.height() as usize);
        Self {
            id,
            width,
            height,
            rgba: image::DynamicImage::ImageRgb8(img).into_rgba8().into_raw(),
            millis,
        }
    }

    pub fn to_rgba_image(&self) -> Option<image::RgbaImage> {
        image::RgbaImage::from_raw(self.width as u32, self.height as u32, self.rgba.clone())
    }
}

/// A photo and its FSE reconstruction.
#[derive(Debug, Clone)]
pub struct Inversion {
    pub photo: PathBuf,
    /// The photo's square crop at the generator's resolution: what the reconstruction is
    /// measured against (the encoder may have seen it at a larger side).
    pub input: Frame,
    pub reconstruction: Frame,
    pub quality: Quality,
    /// Whether a face was found and FFHQ-aligned (else the centre square was used).
    pub aligned: bool,
    /// Faces found (largest first) and the one shown.
    pub faces: usize,
    pub face: usize,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// The engine is up with this model on this device.
    Ready {
        device: String,
        origin: ModelOrigin,
        config: GeneratorConfig,
    },
    /// A face drawn from a seed.
    Frame(RenderParams, Frame),
    Inverted(Box<Inversion>),
    /// The inverted photo with the sliders applied.
    Edited(Frame),
    /// One step of a running personalization.
    Tuning(TuningProgress),
    /// Personalization finished (the photo pane is redrawn with the tuned generator).
    Personalized {
        steps: usize,
        seconds: f64,
        perceptual: String,
    },
    /// Something done that the status bar should tell (a file saved, a model loaded).
    Notice(String),
    /// Personalization was cancelled or reverted: the original generator is in use.
    Unpersonalized,
    /// The sliders available for the loaded generator.
    Directions(Vec<DirectionInfo>, String),
    /// Something failed; the previous state is kept.
    Error(String),
}

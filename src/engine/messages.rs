//! What the UI and the engine say to each other.

use std::ops::Range;
use std::path::PathBuf;

use crate::edit::directions::DirectionInfo;
use crate::metrics::Quality;
use crate::model::GeneratorConfig;
use crate::model_source::ModelOrigin;
use crate::pti::{CancelToken, TuningProgress};
use crate::workspace::{
    ComputedDirections, DirectionMethod, MixPane, PhotoId, SeedFace, TuningOutcome,
};

/// How a personalization job ended: its outcome, and the token it ran under.
pub struct FinishedJob {
    pub photos: Vec<PhotoId>,
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

/// The side of a slider preview: synthesis stops at this resolution (a 1024-px model draws a
/// 256-px preview in a fraction of a full frame).
pub const PREVIEW_SIDE: usize = 256;

/// What to export of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The aligned crop as edited.
    EditedFace,
    /// The whole photo with the edited face pasted back.
    FullPhoto,
    /// A looping GIF of this slider swept over its range (the others as they are).
    Sweep { slider: usize },
}

#[derive(Debug)]
pub enum Request {
    /// Draw a face; stale renders still queued are dropped in favour of the newest.
    Render {
        params: SeedFace,
        id: u64,
    },
    /// Swap the generator for the one in this file.
    LoadGenerator(PathBuf),
    /// Use the Feature-Style encoder in this file (e.g. the official `143_enc.pth`).
    LoadEncoder(PathBuf),
    /// Use the direction set in this file.
    LoadDirections(PathBuf),
    /// Open photos (the largest face of each): each becomes an entry of the library.
    OpenPhotos(Vec<PathBuf>),
    /// Use face number `face` of an open photo (group photos).
    ChooseFace {
        photo: PhotoId,
        face: usize,
    },
    /// Open every other face of a group photo as an entry of its own.
    OpenOtherFaces(PhotoId),
    ClosePhoto(PhotoId),
    /// The face of a seed as a new editable entry of the library.
    EditSeed(SeedFace),
    /// A mixing pane of photos A and B as a new editable entry of the library.
    EditMixPane {
        a: PhotoId,
        b: PhotoId,
        pane: MixPane,
    },
    /// Redraw a photo with these slider values (one per direction); of the edits of one photo
    /// queued at one time only the newest is drawn.
    Edit {
        photo: PhotoId,
        sliders: Vec<f32>,
        id: u64,
        /// Draw a preview ([`PREVIEW_SIDE`] px) instead of the full frame (while dragging on
        /// a model whose full frame is slow).
        preview: bool,
    },
    /// The four mixing panes of photos A and B, and A with B's w+ entries `layers`; only the
    /// newest queued mix is drawn.
    Mix {
        a: PhotoId,
        b: PhotoId,
        layers: Range<usize>,
        id: u64,
    },
    /// Pivotal tuning of these photos together (one: PTI; several: with locality
    /// regularization); `cancel` stops it and keeps the generator as it was.
    Personalize {
        photos: Vec<PhotoId>,
        steps: usize,
        cancel: CancelToken,
    },
    /// Go back to the base generator for this photo (and those tuned with it); the tuned
    /// generator is kept a while for [`Request::Restore`].
    Revert(PhotoId),
    /// Put back the personalization of this photo that a revert took away (undo).
    Restore(PhotoId),
    /// Use again the direction set announced with this id (undo of a set change).
    UseDirections(u64),
    Export {
        photo: PhotoId,
        kind: ExportKind,
        path: PathBuf,
    },
    /// The photo's slider values applied to every frame of a video (a job: progress events,
    /// `cancel`); the result goes to `output`, its report beside it.
    ApplyToVideo {
        photo: PhotoId,
        input: PathBuf,
        output: PathBuf,
        cancel: CancelToken,
    },
    /// Every open photo's edited face (and whole photo) into this folder (a job).
    ExportAll {
        dir: PathBuf,
        cancel: CancelToken,
    },
    SaveSession(PathBuf),
    OpenSession(PathBuf),
    /// Compute slider directions from the generator (a job: progress events, `cancel`).
    ComputeDirections {
        method: DirectionMethod,
        cancel: CancelToken,
    },
    /// Save the active direction set (e.g. a computed one).
    SaveDirections(PathBuf),
    /// A directions job running on its own thread has ended (sent by the engine itself).
    DirectionsComputed(Box<anyhow::Result<ComputedDirections>>),
    /// A personalization running on its own thread has ended (sent by the engine itself).
    JobFinished(Box<FinishedJob>),
    /// Panics inside the request loop: how tests check that the engine survives a bug.
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
            Request::LoadDirections(_) => "opening the directions",
            Request::OpenPhotos(_) => "opening photos",
            Request::ChooseFace { .. } => "choosing a face",
            Request::OpenOtherFaces(_) => "opening the other faces",
            Request::ClosePhoto(_) => "closing the photo",
            Request::EditSeed(_) => "opening the face for editing",
            Request::EditMixPane { .. } => "opening the mix for editing",
            Request::Edit { .. } => "applying the sliders",
            Request::Mix { .. } => "mixing faces",
            Request::Personalize { .. } => "personalizing",
            Request::Revert(_) => "reverting",
            Request::Restore(_) => "restoring the personalization",
            Request::UseDirections(_) => "changing the direction set",
            Request::Export { .. } => "exporting",
            Request::ExportAll { .. } => "exporting all edits",
            Request::ApplyToVideo { .. } => "editing a video",
            Request::SaveSession(_) => "saving the session",
            Request::OpenSession(_) => "opening the session",
            Request::JobFinished(_) => "finishing the personalization",
            Request::ComputeDirections { .. } => "computing directions",
            Request::SaveDirections(_) => "saving the directions",
            Request::DirectionsComputed(_) => "taking the computed directions",
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

/// An open photo as the library and the Edit view show it.
#[derive(Debug, Clone)]
pub struct PhotoView {
    pub id: PhotoId,
    pub path: PathBuf,
    /// What exported files of it are named after (the file's stem; a generated face's name).
    pub stem: String,
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
    /// Whether the photo has its own tuned generator.
    pub personalized: bool,
    /// Its slider values (one per direction of the active set).
    pub sliders: Vec<f32>,
}

/// The Mix view's images for photos A and B.
#[derive(Debug, Clone)]
pub struct MixFrames {
    pub id: u64,
    pub a: PhotoId,
    pub b: PhotoId,
    /// G(w_A,F_A) | G(w_B,F_A) | G(w_A,F_B) | G(w_B,F_B)
    pub panes: [Frame; 4],
    /// A with B's w+ entries `layers`.
    pub style_mix: Frame,
    pub layers: Range<usize>,
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
    Frame(SeedFace, Frame),
    /// A photo opened, or redrawn (another face chosen, personalized, reverted).
    Photo(Box<PhotoView>),
    PhotoClosed(PhotoId),
    /// A photo (or face) asked for could not be opened: why.
    PhotoFailed(String),
    /// A photo with its sliders applied.
    Edited {
        photo: PhotoId,
        frame: Frame,
        preview: bool,
    },
    Mixed(Box<MixFrames>),
    /// One step of a running personalization.
    Tuning {
        photos: Vec<PhotoId>,
        progress: TuningProgress,
    },
    /// Personalization finished (the photos are redrawn with the tuned generator).
    Personalized {
        photos: Vec<PhotoId>,
        steps: usize,
        seconds: f64,
        perceptual: String,
    },
    /// These photos use the base generator (cancelled, failed or reverted).
    Unpersonalized(Vec<PhotoId>),
    /// A background task's progress (`done` once it ended, however it ended).
    Progress {
        task: String,
        fraction: f32,
        done: bool,
    },
    /// Something done that the status bar should tell (a file saved, a model loaded).
    Notice(String),
    /// A session file was opened: its `photos` (those restored) were sent before this.
    SessionOpened {
        path: PathBuf,
        photos: usize,
    },
    /// An edited video was written here (the editor shows its folder).
    VideoSaved(PathBuf),
    /// The sliders available for the loaded generator: the active set, where it came from,
    /// and its id (a set replaced later can be used again by [`Request::UseDirections`]).
    Directions {
        infos: Vec<DirectionInfo>,
        label: String,
        set: u64,
    },
    /// Something failed; the previous state is kept.
    Error(String),
}

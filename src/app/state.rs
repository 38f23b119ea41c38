//! The editor's state, apart from how it is drawn.

use std::path::PathBuf;

use crate::edit::directions::DirectionInfo;
use crate::engine::{Event, Frame, Inversion, RenderParams};
use crate::model::GeneratorConfig;
use crate::model_source::ModelOrigin;
use crate::pti::{CancelToken, TuningProgress};

/// What the central area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// A face drawn from a seed.
    RandomFace,
    /// The user's photo beside its reconstruction.
    Photo,
}

/// Personalization (PTI) as the editor sees it.
#[derive(Debug, Clone)]
pub enum Personalization {
    /// The generator as loaded.
    Original,
    /// Tuning: the latest progress, and the token that cancels it.
    Running {
        progress: Option<TuningProgress>,
        cancel: CancelToken,
    },
    /// The generator is tuned to the photo.
    Personalized {
        steps: usize,
        seconds: f64,
        perceptual: String,
    },
}

/// Where the engine stands, as the status bar tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineStatus {
    Starting,
    Ready,
    Rendering,
}

pub struct EditorState {
    pub params: RenderParams,
    pub status: EngineStatus,
    pub device: String,
    pub origin: Option<ModelOrigin>,
    pub config: Option<GeneratorConfig>,
    pub frame: Option<(RenderParams, Frame)>,
    pub pane: Pane,
    pub inversion: Option<Inversion>,
    /// Counts inversions received, so views know when to refresh (the same photo is redrawn
    /// after personalization).
    pub inversion_serial: u64,
    /// Photos waiting for the engine to start.
    pub pending_photos: Vec<PathBuf>,
    /// A photo is being inverted.
    pub inverting: bool,
    /// The sliders: direction, current value.
    pub sliders: Vec<(DirectionInfo, f32)>,
    /// Where the directions came from.
    pub directions_label: String,
    pub personalization: Personalization,
    /// The inverted photo with the sliders applied (absent while all are at 0).
    pub edited: Option<Frame>,
    requested_sliders: Option<Vec<f32>>,
    /// The last thing done (saved, loaded), for the status bar.
    pub notice: Option<String>,
    /// The last error, shown until dismissed; nothing is lost when one occurs.
    pub error: Option<String>,
    next_id: u64,
    requested: Option<RenderParams>,
}

impl EditorState {
    pub fn new(photo: Option<PathBuf>) -> Self {
        Self {
            params: RenderParams {
                seed: 0,
                truncation: 0.7,
            },
            status: EngineStatus::Starting,
            device: String::new(),
            origin: None,
            config: None,
            frame: None,
            pane: if photo.is_some() {
                Pane::Photo
            } else {
                Pane::RandomFace
            },
            inversion: None,
            inversion_serial: 0,
            pending_photos: photo.into_iter().collect(),
            inverting: false,
            sliders: Vec::new(),
            directions_label: String::new(),
            edited: None,
            requested_sliders: None,
            personalization: Personalization::Original,
            notice: None,
            error: None,
            next_id: 0,
            requested: None,
        }
    }

    /// A render request when the parameters changed since the last one.
    pub fn render_request(&mut self) -> Option<(RenderParams, u64)> {
        if self.status == EngineStatus::Starting || self.requested == Some(self.params) {
            return None;
        }
        self.requested = Some(self.params);
        self.next_id += 1;
        self.status = EngineStatus::Rendering;
        Some((self.params, self.next_id))
    }

    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Ready {
                device,
                origin,
                config,
            } => {
                self.device = device;
                self.origin = Some(origin);
                self.config = Some(config);
                self.status = EngineStatus::Ready;
                self.requested = None;
            }
            Event::Frame(params, frame) => {
                if frame.id == self.next_id {
                    self.status = EngineStatus::Ready;
                }
                self.frame = Some((params, frame));
            }
            Event::Inverted(inv) => {
                self.inverting = false;
                self.inversion = Some(*inv);
                self.inversion_serial += 1;
                self.pane = Pane::Photo;
                self.edited = None;
                // A new face: the current slider values apply to it too.
                self.requested_sliders = None;
            }
            Event::Edited(frame) => {
                if frame.id == self.next_id {
                    self.edited = Some(frame);
                }
            }
            Event::Notice(text) => self.notice = Some(text),
            Event::Tuning(p) => {
                if let Personalization::Running { progress, .. } = &mut self.personalization {
                    *progress = Some(p);
                }
            }
            Event::Personalized {
                steps,
                seconds,
                perceptual,
            } => {
                self.personalization = Personalization::Personalized {
                    steps,
                    seconds,
                    perceptual,
                };
                self.requested_sliders = None;
                self.requested = None;
            }
            Event::Unpersonalized => {
                self.personalization = Personalization::Original;
                self.requested_sliders = None;
                self.requested = None;
            }
            Event::Directions(infos, label) => {
                self.sliders = infos.into_iter().map(|i| (i, 0.0)).collect();
                self.directions_label = label;
                self.requested_sliders = None;
                self.edited = None;
            }
            Event::Error(e) => {
                self.error = Some(e);
                self.inverting = false;
                if self.status == EngineStatus::Rendering {
                    self.status = EngineStatus::Ready;
                }
            }
        }
    }

    /// An edit request when the sliders moved (and a photo is inverted).
    pub fn edit_request(&mut self) -> Option<(Vec<(usize, f32)>, u64)> {
        self.inversion.as_ref()?;
        let values: Vec<f32> = self.sliders.iter().map(|(_, v)| *v).collect();
        if self.requested_sliders.as_ref() == Some(&values) {
            return None;
        }
        self.requested_sliders = Some(values.clone());
        if values.iter().all(|v| *v == 0.0) {
            self.edited = None;
            return None;
        }
        self.next_id += 1;
        let active = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
            .collect();
        Some((active, self.next_id))
    }

    /// Photos to send for inversion now that the engine can take them.
    pub fn take_photos(&mut self) -> Vec<PathBuf> {
        if self.status == EngineStatus::Starting || self.pending_photos.is_empty() {
            return Vec::new();
        }
        self.inverting = true;
        std::mem::take(&mut self.pending_photos)
    }

    /// The warning to show while the running model is an interim stand-in.
    pub fn interim_notice(&self) -> Option<String> {
        self.origin.as_ref().and_then(ModelOrigin::interim_notice)
    }
}

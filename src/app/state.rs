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
    /// The engine thread is gone (its channel closed): the UI offers a restart.
    Stopped,
    /// The engine runs but no generator loaded (e.g. the bundled model is missing): the user
    /// opens one.
    NoModel,
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
    /// Request ids per stream, so a newer render never hides an edit's result (and back).
    next_render_id: u64,
    next_edit_id: u64,
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
            next_render_id: 0,
            next_edit_id: 0,
            requested: None,
        }
    }

    /// A render request when the parameters changed since the last one.
    pub fn render_request(&mut self) -> Option<(RenderParams, u64)> {
        if matches!(
            self.status,
            EngineStatus::Starting | EngineStatus::Stopped | EngineStatus::NoModel
        ) || self.requested == Some(self.params)
        {
            return None;
        }
        self.requested = Some(self.params);
        self.next_render_id += 1;
        self.status = EngineStatus::Rendering;
        Some((self.params, self.next_render_id))
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
                if frame.id == self.next_render_id {
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
                if frame.id == self.next_edit_id {
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
                if self.status == EngineStatus::Starting && self.config.is_none() {
                    self.status = EngineStatus::NoModel;
                }
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
        self.next_edit_id += 1;
        let active = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
            .collect();
        Some((active, self.next_edit_id))
    }

    /// The engine's channel closed: say so; nothing the user has open is dropped.
    pub fn engine_stopped(&mut self) {
        if self.status != EngineStatus::Stopped {
            self.status = EngineStatus::Stopped;
            self.error = Some("the engine stopped; press \"Restart engine\" to go on".into());
        }
    }

    /// A new engine replaces the stopped one: it starts with the bundled model, the photo
    /// is inverted again and the sliders are sent again.
    pub fn engine_restarted(&mut self) {
        self.status = EngineStatus::Starting;
        self.error = None;
        self.requested = None;
        self.requested_sliders = None;
        self.personalization = Personalization::Original;
        if let Some(inv) = &self.inversion {
            self.pending_photos.push(inv.photo.clone());
        }
    }

    /// Photos to send for inversion now that the engine can take them.
    pub fn take_photos(&mut self) -> Vec<PathBuf> {
        if matches!(
            self.status,
            EngineStatus::Starting | EngineStatus::Stopped | EngineStatus::NoModel
        ) || self.pending_photos.is_empty()
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u64) -> Frame {
        Frame::from_rgb(id, image::RgbImage::new(2, 2), 1.0)
    }

    fn photo() -> Inversion {
        Inversion {
            photo: "p.jpg".into(),
            input: frame(0),
            reconstruction: frame(0),
            quality: crate::metrics::Quality {
                mse: 0.0,
                psnr: 0.0,
                ssim: 0.0,
            },
            aligned: true,
            faces: 1,
            face: 0,
        }
    }

    fn ready() -> EditorState {
        let mut s = EditorState::new(None);
        s.status = EngineStatus::Ready;
        s
    }

    #[test]
    fn a_newer_render_does_not_hide_an_edit_result() {
        let mut s = ready();
        s.inversion = Some(photo());
        s.sliders = vec![(
            DirectionInfo {
                name: "smile".into(),
                layers: 0..4,
                range: (-3.0, 3.0),
                source: "test".into(),
            },
            1.0,
        )];
        let (_, edit_id) = s.edit_request().expect("the slider moved");
        s.params.seed = 5;
        let (_, render_id) = s.render_request().expect("the seed changed");
        s.apply(Event::Edited(frame(edit_id)));
        s.apply(Event::Frame(s.params, frame(render_id)));
        assert!(
            s.edited.is_some(),
            "the edit is shown although a render came after it"
        );
        assert_eq!(s.frame.as_ref().map(|(_, f)| f.id), Some(render_id));
        // an older edit result than the newest request is still dropped
        s.sliders[0].1 = 2.0;
        let (_, newer) = s.edit_request().unwrap();
        s.edited = None;
        s.apply(Event::Edited(frame(newer - 1)));
        assert!(s.edited.is_none());
    }

    #[test]
    fn without_a_model_the_editor_waits_for_one_to_be_opened() {
        let mut s = EditorState::new(Some("p.jpg".into()));
        s.apply(Event::Error(
            "the bundled model is in none of the weights folders".into(),
        ));
        assert_eq!(s.status, EngineStatus::NoModel);
        assert!(s.render_request().is_none() && s.take_photos().is_empty());
        s.apply(Event::Ready {
            device: "cpu".into(),
            origin: ModelOrigin::File("g.safetensors".into()),
            config: crate::model::GeneratorConfig::stylegan2(64, 64, 2, 1),
        });
        assert_eq!(s.take_photos(), vec![PathBuf::from("p.jpg")]);
    }

    #[test]
    fn a_stopped_engine_is_said_and_a_restart_inverts_the_photo_again() {
        let mut s = ready();
        s.inversion = Some(photo());
        s.engine_stopped();
        assert_eq!(s.status, EngineStatus::Stopped);
        assert!(s.error.as_deref().unwrap().contains("Restart engine"));
        s.params.seed = 9;
        assert!(
            s.render_request().is_none(),
            "no requests to a stopped engine"
        );
        s.engine_restarted();
        s.apply(Event::Ready {
            device: "cpu".into(),
            origin: ModelOrigin::File("g.safetensors".into()),
            config: crate::model::GeneratorConfig::stylegan2(64, 64, 2, 1),
        });
        assert_eq!(s.take_photos(), vec![PathBuf::from("p.jpg")]);
        assert!(s.render_request().is_some());
    }
}

//! The editor's state, apart from how it is drawn.

use std::path::PathBuf;

use crate::engine::{Event, Frame, RenderParams};
use crate::model::GeneratorConfig;
use crate::model_source::ModelOrigin;

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
    pub frame: Option<Frame>,
    /// The last error, shown until dismissed; nothing is lost when one occurs.
    pub error: Option<String>,
    /// A photo the user dropped or opened, awaiting the encoder.
    pub photo: Option<PathBuf>,
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
            error: None,
            photo,
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
            Event::Ready { device, origin, config } => {
                self.device = device;
                self.origin = Some(origin);
                self.config = Some(config);
                self.status = EngineStatus::Ready;
                self.requested = None;
            }
            Event::Frame(frame) => {
                if frame.id == self.next_id {
                    self.status = EngineStatus::Ready;
                }
                self.frame = Some(frame);
            }
            Event::Error(e) => {
                self.error = Some(e);
                if self.status == EngineStatus::Rendering {
                    self.status = EngineStatus::Ready;
                }
            }
        }
    }

    pub fn is_interim_model(&self) -> bool {
        matches!(self.origin, Some(ModelOrigin::RandomInterim { .. }))
    }
}

//! What the UI and the engine say to each other.

use std::path::PathBuf;

use crate::model::GeneratorConfig;
use crate::model_source::ModelOrigin;

/// A face the generator should draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderParams {
    pub seed: u64,
    pub truncation: f32,
}

#[derive(Debug, Clone)]
pub enum Request {
    /// Draw a face; stale renders still queued are dropped in favour of the newest.
    Render { params: RenderParams, id: u64 },
    /// Swap the generator for the one in this file.
    LoadGenerator(PathBuf),
    Shutdown,
}

/// An 8-bit RGBA frame, ready to become a texture.
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: u64,
    pub params: RenderParams,
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
    pub millis: f64,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// The engine is up with this model on this device.
    Ready {
        device: String,
        origin: ModelOrigin,
        config: GeneratorConfig,
    },
    Frame(Frame),
    /// Something failed; the previous state is kept.
    Error(String),
}

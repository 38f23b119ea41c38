//! The engine: a worker thread that owns the device and the models.

mod messages;
mod worker;

/// What the Random view asks to draw.
pub use crate::workspace::SeedFace;
pub use messages::{
    Event, ExportKind, FinishedJob, Frame, MixFrames, PREVIEW_SIDE, PhotoView, Request,
};
pub use worker::Engine;

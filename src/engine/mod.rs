//! The engine: a worker thread that owns the device and the models.

mod messages;
mod worker;

pub use messages::{
    Event, ExportKind, FinishedJob, Frame, MixFrames, PREVIEW_SIDE, PhotoView, RenderParams,
    Request,
};
pub use worker::Engine;

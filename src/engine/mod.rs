//! The engine: a worker thread that owns the device and the models.

mod messages;
mod worker;

pub use messages::{Event, FinishedJob, Frame, Inversion, RenderParams, Request};
pub use worker::Engine;

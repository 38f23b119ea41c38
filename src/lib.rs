//! facestyle: a desktop face editor on StyleGAN2 with the Feature-Style encoder and
//! Pivotal Tuning Inversion.
//!
//! Layers, from the bottom: [`weights`] (checkpoint I/O, no maths), [`model`] (burn maths, no
//! I/O), [`engine`] (the worker thread owning device and models), [`app`] (egui UI, talks to
//! the engine through channels), [`cli`] (every action headless); both front ends call [`workspace`], where each user action
//! is written once.

pub mod app;
pub mod cli;
pub mod device;
pub mod edit;
pub mod engine;
pub mod eval;
pub mod face;
pub mod huge_pages;
pub mod imaging;
pub mod metrics;
pub mod model;
pub mod model_source;
pub mod pti;
pub mod safe_write;
pub mod video;
pub mod weights;
pub mod workspace;

//! The desktop editor (eframe/egui). State and its reducer live in [`state`]; each panel is a
//! file of its own; the model runs on the engine thread, so the UI never waits for it.

mod dialogs;
mod edit_view;
mod layer_range;
mod library;
mod menu;
mod mix_view;
mod random_view;
mod state;
mod textures;
mod undo;
mod view;

use std::path::PathBuf;

use crate::device::DeviceChoice;
use crate::engine::Engine;

pub use state::{Action, EditorState, Effect, EngineStatus, View};
pub use view::EditorApp;

/// Opens the editor window (blocks until it is closed).
pub fn run(photos: Vec<PathBuf>, device: DeviceChoice) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("facestyle")
            .with_inner_size([1100.0, 720.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "facestyle",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let spawn = move || {
                let ctx = ctx.clone();
                Engine::spawn(device, move || ctx.request_repaint())
            };
            Ok(Box::new(
                EditorApp::new(spawn(), photos).with_restart(spawn),
            ))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the editor window: {e}"))
}

//! The desktop editor (eframe/egui). State lives in [`state`], drawing in [`view`]; the
//! model runs on the engine thread, so the UI never waits for it.

mod state;
mod view;

use std::path::PathBuf;

use crate::device::DeviceChoice;
use crate::engine::Engine;

pub use state::{EditorState, EngineStatus, Pane, Personalization};
pub use view::EditorApp;

/// Opens the editor window (blocks until it is closed).
pub fn run(photo: Option<PathBuf>, device: DeviceChoice) -> anyhow::Result<()> {
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
            Ok(Box::new(EditorApp::new(spawn(), photo).with_restart(spawn)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the editor window: {e}"))
}

//! The native file dialogs (the OS asks before replacing a file); they open in the folder
//! last used.

use std::path::PathBuf;
use std::sync::Mutex;

static START_FOLDER: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The folder the next dialog opens in.
pub fn start_in(folder: Option<PathBuf>) {
    *START_FOLDER.lock().unwrap_or_else(|p| p.into_inner()) = folder;
}

fn dialog() -> rfd::FileDialog {
    let folder = START_FOLDER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match folder.filter(|f| f.is_dir()) {
        Some(f) => rfd::FileDialog::new().set_directory(f),
        None => rfd::FileDialog::new(),
    }
}

const IMAGES: [&str; 7] = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"];
pub const SESSION_EXTENSION: &str = "facestyle";

pub fn pick_photos() -> Option<Vec<PathBuf>> {
    dialog().add_filter("Images", &IMAGES).pick_files()
}

pub fn pick_session() -> Option<PathBuf> {
    dialog()
        .add_filter("facestyle session", &[SESSION_EXTENSION])
        .pick_file()
}

pub fn save_session() -> Option<PathBuf> {
    dialog()
        .set_file_name(format!("session.{SESSION_EXTENSION}"))
        .add_filter("facestyle session", &[SESSION_EXTENSION])
        .save_file()
}

pub fn save_png(name: &str) -> Option<PathBuf> {
    dialog()
        .set_file_name(name)
        .add_filter("PNG", &["png"])
        .save_file()
}

pub fn save_gif(name: &str) -> Option<PathBuf> {
    dialog()
        .set_file_name(name)
        .add_filter("Animated GIF", &["gif"])
        .save_file()
}

pub fn pick_generator() -> Option<PathBuf> {
    dialog()
        .add_filter("Generator", &["safetensors", "pt", "pth", "pkl"])
        .pick_file()
}

pub fn pick_encoder() -> Option<PathBuf> {
    dialog()
        .add_filter("Feature-Style encoder", &["safetensors", "pth", "pt"])
        .pick_file()
}

pub fn pick_directions() -> Option<PathBuf> {
    dialog()
        .add_filter("Direction set", &["safetensors"])
        .pick_file()
}

pub fn save_directions() -> Option<PathBuf> {
    dialog()
        .set_file_name("directions.safetensors")
        .add_filter("Direction set", &["safetensors"])
        .save_file()
}

pub fn pick_folder() -> Option<PathBuf> {
    dialog().pick_folder()
}

//! The native file dialogs (the OS asks before replacing a file).

use std::path::PathBuf;

const IMAGES: [&str; 7] = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"];
pub const SESSION_EXTENSION: &str = "facestyle";

pub fn pick_photos() -> Option<Vec<PathBuf>> {
    rfd::FileDialog::new()
        .add_filter("Images", &IMAGES)
        .pick_files()
}

pub fn pick_session() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter("facestyle session", &[SESSION_EXTENSION])
        .pick_file()
}

pub fn save_session() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .set_file_name(format!("session.{SESSION_EXTENSION}"))
        .add_filter("facestyle session", &[SESSION_EXTENSION])
        .save_file()
}

pub fn save_png(name: &str) -> Option<PathBuf> {
    rfd::FileDialog::new()
        .set_file_name(name)
        .add_filter("PNG", &["png"])
        .save_file()
}

pub fn pick_generator() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter("Generator", &["safetensors", "pt", "pth", "pkl"])
        .pick_file()
}

pub fn pick_encoder() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter("Feature-Style encoder", &["safetensors", "pth", "pt"])
        .pick_file()
}

pub fn pick_directions() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter("Direction set", &["safetensors"])
        .pick_file()
}

pub fn save_directions() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .set_file_name("directions.safetensors")
        .add_filter("Direction set", &["safetensors"])
        .save_file()
}

pub fn pick_folder() -> Option<PathBuf> {
    rfd::FileDialog::new().pick_folder()
}

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

/// Whether `path` names a session file (by its extension), not a photo.
pub fn is_session(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == SESSION_EXTENSION)
}

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

/// Where a sweep clip goes: GIF by default, MP4 or WebP when that extension is typed.
pub fn save_clip(name: &str) -> Option<PathBuf> {
    dialog()
        .set_file_name(name)
        .add_filter("Animated GIF", &["gif"])
        .add_filter("MP4 video", &["mp4"])
        .add_filter("Animated WebP", &["webp"])
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

const CLIPS: [&str; 4] = ["mp4", "m4v", "gif", "webp"];

pub fn pick_video() -> Option<PathBuf> {
    dialog().add_filter("Videos", &CLIPS).pick_file()
}

/// Where an edited video goes (MP4 unless another clip extension is typed).
pub fn save_video(input: &std::path::Path) -> Option<PathBuf> {
    let stem = input
        .file_stem()
        .map_or("video".into(), |s| s.to_string_lossy().into_owned());
    let ext = input
        .extension()
        .map_or("mp4".into(), |e| e.to_string_lossy().into_owned());
    dialog()
        .add_filter("Videos", &CLIPS)
        .set_file_name(format!("{stem}_edited.{ext}"))
        .save_file()
}

/// Shows `folder` in the system's file manager (best effort: nothing happens without one).
pub fn reveal(folder: &std::path::Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(folder)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

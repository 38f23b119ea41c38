//! Clips in and out: MP4 (H.264, decoded and encoded by OpenH264 built from source, in an MP4
//! container read and written in Rust), animated GIF and WebP, or a folder of numbered images.
//! Audio is not read: an output clip is silent.

mod animated;
mod mp4;
pub mod steady;
pub mod synthetic;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use image::RgbImage;

/// The frames of a clip and how fast they play.
#[derive(Clone)]
pub struct Clip {
    pub frames: Vec<RgbImage>,
    pub fps: f32,
}

impl Clip {
    /// Width and height of the frames (all frames of a clip share them).
    pub fn size(&self) -> (u32, u32) {
        self.frames.first().map_or((0, 0), |f| f.dimensions())
    }
}

/// The frame rate of clips that do not say (a folder of frames).
pub const DEFAULT_FPS: f32 = 25.0;

/// Decoded clips above this many bytes are refused (ask for fewer frames instead).
const MAX_DECODED_BYTES: u64 = 8 << 30;

/// How a clip is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipFormat {
    /// MP4 with an H.264 video track.
    Mp4,
    Gif,
    WebP,
    /// A folder of images, played in file-name order.
    Frames,
}

impl ClipFormat {
    /// The format `path` names: a folder (or a path without extension) is frames, else by
    /// extension.
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        if path.is_dir() {
            return Ok(Self::Frames);
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        Ok(match ext.as_deref() {
            None => Self::Frames,
            Some("mp4" | "m4v" | "mov") => Self::Mp4,
            Some("gif") => Self::Gif,
            Some("webp") => Self::WebP,
            Some(other) => bail!(
                "{}: .{other} is not a clip format this app reads or writes: use .mp4, .gif, .webp or a folder of frames",
                path.display()
            ),
        })
    }
}

/// Where the report of an edited clip goes: `clip.mp4` → `clip.report.json` beside it.
pub fn report_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("video".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.report.json"))
}

/// Reads a clip (at most `max_frames` frames). A bad or truncated file is one error naming it.
pub fn read_clip(path: &Path, max_frames: Option<usize>) -> anyhow::Result<Clip> {
    let format = ClipFormat::of(path)?;
    let limit = max_frames.unwrap_or(usize::MAX).max(1);
    let clip = match format {
        ClipFormat::Frames => read_frames(path, limit),
        other => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            // The demuxers parse untrusted bytes: a panic in one is this file's error, not a crash.
            std::panic::catch_unwind(|| match other {
                ClipFormat::Mp4 => mp4::decode(&bytes, limit),
                ClipFormat::Gif => animated::decode_gif(&bytes, limit),
                _ => animated::decode_webp(&bytes, limit),
            })
            .unwrap_or_else(|_| bail!("the file is damaged (its decoder gave up)"))
        }
    }
    .with_context(|| format!("{}", path.display()))?;
    if clip.frames.is_empty() {
        bail!("{}: the clip has no frames", path.display());
    }
    let (w, h) = clip.size();
    if clip.frames.iter().any(|f| f.dimensions() != (w, h)) {
        bail!("{}: the frames differ in size", path.display());
    }
    Ok(clip)
}

/// Checks that `frames` frames of `w`×`h` fit in memory before they are decoded.
fn check_decoded_size(frames: usize, w: u32, h: u32) -> anyhow::Result<()> {
    let bytes = frames as u64 * w as u64 * h as u64 * 3;
    if bytes > MAX_DECODED_BYTES {
        bail!(
            "{frames} frames of {w}×{h} would take {:.1} GiB decoded: ask for fewer with --max-frames",
            bytes as f64 / (1u64 << 30) as f64
        );
    }
    Ok(())
}

const FRAME_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "tif"];

/// The image files of a frames folder in name order.
fn frame_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| {
                FRAME_EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

fn read_frames(dir: &Path, limit: usize) -> anyhow::Result<Clip> {
    let files = frame_files(dir)?;
    if files.is_empty() {
        bail!(
            "no image files ({}) in the folder",
            FRAME_EXTENSIONS.join(", ")
        );
    }
    let mut frames = Vec::new();
    for f in files.iter().take(limit) {
        let img = crate::imaging::load_photo(f).with_context(|| format!("{}", f.display()))?;
        if frames.is_empty() {
            check_decoded_size(files.len().min(limit), img.width(), img.height())?;
        }
        frames.push(img);
    }
    Ok(Clip {
        frames,
        fps: DEFAULT_FPS,
    })
}

/// Writes a clip in the format `path` names. Nothing is written until the whole clip is
/// encoded, and then atomically: an interrupted run leaves no partial output. A frames folder
/// must not exist yet (or be empty); it is filled under a temporary name and renamed.
pub fn write_clip(path: &Path, clip: &Clip) -> anyhow::Result<()> {
    if clip.frames.is_empty() {
        bail!("there are no frames to write");
    }
    let format = ClipFormat::of(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if format == ClipFormat::Frames {
        return write_frames(path, clip);
    }
    crate::safe_write::check_target(path).with_context(|| format!("{}", path.display()))?;
    let bytes = match format {
        ClipFormat::Mp4 => mp4::encode(clip),
        ClipFormat::Gif => animated::encode_gif(clip),
        _ => animated::encode_webp(clip),
    }
    .with_context(|| format!("encoding {}", path.display()))?;
    crate::safe_write::write_atomically(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_frames(dir: &Path, clip: &Clip) -> anyhow::Result<()> {
    let occupied = dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    if occupied {
        bail!(
            "{}: the folder exists and is not empty: name a new folder for the frames",
            dir.display()
        );
    }
    let name = dir
        .file_name()
        .map_or("frames".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        // a folder left by a run that was killed is not reused
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        for (i, f) in clip.frames.iter().enumerate() {
            f.save(tmp.join(format!("frame_{i:05}.png")))
                .map_err(std::io::Error::other)?;
        }
        if dir.exists() {
            std::fs::remove_dir(dir)?;
        }
        std::fs::rename(&tmp, dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.with_context(|| format!("writing the frames to {}", dir.display()))
}

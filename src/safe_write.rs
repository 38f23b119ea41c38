//! Writing a file so that a failure never leaves a partial one: the bytes go to a temporary
//! file in the same folder, are flushed to disk, and only then renamed over the target. An
//! interrupted or failed write leaves the previous file as it was and no temporary behind.
//! Every file the program writes goes through here, so the overwrite policy is in one place:
//! the CLI refuses to replace an existing file unless `--force` is given; the editor asks
//! through the OS save dialog and allows it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether an existing file may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Allow,
    /// An existing file is an error (`--force` switches to `Allow`).
    Refuse,
}

static REFUSE_OVERWRITE: AtomicBool = AtomicBool::new(false);

/// Sets the policy for this process (the CLI: `Refuse` unless `--force`).
pub fn set_overwrite(policy: Overwrite) {
    REFUSE_OVERWRITE.store(policy == Overwrite::Refuse, Ordering::SeqCst);
}

/// Whether `path` may be written under the policy: refused when it exists and overwriting is
/// refused, or when it is not a regular file. Long jobs ask this before their work.
pub fn check_target(path: &Path) -> std::io::Result<()> {
    if REFUSE_OVERWRITE.load(Ordering::SeqCst) && path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the file exists (pass --force to overwrite it)",
        ));
    }
    // a device, pipe or folder is never replaced by a file (e.g. `--out /dev/full`)
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file: write to a file path instead",
        ));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (temporary file + fsync + rename).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    check_target(path)?;
    let tmp = temporary_beside(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Encodes `img` in the format its extension names and writes it atomically.
pub fn save_image<P>(
    img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    path: &Path,
) -> std::io::Result<()>
where
    P: image::Pixel + image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
{
    let format = image::ImageFormat::from_path(path).map_err(std::io::Error::other)?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format)
        .map_err(std::io::Error::other)?;
    write_atomically(path, &bytes.into_inner())
}

/// `folder/.name.<pid>.tmp` beside `path` (same file system, so the rename is atomic).
fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_into_a_read_only_folder_fails_cleanly() {
        let dir = std::env::temp_dir().join(format!("facestyle-ro-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("a.bin");
        write_atomically(&target, b"old").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let result = write_atomically(&target, b"new");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // root may write into read-only folders; anyone else gets an error
        if result.is_err() {
            assert_eq!(std::fs::read(&target).unwrap(), b"old");
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("facestyle-safe-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("a.bin");
        write_atomically(&target, b"old").unwrap();
        // the target is a directory's name: the rename fails after the data was written
        let blocked = dir.join("blocked");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(write_atomically(&blocked, b"new").is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        write_atomically(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

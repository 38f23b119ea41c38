//! Writes that fail keep the old file: the real binary, run out of disk space (a file-size
//! limit, as a full disk answers) and pointed at `/dev/full`.

use std::path::PathBuf;
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facestyle-sw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_disk_that_fills_up_mid_write_leaves_the_old_file_byte_identical() {
    let dir = temp_dir("full");
    let out = dir.join("face.png");
    let old = b"the previous export, which must survive".to_vec();
    std::fs::write(&out, &old).unwrap();
    // RLIMIT_FSIZE of 1 KiB: the PNG (several KiB) cannot be written in full; the write fails
    // with EFBIG as a full disk fails with ENOSPC (SIGXFSZ ignored so the error is returned)
    let run = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 2; exec \"$0\" --device cpu --force render --seed 1 --out \"$1\"")
        .arg(env!("CARGO_BIN_EXE_facestyle"))
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "the write cannot have succeeded");
    assert!(
        stderr.contains("face.png"),
        "the error names the file: {stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), old, "old file intact");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    // the same command with room to write replaces it
    let run = Command::new(env!("CARGO_BIN_EXE_facestyle"))
        .args([
            "--device", "cpu", "--force", "render", "--seed", "1", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(image::open(&out).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dev_full_is_refused_and_stays_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let render_to = |out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_facestyle"))
            .args([
                "--device", "cpu", "--force", "render", "--seed", "1", "--out",
            ])
            .arg(out)
            .output()
            .unwrap()
    };
    // as given, and through a `.png` link to it (so the PNG writer itself meets the device)
    let dir = temp_dir("devfull");
    let link = dir.join("face.png");
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    for (out, reason) in [
        (std::path::Path::new("/dev/full"), "File exists"),
        (link.as_path(), "not a regular file"),
    ] {
        let run = render_to(out);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success());
        assert!(
            stderr.contains(&*out.to_string_lossy()) && stderr.contains(reason),
            "{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(leftovers(std::path::Path::new("/dev")).is_empty());
    assert!(leftovers(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

//! `facestyle video` on a clip made here: a sample photo moved along a smooth path with small
//! turns and zoom, plus per-frame pixel noise, as MP4, GIF and a folder of frames.

mod common;

use std::path::{Path, PathBuf};

use common::{cli, fixture, tmp};
use facestyle::video::{Clip, read_clip, write_clip};
use image::RgbImage;

const FRAMES: usize = 24;
const W: u32 = 256;
const H: u32 = 192;

fn test_clip() -> Clip {
    let photo = facestyle::imaging::load_photo(&fixture("photos/00020.jpg")).unwrap();
    facestyle::video::synthetic::moving_face(&photo, FRAMES, (W, H), 12.0, 7)
}

fn report(out: &Path) -> serde_json::Value {
    let stem = out.file_stem().unwrap().to_string_lossy();
    let path = out.with_file_name(format!("{stem}.report.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn f(v: &serde_json::Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

fn fresh(name: &str) -> PathBuf {
    let p = tmp(name);
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn a_moving_face_is_edited_steadily_in_every_format() {
    let clip = test_clip();
    let (mp4, gif) = (fresh("moving.mp4"), fresh("moving.gif"));
    write_clip(&mp4, &clip).unwrap();
    write_clip(&gif, &clip).unwrap();
    for (path, max_mean_error) in [(&mp4, 12.0), (&gif, 12.0)] {
        let back = read_clip(path, None).unwrap();
        assert_eq!(back.frames.len(), FRAMES);
        assert_eq!(back.size(), (W, H));
        // GIF keeps delays in hundredths of a second: 83 ms becomes 80 ms
        assert!((back.fps - 12.0).abs() < 0.6, "{}", back.fps);
        // the codecs keep the picture (mean absolute error in 8-bit levels)
        let err: f64 = back.frames[5]
            .as_raw()
            .iter()
            .zip(clip.frames[5].as_raw())
            .map(|(a, b)| (*a as f64 - *b as f64).abs())
            .sum::<f64>()
            / (W * H * 3) as f64;
        eprintln!(
            "{}: mean error {err}, {} bytes",
            path.display(),
            std::fs::metadata(path).unwrap().len()
        );
        assert!(err < max_mean_error, "{}: mean error {err}", path.display());
    }

    for (input, out) in [(&mp4, fresh("edited.mp4")), (&gif, fresh("edited.gif"))] {
        let stdout = cli([
            "video".as_ref(),
            input.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--set".as_ref(),
            "Smile=2".as_ref(),
        ]);
        assert!(stdout.contains("identity consistency"), "{stdout}");
        let r = report(&out);
        assert_eq!(f(&r, "frames") as usize, FRAMES);
        assert_eq!(
            f(&r, "faces_found") as usize,
            FRAMES,
            "a face in every frame"
        );
        assert_eq!(f(&r, "frames_passed_through"), 0.0);
        let (before, after) = (
            f(&r, "jitter_detected.centre_percent"),
            f(&r, "jitter_steadied.centre_percent"),
        );
        assert!(before > 0.0 && after < before, "jitter {before} → {after}");
        let (src, rec) = (
            f(&r, "identity_consistency.source"),
            f(&r, "identity_consistency.reconstruction"),
        );
        assert!(
            (src - rec).abs() <= 0.05,
            "identity consistency {src} vs {rec}"
        );
        assert!(f(&r, "reconstruction.psnr") > 15.0);
        let edited = read_clip(&out, None).unwrap();
        assert_eq!(edited.frames.len(), FRAMES);
        assert_eq!(edited.size(), (W, H));
        // the edit shows: the face region changed, the corners (far from the face) did not much
        let diff = |x0: u32, y0: u32, side: u32| -> f64 {
            let mut s = 0.0;
            for y in y0..y0 + side {
                for x in x0..x0 + side {
                    let (a, b) = (
                        edited.frames[8].get_pixel(x, y),
                        clip.frames[8].get_pixel(x, y),
                    );
                    s +=
                        a.0.iter()
                            .zip(b.0)
                            .map(|(p, q)| (*p as f64 - q as f64).abs())
                            .sum::<f64>();
                }
            }
            s / (side * side * 3) as f64
        };
        assert!(
            diff(W / 2 - 20, H / 2, 40) > diff(0, 0, 20),
            "the face changed most"
        );
    }
}

#[test]
fn frames_without_a_face_pass_through_unchanged() {
    let mut clip = test_clip();
    clip.frames.truncate(10);
    let blank = RgbImage::from_pixel(W, H, image::Rgb([90, 120, 150]));
    clip.frames.extend(std::iter::repeat_n(blank, 9));
    let (input, out) = (fresh("with_blanks"), fresh("with_blanks_out"));
    write_clip(&input, &clip).unwrap();
    cli([
        "video".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--max-gap".as_ref(),
        "3".as_ref(),
    ]);
    let r = report(&out);
    assert_eq!(f(&r, "faces_found") as usize, 10);
    assert_eq!(f(&r, "frames_bridged") as usize, 3);
    assert_eq!(f(&r, "frames_passed_through") as usize, 6);
    let edited = read_clip(&out, None).unwrap();
    assert_eq!(edited.frames.len(), 19);
    assert_eq!(
        edited.frames[18], clip.frames[18],
        "passed through as it was"
    );
    assert_ne!(
        edited.frames[4], clip.frames[4],
        "the face frames are redrawn"
    );
}

#[test]
fn bad_clips_are_one_line_errors_and_leave_no_output() {
    let clip = test_clip();
    let good = fresh("good.mp4");
    write_clip(&good, &clip).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = fresh("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let junk = fresh("junk.mp4");
    std::fs::write(&junk, b"this is not a video at all, just text").unwrap();
    let gif = fresh("junk.gif");
    std::fs::write(&gif, b"GIF89a\x10\x00").unwrap();
    let odd = fresh("clip.avi");
    std::fs::write(&odd, b"RIFF").unwrap();
    // a header that claims 65535×65535 frames: refused before anything is decoded
    let mut huge = bytes.clone();
    let stsd = huge.windows(4).position(|w| w == b"stsd").expect("stsd");
    let at = stsd
        + huge[stsd..]
            .windows(4)
            .position(|w| w == b"avc1")
            .expect("an avc1 sample entry");
    // sample entry: 6 reserved + 2 data reference + 16 pre-defined/reserved, then width, height
    for k in 0..4 {
        huge[at + 4 + 24 + k] = 0xff;
    }
    let giant = fresh("giant.mp4");
    std::fs::write(&giant, &huge).unwrap();
    for input in [&truncated, &junk, &gif, &odd, &giant] {
        let out = fresh("never.mp4");
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_facestyle"))
            .args(["--device", "cpu", "video"])
            .arg(input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{}", input.display());
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&*input.file_name().unwrap().to_string_lossy()),
            "{stderr}"
        );
        assert!(!out.exists(), "no output for {}", input.display());
        if input == &giant {
            assert!(stderr.contains("65535×65535"), "{stderr}");
        }
    }
}

#[test]
fn animated_webp_and_frame_folders_round_trip() {
    let mut clip = test_clip();
    clip.frames.truncate(5);
    let webp = fresh("clip.webp");
    write_clip(&webp, &clip).unwrap();
    let back = read_clip(&webp, None).unwrap();
    assert_eq!(back.frames, clip.frames, "lossless frames");
    assert!((back.fps - 12.0).abs() < 0.5);
    let folder = fresh("frames_out");
    write_clip(&folder, &clip).unwrap();
    assert_eq!(
        read_clip(&folder, Some(3)).unwrap().frames,
        clip.frames[..3]
    );
    assert!(
        write_clip(&folder, &clip).is_err(),
        "an existing folder is not overwritten"
    );
}

#[test]
fn personalize_and_mix_run_on_every_frame() {
    let mut clip = test_clip();
    clip.frames.truncate(6);
    let (input, out, codes) = (fresh("short.gif"), fresh("short_out.gif"), fresh("codes"));
    write_clip(&input, &clip).unwrap();
    cli([
        "invert".as_ref(),
        fixture("photos/unaligned_joker.jpg").as_os_str(),
        "--out".as_ref(),
        codes.as_os_str(),
    ]);
    let other = codes.join("unaligned_joker.codes.safetensors");
    cli([
        "video".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--personalize".as_ref(),
        "--key-frames".as_ref(),
        "2".as_ref(),
        "--steps-tune".as_ref(),
        "3".as_ref(),
        "--mix-with".as_ref(),
        other.as_os_str(),
    ]);
    let r = report(&out);
    assert_eq!(f(&r, "personalization.steps_tuning"), 3.0);
    assert!(
        r["mix"].as_str().unwrap().contains("unaligned_joker"),
        "{}",
        r["mix"]
    );
    assert_eq!(read_clip(&out, None).unwrap().frames.len(), 6);
}
